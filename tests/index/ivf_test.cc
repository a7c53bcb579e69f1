// IVF backend: recall against the brute-force oracle for every encoding and metric, the
// untrained (buffered, exact) phase, per-call knobs under concurrency, removal, persistence and
// damaged FAISS payloads.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf {
namespace {

using testing::Matrix;

constexpr int64_t kN = 20000;
constexpr int64_t kDim = 32;
constexpr int64_t kQueries = 200;
constexpr int kK = 10;

struct Data {
  Matrix base = testing::clustered(kN, kDim, 7);
  Matrix queries = testing::clustered(kQueries, kDim, 8);
  std::vector<int64_t> ids = testing::sequential_ids(kN, 1000);
};

const Data& data() {
  static const Data* d = new Data();
  return *d;
}

const std::vector<int64_t>& truth(Metric metric) {
  static std::vector<int64_t>* t[3] = {nullptr, nullptr, nullptr};
  auto& slot = t[static_cast<int>(metric)];
  if (slot == nullptr)
    slot = new std::vector<int64_t>(
        testing::exact_knn(data().base, data().ids, data().queries, kK, metric));
  return *slot;
}

IvfOptions ivf_options(IvfEncoding encoding = IvfEncoding::kFlat, int nlist = 128) {
  IvfOptions o;
  o.nlist = nlist;
  o.nprobe = 16;
  o.encoding = encoding;
  return o;
}

std::unique_ptr<Index> make_ivf(const IvfOptions& ivf, Metric metric = Metric::kL2,
                                int64_t dim = kDim) {
  IndexOptions o;
  o.kind = IndexKind::kIvf;
  o.dim = dim;
  o.metric = metric;
  o.ivf = ivf;
  auto index = make_index(o);
  EXPECT_TRUE(index.ok()) << index.status().to_string();
  return std::move(*index);
}

std::unique_ptr<Index> build(const IvfOptions& ivf, Metric metric = Metric::kL2) {
  auto index = make_ivf(ivf, metric);
  const Data& d = data();
  Status s = index->add(d.ids, d.base.view());
  EXPECT_TRUE(s.ok()) << s.to_string();
  return index;
}

struct Found {
  std::vector<int64_t> ids;
  std::vector<float> dists;
};

Found search(const Index& index, const SearchOptions& so, const Matrix& q = data().queries) {
  Found f;
  f.ids.resize(static_cast<size_t>(q.rows * so.k));
  f.dists.resize(f.ids.size());
  Status s = index.search(q.view(), so, SearchResults{f.dists.data(), f.ids.data()});
  EXPECT_TRUE(s.ok()) << s.to_string();
  return f;
}

SearchOptions opts(int nprobe = 0, int rerank = 0, int threads = 0) {
  SearchOptions so;
  so.k = kK;
  so.nprobe = nprobe;
  so.rerank = rerank;
  so.num_threads = threads;
  return so;
}

double recall(const Found& f, Metric metric = Metric::kL2) {
  return testing::recall_at_k(f.ids, truth(metric), kQueries, kK);
}

bool trained(const Index& index) {
  return index.describe().find("trained=yes") != std::string::npos;
}

class IvfMetricTest : public ::testing::TestWithParam<Metric> {};

TEST_P(IvfMetricTest, FlatRecallAtModerateNprobe) {
  auto index = build(ivf_options(), GetParam());
  ASSERT_TRUE(trained(*index)) << index->describe();
  EXPECT_EQ(index->size(), kN);
  const double r = recall(search(*index, opts(16)), GetParam());
  EXPECT_GE(r, 0.95) << index->describe();
  // Fewer probes can only lose neighbours.
  EXPECT_LE(recall(search(*index, opts(1)), GetParam()), r);
}

INSTANTIATE_TEST_SUITE_P(IvfTest, IvfMetricTest,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const auto& info) { return std::string(metric_name(info.param)); });

TEST(IvfTest, DerivedNlistClampsToTrainingPoints) {
  IvfOptions o = ivf_options(IvfEncoding::kFlat, 0);
  o.train_threshold = kN;  // train once everything is in, so nlist derives from N = 20000
  auto index = build(o);
  const std::string d = index->describe();
  // 4 * sqrt(20000) = 566, capped at 20000 / 39 = 512 so each list gets >= 39 training points.
  EXPECT_NE(d.find("lists=512"), std::string::npos) << d;
  EXPECT_EQ(index->capabilities().knob_max, 512);
  EXPECT_GE(recall(search(*index, opts(32))), 0.95);
}

