// Sharded byte-budgeted LRU; see lru_cache.h for the structure.
#include "cache/lru_cache.h"

namespace vecperf::internal {

LruCache::LruCache(uint64_t budget_bytes, int shards) {
  if (shards < 1) shards = 1;
  shard_budget_ = budget_bytes / static_cast<uint64_t>(shards);
  shards_.reserve(static_cast<size_t>(shards));
  for (int i = 0; i < shards; ++i) {
    auto s = std::make_unique<Shard>();
    s->head.next = s->head.prev = &s->head;
    shards_.push_back(std::move(s));
  }
}

void LruCache::publish_locked(Shard& s) {
  s.used_relaxed.store(s.used, std::memory_order_relaxed);
  s.entries_relaxed.store(s.map.size(), std::memory_order_relaxed);
}

void LruCache::remove_locked(Shard& s, Map::iterator it) {
  unlink(&it->second);
  s.used -= charge(it->second.size);
  s.map.erase(it);
  publish_locked(s);
}

bool LruCache::put(const CacheKey& key, const void* data, size_t size, int64_t expires_at) {
  Shard& s = shard(key);
  const uint64_t cost = charge(size);
  // Allocate and copy outside the lock: it is the slow part of a put.
  std::unique_ptr<std::byte[]> copy;
  if (cost <= shard_budget_) {
    copy = std::make_unique_for_overwrite<std::byte[]>(size);
    if (size > 0) std::memcpy(copy.get(), data, size);
  }
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(key);
  if (cost > shard_budget_) {
    if (it != s.map.end()) remove_locked(s, it);
    return false;
  }
  if (it != s.map.end()) {
    Node& n = it->second;
    s.used -= charge(n.size);
    n.data = std::move(copy);
    n.size = static_cast<uint32_t>(size);
    n.expires_at = expires_at;
    unlink(&n);
    push_front(s, &n);
  } else {
    it = s.map.try_emplace(key).first;
    Node& n = it->second;
    n.key = key;
    n.data = std::move(copy);
    n.size = static_cast<uint32_t>(size);
    n.expires_at = expires_at;
    push_front(s, &n);
  }
  s.used += cost;
  while (s.used > shard_budget_) {
    Node* victim = s.head.prev;  // never the new entry: it alone fits the budget
    remove_locked(s, s.map.find(victim->key));
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  publish_locked(s);
  return true;
}

bool LruCache::erase(const CacheKey& key) {
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return false;
  remove_locked(s, it);
  return true;
}

uint64_t LruCache::bytes() const {
  uint64_t total = 0;
  for (const auto& s : shards_) total += s->used_relaxed.load(std::memory_order_relaxed);
  return total;
}

uint64_t LruCache::entries() const {
  uint64_t total = 0;
  for (const auto& s : shards_) total += s->entries_relaxed.load(std::memory_order_relaxed);
  return total;
}

std::vector<CacheKey> LruCache::keys_by_recency(int shard) const {
  Shard& s = *shards_[static_cast<size_t>(shard)];
  std::lock_guard<std::mutex> lock(s.mu);
  std::vector<CacheKey> keys;
  for (const Node* n = s.head.next; n != &s.head; n = n->next) keys.push_back(n->key);
  return keys;
}

}  // namespace vecperf::internal
