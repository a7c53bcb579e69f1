// Embedding cache: text -> embedding vector, keyed by a content hash, with an in-RAM LRU tier
// over an optional RocksDB disk tier, and a batched get-or-compute that calls the model once per
// distinct missing text even across concurrent callers (single-flight).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vecperf/cache_stats.h"
#include "vecperf/export.h"
#include "vecperf/span.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf {

/// 128-bit content hash (XXH3-128) of (model, model_version, dim, text). Equal keys mean equal
/// inputs with overwhelming probability (2^-64 birthday bound at 2^32 entries).
struct CacheKey {
  uint64_t lo = 0;
  uint64_t hi = 0;

  friend bool operator==(const CacheKey& a, const CacheKey& b) {
    return a.lo == b.lo && a.hi == b.hi;
  }
  friend bool operator!=(const CacheKey& a, const CacheKey& b) { return !(a == b); }
  /// 32 lowercase hex digits, high half first.
  VECPERF_EXPORT std::string to_hex() const;
  /// A non-negative 63-bit id derived from the key, usable as a document id in an Index.
  int64_t to_id() const { return static_cast<int64_t>(hi >> 1); }
};

/// Key of `text` under `model` with an empty version and dim 0: for callers that want content
/// hashes as document ids. Equal to cache_key(model, "", 0, text).
VECPERF_EXPORT CacheKey cache_key(std::string_view model, std::string_view text);
/// Key of `text` for (model, model_version, dim): the key an EmbeddingCache opened with those
/// options uses. Each field is length-prefixed, so no two tuples share an encoding.
VECPERF_EXPORT CacheKey cache_key(std::string_view model, std::string_view model_version,
                                  int64_t dim, std::string_view text);

/// Which tiers a cache uses.
enum class CacheTiering : int {
  kAuto = 0,         ///< kRamOverDisk when `path` is set, else kRamOnly.
  kRamOnly = 1,      ///< No disk tier; `path` must be empty.
  kDiskOnly = 2,     ///< Every lookup reads RocksDB (its block cache still applies).
  kRamOverDisk = 3,  ///< Lookups try RAM, then disk; a disk hit is promoted to RAM.
};

/// "auto", "ram_only", "disk_only", "ram_over_disk" (the Python `tiering` keyword's values).
VECPERF_EXPORT const char* cache_tiering_name(CacheTiering tiering);
/// Errors: kInvalidArgument for an unknown name, listing the accepted ones.
VECPERF_EXPORT Result<CacheTiering> parse_cache_tiering(const std::string& name);

/// How vectors are stored (both tiers). Callers always see float32.
enum class CacheDtype : int {
  kFloat32 = 0,  ///< Exact.
  /// IEEE half precision, round to nearest even: half the bytes; relative error <= 2^-11
  /// (~0.05%) for |x| in [6.1e-5, 65504]; smaller magnitudes lose relative precision (subnormal)
  /// and larger ones become +-inf, so use it only for normalised embeddings.
  kFloat16 = 1,
};

/// "float32", "float16" (numpy's names, as the Python `dtype` keyword takes them).
VECPERF_EXPORT const char* cache_dtype_name(CacheDtype dtype);
/// Errors: kInvalidArgument for an unknown name, listing the accepted ones.
VECPERF_EXPORT Result<CacheDtype> parse_cache_dtype(const std::string& name);

/// When a disk write is durable.
enum class CacheDurability : int {
  /// Each write reaches RocksDB's write-ahead log in the OS page cache before the call returns:
  /// it survives a crash of the process (even SIGKILL) but not of the machine. flush() fsyncs.
  kProcessCrash = 0,
  /// Each put/put_many/get_or_compute write fsyncs the WAL before it returns: it survives power
  /// loss. Concurrent writers are group-committed by RocksDB (one fsync covers many threads),
  /// and a put_many is one atomic batch, so batch writes to amortise the fsync.
  kSyncEachWrite = 1,
};

/// "process_crash", "sync_each_write" (Python spells them sync=False and sync=True).
VECPERF_EXPORT const char* cache_durability_name(CacheDurability durability);
/// Errors: kInvalidArgument for an unknown name, listing the accepted ones.
VECPERF_EXPORT Result<CacheDurability> parse_cache_durability(const std::string& name);

struct CacheOptions {
  /// Model identifier, part of every key and of every disk record. Required, non-empty.
  std::string model;
  /// Model version or namespace, part of every key. Default: "".
  std::string model_version;
  /// Embedding dimension, 1..65536. Required.
  int64_t dim = 0;
  /// Default: kAuto.
  CacheTiering tiering = CacheTiering::kAuto;
  /// RocksDB directory (created with its parents if missing). Default: "" (no disk tier).
  std::string path;
  /// RAM tier budget in bytes, counting vector bytes plus a fixed per-entry overhead
  /// (see EmbeddingCache::ram_entry_bytes). Split evenly across shards. Default: 256 MiB.
  uint64_t ram_budget_bytes = uint64_t{256} << 20;
  /// Independently locked LRU shards, 1..1024 (shard = high bits of the key). LRU order is exact
  /// within a shard. Default: 16.
  int ram_shards = 16;
  /// Default: kFloat32.
  CacheDtype dtype = CacheDtype::kFloat32;
  /// RocksDB block cache for SST data blocks. Default: 64 MiB.
  uint64_t disk_block_cache_bytes = uint64_t{64} << 20;
  /// RocksDB row cache: whole records of recently read keys, checked before the block cache, so
  /// a hit skips the index, filter and data-block search (about 2x faster disk hits in
  /// vecperf_cache_bench). Disk hits of a RAM-over-disk cache are promoted into the RAM tier, so
  /// there it mostly serves entries the RAM tier has evicted. 0 disables it. Default: 64 MiB.
  uint64_t disk_row_cache_bytes = uint64_t{64} << 20;
  /// RocksDB memtable size before a flush to disk. Default: 64 MiB.
  uint64_t disk_write_buffer_bytes = uint64_t{64} << 20;
  /// Disk capacity in entries; beyond it the oldest-written entries are deleted. Enforcing it costs
  /// a read per written key and serialises writers. 0 = unbounded. Set it consistently across
  /// opens: entries written while it was 0 are not tracked for eviction. Default: 0.
  uint64_t disk_max_entries = 0;
  /// Default lifetime of an entry: entries older than this many seconds (by `clock`) are misses
  /// in both tiers and are dropped from disk by compaction. 0 = never expire. put/put_many can
  /// override it per entry. Default: 0.
  int64_t ttl_seconds = 0;
  /// Default: kProcessCrash.
  CacheDurability durability = CacheDurability::kProcessCrash;
  /// Current time in seconds since the Unix epoch; must be thread-safe (RocksDB's compaction
  /// threads call it too). Injectable for tests. Default: empty = the system clock.
  std::function<int64_t()> clock;

