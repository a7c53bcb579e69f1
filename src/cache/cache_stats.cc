// stats() and the Prometheus text of one cache. The counters are relaxed atomics bumped by
// lookup() and get_or_compute, and the latency histograms are lock-free (src/metrics/), so a
// scrape never blocks a lookup; the tiers' bytes and entries come from the tiers themselves
// (disk figures are RocksDB's estimates). The same writer serves stats_prometheus() and the
// process-wide registry, which adds a `cache` label.
#include <cstdio>
#include <string>

#include "cache/embedding_cache_impl.h"

namespace vecperf::internal {
namespace {

CacheLatency to_latency(const HistogramSummary& s) {
  CacheLatency l;
  l.count = s.count;
  l.p50_us = s.p50 / 1e3;
  l.p95_us = s.p95 / 1e3;
  l.p99_us = s.p99 / 1e3;
  l.p999_us = s.p999 / 1e3;
  return l;
}

}  // namespace

CacheStats EmbeddingCacheImpl::stats() const {
  CacheStats s;
  s.ram.hits = ram_hits_.load(std::memory_order_relaxed);
  s.ram.misses = ram_misses_.load(std::memory_order_relaxed);
  s.disk.hits = disk_hits_.load(std::memory_order_relaxed);
  s.disk.misses = disk_misses_.load(std::memory_order_relaxed);
  if (ram_) {
    s.ram.evictions = ram_->evictions();
    s.ram.bytes = ram_->bytes();
    s.ram.entries = ram_->entries();
  }
  if (disk_) {
    s.disk.evictions = disk_->evictions();
    s.disk.bytes = disk_->bytes();
    s.disk.entries = disk_->entries();
  }
  s.lookups = lookups_.load(std::memory_order_relaxed);
  s.hit_rate = s.lookups == 0
                   ? 0.0
                   : static_cast<double>(s.ram.hits + s.disk.hits) / static_cast<double>(s.lookups);
  s.computed = computed_.load(std::memory_order_relaxed);
  s.corrupt_records = corrupt_.load(std::memory_order_relaxed);
  s.get_latency = to_latency(get_latency_.summary());
  s.put_latency = to_latency(put_latency_.summary());
  return s;
}

std::string EmbeddingCacheImpl::stats_prometheus() const {
  Exposition out;
  write_metrics(out, "");
  return out.text();
}

void EmbeddingCacheImpl::write_metrics(Exposition& out, std::string_view labels) const {
  using Type = Exposition::Type;
  const CacheStats s = stats();
  const std::string ram_labels = join_labels(labels, format_labels({{"tier", "ram"}}));
  const std::string disk_labels = join_labels(labels, format_labels({{"tier", "disk"}}));
  auto tiered = [&](const char* name, Type type, const char* help, uint64_t ram, uint64_t disk) {
    out.family(name, type, help);
    if (ram_) out.sample(name, type, help, ram_labels, std::to_string(ram));
    if (disk_) out.sample(name, type, help, disk_labels, std::to_string(disk));
  };
  tiered("vecperf_cache_hits_total", Type::kCounter, "Lookups answered by the tier.", s.ram.hits,
         s.disk.hits);
  tiered("vecperf_cache_misses_total", Type::kCounter, "Lookups the tier could not answer.",
         s.ram.misses, s.disk.misses);
  tiered("vecperf_cache_evictions_total", Type::kCounter,
         "Entries evicted (RAM: LRU byte budget; disk: capacity bound).", s.ram.evictions,
         s.disk.evictions);
  tiered("vecperf_cache_bytes", Type::kGauge, "Bytes held by the tier (disk: estimate).",
         s.ram.bytes, s.disk.bytes);
  tiered("vecperf_cache_entries", Type::kGauge, "Entries held by the tier (disk: estimate).",
         s.ram.entries, s.disk.entries);
  out.counter("vecperf_cache_lookups_total", "Texts looked up.", labels, s.lookups);
  char rate[32];
  std::snprintf(rate, sizeof(rate), "%.6f", s.hit_rate);
  out.sample("vecperf_cache_hit_rate", Type::kGauge, "Fraction of lookups answered by some tier.",
             labels, rate);
  out.counter("vecperf_cache_computed_total", "Texts passed to embed functions.", labels,
              s.computed);
  out.counter("vecperf_cache_corrupt_records_total",
              "Disk records rejected by their integrity checks.", labels, s.corrupt_records);
  out.histogram_ns("vecperf_cache_get_latency_seconds", "Latency of get and get_many calls.",
                   labels, get_latency_);
  out.histogram_ns("vecperf_cache_put_latency_seconds", "Latency of put and put_many calls.",
                   labels, put_latency_);
}

void EmbeddingCacheImpl::register_metrics() {
  // The public object (EmbeddingCache) is the identity set_metrics_name() is called with.
  registration_ = std::make_unique<CacheRegistration>(
      static_cast<const EmbeddingCache*>(this),
      [this](Exposition& out, std::string_view labels) { write_metrics(out, labels); },
      [this] { return stats(); });
}

}  // namespace vecperf::internal
