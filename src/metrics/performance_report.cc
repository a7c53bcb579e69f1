// performance_report(): a snapshot of the registry rendered as text or JSON, with warnings for
// the usual trouble signs. Every rule waits for a minimum number of events so that a freshly
// started service (cold cache, a handful of searches) does not warn spuriously.
#include "metrics/performance_report.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "common/json.h"

namespace vecperf::internal {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kSearch = static_cast<int>(IndexOp::kSearch);
constexpr int kAdd = static_cast<int>(IndexOp::kAdd);
constexpr int kRemove = static_cast<int>(IndexOp::kRemove);

std::string printf_string(const char* format, double value, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value, unit);
  return buf;
}

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return printf_string(u == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[u]);
}

std::string format_ns(double ns) {
  if (ns < 1e3) return printf_string("%.0f %s", ns, "ns");
  if (ns < 1e6) return printf_string("%.1f %s", ns / 1e3, "us");
  if (ns < 1e9) return printf_string("%.2f %s", ns / 1e6, "ms");
  return printf_string("%.2f %s", ns / 1e9, "s");
}

// "42.0%", or "n/a" for NaN (a ratio with nothing to divide).
std::string format_ratio(double r) {
  if (std::isnan(r)) return "n/a";
  return printf_string("%.1f%s", r * 100, "%");
}

double ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? kNaN : static_cast<double>(part) / static_cast<double>(whole);
}

double tier_hit_rate(const CacheTierStats& t) { return ratio(t.hits, t.hits + t.misses); }

double qps(const IndexSnapshot& x) {
  return x.age_seconds > 0 ? static_cast<double>(x.search_queries) / x.age_seconds : 0.0;
}

void check_memory(const std::string& subject, const char* what, uint64_t used, uint64_t budget,
                  const ReportOptions& o, std::vector<ReportWarning>* out) {
  if (budget == 0 || !(static_cast<double>(used) > o.memory_warn_fraction * budget)) return;
  out->push_back({"memory_budget", subject,
                  subject + ": " + what + " " + format_bytes(static_cast<double>(used)) + " is " +
                      format_ratio(ratio(used, budget)) + " of its budget of " +
                      format_bytes(static_cast<double>(budget)) +
                      ": plan for growth now (estimate_memory() for the target size; compressed "
                      "IVF codes, a larger budget or sharding; see docs/operations.md)"});
}

