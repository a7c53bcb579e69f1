// recall@k, id-based and tie-aware. Rows are short (k is at most a few hundred), so each query's
// true ids are kept in a small sorted vector rather than a hash set.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "vecperf/dataset.h"

namespace vecperf {
namespace {

Status check_recall_args(size_t found, int64_t k, const IntMatrix& truth) {
  if (k < 1)
    return Status::InvalidArgument("recall: k must be >= 1 (got " + std::to_string(k) + ")");
  if (truth.rows() < 1 || truth.cols() < 1)
    return Status::InvalidArgument("recall: the ground truth is empty (" +
                                   std::to_string(truth.rows()) + " x " +
                                   std::to_string(truth.cols()) + ")");
  if (static_cast<uint64_t>(found) != static_cast<uint64_t>(truth.rows() * k))
    return Status::InvalidArgument("recall: " + std::to_string(found) + " found ids, but " +
                                   std::to_string(truth.rows()) +
                                   " queries x k=" + std::to_string(k) + " expected");
  return Status::OK();
}

// Scores one query: `matches(j)` says whether found slot j counts (beyond its id being valid
// and new); the denominator is the number of valid true ids among the first `kk`.
template <typename Extra>
double score_query(std::span<const int64_t> found, int64_t k, const IntMatrix& truth, int64_t q,
                   int64_t kk, std::vector<int64_t>& truth_ids, std::vector<int64_t>& seen,
                   Extra&& extra_match) {
  truth_ids.clear();
  for (int64_t j = 0; j < kk; ++j)
    if (truth.at(q, j) != kNoId) truth_ids.push_back(truth.at(q, j));
  std::sort(truth_ids.begin(), truth_ids.end());
  truth_ids.erase(std::unique(truth_ids.begin(), truth_ids.end()), truth_ids.end());
  if (truth_ids.empty()) return 1.0;
  seen.clear();
  int64_t hits = 0;
  for (int64_t j = 0; j < kk; ++j) {
    const int64_t id = found[static_cast<size_t>(q * k + j)];
    if (id == kNoId || std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
    seen.push_back(id);
    if (std::binary_search(truth_ids.begin(), truth_ids.end(), id) || extra_match(j)) ++hits;
  }
  const int64_t valid = static_cast<int64_t>(truth_ids.size());
  return static_cast<double>(std::min(hits, valid)) / static_cast<double>(valid);
}

}  // namespace

Result<RecallStats> recall_at_k(Span<const int64_t> found, int64_t k, const IntMatrix& truth) {
  VECPERF_RETURN_IF_ERROR(check_recall_args(found.size(), k, truth));
  const int64_t kk = std::min(k, truth.cols());
  std::vector<int64_t> truth_ids, seen;
  double total = 0;
  for (int64_t q = 0; q < truth.rows(); ++q)
    total += score_query(found, k, truth, q, kk, truth_ids, seen, [](int64_t) { return false; });
  return RecallStats{total / static_cast<double>(truth.rows()), kk, truth.rows()};
}

Result<RecallStats> recall_at_k_with_ties(Span<const int64_t> found,
                                          Span<const float> found_distances, int64_t k,
                                          const IntMatrix& truth, MatrixView truth_distances,
                                          float epsilon) {
  VECPERF_RETURN_IF_ERROR(check_recall_args(found.size(), k, truth));
  if (found_distances.size() != found.size())
    return Status::InvalidArgument("recall: " + std::to_string(found_distances.size()) +
                                   " found distances for " + std::to_string(found.size()) +
                                   " found ids");
  if (truth_distances.rows != truth.rows() || truth_distances.dim != truth.cols() ||
      truth_distances.data == nullptr)
    return Status::InvalidArgument(
        "recall: the true distances must be " + std::to_string(truth.rows()) + " x " +
        std::to_string(truth.cols()) + " like the true ids (got " +
        std::to_string(truth_distances.rows) + " x " + std::to_string(truth_distances.dim) + ")");
  if (!(epsilon >= 0.0f) || !std::isfinite(epsilon))
    return Status::InvalidArgument("recall: epsilon must be finite and >= 0");
  const int64_t kk = std::min(k, truth.cols());
  std::vector<int64_t> truth_ids, seen;
  double total = 0;
  for (int64_t q = 0; q < truth.rows(); ++q) {
    // The k-th true distance is that of the last valid true id (padding has no distance).
    float kth = -std::numeric_limits<float>::infinity();
    for (int64_t j = kk - 1; j >= 0; --j)
      if (truth.at(q, j) != kNoId) {
        kth = truth_distances.row(q)[j];
        break;
      }
    const float threshold = kth + epsilon * std::max(1.0f, std::fabs(kth));
    total += score_query(found, k, truth, q, kk, truth_ids, seen, [&](int64_t j) {
      return found_distances[static_cast<size_t>(q * k + j)] <= threshold;
    });
  }
  return RecallStats{total / static_cast<double>(truth.rows()), kk, truth.rows()};
}

}  // namespace vecperf
