// LatencyHistogram (the public histogram) and the exposition helpers it shares with the registry:
// escaping, name sanitising, value formatting and the grouping of families.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "metrics/exposition.h"
#include "metrics/prometheus_parser.h"
#include "vecperf/metrics.h"

namespace vecperf {
namespace {

TEST(LatencyHistogramTest, SummaryReflectsTheSamples) {
  LatencyHistogram h;
  EXPECT_EQ(h.summary().count, 0u);
  EXPECT_EQ(h.summary().p99, 0);
  // 1..1000 us: p50 ~ 500 us, p99 ~ 990 us, within the histogram's ~3% resolution.
  for (uint64_t us = 1; us <= 1000; ++us) h.record_ns(us * 1000);
  const LatencySummary s = h.summary();
  EXPECT_EQ(s.count, 1000u);
  EXPECT_EQ(s.sum, 500500u * 1000u);
  EXPECT_EQ(s.min, 1000u);
  EXPECT_EQ(s.max, 1'000'000u);
  EXPECT_NEAR(s.p50, 500'000, 500'000 * 0.035);
  EXPECT_NEAR(s.p95, 950'000, 950'000 * 0.035);
  EXPECT_NEAR(s.p99, 990'000, 990'000 * 0.035);
  EXPECT_NEAR(s.p999, 999'000, 999'000 * 0.035);
  EXPECT_LE(s.p50, s.p95);
  EXPECT_LE(s.p95, s.p99);
  h.reset();
  EXPECT_EQ(h.summary().count, 0u);
}

TEST(LatencyHistogramTest, ConcurrentRecordingLosesNothing) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.record_ns(static_cast<uint64_t>(t * 1000 + i));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.summary().count, 40000u);
}

TEST(LatencyHistogramTest, PrometheusOutputParsesWithSanitisedNameAndEscapedLabels) {
  LatencyHistogram h;
  h.record_ns(500);             // below the first bucket bound (~1 us)
  h.record_ns(3'000'000);       // 3 ms
  h.record_ns(60'000'000'000);  // a minute: only in +Inf
  const std::string text =
      h.prometheus("app.embed-latency seconds", "Embedding \\ time.\nPer call.",
                   {{"stage", "em\"bed"}, {"bad-label", "x\ny"}});
  testing::PromDocument doc;
  std::string error;
  ASSERT_TRUE(testing::parse_prometheus(text, &doc, &error)) << error << "\n" << text;
  ASSERT_EQ(doc.families.count("app_embed_latency_seconds"), 1u) << text;
  EXPECT_EQ(doc.families.at("app_embed_latency_seconds").type, "histogram");
  const testing::Labels labels = {{"stage", "em\"bed"}, {"bad_label", "x\ny"}};
  EXPECT_EQ(doc.value("app_embed_latency_seconds_count", labels), 3);
  EXPECT_NEAR(*doc.value("app_embed_latency_seconds_sum", labels), 60.0030005, 1e-9);
  testing::Labels inf = labels;
  inf["le"] = "+Inf";
  EXPECT_EQ(doc.value("app_embed_latency_seconds_bucket", inf), 3);
  testing::Labels first = labels;
  first["le"] = "1.024e-06";
  EXPECT_EQ(doc.value("app_embed_latency_seconds_bucket", first), 1);
  // The HELP text keeps backslash and newline escaped on its single line.
  EXPECT_NE(text.find("# HELP app_embed_latency_seconds Embedding \\\\ time.\\nPer call.\n"),
            std::string::npos)
      << text;
}

TEST(LatencyHistogramTest, FamilyOfSeveralHistogramsHasOneHeader) {
  LatencyHistogram embed, search;
  embed.record_ns(2'000'000);
  search.record_ns(300'000);
  search.record_ns(400'000);
  const std::string text = LatencyHistogram::prometheus_family("rag_stage_seconds", "Per stage.",
                                                               {{&embed, {{"stage", "embed"}}},
                                                                {nullptr, {{"stage", "skipped"}}},
                                                                {&search, {{"stage", "search"}}}});
  testing::PromDocument doc;
  std::string error;
  ASSERT_TRUE(testing::parse_prometheus(text, &doc, &error)) << error << "\n" << text;
  EXPECT_EQ(doc.value("rag_stage_seconds_count", {{"stage", "embed"}}), 1);
  EXPECT_EQ(doc.value("rag_stage_seconds_count", {{"stage", "search"}}), 2);
  EXPECT_TRUE(doc.find("rag_stage_seconds_count", {{"stage", "skipped"}}).empty());
  EXPECT_EQ(text.find("# TYPE"), text.rfind("# TYPE"));
  // An empty family still declares itself.
  ASSERT_TRUE(testing::parse_prometheus(
      LatencyHistogram::prometheus_family("none_seconds", "None.", {}), &doc, &error))
      << error;
  EXPECT_EQ(doc.families.at("none_seconds").type, "histogram");
}

}  // namespace
}  // namespace vecperf

namespace vecperf::internal {
namespace {

TEST(ExpositionTest, EscapesSanitisesAndFormats) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(sanitize_metric_name("ok_name:sub"), "ok_name:sub");
  EXPECT_EQ(sanitize_metric_name("9lives.x-y"), "_lives_x_y");
  EXPECT_EQ(sanitize_metric_name(""), "_");
  EXPECT_EQ(sanitize_label_name("a:b"), "a_b");
  EXPECT_EQ(format_labels({{"a", "1"}, {"b", "q\""}}), "a=\"1\",b=\"q\\\"\"");
  EXPECT_EQ(format_labels(MetricLabels{}), "");
  EXPECT_EQ(join_labels("a=\"1\"", ""), "a=\"1\"");
  EXPECT_EQ(join_labels("", "b=\"2\""), "b=\"2\"");
  EXPECT_EQ(join_labels("a=\"1\"", "b=\"2\""), "a=\"1\",b=\"2\"");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1e21), "1e+21");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
}

TEST(ExpositionTest, FamiliesAreContiguousWithOneHeaderEach) {
  Exposition e;
  Histogram h;
  h.record(2000);
  // Interleaved as the registry produces them: object by object.
  for (const char* object : {"a", "b"}) {
    const std::string labels = format_labels({{"obj", object}});
    e.counter("x_total", "X.", labels, 1);
    e.gauge("y", "Y.", labels, 2.5);
    e.histogram_ns("z_seconds", "Z.", labels, h);
  }
  e.family("empty_total", Exposition::Type::kCounter, "Declared, no samples.");
  const std::string text = e.text();
  testing::PromDocument doc;
  std::string error;
  ASSERT_TRUE(testing::parse_prometheus(text, &doc, &error)) << error << "\n" << text;
  EXPECT_EQ(doc.value("x_total", {{"obj", "b"}}), 1);
  EXPECT_EQ(doc.value("y", {{"obj", "a"}}), 2.5);
  EXPECT_EQ(doc.value("z_seconds_count", {{"obj", "b"}}), 1);
  EXPECT_EQ(doc.families.at("empty_total").type, "counter");
  EXPECT_TRUE(doc.families.at("empty_total").samples.empty());
  EXPECT_EQ(text.find("# TYPE x_total"), text.rfind("# TYPE x_total"));
}

}  // namespace
}  // namespace vecperf::internal
