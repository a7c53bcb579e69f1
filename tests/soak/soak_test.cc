// Soak test: each backend (flat, ivf, hnsw, auto) and the embedding cache (RAM over disk) run a
// steady mixed workload for a while, and the process's resident memory must stop growing.
//
// Each component keeps a constant working set: an index removes its oldest ids as it adds new
// ones and searches in between; the cache puts new texts, looks up older ones (RAM hits, disk
// hits after RAM evictions, misses after disk evictions) and runs get_or_compute over both. So
// anything that grows without bound (a leak, a container that is never compacted, a cache that
// ignores its budget) shows up as RSS growth.
//
// Measurement: RSS from /proc/self/statm after malloc_trim(0) (so that free memory glibc keeps in
// its heaps is returned first), sampled every kSampleInterval. The first third of the run is
// warm-up (the working set fills, IVF trains, the auto index migrates, RocksDB's memtables and
// caches fill) and is not judged. The rest is split into four windows by time; the test fails
// when the median of the last window exceeds the median of the first by more than the tolerance
// (docs/reliability.md, "Soak"). Medians ignore the sawtooth of periodic rebuilds (HNSW
// compaction, memtable flushes) that a first-vs-last sample comparison would trip on.
//
// Duration: VECPERF_SOAK_SECONDS is the total over the five components (default 150). Run by
// `make soak`; the ctest label `slow` keeps it out of the sanitizer runs, and it is only built
// when VECPERF_BUILD_SOAK is on, so `make test` never runs it.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/cache_test_util.h"
#include "testing/testing.h"
#include "vecperf/cache.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kDefaultTotalSeconds = 150;
constexpr int kComponents = 5;
constexpr auto kSampleInterval = std::chrono::milliseconds(250);
// Growth allowed between the first and the last steady window: whichever is larger.
constexpr double kToleranceBytes = 4.0 * (1 << 20);
constexpr double kToleranceFraction = 0.05;
constexpr double kMiB = 1 << 20;

double seconds_per_component() {
  double total = kDefaultTotalSeconds;
  if (const char* env = std::getenv("VECPERF_SOAK_SECONDS"); env != nullptr && *env != '\0') {
    total = std::strtod(env, nullptr);
  }
  return std::max(total, 5.0 * kComponents) / kComponents;
}

