// HNSW backend: recall against exact search, per-call ef, growth, tombstones and compaction,
// persistence and validation of damaged graph payloads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "common/file_io.h"
#include "index/index_format.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::testing {
namespace {

IndexOptions hnsw_options(int64_t dim, Metric metric, int m = 16, int ef_construction = 200) {
  IndexOptions o;
  o.kind = IndexKind::kHnsw;
  o.dim = dim;
  o.metric = metric;
  o.hnsw.M = m;
  o.hnsw.ef_construction = ef_construction;
  return o;
}

std::unique_ptr<Index> make(const IndexOptions& o) {
  auto index = make_index(o);
  EXPECT_TRUE(index.ok()) << index.status().to_string();
  return index.ok() ? std::move(*index) : nullptr;
}

struct Found {
  std::vector<float> dist;
  std::vector<int64_t> ids;
};

Found search(const Index& index, MatrixView q, int k, int ef, int threads = 0) {
  SearchOptions o;
  o.k = k;
  o.ef_search = ef;
  o.num_threads = threads;
  Found f{std::vector<float>(q.rows * k), std::vector<int64_t>(q.rows * k)};
  Status s = index.search(q, o, SearchResults{f.dist.data(), f.ids.data()});
  EXPECT_TRUE(s.ok()) << s.to_string();
  return f;
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/hnsw_test_" + std::to_string(::getpid()) + "_" + name;
}

// Recall@10 of the default graph at ef_search = 128 on 20K clustered vectors of dimension 32.
void expect_recall(Metric metric) {
  constexpr int64_t kN = 20000, kDim = 32, kQueries = 200;
  constexpr int kK = 10;
  Matrix base = clustered(kN, kDim, 1);
  Matrix queries = clustered(kQueries, kDim, 2);
  auto ids = sequential_ids(kN, 7);
  auto index = make(hnsw_options(kDim, metric));
  ASSERT_TRUE(index->add(ids, base.view()).ok());
  EXPECT_EQ(index->size(), kN);
  auto found = search(*index, queries.view(), kK, 128);
  auto truth = exact_knn(base, ids, queries, kK, metric);
  EXPECT_GE(recall_at_k(found.ids, truth, kQueries, kK), 0.95) << metric_name(metric);
  for (int64_t i = 0; i < kQueries; ++i)
    for (int j = 1; j < kK; ++j) EXPECT_LE(found.dist[i * kK + j - 1], found.dist[i * kK + j]);
}

TEST(HnswTest, RecallL2) { expect_recall(Metric::kL2); }
TEST(HnswTest, RecallInnerProduct) { expect_recall(Metric::kInnerProduct); }
TEST(HnswTest, RecallCosine) { expect_recall(Metric::kCosine); }

TEST(HnswTest, PerCallEfDoesNotInterfere) {
  constexpr int64_t kN = 5000, kDim = 16;
  constexpr int kK = 10;
  Matrix base = clustered(kN, kDim, 3);
  Matrix queries = clustered(300, kDim, 4);
  auto index = make(hnsw_options(kDim, Metric::kL2, 16, 40));
  ASSERT_TRUE(index->add(sequential_ids(kN), base.view()).ok());

  const Found low = search(*index, queries.view(), kK, 16, 1);
  const Found high = search(*index, queries.view(), kK, 256, 1);
  auto truth = exact_knn(base, sequential_ids(kN), queries, kK, Metric::kL2);
  const double recall_low = recall_at_k(low.ids, truth, queries.rows, kK);
  const double recall_high = recall_at_k(high.ids, truth, queries.rows, kK);
  EXPECT_GE(recall_high, 0.99);
  EXPECT_GE(recall_high, recall_low);

  // Two threads alternate their own ef on the same index, one query per call: each must see
  // exactly its serial results, whatever the other is doing.
  auto worker = [&](int ef, const Found& expected, bool* same) {
    *same = true;
    for (int round = 0; round < 3; ++round)
      for (int64_t i = 0; i < queries.rows; ++i) {
        Found f = search(*index, queries.slice(i, 1), kK, ef, 1);
        for (int j = 0; j < kK; ++j)
          *same = *same && f.ids[j] == expected.ids[i * kK + j] &&
                  f.dist[j] == expected.dist[i * kK + j];
      }
  };
  bool same_low = false, same_high = false;
  std::thread a(worker, 16, std::cref(low), &same_low);
  std::thread b(worker, 256, std::cref(high), &same_high);
  a.join();
  b.join();
  EXPECT_TRUE(same_low);
  EXPECT_TRUE(same_high);

  // A multi-threaded batch gives the serial answers too.
  Found batch = search(*index, queries.view(), kK, 256, 4);
  EXPECT_EQ(batch.ids, high.ids);
  EXPECT_EQ(batch.dist, high.dist);
}

TEST(HnswTest, EfBelowKIsRaisedToK) {
  constexpr int64_t kN = 2000, kDim = 8;
  Matrix base = clustered(kN, kDim, 5);
  auto index = make(hnsw_options(kDim, Metric::kL2, 16, 40));
  ASSERT_TRUE(index->add(sequential_ids(kN), base.view()).ok());
  Matrix queries = clustered(20, kDim, 6);
  Found f = search(*index, queries.view(), 50, 1);
  for (int64_t id : f.ids) EXPECT_NE(id, kNoId);
  EXPECT_EQ(search(*index, queries.view(), 5, 0).ids.size(), 100u);
}

TEST(HnswTest, CapacityGrowsAcrossManyAdds) {
  constexpr int64_t kN = 5000, kDim = 8, kBatch = 25;
  Matrix base = clustered(kN, kDim, 8);
  auto index = make(hnsw_options(kDim, Metric::kL2, 16, 40));
  auto ids = sequential_ids(kN, 100);
  for (int64_t b = 0; b < kN; b += kBatch) {
    ASSERT_TRUE(index->add(std::span(ids).subspan(b, kBatch), base.slice(b, kBatch)).ok());
  }
  EXPECT_EQ(index->size(), kN);
  // Storage grows in chunks of 1024 nodes that never move.
  EXPECT_NE(index->describe().find("capacity=5120"), std::string::npos) << index->describe();
  std::vector<float> v(kDim);
  for (int64_t i : {int64_t{0}, int64_t{1023}, int64_t{1024}, kN - 1}) {
    ASSERT_TRUE(index->get_vector(ids[i], v.data()).ok());
    EXPECT_EQ(0, std::memcmp(v.data(), base.row(i), kDim * sizeof(float))) << i;
  }
  Matrix queries = clustered(100, kDim, 9);
  auto found = search(*index, queries.view(), 10, 128);
  auto truth = exact_knn(base, ids, queries, 10, Metric::kL2);
  EXPECT_GE(recall_at_k(found.ids, truth, queries.rows, 10), 0.95);
  EXPECT_GT(index->memory_bytes(), size_t(kN * kDim * sizeof(float)));
}

// Rows of `m` whose id (i + first_id) is not in `removed`.
Matrix keep_rows(const Matrix& m, const std::set<int64_t>& removed, std::vector<int64_t>* ids,
                 int64_t first_id = 0) {
  Matrix kept{0, m.dim, {}};
  for (int64_t i = 0; i < m.rows; ++i) {
    if (removed.count(i + first_id)) continue;
    kept.data.insert(kept.data.end(), m.row(i), m.row(i) + m.dim);
    ids->push_back(i + first_id);
    ++kept.rows;
  }
  return kept;
}

TEST(HnswTest, RemovedIdsAreNeverReturnedBeforeAndAfterCompaction) {
  constexpr int64_t kN = 3000, kDim = 16;
  constexpr int kK = 20;
  Matrix base = clustered(kN, kDim, 10);
  Matrix queries = clustered(150, kDim, 11);
  auto index = make(hnsw_options(kDim, Metric::kL2, 16, 60));
  ASSERT_TRUE(index->add(sequential_ids(kN), base.view()).ok());

  std::set<int64_t> removed;
  auto check = [&](const char* stage) {
    auto found = search(*index, queries.view(), kK, 200);
    for (int64_t id : found.ids) EXPECT_EQ(removed.count(id), 0u) << stage << " id " << id;
    std::vector<int64_t> kept_ids;
    Matrix kept = keep_rows(base, removed, &kept_ids);
    auto truth = exact_knn(kept, kept_ids, queries, kK, Metric::kL2);
    EXPECT_GE(recall_at_k(found.ids, truth, queries.rows, kK), 0.97) << stage;
    // Every survivor keeps its own vector (compaction renumbers slots).
    std::vector<float> v(kDim);
    for (int64_t id : kept_ids) {
      ASSERT_TRUE(index->get_vector(id, v.data()).ok());
      ASSERT_EQ(0, std::memcmp(v.data(), base.row(id), kDim * sizeof(float))) << stage << id;
    }
    EXPECT_EQ(index->size(), kN - static_cast<int64_t>(removed.size()));
  };

  // 10% of the slots: below the compaction threshold, so they stay as tombstones.
  std::vector<int64_t> first;
  for (int64_t i = 0; i < kN; i += 10) first.push_back(i);
  ASSERT_TRUE(index->remove(first).ok());
  removed.insert(first.begin(), first.end());
  EXPECT_NE(index->describe().find("tombstones=300"), std::string::npos) << index->describe();
  check("tombstones");

  // Another 15%: past 20% of the slots, the graph is rebuilt without them.
  std::vector<int64_t> second;
  for (int64_t i = 1; i < kN; i += 7)
    if (!removed.count(i)) second.push_back(i);
  ASSERT_TRUE(index->remove(second).ok());
  removed.insert(second.begin(), second.end());
  EXPECT_NE(index->describe().find("tombstones=0"), std::string::npos) << index->describe();
  check("compacted");

  // Everything removed: searches find nothing.
  std::vector<int64_t> rest;
  for (int64_t i = 0; i < kN; ++i)
    if (!removed.count(i)) rest.push_back(i);
  ASSERT_TRUE(index->remove(rest).ok());
  EXPECT_EQ(index->size(), 0);
  auto none = search(*index, queries.view(), 5, 0);
  for (int64_t id : none.ids) EXPECT_EQ(id, kNoId);
  // And the emptied index accepts vectors again.
  ASSERT_TRUE(index->add(sequential_ids(100), base.slice(0, 100)).ok());
  auto again = search(*index, base.slice(0, 100), 1, 64);
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(again.ids[i], i);
}

TEST(HnswTest, RemovedIdCanBeAddedAgainWithANewVector) {
  constexpr int64_t kN = 1000, kDim = 8;
  Matrix base = clustered(kN, kDim, 12);
  Matrix other = clustered(1, kDim, 13, 1, 0.1f, 99);
  auto index = make(hnsw_options(kDim, Metric::kL2, 16, 40));
  ASSERT_TRUE(index->add(sequential_ids(kN), base.view()).ok());
  ASSERT_TRUE(index->remove(std::vector<int64_t>{5}).ok());
  EXPECT_FALSE(index->contains(5));
  auto gone = search(*index, base.slice(5, 1), 10, 64);
  for (int64_t id : gone.ids) EXPECT_NE(id, 5);

  ASSERT_TRUE(index->add(std::vector<int64_t>{5}, other.view()).ok());
  EXPECT_TRUE(index->contains(5));
  EXPECT_EQ(index->size(), kN);
  auto back = search(*index, other.view(), 1, 64);
  EXPECT_EQ(back.ids[0], 5);
  EXPECT_NEAR(back.dist[0], 0.0f, 1e-5f);
  std::vector<float> v(kDim);
  ASSERT_TRUE(index->get_vector(5, v.data()).ok());
  EXPECT_EQ(0, std::memcmp(v.data(), other.row(0), kDim * sizeof(float)));
}

TEST(HnswTest, SaveLoadRoundTripGivesIdenticalResults) {
  constexpr int64_t kN = 4000, kDim = 16;
  Matrix base = clustered(kN, kDim, 14);
  Matrix queries = clustered(100, kDim, 15);
  for (Metric metric : {Metric::kL2, Metric::kCosine}) {
    IndexOptions o = hnsw_options(kDim, metric, 12, 50);
    o.hnsw.ef_search = 77;
    o.hnsw.seed = 5;
    auto index = make(o);
    ASSERT_TRUE(index->add(sequential_ids(kN, 10), base.view()).ok());
    std::vector<int64_t> gone;
    for (int64_t i = 10; i < 10 + kN; i += 25) gone.push_back(i);
    ASSERT_TRUE(index->remove(gone).ok());  // tombstones travel in the file

    const std::string path = temp_path(std::string("roundtrip_") + metric_name(metric) + ".vpi");
    ASSERT_TRUE(index->save(path).ok());
    auto loaded = load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    std::remove(path.c_str());
    EXPECT_EQ((*loaded)->kind(), IndexKind::kHnsw);
    EXPECT_EQ((*loaded)->size(), index->size());
    EXPECT_EQ((*loaded)->describe(), index->describe());
    for (int ef : {0, 10, 200}) {
      Found a = search(*index, queries.view(), 10, ef);
      Found b = search(**loaded, queries.view(), 10, ef);
      EXPECT_EQ(a.ids, b.ids) << ef;
      EXPECT_EQ(a.dist, b.dist) << ef;
    }
    // The loaded graph keeps growing and removing like the original.
    ASSERT_TRUE((*loaded)->add(std::vector<int64_t>{1}, queries.slice(0, 1)).ok());
    EXPECT_EQ(search(**loaded, queries.slice(0, 1), 1, 64).ids[0], 1);
    ASSERT_TRUE((*loaded)->remove(std::vector<int64_t>{11}).ok());
  }
}

// Offsets of the fields of a saved hnsw payload (docs/design/hnsw.md) that the tests damage.
struct Layout {
  size_t entry_point = 0;  // u32
  size_t levels = 0;       // first i32 level
  size_t counts = 0;       // first u32 link count
  size_t links = 0;        // first u32 neighbour id
  uint64_t nodes = 0;
};

Layout parse_layout(const std::vector<char>& p) {
  Layout l;
  auto u64 = [&p](size_t at) {
    uint64_t v;
    std::memcpy(&v, p.data() + at, 8);
    return v;
  };
  int64_t dim;
  std::memcpy(&dim, p.data(), 8);
  size_t at = 8 + 4;      // dim, metric
  at += 8 + 8 * u64(at);  // id map
  at += 4 + 4 + 4 + 8;    // M, ef_construction, ef_search, seed
  l.nodes = u64(at);
  at += 8 + 4;  // node count, max level
  l.entry_point = at;
  at += 4;
  at += l.nodes * dim * sizeof(float);  // vectors
  l.levels = at + 8;
  at += 8 + 4 * u64(at);
  at += 8 + u64(at);  // tombstones
  l.counts = at + 8;
  at += 8 + 4 * u64(at);
  l.links = at + 8;  // after the link total
  return l;
}

TEST(HnswTest, DamagedGraphPayloadIsCorruptionNotACrash) {
  constexpr int64_t kN = 300, kDim = 4;
  Matrix base = clustered(kN, kDim, 16);
  auto index = make(hnsw_options(kDim, Metric::kL2, 4, 20));
  ASSERT_TRUE(index->add(sequential_ids(kN), base.view()).ok());
  const std::string path = temp_path("damaged.vpi");
  ASSERT_TRUE(index->save(path).ok());
  auto file = internal::read_framed_file(path, internal::kIndexFrame);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  const std::vector<char> good = file->payload;
  const Layout at = parse_layout(good);
  ASSERT_EQ(at.nodes, uint64_t(kN));

  // Each damage is written with valid checksums, so only the graph validation can catch it.
  auto load_damaged = [&](const std::function<void(std::vector<char>&)>& damage) {
    std::vector<char> bad = good;
    damage(bad);
    EXPECT_TRUE(internal::write_framed_file(
                    path, internal::kIndexFrame, file->kind,
                    [&bad](internal::Writer& w) { w.bytes(bad.data(), bad.size()); })
                    .ok());
    auto loaded = load(path);
    return loaded.ok() ? Status::OK() : loaded.status();
  };
  auto put_u32 = [](std::vector<char>& p, size_t at, uint32_t v) { std::memcpy(&p[at], &v, 4); };

  // The undamaged payload loads: the harness itself is sound.
  EXPECT_TRUE(load_damaged([](std::vector<char>&) {}).ok());

  struct Case {
    const char* name;
    std::function<void(std::vector<char>&)> damage;
  };
  const Case cases[] = {
      {"neighbour id out of range", [&](auto& p) { put_u32(p, p.size() - 4, kN + 7); }},
      {"first neighbour out of range", [&](auto& p) { put_u32(p, at.links, 0xFFFFFFF0u); }},
      {"link to itself", [&](auto& p) { put_u32(p, at.links, 0); }},
      {"too many links", [&](auto& p) { put_u32(p, at.counts, 9); }},
      {"link total past the end", [&](auto& p) { put_u32(p, at.links - 8, 0xFFFFFFu); }},
      {"link total short of the counts",
       [&](auto& p) {
         uint32_t total;
         std::memcpy(&total, &p[at.links - 8], 4);
         put_u32(p, at.links - 8, total - 1);
       }},
      {"entry point out of range", [&](auto& p) { put_u32(p, at.entry_point, kN); }},
      {"level out of range", [&](auto& p) { put_u32(p, at.levels, 1000); }},
      {"negative level", [&](auto& p) { put_u32(p, at.levels + 8, 0xFFFFFFFFu); }},
      {"truncated links", [&](auto& p) { p.resize(p.size() - 4); }},
      {"node count", [&](auto& p) { put_u32(p, at.entry_point - 12, kN + 1); }},
  };
  for (const Case& c : cases) {
    Status s = load_damaged(c.damage);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << c.name << ": " << s.to_string();
    EXPECT_NE(s.message().find(path), std::string::npos) << c.name << ": " << s.to_string();
  }
  std::remove(path.c_str());
}

// tests/index/data/hnsw_v1.vpi was saved by the first HNSW backend (hnswlib's graph fields):
// 300 clustered vectors (dimension 8, ids 1000..1299, every tenth removed), M = 6,
// ef_construction = 40, ef_search = 32, seed 7. Its search results were recorded then.
TEST(HnswTest, FilesOfTheFirstFormatStillLoadAndAnswerAsBefore) {
  const std::string path = std::string(VECPERF_TEST_DATA_DIR) + "/hnsw_v1.vpi";
  auto loaded = load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  Index& index = **loaded;
  EXPECT_EQ(index.size(), 270);
  EXPECT_NE(index.describe().find("M=6, ef_construction=40, ef_search=32, seed=7"),
            std::string::npos)
      << index.describe();
  EXPECT_NE(index.describe().find("tombstones=30"), std::string::npos) << index.describe();
  for (int64_t id = 1000; id < 1300; ++id) EXPECT_EQ(index.contains(id), (id - 1000) % 10 != 0);

  const Matrix queries = clustered(20, 8, 12, 8);
  const std::vector<int64_t> expected = {
      1058, 1051, 1211, 1286, 1293, 1072, 1202, 1275, 1159, 1286, 1058, 1286, 1185, 1109, 1051,
      1234, 1031, 1266, 1038, 1292, 1121, 1283, 1025, 1174, 1081, 1006, 1016, 1156, 1279, 1044,
      1121, 1025, 1123, 1165, 1069, 1277, 1072, 1185, 1035, 1099, 1283, 1041, 1174, 1254, 1229,
      1108, 1276, 1068, 1145, 1264, 1247, 1232, 1189, 1004, 1079, 1193, 1276, 1164, 1088, 1026,
      1244, 1001, 1068, 1258, 1115, 1051, 1211, 1058, 1035, 1286, 1053, 1228, 1017, 1218, 1112,
      1076, 1103, 1077, 1097, 1121, 1134, 1029, 1047, 1008, 1143, 1144, 1298, 1285, 1033, 1149,
      1298, 1285, 1033, 1111, 1059, 1068, 1115, 1276, 1259, 1244};
  EXPECT_EQ(search(index, queries.view(), 5, 16).ids, expected);

  // Saved again, the graph is byte for byte the file it came from.
  auto file = internal::read_framed_file(path, internal::kIndexFrame);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  const std::string again = temp_path("v1_again.vpi");
  ASSERT_TRUE(index.save(again).ok());
  auto resaved = internal::read_framed_file(again, internal::kIndexFrame);
  std::remove(again.c_str());
  ASSERT_TRUE(resaved.ok()) << resaved.status().to_string();
  EXPECT_TRUE(resaved->payload == file->payload);
}

TEST(HnswTest, OptionsAreValidated) {
  IndexOptions o = hnsw_options(8, Metric::kL2);
  o.hnsw.M = 1;
  EXPECT_EQ(make_index(o).status().code(), StatusCode::kInvalidArgument);
  o = hnsw_options(8, Metric::kL2);
  o.hnsw.ef_search = 0;
  EXPECT_EQ(make_index(o).status().code(), StatusCode::kInvalidArgument);
  auto index = make(hnsw_options(8, Metric::kL2));
  std::vector<float> d(10);
  std::vector<int64_t> l(10);
  SearchOptions s;
  s.ef_search = -1;
  Matrix q = clustered(1, 8, 1);
  EXPECT_EQ(index->search(q.view(), s, SearchResults{d.data(), l.data()}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_NE(index->describe().find("hnsw(dim=8"), std::string::npos);
}

}  // namespace
}  // namespace vecperf::testing
