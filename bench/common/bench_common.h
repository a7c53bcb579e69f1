// Shared helpers of the benchmark programs: timing, percentiles, medians and ratio tables.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vecperf::bench {

/// Seconds since an arbitrary epoch (steady clock).
inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Runs fn() `repeats` times and returns the median wall time in seconds.
double median_seconds(int repeats, const std::function<void()>& fn);

/// The p-th percentile (0..100) of `values` by linear interpolation between closest ranks.
double percentile(std::vector<double> values, double p);

/// Median of a list of numbers.
double median(std::vector<double> values);

/// Latency samples (seconds) -> "p50/p95/p99" in milliseconds.
std::string latency_summary_ms(const std::vector<double>& seconds);

/// Integer command-line option "--name=value" (or the default).
int64_t int_flag(int argc, char** argv, const std::string& name, int64_t fallback);
/// String command-line option "--name=value" (or the default).
std::string string_flag(int argc, char** argv, const std::string& name,
                        const std::string& fallback);

/// Short description of the machine (CPU model, cores) for benchmark headers.
std::string machine_summary();

}  // namespace vecperf::bench
