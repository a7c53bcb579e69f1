// Device side of the k-selection (algorithm and key layout: src/gpu/radix_select.h).
//
// select_tile_kernel runs after each GEMM tile: block (q, s) turns split s of query q's row of
// products into distances (the GEMM epilogue is fused here, so distances are never stored) and
// merges them into that split's running top-k list. merge_splits_kernel then reduces the split
// lists of each query to one. Both are one thread block per list, built on block_select().
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "gpu/radix_select.h"

namespace vecperf::internal::cuda {

inline constexpr int kSelectThreads = 256;
inline constexpr int kSelectMaxK = 1024;

struct SelectShared {
  uint32_t hist[gpu_select::kRadixBins];
  uint64_t buf[kSelectMaxK];
  uint64_t prefix;
  uint32_t need;
  uint32_t count;
  int last_pass;
  int stop;
};

// Sorts buf[0, n) ascending; n is a power of two. Classic bitonic network, one compare-exchange
// per thread per step.
__device__ inline void bitonic_sort(uint64_t* buf, int n) {
  for (int size = 2; size <= n; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < n / 2; i += blockDim.x) {
        const int lo = 2 * i - (i & (stride - 1));
        const int hi = lo + stride;
        const bool ascending = (lo & size) == 0;
        const uint64_t a = buf[lo], b = buf[hi];
        if ((a > b) == ascending) {
          buf[lo] = b;
          buf[hi] = a;
        }
      }
      __syncthreads();
    }
  }
}

// Writes the k smallest of the n distinct keys get(0 .. n-1) that are <= filter to out[0, k),
// ascending. Requires: at least k keys <= filter; k <= kSelectMaxK. Every thread of the block
// must call it. out may alias the keys get() reads: it is written after the last read.
template <typename Get>
__device__ void block_select(int64_t n, Get get, uint64_t filter, int k, uint64_t* out,
                             SelectShared& s) {
  using namespace gpu_select;
  if (threadIdx.x == 0) {
    s.prefix = 0;
    s.need = static_cast<uint32_t>(k);
    s.stop = 0;
    s.last_pass = 0;
  }
  for (int pass = 0; pass < kRadixPasses; ++pass) {
    for (int i = threadIdx.x; i < kRadixBins; i += blockDim.x) s.hist[i] = 0;
    __syncthreads();
    const uint64_t mask = prefix_mask(pass);
    const int shift = pass_shift(pass);
    const uint64_t prefix = s.prefix;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const uint64_t key = get(i);
      if (key <= filter && (key & mask) == prefix)
        atomicAdd(&s.hist[(key >> shift) & (kRadixBins - 1)], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      const DigitChoice c = choose_digit(s.hist, s.need);
      s.prefix = prefix | (static_cast<uint64_t>(c.digit) << shift);
      s.need -= c.before;
      s.last_pass = pass;
      s.stop = c.exact ? 1 : 0;
    }
    __syncthreads();
    if (s.stop) break;
  }
  const uint64_t bound = select_bound(s.prefix, s.last_pass);
  int padded = 1;
  while (padded < k) padded <<= 1;
  if (threadIdx.x == 0) s.count = 0;
  for (int i = threadIdx.x; i < padded; i += blockDim.x) s.buf[i] = ~uint64_t{0};
  __syncthreads();
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const uint64_t key = get(i);
    if (key <= filter && key <= bound) {
      const uint32_t pos = atomicAdd(&s.count, 1u);
      if (pos < static_cast<uint32_t>(k)) s.buf[pos] = key;
    }
  }
  __syncthreads();
  bitonic_sort(s.buf, padded);
  for (int i = threadIdx.x; i < k; i += blockDim.x) out[i] = s.buf[i];
  __syncthreads();
}

// running: (rows x splits) lists of k keys, one block per list, initialised with empty keys
// that stay distinct across the splits of a query (merge_splits_kernel selects over all of them).
__global__ void init_running_kernel(uint64_t* running, int splits, int k) {
  const int64_t list = blockIdx.x;
  const uint32_t first = static_cast<uint32_t>((list % splits) * k);
  for (int i = threadIdx.x; i < k; i += blockDim.x)
    running[list * k + i] = gpu_select::empty_key(first + static_cast<uint32_t>(i));
}

// One block per (query q = blockIdx.x, split s = blockIdx.y). products: rows x cols, row-major,
// the GEMM output for base rows [tile_start, tile_start + cols). xnorms is indexed by base row.
__global__ void select_tile_kernel(const float* products, int64_t cols, int64_t tile_start,
                                   const float* qnorms, const float* xnorms, bool l2, int splits,
                                   int k, uint64_t* running) {
  __shared__ SelectShared s;
  const int64_t q = blockIdx.x;
  const int split = blockIdx.y;
  const int64_t per = (cols + splits - 1) / splits;
  const int64_t c0 = split * per;
  const int64_t c1 = c0 + per < cols ? c0 + per : cols;
  const int64_t width = c1 > c0 ? c1 - c0 : 0;
  uint64_t* run = running + (q * splits + split) * k;
  const float* row = products + q * cols + c0;
  const float qn = l2 ? qnorms[q] : 0.0f;
  const uint64_t filter = run[k - 1];
  auto get = [&](int64_t i) -> uint64_t {
    if (i < k) return run[i];
    const int64_t c = i - k;
    const int64_t slot = tile_start + c0 + c;
    const float d = gpu_select::distance_from_product(l2, row[c], qn, l2 ? xnorms[slot] : 0.0f);
    return gpu_select::make_key(d, static_cast<uint32_t>(slot));
  };
  block_select(k + width, get, filter, k, run, s);
}

// One block per query: the k smallest of its splits x k running keys, into out (rows x k).
__global__ void merge_splits_kernel(const uint64_t* running, int splits, int k, uint64_t* out) {
  __shared__ SelectShared s;
  const int64_t q = blockIdx.x;
  const uint64_t* lists = running + q * splits * k;
  auto get = [&](int64_t i) -> uint64_t { return lists[i]; };
  block_select(static_cast<int64_t>(splits) * k, get, ~uint64_t{0}, k, out + q * k, s);
}

__global__ void float_to_half_kernel(const float* in, __half* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = __float2half_rn(in[i]);
}

}  // namespace vecperf::internal::cuda
