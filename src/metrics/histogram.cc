// See histogram.h for the bucket layout. Percentiles walk the 976 counters once (~1 us), which
// is why they are computed on demand by readers and never on the recording path.
#include "metrics/histogram.h"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace vecperf::internal {

Histogram::Histogram() { reset(); }

int Histogram::bucket_of(uint64_t value) noexcept {
  if (value < kSub) return static_cast<int>(value);
  const int e = 63 - std::countl_zero(value);  // e >= kSubBits
  const uint64_t sub = (value >> (e - kSubBits)) & (kSub - 1);
  return static_cast<int>(static_cast<uint64_t>(e - kSubBits + 1) * kSub + sub);
}

uint64_t Histogram::bucket_lower(int bucket) noexcept {
  const auto b = static_cast<uint64_t>(bucket);
  if (b < kSub) return b;
  const int e = static_cast<int>(b / kSub) + kSubBits - 1;
  return (kSub + b % kSub) << (e - kSubBits);
}

uint64_t Histogram::bucket_width(int bucket) noexcept {
  const auto b = static_cast<uint64_t>(bucket);
  if (b < kSub) return 1;
  const int e = static_cast<int>(b / kSub) + kSubBits - 1;
  return uint64_t{1} << (e - kSubBits);
}

void Histogram::record(uint64_t value) noexcept {
  buckets_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  uint64_t seen = min_.load(std::memory_order_relaxed);
  while (value < seen && !min_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
  seen = max_.load(std::memory_order_relaxed);
  while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

void Histogram::reset() noexcept {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  min_.store(UINT64_MAX, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

double Histogram::percentile(double p) const {
  // The total is summed from the buckets rather than read from count_, so that a snapshot taken
  // while other threads record is self-consistent.
  uint64_t total = 0;
  for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p / 100.0 * total)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= rank) {
      const double mid =
          static_cast<double>(bucket_lower(i)) + (static_cast<double>(bucket_width(i)) - 1.0) / 2.0;
      const double lo = static_cast<double>(min_.load(std::memory_order_relaxed));
      const double hi = static_cast<double>(max_.load(std::memory_order_relaxed));
      return lo <= hi ? std::clamp(mid, lo, hi) : mid;
    }
  }
  return static_cast<double>(max_.load(std::memory_order_relaxed));
}

HistogramSummary Histogram::summary() const {
  HistogramSummary s;
  s.count = count();
  if (s.count == 0) return s;
  s.sum = sum_.load(std::memory_order_relaxed);
  s.min = min_.load(std::memory_order_relaxed);
  s.max = max_.load(std::memory_order_relaxed);
  s.p50 = percentile(50);
  s.p95 = percentile(95);
  s.p99 = percentile(99);
  s.p999 = percentile(99.9);
  return s;
}

std::string Histogram::render_prometheus_ns(std::string_view name, std::string_view help,
                                            std::string_view labels) const {
  std::string out;
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" histogram\n");
  append_prometheus_samples_ns(out, name, labels);
  return out;
}

void Histogram::append_prometheus_samples_ns(std::string& out, std::string_view name,
                                             std::string_view labels) const {
  // Appended piece by piece (labels can be long, so no fixed line buffer; and operator+ chains
  // trip GCC 12's -Wrestrict). Only the numbers go through snprintf.
  char num[64];
  auto bucket = [&](const char* le, uint64_t cumulative) {
    out.append(name).append("_bucket{").append(labels);
    if (!labels.empty()) out.push_back(',');
    std::snprintf(num, sizeof(num), "\"} %" PRIu64 "\n", cumulative);
    out.append("le=\"").append(le).append(num);
  };
  uint64_t cumulative = 0;
  int next = 0;
  // Powers of two are bucket boundaries, so every cumulative count below is exact.
  for (int k = 10; k <= 34; k += 2) {
    const int end = bucket_of(uint64_t{1} << k);
    for (; next < end; ++next) cumulative += buckets_[next].load(std::memory_order_relaxed);
    char le[32];
    std::snprintf(le, sizeof(le), "%.6g", static_cast<double>(uint64_t{1} << k) * 1e-9);
    bucket(le, cumulative);
  }
  for (; next < kBuckets; ++next) cumulative += buckets_[next].load(std::memory_order_relaxed);
  bucket("+Inf", cumulative);
  std::string braces;
  if (!labels.empty()) braces.append("{").append(labels).append("}");
  std::snprintf(num, sizeof(num), " %.12g\n",
                static_cast<double>(sum_.load(std::memory_order_relaxed)) * 1e-9);
  out.append(name).append("_sum").append(braces).append(num);
  // _count is the +Inf bucket's total, not count_, so that the two always agree in a snapshot.
  std::snprintf(num, sizeof(num), " %" PRIu64 "\n", cumulative);
  out.append(name).append("_count").append(braces).append(num);
}

}  // namespace vecperf::internal
