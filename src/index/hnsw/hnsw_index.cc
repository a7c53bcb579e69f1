// HNSW backend: an IndexBase over vecperf's own graph (graph.h).
//
// Adds run with the index's exclusive lock held only while the new ids are published: the rows
// are staged into the graph (vectors copied, levels drawn, storage grown in chunks that never
// move) before it, and linked after it on the add's threads while searches run. A remove marks
// tombstones under the exclusive lock; when they exceed kCompactFraction of the nodes, the
// graph is rebuilt from the live vectors aside, while searches use the old one, and swapped in
// under the exclusive lock (searches hold the shared lock, so none is still reading the old
// graph when it is freed). See docs/design/hnsw.md, which also gives the saved layout.
#include <algorithm>
#include <climits>
#include <cstring>
#include <sstream>
#include <string>

#include "common/guarded.h"
#include "common/parallel.h"
#include "common/test_points.h"
#include "index/hnsw/graph.h"
#include "index/index_base.h"
#include "index/option_table.h"

namespace vecperf::internal {
namespace {

using hnsw::Graph;
using hnsw::kMaxLevel;
using hnsw::kMaxNodes;
using hnsw::kNoNode;
using hnsw::NodeId;

// Tombstones beyond this fraction of the nodes trigger a rebuild: a tombstone still costs a
// distance computation whenever the search walks through it, and its memory stays held.
constexpr double kCompactFraction = 0.2;

std::unique_ptr<Graph> new_graph(int64_t dim, Metric metric, const HnswOptions& o) {
  hnsw::GraphParams p;
  p.dim = dim;
  p.metric = metric;
  p.M = o.M;
  p.ef_construction = o.ef_construction;
  p.seed = o.seed;
  return std::make_unique<Graph>(p);
}

class HnswIndex final : public IndexBase {
 public:
  HnswIndex(int64_t dim, Metric metric, const HnswOptions& options, IdMap ids = {})
      : IndexBase(IndexKind::kHnsw, dim, metric, std::move(ids)),
        options_(options),
        graph_(new_graph(dim, metric, options)) {}

  /// Allocates room for `capacity` nodes. Errors: kResourceExhausted.
  Status init(size_t capacity) { return graph_->reserve(capacity); }
  Graph& graph() { return *graph_; }

 protected:
  // write_mu_ and read_gate_ are held: this is the only writer and no save runs, so graph_ and
  // the id map may be read without mu_.
  Status add_unlocked(IdSpan ids, MatrixView v, int num_threads) override {
    Graph& g = *graph_;
    const size_t first = g.size();
    const size_t n = static_cast<size_t>(v.rows);
    if (first + n > kMaxNodes)
      return Status::ResourceExhausted("an hnsw index holds at most " + std::to_string(kMaxNodes) +
                                       " vectors (removed ones included until compaction)");
    VECPERF_RETURN_IF_ERROR(g.reserve(first + n));
    VECPERF_RETURN_IF_ERROR(g.stage(n, [&v](size_t i) { return v.row(static_cast<int64_t>(i)); }));
    auto slot = publish_ids(ids);
    if (!slot.ok()) {
      g.discard_staged(first);
      return slot.status();
    }
    // The test point splits the linking so that a test can park the writer in the middle of it.
    const size_t half = n / 2;
    Status s = g.link(first, half, num_threads);
    if (s.ok()) {
      reach(TestPoint::kAddInProgress);
      s = g.link(first + half, n - half, num_threads);
    }
    // The rows stay in the graph as tombstones: searches may already be walking through them.
    if (!s.ok()) withdraw_ids(ids);
    return s;
  }

  Status search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                       float* dists, int64_t* labels) const override {
    const size_t ef = static_cast<size_t>(
        std::max<int64_t>(o.ef_search > 0 ? o.ef_search : options_.ef_search, k_eff));
    const int threads = resolve_threads(o.num_threads, q.rows);
    const Graph& g = *graph_;
    // A worker thread must not let bad_alloc escape (std::terminate); report it instead.
    return guarded_chunks(q.rows, threads, "searching the hnsw graph (try fewer threads)",
                          [&](int64_t begin, int64_t end, int) {
                            for (int64_t i = begin; i < end; ++i)
                              g.search(q.row(i), ef, static_cast<size_t>(k_eff), dists + i * stride,
                                       labels + i * stride);
                          });
  }

  Status remove_locked(std::span<const int64_t> slots) override {
    for (int64_t s : slots) graph_->tombstone(static_cast<NodeId>(s));
    return Status::OK();
  }

