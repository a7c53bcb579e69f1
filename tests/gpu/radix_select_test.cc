// The GPU k-selection's algorithm, run on the host (radix_select.h is shared with the kernel).
#include "gpu/radix_select.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace vecperf::internal::gpu_select {
namespace {

TEST(GpuRadixSelect, OrderedBitsPreserveFloatOrder) {
  const float values[] = {-std::numeric_limits<float>::infinity(),
                          -1e30f,
                          -2.5f,
                          -1e-30f,
                          -0.0f,
                          0.0f,
                          1e-38f,
                          1e-30f,
                          0.5f,
                          1.0f,
                          3e38f,
                          std::numeric_limits<float>::infinity()};
  for (size_t i = 0; i + 1 < std::size(values); ++i) {
    EXPECT_LE(ordered_bits(values[i]), ordered_bits(values[i + 1])) << values[i];
    EXPECT_EQ(from_ordered_bits(ordered_bits(values[i])), values[i]);
  }
  EXPECT_LT(ordered_bits(1.0f), ordered_bits(1.0000001f));
}

TEST(GpuRadixSelect, KeysOrderByDistanceThenSlotAndEmptiesLast) {
  EXPECT_LT(make_key(0.5f, 7), make_key(0.5f, 8));
  EXPECT_LT(make_key(0.5f, 900), make_key(0.6f, 1));
  EXPECT_LT(make_key(std::numeric_limits<float>::infinity(), 0xffffffffu), empty_key(0));
  EXPECT_TRUE(key_is_empty(empty_key(3)));
  EXPECT_FALSE(key_is_empty(make_key(1e30f, 3)));
  EXPECT_EQ(key_dist(make_key(-3.25f, 9)), -3.25f);
  EXPECT_EQ(key_slot(make_key(-3.25f, 9)), 9u);
}

TEST(GpuRadixSelect, ChooseDigitFindsTheBucketOfTheNeedthKey) {
  uint32_t hist[kRadixBins] = {};
  hist[3] = 2;
  hist[10] = 5;
  hist[200] = 1;
  DigitChoice c = choose_digit(hist, 2);
  EXPECT_EQ(c.digit, 3u);
  EXPECT_EQ(c.before, 0u);
  EXPECT_TRUE(c.exact);
  c = choose_digit(hist, 4);
  EXPECT_EQ(c.digit, 10u);
  EXPECT_EQ(c.before, 2u);
  EXPECT_FALSE(c.exact);
  c = choose_digit(hist, 8);
  EXPECT_EQ(c.digit, 200u);
  EXPECT_TRUE(c.exact);
}

TEST(GpuRadixSelect, DistanceFromProductFollowsTheIndexConventions) {
  EXPECT_FLOAT_EQ(distance_from_product(true, 2.0f, 3.0f, 5.0f), 4.0f);  // 3 + 5 - 2*2
  EXPECT_EQ(distance_from_product(true, 4.0001f, 4.0f, 4.0f), 0.0f);     // clamped at 0
  EXPECT_FLOAT_EQ(distance_from_product(false, 0.25f, 0.0f, 0.0f), 0.75f);
}

std::vector<uint64_t> sorted_smallest(std::vector<uint64_t> keys, size_t k) {
  std::sort(keys.begin(), keys.end());
  keys.resize(k);
  return keys;
}

// Random distances with many exact ties (a few distinct values), so the low (slot) half of the
// key decides, and wide-range ones, for k up to 1024.
TEST(GpuRadixSelect, MatchesAFullSortForAnyK) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t n = 1 + rng() % 5000;
    const bool ties = trial % 2 == 0;
    std::vector<uint64_t> keys(n);
    std::uniform_real_distribution<float> wide(-100.0f, 100.0f);
    for (size_t i = 0; i < n; ++i) {
      const float d = ties ? static_cast<float>(rng() % 4) * 0.5f : wide(rng);
      keys[i] = make_key(d, static_cast<uint32_t>(i * 7919 % 1000003));
    }
    for (uint32_t k : {1u, 10u, 100u, 1024u}) {
      if (k > n) continue;
      EXPECT_EQ(radix_select_smallest(keys, k), sorted_smallest(keys, k))
          << "n=" << n << " k=" << k << " ties=" << ties;
    }
  }
}

// The device merges a running list with a tile, ignoring tile keys above the running k-th best.
TEST(GpuRadixSelect, FilterByRunningKthKeepsTheResult) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const uint32_t k = 100;
  std::vector<uint64_t> all;
  for (uint32_t i = 0; i < 3000; ++i) all.push_back(make_key(u(rng), i));
  std::vector<uint64_t> first(all.begin(), all.begin() + 1000);
  std::vector<uint64_t> running = radix_select_smallest(first, k);
  std::vector<uint64_t> merged = running;
  merged.insert(merged.end(), all.begin() + 1000, all.end());
  EXPECT_EQ(radix_select_smallest(merged, k, running.back()), sorted_smallest(all, k));
}

TEST(GpuRadixSelect, EmptyKeysAreSelectedOnlyWhenNeeded) {
  std::vector<uint64_t> keys = {empty_key(0), empty_key(1), make_key(2.0f, 5), empty_key(2),
                                make_key(1.0f, 9)};
  const std::vector<uint64_t> got = radix_select_smallest(keys, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], make_key(1.0f, 9));
  EXPECT_EQ(got[1], make_key(2.0f, 5));
  EXPECT_EQ(got[2], empty_key(0));
}

}  // namespace
}  // namespace vecperf::internal::gpu_select
