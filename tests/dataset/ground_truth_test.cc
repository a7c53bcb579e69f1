// Ground truth: equal to the brute-force oracle, and its cache reused, verified and repaired.
#include <sys/stat.h>

#include <cmath>

#include "dataset_test_util.h"
#include "testing/testing.h"

namespace vecperf::dataset_test {
namespace {

using testing::Matrix;

// Distance in double precision with the library's conventions (see Metric).
double true_distance(const Matrix& base, int64_t id, const float* q, Metric metric) {
  const float* x = base.row(id);
  double l2 = 0, dot = 0, qq = 0, xx = 0;
  for (int64_t j = 0; j < base.dim; ++j) {
    l2 += (double(q[j]) - x[j]) * (double(q[j]) - x[j]);
    dot += double(q[j]) * x[j];
    qq += double(q[j]) * q[j];
    xx += double(x[j]) * x[j];
  }
  if (metric == Metric::kL2) return l2;
  if (metric == Metric::kInnerProduct) return 1.0 - dot;
  return 1.0 - dot / std::sqrt(qq * xx);
}

// Ids must equal the oracle's; where they differ, both candidates must be equally near within
// float rounding (a tie broken differently in float and in double).
void expect_matches_oracle(const GroundTruth& gt, const Matrix& base, const Matrix& queries, int k,
                           Metric metric) {
  const std::vector<int64_t> oracle =
      testing::exact_knn(base, testing::sequential_ids(base.rows), queries, k, metric);
  ASSERT_EQ(gt.ids.rows(), queries.rows);
  ASSERT_EQ(gt.ids.cols(), k);
  int differing = 0;
  for (int64_t q = 0; q < queries.rows; ++q)
    for (int j = 0; j < k; ++j) {
      const int64_t got = gt.ids.at(q, j), want = oracle[q * k + j];
      const double d_got = true_distance(base, got, queries.row(q), metric);
      EXPECT_NEAR(gt.distances.row(q)[j], d_got, 1e-4 * std::max(1.0, std::fabs(d_got)));
      if (got == want) continue;
      ++differing;
      const double d_want = true_distance(base, want, queries.row(q), metric);
      EXPECT_NEAR(d_got, d_want, 1e-5 * std::max(1.0, std::fabs(d_want)))
          << "query " << q << " slot " << j << ": " << got << " vs oracle " << want;
    }
  EXPECT_LE(differing, 2) << "more than a rare tie";
}

TEST(GroundTruthTest, EqualsTheOracleForEveryMetricAndThreadCount) {
  const Matrix base = testing::clustered(3000, 24, 1);
  const Matrix queries = testing::clustered(60, 24, 2);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine})
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(metric_name(metric)) + " threads=" + std::to_string(threads));
      GroundTruthOptions o;
      o.k = 10;
      o.metric = metric;
      o.num_threads = threads;
      Result<GroundTruth> gt = compute_ground_truth(base.view(), queries.view(), o);
      ASSERT_TRUE(gt.ok()) << gt.status().to_string();
      EXPECT_EQ(gt->ids.type(), IntType::kInt64);
      EXPECT_FALSE(gt->from_cache);
      expect_matches_oracle(*gt, base, queries, 10, metric);
    }
}

TEST(GroundTruthTest, KBeyondTheBaseIsPaddedAndBadInputsAreRejected) {
  const Matrix base = testing::clustered(5, 8, 3);
  const Matrix queries = testing::clustered(2, 8, 4);
  GroundTruthOptions o;
  o.k = 8;
  Result<GroundTruth> gt = compute_ground_truth(base.view(), queries.view(), o);
  ASSERT_TRUE(gt.ok()) << gt.status().to_string();
  for (int64_t q = 0; q < 2; ++q)
    for (int j = 5; j < 8; ++j) {
      EXPECT_EQ(gt->ids.at(q, j), kNoId);
      EXPECT_TRUE(std::isinf(gt->distances.row(q)[j]));
    }
  Result<GroundTruth> empty = compute_ground_truth(MatrixView{nullptr, 0, 8}, queries.view(), o);
  ASSERT_TRUE(empty.ok()) << empty.status().to_string();
  for (int64_t id : empty->ids.to_int64()) EXPECT_EQ(id, kNoId);
  o.k = 0;
  EXPECT_EQ(compute_ground_truth(base.view(), queries.view(), o).status().code(),
            StatusCode::kInvalidArgument);
  o.k = 3;
  const Matrix other_dim = testing::clustered(2, 9, 4);
  EXPECT_EQ(compute_ground_truth(base.view(), other_dim.view(), o).status().code(),
            StatusCode::kInvalidArgument);
  Matrix nan = queries;
  nan.data[3] = NAN;
  EXPECT_EQ(compute_ground_truth(base.view(), nan.view(), o).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cached_ground_truth(base.view(), queries.view(), o, "").status().code(),
            StatusCode::kInvalidArgument);
}

class GroundTruthCacheTest : public DatasetTest {
 protected:
  Matrix base_ = testing::clustered(800, 16, 5);
  Matrix queries_ = testing::clustered(20, 16, 6);

  Result<GroundTruth> cached(int k, const std::string& dir) {
    GroundTruthOptions o;
    o.k = k;
    return cached_ground_truth(base_.view(), queries_.view(), o, dir);
  }
};

