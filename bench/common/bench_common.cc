#include "common/bench_common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

namespace vecperf::bench {

double median_seconds(int repeats, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    double start = now_seconds();
    fn();
    t.push_back(now_seconds() - start);
  }
  return median(t);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double rank = p / 100.0 * double(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(v.size() - 1, lo + 1);
  double frac = rank - double(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

double median(std::vector<double> v) { return percentile(std::move(v), 50); }

std::string latency_summary_ms(const std::vector<double>& s) {
  char buf[128];
  std::snprintf(buf, sizeof(buf), "%.3f/%.3f/%.3f", percentile(s, 50) * 1e3,
                percentile(s, 95) * 1e3, percentile(s, 99) * 1e3);
  return buf;
}

int64_t int_flag(int argc, char** argv, const std::string& name, int64_t fallback) {
  std::string v = string_flag(argc, argv, name, "");
  return v.empty() ? fallback : std::stoll(v);
}

std::string string_flag(int argc, char** argv, const std::string& name,
                        const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
  }
  return fallback;
}

std::string machine_summary() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads";
}

}  // namespace vecperf::bench
