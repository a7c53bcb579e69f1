// Portable kernels: the fallback on CPUs without AVX2, and the reference the SIMD kernels are
// tested against. Four independent accumulators let the compiler keep several FMAs in flight.
#include "distance/distance.h"

namespace vecperf::internal {
namespace {

float l2sqr_scalar(const float* a, const float* b, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2],
          d3 = a[i + 3] - b[i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; ++i) {
    float d = a[i] - b[i];
    s0 += d * d;
  }
  return (s0 + s1) + (s2 + s3);
}

float dot_scalar(const float* a, const float* b, size_t dim) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < dim; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void l2sqr_many_scalar(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = l2sqr_scalar(q, rows + r * dim, dim);
}

void dot_many_scalar(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = dot_scalar(q, rows + r * dim, dim);
}

}  // namespace

const DistanceKernels kScalarKernels = {Isa::kScalar, "scalar",          l2sqr_scalar,
                                        dot_scalar,   l2sqr_many_scalar, dot_many_scalar};

}  // namespace vecperf::internal
