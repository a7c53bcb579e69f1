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

}  // namespace
}  // namespace vecperf::testing
