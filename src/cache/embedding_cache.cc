// EmbeddingCache over its two tiers: open, get_many, put_many, flush, and the row codec.
//
// Lookup: hash every text (cache_key.h), probe the RAM LRU, send all RAM misses to RocksDB in one
// MultiGet, check each disk record (checksum, model hash, dim, expiry) and promote hits to RAM.
// Store: disk first (one WriteBatch), then RAM, so RAM never holds a value the disk refused.
// Rows are float32 to callers and dtype_ (float32 or float16) in both tiers; a disk record of the
// other dtype is decoded by its own header's dtype. get_or_compute builds on lookup and store
// (get_or_compute.cc).
#include <chrono>
#include <cstring>

#include "cache/embedding_cache_impl.h"
#include "cache/float16.h"
#include "cache/record.h"
#include "common/guarded.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace internal {
namespace {

int64_t system_clock_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

EmbeddingCacheImpl::EmbeddingCacheImpl(const CacheOptions& options, CacheTiering tiering)
    : options_(options),
      hasher_(options.model, options.model_version, options.dim),
      dim_(static_cast<size_t>(options.dim)),
      dtype_(static_cast<uint8_t>(options.dtype)),
      row_bytes_(dim_ * dtype_bytes(dtype_)),
      tiering_(tiering) {
  options_.tiering = tiering;
  if (!options_.clock) options_.clock = system_clock_seconds;
  if (tiering != CacheTiering::kDiskOnly) {
    ram_ = std::make_unique<LruCache>(options.ram_budget_bytes, options.ram_shards);
  }
}

Status EmbeddingCacheImpl::open_disk() {
  if (tiering_ == CacheTiering::kRamOnly) return Status::OK();
  DiskTierOptions d;
  d.path = options_.path;
  d.block_cache_bytes = options_.disk_block_cache_bytes;
  d.row_cache_bytes = options_.disk_row_cache_bytes;
  d.write_buffer_bytes = options_.disk_write_buffer_bytes;
  d.sync = options_.durability == CacheDurability::kSyncEachWrite;
  d.max_entries = options_.disk_max_entries;
  d.clock = options_.clock;
  Result<std::unique_ptr<DiskTier>> disk = DiskTier::open(d);
  if (!disk.ok()) return disk.status();
  disk_ = std::move(disk).value();
  return Status::OK();
}

Status EmbeddingCacheImpl::get_many(Span<const std::string_view> texts, float* out,
                                    uint8_t* found) {
  if (!texts.empty() && (out == nullptr || found == nullptr)) {
    return Status::InvalidArgument("get_many: out and found must not be null");
  }
  const uint64_t start = metrics_now_ns();
  Status s = guarded("looking up texts in the embedding cache", [&] {
    std::vector<CacheKey> keys(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) keys[i] = hasher_(texts[i]);
    return lookup(keys, out, {}, found, /*count=*/true);
  });
  get_latency_.record(metrics_now_ns() - start);
  return s;
}

Status EmbeddingCacheImpl::put_many(Span<const std::string_view> texts, MatrixView vectors,
                                    int64_t ttl_seconds) {
  if (ttl_seconds < kDefaultTtl) {
    return Status::InvalidArgument("put_many: ttl_seconds must be >= -1");
  }
  if (vectors.rows != static_cast<int64_t>(texts.size())) {
    return Status::InvalidArgument("put_many: " + std::to_string(vectors.rows) + " vectors for " +
                                   std::to_string(texts.size()) + " texts");
  }
  if (vectors.dim != options_.dim) {
    return Status::InvalidArgument("put_many: vectors have dim " + std::to_string(vectors.dim) +
                                   ", the cache has dim " + std::to_string(options_.dim));
  }
  if (texts.empty()) return Status::OK();
  if (vectors.data == nullptr) return Status::InvalidArgument("put_many: null vector data");
  if (!all_finite(vectors.data, texts.size() * dim_)) {
    return Status::InvalidArgument("put_many: vectors contain NaN or infinity");
  }
  const uint64_t start = metrics_now_ns();
  Status s = guarded("storing vectors in the embedding cache", [&] {
    std::vector<CacheKey> keys(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) keys[i] = hasher_(texts[i]);
    return store(keys, vectors.data, ttl_seconds);
  });
  put_latency_.record(metrics_now_ns() - start);
  return s;
}

Status EmbeddingCacheImpl::flush() {
  if (!disk_) return Status::OK();
  return guarded("flushing the embedding cache", [&] { return disk_->flush(); });
}

int64_t EmbeddingCacheImpl::expiry_for_new_entry(int64_t now, int64_t ttl_seconds) const {
  if (ttl_seconds == kDefaultTtl) ttl_seconds = options_.ttl_seconds;
  return ttl_seconds > 0 ? now + ttl_seconds : 0;
}

void EmbeddingCacheImpl::encode_row(const float* in, std::byte* out) const {
  if (dtype_ == static_cast<uint8_t>(CacheDtype::kFloat32)) {
    std::memcpy(out, in, row_bytes_);
    return;
  }
  for (size_t j = 0; j < dim_; ++j) {
    const uint16_t h = float_to_half(in[j]);
    std::memcpy(out + 2 * j, &h, 2);
  }
}

void EmbeddingCacheImpl::decode_row(const std::byte* in, uint8_t dtype, float* out) const {
  if (dtype == static_cast<uint8_t>(CacheDtype::kFloat32)) {
    std::memcpy(out, in, dim_ * sizeof(float));
    return;
  }
  for (size_t j = 0; j < dim_; ++j) {
    uint16_t h;
    std::memcpy(&h, in + 2 * j, 2);
    out[j] = half_to_float(h);
  }
}

Status EmbeddingCacheImpl::lookup(std::span<const CacheKey> keys, float* out,
                                  std::span<const size_t> rows, uint8_t* found, bool count) {
  const size_t n = keys.size();
  auto row = [&](size_t i) { return out + (rows.empty() ? i : rows[i]) * dim_; };
  const int64_t now = options_.clock();
  std::vector<size_t> misses;
  uint64_t ram_hits = 0;
  for (size_t i = 0; i < n; ++i) {
    found[i] = 0;
    if (ram_ &&
        ram_->get(keys[i], now,
                  [&](const std::byte* data, size_t size) {
                    if (size == row_bytes_) {
                      decode_row(data, dtype_, row(i));
                      found[i] = 1;
                    }
                  }) &&
        found[i]) {
      ++ram_hits;
      continue;
    }
    misses.push_back(i);
  }
  uint64_t disk_hits = 0, corrupt = 0;
  if (disk_ && !misses.empty()) {
    std::vector<CacheKey> miss_keys(misses.size());
    for (size_t m = 0; m < misses.size(); ++m) miss_keys[m] = keys[misses[m]];
    std::vector<std::byte> promoted;  // sized only if a record's dtype differs from the cache's
    VECPERF_RETURN_IF_ERROR(disk_->multi_get(miss_keys, [&](size_t m, std::string_view value) {
      RecordHeader h;
      std::string_view vec;
      if (!decode_record(value, &h, &vec) || h.model_hash != hasher_.model_hash() ||
          h.dim != dim_) {
        ++corrupt;
        return;
      }
      if (h.expires_at != 0 && now >= h.expires_at) return;
      const size_t i = misses[m];
      decode_row(reinterpret_cast<const std::byte*>(vec.data()), h.dtype, row(i));
      found[i] = 1;
      ++disk_hits;
      if (ram_) {
        if (h.dtype == dtype_) {
          ram_->put(keys[i], vec.data(), vec.size(), h.expires_at);
        } else {
          promoted.resize(row_bytes_);
          encode_row(row(i), promoted.data());
          ram_->put(keys[i], promoted.data(), promoted.size(), h.expires_at);
        }
      }
    }));
  }
  if (count) {
    lookups_.fetch_add(n, std::memory_order_relaxed);
    if (ram_) {
      ram_hits_.fetch_add(ram_hits, std::memory_order_relaxed);
      ram_misses_.fetch_add(n - ram_hits, std::memory_order_relaxed);
    }
    if (disk_) {
      disk_hits_.fetch_add(disk_hits, std::memory_order_relaxed);
      disk_misses_.fetch_add(misses.size() - disk_hits, std::memory_order_relaxed);
    }
  }
  if (corrupt) corrupt_.fetch_add(corrupt, std::memory_order_relaxed);
  return Status::OK();
}

Status EmbeddingCacheImpl::store(std::span<const CacheKey> keys, const float* rows,
                                 int64_t ttl_seconds) {
  const size_t n = keys.size();
  // float32 rows are stored as they are; only float16 needs converted bytes.
  const bool as_is = dtype_ == static_cast<uint8_t>(CacheDtype::kFloat32);
  std::vector<std::byte> converted;
  if (!as_is) {
    converted.resize(n * row_bytes_);
    for (size_t i = 0; i < n; ++i) encode_row(rows + i * dim_, converted.data() + i * row_bytes_);
  }
  auto stored = [&](size_t i) -> const void* {
    return as_is ? static_cast<const void*>(rows + i * dim_)
                 : static_cast<const void*>(converted.data() + i * row_bytes_);
  };
  const int64_t now = options_.clock();
  const int64_t expires = expiry_for_new_entry(now, ttl_seconds);
  if (disk_) {
    std::vector<DiskWrite> writes(n);
    for (size_t i = 0; i < n; ++i) {
      DiskWrite& w = writes[i];
      w.key = keys[i];
      w.header.dtype = dtype_;
      w.header.dim = static_cast<uint32_t>(dim_);
      w.header.model_hash = hasher_.model_hash();
      w.header.created_at = now;
      w.header.expires_at = expires;
      w.vector = stored(i);
      w.vector_bytes = row_bytes_;
    }
    VECPERF_RETURN_IF_ERROR(disk_->write(writes));
  }
  if (ram_) {
    for (size_t i = 0; i < n; ++i) {
      ram_->put(keys[i], stored(i), row_bytes_, expires);
    }
  }
  return Status::OK();
}

DiskTier* disk_tier_for_testing(EmbeddingCache* cache) {
  return static_cast<EmbeddingCacheImpl*>(cache)->disk_for_testing();
}

}  // namespace internal

