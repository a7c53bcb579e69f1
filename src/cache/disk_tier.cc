// RocksDB-backed disk tier; see disk_tier.h for the column families and capacity bookkeeping.
#include "cache/disk_tier.h"

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <new>

namespace vecperf::internal {
namespace {

constexpr char kByAge[] = "by_age";
constexpr size_t kKeyBytes = 16;
constexpr size_t kAgeKeyBytes = 8 + kKeyBytes;

// Installed by ScopedDiskEnvForTesting; null means rocksdb::Env::Default().
std::atomic<rocksdb::Env*> g_test_env{nullptr};

void encode_key(const CacheKey& key, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((key.lo >> (8 * i)) & 0xff);
  for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<char>((key.hi >> (8 * i)) & 0xff);
}

CacheKey decode_key(const char* p) {
  CacheKey k;
  for (int i = 0; i < 8; ++i)
    k.lo |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  for (int i = 0; i < 8; ++i)
    k.hi |= static_cast<uint64_t>(static_cast<unsigned char>(p[8 + i])) << (8 * i);
  return k;
}

// Big-endian so that RocksDB's bytewise order is numeric order.
void encode_age_key(uint64_t seq, const CacheKey& key, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((seq >> (8 * (7 - i))) & 0xff);
  encode_key(key, out + 8);
}

uint64_t decode_seq(const char* p) {
  uint64_t seq = 0;
  for (int i = 0; i < 8; ++i) seq = (seq << 8) | static_cast<unsigned char>(p[i]);
  return seq;
}

// Drops records whose expiry has passed. It reads the expiry field without verifying the
// checksum (compaction rewrites every record; hashing each would cost more than the write), so
// a damaged expiry can only drop a record that would fail its checksum on read anyway. Anything
// of another format is kept: it may be newer, and a damaged one is repaired by the next put.
class TtlFilter : public rocksdb::CompactionFilter {
 public:
  explicit TtlFilter(std::function<int64_t()> clock) : clock_(std::move(clock)) {}
  bool Filter(int /*level*/, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    if (key.size() != kKeyBytes) return false;
    int64_t expires_at = 0;
    if (!peek_expiry(std::string_view(value.data(), value.size()), &expires_at)) return false;
    return expires_at != 0 && clock_() >= expires_at;
  }
  const char* Name() const override { return "vecperf.cache.TtlFilter"; }

 private:
  std::function<int64_t()> clock_;
};

}  // namespace

Status from_rocksdb(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(context) + ": " + s.ToString();
  // RocksDB reports a held LOCK file as an IOError: "While lock file: <dir>/LOCK: ..." (another
  // process) or "lock hold by current process ..." (this one).
  const std::string text = s.ToString();
  if (s.IsIOError() && (text.find("While lock file") != std::string::npos ||
                        text.find("lock hold by current process") != std::string::npos)) {
    return Status::Unavailable(std::string(context) +
                               ": the cache directory is locked by another process (or by another "
                               "open cache in this process): " +
                               text);
  }
  // After an unrecoverable write error RocksDB keeps failing every write (DiskTier docs).
  if (s.severity() >= rocksdb::Status::Severity::kFatalError) {
    msg +=
        " (the cache's disk stopped accepting writes after an unrecoverable I/O error; close "
        "the cache and open it again once the disk is healthy: acknowledged entries are safe)";
  }
  if (s.IsNoSpace()) {
    return Status::ResourceExhausted(msg +
                                     " (the disk is full: free some space; writes resume "
                                     "by themselves)");
  }
  if (s.IsMemoryLimit()) return Status::ResourceExhausted(std::move(msg));
  if (s.IsIOError()) return Status::IOError(std::move(msg));
  if (s.IsCorruption()) return Status::Corruption(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(std::move(msg));
  return Status::Internal(std::move(msg));
}

rocksdb::Options disk_rocksdb_options(uint64_t block_cache_bytes, uint64_t write_buffer_bytes,
                                      uint64_t row_cache_bytes) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.compression = rocksdb::kNoCompression;
  o.write_buffer_size = static_cast<size_t>(write_buffer_bytes);
  // Two background threads: flushes and compactions must keep up with bulk puts, and the
  // library must not take over a small machine.
  o.max_background_jobs = 2;
  rocksdb::BlockBasedTableOptions t;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(block_cache_bytes));
  // Every read is a point lookup of one whole record, which is what the row cache serves: a hit
  // costs one hash probe instead of the index, bloom filter and data-block binary search.
  if (row_cache_bytes > 0) o.row_cache = rocksdb::NewLRUCache(static_cast<size_t>(row_cache_bytes));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

Result<std::unique_ptr<DiskTier>> DiskTier::open(const DiskTierOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return Status::IOError("cannot create cache directory '" + options.path + "': " + ec.message());
  }
  std::unique_ptr<DiskTier> tier(new DiskTier());
  tier->options_ = options;
  rocksdb::Options db_options = disk_rocksdb_options(
      options.block_cache_bytes, options.write_buffer_bytes, options.row_cache_bytes);
  if (rocksdb::Env* env = options.env != nullptr ? options.env : g_test_env.load()) {
    db_options.env = env;
  }
  rocksdb::ColumnFamilyOptions records_options(db_options);
  // Always installed: any entry may carry its own TTL.
  tier->ttl_filter_ = std::make_unique<TtlFilter>(options.clock);
  records_options.compaction_filter = tier->ttl_filter_.get();
  rocksdb::ColumnFamilyOptions age_options(db_options);
  age_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory());
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, records_options}, {kByAge, age_options}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const std::string context = "opening cache directory '" + options.path + "'";
  rocksdb::Status s =
      rocksdb::DB::Open(rocksdb::DBOptions(db_options), options.path, families, &handles, &db);
  if (!s.ok()) return from_rocksdb(s, context);
  tier->db_.reset(db);
  tier->records_ = handles[0];
  tier->by_age_ = handles[1];

  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), tier->by_age_));
  it->SeekToLast();
  if (it->Valid() && it->key().size() == kAgeKeyBytes) {
    tier->next_seq_ = decode_seq(it->key().data()) + 1;
  }
  if (options.max_entries > 0) {
    bool first = true;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (first) tier->evict_floor_ = decode_seq(it->key().data());
      first = false;
      ++tier->count_;
    }
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), context);
  return tier;
}

