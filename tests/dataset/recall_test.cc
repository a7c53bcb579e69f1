// recall@k on hand-made cases: ties, padding, duplicates, k larger than the ground truth.
#include <random>

#include "dataset_test_util.h"
#include "testing/testing.h"

namespace vecperf::dataset_test {
namespace {

IntMatrix truth_of(std::vector<int64_t> ids, int64_t rows, int64_t cols) {
  return std::move(*IntMatrix::from_vector(std::move(ids), rows, cols));
}

double recall(const std::vector<int64_t>& found, int64_t k, const IntMatrix& truth) {
  Result<RecallStats> r = recall_at_k(found, k, truth);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r->recall : -1;
}

TEST(RecallTest, CountsCommonIdsWhateverTheirOrder) {
  const IntMatrix truth = truth_of({1, 2, 3, 4, 10, 11, 12, 13}, 2, 4);
  EXPECT_DOUBLE_EQ(recall({4, 3, 2, 1, 13, 12, 11, 10}, 4, truth), 1.0);
  EXPECT_DOUBLE_EQ(recall({1, 2, 8, 9, 10, 99, 98, 97}, 4, truth), (0.5 + 0.25) / 2);
  Result<RecallStats> r = recall_at_k(std::vector<int64_t>{1, 2, 8, 9, 10, 99, 98, 97}, 4, truth);
  EXPECT_EQ(r->k, 4);
  EXPECT_EQ(r->queries, 2);
}

TEST(RecallTest, NoIdNeverMatchesAndRepeatsCountOnce) {
  const IntMatrix truth = truth_of({1, 2, 3, 4}, 1, 4);
  EXPECT_DOUBLE_EQ(recall({1, -1, -1, -1}, 4, truth), 0.25);
  EXPECT_DOUBLE_EQ(recall({1, 1, 1, 1}, 4, truth), 0.25);
  // Padding in the truth (a base smaller than k) shrinks the denominator, and -1 in the results
  // does not match -1 in the truth.
  const IntMatrix padded = truth_of({7, 5, -1, -1}, 1, 4);
  EXPECT_DOUBLE_EQ(recall({5, 7, -1, -1}, 4, padded), 1.0);
  EXPECT_DOUBLE_EQ(recall({5, -1, -1, -1}, 4, padded), 0.5);
  EXPECT_DOUBLE_EQ(recall({-1, -1, -1, -1}, 4, truth_of({-1, -1, -1, -1}, 1, 4)), 1.0)
      << "nothing to find counts as found";
}

// k above the ground truth's width: evaluated at the width, using the first found ids.
TEST(RecallTest, KLargerThanTheGroundTruthIsEvaluatedAtItsWidth) {
  const IntMatrix truth = truth_of({1, 2, 3, 4, 5, 6}, 2, 3);
  Result<RecallStats> r = recall_at_k(std::vector<int64_t>{3, 9, 1, 2, 4, 5, 6, 9, 9, 9}, 5, truth);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->k, 3);
  // Query 0 looks at {3, 9, 1}: 2 of 3 (the 2 in slot 3 is beyond k = 3); query 1 at {5, 6, 9}.
  EXPECT_DOUBLE_EQ(r->recall, 2.0 / 3);
  // k below the width compares the first k of each.
  EXPECT_DOUBLE_EQ(recall({2, 1, 5, 4}, 2, truth), 1.0);
  EXPECT_DOUBLE_EQ(recall({3, 1, 6, 4}, 2, truth), 0.5);
}

TEST(RecallTest, Int32GroundTruthGivesTheSameAnswer) {
  const IntMatrix wide = truth_of({1, 2, 3, 4, 10, 11, 12, 13}, 2, 4);
  const IntMatrix narrow =
      std::move(*IntMatrix::from_vector(std::vector<int32_t>{1, 2, 3, 4, 10, 11, 12, 13}, 2, 4));
  const std::vector<int64_t> found = {1, 2, 8, 9, 10, 99, 98, 97};
  EXPECT_DOUBLE_EQ(recall(found, 4, wide), recall(found, 4, narrow));
}

TEST(RecallTest, AgreesWithTheTestHelperOnRandomResults) {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int64_t> id(-1, 30);
  const int64_t nq = 50, k = 10;
  std::vector<int64_t> truth_ids(nq * k), found(nq * k);
  for (int64_t q = 0; q < nq; ++q)
    for (int64_t j = 0; j < k; ++j) {
      truth_ids[q * k + j] = q * 100 + j;  // distinct per row, as real ground truth is
      found[q * k + j] = id(rng) < 15 ? q * 100 + (j + id(rng)) % 12 : kNoId;
    }
  // The helper counts repeated found ids each time; make them unique per row for a fair check.
  for (int64_t q = 0; q < nq; ++q)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < j; ++i)
        if (found[q * k + j] == found[q * k + i]) found[q * k + j] = kNoId;
  const IntMatrix truth = truth_of(truth_ids, nq, k);
  EXPECT_NEAR(recall(found, k, truth), testing::recall_at_k(found, truth_ids, nq, k), 1e-12);
}

