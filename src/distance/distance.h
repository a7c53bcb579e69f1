// Distance kernels, one table per instruction set, chosen once at run time.
//
// The library is compiled for the baseline x86-64 ISA; only the kernel files are compiled with
// AVX2 or AVX-512 flags, and `kernels()` picks the best table the CPU supports. The environment
// variable VECPERF_ISA=scalar|avx2|avx512 caps the choice (for tests and benchmarks).
#pragma once

#include <cstddef>

#include "vecperf/types.h"

namespace vecperf::internal {

using PairFn = float (*)(const float* a, const float* b, size_t dim);
/// One query against `n` contiguous rows of `dim` floats; writes n results to `out`.
using ManyFn = void (*)(const float* query, const float* rows, size_t n, size_t dim, float* out);

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct DistanceKernels {
  Isa isa;
  const char* name;
  PairFn l2sqr;  ///< sum (a_i - b_i)^2
  PairFn dot;    ///< sum a_i * b_i
  ManyFn l2sqr_many;
  ManyFn dot_many;
};

/// Best kernels for this CPU (capped by VECPERF_ISA). Thread-safe; resolved on first use.
const DistanceKernels& kernels();
/// Kernels for a specific ISA, or nullptr when the CPU or the build lacks it.
const DistanceKernels* kernels_for(Isa isa);

/// Per-ISA tables, defined in kernels_<isa>.cc. Only dispatch.cc may hand out the SIMD ones,
/// after checking that the CPU and the operating system support them.
extern const DistanceKernels kScalarKernels;
extern const DistanceKernels kAvx2Kernels;
extern const DistanceKernels kAvx512Kernels;

/// True when this CPU (and the OS, which must save the wider registers) supports `isa`,
/// ignoring VECPERF_ISA.
bool cpu_supports(Isa isa);

/// Squared L2 norm of a vector.
inline float norm_sqr(const float* v, size_t dim) { return kernels().dot(v, v, dim); }

/// Distance between a (normalised, for cosine) query and a stored vector, in the units the
/// public API reports (see Metric): L2 -> squared L2, IP and cosine -> 1 - dot.
inline float metric_distance(Metric metric, const float* q, const float* x, size_t dim) {
  return metric == Metric::kL2 ? kernels().l2sqr(q, x, dim) : 1.0f - kernels().dot(q, x, dim);
}

}  // namespace vecperf::internal
