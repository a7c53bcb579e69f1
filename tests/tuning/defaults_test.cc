// Tests of the index's default search options: validation, save/load round trips on every
// backend (the auto index in each of its stages), and changes concurrent with searches (this
// suite also runs under ThreadSanitizer, make tsan-test).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "index/backends.h"
#include "testing/testing.h"
#include "tuning/tuning_test_util.h"
#include "vecperf/tuning.h"

namespace vecperf {
namespace {

using testing::build;
using testing::Matrix;
using testing::search_ids;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("vecperf_tuning_" + name + "_" + std::to_string(::getpid()) + ".vpi"))
      .string();
}

// Saves and loads `index`; returns the loaded copy (nullptr after a test failure).
std::unique_ptr<Index> round_trip(const Index& index, const std::string& name) {
  const std::string path = temp_path(name);
  Status s = index.save(path);
  EXPECT_TRUE(s.ok()) << s.to_string();
  auto loaded = load(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
  return loaded.ok() ? std::move(*loaded) : nullptr;
}

void expect_same_knobs(const SearchOptions& a, const SearchOptions& b) {
  EXPECT_EQ(a.nprobe, b.nprobe);
  EXPECT_EQ(a.ef_search, b.ef_search);
  EXPECT_EQ(a.rerank, b.rerank);
}

template <typename Backend>
class DefaultsTest : public ::testing::Test {};
TYPED_TEST_SUITE(DefaultsTest, testing::AllBackends, testing::BackendNames);

// Past every threshold of the backends' test options: IVF trains, the auto index reaches HNSW.
constexpr int64_t kN = 400;

TYPED_TEST(DefaultsTest, SetDefaultsSurviveSaveAndLoad) {
  auto index = build(TypeParam::options(testing::kTuneDim, Metric::kL2), testing::tune_data(kN, 1));
  ASSERT_NE(index, nullptr);
  SearchOptions set;
  set.nprobe = 3;
  set.ef_search = 77;
  ASSERT_TRUE(index->set_default_search_options(set).ok());
  const SearchOptions now = index->default_search_options();
  const bool ivf = TypeParam::options(1, Metric::kL2).kind == IndexKind::kIvf;
  const bool hnsw = now.ef_search != 0;  // HNSW, or the auto index in its HNSW stage
  EXPECT_EQ(now.nprobe, ivf ? 3 : 0);
  EXPECT_EQ(now.ef_search, hnsw ? 77 : 0);
  auto loaded = round_trip(*index, TypeParam::kName);
  ASSERT_NE(loaded, nullptr);
  expect_same_knobs(loaded->default_search_options(), now);
  // Searches with knobs 0 use the loaded defaults: same answers as the original.
  const Matrix q = testing::tune_data(20, 2);
  EXPECT_EQ(search_ids(*loaded, q, SearchOptions{}), search_ids(*index, q, SearchOptions{}));
}

TYPED_TEST(DefaultsTest, ZeroKeepsAndNegativeIsRejected) {
  auto index = build(TypeParam::options(testing::kTuneDim, Metric::kL2), testing::tune_data(kN, 3));
  ASSERT_NE(index, nullptr);
  const SearchOptions before = index->default_search_options();
  EXPECT_TRUE(index->set_default_search_options(SearchOptions{}).ok());
  expect_same_knobs(index->default_search_options(), before);
  for (int field = 0; field < 3; ++field) {
    SearchOptions bad;
    (field == 0 ? bad.nprobe : field == 1 ? bad.ef_search : bad.rerank) = -1;
    EXPECT_EQ(index->set_default_search_options(bad).code(), StatusCode::kInvalidArgument);
  }
  expect_same_knobs(index->default_search_options(), before);
}

TYPED_TEST(DefaultsTest, TunedDefaultsSurviveSaveAndLoad) {
  auto index =
      build(TypeParam::options(testing::kTuneDim, Metric::kCosine), testing::tune_data(kN, 4));
  ASSERT_NE(index, nullptr);
  auto r = tune_held_out(*index, 0.9, 10);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto loaded = round_trip(*index, std::string(TypeParam::kName) + "_tuned");
  ASSERT_NE(loaded, nullptr);
  expect_same_knobs(loaded->default_search_options(), index->default_search_options());
  if (!r->knob.empty()) {
    const SearchOptions d = loaded->default_search_options();
    EXPECT_EQ(r->knob == "nprobe" ? d.nprobe : d.ef_search, r->value);
  }
}

// The auto index in its IVF stage keeps a tuned nprobe through save and load.
TEST(AutoDefaultsTest, IvfStageKeepsItsDefaultsThroughSaveAndLoad) {
  auto index = build(testing::AutoBackend::options(testing::kTuneDim, Metric::kL2),
                     testing::tune_data(250, 5));
  ASSERT_NE(index, nullptr);
  ASSERT_NE(index->describe().find("stage=ivf"), std::string::npos) << index->describe();
  SearchOptions set;
  set.nprobe = 2;
  ASSERT_TRUE(index->set_default_search_options(set).ok());
  auto loaded = round_trip(*index, "auto_ivf");
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->default_search_options().nprobe, 2);
  EXPECT_EQ(loaded->describe(), index->describe());
}

