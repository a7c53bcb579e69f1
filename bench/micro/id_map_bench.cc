// The external id <-> slot map every backend shares (src/index/id_map.h), with random 63-bit
// ids (content-hash ids, as CacheKey::to_id gives, are the worst case for locality).
//
//  idmap/lookup   slot(id) of present ids in a seeded random order, maps of n ids
//  idmap/insert   n ids appended to an empty map, in calls of `batch` ids (1: streaming adds)
//  idmap/remove   kill() of all n ids of a map in random order (tombstoning backends)
// items_per_second counts ids.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "index/id_map.h"

namespace vecperf::bench {
namespace {

std::vector<int64_t> random_ids(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int64_t>(rng() >> 1);
  return ids;
}

internal::IdMap map_of(const std::vector<int64_t>& ids) {
  internal::IdMap map;
  map.append(ids);
  return map;
}

std::vector<int64_t> shuffled(std::vector<int64_t> ids, uint64_t seed) {
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(seed));
  return ids;
}

void BM_lookup(benchmark::State& state) {
  const std::vector<int64_t> ids = random_ids(state.range(0), 31);
  const internal::IdMap map = map_of(ids);
  const std::vector<int64_t> order = shuffled(ids, 32);
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map.slot(order[next]));
    if (++next == order.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_lookup)->Name("idmap/lookup")->ArgName("n")->Arg(1000)->Arg(100000)->Arg(1000000);

void BM_insert(benchmark::State& state) {
  const int64_t n = state.range(0), batch = state.range(1);
  const std::vector<int64_t> ids = random_ids(n, 33);
  for (auto _ : state) {
    internal::IdMap map;
    for (int64_t b = 0; b < n; b += batch)
      map.append(IdSpan(ids.data() + b, static_cast<size_t>(std::min(batch, n - b))));
    benchmark::DoNotOptimize(map.slots());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_insert)
    ->Name("idmap/insert")
    ->ArgNames({"n", "batch"})
    ->ArgsProduct({{100000}, {1, 1000, 100000}});

void BM_remove(benchmark::State& state) {
  const std::vector<int64_t> ids = random_ids(state.range(0), 34);
  const std::vector<int64_t> order = shuffled(ids, 35);
  internal::IdMap map;
  for (auto _ : state) {
    state.PauseTiming();
    map = map_of(ids);  // the emptied map of the previous round is freed here, untimed
    state.ResumeTiming();
    for (int64_t id : order) benchmark::DoNotOptimize(map.kill(id));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_remove)->Name("idmap/remove")->ArgName("n")->Arg(100000);

}  // namespace
}  // namespace vecperf::bench
