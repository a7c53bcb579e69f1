// "A search never waits for a save", tested deterministically: a save is parked on a latch in the
// middle of serialising (test point kSaveSerializing), a writer is parked where it waits for
// saves (kWriterAwaitsSaves), and a search from a third thread must complete while both are
// parked. Before the read gate, the writer queued on the writer-preferring lock behind the save
// and every new search queued behind the writer. No timing is involved: the threads are ordered
// by latches, and a search that blocked would hang the test (a bounded wait turns that into a
// failure instead).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>

#include "common/test_points.h"
#include "index/backends.h"
#include "testing/testing.h"
#include "vecperf/options.h"

namespace vecperf::testing {
namespace {

using internal::set_test_hook;
using internal::TestPoint;

constexpr int64_t kDim = 16;
constexpr int64_t kInitial = 400;  // enough for IVF to train and the auto index to migrate

// The longest a search may take before the test calls it stuck: far beyond any real search of
// 400 vectors, so it never decides a passing run; it only stops a regression from hanging.
constexpr auto kStuck = std::chrono::seconds(60);

template <typename Backend>
class NeverWaitsTest : public ::testing::Test {
 protected:
  // An index of kInitial vectors; base_ holds 10 more for the writer.
  void SetUp() override {
    auto made = make_index(Backend::options(kDim, Metric::kL2));
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    index_ = std::move(*made);
    ASSERT_TRUE(index_->add(sequential_ids(kInitial), base_.slice(0, kInitial)).ok());
  }
  void TearDown() override {
    set_test_hook(TestPoint::kSaveSerializing, {});
    set_test_hook(TestPoint::kWriterAwaitsSaves, {});
  }

  const Matrix base_ = clustered(kInitial + 10, kDim, 1);
  const Matrix queries_ = clustered(4, kDim, 2);
  std::unique_ptr<Index> index_;
};
TYPED_TEST_SUITE(NeverWaitsTest, AllBackends, BackendNames);

// A hook that counts `latch` down the first time it runs (every writer reaches the test point,
// one of an auto index's writes more than once).
std::function<void()> once(std::latch& latch) {
  auto fired = std::make_shared<std::atomic<bool>>(false);
  return [&latch, fired] {
    if (!fired->exchange(true)) latch.count_down();
  };
}

// Runs one search of `q` on another thread; true when it completed (OK) within kStuck. When it
// is stuck, `unpark` releases what holds it up, so that the test fails instead of hanging.
bool search_completes(const Index& index, MatrixView q, const std::function<void()>& unpark) {
  auto done = std::async(std::launch::async, [&] {
    SearchOptions o = exhaustive(3);
    std::vector<float> d(q.rows * o.k);
    std::vector<int64_t> ids(d.size());
    return index.search(q, o, SearchResults{d.data(), ids.data()}).ok();
  });
  if (done.wait_for(kStuck) == std::future_status::ready) return done.get();
  unpark();
  done.wait();
  return false;
}

TYPED_TEST(NeverWaitsTest, SearchesRunWhileASaveHoldsUpAWriter) {
  Index& index = *this->index_;
  const Matrix& base = this->base_;
  const Matrix& queries = this->queries_;

  std::latch save_parked(1), release_save(1), writer_waiting(1);
  auto parked = once(save_parked);
  set_test_hook(TestPoint::kSaveSerializing, [&, parked] {
    parked();
    release_save.wait();
  });
  std::string saved;
  std::thread saver([&] {
    auto bytes = index.to_bytes();
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    saved = std::move(*bytes);
  });
  save_parked.wait();
  set_test_hook(TestPoint::kSaveSerializing, {});  // the save above is the only one parked

  set_test_hook(TestPoint::kWriterAwaitsSaves, once(writer_waiting));
  std::atomic<bool> added{false};
  std::thread writer([&] {
    const auto ids = sequential_ids(10, kInitial);
    EXPECT_TRUE(index.add(ids, base.slice(kInitial, 10)).ok());
    added = true;
  });
  writer_waiting.wait();  // the writer is at (or blocked on) the point where it waits for saves

  // The save and the writer are both parked: searches still run.
  auto unpark = once(release_save);
  EXPECT_TRUE(search_completes(index, queries.view(), unpark)) << "a search waited for a save";
  EXPECT_FALSE(added.load()) << "the writer did not wait for the save";

  unpark();
  saver.join();
  writer.join();
  set_test_hook(TestPoint::kWriterAwaitsSaves, {});
  EXPECT_EQ(index.size(), kInitial + 10);

  // The save is a consistent snapshot of the index before the add.
  auto loaded = from_bytes(saved);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->size(), kInitial);
  EXPECT_FALSE((*loaded)->contains(kInitial));
  EXPECT_TRUE((*loaded)->contains(kInitial - 1));
}

TYPED_TEST(NeverWaitsTest, SearchesRunWhileAVisitOfEveryVectorHoldsUpAWriter) {
  Index& index = *this->index_;
  const Matrix& queries = this->queries_;

  std::latch visiting(1), release(1), writer_waiting(1);
  int64_t visited = 0;
  std::thread visitor([&] {
    index.for_each_vector([&](int64_t, const float*) {
      if (visited++ == 0) {
        visiting.count_down();
        release.wait();
      }
    });
  });
  visiting.wait();
  set_test_hook(TestPoint::kWriterAwaitsSaves, once(writer_waiting));
  std::thread writer([&] { EXPECT_TRUE(index.remove(sequential_ids(5)).ok()); });
  writer_waiting.wait();
  auto unpark = once(release);
  EXPECT_TRUE(search_completes(index, queries.view(), unpark))
      << "a search waited for for_each_vector";
  unpark();
  visitor.join();
  writer.join();
  EXPECT_EQ(visited, kInitial);  // the visit saw the index before the remove, whole
  EXPECT_EQ(index.size(), kInitial - 5);
}

// Flat, IVF and HNSW adds do their work with the exclusive lock released (Flat stages the rows,
// growing the store aside; IVF assigns and encodes them; HNSW links them), IVF trains aside, and
// HNSW and IVF compactions build the new structure aside: a writer parked in the middle of any
// of them holds up no search.
template <typename Backend>
class UnlockedWritesTest : public NeverWaitsTest<Backend> {
 protected:
  void TearDown() override {
    set_test_hook(TestPoint::kAddInProgress, {});
    set_test_hook(TestPoint::kCompactionBuilt, {});
    set_test_hook(TestPoint::kTrainingInProgress, {});
  }