// Resident set size in bytes, after handing glibc's free heap memory back to the kernel.
double rss_bytes() {
  ::malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Sample {
  double t;       // seconds since the component started
  double rss;     // bytes
  double rounds;  // rounds done so far
};

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// Runs `step` until the component's time is up, sampling RSS, then judges the steady phase.
// `step` does one round of work and returns false (after recording a test failure) on error.
void soak(const std::string& name, const std::function<bool()>& step) {
  const double duration = seconds_per_component();
  const double warmup = duration / 3;
  const Clock::time_point start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  std::vector<Sample> steady;
  Clock::time_point next_sample = start;
  int64_t rounds = 0;
  while (elapsed() < duration) {
    if (!step()) return;
    ++rounds;
    if (Clock::now() >= next_sample) {
      next_sample = Clock::now() + kSampleInterval;
      const double t = elapsed();
      if (t >= warmup) steady.push_back({t, rss_bytes(), static_cast<double>(rounds)});
    }
  }
  ASSERT_GE(steady.size(), 8u) << name << ": too few samples; raise VECPERF_SOAK_SECONDS";

  // Four windows of equal time over the steady phase.
  const double t0 = steady.front().t, span = steady.back().t - t0;
  std::vector<std::vector<double>> windows(4), window_rounds(4);
  for (const Sample& s : steady) {
    const size_t w =
        std::min<size_t>(3, static_cast<size_t>(4 * (s.t - t0) / std::max(span, 1e-9)));
    windows[w].push_back(s.rss);
    window_rounds[w].push_back(s.rounds);
  }
  for (const auto& w : windows) ASSERT_FALSE(w.empty()) << name << ": a window has no sample";
  const double first = median(windows.front()), last = median(windows.back());
  const double rounds_between = mean(window_rounds.back()) - mean(window_rounds.front());
  // Least-squares slope over the steady samples, for the report.
  double mt = 0, mr = 0;
  for (const Sample& s : steady) mt += s.t, mr += s.rss;
  mt /= static_cast<double>(steady.size());
  mr /= static_cast<double>(steady.size());
  double num = 0, den = 0;
  for (const Sample& s : steady) num += (s.t - mt) * (s.rss - mr), den += (s.t - mt) * (s.t - mt);
  const double slope_mib_per_min = den > 0 ? num / den * 60 / kMiB : 0;
  const double tolerance = std::max(kToleranceBytes, kToleranceFraction * first);

  std::printf(
      "soak %-6s rounds=%lld  rss steady first-window=%.1f MiB last-window=%.1f MiB "
      "growth=%+.2f MiB = %+.0f bytes/round (tolerance %.1f MiB)  slope=%+.2f MiB/min  "
      "samples=%zu\n",
      name.c_str(), static_cast<long long>(rounds), first / kMiB, last / kMiB,
      (last - first) / kMiB, (last - first) / std::max(rounds_between, 1.0), tolerance / kMiB,
      slope_mib_per_min, steady.size());
  std::fflush(stdout);
  ::testing::Test::RecordProperty("rss_first_window_mib", std::to_string(first / kMiB));
  ::testing::Test::RecordProperty("rss_last_window_mib", std::to_string(last / kMiB));
  ::testing::Test::RecordProperty("slope_mib_per_min", std::to_string(slope_mib_per_min));
  EXPECT_LE(last - first, tolerance) << name << ": resident memory grew from " << first / kMiB
                                     << " MiB to " << last / kMiB << " MiB over the steady phase";
}

constexpr int64_t kDim = 32;
constexpr int64_t kPoolRows = 40000;  // vector of id i is pool row i % kPoolRows
constexpr int64_t kQueries = 50;
constexpr int kK = 10;

// A sliding window of live ids [oldest, next): each round removes `batch` of the oldest, adds
// `batch` new ones, searches, and now and then serialises the index and loads the copy.
class IndexChurn {
 public:
  IndexChurn(std::unique_ptr<Index> index, int64_t live, int64_t batch)
      : index_(std::move(index)),
        live_(live),
        batch_(batch),
        pool_(testing::clustered(kPoolRows, kDim, 7)),
        queries_(testing::clustered(kQueries, kDim, 8)),
        distances_(kQueries * kK),
        ids_(kQueries * kK) {}

  // Fills the window (part of the warm-up).
  bool fill() { return add(live_); }

  bool round() {
    std::vector<int64_t> gone = testing::sequential_ids(batch_, oldest_);
    Status s = index_->remove(gone);
    EXPECT_TRUE(s.ok()) << s.to_string();
    if (!s.ok()) return false;
    oldest_ += batch_;
    if (!add(batch_)) return false;
    EXPECT_EQ(index_->size(), live_);
    SearchOptions o;
    o.k = kK;
    s = index_->search(queries_.view(), o, {distances_.data(), ids_.data()});
    EXPECT_TRUE(s.ok()) << s.to_string();
    if (!s.ok()) return false;
    for (int64_t id : ids_) {
      if (id != kNoId && (id < oldest_ || id >= next_)) {
        ADD_FAILURE() << "search returned id " << id << ", live ids are [" << oldest_ << ", "
                      << next_ << ")";
        return false;
      }
    }
    if (++rounds_ % 50 == 0) {
      Result<std::string> bytes = index_->to_bytes();
      EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
      if (!bytes.ok()) return false;
      Result<std::unique_ptr<Index>> copy = from_bytes(*bytes);
      EXPECT_TRUE(copy.ok()) << copy.status().to_string();
      if (!copy.ok()) return false;
      EXPECT_EQ((*copy)->size(), live_);
    }
    return true;
  }

 private:
  bool add(int64_t n) {
    std::vector<int64_t> ids = testing::sequential_ids(n, next_);
    std::vector<float> rows(static_cast<size_t>(n * kDim));
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(pool_.row((next_ + i) % kPoolRows), kDim, rows.data() + i * kDim);
    }
    Status s = index_->add(ids, MatrixView{rows.data(), n, kDim});
    EXPECT_TRUE(s.ok()) << s.to_string();
    next_ += n;
    return s.ok();
  }

  std::unique_ptr<Index> index_;
  const int64_t live_, batch_;
  testing::Matrix pool_, queries_;
  std::vector<float> distances_;
  std::vector<int64_t> ids_;
  int64_t oldest_ = 0, next_ = 0, rounds_ = 0;
};

void soak_index(const std::string& name, const IndexOptions& options, int64_t live, int64_t batch) {
  Result<std::unique_ptr<Index>> index = make_index(options);
  ASSERT_TRUE(index.ok()) << index.status().to_string();
  IndexChurn churn(std::move(*index), live, batch);
  bool filled = false;
  soak(name, [&] {
    if (!filled) return filled = churn.fill();
    return churn.round();
  });
}

IndexOptions options_for(IndexKind kind) {
  IndexOptions o;
  o.kind = kind;
  o.dim = kDim;
  o.metric = Metric::kL2;
  return o;
}

