// EmbeddingCache: the two tiers behind one batched API, plus single-flight computation.
//
// Lookup: hash every text (cache_key.h), probe the RAM LRU, send all RAM misses to RocksDB in one
// MultiGet, check each disk record (checksum, model hash, dim, expiry) and promote hits to RAM.
// Store: disk first (one WriteBatch), then RAM, so RAM never holds a value the disk refused.
//
// Single-flight: a map from key to an in-flight computation, under one mutex held only to look
// up, insert or erase. A caller that misses registers as the owner of keys nobody is computing
// and waits on the others. Because an owner stores its results in the tiers *before* erasing its
// flights, a caller that found no flight re-probes the tiers after registering: the value is
// either there or still being computed, so each distinct text reaches the model once. An owner
// completes every flight it registered on every path (error, bad output, exception) before it
// waits on anyone else, so there is no hang and no wait cycle.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <new>
#include <unordered_map>

#include "cache/cache_key.h"
#include "cache/disk_tier.h"
#include "cache/float16.h"
#include "cache/lru_cache.h"
#include "cache/record.h"
#include "metrics/exposition.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace internal {
namespace {

int64_t system_clock_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A float is infinite or NaN exactly when its exponent bits are all ones; adding one to the
// exponent then carries into the sign bit. Branch-free and OR-reduced so that the compiler
// vectorises it: the early-exit std::isfinite loop it replaces ran one float at a time and was
// all of put_many's own time in a profile of disk puts (a few percent of the put).
bool all_finite(const float* v, size_t n) {
  uint32_t overflow = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, sizeof(bits));
    overflow |= (bits & 0x7f800000u) + 0x00800000u;
  }
  return (overflow & 0x80000000u) == 0;
}

// Turns exceptions from the standard library (allocation) or a caller's embed function into a
// Status, so nothing escapes the API.
template <typename Fn>
Status guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory in the embedding cache");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("embedding cache: unexpected exception: ") + e.what());
  } catch (...) {
    return Status::Internal("embedding cache: unexpected non-standard exception");
  }
}

CacheLatency to_latency(const HistogramSummary& s) {
  CacheLatency l;
  l.count = s.count;
  l.p50_us = s.p50 / 1e3;
  l.p95_us = s.p95 / 1e3;
  l.p99_us = s.p99 / 1e3;
  l.p999_us = s.p999 / 1e3;
  return l;
}

struct Flight {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  std::vector<float> value;
};

class EmbeddingCacheImpl final : public EmbeddingCache {
 public:
  EmbeddingCacheImpl(const CacheOptions& options, CacheTiering tiering)
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

