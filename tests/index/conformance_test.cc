// The contract every backend must honour, run against each of them (typed tests).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "index/backends.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::testing {
namespace {

constexpr int64_t kDim = 16;
constexpr int64_t kN = 400;  // past AutoBackend's ivf_max, so Auto ends as HNSW

template <typename Backend>
class ConformanceTest : public ::testing::Test {
 protected:
  std::unique_ptr<Index> make(Metric metric = Metric::kL2, int64_t dim = kDim) {
    auto index = make_index(Backend::options(dim, metric));
    EXPECT_TRUE(index.ok()) << index.status().to_string();
    return index.ok() ? std::move(*index) : nullptr;
  }

  struct Found {
    std::vector<float> dist;
    std::vector<int64_t> ids;
  };
  Found search(const Index& index, const Matrix& q, const SearchOptions& opts) {
    Found f{std::vector<float>(q.rows * opts.k), std::vector<int64_t>(q.rows * opts.k)};
    Status s = index.search(q.view(), opts, SearchResults{f.dist.data(), f.ids.data()});
    EXPECT_TRUE(s.ok()) << s.to_string();
    return f;
  }

  std::filesystem::path temp_path(const std::string& name) {
    auto dir =
        std::filesystem::temp_directory_path() / ("vecperf_conf_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    dirs_.push_back(dir);
    return dir / (std::string(Backend::kName) + "_" + name);
  }
  void TearDown() override {
    for (auto& d : dirs_) std::filesystem::remove_all(d);
  }

 private:
  std::vector<std::filesystem::path> dirs_;
};

TYPED_TEST_SUITE(ConformanceTest, AllBackends, BackendNames);

TYPED_TEST(ConformanceTest, EmptyIndexReturnsUnfilledSlots) {
  auto index = this->make();
  Matrix q = clustered(3, kDim, 7);
  auto f = this->search(*index, q, exhaustive(5));
  for (size_t i = 0; i < f.ids.size(); ++i) {
    EXPECT_EQ(f.ids[i], kNoId);
    EXPECT_EQ(f.dist[i], std::numeric_limits<float>::infinity());
  }
  EXPECT_EQ(index->size(), 0);
}

TYPED_TEST(ConformanceTest, KLargerThanSizePadsTheTail) {
  auto index = this->make();
  Matrix base = clustered(5, kDim, 1);
  ASSERT_TRUE(index->add(sequential_ids(5, 100), base.view()).ok());
  auto f = this->search(*index, clustered(2, kDim, 2), exhaustive(8));
  for (int q = 0; q < 2; ++q) {
    std::set<int64_t> got;
    for (int j = 0; j < 5; ++j) got.insert(f.ids[q * 8 + j]);
    EXPECT_EQ(got, (std::set<int64_t>{100, 101, 102, 103, 104}));
    for (int j = 5; j < 8; ++j) {
      EXPECT_EQ(f.ids[q * 8 + j], kNoId);
      EXPECT_TRUE(std::isinf(f.dist[q * 8 + j]));
    }
  }
}

TYPED_TEST(ConformanceTest, ResultsMatchExactSearchSortedAndUnique) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    auto index = this->make(metric);
    Matrix base = clustered(kN, kDim, 3);
    auto ids = sequential_ids(kN, 1000);
    ASSERT_TRUE(index->add(ids, base.view()).ok());
    Matrix q = clustered(40, kDim, 4);
    const int k = 10;
    auto f = this->search(*index, q, exhaustive(k));
    auto truth = exact_knn(base, ids, q, k, metric);
    EXPECT_GE(recall_at_k(f.ids, truth, q.rows, k), 0.98) << metric_name(metric);
    for (int64_t i = 0; i < q.rows; ++i) {
      std::set<int64_t> unique(f.ids.begin() + i * k, f.ids.begin() + (i + 1) * k);
      EXPECT_EQ(unique.size(), size_t(k));
      for (int j = 1; j < k; ++j) EXPECT_LE(f.dist[i * k + j - 1], f.dist[i * k + j]);
    }
  }
}

TYPED_TEST(ConformanceTest, SelfQueryFindsItselfAtDistanceZero) {
  auto index = this->make();
  Matrix base = clustered(kN, kDim, 5);
  ASSERT_TRUE(index->add(sequential_ids(kN), base.view()).ok());
  auto f = this->search(*index, base, exhaustive(1));
  int64_t hits = 0;
  for (int64_t i = 0; i < kN; ++i) hits += f.ids[i] == i;
  EXPECT_GE(hits, kN * 99 / 100);
  EXPECT_NEAR(f.dist[0], 0.0f, 1e-3f);
}

