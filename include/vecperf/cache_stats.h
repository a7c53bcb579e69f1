// The figures an embedding cache reports (EmbeddingCache::stats()). Apart from vecperf/cache.h,
// which includes it, so that the metrics layer can hold and render them without depending on
// the cache itself.
#pragma once

#include <cstdint>

namespace vecperf {

struct CacheTierStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;  ///< RAM: LRU evictions; disk: capacity evictions.
  uint64_t bytes = 0;      ///< RAM: charged bytes; disk: SST + memtable bytes (estimate).
  uint64_t entries = 0;    ///< Disk: RocksDB's estimate.
};

struct CacheLatency {
  uint64_t count = 0;  ///< Calls recorded (a batch call is one sample).
  double p50_us = 0, p95_us = 0, p99_us = 0, p999_us = 0;
};

struct CacheStats {
  CacheTierStats ram;
  CacheTierStats disk;
  uint64_t lookups = 0;          ///< Texts looked up (get, get_many, get_or_compute).
  double hit_rate = 0;           ///< Texts found in some tier / lookups (0 when none).
  uint64_t computed = 0;         ///< Texts passed to embed functions.
  uint64_t corrupt_records = 0;  ///< Disk records rejected by their checks (read as misses).
  CacheLatency get_latency;      ///< get / get_many calls.
  CacheLatency put_latency;      ///< put / put_many calls.
};

}  // namespace vecperf
