// HNSW backend: hnswlib 0.6.2's graph (HierarchicalNSW<float>) used as a data structure.
//
// Every field of HierarchicalNSW is public, so this file keeps hnswlib's node memory, locks,
// visited-list pool and neighbour-selection heuristic (getNeighborsByHeuristic2)
// but runs its own insertion and search loops, which is what lets it differ from hnswlib where
// the library's API or its speed needs it:
//  - per-call ef: a search descends the upper layers greedily and then runs the layer-0 search
//    with the call's ef; the shared member ef_ is never written, so concurrent searches with
//    different ef do not interfere;
//  - the layer search (search_layer) prefetches neighbour vectors ahead and, during
//    insertion, holds a node's lock only while copying its links; level 0 stores the vector
//    first, cache-line aligned;
//  - hnswlib's internal id of a vector is its IdMap slot (and its label), so hnswlib's
//    label_lookup_ hash map, its mutex and its 65536 update locks are never used;
//  - node levels are drawn serially from the seeded generator before the parallel insertion
//    (hnswlib draws them inside concurrent addPoint calls, racing on the generator);
//  - distances come from vecperf's run-time dispatched kernels through KernelSpace;
//  - removal is a tombstone (markDeletedInternal); when tombstones exceed kCompactFraction of
//    the slots the graph is rebuilt from the live vectors and the slots renumbered.
// See docs/design/hnsw.md, which also gives the layout of the saved graph.
//
// hnswlib.h defines non-inline functions at global scope: this must stay the only file of the
// library that includes it.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <queue>
#include <sstream>
#include <stdexcept>

#include "common/guarded.h"
#include "common/parallel.h"
#include "distance/distance.h"
#include "index/index_base.h"
#include "index/option_table.h"

namespace vecperf::internal {
namespace {

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::linklistsizeint;
using hnswlib::tableint;
using Queue = std::priority_queue<std::pair<float, tableint>,
                                  std::vector<std::pair<float, tableint>>, Graph::CompareByFirst>;

// Capacity of a new graph; it doubles as vectors arrive.
constexpr size_t kInitialCapacity = 1024;
// Tombstones beyond this fraction of the slots trigger a rebuild: a tombstone still costs a
// distance computation whenever the search walks through it, and its memory stays held.
constexpr double kCompactFraction = 0.2;
// Levels are -ln(U) / ln(M) with U from a 31-bit generator, so about 31 at most for M = 2; a
// file with a higher level is corrupt.
constexpr int kMaxLevel = 64;
// tableint is 32 bits and hnswlib uses its all-ones value for "no entry point".
constexpr uint64_t kMaxNodes = std::numeric_limits<tableint>::max() - 1;
constexpr tableint kNoNode = std::numeric_limits<tableint>::max();

// The dist_func_param handed to hnswlib: starts with the dimension (hnswlib reads it there) and
// carries the kernel pointers resolved once, so a distance is one indirect call to the kernel.
struct KernelParam {
  size_t dim;
  PairFn l2sqr;
  PairFn dot;
};

float l2_distance(const void* a, const void* b, const void* param) {
  const auto* p = static_cast<const KernelParam*>(param);
  return p->l2sqr(static_cast<const float*>(a), static_cast<const float*>(b), p->dim);
}

// 1 - dot: hnswlib's convention for inner product and vecperf's for IP and cosine.
float ip_distance(const void* a, const void* b, const void* param) {
  const auto* p = static_cast<const KernelParam*>(param);
  return 1.0f - p->dot(static_cast<const float*>(a), static_cast<const float*>(b), p->dim);
}

// hnswlib's view of the metric: vecperf's kernels behind hnswlib's distance-function interface.
class KernelSpace final : public hnswlib::SpaceInterface<float> {
 public:
  KernelSpace(int64_t dim, Metric metric)
      : param_{static_cast<size_t>(dim), kernels().l2sqr, kernels().dot},
        fn_(metric == Metric::kL2 ? &l2_distance : &ip_distance) {}

  size_t get_data_size() override { return param_.dim * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return fn_; }
  void* get_dist_func_param() override { return &param_; }

 private:
  KernelParam param_;
  hnswlib::DISTFUNC<float> fn_;
};

// Bytes hnswlib allocates for the upper-layer lists of a node of `level` (see addPoint).
size_t upper_bytes(const Graph& g, int level) {
  return level > 0 ? g.size_links_per_element_ * static_cast<size_t>(level) + 1 : 0;
}

class HnswIndex final : public IndexBase {
 public:
  HnswIndex(int64_t dim, Metric metric, const HnswOptions& options, IdMap ids = {})
      : IndexBase(IndexKind::kHnsw, dim, metric, std::move(ids)),
        options_(options),
        space_(dim, metric),
        kernel_(metric == Metric::kL2 ? kernels().l2sqr : kernels().dot),
        one_minus_(metric != Metric::kL2),
        vector_dim_(static_cast<size_t>(dim)) {}

