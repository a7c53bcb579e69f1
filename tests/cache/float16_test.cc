// float16 conversion: every half value round-trips, and float -> half rounding matches the
// compiler's own _Float16 conversion (round to nearest even) on edge and random values.
#include "cache/float16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

namespace vecperf::internal {
namespace {

TEST(Float16Test, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    const bool nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
    if (nan) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_TRUE(std::isnan(half_to_float(float_to_half(f))));
    } else {
      ASSERT_EQ(float_to_half(f), h) << h;
      ASSERT_EQ(static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(h))), f) << h;
    }
  }
}

#if defined(__FLT16_MAX__)
TEST(Float16Test, RoundingMatchesCompilerConversion) {
  auto check = [](float x) {
    const auto want = std::bit_cast<uint16_t>(static_cast<_Float16>(x));
    ASSERT_EQ(float_to_half(x), want) << x;
  };
  for (float x :
       {0.0f, -0.0f, 1.0f, 65504.0f, 65519.0f, 65520.0f, 1e9f, 6.1035156e-5f, 5.9604645e-8f,
        2.9802322e-8f, 2.98023259e-8f, 1e-10f, std::numeric_limits<float>::infinity()}) {
    check(x);
    check(-x);
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns across the whole float range, NaN excluded.
    const float x = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (!std::isnan(x)) check(x);
  }
}
#endif

}  // namespace
}  // namespace vecperf::internal