TYPED_TEST(ConformanceTest, RejectsBadAddAndAppliesNothing) {
  auto index = this->make(Metric::kCosine);
  Matrix base = clustered(10, kDim, 6);
  ASSERT_TRUE(index->add(sequential_ids(10), base.view()).ok());

  Matrix more = clustered(4, kDim, 7);
  // Duplicate id within the call.
  EXPECT_EQ(index->add(std::vector<int64_t>{20, 21, 20, 22}, more.view()).code(),
            StatusCode::kInvalidArgument);
  // An id already present.
  EXPECT_EQ(index->add(std::vector<int64_t>{30, 31, 5, 32}, more.view()).code(),
            StatusCode::kAlreadyExists);
  // Negative id.
  EXPECT_EQ(index->add(std::vector<int64_t>{40, -3, 41, 42}, more.view()).code(),
            StatusCode::kInvalidArgument);
  // Id count does not match the rows.
  EXPECT_EQ(index->add(std::vector<int64_t>{50, 51}, more.view()).code(),
            StatusCode::kInvalidArgument);
  // Wrong dimension.
  Matrix wrong = clustered(4, kDim + 1, 8);
  EXPECT_EQ(index->add(sequential_ids(4, 60), wrong.view()).code(), StatusCode::kInvalidArgument);
  // NaN and Inf.
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    Matrix poisoned = more;
    poisoned.data[2 * kDim + 3] = bad;
    Status s = index->add(sequential_ids(4, 70), poisoned.view());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("row 2"), std::string_view::npos) << s.to_string();
  }
  // Zero vector under cosine.
  Matrix zero = more;
  std::fill(zero.data.begin(), zero.data.begin() + kDim, 0.0f);
  EXPECT_EQ(index->add(sequential_ids(4, 80), zero.view()).code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(index->size(), 10);
  for (int64_t id : {20, 30, 31, 40, 50, 60, 70, 80}) EXPECT_FALSE(index->contains(id)) << id;
}