TEST(IvfDefaultsTest, RerankCanChangeOnlyWhereOriginalsAreKept) {
  const Matrix base = testing::tune_data(2000, 6);
  auto flat_lists = build(testing::ivf_options(16), base);
  ASSERT_NE(flat_lists, nullptr);
  SearchOptions rerank;
  rerank.rerank = 50;
  Status s = flat_lists->set_default_search_options(rerank);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("float32"), std::string_view::npos) << s.to_string();

  IndexOptions sq = testing::ivf_options(16);
  sq.ivf.encoding = IvfEncoding::kSQ8;
  auto no_originals = build(sq, base);
  ASSERT_NE(no_originals, nullptr);
  EXPECT_EQ(no_originals->set_default_search_options(rerank).code(), StatusCode::kInvalidArgument);

  sq.ivf.rerank = 20;
  auto with_originals = build(sq, base);
  ASSERT_NE(with_originals, nullptr);
  ASSERT_TRUE(with_originals->set_default_search_options(rerank).ok());
  EXPECT_EQ(with_originals->default_search_options().rerank, 50);
  auto loaded = round_trip(*with_originals, "ivf_rerank");
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->default_search_options().rerank, 50);
}

// Searches with knobs 0 while another thread switches the default between two values: every
// search must return exactly the answer of one of the two values (never a mix, never a crash).
void searches_see_old_or_new_default(const IndexOptions& options, bool ivf) {
  const Matrix base = testing::tune_data(3000, 7);
  auto index = build(options, base);
  ASSERT_NE(index, nullptr);
  const Matrix q = testing::tune_data(8, 8);
  SearchOptions low, high;
  (ivf ? low.nprobe : low.ef_search) = ivf ? 1 : 10;
  (ivf ? high.nprobe : high.ef_search) = ivf ? 32 : 300;
  const auto low_ids = search_ids(*index, q, low);
  const auto high_ids = search_ids(*index, q, high);
  ASSERT_NE(low_ids, high_ids) << "the two defaults must give different answers";

  std::atomic<bool> stop{false};
  std::atomic<int> mismatches{0}, searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      SearchOptions s;
      s.num_threads = 1;
      while (!stop) {
        const auto got = search_ids(*index, q, s);
        if (got != low_ids && got != high_ids) ++mismatches;
        ++searches;
      }
    });
  }
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(index->set_default_search_options(i % 2 == 0 ? low : high).ok());
  while (searches < 20) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(mismatches, 0);
}

TEST(ConcurrentDefaultsTest, IvfSearchesSeeOldOrNewNprobe) {
  searches_see_old_or_new_default(testing::ivf_options(64), true);
}

TEST(ConcurrentDefaultsTest, HnswSearchesSeeOldOrNewEfSearch) {
  searches_see_old_or_new_default(testing::hnsw_options(), false);
}

// Setting the defaults of an auto index while an add migrates it is race-free (it waits for the
// migration), and afterwards the defaults are those of the new stage.
TEST(ConcurrentDefaultsTest, AutoIndexDefaultsDuringAMigration) {
  IndexOptions o = testing::AutoBackend::options(testing::kTuneDim, Metric::kL2);
  o.auto_index.flat_max = 1000;
  o.auto_index.ivf_max = 100000;
  auto made = make_index(o);
  ASSERT_TRUE(made.ok());
  Index& index = **made;
  const Matrix base = testing::tune_data(1500, 9);
  ASSERT_TRUE(index.add(testing::sequential_ids(1000), base.slice(0, 1000)).ok());
  SearchOptions set;
  set.nprobe = 3;
  std::atomic<bool> reading{true};
  std::thread setter([&] {
    EXPECT_TRUE(index.set_default_search_options(set).ok());
    while (reading) {
      (void)index.default_search_options();
      std::this_thread::yield();
    }
  });
  ASSERT_TRUE(index.add(testing::sequential_ids(500, 1000), base.slice(1000, 500)).ok());
  reading = false;
  setter.join();
  EXPECT_GT(index.default_search_options().nprobe, 0);  // the IVF stage's tuned value
  ASSERT_TRUE(index.set_default_search_options(set).ok());
  EXPECT_EQ(index.default_search_options().nprobe, 3);
}

}  // namespace
}  // namespace vecperf
