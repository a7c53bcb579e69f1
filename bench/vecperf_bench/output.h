// What vecperf-bench reports: the aligned table on stdout, the JSON and CSV files, the machine
// facts they carry, and the progress bar on stderr.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "vecperf/status.h"
#include "vecperf/tuning.h"
#include "vecperf_bench/options.h"
#include "vecperf_bench/results.h"

namespace vecperf::bench {

/// Version of the JSON report ("format": "vecperf-bench"); fields in docs/tuning.md.
inline constexpr int kBenchReportVersion = 1;

struct MachineFacts {
  std::string cpu_model;
  int hardware_threads = 0;
  std::string kernel_isa;  ///< the distance kernels vecperf chose ("avx512", "avx2", "scalar")
  std::string git_commit;  ///< of the source tree, "+dirty" when modified; "unknown" outside one
  std::string hostname;
};
MachineFacts machine_facts();

struct DatasetInfo {
  std::string source;  ///< "synthetic" or "files"
  std::string base_path, queries_path, gt_path;
  int64_t base_rows = 0, dim = 0, queries_rows = 0, gt_cols = 0;
  std::string gt_source;  ///< "file", "computed" or "cache"
};

struct EngineInfo {
  std::string label;
  std::string describe;
  double build_seconds = 0;
  size_t memory_bytes = 0;
  bool memory_estimated = false;
  bool loaded = false;  ///< --load: not built here
};

/// A whole run.
struct Report {
  BenchOptions options;
  MachineFacts machine;
  DatasetInfo dataset;
  std::string started_at, finished_at;  ///< UTC, ISO 8601
  std::vector<EngineInfo> engines;
  std::vector<RunPoint> runs;
  std::optional<TuningResult> tune;        ///< --tune: vecperf::tune() on the tuning queries
  std::optional<TuningResult> build_tune;  ///< --index plan: build_tuned()'s tuning
  Recommendation recommendation;
  std::vector<size_t> best_per_label;  ///< indexes into runs
  std::vector<std::string> notes;      ///< peers skipped and why, caveats
};

/// Current UTC time as "2026-01-31T12:34:56Z".
std::string utc_now();

void print_report(const Report& report, std::FILE* out);
std::string report_json(const Report& report);
std::string report_csv(const Report& report);

/// Writes `text` to `path` atomically. Errors: kIOError naming the path.
Status write_text(const std::string& path, const std::string& text);

/// A one-line progress bar redrawn on stderr; silent unless stderr is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  void update(int64_t done, int64_t total);
  /// Clears the line.
  void finish();

 private:
  std::string label_;
  bool active_;
  int last_permille_ = -1;
};

}  // namespace vecperf::bench
