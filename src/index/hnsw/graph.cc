// vecperf's HNSW graph: storage, insertion and search (see graph.h and docs/design/hnsw.md).
#include "index/hnsw/graph.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <thread>

#include "common/guarded.h"
#include "common/parallel.h"

namespace vecperf::internal::hnsw {
namespace {

// Larger lists than this do not occur: M <= 256 (the options table), so level 0 holds 512.
constexpr size_t kMaxList = 512;
// Directory entries of the first directory; it doubles when full.
constexpr size_t kFirstDirSlots = 16;

constexpr uint64_t pack_top(NodeId entry, int level) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(level + 1)) << 32) | entry;
}

// Max-heap on distance (the farthest on top), as hnswlib's CompareByFirst.
struct Farther {
  bool operator()(const Scored& a, const Scored& b) const { return a.first < b.first; }
};

}  // namespace

Graph::Graph(const GraphParams& p)
    : dim_(static_cast<size_t>(p.dim)),
      kernel_(p.metric == Metric::kL2 ? kernels().l2sqr : kernels().dot),
      one_minus_(p.metric != Metric::kL2),
      m_(p.M),
      max_m_(static_cast<size_t>(p.M)),
      max_m0_(2 * static_cast<size_t>(p.M)),
      ef_construction_(static_cast<size_t>(std::max(p.ef_construction, p.M))),
      level_mult_(1.0 / std::log(static_cast<double>(p.M))),
      level_generator_(static_cast<std::default_random_engine::result_type>(p.seed)),
      top_(pack_top(kNoNode, -1)) {
  // [vector | count, 2M links | lock, flags, level, pad, upper pointer]. The vector goes first
  // so that it starts the element; when padding to whole cache lines costs at most an eighth
  // more memory, elements are line-sized and every vector is line-aligned.
  links0_offset_ = dim_ * sizeof(float);
  meta_offset_ = (links0_offset_ + (1 + max_m0_) * sizeof(uint32_t) + 7) / 8 * 8;
  const size_t unpadded = meta_offset_ + kMetaBytes;
  const size_t lines = (unpadded + 63) / 64 * 64;
  align_ = lines - unpadded <= unpadded / 8 ? 64 : 16;
  element_bytes_ = (unpadded + align_ - 1) / align_ * align_;
  upper_list_bytes_ = (1 + max_m_) * sizeof(uint32_t);
}

Graph::~Graph() {
  const size_t n = size();
  for (size_t i = 0; i < n; ++i) std::free(upper(static_cast<NodeId>(i)));
  for (char* c : chunks_) std::free(c);
}

size_t Graph::memory_bytes() const {
  return capacity() * element_bytes_ + dir_bytes_.load(std::memory_order_relaxed) +
         upper_bytes_.load(std::memory_order_relaxed) +
         visited_bytes_.load(std::memory_order_relaxed) + sizeof(Graph);
}

Status Graph::reserve(size_t n) {
  const size_t chunks = (n + kChunkNodes - 1) / kChunkNodes;
  if (chunks <= chunks_.size()) return Status::OK();
  Status oom = Status::ResourceExhausted("out of memory growing the hnsw graph to " +
                                         std::to_string(chunks * kChunkNodes) +
                                         " vectors; nothing was added");
  // Everything is allocated before anything is published.
  std::vector<char*> fresh;
  std::unique_ptr<char*[]> dir;
  size_t dir_slots = dir_slots_;
  const Status made = guarded_void("growing the hnsw graph", [&] {
    fresh.reserve(chunks - chunks_.size());
    chunks_.reserve(chunks);
    if (chunks > dir_slots_) {
      dir_slots = std::max({chunks, 2 * dir_slots_, kFirstDirSlots});
      dir = std::make_unique<char*[]>(dir_slots);
      dirs_.reserve(dirs_.size() + 1);
    }
    for (size_t c = chunks_.size(); c < chunks; ++c) {
      char* chunk = static_cast<char*>(std::aligned_alloc(align_, kChunkNodes * element_bytes_));
      if (chunk == nullptr) throw std::bad_alloc();
      fresh.push_back(chunk);
    }
  });
  if (!made.ok()) {
    for (char* c : fresh) std::free(c);
    return oom;
  }
  // A directory with room takes the new chunks in place: searches read only the entries of
  // chunks holding nodes they can reach, which these are not yet.
  char** target = dir ? dir.get() : dir_.load(std::memory_order_relaxed);
  if (dir) std::copy(chunks_.begin(), chunks_.end(), target);
  for (char* c : fresh) {
    target[chunks_.size()] = c;
    chunks_.push_back(c);
  }
  if (dir) {
    dir_.store(dir.get(), std::memory_order_release);
    dir_bytes_.fetch_add(dir_slots * sizeof(char*), std::memory_order_relaxed);
    dirs_.push_back(std::move(dir));  // kept: a search may still hold the previous one
    dir_slots_ = dir_slots;
  }
  capacity_.store(chunks_.size() * kChunkNodes, std::memory_order_release);
  return Status::OK();
}

