// Disk tier of the embedding cache: RocksDB holding one record (record.h) per 16-byte key.
//
// Two column families:
//  - "default": key (16 bytes: lo then hi, little-endian) -> record. Point lookups go through
//    bloom filters (10 bits/key) and a block cache; values are not compressed (float bits do not
//    compress and it costs CPU on every hit). A compaction filter drops records whose expires-at
//    has passed, so expired data does not linger on disk.
//  - "by_age": only with a capacity bound: big-endian sequence number + key -> "" (so iteration
//    order = write order). A write reads the old record (bloom-filtered) to drop its old age
//    entry, and when the count exceeds the bound the oldest age entries and their records are
//    deleted in the same kind of batch. The count is recovered at open by scanning "by_age".
//    Capacity writes are serialised by a mutex; other writes go straight to RocksDB, whose write
//    thread group-commits concurrent batches.
#pragma once

#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/record.h"
#include "vecperf/cache.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
}  // namespace rocksdb

namespace vecperf::internal {

/// The RocksDB options the disk tier uses (also used by the benchmark's raw-RocksDB baseline):
/// bloom filter 10 bits/key, LRU block cache of `block_cache_bytes`, an LRU row cache of
/// `row_cache_bytes` (none when 0), no compression, WAL on.
rocksdb::Options disk_rocksdb_options(uint64_t block_cache_bytes, uint64_t write_buffer_bytes,
                                      uint64_t row_cache_bytes);

/// RocksDB status -> vecperf Status ("lock" errors -> kUnavailable), prefixed with `context`.
Status from_rocksdb(const rocksdb::Status& status, std::string_view context);

struct DiskTierOptions {
  std::string path;
  uint64_t block_cache_bytes = 0;
  uint64_t row_cache_bytes = 0;
  uint64_t write_buffer_bytes = 0;
  bool sync = false;
  uint64_t max_entries = 0;  // 0 = unbounded
  std::function<int64_t()> clock;
  /// RocksDB environment (and so file system) of the tier; it must outlive the tier. Null: the
  /// one a ScopedDiskEnvForTesting installed, else rocksdb::Env::Default(). Tests pass an Env
  /// over a failing rocksdb::FileSystemWrapper (rocksdb::NewCompositeEnv).
  rocksdb::Env* env = nullptr;
};

/// Makes tiers opened while it lives with DiskTierOptions::env == null use `env`: the way a test
/// gets a failing disk under EmbeddingCache::open, which has no Env option. Tests only.
/// Requires: no tier is being opened when it is created or destroyed; `env` outlives every
/// tier opened with it.
class ScopedDiskEnvForTesting {
 public:
  explicit ScopedDiskEnvForTesting(rocksdb::Env* env);
  ~ScopedDiskEnvForTesting();
  ScopedDiskEnvForTesting(const ScopedDiskEnvForTesting&) = delete;
  ScopedDiskEnvForTesting& operator=(const ScopedDiskEnvForTesting&) = delete;

 private:
  rocksdb::Env* previous_;
};

/// One record to write: the tier fills in the sequence number and encodes it.
struct DiskWrite {
  CacheKey key;
  RecordHeader header;
  const void* vector = nullptr;
  size_t vector_bytes = 0;
};

/// Write failures: RocksDB stops accepting writes after a failed WAL or SST write (its
/// "background error") while reads go on. The next write calls DB::Resume(), which clears the
/// error once its cause is gone: a full disk (kResourceExhausted while it lasts) or an error
/// the file system marked retryable. After any other I/O error RocksDB 7.8 refuses to resume
/// (kIOError, the message says so): the tier has to be reopened. Writes acknowledged before the
/// failure are never lost: RocksDB starts a fresh WAL when it resumes or reopens.
///
/// Thread-safety: all methods may be called concurrently.
class DiskTier {
 public:
  static Result<std::unique_ptr<DiskTier>> open(const DiskTierOptions& options);
  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  /// Batched point lookup: calls on_value(i, raw record bytes) for each found keys[i]; the bytes
  /// are valid only during the call.
  Status multi_get(std::span<const CacheKey> keys,
                   const std::function<void(size_t, std::string_view)>& on_value);

  /// Writes all records in one atomic batch (plus capacity bookkeeping and eviction).
  Status write(std::span<DiskWrite> writes);

  /// Stores raw bytes under a key, bypassing encoding and bookkeeping (tests use it to plant
  /// corrupt or foreign records).
  Status write_raw(const CacheKey& key, std::string_view value);

  /// Fsyncs the WAL. Errors: as write(); after a failed write that RocksDB could not resume
  /// from, that failure.
  Status flush();
  /// Runs a full compaction of the records (tests use it to check TTL dropping).
  Status compact();

  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  uint64_t bytes() const;
  uint64_t entries() const;

 private:
  DiskTier() = default;
  Status evict_locked(rocksdb::WriteOptions& wo);
  /// OK when writes may proceed: no write has failed, or DB::Resume() has just cleared RocksDB's
  /// background error. Otherwise Resume()'s status.
  rocksdb::Status resume_if_failed();
  /// Converts the result of a write, remembering a failure for resume_if_failed().
  Status record_write(const rocksdb::Status& status, std::string_view context);

  DiskTierOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
  rocksdb::ColumnFamilyHandle* by_age_ = nullptr;
  std::unique_ptr<rocksdb::CompactionFilter> ttl_filter_;
  std::mutex capacity_mu_;
  uint64_t count_ = 0;        // age entries; guarded by capacity_mu_
  uint64_t next_seq_ = 1;     // guarded by capacity_mu_
  uint64_t evict_floor_ = 0;  // every age entry below this seq is deleted; guarded by capacity_mu_
  std::atomic<uint64_t> evictions_{0};
  std::atomic<bool> write_failed_{false};  // a write failed and no Resume() has succeeded since
  // Writes hold it shared; flush() and compact() exclusively, so that they see every failure
  // (write_failed_) of the writes before them: see flush().
  std::shared_mutex sync_mu_;
};

/// The disk tier of a cache opened by EmbeddingCache::open, or null without one (tests use it to
/// plant records and force compactions).
DiskTier* disk_tier_for_testing(EmbeddingCache* cache);

}  // namespace vecperf::internal
