// search_batch() and its BatchReport, on CPU indexes (the device-memory figure is 0 there).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "testing/testing.h"
#include "vecperf/options.h"
#include "vecperf/report.h"

namespace vecperf {
namespace {

using testing::Matrix;

std::unique_ptr<Index> filled(IndexKind kind, const Matrix& base) {
  IndexOptions o;
  o.kind = kind;
  o.dim = base.dim;
  auto index = make_index(o);
  EXPECT_TRUE(index.ok());
  EXPECT_TRUE((*index)->add(testing::sequential_ids(base.rows), base.view()).ok());
  return std::move(*index);
}

class BatchReportTest : public ::testing::TestWithParam<IndexKind> {
 protected:
  const Matrix base_ = testing::clustered(3000, 24, 1);
  const Matrix queries_ = testing::clustered(257, 24, 2);
};

TEST_P(BatchReportTest, BatchedResultsEqualOneSearch) {
  auto index = filled(GetParam(), base_);
  SearchOptions o;
  o.k = 7;
  std::vector<float> d1(queries_.rows * 7), d2(d1.size());
  std::vector<int64_t> i1(d1.size()), i2(d1.size());
  ASSERT_TRUE(index->search(queries_.view(), o, {d1.data(), i1.data()}).ok());
  BatchOptions b;
  b.batch_size = 50;
  BatchReport r;
  ASSERT_TRUE(search_batch(*index, queries_.view(), o, {d2.data(), i2.data()}, b, &r).ok());
  EXPECT_EQ(i1, i2);
  // The Flat backend picks its kernel by batch size, so distances may differ in the last bits.
  for (size_t i = 0; i < d1.size(); ++i) EXPECT_NEAR(d1[i], d2[i], 1e-5f * (1 + d1[i])) << i;
  EXPECT_EQ(r.queries, 257);
  EXPECT_EQ(r.k, 7);
  EXPECT_EQ(r.batches, 6);  // 5 x 50 + 7
  EXPECT_GT(r.wall_seconds, 0);
  EXPECT_GT(r.qps, 0);
  EXPECT_GT(r.batch_p50_ms, 0);
  EXPECT_LE(r.batch_p50_ms, r.batch_p95_ms);
  EXPECT_LE(r.batch_p95_ms, r.batch_p99_ms);
  EXPECT_EQ(r.device_memory_bytes, 0u);
  EXPECT_FALSE(r.has_recall);
}

INSTANTIATE_TEST_SUITE_P(CpuBackends, BatchReportTest,
                         ::testing::Values(IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvf),
                         [](const auto& info) { return std::string(index_kind_name(info.param)); });

TEST(BatchReport, RecallAgainstGroundTruth) {
  const Matrix base = testing::uniform(1000, 8, 3);
  const Matrix q = testing::uniform(40, 8, 4);
  auto index = filled(IndexKind::kFlat, base);
  auto truth_ids = testing::exact_knn(base, testing::sequential_ids(base.rows), q, 10, Metric::kL2);
  auto truth = IntMatrix::from_vector(truth_ids, q.rows, 10);
  ASSERT_TRUE(truth.ok());
  SearchOptions o;
  o.k = 10;
  std::vector<float> d(q.rows * 10);
  std::vector<int64_t> ids(d.size());
  BatchOptions b;
  b.ground_truth = &*truth;
  BatchReport r;
  ASSERT_TRUE(search_batch(*index, q.view(), o, {d.data(), ids.data()}, b, &r).ok());
  EXPECT_EQ(r.batches, 1);
  EXPECT_TRUE(r.has_recall);
  EXPECT_EQ(r.recall_k, 10);
  EXPECT_DOUBLE_EQ(r.recall, 1.0);
  EXPECT_NE(r.to_string().find("recall@10 1.0000"), std::string::npos) << r.to_string();

  // A wrong neighbour list lowers the recall: every query's truth shifted by one query.
  std::vector<int64_t> shifted(truth_ids.begin() + 10, truth_ids.end());
  shifted.insert(shifted.end(), truth_ids.begin(), truth_ids.begin() + 10);
  auto wrong = IntMatrix::from_vector(shifted, q.rows, 10);
  b.ground_truth = &*wrong;
  ASSERT_TRUE(search_batch(*index, q.view(), o, {d.data(), ids.data()}, b, &r).ok());
  EXPECT_LT(r.recall, 0.5);
}

TEST(BatchReport, BadArgumentsAreReported) {
  const Matrix base = testing::uniform(100, 4, 5);
  auto index = filled(IndexKind::kFlat, base);
  SearchOptions o;
  std::vector<float> d(100 * 10);
  std::vector<int64_t> ids(d.size());
  BatchOptions b;
  BatchReport r;
  b.batch_size = -1;
  EXPECT_EQ(search_batch(*index, base.view(), o, {d.data(), ids.data()}, b, &r).code(),
            StatusCode::kInvalidArgument);
  b.batch_size = 10;
  EXPECT_EQ(search_batch(*index, base.view(), o, {nullptr, ids.data()}, b, &r).code(),
            StatusCode::kInvalidArgument);
  auto truth = IntMatrix::from_vector(std::vector<int64_t>(3, 0), 3, 1);
  b.ground_truth = &*truth;
  EXPECT_EQ(search_batch(*index, base.view(), o, {d.data(), ids.data()}, b, &r).code(),
            StatusCode::kInvalidArgument);
  b.ground_truth = nullptr;
  // The index's own validation: a wrong dimension.
  const Matrix wrong = testing::uniform(3, 5, 6);
  EXPECT_EQ(search_batch(*index, wrong.view(), o, {d.data(), ids.data()}, b, &r).code(),
            StatusCode::kInvalidArgument);
  // No queries: one (empty) call, a report of zero queries.
  ASSERT_TRUE(search_batch(*index, base.slice(0, 0), o, {d.data(), ids.data()}, b, &r).ok());
  EXPECT_EQ(r.queries, 0);
  EXPECT_EQ(r.batches, 1);
  EXPECT_EQ(r.qps, 0);
}

}  // namespace
}  // namespace vecperf