ScopedDiskEnvForTesting::ScopedDiskEnvForTesting(rocksdb::Env* env)
    : previous_(g_test_env.exchange(env)) {}

ScopedDiskEnvForTesting::~ScopedDiskEnvForTesting() { g_test_env.store(previous_); }

rocksdb::Status DiskTier::resume_if_failed() {
  if (!write_failed_.load(std::memory_order_relaxed)) return rocksdb::Status::OK();
  // Resume() is a no-op without a background error, so a race with another writer that has
  // already resumed is harmless.
  rocksdb::Status s = db_->Resume();
  if (s.ok()) write_failed_.store(false, std::memory_order_relaxed);
  return s;
}

Status DiskTier::record_write(const rocksdb::Status& status, std::string_view context) {
  if (!status.ok()) write_failed_.store(true, std::memory_order_relaxed);
  return from_rocksdb(status, context);
}

DiskTier::~DiskTier() {
  if (!db_) return;
  // Close errors cannot be reported from a destructor; the WAL already holds every write.
  if (records_) db_->DestroyColumnFamilyHandle(records_).PermitUncheckedError();
  if (by_age_) db_->DestroyColumnFamilyHandle(by_age_).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
}

Status DiskTier::multi_get(std::span<const CacheKey> keys,
                           const std::function<void(size_t, std::string_view)>& on_value) {
  const size_t n = keys.size();
  if (n == 0) return Status::OK();
  std::vector<char> key_bytes(n * kKeyBytes);
  std::vector<rocksdb::Slice> slices(n);
  for (size_t i = 0; i < n; ++i) {
    encode_key(keys[i], key_bytes.data() + i * kKeyBytes);
    slices[i] = rocksdb::Slice(key_bytes.data() + i * kKeyBytes, kKeyBytes);
  }
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  db_->MultiGet(rocksdb::ReadOptions(), records_, n, slices.data(), values.data(), statuses.data());
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return from_rocksdb(statuses[i], "reading the cache");
    on_value(i, std::string_view(values[i].data(), values[i].size()));
  }
  return Status::OK();
}

