// The performance report (vecperf/metrics.h: performance_report()): a rendering of a
// MetricsSnapshot plus the warning rules, apart from the registry so that tests can feed
// crafted snapshots.
#pragma once

#include <string>
#include <vector>

#include "metrics/registry.h"
#include "vecperf/metrics.h"

namespace vecperf::internal {

struct ReportWarning {
  /// "tail_latency", "migration_failed", "cache_hit_rate", "memory_budget" or "gpu_utilization".
  std::string rule;
  /// What it is about: an index or cache name, "process", or "device<N>".
  std::string subject;
  /// One sentence: the observation with its numbers, then what to do.
  std::string message;
};

/// Applies every warning rule of `options` to `snapshot` (docs/operations.md lists them).
std::vector<ReportWarning> report_warnings(const MetricsSnapshot& snapshot,
                                           const ReportOptions& options);

/// The report in `options.format`.
std::string render_report(const MetricsSnapshot& snapshot, const ReportOptions& options);

}  // namespace vecperf::internal
