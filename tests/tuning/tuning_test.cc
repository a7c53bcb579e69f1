// Tests of tune() and tune_held_out(): the chosen knob meets the target and is the smallest that
// does (both checked against an independent oracle, testing::exact_knn), unreachable targets and
// time budgets are reported, exact backends return at once, held-out queries do not count
// themselves, and the factory and the auto index tune what they build.
#include "vecperf/tuning.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "build/plan_rules.h"
#include "index/index_base.h"
#include "testing/testing.h"
#include "tuning/exact_scan.h"
#include "tuning/tuning_test_util.h"
#include "vecperf/factory.h"

namespace vecperf {
namespace {

using testing::build;
using testing::Matrix;
using testing::search_ids;
using testing::tune_data;

constexpr int kK = 10;
constexpr int64_t kIvfN = 20000;
constexpr int kNlist = 256;
constexpr int64_t kHnswN = 8000;
constexpr int64_t kQueries = 300;
// The tuner's exact neighbours come from float32 BLAS, the oracle's from double precision: a
// pair of neighbours equally far within float rounding may be ranked differently. One such
// flip in the sample is allowed.
constexpr double kRecallTolerance = 1.0 / (kQueries * kK);

// Recall@k at `options`, recomputed with the oracle.
double oracle_recall(const Index& index, const Matrix& base, const Matrix& queries,
                     SearchOptions options) {
  options.k = kK;
  const auto truth =
      testing::exact_knn(base, testing::sequential_ids(base.rows), queries, kK, index.metric());
  return testing::recall_at_k(search_ids(index, queries, options), truth, queries.rows, kK);
}

SearchOptions with_knob(const TuningResult& r, int value) {
  SearchOptions s;
  (r.knob == "nprobe" ? s.nprobe : s.ef_search) = value;
  return s;
}

// The checks every tuned backend must pass: target met, the reported recall is what the oracle
// measures at the value, and one step below misses the target.
void expect_smallest_meeting(const Index& index, const Matrix& base, const Matrix& queries,
                             const TuningResult& r) {
  EXPECT_TRUE(r.met_target) << r.message;
  EXPECT_TRUE(r.complete);
  EXPECT_GE(r.recall, r.target_recall);
  EXPECT_GE(r.value, r.min_value);
  EXPECT_LE(r.value, r.max_value);
  EXPECT_NEAR(oracle_recall(index, base, queries, with_knob(r, r.value)), r.recall,
              kRecallTolerance);
  ASSERT_GT(r.value, r.min_value) << "data too easy: the smallest value already meets the target";
  EXPECT_LT(oracle_recall(index, base, queries, with_knob(r, r.value - 1)), r.target_recall)
      << r.knob << " " << r.value - 1 << " also meets the target";
}

class TuneTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ivf_base_ = new Matrix(tune_data(kIvfN, 1));
    hnsw_base_ = new Matrix(tune_data(kHnswN, 2));
    queries_ = new Matrix(tune_data(kQueries, 3));
  }
  static void TearDownTestSuite() {
    delete ivf_base_;
    delete hnsw_base_;
    delete queries_;
  }
  static Matrix* ivf_base_;
  static Matrix* hnsw_base_;
  static Matrix* queries_;
};
Matrix* TuneTest::ivf_base_ = nullptr;
Matrix* TuneTest::hnsw_base_ = nullptr;
Matrix* TuneTest::queries_ = nullptr;

