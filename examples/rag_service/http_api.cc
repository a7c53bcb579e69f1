// Routes of the service. Every reply is JSON except /metrics; every error is
//   {"error": {"code": "<vecperf status code name, or an HTTP one>", "message": "..."}}
// Request bodies are parsed without exceptions and checked field by field, so a bad request is
// a 4xx that says which field is wrong, never a 500.
#include "http_api.h"

#include <httplib.h>
#include <vecperf/metrics.h>

#include <charconv>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string_view>

namespace rag {
namespace {

using json = nlohmann::json;
using httplib::Request;
using httplib::Response;
using vecperf::Status;
using vecperf::StatusCode;

// Route patterns double as the `endpoint` metric label.
constexpr const char* kDocuments = "/documents";
constexpr const char* kDocument = "/documents/{id}";
constexpr const char* kSearch = "/search";
constexpr const char* kMetrics = "/metrics";
constexpr const char* kReport = "/report";
constexpr const char* kHealth = "/healthz";
constexpr const char* kUnmatched = "unmatched";

// The route a path belongs to (whatever the method), for labels and 405 replies.
const char* endpoint_of(const std::string& path) {
  for (const char* e : {kDocuments, kSearch, kMetrics, kReport, kHealth}) {
    if (path == e) return e;
  }
  constexpr std::string_view kPrefix = "/documents/";
  if (path.size() > kPrefix.size() && path.starts_with(kPrefix) &&
      path.find('/', kPrefix.size()) == std::string::npos) {
    return kDocument;
  }
  return kUnmatched;
}

const char* allowed_methods(std::string_view endpoint) {
  if (endpoint == kDocuments || endpoint == kSearch) return "POST";
  if (endpoint == kDocument) return "DELETE";
  return "GET";
}

// Methods are a label too: anything unusual is folded into "other".
std::string method_label(const std::string& method) {
  for (const char* m : {"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"}) {
    if (method == m) return method;
  }
  return "other";
}

std::string dump(const json& value) {
  // Inputs were valid UTF-8 (the parser checks), but a library message might not be.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void reply_error(Response& res, int http_status, std::string_view code, std::string_view message) {
  res.status = http_status;
  res.set_content(dump({{"error", {{"code", code}, {"message", message}}}}), "application/json");
}

int http_status_of(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kNotSupported: return 501;
    default: return 500;
  }
}

void reply_status(Response& res, const Status& st) {
  reply_error(res, http_status_of(st.code()), vecperf::status_code_name(st.code()), st.message());
}

// Parses the body as a JSON object whose fields are all in `allowed`. On failure replies 400 and
// returns false.
bool parse_object(const Request& req, Response& res,
                  std::initializer_list<std::string_view> allowed, json* out) {
  *out = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    reply_error(res, 400, "InvalidArgument",
                "request body is not valid JSON (send Content-Type: application/json)");
    return false;
  }
  if (!out->is_object()) {
    reply_error(res, 400, "InvalidArgument", "request body must be a JSON object");
    return false;
  }
  for (const auto& [key, value] : out->items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      reply_error(res, 400, "InvalidArgument", "unknown field '" + key + "'");
      return false;
    }
  }
  return true;
}

// Serialises `body` as the reply, timing it as the serialisation stage.
void reply_json(Response& res, const json& body, StageTimes* times) {
  const auto start = std::chrono::steady_clock::now();
  res.status = 200;
  res.set_content(dump(body), "application/json");
  times->add(Stage::kSerialization, elapsed_ns(start));
}

}  // namespace

RagServer::RagServer(RagStore* store, ServerOptions options)
    : store_(store), options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  const size_t threads = static_cast<size_t>(std::max(options_.threads, 1));
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);
  register_routes();
}

RagServer::~RagServer() = default;

vecperf::Result<int> RagServer::bind() {
  const int port = options_.port == 0
                       ? server_->bind_to_any_port(options_.host)
                       : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port < 0) {
    return Status::Unavailable("cannot listen on " + options_.host + ":" +
                               std::to_string(options_.port) +
                               " (address in use, or not an address of this host)");
  }
  return port;
}

void RagServer::serve() { server_->listen_after_bind(); }

