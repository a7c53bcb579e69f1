// Distance kernels per instruction set and dimension.
//
//  distance/<fn>/<isa>/<dim>        one pair of vectors, both in L1: the kernel's arithmetic rate
//  distance/<fn>_many/<isa>/<dim>   one query against 1024 rows (the Flat scan's block): the rate
//                                   at which a scan streams the base (L2 or beyond at high dims)
// bytes_per_second counts the float bytes the kernel reads. ISAs the CPU lacks are listed as
// skipped. The tables are taken from kernels_for(), so VECPERF_ISA has no effect here.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "distance/distance.h"
#include "testing/testing.h"

namespace vecperf::bench {
namespace {

using internal::DistanceKernels;
using internal::Isa;

constexpr int64_t kDims[] = {64, 128, 384, 768, 1536};
constexpr int64_t kScanRows = 1024;

struct Isas {
  Isa isa;
  const char* name;
};
constexpr Isas kIsas[] = {{Isa::kScalar, "scalar"}, {Isa::kAvx2, "avx2"}, {Isa::kAvx512, "avx512"}};

void pair(benchmark::State& state, Isa isa, internal::PairFn DistanceKernels::*fn, int64_t dim) {
  const DistanceKernels* k = internal::kernels_for(isa);
  if (k == nullptr) {
    state.SkipWithError("this CPU (or OS) does not support the ISA");
    return;
  }
  const testing::Matrix v = testing::uniform(2, dim, 7);
  const size_t d = static_cast<size_t>(dim);
  for (auto _ : state) {
    float r = (k->*fn)(v.row(0), v.row(1), d);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * 2 * dim * static_cast<int64_t>(sizeof(float)));
}

void many(benchmark::State& state, Isa isa, internal::ManyFn DistanceKernels::*fn, int64_t dim) {
  const DistanceKernels* k = internal::kernels_for(isa);
  if (k == nullptr) {
    state.SkipWithError("this CPU (or OS) does not support the ISA");
    return;
  }
  const testing::Matrix query = testing::uniform(1, dim, 7);
  const testing::Matrix rows = testing::uniform(kScanRows, dim, 8);
  std::vector<float> out(kScanRows);
  for (auto _ : state) {
    (k->*fn)(query.row(0), rows.row(0), kScanRows, static_cast<size_t>(dim), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kScanRows * dim *
                          static_cast<int64_t>(sizeof(float)));
}

// Names follow the kernel table's fields: l2sqr, dot, l2sqr_many, dot_many.
[[maybe_unused]] const bool kRegistered = [] {
  for (const Isas& i : kIsas) {
    for (int64_t dim : kDims) {
      const std::string suffix = std::string("/") + i.name + "/" + std::to_string(dim);
      benchmark::RegisterBenchmark(("distance/l2sqr" + suffix).c_str(), pair, i.isa,
                                   &DistanceKernels::l2sqr, dim);
      benchmark::RegisterBenchmark(("distance/dot" + suffix).c_str(), pair, i.isa,
                                   &DistanceKernels::dot, dim);
      benchmark::RegisterBenchmark(("distance/l2sqr_many" + suffix).c_str(), many, i.isa,
                                   &DistanceKernels::l2sqr_many, dim);
      benchmark::RegisterBenchmark(("distance/dot_many" + suffix).c_str(), many, i.isa,
                                   &DistanceKernels::dot_many, dim);
    }
  }
  return true;
}();

}  // namespace
}  // namespace vecperf::bench