  /// Creates the empty graph with room for `capacity` nodes. Errors: kResourceExhausted.
  Status init(size_t capacity) {
    auto g = new_graph(capacity);
    if (!g.ok()) return g.status();
    graph_ = std::move(*g);
    return Status::OK();
  }

  /// Fills the empty graph from a validated payload (see load_hnsw).
  void fill(const char* vectors, const std::vector<int32_t>& levels,
            const std::vector<uint8_t>& deleted, const std::vector<uint32_t>& counts,
            const char* links, int32_t max_level, uint32_t entry_point) {
    Graph& g = *graph_;
    const size_t n = levels.size();
    size_t c = 0;
    const char* next_link = links;
    for (size_t i = 0; i < n; ++i) {
      const tableint node = static_cast<tableint>(i);
      std::memset(element(g, node), 0, g.size_data_per_element_);
      g.setExternalLabel(node, node);
      std::memcpy(g.getDataByInternalId(node), vectors + i * g.data_size_, g.data_size_);
      g.element_levels_[i] = levels[i];
      g.linkLists_[i] = nullptr;
      if (levels[i] > 0) {
        // Allocated before cur_element_count covers the node, so a failure leaks nothing the
        // graph's destructor would not free: the destructor frees nodes below the count only.
        g.linkLists_[i] = static_cast<char*>(std::calloc(1, upper_bytes(g, levels[i])));
        if (g.linkLists_[i] == nullptr) throw std::bad_alloc();
        upper_link_bytes_ += upper_bytes(g, levels[i]);
      }
      g.cur_element_count = i + 1;
      for (int l = 0; l <= levels[i]; ++l) {
        linklistsizeint* ll = g.get_linklist_at_level(node, l);
        const uint32_t cnt = counts[c++];
        g.setListCount(ll, static_cast<unsigned short>(cnt));
        std::memcpy(ll + 1, next_link, cnt * sizeof(tableint));
        next_link += cnt * sizeof(tableint);
      }
      if (deleted[i]) g.markDeletedInternal(node);
    }
    g.maxlevel_ = max_level;
    g.enterpoint_node_ = entry_point;
    // Nodes added after a load draw fresh levels rather than repeating the first ones.
    g.level_generator_.seed(static_cast<unsigned>(options_.seed + n));
  }

 protected:
  Status add_locked(int64_t first_slot, MatrixView v, int num_threads) override {
    const uint64_t need = static_cast<uint64_t>(first_slot + v.rows);
    if (need > kMaxNodes)
      return Status::ResourceExhausted("an hnsw index holds at most " + std::to_string(kMaxNodes) +
                                       " vectors (removed ones included until compaction)");
    VECPERF_RETURN_IF_ERROR(reserve(need));
    return insert_nodes(
        *graph_, static_cast<size_t>(first_slot), static_cast<size_t>(v.rows),
        [&v](size_t i) { return v.row(static_cast<int64_t>(i)); }, num_threads);
  }

  Status search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                       float* dists, int64_t* labels) const override {
    const size_t ef = static_cast<size_t>(
        std::max<int64_t>(o.ef_search > 0 ? o.ef_search : options_.ef_search, k_eff));
    const int threads = resolve_threads(o.num_threads, q.rows);
    // A worker thread must not let bad_alloc escape (std::terminate); report it instead.
    return guarded_chunks(q.rows, threads, "searching the hnsw graph (try fewer threads)",
                          [&](int64_t begin, int64_t end, int) {
                            for (int64_t i = begin; i < end; ++i)
                              search_one(q.row(i), ef, k_eff, dists + i * stride,
                                         labels + i * stride);
                          });
  }

  Status remove_locked(std::span<const int64_t> slots) override {
    Graph& g = *graph_;
    for (int64_t s : slots) g.markDeletedInternal(static_cast<tableint>(s));
    if (static_cast<double>(g.num_deleted_) > kCompactFraction * static_cast<double>(ids().slots()))
      compact();
    return Status::OK();
  }

  void vector_locked(int64_t slot, float* out) const override {
    std::memcpy(out, graph_->getDataByInternalId(static_cast<tableint>(slot)), graph_->data_size_);
  }

