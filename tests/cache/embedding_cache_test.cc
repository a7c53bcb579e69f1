// EmbeddingCache: round trips, options, tiers (promotion, reopen, TTL, capacity), damaged and
// foreign records, locking and bad directories, stats.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <memory>

#include "cache/cache_key.h"
#include "cache/cache_test_util.h"
#include "cache/disk_tier.h"
#include "cache/record.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace {

using testing::disk_options;
using testing::make_texts;
using testing::ram_options;
using testing::TempDir;
using testing::vector_for;
using testing::views;

std::unique_ptr<EmbeddingCache> open_ok(const CacheOptions& o) {
  Result<std::unique_ptr<EmbeddingCache>> c = EmbeddingCache::open(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

void put_text(EmbeddingCache* c, std::string_view text) {
  const std::vector<float> v = vector_for(text, c->dim());
  ASSERT_TRUE(c->put(text, v).ok());
}

// Returns whether the text is found, checking the vector when it is.
bool has_exact(EmbeddingCache* c, std::string_view text) {
  Result<std::optional<std::vector<float>>> r = c->get(text);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok() || !r->has_value()) return false;
  EXPECT_EQ(**r, vector_for(text, c->dim())) << text;
  return true;
}

TEST(EmbeddingCacheTest, RamRoundTripAndMisses) {
  auto c = open_ok(ram_options());
  ASSERT_TRUE(c);
  EXPECT_FALSE(has_exact(c.get(), "absent"));
  put_text(c.get(), "hello");
  put_text(c.get(), "");  // the empty text is a valid key
  EXPECT_TRUE(has_exact(c.get(), "hello"));
  EXPECT_TRUE(has_exact(c.get(), ""));
  EXPECT_FALSE(has_exact(c.get(), "hello "));
  // Replacing a value.
  std::vector<float> other(8, 0.5f);
  ASSERT_TRUE(c->put("hello", other).ok());
  EXPECT_EQ(**c->get("hello"), other);

  const std::vector<std::string> texts = {"hello", "nope", ""};
  auto many = c->get_many(views(texts));
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(many->size(), 3u);
  EXPECT_TRUE((*many)[0].has_value());
  EXPECT_FALSE((*many)[1].has_value());
  EXPECT_TRUE((*many)[2].has_value());
  EXPECT_EQ(c->key("hello"), cache_key("test-model", "v1", 8, "hello"));
}

TEST(EmbeddingCacheTest, HugeTextWorks) {
  TempDir dir;
  auto c = open_ok(disk_options(dir.path()));
  ASSERT_TRUE(c);
  std::string big(10 << 20, 'a');
  big[12345] = 'b';
  put_text(c.get(), big);
  EXPECT_TRUE(has_exact(c.get(), big));
  big[12345] = 'c';
  EXPECT_FALSE(has_exact(c.get(), big));
}

// put_many's finiteness check is a branch-free bit test over the whole matrix: every kind of
// non-finite value, in any row and at any position, must be refused (and nothing stored),
// while extreme finite values (largest, smallest subnormal, negative zero) are accepted.
TEST(EmbeddingCacheTest, RejectsEveryNonFiniteValueAcceptsEveryFiniteOne) {
  auto c = open_ok(ram_options());
  ASSERT_TRUE(c);
  const std::vector<std::string> texts = {"r0", "r1", "r2"};
  const float inf = std::numeric_limits<float>::infinity();
  const float bad[] = {inf, -inf, std::nanf(""), -std::nanf(""),
                       std::numeric_limits<float>::signaling_NaN()};
  for (float value : bad) {
    for (size_t pos : {size_t{0}, size_t{5}, size_t{8}, size_t{13}, size_t{23}}) {
      std::vector<float> rows(3 * 8, 0.25f);
      rows[pos] = value;
      EXPECT_EQ(c->put_many(views(texts), MatrixView{rows.data(), 3, 8}).code(),
                StatusCode::kInvalidArgument)
          << value << " at " << pos;
    }
  }
  EXPECT_EQ(c->stats().ram.entries, 0u);
  std::vector<float> edge(3 * 8, 1.0f);
  edge[0] = std::numeric_limits<float>::max();
  edge[7] = std::numeric_limits<float>::lowest();
  edge[9] = std::numeric_limits<float>::denorm_min();
  edge[23] = -0.0f;
  EXPECT_TRUE(c->put_many(views(texts), MatrixView{edge.data(), 3, 8}).ok());
  EXPECT_EQ(c->stats().ram.entries, 3u);
}

TEST(EmbeddingCacheTest, RejectsBadArguments) {
  auto c = open_ok(ram_options());
  ASSERT_TRUE(c);
  std::vector<float> wrong_dim(7, 1.0f);
  EXPECT_EQ(c->put("x", wrong_dim).code(), StatusCode::kInvalidArgument);
  std::vector<float> nan(8, 1.0f);
  nan[3] = std::nanf("");
  EXPECT_EQ(c->put("x", nan).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(has_exact(c.get(), "x"));
  const std::vector<std::string> texts = {"a", "b"};
  std::vector<float> one_row(8, 1.0f);
  EXPECT_EQ(c->put_many(views(texts), MatrixView{one_row.data(), 1, 8}).code(),
            StatusCode::kInvalidArgument);
  std::vector<float> out(16);
  EXPECT_EQ(c->get_or_compute(views(texts), nullptr, 1, out.data()).code(),
            StatusCode::kInvalidArgument);
}

TEST(EmbeddingCacheTest, ValidatesOptions) {
  auto code = [](CacheOptions o) { return EmbeddingCache::open(o).status().code(); };
  CacheOptions o = ram_options();
  o.model = "";
  EXPECT_EQ(code(o), StatusCode::kInvalidArgument);
  o = ram_options();
  o.dim = 0;
  EXPECT_EQ(code(o), StatusCode::kInvalidArgument);
  o = ram_options();
  o.ram_shards = 0;
  EXPECT_EQ(code(o), StatusCode::kInvalidArgument);
  o = ram_options();
  o.tiering = CacheTiering::kDiskOnly;  // no path
  EXPECT_EQ(code(o), StatusCode::kInvalidArgument);
  o = ram_options();
  o.ttl_seconds = -1;
  EXPECT_EQ(code(o), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ram_options().validate().ok());
}

TEST(EmbeddingCacheTest, Float16HalvesMemoryWithBoundedError) {
  CacheOptions o = ram_options(64);
  o.dtype = CacheDtype::kFloat16;
  auto c = open_ok(o);
  ASSERT_TRUE(c);
  const std::vector<float> v = vector_for("t", 64);
  ASSERT_TRUE(c->put("t", v).ok());
  auto got = c->get("t");
  ASSERT_TRUE(got.ok() && got->has_value());
  for (size_t j = 0; j < v.size(); ++j) {
    EXPECT_NEAR((**got)[j], v[j], std::abs(v[j]) * (1.0f / 2048) + 6e-8f) << j;
  }
  EXPECT_EQ(c->stats().ram.bytes, EmbeddingCache::ram_entry_bytes(64, CacheDtype::kFloat16));
  EXPECT_EQ(EmbeddingCache::ram_entry_bytes(64, CacheDtype::kFloat32) -
                EmbeddingCache::ram_entry_bytes(64, CacheDtype::kFloat16),
            64u * 2);
}

TEST(EmbeddingCacheTest, Float16RecordsSurviveReopenAndReadAsFloat32) {
  TempDir dir;
  CacheOptions o = disk_options(dir.path(), 16);
  o.dtype = CacheDtype::kFloat16;
  const std::vector<float> v = vector_for("t", 16);
  {
    auto c = open_ok(o);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->put("t", v).ok());
  }
  // The record says float16, so a float32 cache over the same directory decodes it too.
  for (CacheDtype dtype : {CacheDtype::kFloat16, CacheDtype::kFloat32}) {
    o.dtype = dtype;
    auto c = open_ok(o);
    ASSERT_TRUE(c);
    auto got = c->get("t");
    ASSERT_TRUE(got.ok() && got->has_value());
    for (size_t j = 0; j < v.size(); ++j) {
      EXPECT_NEAR((**got)[j], v[j], std::abs(v[j]) * (1.0f / 2048) + 6e-8f) << j;
    }
    EXPECT_EQ(c->stats().corrupt_records, 0u);
  }
}

TEST(EmbeddingCacheTest, RamBudgetIsInBytes) {
  CacheOptions o = ram_options(32);
  o.ram_shards = 1;
  o.ram_budget_bytes = 10 * EmbeddingCache::ram_entry_bytes(32, CacheDtype::kFloat32);
  auto c = open_ok(o);
  ASSERT_TRUE(c);
  const auto texts = make_texts(25);
  for (const auto& t : texts) put_text(c.get(), t);
  const CacheStats s = c->stats();
  EXPECT_EQ(s.ram.entries, 10u);
  EXPECT_EQ(s.ram.evictions, 15u);
  EXPECT_LE(s.ram.bytes, o.ram_budget_bytes);
  for (int i = 0; i < 15; ++i) EXPECT_FALSE(has_exact(c.get(), texts[i]));
  for (int i = 15; i < 25; ++i) EXPECT_TRUE(has_exact(c.get(), texts[i]));
}

TEST(EmbeddingCacheTest, DiskHitIsPromotedToRam) {
  TempDir dir;
  CacheOptions o = disk_options(dir.path());
  o.ram_shards = 1;
  o.ram_budget_bytes = 2 * EmbeddingCache::ram_entry_bytes(8, CacheDtype::kFloat32);
  auto c = open_ok(o);
  ASSERT_TRUE(c);
  for (const char* t : {"a", "b", "c"}) put_text(c.get(), t);  // "a" leaves RAM
  CacheStats s0 = c->stats();
  EXPECT_TRUE(has_exact(c.get(), "a"));
  CacheStats s1 = c->stats();
  EXPECT_EQ(s1.disk.hits - s0.disk.hits, 1u);
  EXPECT_EQ(s1.ram.misses - s0.ram.misses, 1u);
  EXPECT_TRUE(has_exact(c.get(), "a"));
  CacheStats s2 = c->stats();
  EXPECT_EQ(s2.ram.hits - s1.ram.hits, 1u);
  EXPECT_EQ(s2.disk.hits, s1.disk.hits);
}

TEST(EmbeddingCacheTest, SurvivesCloseAndReopen) {
  TempDir dir;
  const auto texts = make_texts(200);
  for (CacheTiering tiering : {CacheTiering::kRamOverDisk, CacheTiering::kDiskOnly}) {
    CacheOptions o = disk_options(dir.sub(std::to_string(static_cast<int>(tiering))));
    o.tiering = tiering;
    {
      auto c = open_ok(o);
      ASSERT_TRUE(c);
      for (const auto& t : texts) put_text(c.get(), t);
      ASSERT_TRUE(c->flush().ok());
    }
    auto c = open_ok(o);
    ASSERT_TRUE(c);
    for (const auto& t : texts) EXPECT_TRUE(has_exact(c.get(), t));
    EXPECT_FALSE(has_exact(c.get(), "never written"));
    EXPECT_EQ(c->stats().disk.hits, texts.size());
  }
}

TEST(EmbeddingCacheTest, TtlExpiresInBothTiersAndCompactionDropsRecords) {
  TempDir dir;
  auto now = std::make_shared<std::atomic<int64_t>>(1000);
  CacheOptions o = disk_options(dir.path());
  o.ttl_seconds = 10;
  o.clock = [now] { return now->load(); };
  auto c = open_ok(o);
  ASSERT_TRUE(c);
  put_text(c.get(), "old");
  now->store(1005);
  put_text(c.get(), "new");
  EXPECT_TRUE(has_exact(c.get(), "old"));  // RAM hit, not yet expired
  now->store(1010);
  EXPECT_FALSE(has_exact(c.get(), "old"));  // expired in RAM and on disk
  EXPECT_TRUE(has_exact(c.get(), "new"));
  c.reset();
  c = open_ok(o);
  ASSERT_TRUE(c);
  EXPECT_FALSE(has_exact(c.get(), "old"));
  EXPECT_TRUE(has_exact(c.get(), "new"));
  // Compaction drops the expired record: raw reads no longer see it.
  internal::DiskTier* disk = internal::disk_tier_for_testing(c.get());
  ASSERT_NE(disk, nullptr);
  ASSERT_TRUE(disk->compact().ok());
  int raw_found = 0;
  const CacheKey keys[] = {c->key("old"), c->key("new")};
  ASSERT_TRUE(
      disk->multi_get(keys, [&](size_t i, std::string_view) { raw_found += i == 0 ? 100 : 1; })
          .ok());
  EXPECT_EQ(raw_found, 1);
  // Rewriting restarts the clock.
  put_text(c.get(), "old");
  EXPECT_TRUE(has_exact(c.get(), "old"));
}

TEST(EmbeddingCacheTest, PerEntryTtlOverridesTheDefault) {
  TempDir dir;
  auto now = std::make_shared<std::atomic<int64_t>>(5000);
  CacheOptions o = disk_options(dir.path());
  o.clock = [now] { return now->load(); };  // default: never expire
  auto c = open_ok(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->put("short", vector_for("short", 8), /*ttl_seconds=*/5).ok());
  ASSERT_TRUE(c->put("forever", vector_for("forever", 8)).ok());
  EXPECT_EQ(c->put("bad", vector_for("bad", 8), -2).code(), StatusCode::kInvalidArgument);
  now->store(5004);
  EXPECT_TRUE(has_exact(c.get(), "short"));
  now->store(5005);
  EXPECT_FALSE(has_exact(c.get(), "short"));
  EXPECT_TRUE(has_exact(c.get(), "forever"));
  // Without a cache-wide TTL the compaction filter still drops the expired record.
  internal::DiskTier* disk = internal::disk_tier_for_testing(c.get());
  ASSERT_TRUE(disk->compact().ok());
  int raw_found = 0;
  const CacheKey keys[] = {c->key("short"), c->key("forever")};
  ASSERT_TRUE(
      disk->multi_get(keys, [&](size_t i, std::string_view) { raw_found += i == 0 ? 100 : 1; })
          .ok());
  EXPECT_EQ(raw_found, 1);
}

TEST(EmbeddingCacheTest, DiskCapacityEvictsOldestFirst) {
  TempDir dir;
  CacheOptions o = disk_options(dir.path());
  o.tiering = CacheTiering::kDiskOnly;
  o.disk_max_entries = 10;
  const auto texts = make_texts(40);
  {
    auto c = open_ok(o);
    ASSERT_TRUE(c);
    for (int i = 0; i < 25; ++i) put_text(c.get(), texts[i]);
    // Rewriting an entry that exists does not grow the count.
    for (int r = 0; r < 5; ++r) put_text(c.get(), texts[24]);
    for (int i = 0; i < 15; ++i) EXPECT_FALSE(has_exact(c.get(), texts[i])) << i;
    for (int i = 15; i < 25; ++i) EXPECT_TRUE(has_exact(c.get(), texts[i])) << i;
    EXPECT_EQ(c->stats().disk.evictions, 15u);
  }
  // The count and the order survive a reopen; a batch evicts in one go.
  auto c = open_ok(o);
  ASSERT_TRUE(c);
  std::vector<float> rows;
  std::vector<std::string_view> batch;
  for (int i = 25; i < 30; ++i) {
    batch.push_back(texts[i]);
    const auto v = vector_for(texts[i], 8);
    rows.insert(rows.end(), v.begin(), v.end());
  }
  ASSERT_TRUE(c->put_many(batch, MatrixView{rows.data(), 5, 8}).ok());
  for (int i = 15; i < 20; ++i) EXPECT_FALSE(has_exact(c.get(), texts[i])) << i;
  for (int i = 20; i < 30; ++i) EXPECT_TRUE(has_exact(c.get(), texts[i])) << i;
  EXPECT_EQ(c->stats().disk.evictions, 5u);
}

TEST(EmbeddingCacheTest, ForeignAndCorruptRecordsAreMissesAndRepairedByPut) {
  TempDir dir;
  CacheOptions o = disk_options(dir.path());
  o.tiering = CacheTiering::kDiskOnly;
  auto c = open_ok(o);
  ASSERT_TRUE(c);
  internal::DiskTier* disk = internal::disk_tier_for_testing(c.get());
  ASSERT_NE(disk, nullptr);
  const internal::KeyHasher ours("test-model", "v1", 8);
  const internal::KeyHasher other_model("other-model", "v1", 8);

  auto record = [&](uint64_t model_hash, uint32_t dim) {
    internal::RecordHeader h;
    h.dim = dim;
    h.model_hash = model_hash;
    std::vector<float> v(dim, 0.25f);
    std::string bytes;
    internal::encode_record(h, v.data(), v.size() * sizeof(float), &bytes);
    return bytes;
  };
  std::string good = record(ours.model_hash(), 8);
  std::string flipped = good;
  flipped[internal::kRecordHeaderBytes + 5] ^= 0x10;  // vector byte: checksum mismatch
  std::string bad_version = good;
  bad_version[8] = 9;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"wrong-model", record(other_model.model_hash(), 8)},
      {"wrong-dim", record(ours.model_hash(), 16)},
      {"garbage", "not a record at all"},
      {"empty", ""},
      {"truncated", good.substr(0, good.size() - 4)},
      {"flipped", flipped},
      {"bad-version", bad_version},
  };
  for (const auto& [text, bytes] : cases) {
    ASSERT_TRUE(disk->write_raw(c->key(text), bytes).ok());
  }
  // The control case: a correct record planted the same way is found.
  ASSERT_TRUE(disk->write_raw(c->key("planted-good"), good).ok());
  EXPECT_EQ(**c->get("planted-good"), std::vector<float>(8, 0.25f));

  for (const auto& [text, bytes] : cases) EXPECT_FALSE(has_exact(c.get(), text)) << text;
  EXPECT_EQ(c->stats().corrupt_records, cases.size());
  for (const auto& [text, bytes] : cases) put_text(c.get(), text);
  for (const auto& [text, bytes] : cases) EXPECT_TRUE(has_exact(c.get(), text)) << text;
  EXPECT_EQ(c->stats().corrupt_records, cases.size());
}

