// Batched search with a measurement report: the same call for every backend (CPU or GPU), so
// that benchmarks and services compare them on equal terms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vecperf/dataset.h"
#include "vecperf/export.h"
#include "vecperf/index.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf {

/// How search_batch() splits and evaluates the query set.
struct BatchOptions {
  /// Queries per Index::search call; latency percentiles are over these calls. 0 sends the whole
  /// set in one call. Negative is kInvalidArgument. Default: 0.
  int64_t batch_size = 0;
  /// Exact neighbours for recall@k (queries.rows x any number of columns, row-major), or null
  /// for no recall. Not owned; must outlive the call. Default: null.
  const IntMatrix* ground_truth = nullptr;
};

/// What one search_batch() call measured.
struct BatchReport {
  int64_t queries = 0;      ///< queries searched
  int k = 0;                ///< neighbours per query (SearchOptions::k)
  int64_t batches = 0;      ///< Index::search calls made
  double wall_seconds = 0;  ///< from the first call's start to the last call's end
  double qps = 0;           ///< queries / wall_seconds (0 when no time could be measured)
  /// Latency of one batch (one Index::search call), in milliseconds, from the shared latency
  /// histogram (each within ~3% of the exact percentile).
  double batch_p50_ms = 0;
  double batch_p95_ms = 0;
  double batch_p99_ms = 0;
  /// Device memory the index holds (vectors and working buffers); 0 for CPU backends.
  size_t device_memory_bytes = 0;
  /// True when ground truth was given; `recall` is then the mean recall@k (see recall_at_k:
  /// k is min(k, ground truth columns), reported in `recall_k`).
  bool has_recall = false;
  double recall = 0;
  int64_t recall_k = 0;

  /// One line, e.g. "1000 queries k=10 in 12 batches: 0.0123 s, 81234 QPS, batch p50/p95/p99
  /// 1.01/1.20/1.31 ms, device 0 B, recall@10 0.9876".
  VECPERF_EXPORT std::string to_string() const;
};

/// Searches all `queries` in batches of `batch.batch_size`, writing results as Index::search
/// does (`results` holds queries.rows * options.k slots), and fills `report` (may be null).
/// Results are those of one Index::search call over the whole set, except that a backend
/// choosing its kernel by batch size (Flat: SIMD scan or BLAS) may round distances differently.
/// Errors: those of Index::search (the first failing batch stops the call; the report is then
/// left unfilled); kInvalidArgument for a negative batch size, or ground truth whose row count
/// differs from queries.rows.
/// Thread-safety: as Index::search; the index may be searched by other threads meanwhile (their
/// load then shows in the figures).
VECPERF_EXPORT Status search_batch(const Index& index, MatrixView queries,
                                   const SearchOptions& options, SearchResults results,
                                   const BatchOptions& batch, BatchReport* report);

}  // namespace vecperf