void text_report(const MetricsSnapshot& s, const ReportOptions& o,
                 const std::vector<ReportWarning>& warnings, std::string& out) {
  out += "vecperf performance report\n";
  out += "process: resident memory " + format_bytes(static_cast<double>(s.resident_memory_bytes));
  if (o.memory_budget_bytes > 0) {
    out += " of a " + format_bytes(static_cast<double>(o.memory_budget_bytes)) + " budget (" +
           format_ratio(ratio(s.resident_memory_bytes, o.memory_budget_bytes)) + ")";
  }
  out += "\n\nindexes: " + std::to_string(s.indexes.size()) + "\n";
  for (const IndexSnapshot& x : s.indexes) {
    const HistogramSummary& l = x.search_latency;
    char rate[32];
    std::snprintf(rate, sizeof(rate), "%.1f", qps(x));
    out += "  " + x.name + ": " + x.kind + ", " + x.metric + ", dim " + std::to_string(x.dim) +
           ", " + std::to_string(x.size) + " vectors, memory " +
           format_bytes(static_cast<double>(x.memory_bytes));
    if (x.memory_budget_bytes > 0) {
      out += " (" + format_ratio(ratio(x.memory_bytes, x.memory_budget_bytes)) + " of budget " +
             format_bytes(static_cast<double>(x.memory_budget_bytes)) + ")";
    }
    out += "\n    searches " + std::to_string(x.calls[kSearch]) + " (" +
           std::to_string(x.search_queries) + " queries, " + rate + " qps since created), adds " +
           std::to_string(x.calls[kAdd]) + " (" + std::to_string(x.added_vectors) +
           " vectors), removes " + std::to_string(x.calls[kRemove]) + " (" +
           std::to_string(x.removed_vectors) + " vectors), errors " + std::to_string(x.errors);
    if (x.migrations + x.migration_failures > 0)
      out += ", migrations " + std::to_string(x.migrations) + " (" +
             std::to_string(x.migration_failures) + " failed)";
    out += "\n";
    if (l.count > 0) {
      out += "    search latency p50 " + format_ns(l.p50) + ", p95 " + format_ns(l.p95) + ", p99 " +
             format_ns(l.p99) + ", p99.9 " + format_ns(l.p999) + ", max " +
             format_ns(static_cast<double>(l.max)) + "\n";
    }
  }
  out += "\ncaches: " + std::to_string(s.caches.size()) + "\n";
  for (const CacheSnapshot& c : s.caches) {
    const CacheStats& st = c.stats;
    out += "  " + c.name + ": " + std::to_string(st.lookups) + " lookups, hit rate " +
           format_ratio(st.lookups == 0 ? kNaN : st.hit_rate) + " (ram " +
           format_ratio(tier_hit_rate(st.ram)) + ", disk " + format_ratio(tier_hit_rate(st.disk)) +
           "), " + std::to_string(st.computed) + " computed\n";
    out += "    ram " + format_bytes(static_cast<double>(st.ram.bytes)) + " in " +
           std::to_string(st.ram.entries) + " entries, " + std::to_string(st.ram.evictions) +
           " evictions; disk " + format_bytes(static_cast<double>(st.disk.bytes)) + "\n";
    auto latency = [&](const char* label, const CacheLatency& lat) {
      if (lat.count == 0) return;
      out += std::string("    ") + label + " latency p50 " + format_ns(lat.p50_us * 1e3) +
             ", p95 " + format_ns(lat.p95_us * 1e3) + ", p99 " + format_ns(lat.p99_us * 1e3) +
             ", p99.9 " + format_ns(lat.p999_us * 1e3) + " (" + std::to_string(lat.count) +
             " calls)\n";
    };
    latency("get", st.get_latency);
    latency("put", st.put_latency);
  }
  if (!s.devices.empty()) {
    out += "\ndevices: " + std::to_string(s.devices.size()) + "\n";
    for (const DeviceMetrics& d : s.devices) {
      // Negative fractions and a zero total mean "not measured" (see DeviceMetrics).
      auto ratio_or_na = [](double r) { return r >= 0 ? format_ratio(r) : std::string("n/a"); };
      const std::string total = d.memory_total_bytes > 0
                                    ? format_bytes(static_cast<double>(d.memory_total_bytes))
                                    : std::string("n/a");
      out += "  device" + std::to_string(d.device) + " (" + d.name + "): memory " +
             format_bytes(static_cast<double>(d.memory_used_bytes)) + " of " + total +
             ", utilization " + ratio_or_na(d.utilization) + ", " +
             std::to_string(d.batch_searches) + " batch searches at " +
             ratio_or_na(d.batch_search_utilization) + " busy\n";
    }
  }
  out += "\nwarnings: " + std::to_string(warnings.size()) + "\n";
  for (const ReportWarning& w : warnings) out += "  - [" + w.rule + "] " + w.message + "\n";
}

// Counters are uint64 in the snapshot; JSON numbers beyond 2^63 are not a concern here.
int64_t as_int(uint64_t v) { return static_cast<int64_t>(v); }

void json_latency_us(JsonWriter& j, const CacheLatency& l) {
  j.begin_object();
  j.key("count").integer(as_int(l.count));
  j.key("p50").number(l.p50_us);
  j.key("p95").number(l.p95_us);
  j.key("p99").number(l.p99_us);
  j.key("p999").number(l.p999_us);
  j.end_object();
}