  Status open_disk() {
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

  int64_t dim() const override { return options_.dim; }
  const CacheOptions& options() const override { return options_; }
  CacheKey key(std::string_view text) const override { return hasher_(text); }
  DiskTier* disk_for_testing() { return disk_.get(); }

  Status get_many(Span<const std::string_view> texts, float* out, uint8_t* found) override {
    if (!texts.empty() && (out == nullptr || found == nullptr)) {
      return Status::InvalidArgument("get_many: out and found must not be null");
    }
    const uint64_t start = metrics_now_ns();
    Status s = guarded([&] {
      std::vector<CacheKey> keys(texts.size());
      for (size_t i = 0; i < texts.size(); ++i) keys[i] = hasher_(texts[i]);
      return lookup(keys, out, {}, found, /*count=*/true);
    });
    get_latency_.record(metrics_now_ns() - start);
    return s;
  }

  Status put_many(Span<const std::string_view> texts, MatrixView vectors,
                  int64_t ttl_seconds) override {
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
    Status s = guarded([&] {
      std::vector<CacheKey> keys(texts.size());
      for (size_t i = 0; i < texts.size(); ++i) keys[i] = hasher_(texts[i]);
      return store(keys, vectors.data, ttl_seconds);
    });
    put_latency_.record(metrics_now_ns() - start);
    return s;
  }

  Status get_or_compute(Span<const std::string_view> texts, const EmbedFn& embed,
                        int64_t batch_size, float* out) override {
    if (batch_size < 1) return Status::InvalidArgument("get_or_compute: batch_size must be >= 1");
    if (!embed) return Status::InvalidArgument("get_or_compute: embed function is empty");
    if (texts.empty()) return Status::OK();
    if (out == nullptr) return Status::InvalidArgument("get_or_compute: out must not be null");
    std::vector<std::shared_ptr<Flight>> owned;
    size_t completed = 0;  // owned[0, completed) have been completed
    Status s = guarded([&] {
      return compute(texts, embed, static_cast<size_t>(batch_size), out, &owned, &completed);
    });
    // After an exception some flights may still be open: fail them so that waiters wake up.
    if (completed < owned.size()) {
      Status reason = s.ok() ? Status::Internal("get_or_compute: computation abandoned") : s;
      fail_flights(std::span(owned).subspan(completed), reason);
    }
    return s;
  }

  Status flush() override {
    if (!disk_) return Status::OK();
    return guarded([&] { return disk_->flush(); });
  }

  CacheStats stats() const override {
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
    s.hit_rate = s.lookups == 0 ? 0.0
                                : static_cast<double>(s.ram.hits + s.disk.hits) /
                                      static_cast<double>(s.lookups);
    s.computed = computed_.load(std::memory_order_relaxed);
    s.corrupt_records = corrupt_.load(std::memory_order_relaxed);
    s.get_latency = to_latency(get_latency_.summary());
    s.put_latency = to_latency(put_latency_.summary());
    return s;
  }

  std::string stats_prometheus() const override {
    Exposition out;
    write_metrics(out, "");
    return out.text();
  }

  // Appends this cache's metrics to `out` with `labels` (formatted, may be empty) on every
  // sample. Shared by stats_prometheus() and the process-wide registry (prometheus_text()).
  void write_metrics(Exposition& out, std::string_view labels) const {
    using Type = Exposition::Type;
    const CacheStats s = stats();
    const std::string ram_labels = join_labels(labels, format_labels({{"tier", "ram"}}));
    const std::string disk_labels = join_labels(labels, format_labels({{"tier", "disk"}}));
    auto tiered = [&](const char* name, Type type, const char* help, uint64_t ram,
                      uint64_t disk) {
      out.family(name, type, help);
      if (ram_) out.sample(name, type, help, ram_labels, std::to_string(ram));
      if (disk_) out.sample(name, type, help, disk_labels, std::to_string(disk));
    };
    tiered("vecperf_cache_hits_total", Type::kCounter, "Lookups answered by the tier.",
           s.ram.hits, s.disk.hits);
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
    out.sample("vecperf_cache_hit_rate", Type::kGauge,
               "Fraction of lookups answered by some tier.", labels, rate);
    out.counter("vecperf_cache_computed_total", "Texts passed to embed functions.", labels,
                s.computed);
    out.counter("vecperf_cache_corrupt_records_total",
                "Disk records rejected by their integrity checks.", labels, s.corrupt_records);
    out.histogram_ns("vecperf_cache_get_latency_seconds", "Latency of get and get_many calls.",
                     labels, get_latency_);
    out.histogram_ns("vecperf_cache_put_latency_seconds", "Latency of put and put_many calls.",
                     labels, put_latency_);
  }

  // Joins the process-wide registry; called once the cache is fully open, so that a scrape
  // never sees a half-constructed one.
  void register_metrics() {
    registration_ = std::make_unique<CacheRegistration>(
        this, [this](Exposition& out, std::string_view labels) { write_metrics(out, labels); });
  }

 private:
  int64_t expiry_for_new_entry(int64_t now, int64_t ttl_seconds) const {
    if (ttl_seconds == kDefaultTtl) ttl_seconds = options_.ttl_seconds;
    return ttl_seconds > 0 ? now + ttl_seconds : 0;
  }

  // Storage bytes (row_bytes_) of one float32 row.
  void encode_row(const float* in, std::byte* out) const {
    if (dtype_ == static_cast<uint8_t>(CacheDtype::kFloat32)) {
      std::memcpy(out, in, row_bytes_);
      return;
    }
    for (size_t j = 0; j < dim_; ++j) {
      const uint16_t h = float_to_half(in[j]);
      std::memcpy(out + 2 * j, &h, 2);
    }
  }

  void decode_row(const std::byte* in, uint8_t dtype, float* out) const {
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

  // Probes RAM then disk for every key; see the file comment. A found key i is written to row
  // rows[i] of `out` (row i when `rows` is empty). `count` is false for the single-flight
  // re-probe, which must not count a lookup twice.
  Status lookup(std::span<const CacheKey> keys, float* out, std::span<const size_t> rows,
                uint8_t* found, bool count) {
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

  // Writes rows (keys.size() x dim float32) to disk, then RAM.
  Status store(std::span<const CacheKey> keys, const float* rows, int64_t ttl_seconds) {
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

  // Completes flights with their values: erases them from the map (so later callers probe the
  // tiers, which now hold the values) and wakes their waiters. Flight i's value is row rows[i]
  // of `values` (row i when `rows` is empty).
  void finish_flights(std::span<const CacheKey> keys, std::span<const std::shared_ptr<Flight>> fl,
                      const float* values, std::span<const size_t> rows) {
    {
      std::lock_guard<std::mutex> lock(flights_mu_);
      for (const CacheKey& k : keys) flights_.erase(k);
    }
    for (size_t i = 0; i < fl.size(); ++i) {
      Flight& f = *fl[i];
      const float* v = values + (rows.empty() ? i : rows[i]) * dim_;
      std::vector<float> value(v, v + dim_);
      {
        std::lock_guard<std::mutex> lock(f.mu);
        f.value = std::move(value);
        f.done = true;
      }
      f.cv.notify_all();
    }
  }

  void fail_flights(std::span<const std::shared_ptr<Flight>> fl, const Status& status) {
    {
      std::lock_guard<std::mutex> lock(flights_mu_);
      for (auto it = flights_.begin(); it != flights_.end();) {
        bool mine = std::find(fl.begin(), fl.end(), it->second) != fl.end();
        it = mine ? flights_.erase(it) : std::next(it);
      }
    }
    for (const auto& f : fl) {
      {
        std::lock_guard<std::mutex> lock(f->mu);
        if (f->done) continue;
        f->status = status;
        f->done = true;
      }
      f->cv.notify_all();
    }
  }

  Status compute(std::span<const std::string_view> texts, const EmbedFn& embed, size_t batch_size,
                 float* out, std::vector<std::shared_ptr<Flight>>* owned, size_t* completed) {
    const size_t n = texts.size();
    // Distinct keys in first-occurrence order; slot[i] = distinct index of texts[i].
    std::vector<CacheKey> keys;
    std::vector<size_t> first;  // text index of each distinct key
    std::vector<size_t> slot(n);
    std::unordered_map<CacheKey, size_t, CacheKeyHash> seen;
    seen.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const CacheKey k = hasher_(texts[i]);
      auto [it, inserted] = seen.try_emplace(k, keys.size());
      if (inserted) {
        keys.push_back(k);
        first.push_back(i);
      }
      slot[i] = it->second;
    }
    const size_t d = keys.size();
    // Rows are written straight into `out` at each key's first occurrence; duplicates are
    // copied at the end. (No d x dim scratch: at 100 x 768 floats it would be mmapped and
    // page-faulted on every call.)
    std::vector<uint8_t> found(d);
    VECPERF_RETURN_IF_ERROR(lookup(keys, out, first, found.data(), /*count=*/true));

    std::vector<size_t> mine;  // distinct indices this call computes, parallel to *owned
    std::vector<std::pair<size_t, std::shared_ptr<Flight>>> waits;
    // Reserved so that nothing below throws between registering a flight and recording it in
    // *owned: a registered flight nobody owns would block its waiters forever.
    mine.reserve(d);
    waits.reserve(d);
    owned->reserve(d);
    {
      std::lock_guard<std::mutex> lock(flights_mu_);
      for (size_t j = 0; j < d; ++j) {
        if (found[j]) continue;
        auto it = flights_.find(keys[j]);
        if (it != flights_.end()) {
          waits.emplace_back(j, it->second);
          continue;
        }
        auto flight = std::make_shared<Flight>();
        flights_.emplace(keys[j], flight);  // on a throw nothing was inserted
        mine.push_back(j);
        owned->push_back(std::move(flight));
      }
    }

    if (!mine.empty()) {
      // Re-probe: an owner that finished between our lookup and our registration has already
      // stored its value (it stores before it erases its flight).
      std::vector<CacheKey> mine_keys(mine.size());
      std::vector<size_t> mine_rows(mine.size());
      for (size_t m = 0; m < mine.size(); ++m) {
        mine_keys[m] = keys[mine[m]];
        mine_rows[m] = first[mine[m]];
      }
      std::vector<uint8_t> again(mine.size());
      VECPERF_RETURN_IF_ERROR(  // on error the caller fails the open flights
          lookup(mine_keys, out, mine_rows, again.data(), /*count=*/false));
      // Found-again flights first, completed at once; the rest are computed below.
      std::vector<size_t> order(mine.size());
      for (size_t m = 0; m < mine.size(); ++m) order[m] = m;
      std::stable_partition(order.begin(), order.end(), [&](size_t m) { return again[m] != 0; });
      std::vector<size_t> sorted_mine(mine.size());
      std::vector<std::shared_ptr<Flight>> sorted_owned(mine.size());
      size_t ready = 0;
      for (size_t m = 0; m < mine.size(); ++m) {
        sorted_mine[m] = mine[order[m]];
        sorted_owned[m] = (*owned)[order[m]];
        ready += again[order[m]] != 0;
      }
      mine = std::move(sorted_mine);
      *owned = std::move(sorted_owned);
      if (ready > 0) {
        std::vector<CacheKey> ready_keys(ready);
        std::vector<size_t> ready_rows(ready);
        for (size_t m = 0; m < ready; ++m) {
          ready_keys[m] = keys[mine[m]];
          ready_rows[m] = first[mine[m]];
        }
        finish_flights(ready_keys, std::span(*owned).first(ready), out, ready_rows);
        *completed = ready;
      }

      std::vector<std::string_view> chunk_texts;
      std::vector<CacheKey> chunk_keys;
      std::vector<float> result;
      for (size_t begin = ready; begin < mine.size(); begin += batch_size) {
        const size_t end = std::min(mine.size(), begin + batch_size);
        const size_t c = end - begin;
        chunk_texts.clear();
        chunk_keys.clear();
        for (size_t m = begin; m < end; ++m) {
          chunk_texts.push_back(texts[first[mine[m]]]);
          chunk_keys.push_back(keys[mine[m]]);
        }
        result.clear();
        computed_.fetch_add(c, std::memory_order_relaxed);
        Status status = guarded([&] { return embed(chunk_texts, &result); });
        if (status.ok() && result.size() != c * dim_) {
          status = Status::InvalidArgument(
              "get_or_compute: embed function returned " + std::to_string(result.size()) +
              " floats for " + std::to_string(c) + " texts of dim " + std::to_string(dim_) +
              " (expected " + std::to_string(c * dim_) + ")");
        }
        if (status.ok() && !all_finite(result.data(), result.size())) {
          status = Status::InvalidArgument("get_or_compute: embed function returned NaN or inf");
        }
        if (status.ok()) status = store(chunk_keys, result.data(), kDefaultTtl);
        if (!status.ok()) return status;  // the caller fails this and every later flight
        for (size_t m = begin; m < end; ++m) {
          std::memcpy(out + first[mine[m]] * dim_, result.data() + (m - begin) * dim_,
                      dim_ * sizeof(float));
        }
        finish_flights(chunk_keys, std::span(*owned).subspan(begin, c), result.data(), {});
        *completed = end;
      }
    }

    for (auto& [j, flight_ptr] : waits) {
      // A plain pointer: clang 14 cannot capture a structured binding in a lambda.
      Flight* flight = flight_ptr.get();
      std::unique_lock<std::mutex> lock(flight->mu);
      flight->cv.wait(lock, [flight] { return flight->done; });
      if (!flight->status.ok()) return flight->status;
      std::memcpy(out + first[j] * dim_, flight->value.data(), dim_ * sizeof(float));
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t src = first[slot[i]];
      if (src != i) std::memcpy(out + i * dim_, out + src * dim_, dim_ * sizeof(float));
    }
    return Status::OK();
  }

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

  std::mutex flights_mu_;
  std::unordered_map<CacheKey, std::shared_ptr<Flight>, CacheKeyHash> flights_;

  // Declared last so that it is destroyed first: the registry stops reading this cache before
  // any member its callbacks use goes away.
  std::unique_ptr<CacheRegistration> registration_;
};

}  // namespace

DiskTier* disk_tier_for_testing(EmbeddingCache* cache) {
  return static_cast<EmbeddingCacheImpl*>(cache)->disk_for_testing();
}

}  // namespace internal

Status CacheOptions::validate() const {
  if (model.empty()) return Status::InvalidArgument("CacheOptions.model must not be empty");
  if (dim < 1 || dim > 65536) {
    return Status::InvalidArgument("CacheOptions.dim must be in 1..65536, got " +
                                   std::to_string(dim));
  }
  switch (tiering) {
    case CacheTiering::kAuto:
      break;
    case CacheTiering::kRamOnly:
      if (!path.empty()) {
        return Status::InvalidArgument("CacheOptions.path must be empty with tiering kRamOnly");
      }
      break;
    case CacheTiering::kDiskOnly:
    case CacheTiering::kRamOverDisk:
      if (path.empty()) {
        return Status::InvalidArgument("CacheOptions.path is required with a disk tier");
      }
      break;
    default:
      return Status::InvalidArgument("CacheOptions.tiering is not a known value");
  }
  if (ram_shards < 1 || ram_shards > 1024) {
    return Status::InvalidArgument("CacheOptions.ram_shards must be in 1..1024");
  }
  if (tiering != CacheTiering::kDiskOnly && ram_budget_bytes == 0) {
    return Status::InvalidArgument("CacheOptions.ram_budget_bytes must be > 0 with a RAM tier");
  }
  if (dtype != CacheDtype::kFloat32 && dtype != CacheDtype::kFloat16) {
    return Status::InvalidArgument("CacheOptions.dtype is not a known value");
  }
  if (durability != CacheDurability::kProcessCrash &&
      durability != CacheDurability::kSyncEachWrite) {
    return Status::InvalidArgument("CacheOptions.durability is not a known value");
  }
  if (disk_write_buffer_bytes < (uint64_t{1} << 16)) {
    return Status::InvalidArgument("CacheOptions.disk_write_buffer_bytes must be >= 64 KiB");
  }
  if (ttl_seconds < 0) return Status::InvalidArgument("CacheOptions.ttl_seconds must be >= 0");
  return Status::OK();
}

Result<std::unique_ptr<EmbeddingCache>> EmbeddingCache::open(const CacheOptions& options) {
  VECPERF_RETURN_IF_ERROR(options.validate());
  CacheTiering tiering = options.tiering;
  if (tiering == CacheTiering::kAuto) {
    tiering = options.path.empty() ? CacheTiering::kRamOnly : CacheTiering::kRamOverDisk;
  }
  std::unique_ptr<internal::EmbeddingCacheImpl> cache;
  Status s = internal::guarded([&] {
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
  Status s = internal::guarded([&] {
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

Status EmbeddingCache::put(std::string_view text, Span<const float> vector,
                           int64_t ttl_seconds) {
  return put_many(std::span(&text, 1),
                  MatrixView{vector.data(), 1, static_cast<int64_t>(vector.size())}, ttl_seconds);
}

uint64_t EmbeddingCache::ram_entry_bytes(int64_t dim, CacheDtype dtype) {
  return internal::LruCache::charge(static_cast<size_t>(dim) *
                                    internal::dtype_bytes(static_cast<uint8_t>(dtype)));
}

}  // namespace vecperf