int Graph::draw_level() {
  // hnswlib's level distribution from the same generator, so that equal seeds give equal levels.
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const double r = -std::log(uniform(level_generator_)) * level_mult_;
  return r < kMaxLevel ? static_cast<int>(r) : kMaxLevel;  // U = 0 gives +inf
}

bool Graph::init_node(NodeId id, const float* vec, int level) {
  char* e = element(id);
  std::memset(e, 0, element_bytes_);
  std::memcpy(e, vec, dim_ * sizeof(float));
  meta(id)[2] = static_cast<uint32_t>(level);
  if (level > 0) {
    const size_t bytes = static_cast<size_t>(level) * upper_list_bytes_;
    char* lists = static_cast<char*>(std::calloc(1, bytes));
    if (lists == nullptr) return false;
    upper(id) = lists;
    upper_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  return true;
}

void Graph::free_upper(size_t first, size_t n) {
  for (size_t i = first; i < first + n; ++i) {
    const NodeId id = static_cast<NodeId>(i);
    if (upper(id) == nullptr) continue;
    upper_bytes_.fetch_sub(static_cast<size_t>(level(id)) * upper_list_bytes_,
                           std::memory_order_relaxed);
    std::free(upper(id));
    upper(id) = nullptr;
  }
}

int Graph::level(NodeId id) const { return static_cast<int>(meta(id)[2]); }

std::pair<NodeId, int> Graph::top() const {
  const uint64_t t = top_.load(std::memory_order_acquire);
  return {static_cast<NodeId>(t), static_cast<int>(static_cast<uint32_t>(t >> 32)) - 1};
}

void Graph::set_top(NodeId entry, int level) {
  top_.store(pack_top(entry, level), std::memory_order_release);
}

uint32_t* Graph::list(NodeId id, int level) const {
  return list_in(dir_.load(std::memory_order_acquire), id, level);
}

size_t Graph::read_list(NodeId id, int level, NodeId* out) const {
  uint32_t* l = list(id, level);
  const size_t n = std::min<size_t>(std::atomic_ref<uint32_t>(l[0]).load(std::memory_order_acquire),
                                    max_links(level));
  for (size_t j = 0; j < n; ++j)
    out[j] = std::atomic_ref<uint32_t>(l[1 + j]).load(std::memory_order_relaxed);
  return n;
}

void Graph::write_list(NodeId id, int level, const Scored* items, size_t n) {
  uint32_t* l = list(id, level);
  // Farthest first, the order hnswlib leaves its lists in.
  for (size_t j = 0; j < n; ++j)
    std::atomic_ref<uint32_t>(l[1 + j]).store(items[n - 1 - j].second, std::memory_order_relaxed);
  std::atomic_ref<uint32_t>(l[0]).store(static_cast<uint32_t>(n), std::memory_order_release);
}

void Graph::lock(NodeId id) const {
  std::atomic_ref<uint32_t> word(meta(id)[0]);
  for (int spins = 0; word.exchange(1, std::memory_order_acquire) != 0;) {
    while (word.load(std::memory_order_relaxed) != 0) {
      if (++spins < 64)
        __builtin_ia32_pause();
      else
        std::this_thread::yield();
    }
  }
}

void Graph::unlock(NodeId id) const {
  std::atomic_ref<uint32_t>(meta(id)[0]).store(0, std::memory_order_release);
}

void Graph::tombstone(NodeId id) {
  if ((std::atomic_ref<uint32_t>(meta(id)[1]).fetch_or(1, std::memory_order_relaxed) & 1) == 0)
    tombstones_.fetch_add(1, std::memory_order_relaxed);
}

bool Graph::deleted(NodeId id) const { return deleted_at(element(id)); }

void Graph::prefetch_at(const char* element) const {
  // The first 512 bytes: enough for the hardware prefetcher to stream the rest of a long
  // vector, without flooding the load queue with one request per line.
  constexpr size_t kPrefetchBytes = 512;
  const size_t end = std::min(dim_ * sizeof(float), kPrefetchBytes);
  for (size_t off = 0; off < end; off += 64) __builtin_prefetch(element + off);
}

std::unique_ptr<Graph::Visited> Graph::acquire_visited(size_t nodes) const {
  std::unique_ptr<Visited> v;
  {
    std::lock_guard lock(visited_mu_);
    if (!visited_.empty()) {
      v = std::move(visited_.back());
      visited_.pop_back();
    }
  }
  if (!v) v = std::make_unique<Visited>();
  if (v->mark.size() < nodes) {
    // Sized to the allocated capacity, so that it lasts until the graph grows again.
    const size_t size = std::max(nodes, capacity());
    visited_bytes_.fetch_add((size - v->mark.size()) * sizeof(uint16_t), std::memory_order_relaxed);
    v->mark.assign(size, 0);
    v->epoch = 0;
  }
  if (++v->epoch == 0) {  // the tags wrapped: clear once every 65535 searches
    std::fill(v->mark.begin(), v->mark.end(), 0);
    v->epoch = 1;
  }
  return v;
}

void Graph::release_visited(std::unique_ptr<Visited> v) const {
  std::lock_guard lock(visited_mu_);
  visited_.push_back(std::move(v));
}

NodeId Graph::descend(const float* query, NodeId cur, int from, int stop, bool locked) const {
  float cur_dist = distance(query, cur);
  NodeId nb[kMaxList];
  for (int l = from; l > stop; --l) {
    for (bool changed = true; changed;) {
      changed = false;
      size_t n;
      if (locked) {
        NodeLock hold(*this, cur);
        n = read_list(cur, l, nb);
      } else {
        n = read_list(cur, l, nb);
      }
      for (size_t j = 0; j < n; ++j) {
        const float d = distance(query, nb[j]);
        if (d < cur_dist) {
          cur_dist = d;
          cur = nb[j];
          changed = true;
        }
      }
    }
  }
  return cur;
}

// Best-first search of one layer from `entry` keeping the `ef` nearest live nodes, the loop of
// hnswlib's searchBaseLayerST with two changes that matter once the graph is larger than the
// cache: the unvisited neighbours of a node are gathered first and their vectors prefetched a
// few nodes ahead, so that several memory loads overlap; and during insertion (kLocked) a
// node's lock is held only while its list is copied, not while distances are computed.
// Returns the results in `top`, a max-heap on distance.
template <bool kLocked, bool kDeletions>
void Graph::search_layer(const float* query, NodeId entry, size_t ef, int layer,
                         std::vector<Scored>& top) const {
  constexpr size_t kAhead = 3;
  const Farther farther;
  auto nearer = [](const Scored& a, const Scored& b) { return a.first > b.first; };
  const size_t nodes = size();
  std::unique_ptr<Visited> vl = acquire_visited(nodes);
  uint16_t* visited = vl->mark.data();
  const uint16_t tag = vl->epoch;
  // Read once: every directory ever published stays valid for the nodes it maps (graph.h), and
  // this search reaches no node staged after it began.
  char* const* dir = dir_.load(std::memory_order_acquire);
  auto at = [this, dir](NodeId id) { return element_in(dir, id); };
  // Neither list can hold more than the graph's nodes, however large the caller's (or a
  // file's) ef: reserving ef itself would let ef_search = 2^30 allocate gigabytes.
  const size_t cap = std::min(ef, nodes);
  std::vector<Scored> candidates;
  candidates.reserve(cap + 64);
  top.clear();
  top.reserve(cap + 1);
  // The unvisited neighbours of the node being expanded, with their elements.
  NodeId batch[kMaxList];
  const char* batch_at[kMaxList];

  const float d0 = distance_at(query, at(entry));
  visited[entry] = tag;
  float bound = std::numeric_limits<float>::max();
  if (!kDeletions || !deleted_at(at(entry))) {
    top.emplace_back(d0, entry);
    bound = d0;
  }
  candidates.emplace_back(d0, entry);
  while (!candidates.empty()) {
    const Scored current = candidates.front();
    // Without tombstones every node evaluated while top holds fewer than ef is in top, so the
    // size test only matters with them (hnswlib's condition, in one form).
    if (current.first > bound && top.size() >= ef) break;
    std::pop_heap(candidates.begin(), candidates.end(), nearer);
    candidates.pop_back();

    size_t n = 0;
    {
      // Insertion holds the node's lock while it reads the list (searches read it unlocked;
      // see read_list).
      std::optional<NodeLock> hold;
      if constexpr (kLocked) hold.emplace(*this, current.second);
      uint32_t* l = list_in(dir, current.second, layer);
      const size_t size = std::min<size_t>(
          std::atomic_ref<uint32_t>(l[0]).load(std::memory_order_acquire), max_links(layer));
      for (size_t j = 0; j < size; ++j) {
        const NodeId id = std::atomic_ref<uint32_t>(l[1 + j]).load(std::memory_order_relaxed);
        // Links point at nodes staged before this search began (graph.h); the bound is a guard.
        if (id >= nodes || visited[id] == tag) continue;
        visited[id] = tag;
        batch_at[n] = at(id);
        batch[n++] = id;
      }
    }
    for (size_t i = 0; i < std::min(n, kAhead); ++i) prefetch_at(batch_at[i]);
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) prefetch_at(batch_at[i + kAhead]);
      const NodeId id = batch[i];
      const float d = distance_at(query, batch_at[i]);
      if (top.size() < ef || d < bound) {
        candidates.emplace_back(d, id);
        std::push_heap(candidates.begin(), candidates.end(), nearer);
        __builtin_prefetch(list_in(dir, candidates.front().second, layer));
        if (!kDeletions || !deleted_at(batch_at[i])) {
          top.emplace_back(d, id);
          std::push_heap(top.begin(), top.end(), farther);
          if (top.size() > ef) {
            std::pop_heap(top.begin(), top.end(), farther);
            top.pop_back();
          }
        }
        if (!top.empty()) bound = top.front().first;
      }
    }
  }
  release_visited(std::move(vl));
}

