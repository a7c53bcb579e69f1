// Scatter-gather: merging the top-k results of several indexes (shards) searched with the same
// queries into one global top-k. See docs/scaling.md.
#pragma once

#include <cstdint>

#include "vecperf/export.h"
#include "vecperf/index.h"
#include "vecperf/span.h"
#include "vecperf/status.h"

namespace vecperf {

/// One shard's answer for `nq` queries: `k` slots per query, row-major, nearest first, as
/// Index::search writes them (unfilled slots: id -1, distance +inf).
struct ShardResults {
  const float* distances = nullptr;
  const int64_t* ids = nullptr;
  int k = 0;
};

/// Writes the `k` nearest of all shards' candidates for each of `nq` queries into `out`
/// (`nq * k` slots each), nearest first. Distances of indexes with the same metric are comparable
/// (smaller is nearer), so for exact shards the result equals one exact search over the union.
/// Ties on distance are broken by the smaller id, so every router produces the same order. An id
/// found by several shards (replicated data) is kept once, at its smallest distance. Slots left
/// over when the shards hold fewer than k distinct ids are id -1, distance +inf.
/// Errors: kInvalidArgument for k < 1, nq < 0, null buffers, a shard with k < 1, or a NaN distance.
/// Thread-safety: a pure function of its arguments.
VECPERF_EXPORT Status merge_results(Span<const ShardResults> shards, int64_t nq, int k,
                                    SearchResults out);

}  // namespace vecperf