  // The nearest id to each row of `q`, by a search that must complete while a writer is parked.
  std::vector<int64_t> nearest(MatrixView q, const std::function<void()>& unpark) {
    std::vector<int64_t> found(q.rows, kNoId);
    auto done = std::async(std::launch::async, [&] {
      SearchOptions o = exhaustive(1);
      std::vector<float> d(q.rows);
      return this->index_->search(q, o, SearchResults{d.data(), found.data()}).ok();
    });
    if (done.wait_for(kStuck) != std::future_status::ready) {
      unpark();
      done.wait();
      ADD_FAILURE() << "a search waited for the writer";
      return {};
    }
    EXPECT_TRUE(done.get());
    return found;
  }
};
using UnlockedAddBackends = ::testing::Types<FlatBackend, IvfBackend, HnswBackend>;
TYPED_TEST_SUITE(UnlockedWritesTest, UnlockedAddBackends, BackendNames);

// 2000 rows: more than the first store or graph chunk holds, so the Flat add grows its store
// aside while searches read the old one.
TYPED_TEST(UnlockedWritesTest, SearchesRunWhileAnAddIsInProgress) {
  constexpr int64_t kAdded = 2000;
  const Matrix more = clustered(kAdded, kDim, 3);
  std::latch parked(1), release(1);
  auto arrived = once(parked);
  set_test_hook(TestPoint::kAddInProgress, [&, arrived] {
    arrived();
    release.wait();
  });
  std::atomic<bool> added{false};
  std::thread writer([&] {
    EXPECT_TRUE(this->index_->add(sequential_ids(kAdded, kInitial), more.view()).ok());
    added = true;
  });
  parked.wait();

  auto unpark = once(release);
  const std::vector<int64_t> found = this->nearest(this->base_.slice(0, kInitial), unpark);
  EXPECT_FALSE(added.load());
  for (int64_t i = 0; i < static_cast<int64_t>(found.size()); ++i)
    EXPECT_EQ(found[i], i) << "the vectors present before the add are still found";
  unpark();
  writer.join();
  EXPECT_EQ(this->index_->size(), kInitial + kAdded);
  const std::vector<int64_t> after = this->nearest(more.view(), [] {});
  int64_t own = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(after.size()); ++i) own += after[i] == kInitial + i;
  EXPECT_EQ(own, kAdded) << "every added vector is found as its own nearest";
}

