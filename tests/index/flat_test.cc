// Flat backend: results must equal the brute-force oracle (ties aside) on both search paths
// (SIMD scan for small batches, sgemm for large ones), for every metric and thread count, and
// stay right after removals (which move vectors between slots) and a save/load round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf {
namespace {

using testing::Matrix;

std::unique_ptr<Index> make_flat(int64_t dim, Metric metric) {
  IndexOptions o;
  o.kind = IndexKind::kFlat;
  o.dim = dim;
  o.metric = metric;
  auto r = make_index(o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(r).value();
}

// Double-precision distance in the API's units (see Metric).
double true_distance(const float* q, const float* x, int64_t d, Metric metric) {
  double l2 = 0, dot = 0, qq = 0, xx = 0;
  for (int64_t j = 0; j < d; ++j) {
    l2 += (double(q[j]) - x[j]) * (double(q[j]) - x[j]);
    dot += double(q[j]) * x[j];
    qq += double(q[j]) * q[j];
    xx += double(x[j]) * x[j];
  }
  if (metric == Metric::kL2) return l2;
  if (metric == Metric::kInnerProduct) return 1.0 - dot;
  return 1.0 - dot / std::sqrt(qq * xx);
}

struct Found {
  std::vector<int64_t> ids;
  std::vector<float> dists;
};

Found search(const Index& index, const Matrix& queries, int k, int threads) {
  Found f{std::vector<int64_t>(queries.rows * k), std::vector<float>(queries.rows * k)};
  SearchOptions so;
  so.k = k;
  so.num_threads = threads;
  Status s = index.search(queries.view(), so, SearchResults{f.dists.data(), f.ids.data()});
  EXPECT_TRUE(s.ok()) << s.to_string();
  return f;
}

// Checks `found` against testing::exact_knn. A slot may hold another id than the oracle's only
// when both are equally near within float rounding (a tie); reported distances must match the
// double-precision ones, and unfilled slots must be (+inf, -1).
void expect_exact(const Found& found, const std::vector<int64_t>& truth, const Matrix& base,
                  const std::vector<int64_t>& ids, const Matrix& queries, int k, Metric metric,
                  const std::string& what) {
  std::unordered_map<int64_t, int64_t> row_of;
  for (size_t i = 0; i < ids.size(); ++i) row_of[ids[i]] = static_cast<int64_t>(i);
  int mismatches = 0;
  for (int64_t qi = 0; qi < queries.rows; ++qi) {
    for (int j = 0; j < k; ++j) {
      const int64_t got = found.ids[qi * k + j], want = truth[qi * k + j];
      const float dist = found.dists[qi * k + j];
      if (want == kNoId) {
        EXPECT_EQ(got, kNoId) << what << " q=" << qi << " j=" << j;
        EXPECT_EQ(dist, std::numeric_limits<float>::infinity()) << what;
        continue;
      }
      ASSERT_TRUE(row_of.count(got)) << what << " q=" << qi << " j=" << j << " id " << got;
      const double d_got = true_distance(queries.row(qi), base.row(row_of[got]), base.dim, metric);
      const double d_want =
          true_distance(queries.row(qi), base.row(row_of[want]), base.dim, metric);
      const double tol = 1e-5 * (1.0 + std::fabs(d_want));
      if (got != want) {
        ++mismatches;
        EXPECT_NEAR(d_got, d_want, tol)
            << what << " q=" << qi << " j=" << j << ": got id " << got << ", oracle " << want;
      }
      EXPECT_NEAR(dist, d_got, 1e-4 * (1.0 + std::fabs(d_got))) << what << " q=" << qi;
      if (j > 0) {
        EXPECT_LE(found.dists[qi * k + j - 1], dist) << what << " not sorted, q=" << qi;
      }
    }
  }
  // Ties are rare on continuous data: a wholesale difference would be a bug, not a tie.
  EXPECT_LE(mismatches, queries.rows * k / 100 + 1) << what;
}

void expect_exact(const Found& found, const Matrix& base, const std::vector<int64_t>& ids,
                  const Matrix& queries, int k, Metric metric, const std::string& what) {
  expect_exact(found, testing::exact_knn(base, ids, queries, k, metric), base, ids, queries, k,
               metric, what);
}

const Metric kMetrics[] = {Metric::kL2, Metric::kInnerProduct, Metric::kCosine};

TEST(FlatTest, MatchesOracleOnBothPathsAllMetricsAndThreadCounts) {
  // 1 and 3 queries take the SIMD scan, 4 is the first batch size on the sgemm path, 300 spans
  // several sgemm query tiles.
  for (int64_t dim : {3, 17, 128}) {
    const Matrix base = testing::clustered(3000, dim, 1);
    const std::vector<int64_t> ids = testing::sequential_ids(base.rows, 1000);
    for (Metric metric : kMetrics) {
      auto index = make_flat(dim, metric);
      ASSERT_TRUE(index->add(ids, base.view()).ok());
      for (int64_t nq : {1, 3, 4, 16, 300}) {
        const Matrix queries = testing::clustered(nq, dim, 2);
        const std::vector<int64_t> truth = testing::exact_knn(base, ids, queries, 10, metric);
        for (int threads : {1, 2, 3}) {
          const std::string what = std::string(metric_name(metric)) +
                                   " dim=" + std::to_string(dim) + " nq=" + std::to_string(nq) +
                                   " threads=" + std::to_string(threads);
          expect_exact(search(*index, queries, 10, threads), truth, base, ids, queries, 10, metric,
                       what);
        }
      }
    }
  }
}

TEST(FlatTest, LargeBaseSplitAcrossThreadsForFewQueries) {
  // 10000 x 128 floats is 5 MB: enough for the base to be split across threads, both by the
  // SIMD scan (3 queries) and by the sgemm path (16 and 40 queries, fewer than a tile each).
  const Matrix base = testing::clustered(10000, 128, 3);
  const std::vector<int64_t> ids = testing::sequential_ids(base.rows, 7);
  for (Metric metric : kMetrics) {
    auto index = make_flat(128, metric);
    ASSERT_TRUE(index->add(ids, base.view()).ok());
    for (int64_t nq : {3, 16, 40}) {
      const Matrix queries = testing::clustered(nq, 128, 4);
      const std::vector<int64_t> truth = testing::exact_knn(base, ids, queries, 20, metric);
      for (int threads : {1, 2, 4}) {
        expect_exact(search(*index, queries, 20, threads), truth, base, ids, queries, 20, metric,
                     std::string(metric_name(metric)) + " nq=" + std::to_string(nq) +
                         " threads=" + std::to_string(threads));
      }
    }
  }
}

TEST(FlatTest, KLargerThanSizePadsOnBothPaths) {
  const Matrix base = testing::uniform(5, 16, 5);
  const std::vector<int64_t> ids = {40, 10, 30, 20, 50};
  for (Metric metric : kMetrics) {
    auto index = make_flat(16, metric);
    ASSERT_TRUE(index->add(ids, base.view()).ok());
    for (int64_t nq : {1, 40}) {
      const Matrix queries = testing::uniform(nq, 16, 6);
      Found f = search(*index, queries, 8, 2);
      expect_exact(f, base, ids, queries, 8, metric, "k>size nq=" + std::to_string(nq));
      for (int64_t qi = 0; qi < nq; ++qi)
        for (int j = 5; j < 8; ++j) EXPECT_EQ(f.ids[qi * 8 + j], kNoId);
    }
  }
}

TEST(FlatTest, RemoveThenSearchKeepsIdsRight) {
  const Matrix base = testing::clustered(2000, 24, 8);
  const std::vector<int64_t> ids = testing::sequential_ids(base.rows, 100);
  for (Metric metric : kMetrics) {
    auto index = make_flat(24, metric);
    ASSERT_TRUE(index->add(ids, base.view()).ok());
    // Remove a seeded random fifth, including the last slots, so that compaction moves vectors
    // both into holes and out of the tail.
    std::mt19937_64 rng(9);
    std::vector<int64_t> removed = {ids.back(), ids[ids.size() - 2], ids.front()};
    for (size_t i = 1; i + 2 < ids.size(); ++i)
      if (rng() % 5 == 0) removed.push_back(ids[i]);
    ASSERT_TRUE(index->remove(removed).ok());
    std::unordered_set<int64_t> gone(removed.begin(), removed.end());
    Matrix kept{0, 24, {}};
    std::vector<int64_t> kept_ids;
    for (int64_t i = 0; i < base.rows; ++i) {
      if (gone.count(ids[i])) continue;
      kept.data.insert(kept.data.end(), base.row(i), base.row(i) + 24);
      kept_ids.push_back(ids[i]);
      ++kept.rows;
    }
    ASSERT_EQ(index->size(), kept.rows);
    for (int64_t nq : {2, 64}) {
      const Matrix queries = testing::clustered(nq, 24, 10);
      expect_exact(search(*index, queries, 10, 2), kept, kept_ids, queries, 10, metric,
                   std::string("after remove ") + metric_name(metric));
    }
    // The moved vectors must also be returned by get_vector under their own ids.
    std::vector<float> v(24);
    ASSERT_TRUE(index->get_vector(kept_ids.back(), v.data()).ok());
    if (metric != Metric::kCosine) {
      EXPECT_EQ(v, std::vector<float>(kept.row(kept.rows - 1), kept.row(kept.rows - 1) + 24));
    }
  }
}

TEST(FlatTest, LoadedIndexSearchesExactlyOnTheSgemmPath) {
  // The sgemm path uses per-vector norms that are not in the file; loading must rebuild them.
  const Matrix base = testing::clustered(1500, 32, 11);
  const std::vector<int64_t> ids = testing::sequential_ids(base.rows);
  auto index = make_flat(32, Metric::kL2);
  ASSERT_TRUE(index->add(ids, base.view()).ok());
  const std::string path = ::testing::TempDir() + "/flat_test_norms.vpi";
  ASSERT_TRUE(index->save(path).ok());
  auto loaded = load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const Matrix queries = testing::clustered(50, 32, 12);
  expect_exact(search(**loaded, queries, 10, 2), base, ids, queries, 10, Metric::kL2, "loaded");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace vecperf
