// Every kernel table this CPU can run is checked against a double-precision reference, for
// dimensions that exercise each code path (below one vector, exact multiples, masked tails,
// several unrolled blocks) and row counts on both sides of the 8-row blocking.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "distance/distance.h"

namespace vecperf::internal {
namespace {

const size_t kDims[] = {1, 3, 7, 8, 15, 16, 17, 31, 64, 100, 128, 784, 1536};

std::vector<const DistanceKernels*> available() {
  std::vector<const DistanceKernels*> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
    if (const DistanceKernels* k = kernels_for(isa)) out.push_back(k);
  return out;
}

std::vector<float> random_vector(size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Reference value and a bound on its float rounding error (sum of |terms| times a few ulps).
struct Ref {
  double value;
  double tol;
};

Ref ref_l2(const float* a, const float* b, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return {s, 1e-5 * s + 1e-6};
}

Ref ref_dot(const float* a, const float* b, size_t d) {
  double s = 0, mag = 0;
  for (size_t i = 0; i < d; ++i) {
    s += double(a[i]) * b[i];
    mag += std::fabs(double(a[i]) * b[i]);
  }
  return {s, 1e-5 * mag + 1e-6};
}

TEST(KernelsTest, ScalarAlwaysAvailableAndTablesMatchTheirIsa) {
  ASSERT_NE(kernels_for(Isa::kScalar), nullptr);
  EXPECT_TRUE(cpu_supports(Isa::kScalar));
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    const DistanceKernels* k = kernels_for(isa);
    EXPECT_EQ(k != nullptr, cpu_supports(isa));
    if (k != nullptr) {
      EXPECT_EQ(k->isa, isa);
    }
  }
  // AVX-512 kernels use AVX2 too, so AVX-512 support implies AVX2 support.
  if (cpu_supports(Isa::kAvx512)) {
    EXPECT_TRUE(cpu_supports(Isa::kAvx2));
  }
}

TEST(KernelsTest, DispatchPicksTheBestAvailableUnlessCapped) {
  const char* cap = std::getenv("VECPERF_ISA");
  const Isa chosen = kernels().isa;
  if (cap == nullptr) {
    Isa best = cpu_supports(Isa::kAvx512) ? Isa::kAvx512
               : cpu_supports(Isa::kAvx2) ? Isa::kAvx2
                                          : Isa::kScalar;
    EXPECT_EQ(chosen, best);
  } else if (std::string(cap) == "scalar") {
    EXPECT_EQ(chosen, Isa::kScalar);
  } else if (std::string(cap) == "avx2") {
    EXPECT_NE(chosen, Isa::kAvx512);
  }
  EXPECT_TRUE(cpu_supports(chosen));
}

TEST(KernelsTest, PairKernelsMatchDoubleReference) {
  std::mt19937_64 rng(7);
  for (const DistanceKernels* k : available()) {
    for (size_t d : kDims) {
      for (int trial = 0; trial < 5; ++trial) {
        // Exact-size buffers: a kernel reading past the end shows up under ASan.
        std::vector<float> a = random_vector(d, rng), b = random_vector(d, rng);
        Ref l2 = ref_l2(a.data(), b.data(), d), dot = ref_dot(a.data(), b.data(), d);
        EXPECT_NEAR(k->l2sqr(a.data(), b.data(), d), l2.value, l2.tol) << k->name << " d=" << d;
        EXPECT_NEAR(k->dot(a.data(), b.data(), d), dot.value, dot.tol) << k->name << " d=" << d;
      }
      std::vector<float> a = random_vector(d, rng);
      EXPECT_EQ(k->l2sqr(a.data(), a.data(), d), 0.0f) << k->name << " d=" << d;
    }
  }
}

TEST(KernelsTest, ManyKernelsMatchDoubleReference) {
  std::mt19937_64 rng(11);
  const size_t kRows[] = {0, 1, 7, 8, 9, 16, 23};
  for (const DistanceKernels* k : available()) {
    for (size_t d : kDims) {
      for (size_t n : kRows) {
        std::vector<float> q = random_vector(d, rng), rows = random_vector(n * d, rng);
        // One guard slot past the n outputs must stay untouched.
        std::vector<float> l2(n + 1, -7.0f), dot(n + 1, -7.0f);
        k->l2sqr_many(q.data(), rows.data(), n, d, l2.data());
        k->dot_many(q.data(), rows.data(), n, d, dot.data());
        for (size_t r = 0; r < n; ++r) {
          Ref rl = ref_l2(q.data(), rows.data() + r * d, d);
          Ref rd = ref_dot(q.data(), rows.data() + r * d, d);
          const std::string where =
              std::string(k->name) + " d=" + std::to_string(d) + " n=" + std::to_string(n);
          EXPECT_NEAR(l2[r], rl.value, rl.tol) << where << " r=" << r;
          EXPECT_NEAR(dot[r], rd.value, rd.tol) << where << " r=" << r;
        }
        EXPECT_EQ(l2[n], -7.0f) << k->name << " wrote past n=" << n;
        EXPECT_EQ(dot[n], -7.0f) << k->name << " wrote past n=" << n;
      }
    }
  }
}

TEST(KernelsTest, ManyAgreesWithPairKernelOfTheSameIsa) {
  // The batched and pair kernels may sum in different orders, but both must land within float
  // rounding of each other, so a backend can mix them without changing rankings noticeably.
  std::mt19937_64 rng(13);
  for (const DistanceKernels* k : available()) {
    for (size_t d : {size_t{17}, size_t{128}, size_t{784}}) {
      const size_t n = 37;
      std::vector<float> q = random_vector(d, rng), rows = random_vector(n * d, rng);
      std::vector<float> l2(n), dot(n);
      k->l2sqr_many(q.data(), rows.data(), n, d, l2.data());
      k->dot_many(q.data(), rows.data(), n, d, dot.data());
      for (size_t r = 0; r < n; ++r) {
        const float* x = rows.data() + r * d;
        EXPECT_NEAR(l2[r], k->l2sqr(q.data(), x, d), ref_l2(q.data(), x, d).tol) << k->name;
        EXPECT_NEAR(dot[r], k->dot(q.data(), x, d), ref_dot(q.data(), x, d).tol) << k->name;
      }
    }
  }
}

}  // namespace
}  // namespace vecperf::internal
