// Scatter-gather merge: hand-made lists, and sharded exact search equal to one exact search.
#include "vecperf/merge.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "testing/testing.h"
#include "vecperf/options.h"

namespace vecperf {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(MergeResultsTest, MergesSortedListsNearestFirstWithIdTieBreak) {
  // Two queries, two shards of k = 3.
  std::vector<float> d0 = {0.1f, 0.5f, 0.9f, /*q1*/ 2.0f, 3.0f, kInf};
  std::vector<int64_t> i0 = {10, 11, 12, /*q1*/ 20, 21, kNoId};
  std::vector<float> d1 = {0.2f, 0.5f, 0.6f, /*q1*/ 1.0f, kInf, kInf};
  std::vector<int64_t> i1 = {30, 5, 31, /*q1*/ 40, kNoId, kNoId};
  std::vector<ShardResults> shards = {{d0.data(), i0.data(), 3}, {d1.data(), i1.data(), 3}};
  std::vector<float> d(2 * 4);
  std::vector<int64_t> ids(2 * 4);
  ASSERT_TRUE(merge_results(shards, 2, 4, {d.data(), ids.data()}).ok());
  EXPECT_EQ(ids, (std::vector<int64_t>{10, 30, 5, 11, /*q1*/ 40, 20, 21, kNoId}));
  EXPECT_EQ(d[2], 0.5f);  // id 5 beats id 11 at the same distance
  EXPECT_EQ(d[7], kInf);
}

TEST(MergeResultsTest, ReplicatedIdKeptOnceAtItsSmallestDistance) {
  std::vector<float> d0 = {0.3f, 0.4f};
  std::vector<int64_t> i0 = {7, 8};
  std::vector<float> d1 = {0.1f, 0.35f};
  std::vector<int64_t> i1 = {9, 7};
  std::vector<ShardResults> shards = {{d0.data(), i0.data(), 2}, {d1.data(), i1.data(), 2}};
  std::vector<float> d(3);
  std::vector<int64_t> ids(3);
  ASSERT_TRUE(merge_results(shards, 1, 3, {d.data(), ids.data()}).ok());
  EXPECT_EQ(ids, (std::vector<int64_t>{9, 7, 8}));
  EXPECT_FLOAT_EQ(d[1], 0.3f);
}

TEST(MergeResultsTest, RejectsBadArguments) {
  std::vector<float> d = {0.1f, NAN};
  std::vector<int64_t> i = {1, 2};
  std::vector<float> od(2);
  std::vector<int64_t> oi(2);
  std::vector<ShardResults> nan_shard = {{d.data(), i.data(), 2}};
  EXPECT_EQ(merge_results(nan_shard, 1, 2, {od.data(), oi.data()}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(merge_results(nan_shard, 1, 0, {od.data(), oi.data()}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(merge_results(nan_shard, 1, 2, {nullptr, oi.data()}).code(),
            StatusCode::kInvalidArgument);
  std::vector<ShardResults> bad_k = {{d.data(), i.data(), 0}};
  EXPECT_EQ(merge_results(bad_k, 1, 2, {od.data(), oi.data()}).code(),
            StatusCode::kInvalidArgument);
  // No shards at all: every slot is unfilled.
  ASSERT_TRUE(merge_results({}, 1, 2, {od.data(), oi.data()}).ok());
  EXPECT_EQ(oi, (std::vector<int64_t>{kNoId, kNoId}));
}

TEST(MergeResultsTest, ShardedExactSearchEqualsOneExactSearch) {
  const int64_t n = 3000, dim = 24, nq = 40;
  const int k = 10, num_shards = 3;
  const auto base = testing::clustered(n, dim, 1);
  const auto queries = testing::clustered(nq, dim, 2);
  const auto ids = testing::sequential_ids(n);
  IndexOptions o;
  o.kind = IndexKind::kFlat;
  o.dim = dim;
  std::vector<std::unique_ptr<Index>> shards;
  for (int s = 0; s < num_shards; ++s) shards.push_back(std::move(make_index(o).value()));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = ids[i];
    ASSERT_TRUE(shards[id % num_shards]->add(IdSpan(&ids[i], 1), base.slice(i, 1)).ok());
  }
  SearchOptions so;
  so.k = k;
  std::vector<std::vector<float>> d(num_shards, std::vector<float>(nq * k));
  std::vector<std::vector<int64_t>> l(num_shards, std::vector<int64_t>(nq * k));
  std::vector<ShardResults> parts;
  for (int s = 0; s < num_shards; ++s) {
    ASSERT_TRUE(shards[s]->search(queries.view(), so, {d[s].data(), l[s].data()}).ok());
    parts.push_back({d[s].data(), l[s].data(), k});
  }
  std::vector<float> md(nq * k);
  std::vector<int64_t> mi(nq * k);
  ASSERT_TRUE(merge_results(parts, nq, k, {md.data(), mi.data()}).ok());
  EXPECT_EQ(mi, testing::exact_knn(base, ids, queries, k, Metric::kL2));
  for (int64_t j = 1; j < nq * k; ++j)
    if (j % k != 0) {
      EXPECT_LE(md[j - 1], md[j]);
    }
}

}  // namespace
}  // namespace vecperf