TEST(IvfTest, NprobeEqualNlistIsExact) {
  auto index = build(ivf_options());
  IndexOptions fo;
  fo.kind = IndexKind::kFlat;
  fo.dim = kDim;
  auto flat = std::move(make_index(fo)).value();
  ASSERT_TRUE(flat->add(data().ids, data().base.view()).ok());
  const Found want = search(*flat, opts());
  for (int nprobe : {128, 100000}) {  // larger than nlist is clamped
    const Found got = search(*index, opts(nprobe));
    EXPECT_EQ(got.ids, want.ids) << "nprobe " << nprobe;
    for (size_t i = 0; i < got.dists.size(); ++i)
      ASSERT_NEAR(got.dists[i], want.dists[i], 1e-4f * (1 + want.dists[i])) << i;
  }
}

TEST(IvfTest, Sq8WithRerankReachesFlatRecall) {
  IvfOptions o = ivf_options(IvfEncoding::kSQ8);
  o.rerank = 50;
  auto index = build(o);
  EXPECT_GE(recall(search(*index, opts(16))), 0.95) << index->describe();
  // With re-ranking the distances are exact, so they match a recomputation from get_vector.
  const Found f = search(*index, opts(16));
  std::vector<float> v(kDim);
  ASSERT_TRUE(index->get_vector(f.ids[0], v.data()).ok());
  const float* q = data().queries.row(0);
  float d = 0;
  for (int j = 0; j < kDim; ++j) d += (q[j] - v[j]) * (q[j] - v[j]);
  EXPECT_NEAR(f.dists[0], d, 1e-4f * (1 + d));
}

TEST(IvfTest, Sq4AndSq8WithoutRerankStillFindNeighbours) {
  for (IvfEncoding e : {IvfEncoding::kSQ8, IvfEncoding::kSQ4}) {
    auto index = build(ivf_options(e));
    EXPECT_GE(recall(search(*index, opts(16))), e == IvfEncoding::kSQ8 ? 0.85 : 0.5)
        << index->describe();
    // Decoded vectors are close to the originals.
    std::vector<float> v(kDim);
    ASSERT_TRUE(index->get_vector(data().ids[5], v.data()).ok());
    for (int j = 0; j < kDim; ++j) EXPECT_NEAR(v[j], data().base.row(5)[j], 0.2f);
  }
}

TEST(IvfTest, PqRerankImprovesRecall) {
  IvfOptions o = ivf_options(IvfEncoding::kPQ);
  o.rerank = 100;
  o.max_train_samples = 10000;  // enough for 256 centroids per sub-quantiser, and quicker
  auto index = build(o);
  EXPECT_NE(index->describe().find("pq_m=8"), std::string::npos) << index->describe();
  const double with = recall(search(*index, opts(16)));
  // Re-ranking only k candidates keeps PQ's own top-k set: the recall of PQ alone.
  const double without = recall(search(*index, opts(16, kK)));
  EXPECT_GT(with, without + 0.05) << with << " vs " << without;
  EXPECT_GE(with, 0.9);
  // A larger per-call re-rank depth can only add true neighbours to the candidate set.
  EXPECT_GE(recall(search(*index, opts(16, 400))), with);
}

TEST(IvfTest, SearchBeforeTrainingIsExact) {
  IvfOptions o = ivf_options();
  o.train_threshold = 8000;
  auto index = make_ivf(o);
  const Data& d = data();
  ASSERT_TRUE(index->add(std::span(d.ids).first(5000), d.base.slice(0, 5000)).ok());
  EXPECT_FALSE(trained(*index)) << index->describe();
  Matrix base5k{5000, kDim,
                std::vector<float>(d.base.data.begin(), d.base.data.begin() + 5000 * kDim)};
  std::vector<int64_t> ids5k(d.ids.begin(), d.ids.begin() + 5000);
  const auto want = testing::exact_knn(base5k, ids5k, d.queries, kK, Metric::kL2);
  EXPECT_GE(testing::recall_at_k(search(*index, opts(1)).ids, want, kQueries, kK), 0.999);
  // Removal while buffered keeps the buffer dense and exact.
  ASSERT_TRUE(index->remove(std::span(d.ids).subspan(100, 10)).ok());
  EXPECT_FALSE(index->contains(d.ids[105]));
  EXPECT_EQ(index->size(), 4990);
  // Crossing the threshold trains and moves the buffer into the lists.
  ASSERT_TRUE(index->add(std::span(d.ids).subspan(5000), d.base.slice(5000, kN - 5000)).ok());
  EXPECT_TRUE(trained(*index)) << index->describe();
  ASSERT_TRUE(index->add(std::span(d.ids).subspan(100, 10), d.base.slice(100, 10)).ok());
  EXPECT_EQ(index->size(), kN);
  EXPECT_GE(recall(search(*index, opts(16))), 0.95);
}