namespace {

// One WriteBatch per thread, cleared and reused: a batch of 100 embeddings is ~300 KiB, which
// malloc would map and unmap (and page-fault in) on every call. Batches grown past 4 MiB are
// released so that a single huge put_many does not pin memory.
class BatchLease {
 public:
  BatchLease() { batch().Clear(); }
  ~BatchLease() {
    if (batch().GetDataSize() > (size_t{4} << 20)) batch() = rocksdb::WriteBatch();
  }
  BatchLease(const BatchLease&) = delete;
  BatchLease& operator=(const BatchLease&) = delete;
  rocksdb::WriteBatch& batch() {
    thread_local rocksdb::WriteBatch b;
    return b;
  }
};

// Adds one record as two pieces (header, vector), so the vector is copied once, into the batch.
rocksdb::Status put_record(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
                           const DiskWrite& w) {
  char key[kKeyBytes];
  encode_key(w.key, key);
  char header[kRecordHeaderBytes];
  encode_record_header(w.header, w.vector, w.vector_bytes, header);
  const rocksdb::Slice key_slice(key, kKeyBytes);
  const rocksdb::Slice value_parts[2] = {
      rocksdb::Slice(header, kRecordHeaderBytes),
      rocksdb::Slice(static_cast<const char*>(w.vector), w.vector_bytes)};
  return batch->Put(cf, rocksdb::SliceParts(&key_slice, 1), rocksdb::SliceParts(value_parts, 2));
}

// Every batch reaches RocksDB through these two calls, which do nothing but call DB::Write.
// RocksDB's write-group leader appends concurrent writers' batches to a shared one and hands
// them back through atomics in librocksdb, which Debian does not build with ThreadSanitizer; TSan
// sees the copies but not the hand-over. It names a stack by the caller of the innermost
// instrumented function, so the second hop makes such reports name submit_to_write_group, and
// tests/cache/tsan_suppressions.cc suppresses exactly those (not the rest of DiskTier::write).
[[gnu::noinline]] rocksdb::Status db_write(rocksdb::DB* db, const rocksdb::WriteOptions& wo,
                                           rocksdb::WriteBatch* batch) {
  return db->Write(wo, batch);
}
[[gnu::noinline]] rocksdb::Status submit_to_write_group(rocksdb::DB* db,
                                                        const rocksdb::WriteOptions& wo,
                                                        rocksdb::WriteBatch* batch) {
  return db_write(db, wo, batch);
}

}  // namespace

Status DiskTier::write(std::span<DiskWrite> writes) {
  std::shared_lock sync_lock(sync_mu_);
  // On failure the write below reports RocksDB's background error, with its cause.
  resume_if_failed().PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  BatchLease lease;
  rocksdb::WriteBatch& batch = lease.batch();
  if (options_.max_entries == 0) {
    for (const DiskWrite& w : writes) {
      VECPERF_RETURN_IF_ERROR(
          from_rocksdb(put_record(&batch, records_, w), "batching cache writes"));
    }
    return record_write(submit_to_write_group(db_.get(), wo, &batch), "writing the cache");
  }

  std::lock_guard<std::mutex> lock(capacity_mu_);
  // Old sequence numbers of keys being replaced, so their age entries go too.
  std::vector<CacheKey> keys(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) keys[i] = writes[i].key;
  std::vector<uint64_t> old_seq(writes.size(), 0);
  VECPERF_RETURN_IF_ERROR(multi_get(keys, [&](size_t i, std::string_view value) {
    RecordHeader h;
    std::string_view vec;
    if (decode_record(value, &h, &vec)) old_seq[i] = h.seq;
  }));
  char age_key[kAgeKeyBytes];
  uint64_t added = 0, removed = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    DiskWrite& w = writes[i];
    if (old_seq[i] != 0) {
      encode_age_key(old_seq[i], w.key, age_key);
      batch.Delete(by_age_, rocksdb::Slice(age_key, kAgeKeyBytes));
      ++removed;
    }
    w.header.seq = next_seq_++;
    VECPERF_RETURN_IF_ERROR(from_rocksdb(put_record(&batch, records_, w), "batching cache writes"));
    encode_age_key(w.header.seq, w.key, age_key);
    batch.Put(by_age_, rocksdb::Slice(age_key, kAgeKeyBytes), rocksdb::Slice());
    ++added;
    // A key twice in one batch: the later write replaces the earlier one's age entry.
    for (size_t j = i + 1; j < writes.size(); ++j) {
      if (writes[j].key == w.key) {
        old_seq[j] = w.header.seq;
        break;
      }
    }
  }
  VECPERF_RETURN_IF_ERROR(
      record_write(submit_to_write_group(db_.get(), wo, &batch), "writing the cache"));
  count_ = count_ + added - removed;
  return evict_locked(wo);
}

