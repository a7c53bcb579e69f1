// The data set of a run: base, queries, tuning queries and ground truth, from files or
// generated.
#pragma once

#include "vecperf/dataset.h"
#include "vecperf/status.h"
#include "vecperf_bench/options.h"
#include "vecperf_bench/output.h"

namespace vecperf::bench {

struct BenchData {
  FloatMatrix base;
  FloatMatrix queries;
  /// Queries for --tune: a separate seeded draw for synthetic data; the first --tune-queries
  /// queries of the query file otherwise (the recall tune() sees is then not independent).
  FloatMatrix tune_queries;
  IntMatrix truth;
  DatasetInfo info;
};

/// Reads or generates the data and finds the ground truth (read from --gt, or computed and,
/// for files, cached). Errors: from the readers (kNotFound for a missing file, ...), and
/// kInvalidArgument when dimensions or row counts of the files disagree.
Result<BenchData> load_data(const BenchOptions& options);

}  // namespace vecperf::bench
