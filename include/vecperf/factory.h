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
#include "vecperf/tuning.h"
#include "vecperf/types.h"

namespace vecperf {

/// Where the caller would like the index to run.
enum class Device : int {
  kCpu = 0,  ///< the CPU backends (size rules below)
  kGpu = 1,  ///< an exact gpu_flat index when gpu_available(); the CPU rules otherwise
};

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
  /// kGpu plans gpu_flat (with prefer_gpu, so it falls back to the CPU at run time) when a CUDA
  /// device is available; without one the CPU rules apply and the rationale says why.
  /// Default: kCpu.
  Device device = Device::kCpu;
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

/// How build_tuned() builds and tunes.
struct BuildOptions {
  /// Called after each chunk of vectors is added with (vectors added, total); may be empty.
  /// Called on the calling thread.
  ProgressCallback on_progress;
  /// The recall target is recall@k. Default: 10 (what plan()'s tables are calibrated for).
  int k = 10;
  /// Sample size, threads, time budget and progress of the tuning step (see tune_held_out).
  /// `apply` is honoured: with false the index keeps the plan's knob. Default: TuningOptions{}.
  TuningOptions tuning;
};

/// An index built by build_tuned() and how its search knob was tuned.
struct TunedIndex {
  std::unique_ptr<Index> index;
  TuningResult tuning;
};

/// Creates the index `plan` describes, adds `vectors` with `ids` (in chunks, reporting progress),
/// then tunes its search knob to plan.target_recall on held-out vectors (tune_held_out) and
/// stores it as the index's default. plan()'s tables are conservative; tuning usually finds a
/// much smaller nprobe or ef_search. A Flat plan is returned untuned (recall 1). When the
/// target is out of reach the index keeps the best knob and `tuning.met_target` is false.
/// Errors: as make_index(), Index::add() and tune_held_out(); nothing is returned on error.
VECPERF_EXPORT Result<TunedIndex> build_tuned(const IndexPlan& plan, IdSpan ids, MatrixView vectors,
                                              const BuildOptions& options = {});

/// Estimated bytes an index built with `options` holds once it stores `n` vectors: vectors or
/// codes, IVF centroids and list ids, HNSW links, and the id map. An estimate (allocator slack and
/// FAISS/hnswlib bookkeeping are approximated), meant for comparing choices against a budget.
/// kAuto is estimated as the stage it would be in at size `n`. Thread-safe.
VECPERF_EXPORT size_t estimate_memory(const IndexOptions& options, int64_t n);

}  // namespace vecperf
