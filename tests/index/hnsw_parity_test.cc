// Recall parity of vecperf's own HNSW graph with hnswlib's at equal parameters: the same
// level distribution from the same seed, the same neighbour-selection heuristic and insertion
// order (one thread), so recall@10 at equal ef_search must agree within 0.005 on seeded data.
// hnswlib is the oracle here, used through its public API only.
//
// hnswlib.h defines non-inline functions at global scope: this must stay the only file of the
// test binary that includes it.
#include <gtest/gtest.h>
#include <hnswlib/hnswlib.h>

#include <memory>
#include <vector>

#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::testing {
namespace {

constexpr int64_t kN = 8000, kDim = 24, kQueries = 1000;
constexpr int kK = 10, kM = 12, kEfConstruction = 80;
constexpr uint64_t kSeed = 100;

struct Recalls {
  std::vector<double> ours, theirs;
};

Recalls recalls(Metric metric, const std::vector<int>& efs) {
  const Matrix base = clustered(kN, kDim, 31);
  const Matrix queries = clustered(kQueries, kDim, 32);
  const auto ids = sequential_ids(kN);
  const auto truth = exact_knn(base, ids, queries, kK, metric);

  IndexOptions o;
  o.kind = IndexKind::kHnsw;
  o.dim = kDim;
  o.metric = metric;
  o.hnsw.M = kM;
  o.hnsw.ef_construction = kEfConstruction;
  o.hnsw.seed = kSeed;
  auto made = make_index(o);
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  Index& ours = **made;
  AddOptions one_thread;
  one_thread.num_threads = 1;
  EXPECT_TRUE(ours.add(ids, base.view(), one_thread).ok());

  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  if (metric == Metric::kL2)
    space = std::make_unique<hnswlib::L2Space>(kDim);
  else
    space = std::make_unique<hnswlib::InnerProductSpace>(kDim);
  hnswlib::HierarchicalNSW<float> theirs(space.get(), kN, kM, kEfConstruction, kSeed);
  for (int64_t i = 0; i < kN; ++i) theirs.addPoint(base.row(i), static_cast<size_t>(i));

  Recalls r;
  for (int ef : efs) {
    SearchOptions s;
    s.k = kK;
    s.ef_search = ef;
    std::vector<float> d(kQueries * kK);
    std::vector<int64_t> found(kQueries * kK);
    EXPECT_TRUE(ours.search(queries.view(), s, SearchResults{d.data(), found.data()}).ok());
    r.ours.push_back(recall_at_k(found, truth, kQueries, kK));

    theirs.setEf(static_cast<size_t>(ef));
    std::vector<int64_t> labels(kQueries * kK, kNoId);
    for (int64_t q = 0; q < kQueries; ++q) {
      auto top = theirs.searchKnn(queries.row(q), kK);
      for (int j = static_cast<int>(top.size()) - 1; j >= 0; --j, top.pop())
        labels[q * kK + j] = static_cast<int64_t>(top.top().second);
    }
    r.theirs.push_back(recall_at_k(labels, truth, kQueries, kK));
  }
  return r;
}

void expect_parity(Metric metric) {
#if defined(__SANITIZE_THREAD__)
  // hnswlib's addPoint holds the new node's lock while it takes its neighbours' (it cannot
  // deadlock: nodes are linked top level first), which ThreadSanitizer reports even on one
  // thread; this test is about recall, and vecperf's graph runs under TSan in the other tests.
  GTEST_SKIP() << "hnswlib's lock order is reported by ThreadSanitizer";
#endif
#if defined(__SANITIZE_ADDRESS__)
  // Debian's hnswlib 0.6.2 prefetches one neighbour past the end of each list it scans
  // (searchBaseLayer, `*(datal + j + 1)`), a read AddressSanitizer reports as a heap overflow in
  // the oracle, not in vecperf; vecperf's graph runs under ASan in the other tests.
  GTEST_SKIP() << "hnswlib 0.6.2's prefetch past a neighbour list is reported by AddressSanitizer";
#endif
  const std::vector<int> efs = {10, 20, 40};
  const Recalls r = recalls(metric, efs);
  for (size_t i = 0; i < efs.size(); ++i) {
    EXPECT_NEAR(r.ours[i], r.theirs[i], 0.005)
        << metric_name(metric) << " ef_search=" << efs[i] << ": vecperf " << r.ours[i]
        << ", hnswlib " << r.theirs[i];
    // The comparison is only meaningful where recall is not saturated.
    if (i == 0) {
      EXPECT_LT(r.theirs[i], 0.995) << metric_name(metric);
    }
  }
}

TEST(HnswParityTest, RecallMatchesHnswlibL2) { expect_parity(Metric::kL2); }
TEST(HnswParityTest, RecallMatchesHnswlibInnerProduct) { expect_parity(Metric::kInnerProduct); }

}  // namespace
}  // namespace vecperf::testing