void Graph::search_layer_any(const float* query, NodeId entry, size_t ef, int layer, bool locked,
                             std::vector<Scored>& top) const {
  const bool deletions = tombstones() > 0;
  if (locked)
    deletions ? search_layer<true, true>(query, entry, ef, layer, top)
              : search_layer<true, false>(query, entry, ef, layer, top);
  else
    deletions ? search_layer<false, true>(query, entry, ef, layer, top)
              : search_layer<false, false>(query, entry, ef, layer, top);
}

size_t Graph::search(const float* query, size_t ef, size_t k, float* dists, int64_t* labels) const {
  const auto [entry, max_level] = top();
  if (entry == kNoNode) return 0;  // nothing linked yet
  const NodeId start = descend(query, entry, max_level, 0, false);
  std::vector<Scored> found;
  search_layer_any(query, start, ef, 0, false, found);
  std::sort_heap(found.begin(), found.end(), Farther());
  const size_t n = std::min(found.size(), k);
  for (size_t i = 0; i < n; ++i) {
    dists[i] = found[i].first;
    labels[i] = static_cast<int64_t>(found[i].second);
  }
  return n;
}

void Graph::select(std::vector<Scored>& items, size_t m) const {
  std::sort(items.begin(), items.end());
  if (items.size() < m) return;  // hnswlib keeps all of them without the heuristic
  std::vector<Scored> kept;
  kept.reserve(m);
  for (const Scored& c : items) {
    if (kept.size() >= m) break;
    bool good = true;
    for (const Scored& k : kept) {
      if (distance(vector(k.second), c.second) < c.first) {
        good = false;
        break;
      }
    }
    if (good) kept.push_back(c);
  }
  items.swap(kept);
}

