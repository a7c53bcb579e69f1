// IVF backend: FAISS trains the coarse quantizer and the code books and stores the inverted
// lists; vecperf does the per-query work itself. The class is declared here and implemented in
// four files, one job each: ivf_index.cc (lifecycle: removal and compaction, stored vectors,
// memory, defaults, describe), ivf_train.cc (adds, k-means training, list assignment),
// ivf_search.cc (the exact buffer scan, coarse selection and the list scans) and ivf_io.cc
// (the payload, the bridges to FAISS's serializer and the checks of a loaded index).
//
// Why split the work this way: Debian's FAISS is a generic (no AVX2) build whose list scans and
// single-query coarse assignment are scalar loops, while vecperf's distance table is dispatched
// at run time to the best ISA of the CPU. So every distance on the hot path of the float32
// encoding (query to centroids, query to list entries) goes through kernels(), and only the
// compressed encodings (SQ, PQ), whose code formats belong to FAISS, are scored by FAISS's
// InvertedListScanner. Searches never call FAISS's search(): its nprobe lives in the shared
// index object and its OpenMP loop would compete with our per-call threads. Every knob of a
// search (nprobe, rerank, threads) travels with the call, so concurrent searches never interfere.
//
// Lifecycle: until `train_threshold` vectors are present they sit in a dense buffer (slot order,
// compacted on removal) and are searched exactly. Reaching the threshold inside add() trains
// k-means on a seeded sample and moves the buffer into the lists. After training, slots are
// FAISS labels: the lists hold them, a FAISS hash-table direct map finds a slot's entry for
// remove() and get_vector(), and removed slots stay as tombstones in the id map until they are
// half of all slots; then the slots are renumbered (compact()).
//
// Writes and searches (docs/design/index-concurrency.md, "IVF"): the one writer does the long
// work with the index lock released, because only writers change the structure and searches
// only read it. An add assigns and encodes its rows and stages them in the buffer or the
// re-rank store, then takes the exclusive lock only to append the codes to their lists. The add
// that reaches the threshold publishes its rows to the buffer first (searched exactly), trains
// and fills a new FAISS index aside, and swaps it in. A compaction builds the renumbered lists,
// direct map and re-rank store aside and swaps them in.
//
// Two-stage retrieval: compressed encodings with `rerank` > 0 also keep the float32 vectors
// (indexed by slot); a search collects max(k, rerank) candidates by code distance and re-ranks
// them with exact distances.
#pragma once

#include <faiss/IndexIVF.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/serialize.h"
#include "index/index_base.h"
#include "index/row_store.h"
#include "index/topk.h"

namespace vecperf::internal {

// k-means wants at least this many training points per centroid (FAISS prints a warning below
// it, and the library must never print), and PQ trains 256 centroids per sub-quantiser.
inline constexpr int64_t kMinPointsPerCentroid = 39;
inline constexpr int64_t kPqCentroids = 256;
// Version of the backend's part of the payload, so that later layouts can be told apart.
inline constexpr uint32_t kIvfPayloadVersion = 1;

/// pq_m = 0: the divisor of dim nearest dim / 4 (ties go to the larger, finer quantiser).
int derive_pq_m(int64_t dim);

class IvfIndex final : public IndexBase {
 public:
  IvfIndex(int64_t dim, Metric metric, const IvfOptions& options, IdMap ids = {})
      : IndexBase(IndexKind::kIvf, dim, metric, std::move(ids)),
        opt_(options),
        buffer_(dim, false),
        originals_(dim, false) {
    if (opt_.encoding == IvfEncoding::kPQ && opt_.pq_m == 0) opt_.pq_m = derive_pq_m(dim);
  }

  // ---- persistence (ivf_io.cc) ----
  void save_locked(Writer& w) const override;
  static Result<std::unique_ptr<IndexImpl>> load(Reader& r, int64_t dim, Metric metric, IdMap ids);

 protected:
  // ---- the IndexBase hooks: adds and training (ivf_train.cc), searches (ivf_search.cc), the
  // rest (ivf_index.cc) ----
  Status add_unlocked(IdSpan new_ids, MatrixView v, int num_threads) override;
  void after_remove_unlocked() override;
  Status search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                       float* dists, int64_t* labels) const override;
  Status remove_locked(std::span<const int64_t> slots) override;
  // Half the default: an IVF removal costs the most per id (the id map, the direct map and a
  // list entry: cache misses), and its searches are the shortest.
  size_t remove_chunk_ids() const override { return 32; }
  void vector_locked(int64_t slot, float* out) const override;
  size_t memory_locked() const override;