  void save_locked(Writer& w) const override {
    const Graph& g = *graph_;
    const size_t n = g.cur_element_count;
    write_options(w, options_);
    w.pod<uint64_t>(n);
    w.pod<int32_t>(n == 0 ? -1 : g.maxlevel_);
    w.pod<uint32_t>(n == 0 ? kNoNode : g.enterpoint_node_);
    for (size_t i = 0; i < n; ++i)
      w.bytes(g.getDataByInternalId(static_cast<tableint>(i)), g.data_size_);
    std::vector<int32_t> levels(g.element_levels_.begin(), g.element_levels_.begin() + n);
    w.vec(levels);
    std::vector<uint8_t> deleted(n);
    std::vector<uint32_t> counts;
    counts.reserve(n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      const tableint node = static_cast<tableint>(i);
      deleted[i] = g.isMarkedDeleted(node) ? 1 : 0;
      for (int l = 0; l <= levels[i]; ++l) {
        counts.push_back(g.getListCount(g.get_linklist_at_level(node, l)));
        total += counts.back();
      }
    }
    w.vec(deleted);
    w.vec(counts);
    w.pod<uint64_t>(total);
    for (size_t i = 0; i < n; ++i) {
      const tableint node = static_cast<tableint>(i);
      for (int l = 0; l <= levels[i]; ++l) {
        linklistsizeint* ll = g.get_linklist_at_level(node, l);
        w.bytes(ll + 1, g.getListCount(ll) * sizeof(tableint));
      }
    }
  }

  size_t memory_locked() const override {
    const Graph& g = *graph_;
    // Level 0 (links, vector and label per node), the upper-layer lists and their pointer
    // table, the per-node levels and locks, and the visited lists: hnswlib's pool keeps one per
    // thread that searched concurrently, so one per hardware thread is the usual figure.
    const size_t visited_lists = static_cast<size_t>(resolve_threads(0, INT_MAX));
    return g.max_elements_ * g.size_data_per_element_ + g.max_elements_ * sizeof(char*) +
           upper_link_bytes_ + g.element_levels_.capacity() * sizeof(int) +
           g.link_list_locks_.size() * sizeof(std::mutex) +
           visited_lists * g.max_elements_ * sizeof(hnswlib::vl_type) + sizeof(Graph);
  }

  // The default lives in options_, so save() and load() carry it like the other options.
  SearchOptions defaults_locked() const override {
    SearchOptions o;
    o.ef_search = options_.ef_search;
    return o;
  }

  Status set_defaults_locked(const SearchOptions& o) override {
    if (o.ef_search > 0) options_.ef_search = o.ef_search;
    return Status::OK();
  }

  IndexCapabilities capabilities_locked() const override {
    return IndexCapabilities{IndexKind::kHnsw, SearchKnob::kEfSearch, 0};
  }

  std::string describe_locked() const override {
    std::ostringstream s;
    s << "hnsw(dim=" << dim() << ", metric=" << metric_name(metric()) << ", "
      << describe_options(options_) << ", size=" << ids().live()
      << ", tombstones=" << graph_->num_deleted_ << ", capacity=" << graph_->max_elements_
      << ", kernels=" << kernels().name << ")";
    return s.str();
  }

 private:
  Result<std::unique_ptr<Graph>> new_graph(size_t capacity) {
    capacity = std::max(capacity, size_t{1});
    // hnswlib throws std::runtime_error for a failed allocation in its constructor.
    auto made = guarded("creating an hnsw graph", [&]() -> Result<std::unique_ptr<Graph>> {
      auto g = std::make_unique<Graph>(&space_, capacity, static_cast<size_t>(options_.M),
                                       static_cast<size_t>(options_.ef_construction),
                                       static_cast<size_t>(options_.seed));
      // Only hnswlib's own addPoint/updatePoint take these 65536 locks (2.5 MiB); this file
      // never calls them.
      std::vector<std::mutex>().swap(g->link_list_update_locks_);
      g->ef_ = static_cast<size_t>(options_.ef_search);
      // Level-0 layout: hnswlib puts the links first (4 + 8M bytes), so with M = 16 every
      // vector starts 132 bytes into its element and every 64-byte load of it straddles two
      // cache lines. The vector goes first instead and, when that costs at most an eighth more
      // memory, elements are padded to whole cache lines so that every vector is line-aligned.
      // hnswlib's routines read these offsets from the members; only its addPoint and
      // resizeIndex assume the old layout, and neither is called here.
      const size_t unpadded = g->data_size_ + g->size_links_level0_ + sizeof(hnswlib::labeltype);
      const size_t lines = (unpadded + 63) / 64 * 64;
      align_ = lines - unpadded <= unpadded / 8 ? 64 : 16;
      g->offsetData_ = 0;
      g->offsetLevel0_ = g->data_size_;
      g->label_offset_ = g->data_size_ + g->size_links_level0_;
      g->size_data_per_element_ = (unpadded + align_ - 1) / align_ * align_;
      std::free(g->data_level0_memory_);
      g->data_level0_memory_ = nullptr;
      g->data_level0_memory_ =
          static_cast<char*>(std::aligned_alloc(align_, capacity * g->size_data_per_element_));
      if (g->data_level0_memory_ == nullptr) throw std::bad_alloc();
      return g;
    });
    if (made.ok()) return made;
    return Status::ResourceExhausted("out of memory creating an hnsw graph for " +
                                     std::to_string(capacity) + " vectors");
  }

