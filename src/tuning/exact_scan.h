// Ground truth for tuning, computed from an index's own stored vectors: the exact neighbours of
// a query sample, and a seeded sample of the stored vectors to use as held-out queries.
#pragma once

#include <cstdint>
#include <vector>

#include "index/index_base.h"
#include "vecperf/status.h"

namespace vecperf::internal {

/// Stored vectors drawn as queries: ids[i] is the id of row i of `vectors` (rows x dim).
struct HeldOutSample {
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  int64_t rows() const { return static_cast<int64_t>(ids.size()); }
};

/// Draws min(size, index.size()) stored vectors uniformly without replacement (reservoir
/// sampling over one pass of for_each_vector, seeded, so the same index and seed give the same
/// sample). Errors: kResourceExhausted.
Result<HeldOutSample> sample_stored_vectors(const Index& index, int64_t size, uint64_t seed);

/// The exact k nearest ids of each query among the vectors stored in `index` (queries.rows x k,
/// row-major, nearest first, kNoId where the index holds fewer), in the index's metric. With
/// `exclude` (one id per query) that id is never a neighbour of its query.
///
/// The stored vectors are streamed through bounded blocks (kExactBlockBytes): each block is
/// loaded into a temporary Flat index, searched with the whole sample (batched BLAS) and merged,
/// so memory stays at about one block whatever the index size. Holds the index's read lock for
/// the whole scan. Errors: kInvalidArgument for a query the Flat backend rejects (e.g. a zero
/// vector under cosine); kResourceExhausted.
Result<std::vector<int64_t>> exact_neighbours(const Index& index, MatrixView queries, int k,
                                              const int64_t* exclude, int num_threads);

/// Upper bound of the block of stored vectors exact_neighbours() holds at a time.
inline constexpr int64_t kExactBlockBytes = int64_t{32} << 20;

}  // namespace vecperf::internal
