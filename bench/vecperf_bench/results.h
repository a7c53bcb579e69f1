// The measured points of a sweep, the Pareto marking and the recommendation.
// Pure functions over plain structs, so that the tests can feed them hand-made points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vecperf::bench {

/// One engine at one knob setting.
struct RunPoint {
  std::string engine;          ///< "vecperf", "faiss" or "hnswlib"
  std::string index;           ///< "flat", "ivf" or "hnsw"
  bool defaults = false;       ///< a peer run with its library's default parameters
  std::string knob;            ///< "nprobe", "ef_search", or "" for exact search
  int value = 0;               ///< value of `knob` (0 when there is none)
  bool tuned = false;          ///< the value vecperf::tune() chose
  bool index_default = false;  ///< the index's own default (e.g. build_tuned's choice)
  double recall = 0;           ///< recall@k over all queries
  double batch_qps = 0;        ///< all queries in one call, --threads threads
  double single_qps = 0;       ///< one query per call, one thread
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, p999_ms = 0;  ///< single-query latency
  double build_seconds = 0;
  size_t memory_bytes = 0;
  bool memory_estimated = false;  ///< memory from a formula rather than from the index
  bool pareto_single = false;     ///< no other point has >= recall and >= single_qps (one >)
  bool pareto_batch = false;      ///< the same with batch_qps

  /// "vecperf ivf", "faiss hnsw (defaults)", ...
  std::string label() const;
};

/// Sets pareto_single and pareto_batch on every point, comparing all points together (every
/// engine): a point is Pareto-optimal when no other point is at least as good in both recall and
/// QPS and strictly better in one. Equal points are all optimal.
void mark_pareto(std::vector<RunPoint>& points);

/// What recommend() found.
struct Recommendation {
  std::optional<size_t> choice;  ///< index into the points; empty when nothing qualifies
  std::string message;           ///< why this point, or why none
};

/// The cheapest point of `engine` (and not a defaults run) whose recall reaches `target_recall`
/// and, when max_p99_ms > 0, whose p99 latency is within it. Cheapest means the highest
/// single-query QPS; ties go to the smaller knob value. When none qualifies, the message says
/// which constraint failed and the best recall seen.
Recommendation recommend(const std::vector<RunPoint>& points, const std::string& engine,
                         double target_recall, double max_p99_ms);

/// For each label, the point recommend() would pick among that label's points (peers included),
/// in the order labels first appear; labels with no qualifying point are left out.
std::vector<size_t> best_per_label(const std::vector<RunPoint>& points, double target_recall,
                                   double max_p99_ms);

}  // namespace vecperf::bench