  static char* element(const Graph& g, tableint id) {
    return g.data_level0_memory_ + static_cast<size_t>(id) * g.size_data_per_element_;
  }

  // Grows the capacity to at least `need` nodes, doubling so that n adds cost O(n) copying.
  // hnswlib's resizeIndex would realloc level 0 and lose its alignment, so this does the same
  // work with aligned memory; everything is allocated before anything is changed.
  Status reserve(uint64_t need) {
    Graph& g = *graph_;
    if (need <= g.max_elements_) return Status::OK();
    const size_t cap = static_cast<size_t>(std::min<uint64_t>(
        kMaxNodes,
        std::max<uint64_t>(need, std::max<uint64_t>(2 * g.max_elements_, kInitialCapacity))));
    Status oom = Status::ResourceExhausted("out of memory growing the hnsw graph to " +
                                           std::to_string(cap) + " vectors; nothing was added");
    char* level0 = static_cast<char*>(std::aligned_alloc(align_, cap * g.size_data_per_element_));
    if (level0 == nullptr) return oom;
    const Status grown = guarded_void("growing the hnsw graph", [&] {
      auto pool = std::make_unique<hnswlib::VisitedListPool>(1, static_cast<int>(cap));
      std::vector<std::mutex> locks(cap);
      g.element_levels_.resize(cap);
      char** lists = static_cast<char**>(std::realloc(g.linkLists_, cap * sizeof(char*)));
      if (lists == nullptr) throw std::bad_alloc();
      g.linkLists_ = lists;
      std::memcpy(level0, g.data_level0_memory_, g.cur_element_count * g.size_data_per_element_);
      std::free(g.data_level0_memory_);
      g.data_level0_memory_ = level0;
      delete g.visited_list_pool_;
      g.visited_list_pool_ = pool.release();
      g.link_list_locks_.swap(locks);
      g.max_elements_ = cap;
    });
    if (!grown.ok()) {
      std::free(level0);  // every step above that can throw comes before it is adopted
      return oom;
    }
    return Status::OK();
  }

  // Distance from `a` to node `b`: the kernel called directly, without hnswlib's adaptor.
  float distance(const Graph& g, const void* a, tableint b) const {
    const float d = kernel_(static_cast<const float*>(a),
                            reinterpret_cast<const float*>(g.getDataByInternalId(b)), vector_dim_);
    return one_minus_ ? 1.0f - d : d;
  }

  // The first kPrefetchBytes of a vector: enough for the hardware prefetcher to stream the rest
  // of a long one, without flooding the load queue with one request per line.
  void prefetch_vector(const Graph& g, tableint id) const {
    constexpr size_t kPrefetchBytes = 512;
    const char* p = g.getDataByInternalId(id);
    const size_t end = std::min(g.data_size_, kPrefetchBytes);
    for (size_t off = 0; off < end; off += 64) __builtin_prefetch(p + off);
  }