TEST_F(TuneTest, IvfReachesTargetWithTheSmallestNprobe) {
  auto index = build(testing::ivf_options(kNlist), *ivf_base_);
  ASSERT_NE(index, nullptr);
  auto r = tune(*index, queries_->view(), 0.9, kK);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->kind, IndexKind::kIvf);
  EXPECT_EQ(r->knob, "nprobe");
  EXPECT_EQ(r->min_value, 1);
  EXPECT_EQ(r->max_value, kNlist);
  EXPECT_EQ(r->sample_size, kQueries);
  EXPECT_FALSE(r->held_out);
  EXPECT_GT(r->evaluations, 1);
  expect_smallest_meeting(*index, *ivf_base_, *queries_, *r);
  // Applied: a search with nprobe 0 now uses the tuned value.
  EXPECT_TRUE(r->applied);
  EXPECT_EQ(index->default_search_options().nprobe, r->value);
  EXPECT_EQ(r->search_options.nprobe, r->value);
  EXPECT_NEAR(oracle_recall(*index, *ivf_base_, *queries_, SearchOptions{}), r->recall,
              kRecallTolerance);
  // Measured figures are filled in.
  EXPECT_EQ(r->latency_queries, 200);
  EXPECT_GT(r->latency_p50_ms, 0);
  EXPECT_GE(r->latency_p99_ms, r->latency_p50_ms);
  EXPECT_GT(r->batch_qps, 0);
  EXPECT_TRUE(r->message.empty()) << r->message;
}

TEST_F(TuneTest, HnswReachesTargetWithTheSmallestEfSearch) {
  auto index = build(testing::hnsw_options(), *hnsw_base_);
  ASSERT_NE(index, nullptr);
  TuningOptions o;
  o.num_threads = 2;
  auto r = tune(*index, queries_->view(), 0.95, kK, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->kind, IndexKind::kHnsw);
  EXPECT_EQ(r->knob, "ef_search");
  EXPECT_EQ(r->min_value, kK);
  EXPECT_EQ(r->max_value, 4096);
  expect_smallest_meeting(*index, *hnsw_base_, *queries_, *r);
  EXPECT_EQ(index->default_search_options().ef_search, r->value);
}

TEST_F(TuneTest, WithoutApplyTheDefaultsStay) {
  auto index = build(testing::ivf_options(kNlist), *ivf_base_);
  ASSERT_NE(index, nullptr);
  const int before = index->default_search_options().nprobe;
  TuningOptions o;
  o.apply = false;
  auto r = tune(*index, queries_->view(), 0.9, kK, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->applied);
  EXPECT_NE(r->value, before);
  EXPECT_EQ(index->default_search_options().nprobe, before);
}

TEST_F(TuneTest, UnreachableTargetIsReportedWithTheBestSetting) {
  auto index = build(testing::hnsw_options(), *hnsw_base_);
  ASSERT_NE(index, nullptr);
  TuningOptions o;
  o.max_ef_search = 16;  // far too small for recall 0.999 on this data
  auto r = tune(*index, queries_->view(), 0.999, kK, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->met_target);
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->value, 16);
  EXPECT_EQ(r->max_value, 16);
  EXPECT_LT(r->recall, 0.999);
  EXPECT_NE(r->message.find("out of reach"), std::string::npos) << r->message;
  EXPECT_NEAR(oracle_recall(*index, *hnsw_base_, *queries_, with_knob(*r, 16)), r->recall,
              kRecallTolerance);
  // The best setting is applied: the caller gets the highest recall available.
  EXPECT_EQ(index->default_search_options().ef_search, 16);
}

TEST_F(TuneTest, TimeBudgetStopsTheSearchAndSaysSo) {
  auto index = build(testing::ivf_options(kNlist), *ivf_base_);
  ASSERT_NE(index, nullptr);
  TuningOptions o;
  o.time_budget_seconds = 1e-9;  // spent before the first evaluation ends
  auto r = tune(*index, queries_->view(), 0.9, kK, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->evaluations, 1);
  EXPECT_EQ(r->value, 1);
  EXPECT_FALSE(r->met_target);  // nprobe 1 is far below 0.9 on this data
  EXPECT_NE(r->message.find("time budget"), std::string::npos) << r->message;
}