template <typename Backend>
using CompactionNeverWaitsTest = UnlockedWritesTest<Backend>;
using CompactingBackends = ::testing::Types<IvfBackend, HnswBackend>;
TYPED_TEST_SUITE(CompactionNeverWaitsTest, CompactingBackends, BackendNames);

TYPED_TEST(CompactionNeverWaitsTest, SearchesRunWhileACompactionIsSwappedIn) {
  std::latch parked(1), release(1);
  auto arrived = once(parked);
  set_test_hook(TestPoint::kCompactionBuilt, [&, arrived] {
    arrived();
    release.wait();
  });
  // Past both compaction thresholds (HNSW: 20% of the nodes; IVF: half of the slots).
  constexpr int64_t kGone = kInitial / 2;
  const std::vector<int64_t> gone = sequential_ids(kGone);
  std::thread writer([&] { EXPECT_TRUE(this->index_->remove(gone).ok()); });
  parked.wait();  // the new structure is built, the old one still serves searches

  auto unpark = once(release);
  const std::vector<int64_t> found = this->nearest(this->base_.slice(0, kInitial), unpark);
  for (int64_t id : found) EXPECT_FALSE(id >= 0 && id < kGone) << "removed id " << id;
  EXPECT_FALSE(this->index_->contains(0));
  unpark();
  writer.join();
  EXPECT_NE(this->index_->describe().find("tombstones=0"), std::string::npos)
      << this->index_->describe();
  const std::vector<int64_t> after =
      this->nearest(this->base_.slice(kGone, kInitial - kGone), [] {});
  for (int64_t i = 0; i < static_cast<int64_t>(after.size()); ++i) EXPECT_EQ(after[i], kGone + i);
}

// The add that reaches IVF's training threshold publishes its rows to the exact buffer, then
// trains and fills the lists aside: searches run meanwhile and already find the new rows.
TEST(IvfTrainingNeverWaitsTest, SearchesRunWhileTheListsAreTrained) {
  constexpr int64_t kBefore = 40, kAdded = 200;  // IvfBackend trains at 64 vectors
  const Matrix base = clustered(kBefore + kAdded, kDim, 5);
  auto made = make_index(IvfBackend::options(kDim, Metric::kL2));
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  std::unique_ptr<Index> index = std::move(*made);
  ASSERT_TRUE(index->add(sequential_ids(kBefore), base.slice(0, kBefore)).ok());
  ASSERT_NE(index->describe().find("trained=no"), std::string::npos) << index->describe();

  std::latch parked(1), release(1);
  auto arrived = once(parked);
  set_test_hook(TestPoint::kTrainingInProgress, [&, arrived] {
    arrived();
    release.wait();
  });
  std::thread writer([&] {
    EXPECT_TRUE(index->add(sequential_ids(kAdded, kBefore), base.slice(kBefore, kAdded)).ok());
  });
  parked.wait();

  // Exact answers from the buffer, new rows included, while k-means has run and the lists fill.
  auto unpark = once(release);
  std::vector<int64_t> found(static_cast<size_t>(kBefore + kAdded), kNoId);
  auto done = std::async(std::launch::async, [&] {
    std::vector<float> d(found.size());
    return index->search(base.view(), exhaustive(1), SearchResults{d.data(), found.data()}).ok();
  });
  const bool completed = done.wait_for(kStuck) == std::future_status::ready;
  if (!completed) unpark();
  EXPECT_TRUE(completed) << "a search waited for the training";
  EXPECT_TRUE(done.get());
  EXPECT_NE(index->describe().find("trained=no"), std::string::npos) << index->describe();
  for (int64_t i = 0; i < kBefore + kAdded; ++i) EXPECT_EQ(found[i], i);
  unpark();
  writer.join();
  set_test_hook(TestPoint::kTrainingInProgress, {});

  EXPECT_NE(index->describe().find("trained=yes"), std::string::npos) << index->describe();
  EXPECT_EQ(index->size(), kBefore + kAdded);
  std::vector<float> d(found.size());
  ASSERT_TRUE(
      index->search(base.view(), exhaustive(1), SearchResults{d.data(), found.data()}).ok());
  for (int64_t i = 0; i < kBefore + kAdded; ++i) EXPECT_EQ(found[i], i);
}

}  // namespace
}  // namespace vecperf::testing
