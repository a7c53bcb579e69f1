// The performance report: each warning rule fires on a crafted situation and stays quiet just
// below its threshold or before its minimum number of events; the text and JSON renderings
// carry the figures; and performance_report() sees live indexes and caches.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cache/cache_test_util.h"
#include "common/json.h"
#include "metrics/performance_report.h"
#include "testing/testing.h"
#include "vecperf/cache.h"
#include "vecperf/metrics.h"
#include "vecperf/options.h"

namespace vecperf::internal {
namespace {

// An index that served `count` searches with the given p50 and p99 (nanoseconds).
IndexSnapshot index_with_latency(uint64_t count, double p50, double p99) {
  IndexSnapshot x;
  x.name = "idx";
  x.kind = "flat";
  x.metric = "l2";
  x.size = 1000;
  x.memory_bytes = 1 << 20;
  x.age_seconds = 10;
  x.calls[0] = count;
  x.search_queries = count;
  x.search_latency.count = count;
  x.search_latency.p50 = p50;
  x.search_latency.p95 = p99;
  x.search_latency.p99 = p99;
  x.search_latency.p999 = p99;
  x.search_latency.max = static_cast<uint64_t>(p99);
  return x;
}

CacheSnapshot cache_with(uint64_t lookups, double hit_rate) {
  CacheSnapshot c;
  c.name = "emb";
  c.stats.lookups = lookups;
  c.stats.hit_rate = hit_rate;
  c.stats.ram.hits = static_cast<uint64_t>(hit_rate * static_cast<double>(lookups));
  c.stats.ram.misses = lookups - c.stats.ram.hits;
  return c;
}

DeviceMetrics device_with(uint64_t batch_searches, double utilization) {
  DeviceMetrics d;
  d.device = 1;
  d.name = "gpu";
  d.batch_searches = batch_searches;
  d.batch_search_utilization = utilization;
  return d;
}

std::vector<std::string> rules(const MetricsSnapshot& s, const ReportOptions& o = {}) {
  std::vector<std::string> out;
  for (const ReportWarning& w : report_warnings(s, o)) out.push_back(w.rule + ":" + w.subject);
  return out;
}

using Rules = std::vector<std::string>;

TEST(ReportWarningsTest, NothingToSayAboutAnEmptyProcess) {
  MetricsSnapshot s;
  s.resident_memory_bytes = 100 << 20;
  EXPECT_EQ(rules(s), Rules{});
}

TEST(ReportWarningsTest, TailLatencyFiresAboveTwiceTheMedian) {
  MetricsSnapshot s;
  s.indexes = {index_with_latency(1000, 100'000, 250'000)};
  EXPECT_EQ(rules(s), Rules{"tail_latency:idx"});
  const std::vector<ReportWarning> w = report_warnings(s, {});
  EXPECT_NE(w[0].message.find("2.5x"), std::string::npos) << w[0].message;

  s.indexes = {index_with_latency(1000, 100'000, 190'000)};  // 1.9x: fine
  EXPECT_EQ(rules(s), Rules{});
  s.indexes = {index_with_latency(99, 100'000, 500'000)};  // too few searches to judge
  EXPECT_EQ(rules(s), Rules{});
  ReportOptions strict;
  strict.tail_latency_ratio = 1.5;
  s.indexes = {index_with_latency(1000, 100'000, 190'000)};
  EXPECT_EQ(rules(s, strict), Rules{"tail_latency:idx"});
}

TEST(ReportWarningsTest, CacheHitRateFiresOnlyAfterEnoughLookups) {
  MetricsSnapshot s;
  s.caches = {cache_with(5000, 0.5)};
  EXPECT_EQ(rules(s), Rules{"cache_hit_rate:emb"});
  s.caches = {cache_with(999, 0.1)};  // cold cache: not yet
  EXPECT_EQ(rules(s), Rules{});
  s.caches = {cache_with(5000, 0.7)};  // at the threshold: fine
  EXPECT_EQ(rules(s), Rules{});
}

TEST(ReportWarningsTest, MemoryFiresAboveNinetyPercentOfABudget) {
  MetricsSnapshot s;
  s.indexes = {index_with_latency(0, 0, 0)};
  s.indexes[0].memory_bytes = 950;
  EXPECT_EQ(rules(s), Rules{});  // no budget, no warning
  s.indexes[0].memory_budget_bytes = 1000;
  EXPECT_EQ(rules(s), Rules{"memory_budget:idx"});
  s.indexes[0].memory_bytes = 900;
  EXPECT_EQ(rules(s), Rules{});

  s.resident_memory_bytes = 95 << 20;
  ReportOptions o;
  o.memory_budget_bytes = 100 << 20;
  EXPECT_EQ(rules(s, o), Rules{"memory_budget:process"});
  o.memory_budget_bytes = 200 << 20;
  EXPECT_EQ(rules(s, o), Rules{});
}

TEST(ReportWarningsTest, GpuUtilisationFiresOnlyWithDeviceMetricsAndBatchSearches) {
  MetricsSnapshot s;
  s.devices = {device_with(50, 0.2)};
  EXPECT_EQ(rules(s), Rules{"gpu_utilization:device1"});
  s.devices = {device_with(50, 0.8)};
  EXPECT_EQ(rules(s), Rules{});
  s.devices = {device_with(5, 0.1)};  // too few batch searches
  EXPECT_EQ(rules(s), Rules{});
  s.devices = {device_with(50, -1)};  // not measured by the source
  EXPECT_EQ(rules(s), Rules{});
}

TEST(ReportWarningsTest, MigrationFailedFiresWhileTheLastMigrationFailed) {
  MetricsSnapshot s;
  s.indexes = {index_with_latency(0, 0, 0)};
  s.indexes[0].kind = "auto";
  s.indexes[0].migrations = 1;
  EXPECT_EQ(rules(s), Rules{});
  s.indexes[0].migration_failures = 2;
  s.indexes[0].migration_failing = true;
  EXPECT_EQ(rules(s), Rules{"migration_failed:idx"});
  const std::string text = render_report(s, ReportOptions{});
  EXPECT_NE(text.find("migrations 1 (2 failed)"), std::string::npos) << text;
  s.indexes[0].migration_failing = false;  // a later migration succeeded
  EXPECT_EQ(rules(s), Rules{});
}

TEST(ReportRenderTest, TextCarriesTheFiguresAndTheWarnings) {
  MetricsSnapshot s;
  s.resident_memory_bytes = 3 << 20;
  s.indexes = {index_with_latency(1000, 100'000, 250'000)};
  s.caches = {cache_with(2000, 0.25)};
  s.devices = {device_with(1, 0.9)};
  ReportOptions o;
  o.memory_budget_bytes = 6 << 20;
  const std::string text = render_report(s, o);
  for (const char* part :
       {"resident memory 3.0 MiB of a 6.0 MiB budget (50.0%)", "idx: flat, l2", "1000 vectors",
        "1000 queries, 100.0 qps", "p50 100.0 us", "p99 250.0 us", "emb: 2000 lookups",
        "hit rate 25.0% (ram 25.0%, disk n/a)", "device1 (gpu)", "warnings: 2",
        "[tail_latency] idx:", "[cache_hit_rate] emb:"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  }
}

TEST(ReportRenderTest, JsonIsValidAndStructured) {
  MetricsSnapshot s;
  s.resident_memory_bytes = 1234;
  s.indexes = {index_with_latency(1000, 100'000, 250'000)};
  s.indexes[0].name = "quote\"and\\newline\n";
  s.caches = {cache_with(0, 0)};
  ReportOptions o;
  o.format = ReportFormat::kJson;
  const std::string text = render_report(s, o);
  auto parsed = parse_json(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string() << "\n" << text;
  const JsonValue& doc = *parsed;
  EXPECT_EQ(doc.find("process")->find("resident_memory_bytes")->as_number(), 1234);
  const JsonValue& index = doc.find("indexes")->items().at(0);
  EXPECT_EQ(index.find("name")->as_string(), "quote\"and\\newline\n");
  EXPECT_EQ(index.find("kind")->as_string(), "flat");
  EXPECT_EQ(index.find("search_calls")->as_number(), 1000);
  EXPECT_EQ(index.find("qps")->as_number(), 100);
  EXPECT_EQ(index.find("search_latency_ns")->find("p99")->as_number(), 250'000);
  // A cache without lookups has no hit rate yet: null, not 0 or NaN.
  EXPECT_TRUE(doc.find("caches")->items().at(0).find("hit_rate")->is_null());
  EXPECT_TRUE(doc.find("devices")->items().empty());
  const auto& warnings = doc.find("warnings")->items();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].find("rule")->as_string(), "tail_latency");
}

// End to end: a live cache with mostly misses and an index over its budget show up in
// performance_report() with their warnings.
TEST(PerformanceReportTest, SeesLiveObjectsAndWarns) {
  auto opened = EmbeddingCache::open(testing::ram_options(4));
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<EmbeddingCache> cache = std::move(*opened);
  set_metrics_name(*cache, "cold-then-missing");
  std::vector<std::string> texts;
  for (int i = 0; i < 1200; ++i) texts.push_back(std::to_string(i) + "t");
  std::vector<std::string_view> views(texts.begin(), texts.end());
  std::vector<float> out(views.size() * 4);
  std::vector<uint8_t> found(views.size());
  ASSERT_TRUE(cache->get_many(views, out.data(), found.data()).ok());  // 1200 misses

  IndexOptions io;
  io.dim = 4;
  auto made = make_index(io);
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Index> index = std::move(*made);
  set_metrics_name(*index, "over-budget");
  const testing::Matrix data = testing::uniform(64, 4, 2);
  ASSERT_TRUE(index->add(testing::sequential_ids(64), data.view()).ok());
  set_memory_budget(*index, 16);

  const std::string text = performance_report();
  EXPECT_NE(text.find("[cache_hit_rate] cold-then-missing:"), std::string::npos) << text;
  EXPECT_NE(text.find("[memory_budget] over-budget:"), std::string::npos) << text;

  set_memory_budget(*index, 0);
  auto json = parse_json(performance_report(ReportFormat::kJson));
  ASSERT_TRUE(json.ok()) << json.status().to_string();
  bool saw_index = false;
  for (const JsonValue& x : json->find("indexes")->items()) {
    if (x.find("name")->as_string() != "over-budget") continue;
    saw_index = true;
    EXPECT_EQ(x.find("vectors")->as_number(), 64);
    EXPECT_EQ(x.find("add_calls")->as_number(), 1);
  }
  EXPECT_TRUE(saw_index);
  for (const JsonValue& w : json->find("warnings")->items()) {
    EXPECT_NE(w.find("subject")->as_string(), "over-budget") << "budget removed, still warns";
  }
}

}  // namespace
}  // namespace vecperf::internal