TEST_F(TuneTest, ProgressIsReportedPerEvaluation) {
  auto index = build(testing::ivf_options(kNlist), *ivf_base_);
  ASSERT_NE(index, nullptr);
  std::vector<std::pair<int64_t, int64_t>> calls;
  TuningOptions o;
  o.on_progress = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  auto r = tune(*index, queries_->view(), 0.9, kK, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(static_cast<int>(calls.size()), r->evaluations);
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, static_cast<int64_t>(i + 1));
    EXPECT_LE(calls[i].first, calls[i].second);
  }
}

TEST_F(TuneTest, FlatAndUntrainedIvfAreExactAndReturnAtOnce) {
  IndexOptions flat;
  flat.dim = testing::kTuneDim;
  auto index = build(flat, *hnsw_base_);
  ASSERT_NE(index, nullptr);
  auto r = tune(*index, queries_->view(), 0.99, kK);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->kind, IndexKind::kFlat);
  EXPECT_TRUE(r->knob.empty());
  EXPECT_EQ(r->recall, 1.0);
  EXPECT_TRUE(r->met_target);
  EXPECT_EQ(r->evaluations, 0);
  EXPECT_FALSE(r->applied);

  IndexOptions ivf = testing::ivf_options(kNlist);
  ivf.ivf.train_threshold = 2 * kHnswN;  // still buffering after the add
  auto untrained = build(ivf, *hnsw_base_);
  ASSERT_NE(untrained, nullptr);
  auto u = tune_held_out(*untrained, 0.99, kK);
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->kind, IndexKind::kIvf);
  EXPECT_TRUE(u->knob.empty());
  EXPECT_EQ(u->evaluations, 0);
  EXPECT_NE(u->message.find("not trained"), std::string::npos) << u->message;
  EXPECT_EQ(untrained->default_search_options().nprobe, kNlist / 4);
}

TEST_F(TuneTest, BadArgumentsAreInvalidArgument) {
  auto index = build(testing::hnsw_options(), testing::tune_data(200, 4));
  ASSERT_NE(index, nullptr);
  const auto q = queries_->view();
  auto code = [](const Result<TuningResult>& r) { return r.status().code(); };
  EXPECT_EQ(code(tune(*index, q, 0.0, kK)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tune(*index, q, 1.01, kK)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tune(*index, q, std::nan(""), kK)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tune(*index, q, 0.9, 0)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tune(*index, MatrixView{q.data, 0, q.dim}, 0.9, kK)),
            StatusCode::kInvalidArgument);
  Matrix wrong = testing::clustered(5, testing::kTuneDim + 1, 5);
  EXPECT_EQ(code(tune(*index, wrong.view(), 0.9, kK)), StatusCode::kInvalidArgument);
  Matrix nan = testing::tune_data(5, 6);
  nan.data[7] = std::nanf("");
  EXPECT_EQ(code(tune(*index, nan.view(), 0.9, kK)), StatusCode::kInvalidArgument);
  TuningOptions o;
  o.time_budget_seconds = -1;
  EXPECT_EQ(code(tune(*index, q, 0.9, kK, o)), StatusCode::kInvalidArgument);
  o = {};
  o.sample_size = 0;
  EXPECT_EQ(code(tune_held_out(*index, 0.9, kK, o)), StatusCode::kInvalidArgument);
  auto empty = make_index(testing::hnsw_options());
  ASSERT_TRUE(empty.ok());
  auto e = tune(**empty, q, 0.9, kK);
  EXPECT_EQ(code(e), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("empty"), std::string_view::npos);
}