TEST(SoakTest, Flat) { soak_index("flat", options_for(IndexKind::kFlat), 20000, 500); }

// A trained IVF index keeps removed slots as tombstones until they are half of all slots, then
// renumbers them (src/index/ivf_index.cc), so under churn its id map saws between 20,000 and
// 40,000 slots instead of growing.
TEST(SoakTest, Ivf) {
  IndexOptions o = options_for(IndexKind::kIvf);
  o.ivf.nlist = 64;
  o.ivf.nprobe = 8;
  soak_index("ivf", o, 20000, 500);
}

TEST(SoakTest, Hnsw) {
  IndexOptions o = options_for(IndexKind::kHnsw);
  o.hnsw.ef_construction = 64;
  o.hnsw.ef_search = 32;
  soak_index("hnsw", o, 10000, 200);
}

// Small stage limits, so the fill migrates flat -> ivf -> hnsw during the warm-up.
TEST(SoakTest, Auto) {
  IndexOptions o = options_for(IndexKind::kAuto);
  o.auto_index.flat_max = 2000;
  o.auto_index.ivf_max = 6000;
  o.auto_index.hnsw.ef_construction = 64;
  soak_index("auto", o, 8000, 200);
}

// A 256 KiB RAM tier (a few hundred entries) over a disk tier bounded at 20000: puts of new
// texts evict from both tiers all the time, lookups of older texts hit RAM, disk, or miss.
TEST(SoakTest, Cache) {
  constexpr int64_t kCacheDim = 64;
  constexpr int kBatch = 200;
  constexpr uint64_t kDiskEntries = 20000;
  testing::TempDir dir;
  CacheOptions o = testing::disk_options(dir.path(), kCacheDim);
  o.tiering = CacheTiering::kRamOverDisk;
  o.ram_budget_bytes = 256 << 10;
  o.disk_max_entries = kDiskEntries;
  Result<std::unique_ptr<EmbeddingCache>> opened = EmbeddingCache::open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EmbeddingCache& cache = **opened;

  const EmbedFn embed = [&](std::span<const std::string_view> texts, std::vector<float>* out) {
    out->clear();
    for (std::string_view t : texts) {
      const std::vector<float> v = testing::vector_for(t, kCacheDim);
      out->insert(out->end(), v.begin(), v.end());
    }
    return Status::OK();
  };
  int64_t next = 0;
  uint64_t lcg = 12345;
  std::vector<std::string> texts(kBatch);
  std::vector<float> rows(kBatch * kCacheDim), out(kBatch * kCacheDim);
  std::vector<uint8_t> found(kBatch);
  soak("cache", [&] {
    // New texts.
    for (int i = 0; i < kBatch; ++i) {
      texts[i] = "soak-" + std::to_string(next + i);
      const std::vector<float> v = testing::vector_for(texts[i], kCacheDim);
      std::copy(v.begin(), v.end(), rows.begin() + i * kCacheDim);
    }
    next += kBatch;
    std::vector<std::string_view> views = testing::views(texts);
    Status s = cache.put_many(views, MatrixView{rows.data(), kBatch, kCacheDim});
    EXPECT_TRUE(s.ok()) << s.to_string();
    if (!s.ok()) return false;
    // Older texts, up to 1.5x the disk bound back: RAM hits, disk hits and misses.
    for (int i = 0; i < kBatch; ++i) {
      lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
      const int64_t back = static_cast<int64_t>((lcg >> 33) % (kDiskEntries * 3 / 2));
      texts[i] = "soak-" + std::to_string(std::max<int64_t>(0, next - 1 - back));
    }
    views = testing::views(texts);
    s = cache.get_many(views, out.data(), found.data());
    EXPECT_TRUE(s.ok()) << s.to_string();
    if (!s.ok()) return false;
    for (int i = 0; i < kBatch; ++i) {
      if (found[i] && !std::equal(out.begin() + i * kCacheDim, out.begin() + (i + 1) * kCacheDim,
                                  testing::vector_for(texts[i], kCacheDim).begin())) {
        ADD_FAILURE() << "wrong vector for " << texts[i];
        return false;
      }
    }
    s = cache.get_or_compute(views, embed, 64, out.data());
    EXPECT_TRUE(s.ok()) << s.to_string();
    return s.ok();
  });
  const CacheStats stats = cache.stats();
  // The workload must have exercised every path it is meant to.
  EXPECT_GT(stats.ram.evictions, 0u);
  EXPECT_GT(stats.disk.evictions, 0u);
  EXPECT_GT(stats.disk.hits, 0u);
  EXPECT_GT(stats.computed, 0u);
}

}  // namespace
}  // namespace vecperf