Status DiskTier::evict_locked(rocksdb::WriteOptions& wo) {
  if (count_ <= options_.max_entries) return Status::OK();
  rocksdb::WriteBatch batch;
  char lower[8];
  for (int i = 0; i < 8; ++i) lower[i] = static_cast<char>((evict_floor_ >> (8 * (7 - i))) & 0xff);
  // Starting at the floor skips the tombstones of earlier evictions (a FIFO queue's classic
  // slow scan over deleted keys).
  rocksdb::Slice lower_bound(lower, 8);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, by_age_));
  uint64_t evicted = 0;
  std::vector<CacheKey> victims;
  std::vector<uint64_t> victim_seq;
  for (it->SeekToFirst(); it->Valid() && count_ - evicted > options_.max_entries; it->Next()) {
    if (it->key().size() != kAgeKeyBytes) continue;
    victim_seq.push_back(decode_seq(it->key().data()));
    victims.push_back(decode_key(it->key().data() + 8));
    batch.Delete(by_age_, it->key());
    ++evicted;
  }
  VECPERF_RETURN_IF_ERROR(from_rocksdb(it->status(), "scanning the cache for eviction"));
  // Delete a record only if it is still the version this age entry stands for.
  std::vector<uint8_t> current(victims.size(), 0);
  VECPERF_RETURN_IF_ERROR(multi_get(victims, [&](size_t i, std::string_view value) {
    RecordHeader h;
    std::string_view vec;
    current[i] = decode_record(value, &h, &vec) && h.seq == victim_seq[i];
  }));
  char key[kKeyBytes];
  for (size_t i = 0; i < victims.size(); ++i) {
    if (!current[i]) continue;
    encode_key(victims[i], key);
    batch.Delete(records_, rocksdb::Slice(key, kKeyBytes));
  }
  VECPERF_RETURN_IF_ERROR(
      record_write(submit_to_write_group(db_.get(), wo, &batch), "evicting from the cache"));
  count_ -= evicted;
  if (!victim_seq.empty()) evict_floor_ = victim_seq.back() + 1;
  evictions_.fetch_add(evicted, std::memory_order_relaxed);
  return Status::OK();
}

Status DiskTier::write_raw(const CacheKey& key, std::string_view value) {
  char k[kKeyBytes];
  encode_key(key, k);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  std::shared_lock sync_lock(sync_mu_);
  resume_if_failed().PermitUncheckedError();
  return record_write(db_->Put(wo, records_, rocksdb::Slice(k, kKeyBytes),
                               rocksdb::Slice(value.data(), value.size())),
                      "writing the cache");
}

// RocksDB 7.8 (as Debian builds it, with assertions) aborts the process in SyncWAL() once a
// write to the current WAL has failed (WritableFileWriter::AssertFalseAndGetStatusForPrevError).
// So after a failure the WAL is synced only if Resume() has replaced it, and the exclusive lock
// makes sure no write is failing meanwhile.
Status DiskTier::flush() {
  std::unique_lock sync_lock(sync_mu_);
  if (rocksdb::Status r = resume_if_failed(); !r.ok())
    return from_rocksdb(r, "syncing the cache WAL after a failed write");
  return record_write(db_->SyncWAL(), "syncing the cache WAL");
}

Status DiskTier::compact() {
  std::unique_lock sync_lock(sync_mu_);
  if (rocksdb::Status r = resume_if_failed(); !r.ok())
    return from_rocksdb(r, "compacting the cache after a failed write");
  VECPERF_RETURN_IF_ERROR(
      record_write(db_->Flush(rocksdb::FlushOptions(), records_), "flushing the cache"));
  return from_rocksdb(db_->CompactRange(rocksdb::CompactRangeOptions(), records_, nullptr, nullptr),
                      "compacting the cache");
}

uint64_t DiskTier::bytes() const {
  uint64_t sst = 0, mem = 0;
  db_->GetIntProperty(records_, "rocksdb.total-sst-files-size", &sst);
  db_->GetIntProperty(records_, "rocksdb.cur-size-all-mem-tables", &mem);
  return sst + mem;
}

uint64_t DiskTier::entries() const {
  uint64_t n = 0;
  db_->GetIntProperty(records_, "rocksdb.estimate-num-keys", &n);
  return n;
}

}  // namespace vecperf::internal
