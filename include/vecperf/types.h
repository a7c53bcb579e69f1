// Basic value types shared by the index, the cache and the factory.
#pragma once

#include <cstdint>
#include <string>

#include "vecperf/export.h"
#include "vecperf/span.h"
#include "vecperf/status.h"

namespace vecperf {

/// Distance used by an index. Every index reports *distances*: smaller is nearer, results are
/// sorted ascending.
///  - kL2: squared Euclidean distance.
///  - kInnerProduct: 1 - <q, x> (hnswlib's convention), so the largest inner product comes first.
///  - kCosine: 1 - cos(q, x). Vectors are L2-normalised on add and queries on search; a zero
///    vector cannot be normalised and is rejected with kInvalidArgument.
enum class Metric : int { kL2 = 0, kInnerProduct = 1, kCosine = 2 };

VECPERF_EXPORT const char* metric_name(Metric metric);  ///< "l2", "ip", "cosine"
VECPERF_EXPORT Result<Metric> parse_metric(const std::string& name);

/// Non-owning view of a row-major `rows x dim` float32 matrix. The memory must stay valid and
/// unchanged for the duration of the call that receives the view.
struct MatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;

  const float* row(int64_t i) const { return data + i * dim; }
};

/// Caller-given vector ids. Ids are any non-negative 64-bit integers; -1 marks an empty result.
using IdSpan = Span<const int64_t>;

/// Id returned in result slots that could not be filled (k > number of vectors).
inline constexpr int64_t kNoId = -1;

}  // namespace vecperf
