// Concurrency contract: searches run in parallel with each other and with add/remove; every
// vector an add has acknowledged is findable by its own query; saves taken meanwhile are
// consistent snapshots. Run under the TSan build too.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "index/backends.h"
#include "testing/testing.h"
#include "vecperf/options.h"

namespace vecperf::testing {
namespace {

constexpr int64_t kDim = 24;

template <typename Backend>
class ConcurrencyTest : public ::testing::Test {};
TYPED_TEST_SUITE(ConcurrencyTest, AllBackends, BackendNames);

TYPED_TEST(ConcurrencyTest, SearchersAdderAndRemoverTogether) {
  auto made = make_index(TypeParam::options(kDim, Metric::kL2));
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  Index& index = **made;

  constexpr int64_t kInitial = 200, kBatches = 12, kBatch = 25;
  Matrix initial = clustered(kInitial, kDim, 1);
  ASSERT_TRUE(index.add(sequential_ids(kInitial), initial.view()).ok());
  Matrix extra = clustered(kBatches * kBatch, kDim, 2);
  Matrix queries = clustered(16, kDim, 3);

  std::atomic<bool> writers_done{false};
  std::atomic<int> search_failures{0}, not_found{0}, bad_results{0};
  std::atomic<int64_t> searches{0};

  auto searcher = [&](int seed) {
    SearchOptions opts = exhaustive(5);
    opts.num_threads = 1 + seed % 2;
    std::vector<float> d(queries.rows * opts.k);
    std::vector<int64_t> ids(queries.rows * opts.k);
    while (!writers_done.load()) {
      Status s = index.search(queries.view(), opts, SearchResults{d.data(), ids.data()});
      if (!s.ok()) ++search_failures;
      for (int64_t id : ids)
        if (id < kNoId) ++bad_results;
      ++searches;
    }
  };
  // Adds batches and checks each acknowledged vector is found by its own query.
  auto adder = [&] {
    SearchOptions opts = exhaustive(1);
    for (int64_t b = 0; b < kBatches; ++b) {
      auto ids = sequential_ids(kBatch, 10000 + b * kBatch);
      MatrixView v = extra.slice(b * kBatch, kBatch);
      if (!index.add(ids, v).ok()) {
        ++search_failures;
        continue;
      }
      std::vector<float> d(kBatch);
      std::vector<int64_t> found(kBatch);
      if (!index.search(v, opts, SearchResults{d.data(), found.data()}).ok()) ++search_failures;
      for (int64_t i = 0; i < kBatch; ++i)
        if (found[i] != ids[i]) ++not_found;
    }
  };
  auto remover = [&] {
    for (int64_t id = 0; id < kInitial; id += 2) {
      if (!index.remove(std::vector<int64_t>{id}).ok()) ++search_failures;
    }
  };

  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) readers.emplace_back(searcher, t);
  std::thread add_thread(adder), remove_thread(remover);
  add_thread.join();
  remove_thread.join();
  writers_done = true;
  for (auto& r : readers) r.join();