// hnswlib's mutuallyConnectNewElement, with one lock held at a time: the new node's list is
// written under its own lock and each neighbour's under the neighbour's. Another thread may
// already have linked itself to the new node on this level (it can reach it from a higher
// level); those links are merged rather than overwritten. That thread may also have led this
// node's own layer search back to the node: it is dropped from the candidates. Returns the
// nearest neighbour, or `cur` when there is none.
NodeId Graph::connect(NodeId c, std::vector<Scored>& found, int level, NodeId cur) {
  const size_t max_links = this->max_links(level);
  const float* point = vector(c);
  std::vector<Scored> selected;
  selected.reserve(found.size());
  for (const Scored& s : found)
    if (s.second != c) selected.push_back(s);
  select(selected, max_m_);
  if (selected.empty()) return cur;
  const NodeId next_entry = selected.front().second;  // the nearest
  {
    NodeLock hold(*this, c);
    NodeId old[kMaxList];
    const size_t n_old = read_list(c, level, old);
    std::vector<Scored> all(selected);
    for (size_t j = 0; j < n_old; ++j) {
      const NodeId id = old[j];
      const bool known = std::any_of(selected.begin(), selected.end(),
                                     [id](const Scored& s) { return s.second == id; });
      if (!known && id != c) all.emplace_back(distance(point, id), id);
    }
    select(all, max_links);
    write_list(c, level, all.data(), all.size());
  }
  NodeId links[kMaxList];
  std::vector<Scored> candidates;
  for (const Scored& s : selected) {
    const NodeId nb = s.second;
    NodeLock hold(*this, nb);
    const size_t size = read_list(nb, level, links);
    if (std::find(links, links + size, c) != links + size) continue;
    if (size < max_links) {
      uint32_t* l = list(nb, level);
      std::atomic_ref<uint32_t>(l[1 + size]).store(c, std::memory_order_relaxed);
      std::atomic_ref<uint32_t>(l[0]).store(static_cast<uint32_t>(size + 1),
                                            std::memory_order_release);
      continue;
    }
    const float* nb_point = vector(nb);
    candidates.clear();
    candidates.emplace_back(s.first, c);
    for (size_t j = 0; j < size; ++j)
      candidates.emplace_back(distance(nb_point, links[j]), links[j]);
    select(candidates, max_links);
    write_list(nb, level, candidates.data(), candidates.size());
  }
  return next_entry;
}