void RagServer::stop() { server_->stop(); }

void RagServer::register_routes() {
  using Handler = std::function<void(const Request&, Response&, StageTimes*)>;
  // Every route is timed and counted once its reply is ready, before httplib sends it: a client
  // that has its reply can rely on /metrics counting it.
  auto route = [this](const std::string& method, const std::string& pattern, const char* endpoint,
                      Handler handler) {
    httplib::Server::Handler wrapped = [this, method, endpoint, handler](const Request& req,
                                                                         Response& res) {
      const auto start = std::chrono::steady_clock::now();
      StageTimes times;
      handler(req, res, &times);
      metrics_.record_request(method, endpoint, res.status, elapsed_ns(start));
      metrics_.record_stages(times);
    };
    if (method == "GET") server_->Get(pattern, wrapped);
    if (method == "POST") server_->Post(pattern, wrapped);
    if (method == "DELETE") server_->Delete(pattern, wrapped);
  };

  route("POST", kDocuments, kDocuments,
        [this](const Request& req, Response& res, StageTimes* times) {
          json body;
          if (!parse_object(req, res, {"documents"}, &body)) return;
          const auto docs = body.find("documents");
          if (docs == body.end() || !docs->is_array() || docs->empty()) {
            return reply_error(
                res, 400, "InvalidArgument",
                "'documents' must be a non-empty array of {\"text\": string} or strings");
          }
          if (docs->size() > kMaxDocumentsPerRequest) {
            return reply_error(res, 400, "InvalidArgument",
                               "at most " + std::to_string(kMaxDocumentsPerRequest) +
                                   " documents per request; got " + std::to_string(docs->size()));
          }
          std::vector<std::string> texts;
          texts.reserve(docs->size());
          for (size_t i = 0; i < docs->size(); ++i) {
            const json& d = (*docs)[i];
            const json* text = &d;
            if (d.is_object()) {
              const auto t = d.find("text");
              if (t == d.end() || d.size() != 1) {
                return reply_error(
                    res, 400, "InvalidArgument",
                    "documents[" + std::to_string(i) + "] must have exactly one field, 'text'");
              }
              text = &*t;
            }
            if (!text->is_string()) {
              return reply_error(res, 400, "InvalidArgument",
                                 "documents[" + std::to_string(i) + "]: text must be a string");
            }
            texts.push_back(text->get<std::string>());
          }
          std::vector<AddedDocument> added;
          if (Status st = store_->add_documents(texts, &added, times); !st.ok())
            return reply_status(res, st);
          json items = json::array();
          size_t created = 0;
          for (const AddedDocument& a : added) {
            items.push_back(
                {{"id", std::to_string(a.id)}, {"status", a.created ? "added" : "exists"}});
            created += a.created ? 1 : 0;
          }
          reply_json(res,
                     {{"documents", std::move(items)},
                      {"added", created},
                      {"existing", added.size() - created}},
                     times);
        });

  route("POST", kSearch, kSearch, [this](const Request& req, Response& res, StageTimes* times) {
    json body;
    if (!parse_object(req, res, {"query", "k"}, &body)) return;
    const auto query = body.find("query");
    if (query == body.end() || !query->is_string()) {
      return reply_error(res, 400, "InvalidArgument", "'query' must be a string");
    }
    int k = 10;
    if (const auto kv = body.find("k"); kv != body.end()) {
      // Non-negative integers parse as unsigned, negative ones as signed; floats are rejected.
      const bool in_range = kv->is_number_unsigned()
                                ? kv->get<uint64_t>() >= 1 && kv->get<uint64_t>() <= RagStore::kMaxK
                                : false;
      if (!in_range) {
        return reply_error(
            res, 400, "InvalidArgument",
            "'k' must be an integer in [1, " + std::to_string(RagStore::kMaxK) + "]");
      }
      k = kv->get<int>();
    }
    std::vector<SearchHit> hits;
    if (Status st = store_->search(query->get<std::string>(), k, &hits, times); !st.ok()) {
      return reply_status(res, st);
    }
    json results = json::array();
    for (const SearchHit& h : hits) {
      results.push_back({{"id", std::to_string(h.id)}, {"score", h.score}, {"text", *h.text}});
    }
    reply_json(res, {{"results", std::move(results)}}, times);
  });

  route("DELETE", R"(/documents/([^/]+))", kDocument,
        [this](const Request& req, Response& res, StageTimes* times) {
          const std::string& text = req.matches[1].str();
          int64_t id = -1;
          const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
          if (ec != std::errc() || end != text.data() + text.size() || id < 0) {
            return reply_error(
                res, 400, "InvalidArgument",
                "document id '" + text + "' is not a non-negative 64-bit decimal integer");
          }
          if (Status st = store_->remove_document(id); !st.ok()) return reply_status(res, st);
          reply_json(res, {{"deleted", std::to_string(id)}}, times);
        });

  route("GET", kMetrics, kMetrics, [this](const Request&, Response& res, StageTimes*) {
    res.status = 200;
    res.set_content(vecperf::prometheus_text() + metrics_.prometheus(store_->stats()),
                    "text/plain; version=0.0.4");
  });

  route("GET", kReport, kReport, [this](const Request&, Response& res, StageTimes* times) {
    const StoreStats s = store_->stats();
    json library =
        json::parse(vecperf::performance_report(vecperf::ReportFormat::kJson), nullptr, false);
    if (library.is_discarded()) library = "the library's report is not valid JSON";
    reply_json(res,
               {{"library", std::move(library)},
                {"stages", metrics_.recent_stages()},
                {"store",
                 {{"documents", s.documents},
                  {"index", s.index_description},
                  {"index_vectors", s.index_vectors},
                  {"index_memory_bytes", s.index_memory_bytes},
                  {"log_bytes", s.log_bytes},
                  {"snapshots", s.snapshots},
                  {"snapshot_failures", s.snapshot_failures},
                  {"snapshot_generation", s.snapshot_generation},
                  {"embedded_texts", s.embedded_texts}}},
                {"recovery",
                 {{"log_entries", s.recovered_log_entries},
                  {"embedded_texts", s.recovery_embedded_texts},
                  {"dropped_tail_bytes", s.recovery_dropped_tail_bytes},
                  {"seconds", s.recovery_seconds}}}},
               times);
  });

  route("GET", kHealth, kHealth, [this](const Request&, Response& res, StageTimes* times) {
    reply_json(res, {{"status", "ok"}, {"documents", store_->stats().documents}}, times);
  });

  // Errors httplib produces itself (no route, body too large, malformed request) arrive here
  // with an empty body; errors from the routes above already carry their JSON.
  server_->set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req,
                                                                         Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const char* endpoint = endpoint_of(req.path);
    if (res.status == 404 && endpoint != kUnmatched) {
      res.set_header("Allow", allowed_methods(endpoint));
      reply_error(
          res, 405, "MethodNotAllowed",
          std::string(endpoint) + " accepts " + allowed_methods(endpoint) + ", not " + req.method);
    } else if (res.status == 404) {
      reply_error(res, 404, "NotFound", "no route for " + req.method + " " + req.path);
    } else if (res.status == 413 && req.get_header_value("Content-Type")
                                        .starts_with("application/x-www-form-urlencoded")) {
      reply_error(
          res, 413, "PayloadTooLarge",
          "httplib limits form-encoded bodies to 8 KiB: send Content-Type: application/json");
    } else if (res.status == 413) {
      reply_error(res, 413, "PayloadTooLarge",
                  "request body exceeds " + std::to_string(options_.max_body_bytes) +
                      " bytes (--max-body-bytes); send fewer documents per request");
    } else {
      reply_error(
          res, res.status, res.status < 500 ? "BadRequest" : "Internal",
          "the HTTP request could not be processed (status " + std::to_string(res.status) + ")");
    }
    metrics_.record_request(method_label(req.method), endpoint, res.status, -1);
    return httplib::Server::HandlerResponse::Handled;
  }));

  server_->set_exception_handler([this](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    reply_error(res, 500, "Internal", "request failed: " + what);
    metrics_.record_request(method_label(req.method), endpoint_of(req.path), 500, -1);
  });
}

}  // namespace rag
