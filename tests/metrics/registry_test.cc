// The process-wide registry through its public face, prometheus_text(): lifecycle of indexes and
// caches, exact counts after known operations, naming, the exposition grammar, and scrapes that
// race with searches and with indexes being created and destroyed.
#include "metrics/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache_test_util.h"
#include "metrics/prometheus_parser.h"
#include "testing/testing.h"
#include "vecperf/cache.h"
#include "vecperf/metrics.h"
#include "vecperf/options.h"

namespace vecperf {
namespace {

using testing::Labels;
using testing::PromDocument;

PromDocument scrape() {
  PromDocument doc;
  std::string error;
  const std::string text = prometheus_text();
  EXPECT_TRUE(testing::parse_prometheus(text, &doc, &error)) << error << "\n" << text;
  return doc;
}

std::unique_ptr<Index> make(IndexKind kind, int64_t dim, const std::string& name) {
  IndexOptions o;
  o.kind = kind;
  o.dim = dim;
  auto index = make_index(o);
  EXPECT_TRUE(index.ok()) << index.status().to_string();
  set_metrics_name(**index, name);
  return std::move(*index);
}

double value(const PromDocument& doc, const std::string& name, const Labels& labels) {
  auto v = doc.value(name, labels);
  EXPECT_TRUE(v.has_value()) << name << " with the given labels is missing";
  return v.value_or(-1);
}

TEST(RegistryTest, IndexAppearsWhileAliveAndDisappearsWhenDestroyed) {
  auto index = make(IndexKind::kFlat, 4, "lifecycle");
  PromDocument doc = scrape();
  EXPECT_EQ(value(doc, "vecperf_index_info",
                  {{"index", "lifecycle"}, {"kind", "flat"}, {"metric", "l2"}, {"dim", "4"}}),
            1);
  EXPECT_EQ(value(doc, "vecperf_index_vectors", {{"index", "lifecycle"}}), 0);
  index.reset();
  doc = scrape();
  EXPECT_TRUE(doc.find("vecperf_index_info", {{"index", "lifecycle"}}).empty());
  EXPECT_TRUE(doc.find("vecperf_index_calls_total", {{"index", "lifecycle"}}).empty());
  // The families stay declared, with HELP and TYPE, when no index is alive.
  EXPECT_EQ(doc.families.at("vecperf_index_search_latency_seconds").type, "histogram");
}

TEST(RegistryTest, CountsEqualTheOperationsPerformed) {
  constexpr int64_t kDim = 8;
  auto index = make(IndexKind::kFlat, kDim, "counts");
  const testing::Matrix data = testing::uniform(100, kDim, 1);
  // 4 adds of 25 vectors, 3 removes of 2 ids, 7 searches of 3 queries, 2 failing searches.
  for (int i = 0; i < 4; ++i) {
    const auto ids = testing::sequential_ids(25, i * 25);
    ASSERT_TRUE(index->add(ids, data.slice(i * 25, 25)).ok());
  }
  for (int i = 0; i < 3; ++i) {
    const std::vector<int64_t> ids = {2 * i, 2 * i + 1};
    ASSERT_TRUE(index->remove(ids).ok());
  }
  std::vector<float> dist(3 * 5);
  std::vector<int64_t> ids(3 * 5);
  SearchOptions so;
  so.k = 5;
  so.num_threads = 1;
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(index->search(data.slice(i, 3), so, {dist.data(), ids.data()}).ok());
  const std::vector<float> wrong_dim(3, 0.0f);
  EXPECT_FALSE(index->search({wrong_dim.data(), 1, 3}, so, {dist.data(), ids.data()}).ok());
  so.k = 0;
  EXPECT_FALSE(index->search(data.slice(0, 1), so, {dist.data(), ids.data()}).ok());
  const std::vector<int64_t> missing = {99999};
  EXPECT_EQ(index->remove(missing).code(), StatusCode::kNotFound);

  const PromDocument doc = scrape();
  const Labels idx = {{"index", "counts"}};
  auto with = [&](Labels extra) {
    Labels l = idx;
    l.insert(extra.begin(), extra.end());
    return l;
  };
  EXPECT_EQ(value(doc, "vecperf_index_calls_total", with({{"op", "add"}})), 4);
  EXPECT_EQ(value(doc, "vecperf_index_calls_total", with({{"op", "remove"}})), 4);
  EXPECT_EQ(value(doc, "vecperf_index_calls_total", with({{"op", "search"}})), 9);
  EXPECT_EQ(value(doc, "vecperf_index_added_vectors_total", idx), 100);
  EXPECT_EQ(value(doc, "vecperf_index_removed_vectors_total", idx), 6);
  EXPECT_EQ(value(doc, "vecperf_index_search_queries_total", idx), 21);
  EXPECT_EQ(value(doc, "vecperf_index_errors_total",
                  with({{"op", "search"}, {"code", "InvalidArgument"}})),
            2);
  EXPECT_EQ(
      value(doc, "vecperf_index_errors_total", with({{"op", "remove"}, {"code", "NotFound"}})), 1);
  EXPECT_EQ(doc.find("vecperf_index_errors_total", idx).size(), 2u);  // only codes that occurred
  EXPECT_EQ(value(doc, "vecperf_index_search_latency_seconds_count", idx), 7);
  EXPECT_GT(value(doc, "vecperf_index_search_latency_seconds_sum", idx), 0);
  EXPECT_EQ(value(doc, "vecperf_index_vectors", idx), 94);
  EXPECT_EQ(value(doc, "vecperf_index_memory_bytes", idx),
            static_cast<double>(index->memory_bytes()));
}

TEST(RegistryTest, AutoIndexCountsOnceAcrossMigrations) {
  const size_t before = scrape().find("vecperf_index_info").size();
  IndexOptions o;
  o.kind = IndexKind::kAuto;
  o.dim = 8;
  o.auto_index.flat_max = 300;
  o.auto_index.ivf_max = 100000;
  auto made = make_index(o);
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Index> index = std::move(*made);
  set_metrics_name(*index, "auto");
  const testing::Matrix data = testing::clustered(400, 8, 3, 8);
  ASSERT_TRUE(index->add(testing::sequential_ids(400), data.view()).ok());
  ASSERT_NE(index->describe().find("stage=ivf"), std::string::npos) << index->describe();
  std::vector<float> dist(10);
  std::vector<int64_t> ids(10);
  ASSERT_TRUE(index->search(data.slice(0, 1), {}, {dist.data(), ids.data()}).ok());

  const PromDocument doc = scrape();
  EXPECT_EQ(doc.find("vecperf_index_info").size(), before + 1);
  EXPECT_EQ(value(doc, "vecperf_index_info",
                  {{"index", "auto"}, {"kind", "auto"}, {"metric", "l2"}, {"dim", "8"}}),
            1);
  EXPECT_EQ(value(doc, "vecperf_index_calls_total", {{"index", "auto"}, {"op", "add"}}), 1);
  EXPECT_EQ(value(doc, "vecperf_index_calls_total", {{"index", "auto"}, {"op", "search"}}), 1);
  EXPECT_EQ(value(doc, "vecperf_index_vectors", {{"index", "auto"}}), 400);
  EXPECT_EQ(value(doc, "vecperf_index_memory_bytes", {{"index", "auto"}}),
            static_cast<double>(index->memory_bytes()));
  EXPECT_EQ(value(doc, "vecperf_index_migrations_total", {{"index", "auto"}, {"result", "ok"}}), 1);
  EXPECT_EQ(value(doc, "vecperf_index_migrations_total", {{"index", "auto"}, {"result", "failed"}}),
            0);

  // Loading registers the auto index once too, with its size already known.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("vecperf_metrics_auto_" + std::to_string(::getpid()) + ".vpi"))
                               .string();
  ASSERT_TRUE(index->save(path).ok());
  auto loaded = load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  set_metrics_name(**loaded, "auto-loaded");
  const PromDocument after_load = scrape();
  EXPECT_EQ(after_load.find("vecperf_index_info").size(), before + 2);
  EXPECT_EQ(value(after_load, "vecperf_index_vectors", {{"index", "auto-loaded"}}), 400);
}

TEST(RegistryTest, LoadedIndexStartsWithItsSizeAndMemory) {
  auto index = make(IndexKind::kHnsw, 8, "to-save");
  const testing::Matrix data = testing::uniform(50, 8, 5);
  ASSERT_TRUE(index->add(testing::sequential_ids(50), data.view()).ok());
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("vecperf_metrics_hnsw_" + std::to_string(::getpid()) + ".vpi"))
                               .string();
  ASSERT_TRUE(index->save(path).ok());
  auto loaded = load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  set_metrics_name(**loaded, "loaded");
  const PromDocument doc = scrape();
  EXPECT_EQ(value(doc, "vecperf_index_vectors", {{"index", "loaded"}}), 50);
  EXPECT_EQ(value(doc, "vecperf_index_memory_bytes", {{"index", "loaded"}}),
            static_cast<double>((*loaded)->memory_bytes()));
  EXPECT_EQ(value(doc, "vecperf_index_calls_total", {{"index", "loaded"}, {"op", "add"}}), 0);
}

TEST(RegistryTest, NamesDefaultToCreationOrderAndCollisionsAreDisambiguated) {
  auto a = make(IndexKind::kFlat, 2, "");
  auto b = make(IndexKind::kFlat, 2, "");
  PromDocument doc = scrape();
  const auto infos = doc.find("vecperf_index_info", {{"dim", "2"}});
  ASSERT_EQ(infos.size(), 2u);
  const std::string first = infos[0].labels.at("index");
  const std::string second = infos[1].labels.at("index");
  ASSERT_EQ(first.rfind("index", 0), 0u) << first;
  EXPECT_EQ(std::stoi(second.substr(5)), std::stoi(first.substr(5)) + 1);

  set_metrics_name(*a, "same");
  set_metrics_name(*b, "same");
  doc = scrape();  // the parser rejects duplicate series, so the names must differ
  EXPECT_EQ(doc.find("vecperf_index_info", {{"index", "same"}}).size(), 1u);
  EXPECT_EQ(doc.find("vecperf_index_info", {{"index", "same-" + second.substr(5)}}).size(), 1u);

  set_metrics_name(*b, "");  // back to the default
  doc = scrape();
  EXPECT_EQ(doc.find("vecperf_index_info", {{"index", second}}).size(), 1u);
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  const std::string tricky = "a\"b\\c\nd";
  auto index = make(IndexKind::kFlat, 3, tricky);
  const std::string text = prometheus_text();
  EXPECT_NE(text.find("index=\"a\\\"b\\\\c\\nd\""), std::string::npos) << text;
  const PromDocument doc = scrape();
  EXPECT_EQ(value(doc, "vecperf_index_vectors", {{"index", tricky}}), 0);
}

TEST(RegistryTest, CachesAreExposedWithTheirLabelAndLeaveWhenDestroyed) {
  auto opened = EmbeddingCache::open(testing::ram_options(4));
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<EmbeddingCache> cache = std::move(*opened);
  set_metrics_name(*cache, "emb");
  auto second = EmbeddingCache::open(testing::ram_options(4));
  ASSERT_TRUE(second.ok());
  set_metrics_name(**second, "emb2");
  ASSERT_TRUE(cache->put("x", testing::vector_for("x", 4)).ok());
  for (const char* text : {"x", "x", "y"}) ASSERT_TRUE(cache->get(text).ok());

  PromDocument doc = scrape();  // two caches: each family still has one HELP and one TYPE
  EXPECT_EQ(value(doc, "vecperf_cache_hits_total", {{"cache", "emb"}, {"tier", "ram"}}), 2);
  EXPECT_EQ(value(doc, "vecperf_cache_misses_total", {{"cache", "emb"}, {"tier", "ram"}}), 1);
  EXPECT_EQ(value(doc, "vecperf_cache_lookups_total", {{"cache", "emb"}}), 3);
  EXPECT_EQ(value(doc, "vecperf_cache_get_latency_seconds_count", {{"cache", "emb"}}), 3);
  EXPECT_EQ(value(doc, "vecperf_cache_lookups_total", {{"cache", "emb2"}}), 0);
  EXPECT_TRUE(doc.find("vecperf_cache_hits_total", {{"tier", "disk"}}).empty());
  EXPECT_EQ(doc.families.at("vecperf_cache_get_latency_seconds").type, "histogram");

  cache.reset();
  doc = scrape();
  EXPECT_TRUE(doc.find("vecperf_cache_lookups_total", {{"cache", "emb"}}).empty());
  EXPECT_EQ(doc.find("vecperf_cache_lookups_total", {{"cache", "emb2"}}).size(), 1u);
}

TEST(RegistryTest, ProcessResidentMemoryIsReported) {
  const PromDocument doc = scrape();
  const double rss = value(doc, "vecperf_process_resident_memory_bytes", {});
  EXPECT_GT(rss, 1 << 20);  // a process linking FAISS and RocksDB holds more than 1 MiB
  EXPECT_EQ(doc.families.at("vecperf_process_resident_memory_bytes").type, "gauge");
}

TEST(RegistryTest, DeviceMetricsAppearOnlyWithASource) {
  EXPECT_TRUE(scrape().find("vecperf_device_memory_used_bytes").empty());
  internal::set_device_metrics_source([] {
    internal::DeviceMetrics d;
    d.device = 0;
    d.name = "test device";
    d.memory_used_bytes = 1000;
    d.memory_total_bytes = 4000;
    d.utilization = 0.25;
    d.batch_searches = 3;
    d.batch_search_utilization = 0.5;
    return std::vector<internal::DeviceMetrics>{d};
  });
  const PromDocument doc = scrape();
  internal::set_device_metrics_source({});
  const Labels dev = {{"device", "0"}, {"name", "test device"}};
  EXPECT_EQ(value(doc, "vecperf_device_memory_used_bytes", dev), 1000);
  EXPECT_EQ(value(doc, "vecperf_device_memory_total_bytes", dev), 4000);
  EXPECT_EQ(value(doc, "vecperf_device_utilization_ratio", dev), 0.25);
  EXPECT_EQ(value(doc, "vecperf_device_batch_searches_total", dev), 3);
  EXPECT_TRUE(scrape().find("vecperf_device_memory_used_bytes").empty());
}

// Searches on several threads while another scrapes and creates and destroys indexes: every
// scrape parses, and the final counts are exact (run under TSan to check for races).
TEST(RegistryTest, ConcurrentSearchesWhileScrapingAndChurning) {
  constexpr int kThreads = 3;
  constexpr int kSearchesPerThread = 300;
  constexpr int64_t kDim = 16;
  auto index = make(IndexKind::kFlat, kDim, "concurrent");
  const testing::Matrix data = testing::uniform(200, kDim, 9);
  ASSERT_TRUE(index->add(testing::sequential_ids(200), data.view()).ok());

  std::atomic<bool> done{false};
  std::atomic<int> bad_scrapes{0};
  std::thread scraper([&] {
    int round = 0;
    while (!done.load()) {
      auto churn =
          make(round % 2 ? IndexKind::kHnsw : IndexKind::kFlat, 4, "churn" + std::to_string(round));
      const std::vector<float> v(4, 1.0f);
      const std::vector<int64_t> one = {1};
      (void)churn->add(one, {v.data(), 1, 4});
      PromDocument doc;
      std::string error;
      if (!testing::parse_prometheus(prometheus_text(), &doc, &error)) bad_scrapes++;
      (void)performance_report(ReportFormat::kJson);
      ++round;
    }
  });
  std::vector<std::thread> searchers;
  for (int t = 0; t < kThreads; ++t) {
    searchers.emplace_back([&, t] {
      std::vector<float> dist(2 * 5);
      std::vector<int64_t> ids(2 * 5);
      SearchOptions so;
      so.k = 5;
      so.num_threads = 1;
      for (int i = 0; i < kSearchesPerThread; ++i) {
        const int64_t row = (t * kSearchesPerThread + i) % 199;
        EXPECT_TRUE(index->search(data.slice(row, 2), so, {dist.data(), ids.data()}).ok());
      }
    });
  }
  for (auto& s : searchers) s.join();
  done = true;
  scraper.join();
  EXPECT_EQ(bad_scrapes.load(), 0);
  const PromDocument doc = scrape();
  const Labels idx = {{"index", "concurrent"}};
  EXPECT_EQ(value(doc, "vecperf_index_calls_total", {{"index", "concurrent"}, {"op", "search"}}),
            kThreads * kSearchesPerThread);
  EXPECT_EQ(value(doc, "vecperf_index_search_queries_total", idx),
            2 * kThreads * kSearchesPerThread);
  EXPECT_EQ(value(doc, "vecperf_index_search_latency_seconds_count", idx),
            kThreads * kSearchesPerThread);
  EXPECT_TRUE(doc.find("vecperf_index_info", {{"index", "churn0"}}).empty());
}

}  // namespace
}  // namespace vecperf
