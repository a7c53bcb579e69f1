// EmbeddingCacheImpl: the one implementation of vecperf::EmbeddingCache. Private to src/cache; it
// is a header only because its methods live in several files, one job each:
//
//   embedding_cache.cc   open, the two tiers behind get_many / put_many (lookup, store, row codec)
//   get_or_compute.cc    get_or_compute, in named steps over the single-flight table
//   single_flight.{h,cc} the table of keys being computed right now
//   cache_stats.cc       stats(), the Prometheus text and the process-wide registration
//   cache_options.cc     CacheOptions::validate and the names of the cache enums
//
// State: the options (with the clock resolved and kAuto resolved to a tiering), a key hasher
// whose model prefix is built once, the RAM tier and/or the disk tier, the flight table, and
// relaxed atomic counters plus two latency histograms for stats().
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "cache/cache_key.h"
#include "cache/disk_tier.h"
#include "cache/lru_cache.h"
#include "cache/single_flight.h"
#include "metrics/exposition.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"
#include "vecperf/cache.h"

namespace vecperf::internal {

// A float is infinite or NaN exactly when its exponent bits are all ones; adding one to the
// exponent then carries into the sign bit. Branch-free and OR-reduced so that the compiler
// vectorises it: the early-exit std::isfinite loop it replaces ran one float at a time and was
// all of put_many's own time in a profile of disk puts (a few percent of the put).
inline bool all_finite(const float* v, size_t n) {
  uint32_t overflow = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, sizeof(bits));
    overflow |= (bits & 0x7f800000u) + 0x00800000u;
  }
  return (overflow & 0x80000000u) == 0;
}

/// Thread-safety: as EmbeddingCache (every method may be called concurrently).
class EmbeddingCacheImpl final : public EmbeddingCache {
 public:
  /// `tiering` is options.tiering with kAuto resolved. Opens no files: see open_disk().
  EmbeddingCacheImpl(const CacheOptions& options, CacheTiering tiering);
  /// Opens RocksDB when the tiering has a disk tier.
  Status open_disk();
  /// Joins the process-wide registry; called once the cache is fully open, so that a scrape
  /// never sees a half-constructed one.
  void register_metrics();

  int64_t dim() const override { return options_.dim; }
  const CacheOptions& options() const override { return options_; }
  CacheKey key(std::string_view text) const override { return hasher_(text); }
  DiskTier* disk_for_testing() { return disk_.get(); }

  Status get_many(Span<const std::string_view> texts, float* out, uint8_t* found) override;
  Status put_many(Span<const std::string_view> texts, MatrixView vectors,
                  int64_t ttl_seconds) override;
  Status get_or_compute(Span<const std::string_view> texts, const EmbedFn& embed,
                        int64_t batch_size, float* out) override;
  Status flush() override;
  CacheStats stats() const override;
  std::string stats_prometheus() const override;

  /// Appends this cache's metrics to `out` with `labels` (formatted, may be empty) on every
  /// sample. Shared by stats_prometheus() and the process-wide registry (prometheus_text()).
  void write_metrics(Exposition& out, std::string_view labels) const;

 private:
  class ComputeCall;  // one get_or_compute call (get_or_compute.cc)

  int64_t expiry_for_new_entry(int64_t now, int64_t ttl_seconds) const;
  /// Storage bytes (row_bytes_) of one float32 row.
  void encode_row(const float* in, std::byte* out) const;
  /// One stored row of `dtype` back to dim_ float32.
  void decode_row(const std::byte* in, uint8_t dtype, float* out) const;
  /// Probes RAM then disk for every key (see embedding_cache.cc). A found key i is written to row
  /// rows[i] of `out` (row i when `rows` is empty). `count` is false for the single-flight
  /// re-probe, which must not count a lookup twice.
  Status lookup(std::span<const CacheKey> keys, float* out, std::span<const size_t> rows,
                uint8_t* found, bool count);
  /// Writes rows (keys.size() x dim float32) to disk, then RAM.
  Status store(std::span<const CacheKey> keys, const float* rows, int64_t ttl_seconds);

  CacheOptions options_;
  KeyHasher hasher_;
  size_t dim_;
  uint8_t dtype_;
  size_t row_bytes_;
  CacheTiering tiering_;
  std::unique_ptr<LruCache> ram_;
  std::unique_ptr<DiskTier> disk_;

  std::atomic<uint64_t> lookups_{0};
  std::atomic<uint64_t> ram_hits_{0}, ram_misses_{0}, disk_hits_{0}, disk_misses_{0};
  std::atomic<uint64_t> computed_{0}, corrupt_{0};
  Histogram get_latency_, put_latency_;

  FlightTable flights_;

  // Declared last so that it is destroyed first: the registry stops reading this cache before
  // any member its callbacks use goes away.
  std::unique_ptr<CacheRegistration> registration_;
};

}  // namespace vecperf::internal
