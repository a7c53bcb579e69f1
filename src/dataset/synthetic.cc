// Seeded clustered Gaussian data. The draw order (all centres from centre_seed, then per row a
// centre index followed by dim noise values from seed) is part of the contract: the test suites'
// recall thresholds were set on exactly these values, so any change here changes every test.
#include <cmath>
#include <random>
#include <vector>

#include "common/guarded.h"
#include "vecperf/dataset.h"

namespace vecperf {
namespace {

Status check_options(const ClusteredOptions& o) {
  if (o.rows < 0 || o.dim < 1)
    return Status::InvalidArgument("clustered data needs rows >= 0 and dim >= 1 (got rows=" +
                                   std::to_string(o.rows) + ", dim=" + std::to_string(o.dim) + ")");
  if (o.clusters < 1)
    return Status::InvalidArgument("clustered data needs clusters >= 1 (got " +
                                   std::to_string(o.clusters) + ")");
  if (!(o.spread > 0.0f) || !std::isfinite(o.spread))
    return Status::InvalidArgument("clustered data needs a finite spread > 0 (got " +
                                   std::to_string(o.spread) + ")");
  if (o.rows > INT64_MAX / o.dim || int64_t{o.clusters} > INT64_MAX / o.dim)
    return Status::InvalidArgument("clustered data: rows x dim overflows");
  return Status::OK();
}

}  // namespace

Status fill_clustered(const ClusteredOptions& o, Span<float> out) {
  VECPERF_RETURN_IF_ERROR(check_options(o));
  if (static_cast<uint64_t>(o.rows * o.dim) != out.size())
    return Status::InvalidArgument("fill_clustered: the output holds " +
                                   std::to_string(out.size()) + " floats, rows x dim is " +
                                   std::to_string(o.rows * o.dim));
  std::vector<float> centres;
  VECPERF_RETURN_IF_ERROR(internal::guarded_void("allocating the cluster centres", [&] {
    centres.resize(static_cast<size_t>(o.clusters * o.dim));
  }));
  std::mt19937_64 centre_rng(o.centre_seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& c : centres) c = uniform(centre_rng);

  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int> pick(0, o.clusters - 1);
  std::normal_distribution<float> noise(0.0f, o.spread);
  for (int64_t i = 0; i < o.rows; ++i) {
    const float* c = centres.data() + pick(rng) * o.dim;
    float* row = out.data() + i * o.dim;
    for (int64_t j = 0; j < o.dim; ++j) row[j] = c[j] + noise(rng);
  }
  return Status::OK();
}

Result<FloatMatrix> make_clustered(const ClusteredOptions& o) {
  VECPERF_RETURN_IF_ERROR(check_options(o));
  std::vector<float> values;
  VECPERF_RETURN_IF_ERROR(internal::guarded_void("allocating the clustered vectors", [&] {
    values.resize(static_cast<size_t>(o.rows * o.dim));
  }));
  VECPERF_RETURN_IF_ERROR(fill_clustered(o, values));
  return FloatMatrix::from_vector(std::move(values), o.rows, o.dim);
}

Result<FloatMatrix> make_clustered_queries(const ClusteredOptions& base, int64_t rows,
                                           uint64_t seed) {
  ClusteredOptions o = base;
  o.rows = rows;
  o.seed = seed;
  return make_clustered(o);
}

}  // namespace vecperf
