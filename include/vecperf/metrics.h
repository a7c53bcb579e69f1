// Observability for a service that embeds vecperf: a Prometheus text exposition and a performance
// report covering every live index and embedding cache in the process, and a latency histogram
// for the caller's own stages. Indexes (from make_index / load / from_bytes) and caches (from
// EmbeddingCache::open) register themselves on construction and leave on destruction; recording
// on the search and lookup paths is a handful of relaxed atomic increments, never a lock.
// Metric names, labels and the report's warnings are listed in docs/operations.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vecperf/export.h"

namespace vecperf {

// Only named here (as identities), so that the metrics layer sits below the index and the cache.
class Index;
class EmbeddingCache;

namespace internal {
class Histogram;
}  // namespace internal

/// Prometheus text exposition (format 0.0.4) of every live index and embedding cache in the
/// process plus process metrics (resident memory). Names are `vecperf_*` in base units
/// (seconds, bytes); each family has one `# HELP` and one `# TYPE`; indexes are told apart by
/// the `index` label and caches by the `cache` label (see set_metrics_name). Serve it with
/// Content-Type `text/plain; version=0.0.4`. Thread-safe; may run while other threads search,
/// add, create or destroy indexes.
VECPERF_EXPORT std::string prometheus_text();

enum class ReportFormat : int { kText = 0, kJson = 1 };

/// What performance_report() includes and when it warns. Thresholds are the usual trouble signs;
/// docs/operations.md explains each warning and what to do about it.
struct ReportOptions {
  /// Default: kText.
  ReportFormat format = ReportFormat::kText;
  /// Memory the process may use, in bytes; the report warns when the resident set exceeds
  /// `memory_warn_fraction` of it. Per-index budgets are set with set_memory_budget().
  /// 0 = no process budget. Default: 0.
  uint64_t memory_budget_bytes = 0;
  /// Fraction of a memory budget (process or index) above which the report warns. Default: 0.9.
  double memory_warn_fraction = 0.9;
  /// Warn when an index's p99 search latency exceeds this multiple of its p50. Default: 2.
  double tail_latency_ratio = 2.0;
  /// ... but only once it has served this many search calls (a handful of samples has no
  /// meaningful tail). Default: 100.
  uint64_t min_searches_for_tail = 100;
  /// Warn when a cache answers fewer than this fraction of its lookups. Default: 0.7.
  double min_cache_hit_rate = 0.7;
  /// ... but only after this many lookups, so that a cold cache does not warn. Default: 1000.
  uint64_t min_cache_lookups = 1000;
  /// Warn when a GPU is busy less than this fraction of the time during batch searches (only
  /// when a GPU module reports device metrics). Default: 0.5.
  double min_gpu_utilization = 0.5;
  /// ... but only after this many batch searches on the device. Default: 10.
  uint64_t min_gpu_batch_searches = 10;
};

/// A report of every live index (kind, size, memory, searches, QPS since it was created, search
/// latency p50/p95/p99/p99.9), every cache (hit rate per tier, get/put latency), the process's
/// resident memory, and warnings (see ReportOptions). kText is for people; kJson is one object
/// {"process":…, "indexes":[…], "caches":[…], "devices":[…], "warnings":[…]} for tools.
/// Thread-safe.
VECPERF_EXPORT std::string performance_report(ReportFormat format = ReportFormat::kText);
VECPERF_EXPORT std::string performance_report(const ReportOptions& options);

/// Label used for `index` in metrics and in the report (default: "index<N>" in creation order).
/// An empty name restores the default. Names should be unique among live indexes; when two
/// collide, the later-created index is shown as "<name>-<N>". No-op for an object that is not
/// registered (an already destroyed one, or a stage inside an auto index). Thread-safe.
VECPERF_EXPORT void set_metrics_name(const Index& index, std::string name);
/// Label used for `cache` (default: "cache<N>" in creation order). Same rules as for an index.
VECPERF_EXPORT void set_metrics_name(const EmbeddingCache& cache, std::string name);

/// Memory budget of one index, in bytes, for the report's memory warning: typically the
/// Workload::memory_budget_bytes given to plan(), or IndexPlan::estimated_memory_bytes to be
/// told when the index nears the size it was planned for. 0 removes it. Thread-safe.
VECPERF_EXPORT void set_memory_budget(const Index& index, size_t budget_bytes);

/// Label name/value pairs of a metric. Values may hold any characters (they are escaped).
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

/// Point-in-time summary of a LatencyHistogram; every figure in nanoseconds. Percentiles are
/// within ~3% of the exact nearest-rank value.
struct LatencySummary {
  uint64_t count = 0;
  uint64_t sum = 0;
  uint64_t min = 0;  ///< 0 when count == 0
  uint64_t max = 0;
  double p50 = 0, p95 = 0, p99 = 0, p999 = 0;
};

/// Latency histogram for the caller's own stages (e.g. embedding, re-ranking, request total):
/// the library's lock-free log-linear histogram, covering 1 ns to centuries without
/// configuration, in ~7.6 KiB.
///
/// Thread-safety: every method may be called concurrently from any thread.
class VECPERF_EXPORT LatencyHistogram {
 public:
  LatencyHistogram();
  ~LatencyHistogram();
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  /// Adds one sample of `ns` nanoseconds. Lock-free; a few relaxed atomic operations.
  void record_ns(uint64_t ns) noexcept;
  /// Forgets every sample.
  void reset() noexcept;
  LatencySummary summary() const;

  /// Prometheus text exposition of this histogram in seconds: "# HELP", "# TYPE <name>
  /// histogram", cumulative `<name>_bucket{le=...}` lines (powers of two from ~1 us to ~17 s,
  /// then +Inf), `<name>_sum` and `<name>_count`. Characters of `name` and of label names that
  /// Prometheus does not allow are replaced by '_'; label values are escaped.
  std::string prometheus(std::string_view name, std::string_view help,
                         const MetricLabels& labels = {}) const;

  /// One histogram of a family, with the labels that tell it apart from its siblings.
  struct Series {
    const LatencyHistogram* histogram = nullptr;  ///< null entries are skipped
    MetricLabels labels;
  };
  /// Several histograms exported under one name (e.g. one per stage or route): one "# HELP" and
  /// one "# TYPE", then each series as prometheus() writes it. Concatenating prometheus() outputs
  /// of one name instead would repeat the header, which the format forbids. Label sets should
  /// differ between series.
  static std::string prometheus_family(std::string_view name, std::string_view help,
                                       const std::vector<Series>& series);

 private:
  std::unique_ptr<internal::Histogram> impl_;
};

}  // namespace vecperf
