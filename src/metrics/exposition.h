// Builder of a Prometheus text exposition (format 0.0.4).
//
// The format requires all samples of a family to be contiguous and preceded by at most one
// "# HELP" and one "# TYPE" line, while the library produces samples object by object (index 0's
// counters, then index 1's, ...). Exposition therefore buffers the sample lines per family and
// prints each family once, in order of first appearance, when text() is called.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "metrics/histogram.h"
#include "vecperf/metrics.h"

namespace vecperf::internal {

/// Escapes a label value for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);
/// Replaces characters outside [a-zA-Z0-9_:] (and a leading digit) with '_'; "_" when empty.
std::string sanitize_metric_name(std::string_view name);
/// As sanitize_metric_name, without ':' (reserved in label names).
std::string sanitize_label_name(std::string_view name);

/// `k1="v1",k2="v2"` with names sanitised and values escaped; "" for no pairs.
std::string format_labels(std::initializer_list<std::pair<std::string_view, std::string_view>> l);
std::string format_labels(const MetricLabels& labels);
/// Concatenates two formatted label lists (either may be empty).
std::string join_labels(std::string_view a, std::string_view b);

/// A number as the text format writes it: shortest round-trip form, "NaN", "+Inf" or "-Inf".
std::string format_value(double value);

/// Thread-safety: none; build one per scrape.
class Exposition {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  /// Declares a family without adding a sample, so that its HELP and TYPE appear even when no
  /// object has a sample for it. A later declaration of the same name keeps the first's type.
  void family(std::string_view name, Type type, std::string_view help);

  /// Adds the sample `name{labels} value`; `labels` is a formatted list (format_labels).
  void sample(std::string_view name, Type type, std::string_view help, std::string_view labels,
              std::string_view value);
  void counter(std::string_view name, std::string_view help, std::string_view labels,
               uint64_t value);
  void gauge(std::string_view name, std::string_view help, std::string_view labels, double value);
  /// Adds a histogram recorded in nanoseconds, exposed in seconds.
  void histogram_ns(std::string_view name, std::string_view help, std::string_view labels,
                    const Histogram& histogram);

  /// The exposition: every family with its header, in order of first appearance.
  std::string text() const;

 private:
  struct Family {
    std::string name;
    Type type;
    std::string help;
    std::string samples;
  };
  Family& find_or_add(std::string_view name, Type type, std::string_view help);

  std::vector<Family> families_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace vecperf::internal
