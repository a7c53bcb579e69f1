// Tests of the self-migrating auto index: Flat -> IVF -> HNSW as it grows, ids and answers kept
// across migrations, progress reports, searches during a migration, and persistence.
#include "build/auto_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/file_io.h"
#include "index/index_format.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/metrics.h"
#include "vecperf/options.h"

namespace vecperf {
namespace {

constexpr int64_t kDim = 16;
constexpr int64_t kFlatMax = 2000;
constexpr int64_t kIvfMax = 6000;
constexpr int64_t kBatch = 1000;

struct ProgressLog {
  std::vector<std::pair<int64_t, int64_t>> calls;
};

IndexOptions auto_options(ProgressLog* log = nullptr, Metric metric = Metric::kL2) {
  IndexOptions o;
  o.kind = IndexKind::kAuto;
  o.dim = kDim;
  o.metric = metric;
  o.auto_index.flat_max = kFlatMax;
  o.auto_index.ivf_max = kIvfMax;
  o.auto_index.hnsw.ef_construction = 100;
  if (log != nullptr)
    o.auto_index.on_progress = [log](int64_t done, int64_t total) {
      log->calls.emplace_back(done, total);
    };
  return o;
}

std::string stage_of(const Index& index) {
  const std::string d = index.describe();
  const size_t at = d.find("stage=");
  if (at == std::string::npos) return "?";
  return d.substr(at + 6, d.find(',', at) - at - 6);
}

std::string expected_stage(int64_t size) {
  return size > kIvfMax ? "hnsw" : size > kFlatMax ? "ivf" : "flat";
}

// Fraction of ids [0, n) whose own vector, searched with the index's default knobs, comes back
// at rank 0.
double self_hit_rate(const Index& index, const testing::Matrix& base, int64_t n) {
  SearchOptions s;
  s.k = 1;
  std::vector<float> dist(static_cast<size_t>(n));
  std::vector<int64_t> got(static_cast<size_t>(n));
  EXPECT_TRUE(index.search(base.slice(0, n), s, {dist.data(), got.data()}).ok());
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) hits += got[i] == i;
  return double(hits) / double(n);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("vecperf_auto_" + name + "_" + std::to_string(::getpid()) + ".idx"))
      .string();
}

TEST(AutoIndexTest, MigratesFlatToIvfToHnswKeepingEveryId) {
  ProgressLog log;
  auto made = make_index(auto_options(&log));
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  Index& index = **made;
  EXPECT_EQ(index.kind(), IndexKind::kAuto);
  const int64_t n = 8000;
  auto base = testing::clustered(n, kDim, 3);
  auto ids = testing::sequential_ids(n);

  std::vector<std::string> stages;
  for (int64_t b = 0; b < n; b += kBatch) {
    ASSERT_TRUE(index.add(IdSpan(ids).subspan(b, kBatch), base.slice(b, kBatch)).ok());
    ASSERT_EQ(index.size(), b + kBatch);
    EXPECT_EQ(stage_of(index), expected_stage(b + kBatch)) << index.describe();
    if (stages.empty() || stages.back() != stage_of(index)) stages.push_back(stage_of(index));
    // Every id added so far is present, and nearly every vector finds itself first.
    for (int64_t i = 0; i < b + kBatch; ++i) ASSERT_TRUE(index.contains(i)) << i;
    EXPECT_GE(self_hit_rate(index, base, b + kBatch), 0.98) << index.describe();
  }
  EXPECT_EQ(stages, (std::vector<std::string>{"flat", "ivf", "hnsw"}));
  EXPECT_NE(index.describe().find("-> hnsw("), std::string::npos) << index.describe();
  EXPECT_GT(index.memory_bytes(), size_t(n * kDim * sizeof(float)));

  // Stored vectors are preserved exactly through both migrations (float32 stages).
  std::vector<float> v(kDim);
  for (int64_t i : {int64_t{0}, int64_t{1999}, int64_t{4321}, n - 1}) {
    ASSERT_TRUE(index.get_vector(i, v.data()).ok());
    for (int64_t j = 0; j < kDim; ++j) EXPECT_EQ(v[j], base.row(i)[j]) << i;
  }

  // Two migrations: each reported 0 first and total last, with done never decreasing.
  int starts = 0;
  for (size_t c = 0; c < log.calls.size(); ++c) {
    auto [done, total] = log.calls[c];
    EXPECT_LE(done, total);
    if (done == 0) {
      ++starts;
      continue;
    }
    ASSERT_GT(c, 0u);
    EXPECT_GE(done, log.calls[c - 1].first);
  }
  EXPECT_EQ(starts, 2);
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.calls.back().first, log.calls.back().second);
  // The second migration copied everything present after the batch that crossed ivf_max.
  EXPECT_EQ(log.calls.back().second, (kIvfMax / kBatch + 1) * kBatch);

  // Approximate stages still answer well: recall@10 against exact search.
  const int k = 10, nq = 100;
  auto queries = testing::clustered(nq, kDim, 4);
  std::vector<float> dist(nq * k);
  std::vector<int64_t> got(nq * k);
  SearchOptions s;
  s.k = k;
  ASSERT_TRUE(index.search(queries.view(), s, {dist.data(), got.data()}).ok());
  EXPECT_GE(
      testing::recall_at_k(got, testing::exact_knn(base, ids, queries, k, Metric::kL2), nq, k),
      0.95);

  // Removal forwards to the current stage.
  std::vector<int64_t> gone = {5, 2500, 7999};
  ASSERT_TRUE(index.remove(gone).ok());
  EXPECT_EQ(index.size(), n - 3);
  for (int64_t id : gone) EXPECT_FALSE(index.contains(id));
  EXPECT_EQ(index.remove(gone).code(), StatusCode::kNotFound);
}

