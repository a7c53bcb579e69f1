// The process-wide metrics registry: every index made by make_index / load (through the metered
// wrapper of src/build) and every embedding cache registers here on construction and leaves on
// destruction. The registry knows nothing of what it observes: an index is an owner pointer with
// labels (kind, metric, dim) and the counters the wrapper records, so this layer sits below the
// index and cache layers (docs/architecture.md).
//
// Hot paths never lock: an index owns an IndexMetrics (relaxed atomic counters and a Histogram)
// that it records into directly, and the registry only keeps a pointer to it. The registry's
// mutex is taken to register, unregister, rename and scrape; an object unregisters in its
// destructor, so a scrape (which holds the mutex) never reads a destroyed object.
//
// Index size, memory and migration counts are gauges that the wrapper refreshes after each add or
// remove (under a mutex, so the last refresh always sees the last write): a scrape never calls
// into an index.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exposition.h"
#include "metrics/histogram.h"
#include "vecperf/cache_stats.h"
#include "vecperf/status.h"

namespace vecperf::internal {

/// Operations an index counts.
enum class IndexOp : int { kSearch = 0, kAdd = 1, kRemove = 2 };
inline constexpr int kIndexOps = 3;
inline constexpr int kStatusCodes = static_cast<int>(StatusCode::kInternal) + 1;

inline uint64_t metrics_now_ns() noexcept {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

/// Counters of one registered index. Thread-safety: recording and reading may run concurrently
/// from any thread.
class IndexMetrics {
 public:
  /// Registers the index `owner` (used only as an identity: never called through), labelled
  /// with its kind and metric names and its dimension, and returns its counters.
  static std::unique_ptr<IndexMetrics> create(const void* owner, std::string kind,
                                              std::string metric, int64_t dim);
  /// Unregisters.
  ~IndexMetrics();
  IndexMetrics(const IndexMetrics&) = delete;
  IndexMetrics& operator=(const IndexMetrics&) = delete;

  /// One search call of `queries` rows that took `elapsed_ns`. Failed calls count as calls and
  /// errors only, so that rejected arguments do not pull the latency percentiles down.
  void record_search(int64_t queries, uint64_t elapsed_ns, const Status& status) noexcept;
  /// One add or remove call of `vectors` rows (counted as vectors only when it succeeded).
  void record_write(IndexOp op, int64_t vectors, const Status& status) noexcept;
  /// Live vectors and memory, as read by the index.
  void set_shape(int64_t size, size_t memory_bytes) noexcept;
  /// Migrations completed and failed so far, and whether the last one failed, as read by the
  /// index (Index::migration_status).
  void set_migrations(int64_t completed, int64_t failed, bool last_failed) noexcept;

 private:
  friend class Registry;
  IndexMetrics(const void* owner, uint64_t seq, std::string kind, std::string metric, int64_t dim);

  const void* const owner_;
  const uint64_t seq_;  // creation order, for the default name
  const std::string kind_;
  const std::string metric_;
  const int64_t dim_;
  const uint64_t created_ns_;

  std::array<std::atomic<uint64_t>, kIndexOps> calls_{};
  std::atomic<uint64_t> search_queries_{0};
  std::atomic<uint64_t> added_vectors_{0};
  std::atomic<uint64_t> removed_vectors_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(kIndexOps) * kStatusCodes> errors_{};
  std::atomic<int64_t> size_{0};
  std::atomic<uint64_t> memory_bytes_{0};
  std::atomic<uint64_t> migrations_{0};
  std::atomic<uint64_t> migration_failures_{0};
  std::atomic<bool> migration_failing_{false};
  Histogram search_latency_;

  // Guarded by the registry's mutex.
  std::string name_;
  size_t memory_budget_ = 0;
};

/// Registration of an embedding cache. The cache creates it once fully constructed and must
/// destroy it before any part the callbacks use (the registry calls `stats` and `collect` while
/// scraping).
class CacheRegistration {
 public:
  /// Appends the cache's metrics to an exposition, with `labels` on every sample.
  using Collect = std::function<void(Exposition& out, std::string_view labels)>;
  /// The cache's figures, for the performance report.
  using Stats = std::function<CacheStats()>;
  /// `cache` is used only as an identity (set_metrics_name finds the registration by it).
  CacheRegistration(const void* cache, Collect collect, Stats stats);
  ~CacheRegistration();
  CacheRegistration(const CacheRegistration&) = delete;
  CacheRegistration& operator=(const CacheRegistration&) = delete;

 private:
  friend class Registry;
  const void* const cache_;
  const Collect collect_;
  const Stats stats_;
  uint64_t seq_ = 0;
  std::string name_;  // guarded by the registry's mutex
};

/// One accelerator as a GPU module reports it.
struct DeviceMetrics {
  int device = 0;
  std::string name;
  uint64_t memory_used_bytes = 0;
  /// 0 when the source does not know it (the gauge is then left out).
  uint64_t memory_total_bytes = 0;
  /// Fraction of the last sampling period the device was busy, in [0, 1]; negative when the
  /// source does not measure it (the gauge is then left out and no warning is derived from it).
  double utilization = 0;
  /// Batch searches run on the device so far, and the fraction of their wall time the device
  /// was busy: low means the host (transfers, merging) is the bottleneck. The fraction is
  /// negative when not measured.
  uint64_t batch_searches = 0;
  double batch_search_utilization = 0;
};
using DeviceMetricsSource = std::function<std::vector<DeviceMetrics>()>;

/// Installs the source of device metrics (a GPU module calls this once it has a device); an
/// empty function removes it. The source is called during scrapes and reports, under the
/// registry's mutex, so it must not call back into the registry.
void set_device_metrics_source(DeviceMetricsSource source);

/// Resident set size of this process in bytes, from /proc/self/statm; 0 when unreadable.
uint64_t resident_memory_bytes();

/// A point-in-time copy of what is registered: the input of the performance report.
struct IndexSnapshot {
  std::string name;
  std::string kind;    ///< index_kind_name()
  std::string metric;  ///< metric_name()
  int64_t dim = 0;
  int64_t size = 0;
  uint64_t memory_bytes = 0;
  uint64_t memory_budget_bytes = 0;  ///< 0 = none
  double age_seconds = 0;            ///< since the index was created or loaded
  std::array<uint64_t, kIndexOps> calls{};
  uint64_t search_queries = 0;
  uint64_t added_vectors = 0;
  uint64_t removed_vectors = 0;
  uint64_t errors = 0;  ///< all operations and codes
  uint64_t migrations = 0;
  uint64_t migration_failures = 0;
  bool migration_failing = false;  ///< the last migration failed (the stage stayed)
  HistogramSummary search_latency;
};
struct CacheSnapshot {
  std::string name;
  CacheStats stats;
};
struct MetricsSnapshot {
  uint64_t resident_memory_bytes = 0;
  std::vector<IndexSnapshot> indexes;  ///< creation order
  std::vector<CacheSnapshot> caches;   ///< creation order
  std::vector<DeviceMetrics> devices;
};
MetricsSnapshot metrics_snapshot();

}  // namespace vecperf::internal
