// Test helpers: seeded data generators, a brute-force oracle and recall@k.
#pragma once

#include <cstdint>
#include <vector>

#include "vecperf/types.h"

namespace vecperf::testing {

/// Row-major `rows x dim` float32 matrix that owns its data.
struct Matrix {
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> data;

  MatrixView view() const { return MatrixView{data.data(), rows, dim}; }
  MatrixView slice(int64_t begin, int64_t count) const {
    return MatrixView{data.data() + begin * dim, count, dim};
  }
  const float* row(int64_t i) const { return data.data() + i * dim; }
};

/// Gaussian clusters: `clusters` centres uniform in [-1, 1]^dim, points centre + N(0, spread^2).
/// The same (n, dim, seed, clusters, spread) always gives the same data. Queries for a base set
/// should use another seed with the same clusters/spread and `centre_seed`.
Matrix clustered(int64_t n, int64_t dim, uint64_t seed, int clusters = 64, float spread = 0.15f,
                 uint64_t centre_seed = 42);

/// Uniform values in [-1, 1].
Matrix uniform(int64_t n, int64_t dim, uint64_t seed);

/// first, first+1, ..., first+n-1
std::vector<int64_t> sequential_ids(int64_t n, int64_t first = 0);

/// Exact k nearest ids (ties broken by smaller id) of each query among `base` (row i has id
/// ids[i]), computed in double precision with the metric's conventions (cosine normalises).
std::vector<int64_t> exact_knn(const Matrix& base, const std::vector<int64_t>& ids,
                               const Matrix& queries, int k, Metric metric);

/// Mean over queries of |found ∩ truth| / k, both `nq x k` row-major (kNoId entries never match).
double recall_at_k(const std::vector<int64_t>& found, const std::vector<int64_t>& truth, int64_t nq,
                   int k);

}  // namespace vecperf::testing