TYPED_TEST(ConformanceTest, RejectsBadSearchArguments) {
  auto index = this->make();
  Matrix base = clustered(10, kDim, 9);
  ASSERT_TRUE(index->add(sequential_ids(10), base.view()).ok());
  std::vector<float> d(100);
  std::vector<int64_t> ids(100);
  SearchResults out{d.data(), ids.data()};
  Matrix q = clustered(2, kDim, 10);

  SearchOptions bad_k;
  bad_k.k = 0;
  EXPECT_EQ(index->search(q.view(), bad_k, out).code(), StatusCode::kInvalidArgument);
  bad_k.k = -4;
  EXPECT_EQ(index->search(q.view(), bad_k, out).code(), StatusCode::kInvalidArgument);
  SearchOptions bad_probe;
  bad_probe.nprobe = -1;
  EXPECT_EQ(index->search(q.view(), bad_probe, out).code(), StatusCode::kInvalidArgument);
  SearchOptions bad_ef;
  bad_ef.ef_search = -1;
  EXPECT_EQ(index->search(q.view(), bad_ef, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->search(q.view(), SearchOptions{}, SearchResults{nullptr, ids.data()}).code(),
            StatusCode::kInvalidArgument);
  Matrix wrong = clustered(2, kDim - 1, 11);
  EXPECT_EQ(index->search(wrong.view(), SearchOptions{}, out).code(), StatusCode::kInvalidArgument);
  q.data[5] = std::nanf("");
  EXPECT_EQ(index->search(q.view(), SearchOptions{}, out).code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(ConformanceTest, RemoveThenSearchNeverReturnsRemovedIds) {
  auto index = this->make();
  Matrix base = clustered(kN, kDim, 12);
  auto ids = sequential_ids(kN);
  ASSERT_TRUE(index->add(ids, base.view()).ok());

  std::vector<int64_t> gone;
  for (int64_t i = 0; i < kN; i += 3) gone.push_back(i);
  ASSERT_TRUE(index->remove(gone).ok());
  EXPECT_EQ(index->size(), kN - static_cast<int64_t>(gone.size()));

  // Unknown or repeated ids: rejected, nothing removed.
  EXPECT_EQ(index->remove(std::vector<int64_t>{1, 0}).code(), StatusCode::kNotFound);
  EXPECT_EQ(index->remove(std::vector<int64_t>{1, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(index->contains(1));
  EXPECT_EQ(index->size(), kN - static_cast<int64_t>(gone.size()));

  const int k = 20;
  auto f = this->search(*index, base, exhaustive(k));
  std::set<int64_t> removed(gone.begin(), gone.end());
  for (int64_t id : f.ids) EXPECT_EQ(removed.count(id), 0u) << id;

  // The survivors are still found exactly.
  Matrix kept{0, kDim, {}};
  std::vector<int64_t> kept_ids;
  for (int64_t i = 0; i < kN; ++i) {
    if (removed.count(i)) continue;
    kept.data.insert(kept.data.end(), base.row(i), base.row(i) + kDim);
    kept_ids.push_back(i);
    ++kept.rows;
  }
  auto truth = exact_knn(kept, kept_ids, base, k, Metric::kL2);
  EXPECT_GE(recall_at_k(f.ids, truth, base.rows, k), 0.98);

  // A removed id can be added again.
  ASSERT_TRUE(index->add(std::vector<int64_t>{0}, base.slice(0, 1)).ok());
  EXPECT_TRUE(index->contains(0));
}

TYPED_TEST(ConformanceTest, GetVectorReturnsStoredCopy) {
  auto index = this->make();
  Matrix base = clustered(kN, kDim, 13);
  ASSERT_TRUE(index->add(sequential_ids(kN, 7), base.view()).ok());
  std::vector<float> v(kDim);
  ASSERT_TRUE(index->get_vector(7 + 42, v.data()).ok());
  for (int64_t j = 0; j < kDim; ++j) EXPECT_NEAR(v[j], base.row(42)[j], 1e-5f);
  EXPECT_EQ(index->get_vector(99999, v.data()).code(), StatusCode::kNotFound);
  EXPECT_GT(index->memory_bytes(), size_t(kN * kDim * 4) / 2);
  EXPECT_FALSE(index->describe().empty());
}

TYPED_TEST(ConformanceTest, SaveLoadRoundTripGivesIdenticalResults) {
  for (Metric metric : {Metric::kL2, Metric::kCosine}) {
    auto index = this->make(metric);
    Matrix base = clustered(kN, kDim, 14);
    ASSERT_TRUE(index->add(sequential_ids(kN, 3), base.view()).ok());
    ASSERT_TRUE(index->remove(std::vector<int64_t>{3, 10, 200}).ok());
    auto path = this->temp_path("roundtrip.vpi");
    ASSERT_TRUE(index->save(path.string()).ok());

    auto loaded = load(path.string());
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    const Index& copy = **loaded;
    EXPECT_EQ(copy.kind(), index->kind());
    EXPECT_EQ(copy.metric(), metric);
    EXPECT_EQ(copy.dim(), kDim);
    EXPECT_EQ(copy.size(), index->size());
    EXPECT_FALSE(copy.contains(10));

    Matrix q = clustered(30, kDim, 15);
    SearchOptions opts;  // the index's own defaults must survive the round trip too
    opts.k = 10;
    auto a = this->search(*index, q, opts);
    auto b = this->search(copy, q, opts);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.dist, b.dist);

    // A loaded index keeps working.
    Matrix more = clustered(5, kDim, 16);
    EXPECT_TRUE((*loaded)->add(sequential_ids(5, 5000), more.view()).ok());
  }
}

TYPED_TEST(ConformanceTest, DamagedFilesGiveCleanErrors) {
  // Past IVF's training threshold, so the trained structure is in the file.
  Matrix base = clustered(100, 4, 17);
  auto small = make_index(TypeParam::options(4, Metric::kL2));
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE((*small)->add(sequential_ids(100), base.view()).ok());
  auto path = this->temp_path("damaged.vpi");
  ASSERT_TRUE((*small)->save(path.string()).ok());
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 40u);
  auto write = [&](const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  };

  // Every truncation length.
  for (size_t len = 0; len < bytes.size(); ++len) {
    write(bytes.substr(0, len));
    auto r = load(path.string());
    ASSERT_FALSE(r.ok()) << "length " << len;
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
    ASSERT_NE(r.status().message().find(path.string()), std::string_view::npos);
  }
  // A flipped bit in every byte.
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x10);
    write(flipped);
    auto r = load(path.string());
    ASSERT_FALSE(r.ok()) << "byte " << pos;
    ASSERT_TRUE(r.status().code() == StatusCode::kCorruption ||
                r.status().code() == StatusCode::kNotSupported)
        << r.status().to_string();
  }
  EXPECT_EQ(load((path.string() + ".missing")).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vecperf::testing
