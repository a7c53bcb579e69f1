// Top-k selection (src/index/topk.h) as a scan drives it: n seeded random distances offered in
// blocks of 1024, then the k best extracted. items_per_second counts candidates offered.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "index/topk.h"
#include "testing/testing.h"

namespace vecperf::bench {
namespace {

constexpr int64_t kBlock = 1024;

void BM_topk(benchmark::State& state) {
  const int64_t n = state.range(0), k = state.range(1);
  const std::vector<float> dists = testing::uniform(1, n, 11).data;
  std::vector<float> out_d(static_cast<size_t>(k));
  std::vector<int64_t> out_l(static_cast<size_t>(k));
  for (auto _ : state) {
    internal::TopK top(k);
    for (int64_t b = 0; b < n; b += kBlock)
      top.push_block(dists.data() + b, std::min(kBlock, n - b), b);
    benchmark::DoNotOptimize(top.extract(out_d.data(), out_l.data()));
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_topk)
    ->Name("topk")
    ->ArgNames({"n", "k"})
    ->ArgsProduct({{1000, 10000, 100000, 1000000}, {10, 100}});

}  // namespace
}  // namespace vecperf::bench