TEST(EmbeddingCacheTest, SecondOpenOfADirectoryIsUnavailable) {
  TempDir dir;
  auto first = open_ok(disk_options(dir.path()));
  ASSERT_TRUE(first);
  Result<std::unique_ptr<EmbeddingCache>> second = EmbeddingCache::open(disk_options(dir.path()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("locked by another process"), std::string::npos)
      << second.status().to_string();
  first.reset();
  EXPECT_TRUE(EmbeddingCache::open(disk_options(dir.path())).ok());
}

// The lock holder process: opens the cache, reports 'y' (or 'n'), and waits to be killed.
TEST(LockHelper, Holder) {
  std::string dir;
  int fd = -1;
  if (!testing::is_helper("lock-holder", &dir, &fd)) {
    GTEST_SKIP() << "helper process of DirectoryLockedByAnotherProcessIsUnavailable";
  }
  auto c = EmbeddingCache::open(disk_options(dir));
  const char byte = c.ok() ? 'y' : 'n';
  if (::write(fd, &byte, 1) != 1) ::_exit(2);
  for (;;) ::pause();  // hold the lock until killed
}

TEST(EmbeddingCacheTest, DirectoryLockedByAnotherProcessIsUnavailable) {
  TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child =
      testing::spawn_helper("LockHelper.Holder", "lock-holder", dir.path(), ready[1]);
  ASSERT_GT(child, 0);
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(byte, 'y');
  Result<std::unique_ptr<EmbeddingCache>> c = EmbeddingCache::open(disk_options(dir.path()));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable) << c.status().to_string();
  EXPECT_NE(c.status().message().find("locked by another process"), std::string::npos);
  // The lock dies with its process.
  EXPECT_TRUE(EmbeddingCache::open(disk_options(dir.path())).ok());
}

