// vecperf's HNSW graph (Malkov & Yashunin), owned so that inserts run alongside searches.
//
// Storage. Nodes live in chunks of kChunkNodes fixed-size elements; a chunk never moves, so
// growth adds chunks and publishes a longer chunk directory (the old directory is kept until the
// graph is destroyed: a search may still be reading it, and all of them together take at most
// twice the final directory). An element is [vector | level-0 list | lock, flags, level, upper],
// the vector first and line-aligned; upper-level lists are one separate block per node.
//
// Concurrency. One writer thread at a time calls reserve() and stage(); link() then inserts the
// staged nodes on several threads while any number of searches run. A list is written under its
// node's lock (a spin lock held for one list update, never two at once) and read by searches
// without any lock: its entries are relaxed atomics and its count is stored with release after
// the entries, so a search reads a count and then only entries written for it or later, each a
// node that has that level. The entry point and top level are one atomic word. A search may see
// a list in the middle of an update (some old entries, some new); that changes which nodes it
// visits, never what it may touch. Tombstones are atomic flags.
//
// Publication protocol (IndexBase keeps it): stage() must happen-before any search that can
// reach the staged nodes, i.e. the staged nodes are published under the index's exclusive lock
// before link() makes any link to them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include "distance/distance.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf::internal::hnsw {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = 0xFFFFFFFFu;
/// Node ids are 32 bits and kNoNode is reserved.
inline constexpr uint64_t kMaxNodes = 0xFFFFFFFEu;
/// Levels are -ln(U) * 1/ln(M) with U from a 31-bit generator, so about 31 at most for M = 2.
inline constexpr int kMaxLevel = 64;
/// Nodes per storage chunk (a power of two: a node's chunk is id >> kChunkShift).
inline constexpr int kChunkShift = 10;
inline constexpr size_t kChunkNodes = size_t{1} << kChunkShift;

/// A candidate: distance to the query, node.
using Scored = std::pair<float, NodeId>;

struct GraphParams {
  int64_t dim = 0;
  Metric metric = Metric::kL2;  ///< IP and cosine use 1 - dot (cosine vectors come normalised)
  int M = 16;
  int ef_construction = 200;
  uint64_t seed = 100;
};

class Graph {
 public:
  explicit Graph(const GraphParams& p);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // --- Sizes (any thread) ---
  /// Nodes staged so far, tombstones included.
  size_t size() const { return size_.load(std::memory_order_acquire); }
  /// Nodes the allocated chunks hold.
  size_t capacity() const { return capacity_.load(std::memory_order_acquire); }
  size_t tombstones() const { return tombstones_.load(std::memory_order_relaxed); }
  /// Bytes of chunks, upper lists, directories and pooled visited marks.
  size_t memory_bytes() const;
  int M() const { return m_; }

  // --- Writer (one thread at a time) ---
  /// Allocates chunks for at least `n` nodes. kResourceExhausted leaves the graph as it was.
  Status reserve(size_t n);
  /// Initialises nodes size() .. size()+rows-1 from row(i) (capacity must suffice): vectors,
  /// levels drawn serially from the seeded generator (so a one-thread build is reproducible),
  /// empty lists. kResourceExhausted stages nothing.
  template <typename RowFn>
  Status stage(size_t rows, RowFn row) {
    const size_t first = size();
    std::vector<int> levels(rows);
    for (int& l : levels) l = draw_level();
    for (size_t i = 0; i < rows; ++i)
      if (!init_node(static_cast<NodeId>(first + i), row(i), levels[i])) {
        free_upper(first, i);
        return Status::ResourceExhausted("out of memory adding vectors to the hnsw graph");
      }
    size_.store(first + rows, std::memory_order_release);
    return Status::OK();
  }
  /// Inserts staged nodes first .. first+n-1 on `threads` threads, alongside searches. On
  /// failure (only allocation can fail) the nodes it did not finish are tombstoned, the graph
  /// stays valid, and the error is returned.
  Status link(size_t first, size_t n, int threads);
  /// Marks a node deleted: searches walk through it but never return it.
  void tombstone(NodeId id);
  /// Drops nodes staged from `first` on that were never published (nothing links to them).
  void discard_staged(size_t first) {
    free_upper(first, size() - first);
    size_.store(first, std::memory_order_release);
  }
  bool deleted(NodeId id) const;

  // --- Searches (any number of threads, alongside one link) ---
  /// The up to k nearest live nodes to `query`, nearest first, searching level 0 with `ef`
  /// (>= k). Returns how many it wrote.
  size_t search(const float* query, size_t ef, size_t k, float* dists, int64_t* labels) const;
  const float* vector(NodeId id) const { return reinterpret_cast<const float*>(element(id)); }

  // --- Serialization (no writer running) ---
  int level(NodeId id) const;
  /// The entry point (kNoNode when empty) and the top level (-1 when empty).
  std::pair<NodeId, int> top() const;
  /// Neighbours of `id` on `level` (level <= level(id)).
  std::vector<NodeId> links(NodeId id, int level) const;
  // Loading a validated graph: nodes appended in order with their levels (capacity must
  // suffice; false when memory runs out), then their lists, then the entry point; `seed`
  // reseeds the level generator so that later nodes draw fresh levels.
  bool restore_node(const float* vec, int level);
  void restore_links(NodeId id, int level, const NodeId* ids, size_t n);
  void restore_top(NodeId entry, int max_level, uint64_t seed);