// The exact scan agrees with the oracle, and with `exclude` never returns a query's own id.
TEST_F(TuneTest, ExactScanMatchesTheOracleAndExcludesOwnIds) {
  auto index = build(testing::hnsw_options(), *hnsw_base_);
  ASSERT_NE(index, nullptr);
  auto truth = internal::exact_neighbours(*index, queries_->view(), kK, nullptr, 0);
  ASSERT_TRUE(truth.ok()) << truth.status().to_string();
  const auto ids = testing::sequential_ids(kHnswN);
  const auto oracle = testing::exact_knn(*hnsw_base_, ids, *queries_, kK, Metric::kL2);
  EXPECT_GE(testing::recall_at_k(*truth, oracle, kQueries, kK), 1.0 - kRecallTolerance);

  // Queries that are stored vectors: without their own ids the answer is the oracle's k + 1
  // nearest minus the query itself.
  Matrix own{kQueries, testing::kTuneDim,
             std::vector<float>(hnsw_base_->data.begin(),
                                hnsw_base_->data.begin() + kQueries * testing::kTuneDim)};
  std::vector<int64_t> self = testing::sequential_ids(kQueries);
  auto held = internal::exact_neighbours(*index, own.view(), kK, self.data(), 0);
  ASSERT_TRUE(held.ok()) << held.status().to_string();
  const auto plus_one = testing::exact_knn(*hnsw_base_, ids, own, kK + 1, Metric::kL2);
  std::vector<int64_t> expected;
  for (int64_t q = 0; q < kQueries; ++q) {
    for (int j = 0; j <= kK; ++j) {
      const int64_t id = plus_one[q * (kK + 1) + j];
      if (id != q && static_cast<int>(expected.size()) < (q + 1) * kK) expected.push_back(id);
    }
    for (int j = 0; j < kK; ++j) EXPECT_NE((*held)[q * kK + j], q) << "query " << q;
  }
  EXPECT_GE(testing::recall_at_k(*held, expected, kQueries, kK), 1.0 - kRecallTolerance);
}

// Held-out tuning: recomputed on the same sample (same seed) with the query's own id removed
// from both the oracle's neighbours and the results, the recall is what the tuner reported.
TEST_F(TuneTest, HeldOutRecallExcludesTheQueryItself) {
  auto index = build(testing::ivf_options(kNlist), *ivf_base_);
  ASSERT_NE(index, nullptr);
  TuningOptions o;
  o.sample_size = kQueries;
  auto r = tune_held_out(*index, 0.9, kK, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->held_out);
  EXPECT_EQ(r->sample_size, kQueries);
  EXPECT_TRUE(r->met_target) << r->message;

  auto sample = internal::sample_stored_vectors(*index, kQueries, o.seed);
  ASSERT_TRUE(sample.ok());
  Matrix q{kQueries, testing::kTuneDim, sample->vectors};
  const auto oracle =
      testing::exact_knn(*ivf_base_, testing::sequential_ids(kIvfN), q, kK + 1, Metric::kL2);
  auto recall_at = [&](int nprobe) {
    SearchOptions s;
    s.k = kK + 1;
    s.nprobe = nprobe;
    const auto found = search_ids(*index, q, s);
    int64_t hits = 0;
    for (int64_t i = 0; i < kQueries; ++i) {
      std::vector<int64_t> truth, got;
      for (int j = 0; j <= kK; ++j) {
        if (oracle[i * (kK + 1) + j] != sample->ids[i] && truth.size() < kK)
          truth.push_back(oracle[i * (kK + 1) + j]);
        if (found[i * (kK + 1) + j] != sample->ids[i] && got.size() < kK)
          got.push_back(found[i * (kK + 1) + j]);
      }
      for (int64_t id : got) hits += std::count(truth.begin(), truth.end(), id);
    }
    return static_cast<double>(hits) / static_cast<double>(kQueries * kK);
  };
  EXPECT_NEAR(recall_at(r->value), r->recall, kRecallTolerance);
  ASSERT_GT(r->value, 1);
  EXPECT_LT(recall_at(r->value - 1), 0.9);
}

