// Command line of vecperf-bench: the flags, the index spec syntax, and their validation.
// Parsing is separate from running so that the tests can check every error message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vecperf/options.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf::bench {

/// The index to benchmark, from `--index`: an index spec as vecperf::parse_index_spec() reads
/// it (`hnsw,M=32,ef_construction=200`, `ivf:nlist=1024,encoding=sq8,rerank=100`; the options
/// are those of vecperf::index_option_fields(kind)), or `plan[,budget_mb=N]`: plan() chooses the
/// backend for the data set's size, then build_tuned() tunes it for --target-recall.
/// For IVF, options left at their defaults follow the base: nlist 0 is derived from its size,
/// train_threshold 0 trains once on all of it, and the default max_train_samples is raised to it.
struct IndexSpec {
  std::string text;      ///< as given
  IndexOptions options;  ///< kind and parameters (dim and metric are filled in later)
  bool plan = false;     ///< KIND was "plan"
  double budget_mb = 0;  ///< plan only: memory budget, 0 = unlimited
};

/// Errors: kInvalidArgument naming the unknown kind or key, or the bad value and its range.
Result<IndexSpec> parse_index_spec(const std::string& text);

/// Everything the command line sets.
struct BenchOptions {
  // Data: files, or a synthetic clustered set.
  std::string base_path;
  std::string queries_path;
  std::string gt_path;         ///< empty: computed (and cached next to the base file)
  std::string gt_cache_dir;    ///< where computed ground truth is cached; empty: base file's dir
  int64_t synthetic_rows = 0;  ///< > 0 when --synthetic was given
  int64_t synthetic_dim = 0;
  int synthetic_clusters = 64;
  int64_t synthetic_queries = 1000;  ///< --nq
  Metric metric = Metric::kL2;
  int k = 10;

  IndexSpec index;
  std::string load_path;
  std::string save_path;

  // Sweep: explicit lists, or geometric over the knob's range when empty.
  std::vector<int> nprobe;
  std::vector<int> ef_search;

  int threads = 0;              ///< batch mode threads; 0 = all hardware threads
  int repeats = 3;              ///< batch timings: median of this many
  int64_t latency_queries = 0;  ///< single-query mode: first N queries; 0 = all
  double target_recall = 0.95;
  double max_p99_ms = 0;  ///< 0 = no latency constraint
  bool tune = false;
  int64_t tune_queries = 1000;

  bool peer_faiss = false;
  bool peer_hnswlib = false;
  bool peer_defaults = false;

  std::string json_path;
  std::string csv_path;
  bool help = false;

  std::vector<std::string> command_line;  ///< argv, for the report
};

/// Parses argv (flags as `--name value` or `--name=value`).
/// Errors: kInvalidArgument with a message naming the flag and what it accepts.
Result<BenchOptions> parse_options(int argc, const char* const* argv);

/// Usage text for --help and after a bad flag.
const char* usage();

/// Comma-separated positive integers, e.g. "1,2,4". Errors: kInvalidArgument naming `flag`.
Result<std::vector<int>> parse_int_list(const std::string& flag, const std::string& text);

}  // namespace vecperf::bench
