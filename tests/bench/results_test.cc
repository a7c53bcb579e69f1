// Pareto marking and the recommendation on hand-made points.
#include "vecperf_bench/results.h"

#include <gtest/gtest.h>

namespace vecperf::bench {
namespace {

RunPoint point(const std::string& engine, int value, double recall, double single_qps,
               double batch_qps, double p99_ms = 1.0) {
  RunPoint p;
  p.engine = engine;
  p.index = "ivf";
  p.knob = "nprobe";
  p.value = value;
  p.recall = recall;
  p.single_qps = single_qps;
  p.batch_qps = batch_qps;
  p.p99_ms = p99_ms;
  return p;
}

TEST(ParetoTest, MarksTheFrontierForEachQpsSeparately) {
  std::vector<RunPoint> v = {
      point("vecperf", 1, 0.50, 1000, 5000),  // fastest: optimal in both
      point("vecperf", 2, 0.70, 800, 3000),   // optimal single; batch beaten by the faiss point
      point("faiss", 2, 0.70, 700, 3500),     // dominated for single, optimal batch
      point("vecperf", 4, 0.60, 500, 2000),   // dominated by value 2 in both
      point("vecperf", 8, 0.99, 100, 400),    // best recall: optimal in both
  };
  mark_pareto(v);
  EXPECT_TRUE(v[0].pareto_single && v[0].pareto_batch);
  EXPECT_TRUE(v[1].pareto_single);
  EXPECT_FALSE(v[1].pareto_batch);
  EXPECT_FALSE(v[2].pareto_single);
  EXPECT_TRUE(v[2].pareto_batch);
  EXPECT_FALSE(v[3].pareto_single || v[3].pareto_batch);
  EXPECT_TRUE(v[4].pareto_single && v[4].pareto_batch);
}

TEST(ParetoTest, EqualPointsAreAllOptimal) {
  std::vector<RunPoint> v = {point("vecperf", 1, 0.9, 100, 100), point("faiss", 1, 0.9, 100, 100)};
  mark_pareto(v);
  EXPECT_TRUE(v[0].pareto_single && v[1].pareto_single);
}

TEST(RecommendTest, PicksTheFastestSettingOfTheEngineThatMeetsTheTarget) {
  std::vector<RunPoint> v = {
      point("vecperf", 4, 0.90, 3000, 1), point("vecperf", 8, 0.95, 2000, 1),
      point("vecperf", 16, 0.98, 1000, 1),
      point("faiss", 8, 0.96, 5000, 1),  // faster, but another engine
  };
  Recommendation r = recommend(v, "vecperf", 0.95, 0);
  ASSERT_TRUE(r.choice.has_value());
  EXPECT_EQ(*r.choice, 1u);
  EXPECT_NE(r.message.find("nprobe=8"), std::string::npos) << r.message;
}

TEST(RecommendTest, TiesGoToTheSmallerValue) {
  std::vector<RunPoint> v = {point("vecperf", 16, 0.99, 1000, 1),
                             point("vecperf", 8, 0.99, 1000, 1)};
  EXPECT_EQ(*recommend(v, "vecperf", 0.95, 0).choice, 1u);
}

TEST(RecommendTest, HonoursTheLatencyLimit) {
  std::vector<RunPoint> v = {point("vecperf", 8, 0.96, 2000, 1, /*p99_ms=*/5.0),
                             point("vecperf", 16, 0.97, 1500, 1, /*p99_ms=*/1.5)};
  EXPECT_EQ(*recommend(v, "vecperf", 0.95, 2.0).choice, 1u);
  Recommendation none = recommend(v, "vecperf", 0.95, 1.0);
  EXPECT_FALSE(none.choice.has_value());
  EXPECT_NE(none.message.find("p99"), std::string::npos) << none.message;
}

TEST(RecommendTest, SaysWhenNoSettingReachesTheTarget) {
  std::vector<RunPoint> v = {point("vecperf", 8, 0.80, 2000, 1), point("vecperf", 64, 0.91, 500, 1),
                             point("faiss", 64, 0.99, 500, 1)};
  Recommendation r = recommend(v, "vecperf", 0.95, 0);
  EXPECT_FALSE(r.choice.has_value());
  EXPECT_NE(r.message.find("0.9100"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("nprobe=64"), std::string::npos) << r.message;
  EXPECT_FALSE(recommend({}, "vecperf", 0.95, 0).choice.has_value());
}

TEST(RecommendTest, IgnoresPeerDefaultsRuns) {
  std::vector<RunPoint> v = {point("vecperf", 8, 0.96, 2000, 1)};
  v[0].defaults = true;
  EXPECT_FALSE(recommend(v, "vecperf", 0.95, 0).choice.has_value());
}

TEST(BestPerLabelTest, OnePointPerLabelInFirstSeenOrder) {
  std::vector<RunPoint> v = {point("faiss", 4, 0.97, 900, 1), point("vecperf", 4, 0.97, 2000, 1),
                             point("faiss", 8, 0.99, 700, 1), point("vecperf", 2, 0.90, 4000, 1),
                             point("hnswlib", 8, 0.50, 9000, 1)};
  v[4].index = "hnsw";
  const std::vector<size_t> best = best_per_label(v, 0.95, 0);
  ASSERT_EQ(best.size(), 2u);  // hnswlib never reaches the target
  EXPECT_EQ(best[0], 0u);
  EXPECT_EQ(best[1], 1u);
}

}  // namespace
}  // namespace vecperf::bench