  // Rebuilds the graph from the live vectors aside, then swaps it in and renumbers the slots as
  // IdMap::compact() does. Best effort: when memory runs out the tombstoned graph stays, which
  // is still correct.
  void after_remove_unlocked() override {
    const Graph& old = *graph_;
    if (static_cast<double>(old.tombstones()) <= kCompactFraction * static_cast<double>(old.size()))
      return;
    // src[s]: old slot whose vector new slot s holds; the id map changes only at the swap.
    const std::vector<int64_t> src = ids().compaction_sources();
    std::unique_ptr<Graph> fresh = new_graph(dim(), metric(), options_);
    Status s = fresh->reserve(src.size());
    if (s.ok())
      s = fresh->stage(src.size(),
                       [&](size_t i) { return old.vector(static_cast<NodeId>(src[i])); });
    // One hardware thread is left to searches: a remove has no thread count of its own, and
    // the rebuild is the one write here long enough to crowd queries off the cores.
    const int threads = std::max(1, resolve_threads(0, INT_MAX) - 1);
    if (s.ok()) s = fresh->link(0, src.size(), threads);
    if (!s.ok()) return;
    reach(TestPoint::kCompactionBuilt);
    exclusive([&] {
      ids().compact();
      graph_.swap(fresh);
    });
    // `fresh` now holds the old graph: no search can be using it (they hold mu_ shared).
  }

  void vector_locked(int64_t slot, float* out) const override {
    std::memcpy(out, graph_->vector(static_cast<NodeId>(slot)), dim() * sizeof(float));
  }

  void save_locked(Writer& w) const override {
    const Graph& g = *graph_;
    const size_t n = g.size();
    const auto [entry, max_level] = g.top();
    write_options(w, options_);
    w.pod<uint64_t>(n);
    w.pod<int32_t>(n == 0 ? -1 : max_level);
    w.pod<uint32_t>(n == 0 ? kNoNode : entry);
    for (size_t i = 0; i < n; ++i)
      w.bytes(g.vector(static_cast<NodeId>(i)), static_cast<size_t>(dim()) * sizeof(float));
    std::vector<int32_t> levels(n);
    std::vector<uint8_t> deleted(n);
    for (size_t i = 0; i < n; ++i) {
      levels[i] = g.level(static_cast<NodeId>(i));
      deleted[i] = g.deleted(static_cast<NodeId>(i)) ? 1 : 0;
    }
    w.vec(levels);
    w.vec(deleted);
    std::vector<uint32_t> counts;
    std::vector<NodeId> links;
    for (size_t i = 0; i < n; ++i)
      for (int l = 0; l <= levels[i]; ++l) {
        const std::vector<NodeId> list = g.links(static_cast<NodeId>(i), l);
        counts.push_back(static_cast<uint32_t>(list.size()));
        links.insert(links.end(), list.begin(), list.end());
      }
    w.vec(counts);
    w.pod<uint64_t>(links.size());
    w.bytes(links.data(), links.size() * sizeof(NodeId));
  }

  size_t memory_locked() const override { return graph_->memory_bytes(); }

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
      << ", tombstones=" << graph_->tombstones() << ", capacity=" << graph_->capacity()
      << ", kernels=" << kernels().name << ")";
    return s.str();
  }

 private:
  HnswOptions options_;  // ef_search changes with set_default_search_options (mu_ exclusive)
  // Replaced only by compaction (write_mu_ held, swapped under mu_ exclusive).
  std::unique_ptr<Graph> graph_;
};

bool fail(Reader& r, const std::string& problem) { return r.corrupt("hnsw graph: " + problem); }

}  // namespace

Result<std::unique_ptr<IndexImpl>> new_hnsw(int64_t dim, Metric metric, const HnswOptions& options,
                                            int64_t capacity) {
  if (capacity < 0 || static_cast<uint64_t>(capacity) > kMaxNodes)
    return Status::ResourceExhausted("an hnsw index holds at most " + std::to_string(kMaxNodes) +
                                     " vectors");
  auto index = std::make_unique<HnswIndex>(dim, metric, options);
  VECPERF_RETURN_IF_ERROR(index->init(static_cast<size_t>(capacity)));
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
  if (total > r.remaining() / sizeof(NodeId)) {
    fail(r, "truncated link lists");
    return r.status();
  }
  const char* links = r.view(total * sizeof(NodeId), "hnsw links");
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
          NodeId nb;
          std::memcpy(&nb, links + pos * sizeof(NodeId), sizeof(NodeId));
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
  VECPERF_RETURN_IF_ERROR(index->init(n));
  Graph& g = index->graph();
  Status oom = Status::ResourceExhausted("out of memory loading an hnsw graph of " +
                                         std::to_string(n) + " vectors");
  std::vector<float> row(static_cast<size_t>(dim));
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(row.data(), vectors + i * vector_bytes, vector_bytes);  // the view is unaligned
    if (!g.restore_node(row.data(), levels[i])) return oom;
  }
  size_t c = 0;
  const char* next_link = links;
  std::vector<NodeId> list;
  for (size_t i = 0; i < n; ++i) {
    for (int l = 0; l <= levels[i]; ++l) {
      list.resize(counts[c++]);
      if (!list.empty()) {  // a linkless graph has a null view: memcpy from null is undefined
        std::memcpy(list.data(), next_link, list.size() * sizeof(NodeId));
        next_link += list.size() * sizeof(NodeId);
      }
      g.restore_links(static_cast<NodeId>(i), l, list.data(), list.size());
    }
    if (deleted[i]) g.tombstone(static_cast<NodeId>(i));
  }
  // Nodes added after a load draw fresh levels rather than repeating the first ones.
  g.restore_top(entry, max_level, options.seed + n);
  return std::unique_ptr<IndexImpl>(std::move(index));
}

}  // namespace vecperf::internal
