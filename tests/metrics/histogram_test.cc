// Histogram: bucket layout, percentiles against a sorted-array reference, concurrent recording
// and the Prometheus rendering.
#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace vecperf::internal {
namespace {

// Nearest-rank percentile of a sorted array: the definition Histogram::percentile follows.
double reference_percentile(const std::vector<uint64_t>& sorted, double p) {
  const auto rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))));
  return static_cast<double>(sorted[rank - 1]);
}

TEST(HistogramTest, BucketsTileTheRange) {
  uint64_t expected_lower = 0;
  for (int b = 0; b < Histogram::kBuckets - 1; ++b) {
    ASSERT_EQ(Histogram::bucket_lower(b), expected_lower) << b;
    ASSERT_EQ(Histogram::bucket_of(expected_lower), b);
    const uint64_t last = expected_lower + Histogram::bucket_width(b) - 1;
    ASSERT_EQ(Histogram::bucket_of(last), b);
    // Width is at most 1/16 of the values in the bucket.
    if (b >= 16) {
      ASSERT_LE(Histogram::bucket_width(b) * 16, expected_lower);
    }
    expected_lower += Histogram::bucket_width(b);
  }
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(HistogramTest, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0);
  EXPECT_EQ(h.summary().p99, 0);
}

TEST(HistogramTest, PercentilesMatchSortedReference) {
  std::mt19937_64 rng(7);
  std::vector<std::vector<uint64_t>> datasets;
  {
    std::uniform_int_distribution<uint64_t> u(0, 2'000'000);
    std::vector<uint64_t> v(20000);
    for (auto& x : v) x = u(rng);
    datasets.push_back(v);
  }
  {
    std::lognormal_distribution<double> ln(9.0, 1.5);  // latency-like: ~8 us median, long tail
    std::vector<uint64_t> v(20000);
    for (auto& x : v) x = static_cast<uint64_t>(ln(rng));
    datasets.push_back(v);
  }
  {
    std::uniform_int_distribution<uint64_t> u(0, 15);  // exact region
    std::vector<uint64_t> v(1000);
    for (auto& x : v) x = u(rng);
    datasets.push_back(v);
  }
  datasets.push_back(std::vector<uint64_t>(100, 123456));  // constant
  datasets.push_back({42});                                // single sample
  for (size_t d = 0; d < datasets.size(); ++d) {
    Histogram h;
    for (uint64_t x : datasets[d]) h.record(x);
    std::vector<uint64_t> sorted = datasets[d];
    std::sort(sorted.begin(), sorted.end());
    for (double p : {0.0, 1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
      const double ref = reference_percentile(sorted, p);
      const double got = h.percentile(p);
      // The estimate is the midpoint of the reference's bucket: within half a bucket width.
      EXPECT_LE(std::abs(got - ref), ref / 32.0 + 1e-9) << "dataset " << d << " p" << p;
    }
    const HistogramSummary s = h.summary();
    EXPECT_EQ(s.count, sorted.size());
    EXPECT_EQ(s.min, sorted.front());
    EXPECT_EQ(s.max, sorted.back());
    uint64_t sum = 0;
    for (uint64_t x : sorted) sum += x;
    EXPECT_EQ(s.sum, sum);
  }
}

TEST(HistogramTest, ConcurrentRecordingLosesNothing) {
  Histogram h;
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kPerThread; ++i) h.record(static_cast<uint64_t>(t * kPerThread + i));
    });
  }
  for (auto& th : threads) th.join();
  const uint64_t n = kThreads * kPerThread;
  const HistogramSummary s = h.summary();
  EXPECT_EQ(s.count, n);
  EXPECT_EQ(s.sum, n * (n - 1) / 2);
  EXPECT_EQ(s.min, 0u);
  EXPECT_EQ(s.max, n - 1);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
}

TEST(HistogramTest, PrometheusBucketsAreCumulativeAndExact) {
  Histogram h;
  for (int i = 0; i < 3; ++i) h.record(500);  // 0.5 us
  h.record(2000);                             // 2 us
  h.record(100'000'000'000ull);               // 100 s: only in +Inf
  const std::string text = h.render_prometheus_ns("vecperf_test_seconds", "Test.", "op=\"get\"");
  EXPECT_NE(text.find("# HELP vecperf_test_seconds Test.\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE vecperf_test_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("vecperf_test_seconds_bucket{op=\"get\",le=\"1.024e-06\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("vecperf_test_seconds_bucket{op=\"get\",le=\"4.096e-06\"} 4\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("vecperf_test_seconds_bucket{op=\"get\",le=\"+Inf\"} 5\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("vecperf_test_seconds_count{op=\"get\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("vecperf_test_seconds_sum{op=\"get\"} 100.0000035\n"), std::string::npos)
      << text;
  // No labels: no braces on sum/count.
  const std::string bare = h.render_prometheus_ns("x_seconds", "X.", "");
  EXPECT_NE(bare.find("x_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos) << bare;
  EXPECT_NE(bare.find("x_seconds_count 5\n"), std::string::npos) << bare;
}

}  // namespace
}  // namespace vecperf::internal