TEST(BuildTunedTest, BuildsReportsProgressAndTunesToThePlanTarget) {
  const Matrix base = tune_data(kIvfN, 7);
  IndexPlan p;
  p.options = testing::ivf_options(kNlist);
  p.options.ivf.nprobe = internal::rules::nprobe_for(0.9, kNlist);
  p.target_recall = 0.9;
  std::vector<std::pair<int64_t, int64_t>> progress;
  BuildOptions o;
  o.on_progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
  o.tuning.sample_size = 300;
  const auto ids = testing::sequential_ids(kIvfN);
  auto built = build_tuned(p, ids, base.view(), o);
  ASSERT_TRUE(built.ok()) << built.status().to_string();
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front(), std::make_pair(int64_t{0}, kIvfN));
  EXPECT_EQ(progress.back(), std::make_pair(kIvfN, kIvfN));
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GT(progress[i].first, progress[i - 1].first);
  EXPECT_EQ(built->index->size(), kIvfN);
  const TuningResult& t = built->tuning;
  EXPECT_TRUE(t.met_target) << t.message;
  EXPECT_TRUE(t.held_out);
  EXPECT_EQ(t.target_recall, 0.9);
  EXPECT_EQ(built->index->default_search_options().nprobe, t.value);
  // Fresh queries from the same distribution reach the target up to sampling noise.
  const Matrix queries = tune_data(kQueries, 8);
  EXPECT_GE(oracle_recall(*built->index, base, queries, SearchOptions{}), 0.9 - 0.03);

  EXPECT_EQ(build_tuned(p, std::span(ids).first(10), base.view(), o).status().code(),
            StatusCode::kInvalidArgument);
}

// An auto index tunes each stage it migrates to: the default knob moves away from the rule
// table's value and meets the target on fresh queries (up to sampling noise).
TEST(AutoTuningTest, EachMigrationTunesTheNewStage) {
  constexpr int64_t kFlatMax = 3000, kIvfMax = 6000;
  IndexOptions o;
  o.kind = IndexKind::kAuto;
  o.dim = testing::kTuneDim;
  o.auto_index.flat_max = kFlatMax;
  o.auto_index.ivf_max = kIvfMax;
  o.auto_index.target_recall = 0.9;
  o.auto_index.hnsw.M = 8;
  o.auto_index.hnsw.ef_construction = 64;
  auto made = make_index(o);
  ASSERT_TRUE(made.ok());
  Index& index = **made;
  const Matrix base = tune_data(kIvfMax + 1000, 9);
  const Matrix queries = tune_data(kQueries, 10);
  auto add_up_to = [&](int64_t from, int64_t to) {
    const auto ids = testing::sequential_ids(to - from, from);
    ASSERT_TRUE(index.add(ids, base.slice(from, to - from)).ok());
  };
  auto fresh_recall = [&](int64_t n) {
    Matrix prefix{n, base.dim,
                  std::vector<float>(base.data.begin(), base.data.begin() + n * base.dim)};
    return oracle_recall(index, prefix, queries, SearchOptions{});
  };

  add_up_to(0, kFlatMax);
  EXPECT_EQ(index.default_search_options().nprobe, 0);  // still flat
  add_up_to(kFlatMax, kFlatMax + 500);                  // migrates to IVF on this add
  const int nlist = internal::rules::derive_nlist(kFlatMax + 500);
  const int table = internal::rules::nprobe_for(0.9, nlist);
  const SearchOptions ivf = index.default_search_options();
  EXPECT_GT(ivf.nprobe, 0);
  EXPECT_NE(ivf.nprobe, table) << index.describe();
  EXPECT_GE(fresh_recall(kFlatMax + 500), 0.9 - 0.03) << index.describe();

  add_up_to(kFlatMax + 500, kIvfMax + 1000);  // migrates to HNSW
  const SearchOptions hnsw = index.default_search_options();
  EXPECT_EQ(hnsw.nprobe, 0);
  EXPECT_NE(hnsw.ef_search, internal::rules::ef_search_for(0.9)) << index.describe();
  EXPECT_GE(fresh_recall(kIvfMax + 1000), 0.9 - 0.03) << index.describe();
  EXPECT_EQ(index.describe().find("last_migration_error"), std::string::npos) << index.describe();
}

}  // namespace
}  // namespace vecperf
