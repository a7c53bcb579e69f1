// Index::add_with_progress for every backend: one report per chunk, monotone, ending at the
// total; the callback may search the index; a callback that stops the add leaves the index as it
// was (all-or-nothing).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "index/backends.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::testing {
namespace {

constexpr int64_t kDim = 8;
constexpr int64_t kChunk = 8192;             // rows per chunk (Index::add_with_progress)
constexpr int64_t kRows = 2 * kChunk + 500;  // three chunks, the last one partial
constexpr int64_t kBase = 200;               // present before the add under test

using Report = std::pair<int64_t, int64_t>;

template <typename Backend>
class AddProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = make_index(Backend::options(kDim, Metric::kL2));
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    index_ = std::move(*made);
    Matrix base = clustered(kBase, kDim, 31);
    ASSERT_TRUE(index_->add(sequential_ids(kBase), base.view()).ok());
  }

  struct Answers {
    std::vector<int64_t> ids;
    std::vector<float> dist;
  };
  // Exhaustive searches, to compare the index before and after.
  Answers answers() const {
    Matrix q = clustered(20, kDim, 32);
    const SearchOptions opts = exhaustive(10);
    Answers a{std::vector<int64_t>(q.rows * opts.k), std::vector<float>(q.rows * opts.k)};
    EXPECT_TRUE(index_->search(q.view(), opts, SearchResults{a.dist.data(), a.ids.data()}).ok());
    return a;
  }
  // Same neighbours at the same distances (up to rounding: an auto index may have migrated to
  // a stage that computes them with other kernels).
  static void expect_same(const Answers& a, const Answers& b) {
    EXPECT_EQ(a.ids, b.ids);
    ASSERT_EQ(a.dist.size(), b.dist.size());
    for (size_t i = 0; i < a.dist.size(); ++i) EXPECT_NEAR(a.dist[i], b.dist[i], 1e-4f) << i;
  }

  std::unique_ptr<Index> index_;
  const Matrix rows_ = clustered(kRows, kDim, 33);
  const std::vector<int64_t> ids_ = sequential_ids(kRows, 1000);
};

TYPED_TEST_SUITE(AddProgressTest, AllBackends, BackendNames);

TYPED_TEST(AddProgressTest, ReportsEachChunkUpToTheTotal) {
  std::vector<Report> reports;
  std::vector<int64_t> sizes_seen;
  Status s = this->index_->add_with_progress(this->ids_, this->rows_.view(),
                                             [&](int64_t done, int64_t total) {
                                               reports.emplace_back(done, total);
                                               // No lock is held: the callback can read the index,
                                               // and sees the chunks added so far.
                                               sizes_seen.push_back(this->index_->size());
                                               return Status::OK();
                                             });
  ASSERT_TRUE(s.ok()) << s.to_string();
  const std::vector<Report> expected{{kChunk, kRows}, {2 * kChunk, kRows}, {kRows, kRows}};
  EXPECT_EQ(reports, expected);
  EXPECT_EQ(sizes_seen, (std::vector<int64_t>{kBase + kChunk, kBase + 2 * kChunk, kBase + kRows}));
  EXPECT_EQ(this->index_->size(), kBase + kRows);
  EXPECT_TRUE(this->index_->contains(1000 + kRows - 1));
}

TYPED_TEST(AddProgressTest, StoppingUndoesTheWholeAdd) {
  const auto before = this->answers();
  const int64_t next_free_before = this->index_->next_free_id();
  // Stopping at the first, a middle and the last report: each leaves the index as it was.
  for (int64_t stop_at : {int64_t{1}, int64_t{2}, int64_t{3}}) {
    int64_t calls = 0;
    Status s =
        this->index_->add_with_progress(this->ids_, this->rows_.view(), [&](int64_t, int64_t) {
          return ++calls == stop_at ? Status::Unavailable("stopped by the caller") : Status::OK();
        });
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << "stop at report " << stop_at;
    EXPECT_EQ(s.message(), "stopped by the caller");
    EXPECT_EQ(calls, stop_at);
    EXPECT_EQ(this->index_->size(), kBase);
    EXPECT_FALSE(this->index_->contains(1000));
    EXPECT_FALSE(this->index_->contains(1000 + kRows - 1));
    EXPECT_EQ(this->index_->next_free_id(), next_free_before);
    SCOPED_TRACE("stop at report " + std::to_string(stop_at));
    this->expect_same(this->answers(), before);
  }
  // The same ids can be added afterwards: nothing of them was left behind.
  EXPECT_TRUE(this->index_->add(this->ids_, this->rows_.view()).ok());
  EXPECT_EQ(this->index_->size(), kBase + kRows);
}

TYPED_TEST(AddProgressTest, BadInputIsRefusedBeforeAnyChunk) {
  // An id repeated across two chunks, and one already in the index.
  std::vector<int64_t> repeated = this->ids_;
  repeated[kChunk + 5] = repeated[3];
  std::vector<int64_t> present = this->ids_;
  present[2 * kChunk + 1] = 7;
  int64_t calls = 0;
  auto count = [&](int64_t, int64_t) {
    ++calls;
    return Status::OK();
  };
  EXPECT_EQ(this->index_->add_with_progress(repeated, this->rows_.view(), count).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(this->index_->add_with_progress(present, this->rows_.view(), count).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(this->index_->size(), kBase);
  // No report for an add that did nothing (an empty one included).
  EXPECT_TRUE(this->index_->add_with_progress({}, MatrixView{nullptr, 0, kDim}, count).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(this->index_->size(), kBase);
}

TYPED_TEST(AddProgressTest, EmptyCallbackIsAPlainAdd) {
  ASSERT_TRUE(this->index_->add_with_progress(this->ids_, this->rows_.view(), {}).ok());
  EXPECT_EQ(this->index_->size(), kBase + kRows);
}

}  // namespace
}  // namespace vecperf::testing

namespace vecperf::testing {
namespace {

// AddOptions::num_threads: negative is refused before anything is added, and one thread builds
// the same structure every time (an HNSW graph linked by several threads depends on their order).
TYPED_TEST(AddProgressTest, ThreadCountIsPerCall) {
  Index& index = *this->index_;
  const Matrix v = clustered(10, kDim, 9);
  AddOptions bad;
  bad.num_threads = -1;
  EXPECT_EQ(index.add(sequential_ids(10, 100000), v.view(), bad).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(index.size(), kBase);

  auto build = [](int threads) {
    auto made = make_index(TypeParam::options(kDim, Metric::kL2));
    EXPECT_TRUE(made.ok());
    const Matrix data = clustered(600, kDim, 10);
    AddOptions o;
    o.num_threads = threads;
    EXPECT_TRUE((*made)->add(sequential_ids(600), data.view(), o).ok());
    auto bytes = (*made)->to_bytes();
    EXPECT_TRUE(bytes.ok());
    return *bytes;
  };
  EXPECT_EQ(build(1), build(1));
  const std::string two = build(2);
  auto loaded = from_bytes(two);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->size(), 600);
}

}  // namespace
}  // namespace vecperf::testing