Result<std::unique_ptr<EmbeddingCache>> EmbeddingCache::open(const CacheOptions& options) {
  VECPERF_RETURN_IF_ERROR(options.validate());
  CacheTiering tiering = options.tiering;
  if (tiering == CacheTiering::kAuto) {
    tiering = options.path.empty() ? CacheTiering::kRamOnly : CacheTiering::kRamOverDisk;
  }
  std::unique_ptr<internal::EmbeddingCacheImpl> cache;
  Status s = internal::guarded("opening the embedding cache", [&] {
    cache = std::make_unique<internal::EmbeddingCacheImpl>(options, tiering);
    VECPERF_RETURN_IF_ERROR(cache->open_disk());
    cache->register_metrics();
    return Status::OK();
  });
  if (!s.ok()) return s;
  return std::unique_ptr<EmbeddingCache>(std::move(cache));
}

Result<std::vector<std::optional<std::vector<float>>>> EmbeddingCache::get_many(
    Span<const std::string_view> texts) {
  const size_t n = texts.size();
  const auto d = static_cast<size_t>(dim());
  std::vector<float> rows;
  std::vector<uint8_t> found;
  Status s = internal::guarded("looking up texts in the embedding cache", [&] {
    rows.resize(n * d);
    found.resize(n);
    return get_many(texts, rows.data(), found.data());
  });
  if (!s.ok()) return s;
  std::vector<std::optional<std::vector<float>>> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (found[i]) out[i].emplace(rows.begin() + i * d, rows.begin() + (i + 1) * d);
  }
  return out;
}

Result<std::optional<std::vector<float>>> EmbeddingCache::get(std::string_view text) {
  Result<std::vector<std::optional<std::vector<float>>>> r = get_many(std::span(&text, 1));
  if (!r.ok()) return r.status();
  return std::move((*r)[0]);
}

Status EmbeddingCache::put(std::string_view text, Span<const float> vector, int64_t ttl_seconds) {
  return put_many(std::span(&text, 1),
                  MatrixView{vector.data(), 1, static_cast<int64_t>(vector.size())}, ttl_seconds);
}

uint64_t EmbeddingCache::ram_entry_bytes(int64_t dim, CacheDtype dtype) {
  return internal::LruCache::charge(static_cast<size_t>(dim) *
                                    internal::dtype_bytes(static_cast<uint8_t>(dtype)));
}

}  // namespace vecperf