void json_tier(JsonWriter& j, const CacheTierStats& t) {
  j.begin_object();
  j.key("hits").integer(as_int(t.hits));
  j.key("misses").integer(as_int(t.misses));
  j.key("hit_rate").number(tier_hit_rate(t));
  j.key("evictions").integer(as_int(t.evictions));
  j.key("bytes").integer(as_int(t.bytes));
  j.key("entries").integer(as_int(t.entries));
  j.end_object();
}

void json_index(JsonWriter& j, const IndexSnapshot& x) {
  const HistogramSummary& l = x.search_latency;
  j.begin_object();
  j.key("name").string(x.name);
  j.key("kind").string(x.kind);
  j.key("metric").string(x.metric);
  j.key("dim").integer(x.dim);
  j.key("vectors").integer(x.size);
  j.key("memory_bytes").integer(as_int(x.memory_bytes));
  j.key("memory_budget_bytes").integer(as_int(x.memory_budget_bytes));
  j.key("age_seconds").number(x.age_seconds);
  j.key("search_calls").integer(as_int(x.calls[kSearch]));
  j.key("search_queries").integer(as_int(x.search_queries));
  j.key("qps").number(qps(x));
  j.key("add_calls").integer(as_int(x.calls[kAdd]));
  j.key("added_vectors").integer(as_int(x.added_vectors));
  j.key("remove_calls").integer(as_int(x.calls[kRemove]));
  j.key("removed_vectors").integer(as_int(x.removed_vectors));
  j.key("errors").integer(as_int(x.errors));
  j.key("migrations").integer(as_int(x.migrations));
  j.key("migration_failures").integer(as_int(x.migration_failures));
  j.key("search_latency_ns").begin_object();
  j.key("count").integer(as_int(l.count));
  j.key("p50").number(l.p50);
  j.key("p95").number(l.p95);
  j.key("p99").number(l.p99);
  j.key("p999").number(l.p999);
  j.key("max").integer(as_int(l.max));
  j.end_object();
  j.end_object();
}

void json_cache(JsonWriter& j, const CacheSnapshot& c) {
  const CacheStats& st = c.stats;
  j.begin_object();
  j.key("name").string(c.name);
  j.key("lookups").integer(as_int(st.lookups));
  j.key("hit_rate").number(st.lookups == 0 ? kNaN : st.hit_rate);
  j.key("computed").integer(as_int(st.computed));
  j.key("corrupt_records").integer(as_int(st.corrupt_records));
  json_tier(j.key("ram"), st.ram);
  json_tier(j.key("disk"), st.disk);
  json_latency_us(j.key("get_latency_us"), st.get_latency);
  json_latency_us(j.key("put_latency_us"), st.put_latency);
  j.end_object();
}

void json_report(const MetricsSnapshot& s, const ReportOptions& o,
                 const std::vector<ReportWarning>& warnings, JsonWriter& j) {
  j.begin_object();
  j.key("process").begin_object();
  j.key("resident_memory_bytes").integer(as_int(s.resident_memory_bytes));
  j.key("memory_budget_bytes").integer(as_int(o.memory_budget_bytes));
  j.end_object();
  j.key("indexes").begin_array();
  for (const IndexSnapshot& x : s.indexes) json_index(j, x);
  j.end_array();
  j.key("caches").begin_array();
  for (const CacheSnapshot& c : s.caches) json_cache(j, c);
  j.end_array();
  j.key("devices").begin_array();
  for (const DeviceMetrics& d : s.devices) {
    j.begin_object();
    j.key("device").integer(d.device);
    j.key("name").string(d.name);
    j.key("memory_used_bytes").integer(as_int(d.memory_used_bytes));
    j.key("memory_total_bytes").integer(as_int(d.memory_total_bytes));
    j.key("utilization").number(d.utilization);
    j.key("batch_searches").integer(as_int(d.batch_searches));
    j.key("batch_search_utilization").number(d.batch_search_utilization);
    j.end_object();
  }
  j.end_array();
  j.key("warnings").begin_array();
  for (const ReportWarning& w : warnings) {
    j.begin_object();
    j.key("rule").string(w.rule);
    j.key("subject").string(w.subject);
    j.key("message").string(w.message);
    j.end_object();
  }
  j.end_array();
  j.end_object();
}

}  // namespace