void expect_same_truth(const GroundTruth& a, const GroundTruth& b) {
  EXPECT_EQ(a.ids.to_int64(), b.ids.to_int64());
  ASSERT_EQ(a.distances.rows() * a.distances.dim(), b.distances.rows() * b.distances.dim());
  EXPECT_EQ(std::memcmp(a.distances.data(), b.distances.data(),
                        static_cast<size_t>(a.distances.rows() * a.distances.dim()) * 4),
            0);
}

TEST_F(GroundTruthCacheTest, SecondCallReadsTheCacheFile) {
  Result<GroundTruth> first = cached(10, dir_.string());
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_FALSE(first->from_cache);
  EXPECT_TRUE(first->cache_status.ok()) << first->cache_status.to_string();
  EXPECT_TRUE(std::filesystem::exists(first->cache_path));
  EXPECT_EQ(std::filesystem::path(first->cache_path).parent_path(), dir_);

  Result<GroundTruth> second = cached(10, dir_.string());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(second->cache_path, first->cache_path);
  expect_same_truth(*first, *second);

  // Another k, metric or data is another key, hence another file.
  Result<GroundTruth> other_k = cached(5, dir_.string());
  ASSERT_TRUE(other_k.ok());
  EXPECT_FALSE(other_k->from_cache);
  EXPECT_NE(other_k->cache_path, first->cache_path);
  queries_.data[0] += 1.0f;
  Result<GroundTruth> other_data = cached(10, dir_.string());
  ASSERT_TRUE(other_data.ok());
  EXPECT_FALSE(other_data->from_cache);
  EXPECT_EQ(files_containing("vecperf-gt-"), 3u);
}

TEST_F(GroundTruthCacheTest, DamagedCacheFilesAreRecomputedAndReplaced) {
  Result<GroundTruth> fresh = cached(10, dir_.string());
  ASSERT_TRUE(fresh.ok());
  const std::string file = fresh->cache_path;
  const std::string good = slurp(file);

  std::string flipped = good;
  flipped[good.size() - 7] ^= 0x20;  // a distance byte: only the checksum can tell
  const std::string damages[] = {flipped, good.substr(0, good.size() / 2), "", "garbage"};
  for (const std::string& bad : damages) {
    spit(file, bad);
    Result<GroundTruth> again = cached(10, dir_.string());
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_FALSE(again->from_cache);
    EXPECT_EQ(again->cache_status.code(), StatusCode::kCorruption)
        << again->cache_status.to_string();
    expect_same_truth(*again, *fresh);
    Result<GroundTruth> repaired = cached(10, dir_.string());
    ASSERT_TRUE(repaired.ok());
    EXPECT_TRUE(repaired->from_cache) << "the recomputed result replaced the damaged file";
  }
}

// A valid cache file under the wrong name (copied or renamed) is foreign: its stored key differs.
TEST_F(GroundTruthCacheTest, AForeignCacheFileIsNotTrusted) {
  Result<GroundTruth> k5 = cached(5, dir_.string());
  Result<GroundTruth> k10 = cached(10, dir_.string());
  ASSERT_TRUE(k5.ok() && k10.ok());
  std::filesystem::copy_file(k5->cache_path, k10->cache_path,
                             std::filesystem::copy_options::overwrite_existing);
  Result<GroundTruth> again = cached(10, dir_.string());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->from_cache);
  expect_error(again->cache_status, StatusCode::kCorruption, {"other data"});
  expect_same_truth(*again, *k10);
}

TEST_F(GroundTruthCacheTest, CacheDirectoryIsCreatedAndWriteFailuresDoNotFailTheCall) {
  const std::string nested = path("a/b");
  Result<GroundTruth> gt = cached(4, nested);
  ASSERT_TRUE(gt.ok());
  EXPECT_TRUE(gt->cache_status.ok()) << gt->cache_status.to_string();
  EXPECT_TRUE(std::filesystem::exists(gt->cache_path));

  spit(path("file"), "x");  // a directory cannot be made under a regular file
  Result<GroundTruth> unwritable = cached(4, path("file/sub"));
  ASSERT_TRUE(unwritable.ok()) << unwritable.status().to_string();
  EXPECT_FALSE(unwritable->from_cache);
  EXPECT_FALSE(unwritable->cache_status.ok());
  expect_same_truth(*unwritable, *gt);
}

TEST(ExactDistancesTest, MatchTheGroundTruthAndRejectForeignIds) {
  const Matrix base = testing::clustered(300, 12, 7);
  const Matrix queries = testing::clustered(10, 12, 8);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    GroundTruthOptions o;
    o.k = 6;
    o.metric = metric;
    const GroundTruth gt = *compute_ground_truth(base.view(), queries.view(), o);
    std::vector<int64_t> ids = gt.ids.to_int64();
    ids[5] = kNoId;
    Result<std::vector<float>> d = exact_distances(base.view(), queries.view(), ids, 6, metric);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_TRUE(std::isinf((*d)[5]));
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i != 5) {
        EXPECT_NEAR((*d)[i], gt.distances.data()[i], 1e-4) << metric_name(metric);
      }
    }
    ids[0] = 300;
    EXPECT_EQ(exact_distances(base.view(), queries.view(), ids, 6, metric).status().code(),
              StatusCode::kInvalidArgument);
    ids.pop_back();
    EXPECT_EQ(exact_distances(base.view(), queries.view(), ids, 6, metric).status().code(),
              StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace vecperf::dataset_test
