// LatencyHistogram: the public face of internal::Histogram (see histogram.h for the layout),
// held behind a pointer so that the public header stays free of internal types.
#include "metrics/exposition.h"
#include "metrics/histogram.h"
#include "vecperf/metrics.h"

namespace vecperf {

LatencyHistogram::LatencyHistogram() : impl_(std::make_unique<internal::Histogram>()) {}
LatencyHistogram::~LatencyHistogram() = default;

void LatencyHistogram::record_ns(uint64_t ns) noexcept { impl_->record(ns); }

void LatencyHistogram::reset() noexcept { impl_->reset(); }

LatencySummary LatencyHistogram::summary() const {
  const internal::HistogramSummary s = impl_->summary();
  LatencySummary out;
  out.count = s.count;
  out.sum = s.sum;
  out.min = s.min;
  out.max = s.max;
  out.p50 = s.p50;
  out.p95 = s.p95;
  out.p99 = s.p99;
  out.p999 = s.p999;
  return out;
}

std::string LatencyHistogram::prometheus(std::string_view name, std::string_view help,
                                         const MetricLabels& labels) const {
  return prometheus_family(name, help, {Series{this, labels}});
}

std::string LatencyHistogram::prometheus_family(std::string_view name, std::string_view help,
                                                const std::vector<Series>& series) {
  internal::Exposition e;
  const std::string family = internal::sanitize_metric_name(name);
  e.family(family, internal::Exposition::Type::kHistogram, help);
  for (const Series& s : series) {
    if (s.histogram == nullptr) continue;
    e.histogram_ns(family, help, internal::format_labels(s.labels), *s.histogram->impl_);
  }
  return e.text();
}

}  // namespace vecperf
