// Tests of plan(), estimate_memory() and make_index(IndexPlan): the size rules, the memory
// fallbacks, workload validation, and that a planned IVF reaches its recall target.
#include "vecperf/factory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "build/plan_rules.h"
#include "testing/testing.h"

namespace vecperf {
namespace {

namespace rules = internal::rules;

Workload workload(int64_t n, int64_t dim = 128) {
  Workload w;
  w.expected_size = n;
  w.dim = dim;
  return w;
}

bool mentions(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(FactoryTest, SmallWorkloadIsFlat) {
  auto p = plan(workload(10'000));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->options.kind, IndexKind::kFlat);
  EXPECT_EQ(p->options.dim, 128);
  EXPECT_EQ(p->estimated_memory_bytes, estimate_memory(p->options, 10'000));
  EXPECT_TRUE(mentions(p->rationale, "size rule")) << p->rationale;
  EXPECT_TRUE(mentions(p->rationale, "N=10000 < 100000")) << p->rationale;
  EXPECT_TRUE(mentions(p->rationale, "flat")) << p->rationale;
}

TEST(FactoryTest, MediumWorkloadIsIvfWithNlistFourSqrtN) {
  auto p = plan(workload(500'000));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->options.kind, IndexKind::kIvf);
  EXPECT_EQ(p->options.ivf.encoding, IvfEncoding::kFlat);
  const double four_sqrt_n = 4.0 * std::sqrt(500'000.0);  // 2828.4
  EXPECT_NEAR(p->options.ivf.nlist, four_sqrt_n, 1.0);
  EXPECT_EQ(p->options.ivf.nprobe, rules::nprobe_for(0.95, p->options.ivf.nlist));
  EXPECT_GT(p->options.ivf.nprobe, 0);
  EXPECT_LT(p->options.ivf.nprobe, p->options.ivf.nlist);
  EXPECT_TRUE(p->options.validate().ok());
  EXPECT_TRUE(mentions(p->rationale, "size rule")) << p->rationale;
  EXPECT_TRUE(mentions(p->rationale, "-> ivf")) << p->rationale;
  EXPECT_TRUE(mentions(p->rationale, "nlist=" + std::to_string(p->options.ivf.nlist)))
      << p->rationale;
}

TEST(FactoryTest, LargeWorkloadIsHnsw) {
  auto p = plan(workload(5'000'000));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->options.kind, IndexKind::kHnsw);
  EXPECT_EQ(p->options.hnsw.M, 16);
  EXPECT_EQ(p->options.hnsw.ef_construction, 200);
  EXPECT_EQ(p->options.hnsw.ef_search, 128);
  EXPECT_TRUE(mentions(p->rationale, "N=5000000 > 1000000 -> hnsw")) << p->rationale;
}

TEST(FactoryTest, BoundariesFollowTheRuleTable) {
  EXPECT_EQ(plan(workload(rules::kFlatMax - 1))->options.kind, IndexKind::kFlat);
  EXPECT_EQ(plan(workload(rules::kFlatMax))->options.kind, IndexKind::kIvf);
  EXPECT_EQ(plan(workload(rules::kIvfMax))->options.kind, IndexKind::kIvf);
  EXPECT_EQ(plan(workload(rules::kIvfMax + 1))->options.kind, IndexKind::kHnsw);
}

TEST(FactoryTest, HigherRecallTargetsSearchHarder) {
  int last_nprobe = 0, last_ef = 0;
  for (double target : {0.5, 0.9, 0.95, 0.98, 0.99, 1.0}) {
    Workload ivf = workload(500'000);
    ivf.target_recall = target;
    Workload hnsw = workload(5'000'000);
    hnsw.target_recall = target;
    auto pi = plan(ivf);
    auto ph = plan(hnsw);
    ASSERT_TRUE(pi.ok() && ph.ok());
    EXPECT_GE(pi->options.ivf.nprobe, last_nprobe) << "target " << target;
    EXPECT_GE(ph->options.hnsw.ef_search, last_ef) << "target " << target;
    EXPECT_DOUBLE_EQ(pi->target_recall, target);
    last_nprobe = pi->options.ivf.nprobe;
    last_ef = ph->options.hnsw.ef_search;
  }
  // Recall 1.0 probes every list; targets above 0.95 raise ef_search above the default 128.
  EXPECT_EQ(last_nprobe, plan(workload(500'000))->options.ivf.nlist);
  Workload w = workload(5'000'000);
  w.target_recall = 0.99;
  EXPECT_GT(plan(w)->options.hnsw.ef_search, 128);
}

TEST(FactoryTest, TightBudgetFallsBackToSq8ThenPq) {
  const int64_t n = 500'000;
  auto unlimited = plan(workload(n));
  ASSERT_TRUE(unlimited.ok());

  // Between the SQ8 and float32 IVF sizes: SQ8, without rerank (the originals do not fit).
  Workload w = workload(n);
  w.memory_budget_bytes = unlimited->estimated_memory_bytes / 2;
  auto sq8 = plan(w);
  ASSERT_TRUE(sq8.ok()) << sq8.status().to_string();
  EXPECT_EQ(sq8->options.kind, IndexKind::kIvf);
  EXPECT_EQ(sq8->options.ivf.encoding, IvfEncoding::kSQ8);
  EXPECT_EQ(sq8->options.ivf.rerank, 0);
  EXPECT_LE(sq8->estimated_memory_bytes, w.memory_budget_bytes);
  EXPECT_TRUE(mentions(sq8->rationale, "memory rule")) << sq8->rationale;
  EXPECT_TRUE(mentions(sq8->rationale, "sq8")) << sq8->rationale;
  EXPECT_TRUE(sq8->options.validate().ok());

  // Below SQ8: PQ with the largest pq_m that divides dim and fits.
  w.memory_budget_bytes = sq8->estimated_memory_bytes / 2;
  auto pq = plan(w);
  ASSERT_TRUE(pq.ok()) << pq.status().to_string();
  EXPECT_EQ(pq->options.kind, IndexKind::kIvf);
  EXPECT_EQ(pq->options.ivf.encoding, IvfEncoding::kPQ);
  const int m = pq->options.ivf.pq_m;
  ASSERT_GE(m, 1);
  EXPECT_EQ(128 % m, 0);
  EXPECT_LE(pq->estimated_memory_bytes, w.memory_budget_bytes);
  IndexOptions bigger = pq->options;
  bigger.ivf.pq_m = m * 2;  // the next divisor of 128
  EXPECT_GT(estimate_memory(bigger, n), w.memory_budget_bytes);
  EXPECT_TRUE(pq->options.validate().ok());
  EXPECT_TRUE(mentions(pq->rationale, "pq_m=" + std::to_string(m))) << pq->rationale;

  // A large workload (HNSW by size) over budget also falls back to compressed IVF.
  Workload big = workload(5'000'000);
  big.memory_budget_bytes = size_t{1} << 30;
  auto fallback = plan(big);
  ASSERT_TRUE(fallback.ok()) << fallback.status().to_string();
  EXPECT_EQ(fallback->options.kind, IndexKind::kIvf);
  EXPECT_NE(fallback->options.ivf.encoding, IvfEncoding::kFlat);
  EXPECT_LE(fallback->estimated_memory_bytes, big.memory_budget_bytes);
}

TEST(FactoryTest, ImpossibleBudgetIsResourceExhausted) {
  Workload w = workload(500'000);
  w.memory_budget_bytes = 1 << 20;  // 1 MiB for 500K vectors
  auto p = plan(w);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(mentions(std::string(p.status().message()), "needs at least"))
      << p.status().to_string();
  // The minimum quoted is the PQ m=1 estimate, which is indeed over the budget.
  IndexOptions smallest = plan(workload(500'000))->options;
  smallest.ivf.encoding = IvfEncoding::kPQ;
  smallest.ivf.pq_m = 1;
  EXPECT_TRUE(mentions(std::string(p.status().message()),
                       std::to_string(estimate_memory(smallest, 500'000))))
      << p.status().to_string();
}

TEST(FactoryTest, InvalidWorkloadIsInvalidArgument) {
  auto code = [](Workload w) { return plan(w).status().code(); };
  Workload w = workload(1000, 16);
  EXPECT_TRUE(plan(w).ok());
  w.expected_size = 0;
  EXPECT_EQ(code(w), StatusCode::kInvalidArgument);
  w = workload(1000, 0);
  EXPECT_EQ(code(w), StatusCode::kInvalidArgument);
  w = workload(1000, 70'000);
  EXPECT_EQ(code(w), StatusCode::kInvalidArgument);
  w = workload(1000, 16);
  w.metric = static_cast<Metric>(7);
  EXPECT_EQ(code(w), StatusCode::kInvalidArgument);
  for (double bad : {0.0, -0.5, 1.01, std::numeric_limits<double>::quiet_NaN()}) {
    w = workload(1000, 16);
    w.target_recall = bad;
    EXPECT_EQ(code(w), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(FactoryTest, MemoryEstimatesFollowTheFormulas) {
  const int64_t n = 200'000, d = 128;
  const size_t ids = rules::kIdMapBytesPerVector;
  auto slack = [](size_t bytes) { return rules::with_growth_slack(bytes); };
  IndexOptions o;
  o.dim = d;
  EXPECT_EQ(estimate_memory(o, 0), 0u);
  EXPECT_EQ(estimate_memory(o, n), slack(size_t(n) * (d * 4 + rules::kFlatNormBytes + ids)));
  o.metric = Metric::kInnerProduct;  // no norms kept
  EXPECT_EQ(estimate_memory(o, n), slack(size_t(n) * (d * 4 + ids)));
  o.metric = Metric::kL2;

  o.kind = IndexKind::kHnsw;
  EXPECT_EQ(estimate_memory(o, n),
            slack(size_t(n) * (d * 4 + 16 * 2 * 4 + rules::kHnswOverheadBytes + ids)));

  o.kind = IndexKind::kIvf;
  o.ivf.nlist = 1000;
  const size_t fixed = rules::kIvfListIdBytes + rules::kIvfDirectMapBytes + ids;
  const size_t centroids = 2 * 1000 * d * 4;
  EXPECT_EQ(estimate_memory(o, n), slack(size_t(n) * (d * 4 + fixed) + centroids));
  o.ivf.encoding = IvfEncoding::kSQ8;
  EXPECT_EQ(estimate_memory(o, n), slack(size_t(n) * (d + fixed) + centroids));
  o.ivf.rerank = 50;  // keeps the float32 originals too
  EXPECT_EQ(estimate_memory(o, n), slack(size_t(n) * (d + d * 4 + fixed) + centroids));
  o.ivf.rerank = 0;
  o.ivf.encoding = IvfEncoding::kSQ4;
  EXPECT_EQ(estimate_memory(o, n), slack(size_t(n) * (d / 2 + fixed) + centroids));
  o.ivf.encoding = IvfEncoding::kPQ;
  o.ivf.pq_m = 16;
  const size_t codebooks = 256 * d * 4, tables = 1000 * 16 * 256 * 4;
  EXPECT_EQ(estimate_memory(o, n),
            slack(size_t(n) * (16 + fixed) + centroids + codebooks + tables));
  o.metric = Metric::kInnerProduct;  // no precomputed residual tables
  EXPECT_EQ(estimate_memory(o, n), slack(size_t(n) * (16 + fixed) + centroids + codebooks));

  // Compression orders the IVF encodings by size.
  o.metric = Metric::kL2;
  size_t last = std::numeric_limits<size_t>::max();
  for (IvfEncoding e : {IvfEncoding::kFlat, IvfEncoding::kSQ8, IvfEncoding::kSQ4}) {
    o.ivf.encoding = e;
    EXPECT_LT(estimate_memory(o, n), last);
    last = estimate_memory(o, n);
  }

  // Auto is estimated as the stage it is in at that size.
  IndexOptions a;
  a.kind = IndexKind::kAuto;
  a.dim = d;
  a.auto_index.flat_max = 1000;
  a.auto_index.ivf_max = 10'000;
  IndexOptions flat = a, hnsw = a;
  flat.kind = IndexKind::kFlat;
  hnsw.kind = IndexKind::kHnsw;
  EXPECT_EQ(estimate_memory(a, 500), estimate_memory(flat, 500));
  EXPECT_EQ(estimate_memory(a, 50'000), estimate_memory(hnsw, 50'000));
}

TEST(FactoryTest, MakeIndexFromPlanBuildsAWorkingIndex) {
  Workload w = workload(2000, 16);
  w.metric = Metric::kCosine;
  auto p = plan(w);
  ASSERT_TRUE(p.ok());
  auto index = make_index(*p);
  ASSERT_TRUE(index.ok()) << index.status().to_string();
  EXPECT_EQ((*index)->kind(), IndexKind::kFlat);
  EXPECT_EQ((*index)->metric(), Metric::kCosine);
  auto base = testing::clustered(2000, 16, 7);
  auto ids = testing::sequential_ids(2000);
  ASSERT_TRUE((*index)->add(ids, base.view()).ok());
  std::vector<float> dist(1);
  std::vector<int64_t> got(1);
  SearchOptions s;
  s.k = 1;
  ASSERT_TRUE((*index)->search(base.slice(123, 1), s, {dist.data(), got.data()}).ok());
  EXPECT_EQ(got[0], 123);

  IndexPlan broken = *p;
  broken.options.dim = 0;
  EXPECT_EQ(make_index(broken).status().code(), StatusCode::kInvalidArgument);
}

// The calibration check: the smallest workload planned as IVF (N = 100K), built on seeded
// clustered data with the planned nlist and nprobe, reaches recall@10 >= 0.95 against exact search.
TEST(FactoryTest, PlannedIvfReachesTargetRecall) {
  const int64_t n = rules::kFlatMax, d = 32, nq = 200;
  const int k = 10;
  Workload w = workload(n, d);
  auto p = plan(w);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->options.kind, IndexKind::kIvf);
  auto index = make_index(*p);
  ASSERT_TRUE(index.ok()) << index.status().to_string();
  auto base = testing::clustered(n, d, 11);
  auto queries = testing::clustered(nq, d, 12);
  auto ids = testing::sequential_ids(n);
  ASSERT_TRUE((*index)->add(ids, base.view()).ok());
  std::vector<float> dist(nq * k);
  std::vector<int64_t> got(nq * k);
  SearchOptions s;
  s.k = k;  // nprobe 0: the planned default
  ASSERT_TRUE((*index)->search(queries.view(), s, {dist.data(), got.data()}).ok());
  const double recall =
      testing::recall_at_k(got, testing::exact_knn(base, ids, queries, k, w.metric), nq, k);
  EXPECT_GE(recall, 0.95) << (*index)->describe();
}

}  // namespace
}  // namespace vecperf