TEST(AutoIndexTest, OneLargeAddJumpsStraightToHnsw) {
  ProgressLog log;
  auto made = make_index(auto_options(&log, Metric::kCosine));
  ASSERT_TRUE(made.ok());
  const int64_t n = kIvfMax + 500;
  auto base = testing::clustered(n, kDim, 5);
  ASSERT_TRUE((*made)->add(testing::sequential_ids(n, 100), base.view()).ok());
  EXPECT_EQ(stage_of(**made), "hnsw") << (*made)->describe();
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.calls.front(), std::make_pair(int64_t{0}, n));
  EXPECT_EQ(log.calls.back(), std::make_pair(n, n));
  for (int64_t i = 0; i < n; ++i) ASSERT_TRUE((*made)->contains(100 + i));
}

TEST(AutoIndexTest, SearchesFromAnotherThreadDuringMigrationNeverFail) {
  std::atomic<bool> migrating{false};
  std::atomic<int64_t> searches_during_migration{0};
  IndexOptions o = auto_options();
  // At the start of each migration, wait (bounded) until the reader has searched at least once
  // more, so the test exercises searches during a migration however the threads get scheduled.
  o.auto_index.on_progress = [&](int64_t done, int64_t total) {
    if (done == 0) {
      const int64_t before = searches_during_migration.load();
      migrating = true;
      for (int spin = 0; spin < 10'000 && searches_during_migration.load() == before; ++spin)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (done == total) migrating = false;
  };
  auto made = make_index(o);
  ASSERT_TRUE(made.ok());
  Index& index = **made;
  const int64_t n = 7000;
  auto base = testing::clustered(n, kDim, 6);
  auto ids = testing::sequential_ids(n);
  ASSERT_TRUE(index.add(IdSpan(ids).first(kBatch), base.slice(0, kBatch)).ok());

  std::atomic<bool> stop{false};
  std::atomic<int64_t> failures{0}, searches{0};
  std::thread reader([&] {
    const int k = 5;
    std::vector<float> dist(k);
    std::vector<int64_t> got(k);
    SearchOptions s;
    s.k = k;
    s.num_threads = 1;
    int64_t q = 0;
    while (!stop) {
      const bool during = migrating;
      Status st = index.search(base.slice(q % kBatch, 1), s, {dist.data(), got.data()});
      // The index always holds >= kBatch vectors, so every slot must be filled.
      bool ok = st.ok();
      for (int j = 0; j < k && ok; ++j) ok = got[j] >= 0 && got[j] < n;
      if (!ok) ++failures;
      ++searches;
      if (during) ++searches_during_migration;
      ++q;
    }
  });
  for (int64_t b = kBatch; b < n; b += kBatch)
    ASSERT_TRUE(index.add(IdSpan(ids).subspan(b, kBatch), base.slice(b, kBatch)).ok());
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_GE(searches_during_migration.load(), 2);  // at least one per migration
  EXPECT_EQ(stage_of(index), "hnsw");
  EXPECT_EQ(index.size(), n);
}

TEST(AutoIndexTest, SaveLoadRoundTripKeepsStageAndResults) {
  auto made = make_index(auto_options());
  ASSERT_TRUE(made.ok());
  Index& index = **made;
  const int64_t n = 7000;
  auto base = testing::clustered(n, kDim, 8);
  auto ids = testing::sequential_ids(n);
  auto queries = testing::clustered(50, kDim, 9);
  const int k = 10;
  const std::string path = temp_path("roundtrip");

  for (int64_t upto : {int64_t{1500}, int64_t{4000}, int64_t{6500}}) {
    ASSERT_TRUE(index
                    .add(IdSpan(ids).subspan(index.size(), upto - index.size()),
                         base.slice(index.size(), upto - index.size()))
                    .ok());
    ASSERT_EQ(stage_of(index), expected_stage(upto));
    ASSERT_TRUE(index.save(path).ok());
    auto loaded = load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    EXPECT_EQ((*loaded)->kind(), IndexKind::kAuto);
    EXPECT_EQ((*loaded)->size(), upto);
    EXPECT_EQ(stage_of(**loaded), stage_of(index));
    EXPECT_EQ((*loaded)->describe(), index.describe());

    std::vector<float> d1(50 * k), d2(50 * k);
    std::vector<int64_t> i1(50 * k), i2(50 * k);
    SearchOptions s;
    s.k = k;
    ASSERT_TRUE(index.search(queries.view(), s, {d1.data(), i1.data()}).ok());
    ASSERT_TRUE((*loaded)->search(queries.view(), s, {d2.data(), i2.data()}).ok());
    EXPECT_EQ(i1, i2) << "stage " << stage_of(index);
    EXPECT_EQ(d1, d2);
  }

  // The loaded index kept its thresholds: growing it past ivf_max migrates it again.
  ASSERT_TRUE(index.save(path).ok());
  auto loaded = load(path);
  ASSERT_TRUE(loaded.ok());
  std::filesystem::remove(path);
  const int64_t more = n - (*loaded)->size();
  ASSERT_TRUE((*loaded)->add(IdSpan(ids).subspan(6500, more), base.slice(6500, more)).ok());
  EXPECT_EQ(stage_of(**loaded), "hnsw");
}

// Writes an auto-index file by hand: the given options fields, then `inner_kind` and, for a real
// inner kind, a Flat payload of one vector.
Status write_auto_file(const std::string& path, int64_t flat_max, uint32_t inner_kind) {
  return internal::write_framed_file(path, internal::kIndexFrame,
                                     static_cast<uint32_t>(IndexKind::kAuto),
                                     [&](internal::Writer& w) {
                                       const AutoOptions o;
                                       w.pod<int64_t>(flat_max);
                                       w.pod<int64_t>(o.ivf_max);
                                       w.pod<double>(o.target_recall);
                                       w.pod<int32_t>(o.ivf.nlist);
                                       w.pod<int32_t>(o.ivf.nprobe);
                                       w.pod<int32_t>(static_cast<int32_t>(o.ivf.encoding));
                                       w.pod<int32_t>(o.ivf.pq_m);
                                       w.pod<int32_t>(o.ivf.rerank);
                                       w.pod<int64_t>(o.ivf.train_threshold);
                                       w.pod<int64_t>(o.ivf.max_train_samples);
                                       w.pod<uint64_t>(o.ivf.seed);
                                       w.pod<int32_t>(o.hnsw.M);
                                       w.pod<int32_t>(o.hnsw.ef_construction);
                                       w.pod<int32_t>(o.hnsw.ef_search);
                                       w.pod<uint64_t>(o.hnsw.seed);
                                       w.pod<uint32_t>(inner_kind);
                                       if (inner_kind == static_cast<uint32_t>(IndexKind::kFlat)) {
                                         w.pod<int64_t>(2);                      // dim
                                         w.pod<uint32_t>(0);                     // metric l2
                                         w.vec(std::vector<int64_t>{7});         // id map
                                         w.vec(std::vector<float>{1.0f, 2.0f});  // vectors
                                       }
                                     });
}

TEST(AutoIndexTest, LoadRejectsNestedAutoAndNonsenseOptions) {
  const std::string path = temp_path("corrupt");
  // Sanity: the hand-written layout is what load_auto reads.
  ASSERT_TRUE(write_auto_file(path, 100, static_cast<uint32_t>(IndexKind::kFlat)).ok());
  auto good = load(path);
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_TRUE((*good)->contains(7));
  EXPECT_EQ(stage_of(**good), "flat");

  ASSERT_TRUE(write_auto_file(path, 100, static_cast<uint32_t>(IndexKind::kAuto)).ok());
  auto nested = load(path);
  EXPECT_EQ(nested.status().code(), StatusCode::kCorruption) << nested.status().to_string();

  ASSERT_TRUE(write_auto_file(path, 100, 99).ok());
  EXPECT_EQ(load(path).status().code(), StatusCode::kCorruption);

  ASSERT_TRUE(write_auto_file(path, 0, static_cast<uint32_t>(IndexKind::kFlat)).ok());
  auto bad = load(path);
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("flat_max"), std::string_view::npos)
      << bad.status().to_string();
  std::filesystem::remove(path);
}

TEST(AutoIndexTest, ForwardsValidationAndDescribe) {
  auto made = make_index(auto_options());
  ASSERT_TRUE(made.ok());
  Index& index = **made;
  EXPECT_EQ(index.dim(), kDim);
  EXPECT_EQ(index.metric(), Metric::kL2);
  EXPECT_EQ(index.size(), 0);
  const std::string d = index.describe();
  EXPECT_EQ(d.rfind("auto(stage=flat", 0), 0u) << d;
  EXPECT_NE(d.find("-> flat("), std::string::npos) << d;

  std::vector<float> wrong(kDim + 1, 0.5f);
  std::vector<int64_t> one = {1};
  EXPECT_EQ(index.add(one, MatrixView{wrong.data(), 1, kDim + 1}).code(),
            StatusCode::kInvalidArgument);
  std::vector<float> v(kDim, 0.5f);
  ASSERT_TRUE(index.add(one, MatrixView{v.data(), 1, kDim}).ok());
  EXPECT_EQ(index.add(one, MatrixView{v.data(), 1, kDim}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(index.get_vector(2, v.data()).code(), StatusCode::kNotFound);
  SearchOptions s;
  s.k = 0;
  std::vector<float> dist(1);
  std::vector<int64_t> got(1);
  EXPECT_EQ(index.search(MatrixView{v.data(), 1, kDim}, s, {dist.data(), got.data()}).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vecperf

namespace vecperf {
namespace {

// A failed migration leaves the add successful, the current stage serving every vector, and
// says so through migration_status(), the capabilities and the metrics; the next add retries.
TEST(AutoIndexMigrationTest, AFailedMigrationIsAStatusAndIsRetried) {
  auto made = make_index(auto_options());
  ASSERT_TRUE(made.ok());
  Index& index = **made;
  set_metrics_name(index, "failing-auto");
  EXPECT_EQ(index.migration_status().migrations, 0);
  EXPECT_TRUE(index.migration_status().last_error.ok());

  const testing::Matrix base = testing::clustered(kFlatMax + 2 * kBatch, kDim, 8, 11);
  internal::set_migration_hook_for_testing([](IndexKind next) {
    return Status::ResourceExhausted(std::string("no room for the ") + index_kind_name(next) +
                                     " stage");
  });
  const auto first = testing::sequential_ids(kFlatMax + kBatch);
  Status s = index.add(first, base.slice(0, kFlatMax + kBatch));
  internal::set_migration_hook_for_testing({});
  ASSERT_TRUE(s.ok()) << s.to_string();  // the vectors are in
  EXPECT_EQ(index.size(), kFlatMax + kBatch);
  EXPECT_EQ(index.capabilities().serving_kind, IndexKind::kFlat);
  MigrationStatus m = index.migration_status();
  EXPECT_EQ(m.migrations, 0);
  EXPECT_EQ(m.failures, 1);
  EXPECT_EQ(m.last_error.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(m.last_error.message()).find("ivf stage"), std::string::npos);
  EXPECT_NE(prometheus_text().find(
                "vecperf_index_migrations_total{index=\"failing-auto\",result=\"failed\"} 1"),
            std::string::npos);
  EXPECT_NE(performance_report().find("[migration_failed] failing-auto"), std::string::npos);

  // Every vector is still found, exactly, by the Flat stage.
  EXPECT_EQ(self_hit_rate(index, base, kFlatMax + kBatch), 1.0);

  // The next add migrates.
  const auto second = testing::sequential_ids(kBatch, kFlatMax + kBatch);
  ASSERT_TRUE(index.add(second, base.slice(kFlatMax + kBatch, kBatch)).ok());
  EXPECT_EQ(index.capabilities().serving_kind, IndexKind::kIvf);
  m = index.migration_status();
  EXPECT_EQ(m.migrations, 1);
  EXPECT_EQ(m.failures, 1);
  EXPECT_TRUE(m.last_error.ok());
  EXPECT_NE(prometheus_text().find(
                "vecperf_index_migrations_total{index=\"failing-auto\",result=\"ok\"} 1"),
            std::string::npos);
  EXPECT_EQ(performance_report().find("[migration_failed] failing-auto"), std::string::npos);
}

// The other kinds never migrate.
TEST(AutoIndexMigrationTest, OtherKindsReportNoMigrations) {
  for (IndexKind kind : {IndexKind::kFlat, IndexKind::kIvf, IndexKind::kHnsw}) {
    IndexOptions o;
    o.kind = kind;
    o.dim = kDim;
    auto made = make_index(o);
    ASSERT_TRUE(made.ok());
    const MigrationStatus m = (*made)->migration_status();
    EXPECT_EQ(m.migrations, 0);
    EXPECT_EQ(m.failures, 0);
    EXPECT_TRUE(m.last_error.ok());
    EXPECT_EQ((*made)->capabilities().serving_kind, kind);
  }
}

}  // namespace
}  // namespace vecperf
