// The k-selection of the GPU search, as code shared by the device kernel and the host.
//
// A candidate is one 64-bit key: the distance's bits mapped to an unsigned integer that sorts as
// the float does (high 32 bits), then the slot (low 32 bits). Keys are therefore distinct, and
// ordering keys orders by distance with ties broken by the smaller slot, exactly as the CPU
// TopK does, so the GPU and CPU indexes agree on ties.
//
// Selecting the k smallest of n distinct keys is a most-significant-digit radix select: eight
// passes of 8 bits; each pass histograms the candidates that share the prefix chosen so far and
// picks the digit holding the k-th smallest (choose_digit). A pass may stop early when the chosen
// bucket holds exactly the candidates still needed. Afterwards the k smallest keys are exactly
// those <= select_bound(). Why this and not a heap or a bitonic network over all candidates: the
// passes need 256 counters of shared memory whatever k is (k up to 1024), every thread of a block
// works on every pass, and the early exit makes typical inputs need 3-4 passes over the data.
//
// The device kernel (src/gpu/cuda/select_kernels.cuh) runs the passes with one thread block per
// (query, split), with shared-memory atomics for the histogram; radix_select_smallest() below
// runs the same steps on the host, which is what the CPU unit tests exercise.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__CUDACC__)
#define VECPERF_HOST_DEVICE __host__ __device__
#else
#define VECPERF_HOST_DEVICE
#endif

namespace vecperf::internal::gpu_select {

inline constexpr int kRadixBits = 8;
inline constexpr int kRadixBins = 1 << kRadixBits;
inline constexpr int kRadixPasses = 64 / kRadixBits;

/// Maps a float to an unsigned integer of the same order (negative values reversed, sign bit
/// flipped). NaN never reaches here: queries and vectors are validated as finite.
VECPERF_HOST_DEVICE inline uint32_t ordered_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

VECPERF_HOST_DEVICE inline float from_ordered_bits(uint32_t o) {
  const uint32_t u = (o & 0x80000000u) ? (o & 0x7fffffffu) : ~o;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

VECPERF_HOST_DEVICE inline uint64_t make_key(float dist, uint32_t slot) {
  return (static_cast<uint64_t>(ordered_bits(dist)) << 32) | slot;
}

/// Key of the i-th empty candidate: its high half (a NaN pattern no distance produces) sorts
/// after every real distance, and distinct i keep the keys distinct.
VECPERF_HOST_DEVICE inline uint64_t empty_key(uint32_t i) {
  return (uint64_t{0xffffffffu} << 32) | i;
}

VECPERF_HOST_DEVICE inline bool key_is_empty(uint64_t key) { return (key >> 32) == 0xffffffffu; }
VECPERF_HOST_DEVICE inline float key_dist(uint64_t key) {
  return from_ordered_bits(static_cast<uint32_t>(key >> 32));
}
VECPERF_HOST_DEVICE inline uint32_t key_slot(uint64_t key) { return static_cast<uint32_t>(key); }

/// Shift of the digit examined by `pass` (most significant first).
VECPERF_HOST_DEVICE inline int pass_shift(int pass) { return 64 - kRadixBits * (pass + 1); }

/// Mask of the bits fixed before `pass` (the prefix chosen by earlier passes).
VECPERF_HOST_DEVICE inline uint64_t prefix_mask(int pass) {
  return pass == 0 ? 0 : ~uint64_t{0} << (64 - kRadixBits * pass);
}

/// The digit chosen by one pass.
struct DigitChoice {
  uint32_t digit;   ///< bucket holding the need-th smallest candidate
  uint32_t before;  ///< candidates in lower buckets (all selected)
  bool exact;       ///< the bucket holds exactly the candidates still needed: stop here
};

/// Picks the bucket of `hist` (kRadixBins counts) that holds the need-th smallest candidate.
/// Requires: 1 <= need <= sum(hist).
VECPERF_HOST_DEVICE inline DigitChoice choose_digit(const uint32_t* hist, uint32_t need) {
  uint32_t before = 0;
  for (uint32_t d = 0; d < static_cast<uint32_t>(kRadixBins); ++d) {
    if (before + hist[d] >= need) return {d, before, before + hist[d] == need};
    before += hist[d];
  }
  return {kRadixBins - 1u, before, true};
}

/// After the passes up to `last_pass` chose `prefix`: the k smallest keys are those <= bound.
VECPERF_HOST_DEVICE inline uint64_t select_bound(uint64_t prefix, int last_pass) {
  const int shift = pass_shift(last_pass);
  return shift == 0 ? prefix : prefix | ((uint64_t{1} << shift) - 1);
}

/// Distance from a product <q, x> and the squared norms, in vecperf's conventions: squared L2
/// through the norm expansion (clamped at 0: rounding can leave a tiny negative for a
/// near-duplicate), 1 - <q, x> for inner product and cosine.
VECPERF_HOST_DEVICE inline float distance_from_product(bool l2, float ip, float qnorm,
                                                       float xnorm) {
  if (!l2) return 1.0f - ip;
  const float d = qnorm + xnorm - 2.0f * ip;
  return d > 0.0f ? d : 0.0f;
}

/// Host run of the device algorithm: the k smallest of the distinct `keys`, ascending.
/// `filter`: keys above it are ignored (the device passes the running k-th best), as long as at
/// least k keys remain. Requires: k <= number of keys <= filter.
inline std::vector<uint64_t> radix_select_smallest(const std::vector<uint64_t>& keys, uint32_t k,
                                                   uint64_t filter = ~uint64_t{0}) {
  uint64_t prefix = 0;
  uint32_t need = k;
  int last = 0;
  for (int pass = 0; pass < kRadixPasses; ++pass) {
    uint32_t hist[kRadixBins] = {};
    const uint64_t mask = prefix_mask(pass);
    const int shift = pass_shift(pass);
    for (uint64_t key : keys)
      if (key <= filter && (key & mask) == prefix) ++hist[(key >> shift) & (kRadixBins - 1)];
    const DigitChoice c = choose_digit(hist, need);
    prefix |= static_cast<uint64_t>(c.digit) << shift;
    need -= c.before;
    last = pass;
    if (c.exact) break;
  }
  const uint64_t bound = select_bound(prefix, last);
  std::vector<uint64_t> out;
  out.reserve(k);
  for (uint64_t key : keys)
    if (key <= filter && key <= bound) out.push_back(key);
  // The device sorts its k survivors with a bitonic network; the order is the same.
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vecperf::internal::gpu_select