std::vector<ReportWarning> report_warnings(const MetricsSnapshot& s, const ReportOptions& o) {
  std::vector<ReportWarning> out;
  for (const IndexSnapshot& x : s.indexes) {
    const HistogramSummary& l = x.search_latency;
    if (l.count >= o.min_searches_for_tail && l.p50 > 0 && l.p99 > o.tail_latency_ratio * l.p50) {
      char ratio_text[32];
      std::snprintf(ratio_text, sizeof(ratio_text), "%.1fx", l.p99 / l.p50);
      out.push_back({"tail_latency", x.name,
                     x.name + ": p99 search latency " + format_ns(l.p99) + " is " + ratio_text +
                         " the p50 of " + format_ns(l.p50) + " over " + std::to_string(l.count) +
                         " searches: look for searches waiting on large adds, batches of very "
                         "different sizes, more search threads than cores, or swapping"});
    }
    if (x.migration_failing) {
      out.push_back({"migration_failed", x.name,
                     x.name + ": the auto index's last migration failed (" +
                         std::to_string(x.migration_failures) +
                         " failures so far), so it still serves from its current stage and "
                         "retries on the next add: Index::migration_status() says why (often "
                         "memory: the next stage is built beside the current one)"});
    }
    check_memory(x.name, "index memory", x.memory_bytes, x.memory_budget_bytes, o, &out);
  }
  for (const CacheSnapshot& c : s.caches) {
    const CacheStats& st = c.stats;
    if (st.lookups >= o.min_cache_lookups && st.hit_rate < o.min_cache_hit_rate) {
      out.push_back({"cache_hit_rate", c.name,
                     c.name + ": hit rate " + format_ratio(st.hit_rate) + " over " +
                         std::to_string(st.lookups) + " lookups is below " +
                         format_ratio(o.min_cache_hit_rate) + " (" +
                         std::to_string(st.ram.evictions) +
                         " RAM evictions): raise ram_budget_bytes if evictions are high, add a "
                         "disk tier, or check that texts are normalised the same way each time"});
    }
  }
  check_memory("process", "resident memory", s.resident_memory_bytes, o.memory_budget_bytes, o,
               &out);
  for (const DeviceMetrics& d : s.devices) {
    if (d.batch_searches >= o.min_gpu_batch_searches && d.batch_search_utilization >= 0 &&
        d.batch_search_utilization < o.min_gpu_utilization) {
      const std::string subject = "device" + std::to_string(d.device);
      out.push_back({"gpu_utilization", subject,
                     subject + ": busy " + format_ratio(d.batch_search_utilization) +
                         " of the time during " + std::to_string(d.batch_searches) +
                         " batch searches (below " + format_ratio(o.min_gpu_utilization) +
                         "): the host side is the bottleneck; send larger batches or overlap "
                         "transfers with compute"});
    }
  }
  return out;
}

std::string render_report(const MetricsSnapshot& s, const ReportOptions& o) {
  const std::vector<ReportWarning> warnings = report_warnings(s, o);
  if (o.format == ReportFormat::kJson) {
    JsonWriter j(/*indent=*/2);
    json_report(s, o, warnings, j);
    return j.str() + "\n";
  }
  std::string out;
  text_report(s, o, warnings, out);
  return out;
}

}  // namespace vecperf::internal

namespace vecperf {

std::string performance_report(ReportFormat format) {
  ReportOptions options;
  options.format = format;
  return performance_report(options);
}

std::string performance_report(const ReportOptions& options) {
  return internal::render_report(internal::metrics_snapshot(), options);
}

}  // namespace vecperf