  /// Errors: kInvalidArgument naming the first bad field.
  VECPERF_EXPORT Status validate() const;
};

/// Computes embeddings: must set `*out` to exactly texts.size() * dim floats, row i for texts[i],
/// and return OK; or return an error, which get_or_compute returns unchanged. Any other output
/// size or a non-finite value is rejected (kInvalidArgument) and nothing of that call is cached.
/// It may be called from several threads at once (different texts).
using EmbedFn = std::function<Status(Span<const std::string_view> texts, std::vector<float>* out)>;

/// Thread-safety: every method may be called concurrently from any thread. Destroying the cache
/// closes RocksDB (after which another cache may open the directory); it must not race with calls.
class VECPERF_EXPORT EmbeddingCache {
 public:
  /// Opens (or creates) a cache. Errors: kInvalidArgument (options), kUnavailable (the directory
  /// is locked by another process or another open cache), kIOError (cannot create or open the
  /// directory), kCorruption (RocksDB files damaged beyond recovery), kResourceExhausted.
  static Result<std::unique_ptr<EmbeddingCache>> open(const CacheOptions& options);

  virtual ~EmbeddingCache() = default;

  virtual int64_t dim() const = 0;
  virtual const CacheOptions& options() const = 0;
  /// cache_key(model, model_version, dim, text) for this cache's options.
  virtual CacheKey key(std::string_view text) const = 0;

  /// Looks up each text (RAM, then disk; a disk hit is promoted to RAM). For found texts row i
  /// of `out` (texts.size() x dim floats, caller-owned) is set and found[i] = 1; else found[i] = 0
  /// and row i is left unchanged. A missing, expired or corrupt entry is a miss, not an error.
  /// Errors: kIOError / kInternal when RocksDB fails a read.
  virtual Status get_many(Span<const std::string_view> texts, float* out, uint8_t* found) = 0;
  /// Same as above, returning one optional vector per text.
  Result<std::vector<std::optional<std::vector<float>>>> get_many(
      Span<const std::string_view> texts);
  /// One text; std::nullopt on a miss.
  Result<std::optional<std::vector<float>>> get(std::string_view text);

  /// Stores row i of `vectors` for texts[i] in every tier (disk first, then RAM), replacing any
  /// previous value. One RocksDB batch: all rows are durable together (see CacheDurability).
  /// `ttl_seconds` sets these entries' lifetime: kDefaultTtl = options().ttl_seconds, 0 = never
  /// expire, > 0 = that many seconds from now.
  /// Errors: kInvalidArgument (rows != texts.size(), dim mismatch, null data, non-finite value,
  /// ttl_seconds < -1), kIOError (RocksDB write failed; RAM is left unchanged).
  virtual Status put_many(Span<const std::string_view> texts, MatrixView vectors,
                          int64_t ttl_seconds) = 0;
  static constexpr int64_t kDefaultTtl = -1;
  Status put_many(Span<const std::string_view> texts, MatrixView vectors) {
    return put_many(texts, vectors, kDefaultTtl);
  }
  Status put(std::string_view text, Span<const float> vector, int64_t ttl_seconds = kDefaultTtl);

  /// Fills `out` (texts.size() x dim, caller-owned) with the embedding of every text: looks the
  /// distinct texts up in both tiers, calls `embed` on the distinct misses in chunks of at most
  /// `batch_size` texts, stores the results, and writes rows in input order. Texts another thread
  /// is computing right now are waited for, not recomputed. Errors: kInvalidArgument
  /// (batch_size < 1, embed empty, embed output wrong), whatever `embed` returned (also returned
  /// to concurrent callers waiting on those texts), or a storage error. On error `out` is
  /// unspecified and only correct vectors were cached.
  virtual Status get_or_compute(Span<const std::string_view> texts, const EmbedFn& embed,
                                int64_t batch_size, float* out) = 0;

  /// Makes every acknowledged write durable (fsyncs RocksDB's WAL). No-op for kRamOnly.
  virtual Status flush() = 0;

  virtual CacheStats stats() const = 0;
  /// Stats in the Prometheus text format (vecperf_cache_* metrics with # HELP and # TYPE).
  /// prometheus_text() (vecperf/metrics.h) exposes the same metrics for every live cache,
  /// labelled `cache`.
  virtual std::string stats_prometheus() const = 0;

  /// RAM bytes charged for one entry of `dim` values stored as `dtype`.
  static uint64_t ram_entry_bytes(int64_t dim, CacheDtype dtype);
};

}  // namespace vecperf