TEST(IvfTest, BatchedSearchMatchesOneQueryAtATime) {
  // Batches take a list-major path; single queries a query-major one: same results.
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = build(ivf_options(), metric);
    for (int threads : {1, 2}) {
      const Found batch = search(*index, opts(8, 0, threads));
      for (int64_t i = 0; i < kQueries; ++i) {
        Matrix one{1, kDim,
                   std::vector<float>(data().queries.row(i), data().queries.row(i) + kDim)};
        const Found f = search(*index, opts(8, 0, 1), one);
        for (int j = 0; j < kK; ++j) {
          ASSERT_EQ(f.ids[j], batch.ids[i * kK + j]) << "query " << i;
          ASSERT_EQ(f.dists[j], batch.dists[i * kK + j]) << "query " << i;
        }
      }
    }
  }
}

TEST(IvfTest, ConcurrentPerCallNprobeMatchesSerial) {
  auto index = build(ivf_options());
  const Found serial1 = search(*index, opts(1, 0, 1));
  const Found serial32 = search(*index, opts(32, 0, 1));
  ASSERT_NE(serial1.ids, serial32.ids);
  std::vector<Found> got1(4), got32(4);
  std::thread a([&] {
    for (auto& f : got1) f = search(*index, opts(1, 0, 2));
  });
  std::thread b([&] {
    for (auto& f : got32) f = search(*index, opts(32, 0, 1));
  });
  a.join();
  b.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got1[i].ids, serial1.ids);
    EXPECT_EQ(got1[i].dists, serial1.dists);
    EXPECT_EQ(got32[i].ids, serial32.ids);
    EXPECT_EQ(got32[i].dists, serial32.dists);
  }
}

TEST(IvfTest, RemoveThenSearch) {
  for (IvfEncoding e : {IvfEncoding::kFlat, IvfEncoding::kSQ8}) {
    IvfOptions o = ivf_options(e);
    o.rerank = e == IvfEncoding::kFlat ? 0 : 50;
    auto index = build(o);
    const Data& d = data();
    std::vector<int64_t> gone, kept_ids;
    Matrix kept{0, kDim, {}};
    for (int64_t i = 0; i < kN; ++i) {
      if (i % 3 == 0) {
        gone.push_back(d.ids[i]);
      } else {
        kept_ids.push_back(d.ids[i]);
        kept.data.insert(kept.data.end(), d.base.row(i), d.base.row(i) + kDim);
        ++kept.rows;
      }
    }
    ASSERT_TRUE(index->remove(gone).ok());
    EXPECT_EQ(index->size(), static_cast<int64_t>(kept_ids.size()));
    EXPECT_EQ(index->remove(std::span(gone).first(1)).code(), StatusCode::kNotFound);
    std::vector<float> v(kDim);
    EXPECT_EQ(index->get_vector(gone[0], v.data()).code(), StatusCode::kNotFound);
    ASSERT_TRUE(index->get_vector(kept_ids[0], v.data()).ok());
    const Found f = search(*index, opts(16));
    for (int64_t id : f.ids) EXPECT_NE((id - 1000) % 3, 0) << "removed id " << id << " returned";
    const auto want = testing::exact_knn(kept, kept_ids, d.queries, kK, Metric::kL2);
    EXPECT_GE(testing::recall_at_k(f.ids, want, kQueries, kK), 0.95) << index->describe();
    // A removed id can be added again.
    ASSERT_TRUE(index->add(std::span(gone).first(1), d.base.slice(0, 1)).ok());
    EXPECT_TRUE(index->contains(gone[0]));
  }
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/ivf_test_" + std::to_string(::getpid()) + "_" + name;
}

int64_t tombstones(const Index& index) {
  const std::string text = index.describe();
  const size_t at = text.find("tombstones=");
  EXPECT_NE(at, std::string::npos) << text;
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + 11));
}