 private:
  struct Visited {
    std::vector<uint16_t> mark;
    uint16_t epoch = 0;
  };

  char* element(NodeId id) const { return element_in(dir_.load(std::memory_order_acquire), id); }
  char* element_in(char* const* dir, NodeId id) const {
    return dir[id >> kChunkShift] + (id & (kChunkNodes - 1)) * element_bytes_;
  }
  uint32_t* list_in(char* const* dir, NodeId id, int level) const {
    char* e = element_in(dir, id);
    if (level == 0) return reinterpret_cast<uint32_t*>(e + links0_offset_);
    char* up = *reinterpret_cast<char**>(e + meta_offset_ + kUpperOffset);
    return reinterpret_cast<uint32_t*>(up + static_cast<size_t>(level - 1) * upper_list_bytes_);
  }
  float distance_at(const float* a, const char* element) const {
    const float d = kernel_(a, reinterpret_cast<const float*>(element), dim_);
    return one_minus_ ? 1.0f - d : d;
  }
  bool deleted_at(const char* element) const {
    // The flags word is only ever changed atomically (tombstone()).
    auto* flags = reinterpret_cast<uint32_t*>(const_cast<char*>(element) + meta_offset_) + 1;
    return (std::atomic_ref<uint32_t>(*flags).load(std::memory_order_relaxed) & 1) != 0;
  }
  // Per-node words after the level-0 list: lock, flags (bit 0: deleted), level; then the
  // pointer to the upper-level lists.
  uint32_t* meta(NodeId id) const {
    return reinterpret_cast<uint32_t*>(element(id) + meta_offset_);
  }
  char*& upper(NodeId id) const {
    return *reinterpret_cast<char**>(element(id) + meta_offset_ + kUpperOffset);
  }
  static constexpr size_t kUpperOffset = 16;
  static constexpr size_t kMetaBytes = 24;
  void set_top(NodeId entry, int level);
  uint32_t* list(NodeId id, int level) const;
  size_t max_links(int level) const { return level == 0 ? max_m0_ : max_m_; }
  float distance(const float* a, NodeId b) const {
    const float d = kernel_(a, vector(b), dim_);
    return one_minus_ ? 1.0f - d : d;
  }
  void prefetch_at(const char* element) const;

  int draw_level();
  bool init_node(NodeId id, const float* vec, int level);
  void free_upper(size_t first, size_t n);
  void lock(NodeId id) const;
  void unlock(NodeId id) const;
  // Holds a node's lock for a scope (exceptions included).
  class NodeLock {
   public:
    NodeLock(const Graph& g, NodeId id) : g_(g), id_(id) { g_.lock(id_); }
    ~NodeLock() { g_.unlock(id_); }
    NodeLock(const NodeLock&) = delete;
    NodeLock& operator=(const NodeLock&) = delete;

   private:
    const Graph& g_;
    NodeId id_;
  };
  // Copies a list's entries (at most max_links(level)); the count read with acquire.
  size_t read_list(NodeId id, int level, NodeId* out) const;
  void write_list(NodeId id, int level, const Scored* items, size_t n);

  std::unique_ptr<Visited> acquire_visited(size_t nodes) const;
  void release_visited(std::unique_ptr<Visited> v) const;

  // Greedy descent through the levels above `stop` from the entry point.
  NodeId descend(const float* query, NodeId cur, int from, int stop, bool locked) const;
  template <bool kLocked, bool kDeletions>
  void search_layer(const float* query, NodeId entry, size_t ef, int layer,
                    std::vector<Scored>& top) const;
  void search_layer_any(const float* query, NodeId entry, size_t ef, int layer, bool locked,
                        std::vector<Scored>& top) const;
  // hnswlib's neighbour-selection heuristic (getNeighborsByHeuristic2): `items` becomes at most
  // m of them, nearest first, each nearer the query than to any kept before it.
  void select(std::vector<Scored>& items, size_t m) const;
  NodeId connect(NodeId c, std::vector<Scored>& found, int level, NodeId cur);
  void insert(NodeId c);

  const size_t dim_;
  const PairFn kernel_;
  const bool one_minus_;
  const int m_;
  const size_t max_m_, max_m0_, ef_construction_;
  const double level_mult_;
  std::default_random_engine level_generator_;

  // Element layout (bytes from the element's start).
  size_t links0_offset_ = 0, meta_offset_ = 0, element_bytes_ = 0, align_ = 64;
  size_t upper_list_bytes_ = 0;  // one upper level: count + max_m_ entries

  std::atomic<char**> dir_{nullptr};
  std::vector<std::unique_ptr<char*[]>> dirs_;  // every directory published (writer only)
  std::vector<char*> chunks_;                   // writer only
  std::atomic<size_t> capacity_{0};
  std::atomic<size_t> size_{0};
  std::atomic<size_t> tombstones_{0};
  std::atomic<size_t> upper_bytes_{0};
  std::atomic<size_t> dir_bytes_{0};
  size_t dir_slots_ = 0;       // entries of the current directory (writer only)
  std::atomic<uint64_t> top_;  // entry (low 32 bits) and top level + 1 (high 32 bits)
  std::mutex global_;          // held while a node raises the top level

  mutable std::mutex visited_mu_;
  mutable std::vector<std::unique_ptr<Visited>> visited_;  // guarded by visited_mu_
  mutable std::atomic<size_t> visited_bytes_{0};
};

}  // namespace vecperf::internal::hnsw