  // The defaults live in opt_, so save() and load() carry them like every other option.
  SearchOptions defaults_locked() const override;
  Status set_defaults_locked(const SearchOptions& o) override;
  IndexCapabilities capabilities_locked() const override;
  std::string describe_locked() const override;

 private:
  int64_t nlist() const { return ivf_ ? static_cast<int64_t>(ivf_->nlist) : 0; }
  bool l2() const { return metric() == Metric::kL2; }
  // ---- training and list assignment (ivf_train.cc) ----
  // Number of live vectors at which the index trains (never below what k-means needs).
  int64_t train_threshold() const;

  // nlist = 0: about 4 * sqrt(N), but never so many that a list gets < 39 training points.
  int64_t derived_nlist(int64_t n) const;
  std::unique_ptr<faiss::IndexIVF> make_faiss(int64_t nl) const;

  // Trains a new FAISS index on a seeded sample of the buffer (which holds every vector: while
  // untrained it is dense, buffer row == slot) and fills its lists, with the lock released;
  // then swaps it in. On failure nothing has changed.
  Status train_and_fill(int num_threads);
  static std::vector<float> centroids_of(const faiss::IndexIVF& ivf);

  // Nearest of the `nl` centroids of each row, with our kernels (FAISS's single-vector path is
  // scalar).
  void assign(MatrixView v, const float* centroids, int64_t nl, int64_t* out,
              int num_threads) const;
  // The add of a trained index: encodes unlocked, appends under the exclusive lock.
  Status add_to_lists(IdSpan new_ids, MatrixView v, int num_threads);
  // Under the exclusive lock: appends n encoded rows (labels first_slot ..) to their lists and
  // the direct map. All or nothing: on failure the lists are as they were.
  Status append_codes(int64_t first_slot, int64_t n, const int64_t* list_of, const uint8_t* codes);
  bool keeps_originals() const { return opt_.encoding != IvfEncoding::kFlat && opt_.rerank > 0; }
  // ---- removal (ivf_index.cc) ----
  // Drops the tombstoned slots, renumbering as IdMap::compact() does; the labels in the lists,
  // the direct map and the re-rank store follow. Built aside with the lock released, swapped in
  // under it. When memory runs out nothing has changed and the tombstones stay (still correct).
  void compact();

  // ---- searches (ivf_search.cc) ----
  // Exact search of the training buffer (all slots live).
  void search_buffer(MatrixView q, int64_t begin, int64_t end, int64_t k_eff, int64_t stride,
                     float* dists, int64_t* labels) const;

  // The `nprobe` lists nearest to `query`: list numbers in `probe`, and in `probe_raw` the raw
  // coarse value FAISS's scanners expect (squared L2, or the inner product).
  void coarse(const float* query, std::vector<float>& dis, TopK& top, std::vector<float>& sel_dis,
              std::vector<int64_t>& probe, std::vector<float>& probe_raw) const;

  // kFlat, several queries: the same work as scan_flat, reordered so that each block of
  // centroids and each block of a list is loaded into cache once for all the queries of the
  // batch that need it. A query reads ~1 MB of centroids and lists at 128 dimensions, so one
  // query at a time is bound by memory traffic, not arithmetic. TopK's label tie-break makes the
  // result independent of the order in which candidates arrive, so it equals scan_flat's.
  void scan_flat_batch(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t k_eff,
                       int64_t stride, float* dists, int64_t* labels) const;

  // kFlat: the list codes are float32 rows, scored with our kernels.
  void scan_flat(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t k_eff,
                 int64_t stride, float* dists, int64_t* labels) const;

  // kSQ8 / kSQ4 / kPQ: FAISS's scanner scores the codes; optionally re-rank exactly.
  void scan_codes(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t rerank,
                  int64_t k_eff, int64_t stride, float* dists, int64_t* labels) const;

  // ---- loading (ivf_io.cc) ----
  // Checks a freshly loaded FAISS index against our parameters and id map; "" when sound.
  std::string check_loaded() const;

  IvfOptions opt_;
  RowStore buffer_;                       // untrained: slots x dim, dense
  std::unique_ptr<faiss::IndexIVF> ivf_;  // trained: quantizer, code books and lists
  std::vector<float> centroids_;          // trained: nlist x dim, for our coarse assignment
  RowStore originals_;  // trained, compressed with rerank > 0: slots x dim (tombstones zero)
};

}  // namespace vecperf::internal