TEST(EmbeddingCacheTest, UncreatableDirectoryIsAnIoError) {
  Result<std::unique_ptr<EmbeddingCache>> c =
      EmbeddingCache::open(disk_options("/dev/null/vecperf-cache"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIOError) << c.status().to_string();
  EXPECT_NE(c.status().message().find("/dev/null/vecperf-cache"), std::string::npos);
}

TEST(EmbeddingCacheTest, MissingParentDirectoriesAreCreated) {
  TempDir dir;
  auto c = open_ok(disk_options(dir.sub("a/b/c")));
  ASSERT_TRUE(c);
  put_text(c.get(), "x");
  EXPECT_TRUE(has_exact(c.get(), "x"));
}

TEST(EmbeddingCacheTest, StatsAndPrometheusText) {
  TempDir dir;
  auto c = open_ok(disk_options(dir.path()));
  ASSERT_TRUE(c);
  put_text(c.get(), "a");
  EXPECT_TRUE(has_exact(c.get(), "a"));
  EXPECT_FALSE(has_exact(c.get(), "b"));
  const CacheStats s = c->stats();
  EXPECT_EQ(s.lookups, 2u);
  EXPECT_EQ(s.ram.hits, 1u);
  EXPECT_EQ(s.ram.misses, 1u);
  EXPECT_EQ(s.disk.misses, 1u);
  EXPECT_DOUBLE_EQ(s.hit_rate, 0.5);
  EXPECT_EQ(s.get_latency.count, 2u);
  EXPECT_EQ(s.put_latency.count, 1u);
  EXPECT_GT(s.get_latency.p99_us, 0.0);
  EXPECT_EQ(s.ram.entries, 1u);
  const std::string text = c->stats_prometheus();
  for (const char* line :
       {"# HELP vecperf_cache_hits_total ", "# TYPE vecperf_cache_hits_total counter\n",
        "vecperf_cache_hits_total{tier=\"ram\"} 1\n", "vecperf_cache_hits_total{tier=\"disk\"} 0\n",
        "vecperf_cache_misses_total{tier=\"disk\"} 1\n", "vecperf_cache_hit_rate 0.500000\n",
        "# TYPE vecperf_cache_get_latency_seconds histogram\n",
        "vecperf_cache_get_latency_seconds_count 2\n",
        "vecperf_cache_put_latency_seconds_count 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace vecperf
