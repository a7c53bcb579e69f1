// Sharded byte-budgeted LRU; see lru_cache.h for the structure.
#include "cache/lru_cache.h"

namespace vecperf::internal {
namespace {

// Each thread keeps the value buffer of the last entry its put displaced (evicted or replaced)
// and its next put of the same size fills that buffer instead of allocating. On a full cache
// every promoted disk hit evicts an entry of the same size, so steady state allocates and frees
// nothing. Profiled before this, malloc and free of those ~3 KiB values (too large for glibc's
// per-thread cache, so they went through the bins, trimmed the heap and page-faulted it back)
// were about a third of a put. Cost: at most one buffer of up to kSpareMaxBytes per thread
// that puts, outside the budget, freed when the thread exits.
constexpr size_t kSpareMaxBytes = size_t{64} << 10;

struct SpareBuffer {
  std::unique_ptr<std::byte[]> data;
  size_t size = 0;
};
thread_local SpareBuffer t_spare;

std::unique_ptr<std::byte[]> take_buffer(size_t size) {
  if (t_spare.data && t_spare.size == size) return std::move(t_spare.data);
  return std::make_unique_for_overwrite<std::byte[]>(size);
}

void keep_buffer(std::unique_ptr<std::byte[]> data, size_t size) {
  if (!data || size > kSpareMaxBytes) return;  // freed here
  t_spare.data = std::move(data);
  t_spare.size = size;
}

}  // namespace

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
    copy = take_buffer(size);
    if (size > 0) std::memcpy(copy.get(), data, size);
  }
  // What the put displaces (the replaced value, or the least recent entry's node and value) is
  // handled after the lock is released. On a full cache every promoted disk hit evicts one
  // entry; freeing its node and value, and allocating a fresh map node, inside the critical
  // section made the shard lock the place where two threads met. The first victim's node is
  // reused for the new key, and its value buffer becomes this thread's spare (take_buffer).
  std::unique_ptr<std::byte[]> displaced;
  size_t displaced_size = 0;
  Map::node_type spare;
  uint64_t evicted = 0;
  std::unique_lock<std::mutex> lock(s.mu);
  auto it = s.map.find(key);
  if (cost > shard_budget_) {
    if (it != s.map.end()) {
      displaced = std::move(it->second.data);
      remove_locked(s, it);
    }
    return false;
  }
  if (it != s.map.end()) {
    Node& n = it->second;
    s.used -= charge(n.size);
    displaced = std::move(n.data);
    displaced_size = n.size;
    n.data = std::move(copy);
    n.size = static_cast<uint32_t>(size);
    n.expires_at = expires_at;
    unlink(&n);
    push_front(s, &n);
    s.used += cost;
    // Only a larger value under the same key can overflow here; it is the most recent entry and
    // fits on its own, so the loop stops before reaching it.
    while (s.used > shard_budget_) {
      remove_locked(s, s.map.find(s.head.prev->key));
      ++evicted;
    }
  } else {
    // Make room first, so that the first victim's node can carry the new entry.
    while (s.used + cost > shard_budget_ && s.head.prev != &s.head) {
      auto victim = s.map.find(s.head.prev->key);
      if (spare.empty()) {
        unlink(&victim->second);
        s.used -= charge(victim->second.size);
        spare = s.map.extract(victim);
        displaced = std::move(spare.mapped().data);
        displaced_size = spare.mapped().size;
      } else {
        remove_locked(s, victim);  // more than one victim: a value larger than the others
      }
      ++evicted;
    }
    if (spare.empty()) {
      it = s.map.try_emplace(key).first;
    } else {
      spare.key() = key;
      it = s.map.insert(std::move(spare)).position;
    }
    Node& n = it->second;
    n.key = key;
    n.data = std::move(copy);
    n.size = static_cast<uint32_t>(size);
    n.expires_at = expires_at;
    push_front(s, &n);
    s.used += cost;
  }
  publish_locked(s);
  // Only written under the lock, so a plain add (no locked instruction) is enough.
  if (evicted) {
    s.evictions_relaxed.store(s.evictions_relaxed.load(std::memory_order_relaxed) + evicted,
                              std::memory_order_relaxed);
  }
  lock.unlock();
  keep_buffer(std::move(displaced), displaced_size);
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

uint64_t LruCache::evictions() const {
  uint64_t total = 0;
  for (const auto& s : shards_) total += s->evictions_relaxed.load(std::memory_order_relaxed);
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
