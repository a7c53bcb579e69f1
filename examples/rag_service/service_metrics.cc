// Service metrics. Request series are created on first use under an exclusive lock and then only
// looked up (shared lock) and incremented (relaxed atomics); their number is bounded by
// methods x routes x status codes, all chosen by the server, never by the client.
#include "service_metrics.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace rag {
namespace {

// Appends a family rendered by LatencyHistogram::prometheus; only the first rendering of a family
// keeps its "# HELP" / "# TYPE" lines, as the text format allows one of each.
void append_histogram(std::string* out, const std::string& rendered, bool with_header) {
  std::istringstream lines(rendered);
  for (std::string line; std::getline(lines, line);) {
    if (!with_header && line.starts_with("#")) continue;
    out->append(line).append("\n");
  }
}

void header(std::string* out, const char* name, const char* type, const char* help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string* out, const char* name, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", value);
  out->append(name).append(" ").append(buf).append("\n");
}

void metric(std::string* out, const char* name, const char* type, const char* help, double value) {
  header(out, name, type, help);
  sample(out, name, value);
}

}  // namespace

void RecentSamples::add(int64_t value) {
  std::lock_guard lock(mutex_);
  samples_[next_] = value;
  next_ = (next_ + 1) % samples_.size();
  size_ = std::min(size_ + 1, samples_.size());
}

RecentSamples::Summary RecentSamples::summary() const {
  std::vector<int64_t> sorted;
  {
    std::lock_guard lock(mutex_);
    sorted.assign(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(size_));
  }
  Summary s;
  s.count = sorted.size();
  if (sorted.empty()) return s;
  std::sort(sorted.begin(), sorted.end());
  auto rank = [&](double p) {  // nearest rank: the ceil(p * n)-th smallest
    size_t r = static_cast<size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
    return sorted[std::clamp<size_t>(r, 1, sorted.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p95 = rank(0.95);
  s.p99 = rank(0.99);
  return s;
}

ServiceMetrics::ServiceMetrics() {
  for (auto& r : recent_) r = std::make_unique<RecentSamples>(kRecentSamples);
}

void ServiceMetrics::record_request(std::string_view method, std::string_view endpoint, int status,
                                    int64_t latency_ns) {
  SeriesKey key{std::string(method), std::string(endpoint), status};
  Series* series = nullptr;
  {
    std::shared_lock lock(series_mutex_);
    auto it = series_.find(key);
    if (it != series_.end()) series = it->second.get();
  }
  if (!series) {
    std::unique_lock lock(series_mutex_);
    auto& slot = series_[key];
    if (!slot) slot = std::make_unique<Series>();
    series = slot.get();
  }
  series->requests.fetch_add(1, std::memory_order_relaxed);
  if (latency_ns >= 0) series->latency.record_ns(static_cast<uint64_t>(latency_ns));
}

void ServiceMetrics::record_stages(const StageTimes& times) {
  for (int s = 0; s < kStageCount; ++s) {
    if (times.ns[s] < 0) continue;
    stage_histograms_[s].record_ns(static_cast<uint64_t>(times.ns[s]));
    recent_[s]->add(times.ns[s]);
  }
}

std::string ServiceMetrics::prometheus(const StoreStats& store) const {
  std::string out;
  {
    std::shared_lock lock(series_mutex_);
    header(&out, "rag_http_requests_total", "counter",
           "HTTP requests answered, by method, route and status code.");
    for (const auto& [key, series] : series_) {
      const auto& [method, endpoint, status] = key;
      out.append("rag_http_requests_total{method=\"").append(method);
      out.append("\",endpoint=\"").append(endpoint);
      out.append("\",code=\"").append(std::to_string(status)).append("\"} ");
      out.append(std::to_string(series->requests.load(std::memory_order_relaxed))).append("\n");
    }
    bool first = true;
    for (const auto& [key, series] : series_) {
      if (series->latency.summary().count == 0) continue;
      const auto& [method, endpoint, status] = key;
      append_histogram(
          &out,
          series->latency.prometheus(
              "rag_http_request_duration_seconds",
              "Time from routing a request to its reply being ready, in seconds.",
              {{"method", method}, {"endpoint", endpoint}, {"code", std::to_string(status)}}),
          first);
      first = false;
    }
  }
  for (int s = 0; s < kStageCount; ++s) {
    append_histogram(&out,
                     stage_histograms_[s].prometheus(
                         "rag_stage_duration_seconds",
                         "Time requests spent in each stage (only requests that went through it).",
                         {{"stage", stage_name(static_cast<Stage>(s))}}),
                     s == 0);
  }

  metric(&out, "rag_documents", "gauge", "Documents stored.", double(store.documents));
  metric(&out, "rag_log_bytes", "gauge",
         "Bytes in the write-ahead log segments not yet covered by a snapshot.",
         double(store.log_bytes));
  metric(&out, "rag_snapshots_total", "counter", "Snapshots taken since the process started.",
         double(store.snapshots));
  metric(&out, "rag_snapshot_failures_total", "counter",
         "Snapshots that failed since the process started.", double(store.snapshot_failures));
  metric(&out, "rag_snapshot_generation", "gauge", "Generation of the snapshot in force.",
         double(store.snapshot_generation));
  metric(&out, "rag_last_snapshot_duration_seconds", "gauge",
         "Duration of the last successful snapshot.", store.last_snapshot_seconds);
  metric(&out, "rag_last_snapshot_timestamp_seconds", "gauge",
         "Unix time the last successful snapshot finished (0: none since start).",
         double(store.last_snapshot_unix));
  metric(&out, "rag_embedded_texts_total", "counter", "Texts passed to the embedding model.",
         double(store.embedded_texts));
  metric(&out, "rag_recovery_log_entries", "gauge", "Log entries replayed at start-up.",
         double(store.recovered_log_entries));
  metric(&out, "rag_recovery_embedded_texts", "gauge",
         "Texts the start-up replay had to embed (the cache had no vector for them).",
         double(store.recovery_embedded_texts));
  metric(&out, "rag_recovery_seconds", "gauge", "Duration of the start-up recovery.",
         store.recovery_seconds);
  return out;
}

nlohmann::json ServiceMetrics::recent_stages() const {
  nlohmann::json out = nlohmann::json::object();
  for (int s = 0; s < kStageCount; ++s) {
    const RecentSamples::Summary r = recent_[s]->summary();
    out[stage_name(static_cast<Stage>(s))] = {
        {"samples", r.count},
        {"p50_ms", r.p50 * 1e-6},
        {"p95_ms", r.p95 * 1e-6},
        {"p99_ms", r.p99 * 1e-6},
    };
  }
  return out;
}

}  // namespace rag
