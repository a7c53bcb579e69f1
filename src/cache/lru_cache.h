// RAM tier of the embedding cache: a sharded LRU map from CacheKey to an opaque byte blob,
// bounded by bytes rather than entries.
//
// Each shard is a hash map (nodes stable across rehash) threaded by an intrusive doubly linked
// list in recency order, under one mutex: get, put and eviction are O(1). The shard is picked by
// the key's high 32 bits and the map hashes the low 64, so the two choices are independent.
// Values are copied out under the shard lock through a callback: an embedding is a few KiB, so a
// copy is cheaper than reference counting every hit, and nothing can observe an evicted buffer.
// A put on a full shard reuses the evicted entry's map node, and the evicted value buffer becomes
// the putting thread's spare for its next put of the same size (see lru_cache.cc), so promoting
// disk hits into a full cache neither allocates nor frees in the steady state.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "vecperf/cache.h"

namespace vecperf::internal {

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const noexcept { return static_cast<size_t>(k.lo); }
};

/// Thread-safety: all methods may be called concurrently.
class LruCache {
 public:
  /// Bytes charged per entry on top of its value: the map node, list links, key, expiry and the
  /// allocator's headers, measured for libstdc++ on x86-64 and rounded up.
  static constexpr uint64_t kEntryOverhead = 128;

  /// `budget_bytes` is split evenly over `shards` (>= 1).
  LruCache(uint64_t budget_bytes, int shards);
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  static uint64_t charge(size_t value_bytes) { return value_bytes + kEntryOverhead; }

  /// Inserts or replaces `key` as the most recent entry of its shard, evicting least recent ones
  /// to stay within budget. `expires_at` (seconds, 0 = never) is checked by get. Returns false,
  /// storing nothing (and dropping any older value), if the entry alone exceeds a shard's budget.
  /// The calling thread may keep the displaced value's buffer (one, up to 64 KiB) for its next
  /// put; that buffer is not charged to the budget.
  bool put(const CacheKey& key, const void* data, size_t size, int64_t expires_at);

  /// If `key` is present and not expired at `now`, marks it most recent, calls
  /// fn(const std::byte* data, size_t size) under the shard lock and returns true. An expired
  /// entry is removed.
  template <typename Fn>
  bool get(const CacheKey& key, int64_t now, Fn&& fn) {
    Shard& s = shard(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    Node* n = &it->second;
    if (n->expires_at != 0 && now >= n->expires_at) {
      remove_locked(s, it);
      return false;
    }
    unlink(n);
    push_front(s, n);
    fn(static_cast<const std::byte*>(n->data.get()), n->size);
    return true;
  }

  /// Removes `key` if present; returns whether it was.
  bool erase(const CacheKey& key);

  uint64_t bytes() const;
  uint64_t entries() const;
  uint64_t evictions() const;
  int shard_count() const { return static_cast<int>(shards_.size()); }
  int shard_of(const CacheKey& key) const {
    return static_cast<int>((key.hi >> 32) % shards_.size());
  }
  /// Keys of one shard, most recent first (for tests and debugging).
  std::vector<CacheKey> keys_by_recency(int shard) const;

 private:
  struct Node {
    Node* prev = nullptr;
    Node* next = nullptr;
    CacheKey key;
    int64_t expires_at = 0;
    uint32_t size = 0;
    std::unique_ptr<std::byte[]> data;
  };
  using Map = std::unordered_map<CacheKey, Node, CacheKeyHash>;
  struct alignas(64) Shard {
    std::mutex mu;
    Map map;
    Node head;  // sentinel: head.next is the most recent entry, head.prev the least recent
    uint64_t used = 0;
    std::atomic<uint64_t> used_relaxed{0};  // mirror of `used` for lock-free stats readers
    std::atomic<uint64_t> entries_relaxed{0};
    // Per shard rather than one counter for the cache: on a full cache every put evicts, and a
    // shared atomic would bounce its cache line between the threads that put.
    std::atomic<uint64_t> evictions_relaxed{0};
  };

  Shard& shard(const CacheKey& key) { return *shards_[shard_of(key)]; }
  static void unlink(Node* n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
  }
  static void push_front(Shard& s, Node* n) {
    n->next = s.head.next;
    n->prev = &s.head;
    s.head.next->prev = n;
    s.head.next = n;
  }
  void remove_locked(Shard& s, Map::iterator it);
  void publish_locked(Shard& s);

  uint64_t shard_budget_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace vecperf::internal
