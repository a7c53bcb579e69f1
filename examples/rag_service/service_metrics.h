// The service's own metrics: requests per endpoint and status, latency histograms, per-stage
// latencies (cumulative for Prometheus, recent samples for /report), and the store's gauges.
#pragma once

#include <vecperf/metrics.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "rag_store.h"

namespace rag {

/// The last `capacity` samples of one quantity, for percentiles over recent traffic (a
/// cumulative histogram would be dominated by old requests after a while).
/// Thread-safety: all methods may be called concurrently.
class RecentSamples {
 public:
  explicit RecentSamples(size_t capacity) : samples_(capacity) {}
  void add(int64_t value);
  /// Nearest-rank percentiles of the retained samples; all zero when there are none.
  struct Summary {
    size_t count = 0;
    int64_t p50 = 0, p95 = 0, p99 = 0;
  };
  Summary summary() const;

 private:
  mutable std::mutex mutex_;
  std::vector<int64_t> samples_;  // ring buffer
  size_t next_ = 0;
  size_t size_ = 0;
};

/// Thread-safety: all methods may be called concurrently.
class ServiceMetrics {
 public:
  /// Samples per stage kept for recent_stages().
  static constexpr size_t kRecentSamples = 2048;

  ServiceMetrics();

  /// Counts one HTTP request. `endpoint` is a route pattern (a bounded set: never the raw path).
  /// `latency_ns` < 0 when no handler ran (unknown route, body too large).
  void record_request(std::string_view method, std::string_view endpoint, int status,
                      int64_t latency_ns);
  /// Records the stages a request went through.
  void record_stages(const StageTimes& times);

  /// Prometheus text of the service's own families: rag_http_requests_total,
  /// rag_http_request_duration_seconds, rag_stage_duration_seconds, and the store's gauges.
  std::string prometheus(const StoreStats& store) const;

  /// {"<stage>": {"samples": n, "p50_ms": .., "p95_ms": .., "p99_ms": ..}, ...} over the last
  /// kRecentSamples requests that went through each stage.
  nlohmann::json recent_stages() const;

 private:
  struct Series {
    std::atomic<uint64_t> requests{0};
    vecperf::LatencyHistogram latency;
  };
  using SeriesKey = std::tuple<std::string, std::string, int>;  // method, endpoint, status

  mutable std::shared_mutex series_mutex_;
  std::map<SeriesKey, std::unique_ptr<Series>> series_;  // nodes never move or go away
  std::array<vecperf::LatencyHistogram, kStageCount> stage_histograms_;
  std::array<std::unique_ptr<RecentSamples>, kStageCount> recent_;
};

}  // namespace rag