  // Best-first search of one layer from `entry` keeping the `ef` nearest non-deleted nodes:
  // hnswlib's searchBaseLayer / searchBaseLayerST loop, with two changes that matter when the
  // graph does not fit in cache. The unvisited neighbours of a node are gathered first and their
  // vectors prefetched a few nodes ahead (hnswlib prefetches the first cache line of the
  // next one only), so several memory loads overlap; and during insertion (kLocked) a node's
  // lock is held only while its list is copied, not while distances are computed.
  // Returns the results in `top`, a max-heap on distance (Graph::CompareByFirst).
  template <bool kLocked, bool kDeletions>
  void search_layer(const Graph& g, const void* query, tableint entry, size_t ef, int layer,
                    std::vector<std::pair<float, tableint>>& top) const {
    constexpr size_t kAhead = 3;
    using Item = std::pair<float, tableint>;
    const Graph::CompareByFirst farther;
    auto nearer = [](const Item& a, const Item& b) { return a.first > b.first; };
    hnswlib::VisitedList* vl = g.visited_list_pool_->getFreeVisitedList();
    hnswlib::vl_type* visited = vl->mass;
    const hnswlib::vl_type tag = vl->curV;
    // Neither list can hold more than the graph's nodes, however large the caller's (or a
    // file's) ef: reserving ef itself would let ef_search = 2^30 allocate gigabytes.
    const size_t cap = std::min(ef, g.max_elements_);
    std::vector<Item> candidates;
    candidates.reserve(cap + 64);
    top.clear();
    top.reserve(cap + 1);
    tableint batch[2 * 256 + 1];

    const float d0 = distance(g, query, entry);
    visited[entry] = tag;
    float bound = std::numeric_limits<float>::max();
    if (!kDeletions || !g.isMarkedDeleted(entry)) {
      top.emplace_back(d0, entry);
      bound = d0;
    }
    candidates.emplace_back(d0, entry);
    while (!candidates.empty()) {
      const Item current = candidates.front();
      // Without tombstones every node evaluated while top holds fewer than ef is in top, so
      // the size test only matters with them (hnswlib's condition, in one form).
      if (current.first > bound && top.size() >= ef) break;
      std::pop_heap(candidates.begin(), candidates.end(), nearer);
      candidates.pop_back();

      size_t n = 0;
      {
        std::unique_lock<std::mutex> lock;
        // Insertion only: the graph is const to searches, and hnswlib's lock array is not mutable.
        if constexpr (kLocked)
          lock = std::unique_lock<std::mutex>(
              const_cast<std::mutex&>(g.link_list_locks_[current.second]));
        linklistsizeint* ll = g.get_linklist_at_level(current.second, layer);
        const int size = g.getListCount(ll);
        const tableint* nb = reinterpret_cast<const tableint*>(ll + 1);
        for (int j = 0; j < size; ++j) {
          const tableint id = nb[j];
          if (visited[id] == tag) continue;
          visited[id] = tag;
          batch[n++] = id;
        }
      }
      for (size_t i = 0; i < std::min(n, kAhead); ++i) prefetch_vector(g, batch[i]);
      for (size_t i = 0; i < n; ++i) {
        if (i + kAhead < n) prefetch_vector(g, batch[i + kAhead]);
        const tableint id = batch[i];
        const float d = distance(g, query, id);
        if (top.size() < ef || d < bound) {
          candidates.emplace_back(d, id);
          std::push_heap(candidates.begin(), candidates.end(), nearer);
          __builtin_prefetch(g.get_linklist_at_level(candidates.front().second, layer));
          if (!kDeletions || !g.isMarkedDeleted(id)) {
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
    g.visited_list_pool_->releaseVisitedList(vl);
  }

  // Inserts rows(0 .. n-1) as nodes first .. first+n-1 of `g`, whose capacity suffices.
  // All-or-nothing: on failure the graph is rolled back to `first` nodes.
  template <typename RowFn>
  Status insert_nodes(Graph& g, size_t first, size_t n, RowFn rows, int num_threads) {
    if (n == 0) return Status::OK();
    // Serial part: levels from the seeded generator (a single-threaded build is reproducible)
    // and every node initialised; all allocation of node memory happens here, before any link.
    std::vector<int> levels(n);
    // Clamped: the generator can yield U = 0, and -ln(0) converts to INT_MIN on x86.
    for (size_t i = 0; i < n; ++i) levels[i] = std::clamp(g.getRandomLevel(g.mult_), 0, kMaxLevel);
    for (size_t i = 0; i < n; ++i) {
      const tableint c = static_cast<tableint>(first + i);
      std::memset(element(g, c), 0, g.size_data_per_element_);
      g.setExternalLabel(c, c);
      std::memcpy(g.getDataByInternalId(c), rows(i), g.data_size_);
      g.element_levels_[c] = 0;
      g.linkLists_[c] = nullptr;
      if (levels[i] > 0) {
        g.linkLists_[c] = static_cast<char*>(std::calloc(1, upper_bytes(g, levels[i])));
        if (g.linkLists_[c] == nullptr) {
          rollback(g, first, i, g.enterpoint_node_, g.maxlevel_);
          return Status::ResourceExhausted("out of memory adding vectors to the hnsw graph");
        }
        upper_link_bytes_ += upper_bytes(g, levels[i]);
      }
      g.element_levels_[c] = levels[i];
    }
    const tableint old_entry = g.enterpoint_node_;
    const int old_max_level = g.maxlevel_;
    g.cur_element_count = first + n;

    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    const int threads = resolve_threads(num_threads, static_cast<int64_t>(n));
    // One shared cursor rather than contiguous chunks: nodes are linked roughly in add order,
    // and a thread that drew high levels does not hold up the others.
    // A failed insertion (only allocation can fail) stops every worker and undoes the add.
    parallel_chunks(threads, threads, [&](int64_t, int64_t, int) {
      for (size_t i = next++; i < n && !failed; i = next++) {
        const tableint node = static_cast<tableint>(first + i);
        if (!guarded_void("linking a vector", [&] { insert(g, node, levels[i]); }).ok())
          failed = true;
      }
    });
    if (failed) {
      rollback(g, first, n, old_entry, old_max_level);
      return Status::ResourceExhausted(
          "out of memory linking vectors into the hnsw graph; "
          "nothing was added");
    }
    return Status::OK();
  }

  // Sets the links of `list` (a list of node `owner` on `level`) to the best of `items` by
  // hnswlib's neighbour-selection heuristic, at most `max_links` of them.
  void set_links(Graph& g, linklistsizeint* list, Queue& items, size_t max_links) {
    g.getNeighborsByHeuristic2(items, max_links);
    tableint* data = reinterpret_cast<tableint*>(list + 1);
    unsigned short n = 0;
    for (; !items.empty(); items.pop()) data[n++] = items.top().second;
    g.setListCount(list, n);
  }

  // hnswlib's mutuallyConnectNewElement, with one lock held at a time: the new node's list is
  // written under its own lock and each neighbour's under the neighbour's. hnswlib instead holds
  // the new node's lock for its whole insertion and takes neighbours' locks inside it, which
  // cannot deadlock (nodes are linked top level first) but is a lock-order inversion to
  // ThreadSanitizer. Another thread may already have linked itself to the new node on this
  // level (it can reach it from a higher level); those links are merged rather than overwritten.
  // That thread may also have led this node's own layer search back to the node: it is
  // dropped from the candidates. Returns the nearest neighbour, or `cur` when there is none.
  tableint connect(Graph& g, tableint c, Queue& top, int level, tableint cur) {
    const size_t max_links = level > 0 ? g.maxM_ : g.maxM0_;
    const void* point = g.getDataByInternalId(c);
    Queue others;
    for (; !top.empty(); top.pop())
      if (top.top().second != c) others.push(top.top());
    g.getNeighborsByHeuristic2(others, g.M_);
    std::vector<tableint> selected;
    for (; !others.empty(); others.pop()) selected.push_back(others.top().second);
    if (selected.empty()) return cur;
    const tableint next_entry = selected.back();  // the nearest
    {
      std::lock_guard<std::mutex> lock(g.link_list_locks_[c]);
      linklistsizeint* ll = g.get_linklist_at_level(c, level);
      const tableint* old = reinterpret_cast<const tableint*>(ll + 1);
      Queue all;
      std::vector<tableint> ids(selected);
      ids.insert(ids.end(), old, old + g.getListCount(ll));
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      for (tableint id : ids)
        if (id != c) all.emplace(distance(g, point, id), id);
      set_links(g, ll, all, max_links);
    }
    for (tableint nb : selected) {
      std::lock_guard<std::mutex> lock(g.link_list_locks_[nb]);
      linklistsizeint* ll = g.get_linklist_at_level(nb, level);
      tableint* data = reinterpret_cast<tableint*>(ll + 1);
      const size_t size = g.getListCount(ll);
      if (std::find(data, data + size, c) != data + size) continue;
      if (size < max_links) {
        data[size] = c;
        g.setListCount(ll, static_cast<unsigned short>(size + 1));
        continue;
      }
      const void* nb_point = g.getDataByInternalId(nb);
      Queue candidates;
      candidates.emplace(distance(g, nb_point, c), c);
      for (size_t j = 0; j < size; ++j) candidates.emplace(distance(g, nb_point, data[j]), data[j]);
      set_links(g, ll, candidates, max_links);
    }
    return next_entry;
  }

  // hnswlib's addPoint for a node whose memory insert_nodes has initialised. Safe to run
  // concurrently for distinct nodes: a node's lock is held only while its list is read or
  // written, never two at once; `global` is held while the node raises the top level, and is
  // never taken while a node lock is held.
  void insert(Graph& g, tableint c, int level) {
    std::unique_lock<std::mutex> lock_top(g.global);
    const int max_level = g.maxlevel_;
    const tableint entry = g.enterpoint_node_;
    if (level <= max_level) lock_top.unlock();
    const void* point = g.getDataByInternalId(c);

    if (max_level >= 0) {
      tableint cur = entry;
      if (level < max_level) {
        float cur_dist = distance(g, point, cur);
        for (int l = max_level; l > level; --l) {
          for (bool changed = true; changed;) {
            changed = false;
            std::unique_lock<std::mutex> lock(g.link_list_locks_[cur]);
            linklistsizeint* ll = g.get_linklist(cur, l);
            const int size = g.getListCount(ll);
            const tableint* nb = reinterpret_cast<const tableint*>(ll + 1);
            for (int j = 0; j < size; ++j) {
              const float d = distance(g, point, nb[j]);
              if (d < cur_dist) {
                cur_dist = d;
                cur = nb[j];
                changed = true;
              }
            }
          }
        }
      }
      const bool entry_deleted = g.isMarkedDeleted(entry);
      for (int l = std::min(level, max_level); l >= 0; --l) {
        std::vector<std::pair<float, tableint>> found;
        if (g.num_deleted_ > 0)
          search_layer<true, true>(g, point, cur, g.ef_construction_, l, found);
        else
          search_layer<true, false>(g, point, cur, g.ef_construction_, l, found);
        Queue top(Graph::CompareByFirst(), std::move(found));
        // A tombstoned entry point is never a result of the layer search, but it is still a
        // good neighbour to link through (hnswlib does the same).
        if (entry_deleted) {
          top.emplace(distance(g, point, entry), entry);
          if (top.size() > g.ef_construction_) top.pop();
        }
        cur = connect(g, c, top, l, cur);
      }
    } else {
      g.enterpoint_node_ = c;
      g.maxlevel_ = level;
    }
    if (level > max_level) {
      g.enterpoint_node_ = c;
      g.maxlevel_ = level;
    }
  }

  // Removes nodes first .. first+n-1 (initialised by insert_nodes, possibly partly linked) and
  // every link to them; links they displaced from older nodes are not restored, which leaves
  // those nodes with fewer neighbours but a valid graph.
  void rollback(Graph& g, size_t first, size_t n, tableint entry, int max_level) {
    for (size_t i = 0; i < first; ++i) {
      const tableint node = static_cast<tableint>(i);
      for (int l = 0; l <= g.element_levels_[i]; ++l) {
        linklistsizeint* ll = g.get_linklist_at_level(node, l);
        tableint* nb = reinterpret_cast<tableint*>(ll + 1);
        const int size = g.getListCount(ll);
        int kept = 0;
        for (int j = 0; j < size; ++j)
          if (nb[j] < first) nb[kept++] = nb[j];
        g.setListCount(ll, static_cast<unsigned short>(kept));
      }
    }
    for (size_t i = first; i < first + n; ++i) {
      upper_link_bytes_ -= upper_bytes(g, g.element_levels_[i]);
      std::free(g.linkLists_[i]);
      g.linkLists_[i] = nullptr;
      g.element_levels_[i] = 0;
    }
    g.cur_element_count = first;
    g.enterpoint_node_ = entry;
    g.maxlevel_ = max_level;
  }

  // Rebuilds the graph from the live vectors, renumbering slots as IdMap::compact() does. Best
  // effort: when memory runs out the tombstoned graph stays, which is still correct.
  void compact() {
    IdMap& map = ids();
    // src[s]: old slot whose vector new slot s holds; the id map changes only once the rebuild
    // has succeeded.
    const std::vector<int64_t> src = map.compaction_sources();
    const size_t live = src.size();
    const Graph& old = *graph_;
    const size_t old_upper = upper_link_bytes_;
    upper_link_bytes_ = 0;
    auto fresh = new_graph(std::max(live, kInitialCapacity));
    Status s =
        fresh.ok()
            ? insert_nodes(
                  **fresh, 0, live,
                  [&](size_t i) { return old.getDataByInternalId(static_cast<tableint>(src[i])); },
                  0)
            : fresh.status();
    if (!s.ok()) {
      upper_link_bytes_ = old_upper;
      return;
    }
    map.compact();
    graph_ = std::move(*fresh);
  }

  void search_one(const float* query, size_t ef, int64_t k, float* dists, int64_t* labels) const {
    const Graph& g = *graph_;
    tableint cur = g.enterpoint_node_;
    float cur_dist = distance(g, query, cur);
    for (int l = g.maxlevel_; l > 0; --l) {
      for (bool changed = true; changed;) {
        changed = false;
        linklistsizeint* ll = g.get_linklist(cur, l);
        const int size = g.getListCount(ll);
        const tableint* nb = reinterpret_cast<const tableint*>(ll + 1);
        for (int j = 0; j < size; ++j) {
          const float d = distance(g, query, nb[j]);
          if (d < cur_dist) {
            cur_dist = d;
            cur = nb[j];
            changed = true;
          }
        }
      }
    }
    std::vector<std::pair<float, tableint>> top;
    if (g.num_deleted_ > 0)
      search_layer<false, true>(g, query, cur, ef, 0, top);
    else
      search_layer<false, false>(g, query, cur, ef, 0, top);
    std::sort_heap(top.begin(), top.end(), Graph::CompareByFirst());
    const size_t n = std::min(top.size(), static_cast<size_t>(k));
    for (size_t i = 0; i < n; ++i) {
      dists[i] = top[i].first;
      labels[i] = static_cast<int64_t>(top[i].second);
    }
  }

  HnswOptions options_;  // ef_search changes with set_default_search_options (mu_ exclusive)
  KernelSpace space_;    // referenced by graph_: declared first, destroyed last
  const PairFn kernel_;  // l2sqr, or dot for IP and cosine (distance 1 - dot)
  const bool one_minus_;
  const size_t vector_dim_;
  std::unique_ptr<Graph> graph_;
  size_t align_ = 64;            // alignment of level-0 memory and of its element size
  size_t upper_link_bytes_ = 0;  // bytes malloc'ed for upper-layer lists
};

bool fail(Reader& r, const std::string& problem) { return r.corrupt("hnsw graph: " + problem); }

}  // namespace

Result<std::unique_ptr<IndexImpl>> new_hnsw(int64_t dim, Metric metric, const HnswOptions& options,
                                            int64_t capacity) {
  if (capacity < 0 || static_cast<uint64_t>(capacity) > kMaxNodes)
    return Status::ResourceExhausted("an hnsw index holds at most " + std::to_string(kMaxNodes) +
                                     " vectors");
  auto index = std::make_unique<HnswIndex>(dim, metric, options);
  VECPERF_RETURN_IF_ERROR(index->init(std::max(kInitialCapacity, static_cast<size_t>(capacity))));
  return std::unique_ptr<IndexImpl>(std::move(index));
}

Result<std::unique_ptr<IndexImpl>> load_hnsw(Reader& r, int64_t dim, Metric metric, IdMap ids) {
  HnswOptions options;
  uint32_t entry = 0;
  uint64_t n = 0;
  int32_t max_level = 0;
  read_options(r, &options, "hnsw");
  r.pod(&n, "hnsw node count");
  r.pod(&max_level, "hnsw max level");
  r.pod(&entry, "hnsw entry point");
  if (!r.status().ok()) return r.status();
  IndexOptions check;
  check.kind = IndexKind::kHnsw;
  check.dim = dim;
  check.hnsw = options;
  if (Status s = check.validate(); !s.ok()) {
    fail(r, "parameters out of range: " + std::string(s.message()));
    return r.status();
  }
  const uint32_t m = static_cast<uint32_t>(options.M);
  if (n != static_cast<uint64_t>(ids.slots()) || n > kMaxNodes) {
    fail(r, std::to_string(n) + " nodes for " + std::to_string(ids.slots()) + " id map slots");
    return r.status();
  }
  // The views and vectors below are checked against the bytes left before anything is sized
  // from the file, so a corrupt count cannot cause a large allocation.
  const size_t vector_bytes = static_cast<size_t>(dim) * sizeof(float);
  const char* vectors = r.view(n * vector_bytes, "hnsw vectors");
  std::vector<int32_t> levels;
  std::vector<uint8_t> deleted;
  std::vector<uint32_t> counts;
  r.vec(&levels, "hnsw levels");
  r.vec(&deleted, "hnsw tombstones");
  r.vec(&counts, "hnsw link counts");
  uint64_t total = 0;
  r.pod(&total, "hnsw link total");
  if (!r.status().ok()) return r.status();
  if (total > r.remaining() / sizeof(tableint)) {
    fail(r, "truncated link lists");
    return r.status();
  }
  const char* links = r.view(total * sizeof(tableint), "hnsw links");
  if (!r.status().ok()) return r.status();

  if (levels.size() != n || deleted.size() != n) {
    fail(r, "level or tombstone table does not match the node count");
    return r.status();
  }
  uint64_t lists = 0;
  int32_t top = -1;
  for (size_t i = 0; i < n; ++i) {
    if (levels[i] < 0 || levels[i] > kMaxLevel) {
      fail(r, "node " + std::to_string(i) + " has level " + std::to_string(levels[i]));
      return r.status();
    }
    if (deleted[i] > 1 || (deleted[i] == 1) != (ids.id(static_cast<int64_t>(i)) == kNoId)) {
      fail(r, "tombstone of node " + std::to_string(i) + " disagrees with the id map");
      return r.status();
    }
    lists += static_cast<uint64_t>(levels[i]) + 1;
    top = std::max(top, levels[i]);
  }
  if (top != max_level || (n == 0 ? entry != kNoNode : entry >= n || levels[entry] != max_level)) {
    fail(r, "entry point " + std::to_string(entry) + " at level " + std::to_string(max_level) +
                " is not a top-level node");
    return r.status();
  }
  if (counts.size() != lists) {
    fail(r, "link count table has " + std::to_string(counts.size()) + " entries, expected " +
                std::to_string(lists));
    return r.status();
  }
  {
    size_t c = 0;
    uint64_t pos = 0;
    for (size_t i = 0; i < n; ++i) {
      for (int l = 0; l <= levels[i]; ++l) {
        const uint32_t cnt = counts[c++];
        if (cnt > (l == 0 ? 2 * m : m)) {
          fail(r, "node " + std::to_string(i) + " has " + std::to_string(cnt) + " links on level " +
                      std::to_string(l));
          return r.status();
        }
        if (cnt > total - pos) {
          fail(r, "link counts exceed the stored links");
          return r.status();
        }
        for (uint32_t j = 0; j < cnt; ++j, ++pos) {
          tableint nb;
          std::memcpy(&nb, links + pos * sizeof(tableint), sizeof(tableint));
          if (nb >= n || nb == i || levels[nb] < l) {
            fail(r, "node " + std::to_string(i) + " links to node " + std::to_string(nb) +
                        " on level " + std::to_string(l));
            return r.status();
          }
        }
      }
    }
    if (pos != total) {
      fail(r, "stored links exceed the link counts");
      return r.status();
    }
  }

  auto index = std::make_unique<HnswIndex>(dim, metric, options, std::move(ids));
  VECPERF_RETURN_IF_ERROR(index->init(std::max<size_t>(n, kInitialCapacity)));
  index->fill(vectors, levels, deleted, counts, links, max_level, entry);
  return std::unique_ptr<IndexImpl>(std::move(index));
}

}  // namespace vecperf::internal
