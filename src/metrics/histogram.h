// Latency histogram shared by the cache and the index: log-linear buckets, lock-free recording.
//
// Layout (HdrHistogram's idea, fixed precision): values 0..15 get one bucket each; above that,
// every power-of-two range [2^e, 2^(e+1)) is split into 16 equal sub-buckets. A recorded value
// therefore lands in a bucket at most 1/16 of its magnitude wide, and a percentile read back as
// the bucket midpoint is within ~3.1% of the exact one, whatever the range (ns to minutes).
// 976 relaxed atomic counters (7.6 KiB) cover the whole uint64 range, so there is no overflow
// bucket and no configuration.
//
// Recording is three relaxed fetch_adds plus two CAS loops that almost never retry (min/max),
// safe from any number of threads. Readers take a snapshot that is not atomic across buckets:
// counts recorded during the read may be half-seen, which is fine for monitoring.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace vecperf::internal {

/// Point-in-time summary of a Histogram. Percentiles are in the recorded unit.
struct HistogramSummary {
  uint64_t count = 0;
  uint64_t sum = 0;
  uint64_t min = 0;  ///< 0 when count == 0
  uint64_t max = 0;
  double p50 = 0, p95 = 0, p99 = 0, p999 = 0;
};

/// Thread-safety: all methods may be called concurrently from any thread.
class Histogram {
 public:
  static constexpr int kSubBits = 4;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;  // sub-buckets per power of two
  static constexpr int kBuckets = static_cast<int>((64 - kSubBits + 1) * kSub);

  Histogram();

  /// Adds one sample (any unit; the cache and the index record nanoseconds).
  void record(uint64_t value) noexcept;

  /// Forgets every sample.
  void reset() noexcept;

  uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// Nearest-rank percentile (p in [0, 100]): the midpoint of the bucket holding the
  /// ceil(p/100 * count)-th smallest sample, clamped to the recorded [min, max]. 0 when empty.
  double percentile(double p) const;

  HistogramSummary summary() const;

  /// Prometheus text exposition of a histogram metric in seconds, for values recorded in
  /// nanoseconds: "# HELP", "# TYPE <name> histogram", cumulative `<name>_bucket{le=...}` lines
  /// at powers of two from ~1 us to ~17 s plus +Inf, then `<name>_sum` and `<name>_count`.
  /// `labels` is inserted inside the braces verbatim (e.g. `op="get"`), or empty.
  std::string render_prometheus_ns(std::string_view name, std::string_view help,
                                   std::string_view labels) const;
  /// The sample lines of render_prometheus_ns (no "# HELP" / "# TYPE"), appended to `out`: for
  /// families that hold several label sets and print their header once.
  void append_prometheus_samples_ns(std::string& out, std::string_view name,
                                    std::string_view labels) const;

  /// Bucket index of a value and the [lower, upper) value range of a bucket (exposed for tests).
  static int bucket_of(uint64_t value) noexcept;
  static uint64_t bucket_lower(int bucket) noexcept;
  static uint64_t bucket_width(int bucket) noexcept;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> min_{UINT64_MAX};
  std::atomic<uint64_t> max_{0};
};

}  // namespace vecperf::internal
