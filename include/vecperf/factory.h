// Scale-aware index planning: describe the workload, get an IndexPlan that says which backend and
// parameters fit its size, recall target and memory budget, and why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "vecperf/export.h"
#include "vecperf/index.h"
#include "vecperf/options.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf {

/// What the caller intends to store and how good the answers must be.
struct Workload {
  /// Number of vectors the index will hold. Must be >= 1. Default: 0 (must be set).
  int64_t expected_size = 0;
  /// Vector dimension, in [1, 65536]. Default: 0 (must be set).
  int64_t dim = 0;
  /// Distance of the index. Default: kL2.
  Metric metric = Metric::kL2;
  /// Most bytes the index may use (vectors, lists or graph, id map); 0 means unlimited.
  /// Default: 0.
  size_t memory_budget_bytes = 0;
  /// Recall@10 the approximate backends are tuned for, in (0, 1]. Default: 0.95.
  double target_recall = 0.95;
};

/// The factory's decision: options ready for make_index, plus what it will cost and why.
struct IndexPlan {
  /// Options of the chosen backend (kind, dim, metric and its parameters).
  IndexOptions options;
  /// Estimated bytes held by the index once it holds Workload::expected_size vectors
  /// (see estimate_memory).
  size_t estimated_memory_bytes = 0;
  /// The recall@10 target the parameters were chosen for (copied from the workload).
  double target_recall = 0.95;
  /// Human-readable explanation: which rule fired and why, with the numbers that decided it.
  std::string rationale;
};

/// Chooses a backend and its parameters for `workload` (rules in docs/factory.md):
/// fewer than 100K vectors -> Flat; up to 1M -> IVF (nlist ~ 4*sqrt(N), nprobe from the recall
/// target); beyond -> HNSW (M=16, ef_construction=200, ef_search from the recall target). When the
/// chosen index would exceed the memory budget it falls back to IVF with SQ8 codes, then PQ with
/// the largest sub-quantiser count that fits. Pure function of its input; thread-safe.
/// Errors: kInvalidArgument for a bad field (size < 1, dim out of range, unknown metric, recall
/// outside (0, 1]); kResourceExhausted when even the smallest PQ index exceeds the budget (the
/// message says how many bytes that index needs).
VECPERF_EXPORT Result<IndexPlan> plan(const Workload& workload);

/// Creates the empty index a plan describes (make_index(plan.options)).
/// Errors: as make_index(const IndexOptions&).
VECPERF_EXPORT Result<std::unique_ptr<Index>> make_index(const IndexPlan& plan);

/// Estimated bytes an index built with `options` holds once it stores `n` vectors: vectors or
/// codes, IVF centroids and list ids, HNSW links, and the id map. An estimate (allocator slack and
/// FAISS/hnswlib bookkeeping are approximated), meant for comparing choices against a budget.
/// kAuto is estimated as the stage it would be in at size `n`. Thread-safe.
VECPERF_EXPORT size_t estimate_memory(const IndexOptions& options, int64_t n);

}  // namespace vecperf
