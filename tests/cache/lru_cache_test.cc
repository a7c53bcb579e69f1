// RAM tier: random operation sequences checked against a list+map reference model (exact LRU
// order and byte budget with one shard), the budget across shards, and expiry.
#include "cache/lru_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <list>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>

namespace vecperf::internal {
namespace {

CacheKey key_of(uint64_t i) { return CacheKey{i * 0x9e3779b97f4a7c15ull, i}; }

std::string value_of(uint64_t key, size_t size, uint64_t version) {
  std::string v(size, '\0');
  for (size_t j = 0; j < size; ++j) v[j] = static_cast<char>((key * 31 + version * 7 + j) & 0xff);
  return v;
}

// The obvious implementation: a recency list (front = most recent) and a map into it.
class ReferenceLru {
 public:
  explicit ReferenceLru(uint64_t budget) : budget_(budget) {}
  std::optional<std::string> get(uint64_t k) {
    auto it = map_.find(k);
    if (it == map_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void put(uint64_t k, std::string v) {
    erase(k);
    if (LruCache::charge(v.size()) > budget_) return;
    used_ += LruCache::charge(v.size());
    order_.emplace_front(k, std::move(v));
    map_[k] = order_.begin();
    while (used_ > budget_) {
      used_ -= LruCache::charge(order_.back().second.size());
      map_.erase(order_.back().first);
      order_.pop_back();
      ++evictions_;
    }
  }
  bool erase(uint64_t k) {
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    used_ -= LruCache::charge(it->second->second.size());
    order_.erase(it->second);
    map_.erase(it);
    return true;
  }
  std::vector<CacheKey> keys() const {
    std::vector<CacheKey> out;
    for (const auto& [k, v] : order_) out.push_back(key_of(k));
    return out;
  }
  uint64_t used() const { return used_; }
  uint64_t evictions() const { return evictions_; }

 private:
  uint64_t budget_;
  uint64_t used_ = 0;
  uint64_t evictions_ = 0;
  std::list<std::pair<uint64_t, std::string>> order_;
  std::map<uint64_t, std::list<std::pair<uint64_t, std::string>>::iterator> map_;
};

class LruModelTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(LruModelTest, RandomOperationsMatchReference) {
  std::mt19937_64 rng(GetParam());
  const uint64_t budget = 2000 + GetParam() * 300;
  LruCache cache(budget, 1);
  ReferenceLru ref(budget);
  std::uniform_int_distribution<uint64_t> key_dist(0, 40);
  std::uniform_int_distribution<size_t> size_dist(0, 400);
  std::uniform_int_distribution<int> op_dist(0, 9);
  for (uint64_t step = 0; step < 5000; ++step) {
    const uint64_t k = key_dist(rng);
    const int op = op_dist(rng);
    if (op < 5) {
      std::string got;
      const bool hit = cache.get(key_of(k), 0, [&](const std::byte* d, size_t n) {
        got.assign(reinterpret_cast<const char*>(d), n);
      });
      const std::optional<std::string> want = ref.get(k);
      ASSERT_EQ(hit, want.has_value()) << "step " << step;
      if (hit) {
        ASSERT_EQ(got, *want) << "step " << step;
      }
    } else if (op < 9) {
      // Sizes up to 400 + overhead against budgets from 2000: a few entries fit, some
      // puts evict several entries at once.
      const std::string v = value_of(k, size_dist(rng), step);
      cache.put(key_of(k), v.data(), v.size(), 0);
      ref.put(k, v);
    } else {
      ASSERT_EQ(cache.erase(key_of(k)), ref.erase(k));
    }
    ASSERT_EQ(cache.keys_by_recency(0), ref.keys()) << "step " << step;
    ASSERT_EQ(cache.bytes(), ref.used());
    ASSERT_LE(cache.bytes(), budget);
    ASSERT_EQ(cache.entries(), ref.keys().size());
  }
  EXPECT_EQ(cache.evictions(), ref.evictions());
  EXPECT_GT(cache.evictions(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, LruModelTest, ::testing::Values(1, 2, 3, 4, 5, 6));

TEST(LruCacheTest, BudgetHoldsAcrossShards) {
  const uint64_t budget = 64 * 1024;
  LruCache cache(budget, 8);
  const std::string v(1000, 'v');
  for (uint64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(cache.put(key_of(i), v.data(), v.size(), 0));
    ASSERT_LE(cache.bytes(), budget);
  }
  EXPECT_EQ(cache.bytes(), cache.entries() * LruCache::charge(v.size()));
  EXPECT_EQ(cache.evictions(), 1000 - cache.entries());
  // The most recent key of every shard survived.
  EXPECT_TRUE(cache.get(key_of(999), 0, [](const std::byte*, size_t) {}));
}

TEST(LruCacheTest, OversizedEntryIsRejectedAndDropsTheOldValue) {
  LruCache cache(1024, 1);
  const std::string small(10, 's'), big(2000, 'b');
  ASSERT_TRUE(cache.put(key_of(1), small.data(), small.size(), 0));
  EXPECT_FALSE(cache.put(key_of(1), big.data(), big.size(), 0));
  EXPECT_FALSE(cache.get(key_of(1), 0, [](const std::byte*, size_t) {}));
  EXPECT_EQ(cache.bytes(), 0u);
}

// A full cache hands each evicted node and value buffer to the next put (the buffer via a
// per-thread spare shared by every LruCache). Two caches written in turn from one thread, with
// values that mostly share a size, must each still return exactly their own latest values.
TEST(LruCacheTest, RecycledBuffersHoldOnlyTheirOwnValues) {
  constexpr size_t kSize = 64;
  constexpr uint64_t kFit = 8;
  LruCache a(LruCache::charge(kSize) * kFit, 1), b(LruCache::charge(kSize) * kFit, 1);
  ReferenceLru ref_a(LruCache::charge(kSize) * kFit), ref_b(LruCache::charge(kSize) * kFit);
  for (uint64_t step = 0; step < 2000; ++step) {
    LruCache& cache = step % 2 ? a : b;
    ReferenceLru& ref = step % 2 ? ref_a : ref_b;
    // Every seventh value is one byte shorter, so the spare's size sometimes does not match.
    const std::string v = value_of(step, step % 7 == 0 ? kSize - 1 : kSize, step);
    ASSERT_TRUE(cache.put(key_of(step), v.data(), v.size(), 0));
    ref.put(step, v);
    for (uint64_t k = step >= 2 * kFit ? step - 2 * kFit : 0; k <= step; ++k) {
      std::string got;
      const bool hit = cache.get(key_of(k), 0, [&](const std::byte* d, size_t n) {
        got.assign(reinterpret_cast<const char*>(d), n);
      });
      const std::optional<std::string> want = ref.get(k);
      ASSERT_EQ(hit, want.has_value()) << "step " << step << " key " << k;
      if (hit) {
        ASSERT_EQ(got, *want) << "step " << step << " key " << k;
      }
    }
    ASSERT_EQ(cache.keys_by_recency(0), ref.keys()) << "step " << step;
  }
  EXPECT_EQ(a.evictions(), ref_a.evictions());
  EXPECT_EQ(b.evictions(), ref_b.evictions());
}

// Two threads fill a small cache so that every put evicts: buffers and nodes move between the
// threads through the shards. Every hit must return the value written for that key (each value
// is a function of its key), and the budget and counters must add up. Run under TSan in CI.
TEST(LruCacheTest, ConcurrentEvictingPutsKeepValuesIntact) {
  constexpr size_t kSize = 256;
  constexpr uint64_t kPerThread = 20000;
  const uint64_t budget = LruCache::charge(kSize) * 64;
  LruCache cache(budget, 4);
  std::atomic<uint64_t> bad{0}, hits{0};
  auto body = [&](uint64_t t) {
    std::mt19937_64 rng(t + 1);
    for (uint64_t i = 0; i < kPerThread; ++i) {
      const uint64_t k = t * kPerThread + i;
      const std::string v = value_of(k, kSize, 0);
      cache.put(key_of(k), v.data(), v.size(), 0);
      // Probe a recent key of either thread.
      const uint64_t probe = (rng() % 2) * kPerThread + (i >= 16 ? i - rng() % 16 : 0);
      const std::string want = value_of(probe, kSize, 0);
      cache.get(key_of(probe), 0, [&](const std::byte* d, size_t n) {
        hits.fetch_add(1, std::memory_order_relaxed);
        if (n != kSize || std::memcmp(d, want.data(), n) != 0) {
          bad.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
  };
  std::thread other(body, 1);
  body(0);
  other.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  EXPECT_LE(cache.bytes(), budget);
  EXPECT_EQ(cache.bytes(), cache.entries() * LruCache::charge(kSize));
  EXPECT_EQ(cache.evictions(), 2 * kPerThread - cache.entries());
}

TEST(LruCacheTest, ExpiredEntriesAreMissesAndRemoved) {
  LruCache cache(1 << 20, 4);
  const std::string v(16, 'x');
  cache.put(key_of(1), v.data(), v.size(), /*expires_at=*/100);
  cache.put(key_of(2), v.data(), v.size(), /*expires_at=*/0);
  auto noop = [](const std::byte*, size_t) {};
  EXPECT_TRUE(cache.get(key_of(1), 99, noop));
  EXPECT_FALSE(cache.get(key_of(1), 100, noop));
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_TRUE(cache.get(key_of(2), 1'000'000, noop));
}

}  // namespace
}  // namespace vecperf::internal
