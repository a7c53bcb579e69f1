// Auto-tuning of the search knobs: finds the smallest nprobe (IVF) or ef_search (HNSW) whose
// recall@k on a sample of queries reaches a target, measures it, optionally stores it as the
// index's default, and exports it as a JSON profile that can be applied to another index.
// See docs/tuning.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vecperf/export.h"
#include "vecperf/index.h"
#include "vecperf/options.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf {

/// How tune() and tune_held_out() work.
struct TuningOptions {
  /// Threads for the exact scan and the batched searches; 0 = all hardware threads. Default: 0.
  int num_threads = 0;
  /// Wall-clock limit in seconds for the knob search; 0 = none. The exact scan and the first
  /// evaluation always run; when time runs out the best setting found so far is returned with
  /// `complete` false. Default: 0.
  double time_budget_seconds = 0;
  /// Store the chosen knob as the index's default search options. Default: true.
  bool apply = true;
  /// tune_held_out() and build_tuned(): vectors drawn from the data as queries (tune_held_out:
  /// all of them when the index holds fewer; build_tuned: at most a tenth). Default: 1000.
  int64_t sample_size = 1000;
  /// Seed of that draw. Default: 7.
  uint64_t seed = 7;
  /// Queries searched one at a time, on one thread, for the latency percentiles. Default: 200.
  int64_t latency_queries = 200;
  /// Upper end of the ef_search range searched on HNSW (raised to k when smaller). Default: 4096.
  int max_ef_search = 4096;
  /// Called after each evaluation with (evaluations done, an upper bound on the total); may be
  /// empty. Called on the tuning thread.
  ProgressCallback on_progress;
};

/// What tuning chose and measured. It is also a profile: to_json() exports it and
/// parse_tuning_profile() reads it back.
struct VECPERF_EXPORT TuningResult {
  /// Backend whose knob was tuned: the index's kind, or an auto index's current stage.
  IndexKind kind = IndexKind::kFlat;
  /// "nprobe" (IVF), "ef_search" (HNSW), or empty when searches are exact (Flat, or IVF still
  /// buffering before its training) and there is nothing to tune.
  std::string knob;
  /// The chosen value of `knob` (0 when `knob` is empty).
  int value = 0;
  /// The range searched, inclusive: [1, nlist] for nprobe, [k, max(k, max_ef_search)] for
  /// ef_search.
  int min_value = 0;
  int max_value = 0;
  /// The chosen knobs as search options (nprobe, ef_search, rerank; k as tuned); this is what
  /// is stored as the index's defaults when applied.
  SearchOptions search_options;
  /// Recall@k the search aimed for, and k.
  double target_recall = 0;
  int k = 10;
  /// Recall@k measured at `value` on the sample (1 for exact searches).
  double recall = 1.0;
  /// recall >= target_recall. False when even max_value misses the target (the result then
  /// holds max_value, the best setting) or when the time budget ran out first.
  bool met_target = true;
  /// False when the time budget stopped the search before it was finished: a smaller value may
  /// also meet the target.
  bool complete = true;
  /// True when the knobs were stored as the index's defaults.
  bool applied = false;
  /// True when the queries were drawn from the indexed vectors (tune_held_out, build_tuned, an
  /// auto index's migrations) rather than given by the caller.
  bool held_out = false;
  /// Queries in the sample, and knob settings evaluated (one batch search over the sample each).
  int64_t sample_size = 0;
  int evaluations = 0;
  /// Single-query latency at `value` (one thread, `latency_queries` queries), in milliseconds,
  /// and batch throughput over the whole sample with TuningOptions::num_threads. 0 when not
  /// measured (exact searches).
  int64_t latency_queries = 0;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double batch_qps = 0;
  /// Wall-clock seconds the tuning took.
  double seconds = 0;
  /// Why the target was missed, why the search stopped early, why there was nothing to tune, or
  /// a caveat about the estimate; empty otherwise.
  std::string message;

  /// The result as a JSON profile (format "vecperf-tuning-profile", version 1; fields in
  /// docs/tuning.md).
  std::string to_json() const;
};

/// Version of the JSON profile format written by TuningResult::to_json().
inline constexpr int kTuningProfileVersion = 1;

/// Finds the smallest knob value whose recall@k on `sample_queries` (row-major, dim() columns)
/// reaches `target_recall`, searching nprobe in [1, nlist] (IVF) or ef_search in
/// [k, max(k, options.max_ef_search)] (HNSW) by doubling then bisection, which assumes recall
/// grows with the knob. The exact neighbours come from a scan of the index's own stored vectors
/// in bounded blocks (no second copy of the index). When options.apply is set the value becomes
/// the index's default (Index::set_default_search_options). An exact backend returns recall 1 at
/// once. When even the largest value misses, the result holds it with met_target false and a
/// message; this is not an error.
/// Thread-safety: may run while other threads search. The exact scan holds the index's read
/// lock, so adds and removes wait for it; the result is meaningless if the index changes
/// meanwhile.
/// Errors: kInvalidArgument for target_recall outside (0, 1], k outside [1, 65536], no queries,
/// queries of the wrong dimension or with NaN/Inf, bad options, an empty index (unless exact),
/// or an index not created by vecperf; kResourceExhausted when memory runs out.
VECPERF_EXPORT Result<TuningResult> tune(Index& index, MatrixView sample_queries,
                                         double target_recall, int k,
                                         const TuningOptions& options = {});

/// As tune(), with options.sample_size vectors drawn from the index itself (seeded) as queries,
/// for an index that is already built (e.g. loaded) when no real queries are at hand.
/// Each query's own id is excluded from its exact neighbours and from its search results (the
/// search asks for k + 1), so finding itself does not inflate recall. On IVF this estimates
/// recall for unseen queries well; on HNSW it is optimistic, because the graph around a stored
/// vector leads straight to its neighbours (measured: ef_search tuned for 0.95 gave 0.87 on
/// fresh queries), and the result's message says so. build_tuned() and the auto index avoid this
/// by holding their sample out of the index until it is tuned.
/// Errors: as tune(); kInvalidArgument for fewer than two vectors in the index.
VECPERF_EXPORT Result<TuningResult> tune_held_out(Index& index, double target_recall, int k,
                                                  const TuningOptions& options = {});

/// Reads a profile written by TuningResult::to_json(). Unknown members are ignored.
/// Errors: kInvalidArgument for malformed JSON (line and column in the message), a missing
/// member, a member of the wrong type or out of range, or an unknown kind or knob;
/// kNotSupported for a profile of a newer format version.
VECPERF_EXPORT Result<TuningResult> parse_tuning_profile(std::string_view json);

/// Stores the profile's knobs as the index's default search options.
/// Errors: kInvalidArgument when the profile was tuned for another kind of backend than the one
/// serving `index` (for an auto index, its current stage), or as set_default_search_options.
/// Thread-safety: as Index::set_default_search_options.
VECPERF_EXPORT Status apply_tuning_profile(Index& index, const TuningResult& profile);

}  // namespace vecperf
