// Embedding cache operations through the public API (include/vecperf/cache.h), one thread.
//
//  cache/ram_get      hits in a RAM-only cache of 20000 entries, get_many of `batch` texts
//  cache/ram_put      puts of new texts into a full RAM-only cache (every put evicts)
//  cache/disk_get     hits in a disk-only cache of 10000 entries; a 4 MiB memtable pushes most of
//                     them into SST files, read through a warm block cache
//  cache/disk_put     put_many of 100 texts into a disk-only cache (overwrites)
//  cache/key          the key hash (KeyHasher: length-prefixed fields, XXH3-128) of one text
// Texts are 40..400 bytes; items_per_second counts texts. The disk cache lives in a directory
// under the system temporary directory, removed when the benchmark ends.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/cache_key.h"
#include "micro/fixtures.h"
#include "testing/testing.h"
#include "vecperf/cache.h"

namespace vecperf::bench {
namespace {

constexpr int64_t kRamEntries = 20000;
constexpr int64_t kDiskEntries = 10000;

CacheOptions options(int64_t dim, CacheTiering tiering) {
  CacheOptions o;
  o.model = "micro-model";
  o.dim = dim;
  o.tiering = tiering;
  return o;
}

// A disk directory for one benchmark run, removed (with the cache closed first) on scope exit.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag)
      : path_(std::filesystem::temp_directory_path() /
              ("vecperf_micro_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Texts for `n` entries, their vectors, and a cache holding them; skips the benchmark on error.
std::unique_ptr<EmbeddingCache> fill(benchmark::State& state, const CacheOptions& o, int64_t n,
                                     std::vector<std::string>* texts) {
  *texts = seeded_texts(n, 40, 400, 21);
  auto cache = filled_cache(o, *texts, testing::uniform(n, o.dim, 22).data);
  if (!cache.ok()) {
    state.SkipWithError(cache.status().to_string().c_str());
    return nullptr;
  }
  return std::move(cache).value();
}

// Lookups in a seeded random order over twice the entry count, so that hits come from the whole
// cache rather than from a few entries that stay hot in the CPU caches.
std::vector<std::string_view> random_order(const std::vector<std::string>& texts) {
  std::mt19937_64 rng(23);
  std::vector<std::string_view> order(2 * texts.size());
  for (auto& t : order) t = texts[rng() % texts.size()];
  return order;
}

// get_many hits of `batch` texts at a time along random_order; the cache holds every text.
void get_hits(benchmark::State& state, EmbeddingCache* cache, const std::vector<std::string>& texts,
              int64_t batch) {
  const std::vector<std::string_view> order = random_order(texts);
  const size_t n = static_cast<size_t>(batch);
  std::vector<float> out(n * static_cast<size_t>(cache->dim()));
  std::vector<uint8_t> found(n);
  size_t next = 0;
  for (auto _ : state) {
    if (next + n > order.size()) next = 0;
    Status s = cache->get_many(std::span(order.data() + next, n), out.data(), found.data());
    next += n;
    if (!s.ok()) {
      state.SkipWithError(s.to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

// put_many of consecutive batches of `pool`, wrapping around.
void puts(benchmark::State& state, EmbeddingCache* cache, const std::vector<std::string>& pool,
          int64_t batch) {
  const int64_t dim = cache->dim();
  const testing::Matrix vectors = testing::uniform(batch, dim, 24);
  size_t next = 0;
  for (auto _ : state) {
    if (next + static_cast<size_t>(batch) > pool.size()) next = 0;
    Status s = cache->put_many(text_views(pool, next, static_cast<size_t>(batch)), vectors.view());
    next += static_cast<size_t>(batch);
    if (!s.ok()) {
      state.SkipWithError(s.to_string().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_ram_get(benchmark::State& state) {
  std::vector<std::string> texts;
  auto cache = fill(state, options(state.range(0), CacheTiering::kRamOnly), kRamEntries, &texts);
  if (cache) get_hits(state, cache.get(), texts, state.range(1));
}
BENCHMARK(BM_ram_get)
    ->Name("cache/ram_get")
    ->ArgNames({"dim", "batch"})
    ->ArgsProduct({{384, 768}, {1, 100}});

void BM_ram_put(benchmark::State& state) {
  CacheOptions o = options(state.range(0), CacheTiering::kRamOnly);
  o.ram_budget_bytes = EmbeddingCache::ram_entry_bytes(o.dim, o.dtype) * kRamEntries;
  std::vector<std::string> texts;
  auto cache = fill(state, o, kRamEntries, &texts);
  if (!cache) return;
  // Twice the capacity of texts not in the cache: each comes back only after being evicted.
  std::vector<std::string> pool = seeded_texts(2 * kRamEntries, 40, 400, 25);
  for (auto& t : pool) t.insert(0, "new");
  puts(state, cache.get(), pool, state.range(1));
}
BENCHMARK(BM_ram_put)
    ->Name("cache/ram_put")
    ->ArgNames({"dim", "batch"})
    ->ArgsProduct({{384, 768}, {1, 100}});

CacheOptions disk_options(const ScratchDir& dir) {
  CacheOptions o = options(768, CacheTiering::kDiskOnly);
  o.path = dir.path();
  o.disk_write_buffer_bytes = uint64_t{4} << 20;
  return o;
}

void BM_disk_get(benchmark::State& state) {
  ScratchDir dir("disk_get");
  std::vector<std::string> texts;
  auto cache = fill(state, disk_options(dir), kDiskEntries, &texts);
  if (cache) get_hits(state, cache.get(), texts, state.range(0));
}
BENCHMARK(BM_disk_get)->Name("cache/disk_get")->ArgName("batch")->Arg(1)->Arg(100);

void BM_disk_put(benchmark::State& state) {
  ScratchDir dir("disk_put");
  std::vector<std::string> texts;
  auto cache = fill(state, disk_options(dir), kDiskEntries, &texts);
  if (cache) puts(state, cache.get(), texts, 100);
}
BENCHMARK(BM_disk_put)->Name("cache/disk_put");

void BM_key(benchmark::State& state) {
  const internal::KeyHasher hasher("micro-model", "1", 768);
  const std::string text = seeded_texts(1, static_cast<size_t>(state.range(0)),
                                        static_cast<size_t>(state.range(0)), 26)[0];
  for (auto _ : state) benchmark::DoNotOptimize(hasher(text));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_key)
    ->Name("cache/key")
    ->ArgName("bytes")
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->Arg(8192);

}  // namespace
}  // namespace vecperf::bench
