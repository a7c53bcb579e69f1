// rag_service: an HTTP retrieval service over vecperf. Stores documents (durably, see README.md),
// embeds them with a pluggable model through vecperf's embedding cache, indexes them in an
// `auto` index, and answers nearest-neighbour queries.
//
//   rag_service --data-dir DIR [--host 127.0.0.1] [--port 8080] [--threads 8]
//               [--max-body-bytes 8388608] [--dim 256] [--cache-ram-mb 256]
//               [--snapshot-log-bytes 67108864] [--snapshot-interval-s 300]
//
// Prints "listening on HOST:PORT" on stdout once it accepts connections. SIGINT / SIGTERM stop it
// gracefully (requests in progress are answered, then a snapshot is taken); after SIGKILL the
// next start replays the log. Exit codes: 0 clean stop, 1 failure, 2 bad command line.
#include <signal.h>
#include <unistd.h>
#include <vecperf/metrics.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <thread>

#include "embedder.h"
#include "http_api.h"
#include "rag_store.h"

namespace {

constexpr const char* kUsage =
    "usage: rag_service --data-dir DIR [options]\n"
    "  --data-dir DIR            snapshot, write-ahead log and embedding cache (required)\n"
    "  --host ADDR               address to listen on (default 127.0.0.1)\n"
    "  --port N                  port; 0 picks a free one (default 8080)\n"
    "  --threads N               HTTP worker threads (default 8)\n"
    "  --max-body-bytes N        larger request bodies get 413 (default 8388608)\n"
    "  --dim N                   embedding dimension of the hashing embedder (default 256)\n"
    "  --cache-ram-mb N          embedding cache RAM budget (default 256)\n"
    "  --snapshot-log-bytes N    snapshot when the log segment reaches N bytes (default 64 MiB)\n"
    "  --snapshot-interval-s N   snapshot at least this often when changed; 0 = off (default "
    "300)\n";

struct Flag {
  int64_t* target;
  int64_t min, max;
};

int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const int saved = errno;
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_stop_pipe[1], &byte, 1);
  errno = saved;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "rag_service: %s\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, host = "127.0.0.1";
  int64_t port = 8080, threads = 8, max_body = int64_t{8} << 20, dim = 256, cache_mb = 256,
          snapshot_bytes = int64_t{64} << 20, snapshot_s = 300;
  const std::map<std::string, Flag> numeric = {
      {"--port", {&port, 0, 65535}},
      {"--threads", {&threads, 1, 1024}},
      {"--max-body-bytes", {&max_body, 1, int64_t{1} << 30}},
      {"--dim", {&dim, 1, 65536}},
      {"--cache-ram-mb", {&cache_mb, 1, int64_t{1} << 20}},
      {"--snapshot-log-bytes", {&snapshot_bytes, 4096, int64_t{1} << 40}},
      {"--snapshot-interval-s", {&snapshot_s, 0, int64_t{1} << 30}},
  };

  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i], value;
    if (name == "--help" || name == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return usage_error(name + " needs a value");
    }
    if (name == "--data-dir") {
      data_dir = value;
    } else if (name == "--host") {
      host = value;
    } else if (auto f = numeric.find(name); f != numeric.end()) {
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || end != value.data() + value.size() || v < f->second.min ||
          v > f->second.max) {
        return usage_error(name + " must be an integer in [" + std::to_string(f->second.min) +
                           ", " + std::to_string(f->second.max) + "], got '" + value + "'");
      }
      *f->second.target = v;
    } else {
      return usage_error("unknown option " + name);
    }
  }
  if (data_dir.empty()) return usage_error("--data-dir is required");

  // A stop signal only writes a byte to a pipe (async-signal-safe); a thread reading the pipe
  // stops the server. Blocking the signals and using sigwait would not do: threads that
  // libraries start before main (OpenBLAS's pool) would still take them and die by them.
  // httplib writes to sockets that clients may have closed, hence SIGPIPE is ignored.
  if (::pipe(g_stop_pipe) != 0) {
    std::perror("rag_service: pipe");
    return 1;
  }
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  rag::StoreOptions store_options;
  store_options.data_dir = data_dir;
  store_options.cache_ram_bytes = static_cast<uint64_t>(cache_mb) << 20;
  store_options.snapshot_log_bytes = static_cast<uint64_t>(snapshot_bytes);
  store_options.snapshot_interval_seconds = static_cast<int>(snapshot_s);
  auto store = rag::RagStore::open(store_options, std::make_shared<rag::HashingEmbedder>(dim));
  if (!store.ok()) {
    std::fprintf(stderr, "rag_service: cannot open %s: %s\n", data_dir.c_str(),
                 store.status().to_string().c_str());
    return 1;
  }
  vecperf::set_metrics_name((*store)->index(), "documents");
  vecperf::set_metrics_name((*store)->cache(), "embeddings");

  rag::ServerOptions server_options;
  server_options.host = host;
  server_options.port = static_cast<int>(port);
  server_options.threads = static_cast<int>(threads);
  server_options.max_body_bytes = static_cast<size_t>(max_body);
  rag::RagServer server(store->get(), server_options);
  auto bound = server.bind();
  if (!bound.ok()) {
    std::fprintf(stderr, "rag_service: %s\n", bound.status().to_string().c_str());
    return 1;
  }
  const rag::StoreStats stats = (*store)->stats();
  std::fprintf(
      stderr,
      "rag_service: %lld documents, index %s; recovery replayed %lld log entries in %.3f s\n",
      static_cast<long long>(stats.documents), stats.index_description.c_str(),
      static_cast<long long>(stats.recovered_log_entries), stats.recovery_seconds);
  std::printf("listening on %s:%d\n", host.c_str(), *bound);
  std::fflush(stdout);

  std::thread stopper([&server] {
    char byte = 0;
    while (::read(g_stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    server.stop();
  });
  server.serve();
  on_stop_signal(0);  // serve() also returns when listening fails: wake the stopper to join it
  stopper.join();

  const vecperf::Status st = (*store)->snapshot();
  if (!st.ok()) {
    std::fprintf(stderr,
                 "rag_service: final snapshot failed (the log still holds everything): %s\n",
                 st.to_string().c_str());
    return 1;
  }
  return 0;
}