// hnswlib's addPoint for a staged node. Safe to run concurrently for distinct nodes and
// alongside searches: a node's lock is held only while its list is read or written, never two
// at once; global_ is held while the node raises the top level, and is never taken while a node
// lock is held.
void Graph::insert(NodeId c) {
  const int level = this->level(c);
  std::unique_lock<std::mutex> top_lock(global_);
  const auto [entry, max_level] = top();
  if (level <= max_level) top_lock.unlock();
  const float* point = vector(c);

  if (entry != kNoNode) {
    NodeId cur = entry;
    if (level < max_level) cur = descend(point, entry, max_level, level, true);
    const bool entry_deleted = deleted(entry);
    std::vector<Scored> found;
    for (int l = std::min(level, max_level); l >= 0; --l) {
      search_layer_any(point, cur, ef_construction_, l, true, found);
      // A tombstoned entry point is never a result of the layer search, but it is still a good
      // neighbour to link through (hnswlib does the same).
      if (entry_deleted) {
        found.emplace_back(distance(point, entry), entry);
        std::push_heap(found.begin(), found.end(), Farther());
        if (found.size() > ef_construction_) {
          std::pop_heap(found.begin(), found.end(), Farther());
          found.pop_back();
        }
      }
      cur = connect(c, found, l, cur);
    }
  }
  if (level > max_level) set_top(c, level);
}

Status Graph::link(size_t first, size_t n, int threads) {
  if (n == 0) return Status::OK();
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  threads = resolve_threads(threads, static_cast<int64_t>(n));
  // One shared cursor rather than contiguous chunks: nodes are linked roughly in add order, and
  // a thread that drew high levels does not hold up the others. A failed insertion (only
  // allocation can fail) stops every worker.
  parallel_chunks(threads, threads, [&](int64_t, int64_t, int) {
    for (size_t i = next++; i < n && !failed; i = next++) {
      const NodeId node = static_cast<NodeId>(first + i);
      if (!guarded_void("linking a vector", [&] { insert(node); }).ok()) failed = true;
    }
  });
  if (failed) return Status::ResourceExhausted("out of memory linking vectors into the hnsw graph");
  return Status::OK();
}

std::vector<NodeId> Graph::links(NodeId id, int level) const {
  NodeId out[kMaxList];
  const size_t n = read_list(id, level, out);
  return std::vector<NodeId>(out, out + n);
}

bool Graph::restore_node(const float* vec, int level) {
  const size_t id = size();
  if (!init_node(static_cast<NodeId>(id), vec, level)) return false;
  size_.store(id + 1, std::memory_order_release);
  return true;
}

void Graph::restore_links(NodeId id, int level, const NodeId* ids, size_t n) {
  uint32_t* l = list(id, level);
  for (size_t j = 0; j < n; ++j)
    std::atomic_ref<uint32_t>(l[1 + j]).store(ids[j], std::memory_order_relaxed);
  std::atomic_ref<uint32_t>(l[0]).store(static_cast<uint32_t>(n), std::memory_order_release);
}

void Graph::restore_top(NodeId entry, int max_level, uint64_t seed) {
  set_top(entry, max_level);
  level_generator_.seed(static_cast<std::default_random_engine::result_type>(seed));
}

}  // namespace vecperf::internal::hnsw
