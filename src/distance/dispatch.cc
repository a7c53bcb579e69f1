// Run-time selection of the distance kernels (see distance.h).
#include <cstdlib>
#include <cstring>

#include "distance/distance.h"

namespace vecperf::internal {
namespace {

Isa isa_cap_from_env() {
  const char* env = std::getenv("VECPERF_ISA");
  if (env == nullptr) return Isa::kAvx512;
  if (std::strcmp(env, "scalar") == 0) return Isa::kScalar;
  if (std::strcmp(env, "avx2") == 0) return Isa::kAvx2;
  return Isa::kAvx512;
}

const DistanceKernels* select() {
  Isa cap = isa_cap_from_env();
  for (int isa = static_cast<int>(cap); isa > 0; --isa) {
    if (const DistanceKernels* k = kernels_for(static_cast<Isa>(isa))) return k;
  }
  return &kScalarKernels;
}

}  // namespace

const DistanceKernels* kernels_for(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return &kScalarKernels;
    default: return nullptr;
  }
}

const DistanceKernels& kernels() {
  static const DistanceKernels* chosen = select();
  return *chosen;
}

}  // namespace vecperf::internal