// Removed slots stay as tombstones until they are half of all slots; then the slots are
// renumbered, and every survivor keeps its id, its vector and its place in the results.
TEST(IvfTest, TombstonesAreReclaimedAtHalfTheSlots) {
  for (IvfEncoding e : {IvfEncoding::kFlat, IvfEncoding::kSQ8}) {
    SCOPED_TRACE(ivf_encoding_name(e));
    IvfOptions o = ivf_options(e);
    o.rerank = e == IvfEncoding::kFlat ? 0 : 50;  // SQ8 keeps a re-rank store indexed by slot
    auto index = build(o);
    const Data& d = data();
    std::set<int64_t> removed;
    auto remove_where = [&](auto pick) {
      std::vector<int64_t> gone;
      for (int64_t i = 0; i < kN; ++i)
        if (!removed.count(d.ids[i]) && pick(i)) gone.push_back(d.ids[i]);
      ASSERT_TRUE(index->remove(gone).ok());
      removed.insert(gone.begin(), gone.end());
    };
    auto check = [&](const char* stage) {
      SCOPED_TRACE(stage);
      EXPECT_EQ(index->size(), kN - static_cast<int64_t>(removed.size()));
      std::vector<int64_t> kept_ids;
      Matrix kept{0, kDim, {}};
      std::vector<float> v(kDim);
      for (int64_t i = 0; i < kN; ++i) {
        if (removed.count(d.ids[i])) {
          EXPECT_FALSE(index->contains(d.ids[i]));
          continue;
        }
        kept_ids.push_back(d.ids[i]);
        kept.data.insert(kept.data.end(), d.base.row(i), d.base.row(i) + kDim);
        ++kept.rows;
        // Flat lists and the SQ8 re-rank store both hold the vectors exactly.
        ASSERT_TRUE(index->get_vector(d.ids[i], v.data()).ok());
        ASSERT_EQ(0, std::memcmp(v.data(), d.base.row(i), kDim * sizeof(float))) << d.ids[i];
      }
      const Found f = search(*index, opts(16));
      for (int64_t id : f.ids) EXPECT_EQ(removed.count(id), 0u) << "removed id " << id;
      const auto want = testing::exact_knn(kept, kept_ids, d.queries, kK, Metric::kL2);
      EXPECT_GE(testing::recall_at_k(f.ids, want, kQueries, kK), 0.95) << index->describe();
    };

    remove_where([](int64_t i) { return i % 5 < 2; });  // 40%: below half, kept as tombstones
    EXPECT_EQ(tombstones(*index), 8000);
    check("tombstones");
    const size_t before = index->memory_bytes();

    remove_where([](int64_t i) { return i % 10 == 2; });  // 50%: renumbered
    EXPECT_EQ(tombstones(*index), 0);
    check("compacted");
    // 10,000 id-map slots, and with re-ranking 10,000 rows of 128 bytes, are gone.
    EXPECT_LT(index->memory_bytes() + (o.rerank > 0 ? 10000 * kDim * sizeof(float) : 0), before)
        << index->describe();

    // The renumbered index saves and loads to the same answers, and takes ids back.
    const std::string path = temp_path("compacted.vpi");
    ASSERT_TRUE(index->save(path).ok());
    auto loaded = load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    const Found a = search(*index, opts(16)), b = search(**loaded, opts(16));
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.dists, b.dists);
    std::remove(path.c_str());
    ASSERT_TRUE(removed.count(d.ids[0]) && removed.count(d.ids[1]));
    ASSERT_TRUE(index->add(std::span(d.ids).first(2), d.base.slice(0, 2)).ok());
    for (int64_t i = 0; i < 2; ++i) removed.erase(d.ids[i]);
    const Matrix first{2, kDim, std::vector<float>(d.base.row(0), d.base.row(2))};
    const Found self = search(*index, opts(16), first);
    for (int64_t i = 0; i < 2; ++i) EXPECT_EQ(self.ids[i * kK], d.ids[i]);
    check("re-added");
  }
}

