// AVX-512 kernels (compiled with VECPERF_AVX512_FLAGS; selected only when dispatch.cc has seen
// AVX-512 F/BW/DQ/VL in CPUID and ZMM state enabled in XCR0).
//
// Pair kernels keep four independent accumulators (an FMA has a 4-cycle latency and two can
// issue per cycle) and finish the dimension with one masked load, so any `dim` works without a
// scalar tail. The one-query-against-many kernels work on 8 rows at a time: each 16-float chunk
// of the query is loaded once and reused for 8 rows, and the 8 sums are reduced together by a
// transpose-and-add tree, which costs about a third of eight separate horizontal reductions.
// This file must not use inline functions from std or project headers: an out-of-line copy
// compiled with AVX-512 could be picked by the linker for code that runs on any CPU.
// GCC 12's avx512fintrin.h builds _mm512_extractf64x4_pd (also used by _mm512_reduce_add_ps)
// on _mm256_undefined_pd(), which trips -Wuninitialized under -Werror; the value is never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "distance/distance.h"

namespace vecperf::internal {
namespace {

inline __mmask16 tail_mask(size_t rem) { return static_cast<__mmask16>((1u << rem) - 1u); }

inline float l2sqr_avx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
         s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
    s2 = _mm512_fmadd_ps(d2, d2, s2);
    s3 = _mm512_fmadd_ps(d3, d3, s3);
  }
  for (; i + 16 <= dim; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  if (i < dim) {
    __mmask16 m = tail_mask(dim - i);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(d, d, s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

inline float dot_avx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
         s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16)
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < dim) {
    __mmask16 m = tail_mask(dim - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// Horizontal sums of eight vectors, returned in lanes 0..7 in order.
inline __m256 reduce8(const __m512 acc[8]) {
  __m256 h[8];
  for (int r = 0; r < 8; ++r)
    h[r] = _mm256_add_ps(_mm512_castps512_ps256(acc[r]),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r]), 1)));
  // hadd pairs lanes inside each 128-bit half; after three rounds lane j of half 0 / half 1
  // holds the low / high 128-bit half sums of row j, which one cross-lane add combines.
  __m256 a01 = _mm256_hadd_ps(h[0], h[1]), a23 = _mm256_hadd_ps(h[2], h[3]);
  __m256 a45 = _mm256_hadd_ps(h[4], h[5]), a67 = _mm256_hadd_ps(h[6], h[7]);
  __m256 b0 = _mm256_hadd_ps(a01, a23), b1 = _mm256_hadd_ps(a45, a67);
  __m256 lo = _mm256_permute2f128_ps(b0, b1, 0x20), hi = _mm256_permute2f128_ps(b0, b1, 0x31);
  return _mm256_add_ps(lo, hi);
}

template <bool kL2>
inline __m512 accumulate(__m512 q, __m512 x, __m512 acc) {
  if constexpr (kL2) {
    __m512 d = _mm512_sub_ps(q, x);
    return _mm512_fmadd_ps(d, d, acc);
  } else {
    return _mm512_fmadd_ps(q, x, acc);
  }
}

// Software prefetch 16 rows ahead of the 8-row block being summed: the block's loads hop
// between rows, which hides the sequential stream from the hardware prefetchers when rows are
// short (measured ~10-15 GB/s without, ~18-20 GB/s with at d = 128 on one Zen core).
constexpr size_t kPrefetchRows = 16;

template <bool kL2>
inline void many_avx512(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  const size_t full = dim & ~size_t{15};
  const __mmask16 m = tail_mask(dim - full);
  size_t r = 0;
  for (; r + 8 <= n; r += 8) {
    const float* x = rows + r * dim;
    if (r + 8 + kPrefetchRows <= n) {
      const char* ahead = reinterpret_cast<const char*>(x + kPrefetchRows * dim);
      for (size_t off = 0; off < 8 * dim * sizeof(float); off += 64)
        _mm_prefetch(ahead + off, _MM_HINT_T0);
    }
    __m512 acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_setzero_ps();
    for (size_t i = 0; i < full; i += 16) {
      __m512 qv = _mm512_loadu_ps(q + i);
      for (int j = 0; j < 8; ++j)
        acc[j] = accumulate<kL2>(qv, _mm512_loadu_ps(x + j * dim + i), acc[j]);
    }
    if (full < dim) {
      __m512 qv = _mm512_maskz_loadu_ps(m, q + full);
      for (int j = 0; j < 8; ++j)
        acc[j] = accumulate<kL2>(qv, _mm512_maskz_loadu_ps(m, x + j * dim + full), acc[j]);
    }
    _mm256_storeu_ps(out + r, reduce8(acc));
  }
  for (; r < n; ++r)
    out[r] = kL2 ? l2sqr_avx512(q, rows + r * dim, dim) : dot_avx512(q, rows + r * dim, dim);
}

float l2sqr_fn(const float* a, const float* b, size_t dim) { return l2sqr_avx512(a, b, dim); }
float dot_fn(const float* a, const float* b, size_t dim) { return dot_avx512(a, b, dim); }
void l2sqr_many_fn(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  many_avx512<true>(q, rows, n, dim, out);
}
void dot_many_fn(const float* q, const float* rows, size_t n, size_t dim, float* out) {
  many_avx512<false>(q, rows, n, dim, out);
}

}  // namespace

const DistanceKernels kAvx512Kernels = {Isa::kAvx512, "avx512",      l2sqr_fn,
                                        dot_fn,       l2sqr_many_fn, dot_many_fn};

}  // namespace vecperf::internal

#pragma GCC diagnostic pop