  EXPECT_EQ(search_failures.load(), 0);
  EXPECT_EQ(bad_results.load(), 0);
  EXPECT_LE(not_found.load(), 1) << "acknowledged vectors not found by their own query";
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(index.size(), kInitial / 2 + kBatches * kBatch);
  for (int64_t id = 0; id < kInitial; ++id) EXPECT_EQ(index.contains(id), id % 2 == 1) << id;
}

TYPED_TEST(ConcurrencyTest, ConcurrentSearchesWithDifferentKnobsAgreeWithSerial) {
  auto made = make_index(TypeParam::options(kDim, Metric::kCosine));
  ASSERT_TRUE(made.ok());
  Index& index = **made;
  Matrix base = clustered(600, kDim, 4);
  ASSERT_TRUE(index.add(sequential_ids(600), base.view()).ok());
  Matrix q = clustered(50, kDim, 5);

  std::vector<SearchOptions> knobs(4);
  knobs[0].k = 10, knobs[0].nprobe = 1, knobs[0].ef_search = 10;
  knobs[1].k = 10, knobs[1].nprobe = 4, knobs[1].ef_search = 300;
  knobs[2].k = 3, knobs[2].nprobe = 2, knobs[2].ef_search = 20, knobs[2].num_threads = 2;
  knobs[3].k = 10;
  auto run = [&](const SearchOptions& o) {
    std::vector<float> d(q.rows * o.k);
    std::vector<int64_t> ids(q.rows * o.k);
    EXPECT_TRUE(index.search(q.view(), o, SearchResults{d.data(), ids.data()}).ok());
    return ids;
  };
  std::vector<std::vector<int64_t>> serial;
  for (auto& o : knobs) serial.push_back(run(o));

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < knobs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep)
        if (run(knobs[t]) != serial[t]) ++mismatches;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// The bounded stress run: searchers, an adder, a remover (far enough for HNSW's and IVF's
// compactions: 280 of at most 400 slots) and a saver at once. Each saved snapshot must be one the
// index went through: the writers go in order (initial ids removed from 0 up, batches added from
// the first), so the ids a snapshot holds are the initial ids from some r on and the batches below
// some b, and it finds each of them by its own vector.
TYPED_TEST(ConcurrencyTest, SavesDuringWritesAreConsistentSnapshots) {
  auto made = make_index(TypeParam::options(kDim, Metric::kL2));
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  Index& index = **made;
  constexpr int64_t kInitial = 300, kBatches = 10, kBatch = 10, kRemoved = 280, kStep = 10;
  constexpr int64_t kFirstAdded = 10000;
  const Matrix initial = clustered(kInitial, kDim, 6);
  const Matrix extra = clustered(kBatches * kBatch, kDim, 7);
  ASSERT_TRUE(index.add(sequential_ids(kInitial), initial.view()).ok());

  std::atomic<bool> writers_done{false};
  std::atomic<int> failures{0};
  std::vector<std::string> snapshots;
  std::thread saver([&] {
    int64_t kept_size = -1;  // keep one snapshot per size seen, spread over the run
    while (!writers_done.load()) {
      const int64_t size = index.size();
      auto bytes = index.to_bytes();
      if (!bytes.ok()) ++failures;
      if (bytes.ok() && size != kept_size && snapshots.size() < 200) {
        snapshots.push_back(std::move(*bytes));
        kept_size = size;
      }
    }
  });
  std::thread searcher([&] {
    const SearchOptions o = exhaustive(5);
    std::vector<float> d(o.k * 4);
    std::vector<int64_t> ids(d.size());
    while (!writers_done.load())
      if (!index.search(extra.slice(0, 4), o, SearchResults{d.data(), ids.data()}).ok()) ++failures;
  });
  std::thread adder([&] {
    for (int64_t b = 0; b < kBatches; ++b)
      if (!index
               .add(sequential_ids(kBatch, kFirstAdded + b * kBatch),
                    extra.slice(b * kBatch, kBatch))
               .ok())
        ++failures;
  });
  std::thread remover([&] {
    for (int64_t id = 0; id < kRemoved; id += kStep)
      if (!index.remove(sequential_ids(kStep, id)).ok()) ++failures;
  });
  adder.join();
  remover.join();
  writers_done = true;
  saver.join();
  searcher.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_FALSE(snapshots.empty());

  for (const std::string& bytes : snapshots) {
    auto loaded = from_bytes(bytes);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    const Index& snap = **loaded;
    int64_t r = 0, b = 0;  // the first initial id it holds; the batches it holds
    while (r < kInitial && !snap.contains(r)) ++r;
    while (b < kBatches && snap.contains(kFirstAdded + b * kBatch)) ++b;
    EXPECT_EQ(r % kStep, 0) << "a remove call is applied whole in a snapshot";
    for (int64_t id = 0; id < kInitial; ++id) EXPECT_EQ(snap.contains(id), id >= r) << id;
    for (int64_t i = 0; i < kBatches * kBatch; ++i)
      EXPECT_EQ(snap.contains(kFirstAdded + i), i < b * kBatch) << kFirstAdded + i;
    EXPECT_EQ(snap.size(), (kInitial - r) + b * kBatch);
    // Each vector it holds is its own nearest neighbour.
    const SearchOptions o = exhaustive(1);
    std::vector<float> d(kInitial);
    std::vector<int64_t> found(kInitial);
    ASSERT_TRUE(snap.search(initial.view(), o, SearchResults{d.data(), found.data()}).ok());
    int64_t missed = 0;
    for (int64_t id = r; id < kInitial; ++id) missed += found[id] != id;
    EXPECT_LE(missed, 1) << "vectors of a snapshot not found by their own query";
  }
  EXPECT_EQ(index.size(), kInitial - kRemoved + kBatches * kBatch);
}

}  // namespace
}  // namespace vecperf::testing