TEST(IvfTest, SaveLoadRoundTripEveryEncoding) {
  struct Case {
    IvfEncoding encoding;
    int rerank;
    int64_t threshold;
  };
  const Case cases[] = {
      {IvfEncoding::kFlat, 0, 0}, {IvfEncoding::kSQ8, 0, 0},
      {IvfEncoding::kSQ4, 20, 0}, {IvfEncoding::kPQ, 0, 0},
      {IvfEncoding::kPQ, 30, 0},  {IvfEncoding::kFlat, 0, kN + 1}};  // still untrained
  for (const Case& c : cases) {
    IvfOptions o = ivf_options(c.encoding);
    o.rerank = c.rerank;
    o.train_threshold = c.threshold;
    o.max_train_samples = 10000;
    auto index = build(o, Metric::kCosine);
    ASSERT_TRUE(index->remove(std::span(data().ids).subspan(10, 5)).ok());
    const std::string path = temp_path("roundtrip.vpi");
    ASSERT_TRUE(index->save(path).ok());
    auto loaded = load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    const Index& back = **loaded;
    EXPECT_EQ(back.describe(), index->describe());
    EXPECT_EQ(back.size(), index->size());
    EXPECT_EQ(back.metric(), Metric::kCosine);
    for (int nprobe : {4, 16}) {
      const Found a = search(*index, opts(nprobe)), b = search(back, opts(nprobe));
      EXPECT_EQ(a.ids, b.ids) << index->describe();
      EXPECT_EQ(a.dists, b.dists);
    }
    std::vector<float> va(kDim), vb(kDim);
    ASSERT_TRUE(index->get_vector(data().ids[3], va.data()).ok());
    ASSERT_TRUE(back.get_vector(data().ids[3], vb.data()).ok());
    EXPECT_EQ(va, vb);
    EXPECT_FALSE(back.contains(data().ids[12]));
    std::remove(path.c_str());
  }
}

// Rewrites a saved file after `mutate` changed its payload, with fresh checksums, so that only
// the content is wrong.
void rewrite_with_valid_checksums(const std::string& path,
                                  const std::function<void(std::string&)>& mutate) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  ASSERT_GT(bytes.size(), 40u);
  std::string payload = bytes.substr(40);
  mutate(payload);
  uint64_t size = payload.size();
  std::memcpy(bytes.data() + 16, &size, 8);
  uint64_t h = XXH64(payload.data(), payload.size(), 0);
  std::memcpy(bytes.data() + 24, &h, 8);
  uint64_t hh = XXH64(bytes.data(), 32, 0);
  std::memcpy(bytes.data() + 32, &hh, 8);
  bytes = bytes.substr(0, 40) + payload;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(IvfTest, CorruptFaissPayloadIsCorruption) {
  auto index = build(ivf_options());
  const std::string path = temp_path("corrupt.vpi");
  const std::vector<std::function<void(std::string&)>> damages = {
      // Unknown FAISS index type.
      [](std::string& p) { p.replace(p.find("IwFl"), 4, "IwZZ"); },
      // Inverted lists claim one more list than the quantizer has.
      [](std::string& p) {
        size_t at = p.find("ilar") + 4;
        uint64_t nlist;
        std::memcpy(&nlist, p.data() + at, 8);
        ++nlist;
        std::memcpy(p.data() + at, &nlist, 8);
      },
      // A list entry names a slot that is not in the id map.
      [](std::string& p) {
        size_t at = p.find("ilar") + 4 + 16;  // nlist, code size
        ASSERT_EQ(p.substr(at, 4), "full");
        at += 4 + 8 + 128 * 8;  // list sizes vector
        uint64_t first_list = 0;
        std::memcpy(&first_list, p.data() + p.find("ilar") + 4 + 16 + 4 + 8, 8);
        ASSERT_GT(first_list, 0u);
        at += first_list * kDim * sizeof(float);  // codes of list 0, then its ids
        int64_t bogus = kN * 7;
        std::memcpy(p.data() + at, &bogus, 8);
      },
      // Truncated FAISS blob (the recorded length no longer matches).
      [](std::string& p) { p.resize(p.size() - 100); },
  };
  for (size_t i = 0; i < damages.size(); ++i) {
    ASSERT_TRUE(index->save(path).ok());
    rewrite_with_valid_checksums(path, damages[i]);
    auto loaded = load(path);
    ASSERT_FALSE(loaded.ok()) << "damage " << i;
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption)
        << "damage " << i << ": " << loaded.status().to_string();
  }
  std::remove(path.c_str());
}

TEST(IvfTest, ArgumentsAndEmptyIndex) {
  auto index = make_ivf(ivf_options());
  const Found empty = search(*index, opts());
  for (int64_t id : empty.ids) EXPECT_EQ(id, kNoId);
  SearchOptions bad = opts();
  bad.nprobe = -1;
  std::vector<float> dist(kQueries * kK);
  std::vector<int64_t> ids(kQueries * kK);
  EXPECT_EQ(
      index->search(data().queries.view(), bad, SearchResults{dist.data(), ids.data()}).code(),
      StatusCode::kInvalidArgument);
  IndexOptions o;
  o.kind = IndexKind::kIvf;
  o.dim = kDim;
  o.ivf.encoding = IvfEncoding::kPQ;
  o.ivf.pq_m = 5;
  EXPECT_EQ(make_index(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vecperf