TEST(RecallTest, MismatchedSizesAreInvalidArguments) {
  const IntMatrix truth = truth_of({1, 2, 3, 4}, 2, 2);
  EXPECT_EQ(recall_at_k(std::vector<int64_t>{1, 2, 3}, 2, truth).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(recall_at_k(std::vector<int64_t>{}, 0, truth).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(recall_at_k(std::vector<int64_t>{}, 2, IntMatrix()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RecallWithTiesTest, ANeighbourTiedWithTheKthCounts) {
  // True top-2 of one query: ids 1 (d=1.0) and 2 (d=2.0); id 3 is also at 2.0 (a tie).
  const IntMatrix truth = truth_of({1, 2}, 1, 2);
  const std::vector<float> truth_d = {1.0f, 2.0f};
  const MatrixView td{truth_d.data(), 1, 2};
  const std::vector<int64_t> found = {1, 3};
  EXPECT_DOUBLE_EQ(recall(found, 2, truth), 0.5) << "by id, 3 is a miss";
  auto tied = [&](std::vector<float> found_d, float eps = 1e-3f) {
    Result<RecallStats> r = recall_at_k_with_ties(found, found_d, 2, truth, td, eps);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r->recall : -1;
  };
  EXPECT_DOUBLE_EQ(tied({1.0f, 2.0f}), 1.0);
  EXPECT_DOUBLE_EQ(tied({1.0f, 2.0015f}), 1.0) << "within epsilon * max(1, |d_k|) = 0.002";
  EXPECT_DOUBLE_EQ(tied({1.0f, 2.003f}), 0.5);
  EXPECT_DOUBLE_EQ(tied({1.0f, 2.0015f}, 0.0f), 0.5);
}

TEST(RecallWithTiesTest, PaddingDuplicatesAndScale) {
  // Truth padded after one id: the threshold is the last real distance (3.0), not +inf.
  const IntMatrix truth = truth_of({4, -1, -1}, 1, 3);
  const std::vector<float> truth_d = {3.0f, INFINITY, INFINITY};
  const MatrixView td{truth_d.data(), 1, 3};
  auto tied = [&](std::vector<int64_t> found, std::vector<float> found_d) {
    Result<RecallStats> r = recall_at_k_with_ties(found, found_d, 3, truth, td);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r->recall : -1;
  };
  EXPECT_DOUBLE_EQ(tied({9, -1, -1}, {3.0f, 0.0f, 0.0f}), 1.0) << "9 is tied with 4";
  EXPECT_DOUBLE_EQ(tied({-1, -1, -1}, {0.0f, 0.0f, 0.0f}), 0.0) << "-1 never counts";
  EXPECT_DOUBLE_EQ(tied({8, 8, 8}, {5.0f, 5.0f, 5.0f}), 0.0);

  // Large squared-L2 distances: the tolerance scales with |d_k| (1e-3 * 50000 = 50).
  const IntMatrix t2 = truth_of({1, 2}, 1, 2);
  const std::vector<float> d2 = {40000.0f, 50000.0f};
  Result<RecallStats> r =
      recall_at_k_with_ties(std::vector<int64_t>{1, 7}, std::vector<float>{40000.0f, 50040.0f}, 2,
                            t2, MatrixView{d2.data(), 1, 2});
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->recall, 1.0);
}

TEST(RecallWithTiesTest, BadArgumentsAreRejected) {
  const IntMatrix truth = truth_of({1, 2}, 1, 2);
  const std::vector<float> d = {1.0f, 2.0f};
  const std::vector<int64_t> found = {1, 2};
  EXPECT_EQ(
      recall_at_k_with_ties(found, std::vector<float>{1.0f}, 2, truth, MatrixView{d.data(), 1, 2})
          .status()
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(recall_at_k_with_ties(found, d, 2, truth, MatrixView{d.data(), 2, 1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      recall_at_k_with_ties(found, d, 2, truth, MatrixView{d.data(), 1, 2}, -1.0f).status().code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vecperf::dataset_test
