// AVX2 + FMA kernels (compiled with VECPERF_AVX2_FLAGS; selected only when dispatch.cc has seen
// AVX2, FMA and F16C in CPUID and YMM state enabled in XCR0).
//
// Same shape as the AVX-512 kernels at half the width: four accumulators for the pair kernels,
// 8 rows per step with a shared query load and one transpose-and-add reduction for the
// one-query-against-many kernels. The last `dim % 8` floats are read with a masked load, so any
// dimension works and nothing past the end of a row is touched.
// This file must not use inline functions from std or project headers: an out-of-line copy
// compiled with AVX2 could be picked by the linker for code that runs on any CPU.
#include <immintrin.h>

#include <cstdint>

#include "distance/distance.h"

namespace vecperf::internal {
namespace {

// kMaskTable + 8 - rem holds `rem` all-ones lanes followed by zeros.
alignas(64) constexpr int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};

inline __m256i tail_mask(size_t rem) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - rem));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float l2sqr_avx2(const float* a, const float* b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d, d, s0);
  }
  if (i < dim) {
    __m256i m = tail_mask(dim - i);
    __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
    s1 = _mm256_fmadd_ps(d, d, s1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

inline float dot_avx2(const float* a, const float* b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  if (i < dim) {
    __m256i m = tail_mask(dim - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

// Horizontal sums of eight vectors, returned in lanes 0..7 in order.
inline __m256 reduce8(const __m256 h[8]) {
  // hadd pairs lanes inside each 128-bit half; after two rounds lane j of half 0 / half 1 holds
  // the low / high half sum of row j, which one cross-lane add combines.
  __m256 a01 = _mm256_hadd_ps(h[0], h[1]), a23 = _mm256_hadd_ps(h[2], h[3]);
  __m256 a45 = _mm256_hadd_ps(h[4], h[5]), a67 = _mm256_hadd_ps(h[6], h[7]);
  __m256 b0 = _mm256_hadd_ps(a01, a23), b1 = _mm256_hadd_ps(a45, a67);
  __m256 lo = _mm256_permute2f128_ps(b0, b1, 0x20), hi = _mm256_permute2f128_ps(b0, b1, 0x31);
  return _mm256_add_ps(lo, hi);
}

template <bool kL2>
inline __m256 accumulate(__m256 q, __m256 x, __m256 acc) {
  if constexpr (kL2) {
    __m256 d = _mm256_sub_ps(q, x);
    return _mm256_fmadd_ps(d, d, acc);
  } else {
    return _mm256_fmadd_ps(q, x, acc);
  }
}

// Software prefetch 16 rows ahead, as in the AVX-512 kernels: the 8-row blocks' loads hop
// between rows, which hides the stream from the hardware prefetchers for short rows.
constexpr size_t kPrefetchRows = 16;

template <bool kL2>
inline void many_avx2(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  const size_t full = dim & ~size_t{7};
  const __m256i m = tail_mask(dim - full);
  size_t r = 0;
  for (; r + 8 <= n; r += 8) {
    const float* x = rows + r * dim;
    if (r + 8 + kPrefetchRows <= n) {
      const char* ahead = reinterpret_cast<const char*>(x + kPrefetchRows * dim);
      for (size_t off = 0; off < 8 * dim * sizeof(float); off += 64)
        _mm_prefetch(ahead + off, _MM_HINT_T0);
    }
    __m256 acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < full; i += 8) {
      __m256 qv = _mm256_loadu_ps(q + i);
      for (int j = 0; j < 8; ++j)
        acc[j] = accumulate<kL2>(qv, _mm256_loadu_ps(x + j * dim + i), acc[j]);
    }
    if (full < dim) {
      __m256 qv = _mm256_maskload_ps(q + full, m);
      for (int j = 0; j < 8; ++j)
        acc[j] = accumulate<kL2>(qv, _mm256_maskload_ps(x + j * dim + full, m), acc[j]);
    }
    _mm256_storeu_ps(out + r, reduce8(acc));
  }
  for (; r < n; ++r)
    out[r] = kL2 ? l2sqr_avx2(q, rows + r * dim, dim) : dot_avx2(q, rows + r * dim, dim);
}

float l2sqr_fn(const float* a, const float* b, size_t dim) { return l2sqr_avx2(a, b, dim); }
float dot_fn(const float* a, const float* b, size_t dim) { return dot_avx2(a, b, dim); }
void l2sqr_many_fn(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  many_avx2<true>(q, rows, n, dim, out);
}
void dot_many_fn(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  many_avx2<false>(q, rows, n, dim, out);
}

}  // namespace

const DistanceKernels kAvx2Kernels = {Isa::kAvx2, "avx2",        l2sqr_fn,
                                      dot_fn,     l2sqr_many_fn, dot_many_fn};

}  // namespace vecperf::internal
