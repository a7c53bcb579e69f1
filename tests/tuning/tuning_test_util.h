// Shared fixtures of the tuning tests: seeded clustered data whose recall grows gradually with
// the knobs (overlapping clusters, so that the tuned values are well inside their ranges), the
// indexes built on it, and recall recomputed independently of the tuner.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::testing {

inline constexpr int64_t kTuneDim = 32;
inline constexpr int kTuneClusters = 64;
// Wide clusters overlap, so that neighbours spread over several IVF lists and HNSW needs a
// real ef: the tuned knobs then land well inside their ranges rather than at the bottom.
inline constexpr float kTuneSpread = 0.6f;

inline Matrix tune_data(int64_t n, uint64_t seed) {
  return clustered(n, kTuneDim, seed, kTuneClusters, kTuneSpread);
}

inline IndexOptions ivf_options(int nlist) {
  IndexOptions o;
  o.kind = IndexKind::kIvf;
  o.dim = kTuneDim;
  o.ivf.nlist = nlist;
  o.ivf.nprobe = nlist / 4;
  return o;
}

inline IndexOptions hnsw_options() {
  IndexOptions o;
  o.kind = IndexKind::kHnsw;
  o.dim = kTuneDim;
  o.hnsw.M = 8;
  o.hnsw.ef_construction = 64;
  o.hnsw.ef_search = 200;
  return o;
}

/// make_index + add of `base` with ids 0..n-1; fails the test on error.
inline std::unique_ptr<Index> build(const IndexOptions& o, const Matrix& base) {
  auto made = make_index(o);
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  if (!made.ok()) return nullptr;
  Status s = (*made)->add(sequential_ids(base.rows), base.view());
  EXPECT_TRUE(s.ok()) << s.to_string();
  return std::move(*made);
}

/// Ids found by `index` for `queries` with `options` (queries.rows x options.k).
inline std::vector<int64_t> search_ids(const Index& index, const Matrix& queries,
                                       const SearchOptions& options) {
  std::vector<float> dist(static_cast<size_t>(queries.rows * options.k));
  std::vector<int64_t> ids(dist.size());
  Status s = index.search(queries.view(), options, {dist.data(), ids.data()});
  EXPECT_TRUE(s.ok()) << s.to_string();
  return ids;
}

}  // namespace vecperf::testing
