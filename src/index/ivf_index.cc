// IVF backend: FAISS trains the coarse quantizer and the code books and stores the inverted
// lists; vecperf does the per-query work itself.
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
// Two-stage retrieval: compressed encodings with `rerank` > 0 also keep the float32 vectors
// (indexed by slot); a search collects max(k, rerank) candidates by code distance and re-ranks
// them with exact distances.
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/index_io.h>
#include <faiss/utils/Heap.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <new>
#include <numeric>
#include <random>
#include <sstream>

#include "common/parallel.h"
#include "distance/distance.h"
#include "index/faiss_blob.h"
#include "index/index_base.h"
#include "index/option_table.h"
#include "index/topk.h"

namespace vecperf::internal {
namespace {

// k-means wants at least this many training points per centroid (FAISS prints a warning below
// it, and the library must never print), and PQ trains 256 centroids per sub-quantiser.
constexpr int64_t kMinPointsPerCentroid = 39;
constexpr int64_t kPqCentroids = 256;
constexpr int kMaxDerivedNlist = 65536;
// Batched flat search: queries handled together (bounds the coarse-distance matrix to
// kBatchQueries * nlist floats) and rows per kernel call (64 rows of 128 floats fill 32 KB, L1).
constexpr int64_t kBatchQueries = 256;
constexpr int64_t kRowBlock = 64;
// Version of the backend's part of the payload, so that later layouts can be told apart.
constexpr uint32_t kIvfPayloadVersion = 1;

// Distance (smaller is nearer) used for selection from a raw kernel value.
inline float to_distance(bool l2, float raw) { return l2 ? raw : 1.0f - raw; }

// pq_m = 0: the divisor of dim nearest dim / 4 (ties go to the larger, finer quantiser).
int derive_pq_m(int64_t dim) {
  const double target = std::max<double>(1.0, double(dim) / 4.0);
  int best = 1;
  for (int64_t m = 1; m <= dim; ++m) {
    if (dim % m != 0) continue;
    if (std::abs(double(m) - target) <= std::abs(double(best) - target)) best = static_cast<int>(m);
  }
  return best;
}

// Fewest points k-means and the code books need to train without degenerate clusters.
int64_t min_training_points(const IvfOptions& o, int64_t nlist) {
  int64_t need = kMinPointsPerCentroid * std::max<int64_t>(1, nlist);
  if (o.encoding == IvfEncoding::kPQ) need = std::max(need, kMinPointsPerCentroid * kPqCentroids);
  return need;
}

// Bridges FAISS's serializer to our Writer; a counting pass (sink == nullptr) measures the size
// first so that the blob can be length-prefixed without buffering a copy of the index.
class WriterBridge : public faiss::IOWriter {
 public:
  explicit WriterBridge(Writer* w) : w_(w) { name = "vecperf payload"; }
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const size_t n = size * nitems;
    if (w_ != nullptr) w_->bytes(ptr, n);
    total_ += n;
    return nitems;
  }
  uint64_t total() const { return total_; }

 private:
  Writer* w_;
  uint64_t total_ = 0;
};

// Reads FAISS's serialization from a bounded byte range; a short read makes FAISS throw.
class ReaderBridge : public faiss::IOReader {
 public:
  ReaderBridge(const char* data, size_t size) : data_(data), size_(size) { name = "vecperf payload"; }
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0) return nitems;
    const size_t avail = std::min(nitems, (size_ - pos_) / size);
    if (avail == 0) return 0;  // FAISS reads empty vectors into a null pointer
    std::memcpy(ptr, data_ + pos_, avail * size);
    pos_ += avail * size;
    return avail;
  }
  size_t consumed() const { return pos_; }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Caps FAISS's OpenMP team for the calling thread only (libgomp keeps this setting per thread),
// restoring it on exit. FAISS's loops spin at their barriers, so a team larger than the work
// deserves costs far more than it saves when the cores are shared with the host application.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(std::max(1, threads));
  }
  ~ScopedOmpThreads() { omp_set_num_threads(saved_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_;
};

// Below about a billion multiply-adds per k-means iteration a single thread finishes in tens of
// milliseconds, less than a contended OpenMP team loses to synchronisation.
constexpr double kParallelTrainWork = 1e9;

// First error reported by the worker threads of one call.
class FirstError {
 public:
  void set(Status s) {
    std::lock_guard lock(mu_);
    if (status_.ok()) status_ = std::move(s);
  }
  Status get() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  Status status_;
};

class IvfIndex final : public IndexBase {
 public:
  IvfIndex(int64_t dim, Metric metric, const IvfOptions& options, IdMap ids = {})
      : IndexBase(IndexKind::kIvf, dim, metric, std::move(ids)), opt_(options) {
    if (opt_.encoding == IvfEncoding::kPQ && opt_.pq_m == 0) opt_.pq_m = derive_pq_m(dim);
  }

  // ---- persistence (the loader fills these through load()) ----
  void save_locked(Writer& w) const override {
    w.pod<uint32_t>(kIvfPayloadVersion);
    write_options(w, opt_);
    w.pod<uint8_t>(ivf_ ? 1 : 0);
    if (!ivf_) {
      w.vec(buffer_);
      return;
    }
    w.vec(originals_);
    try {
      WriterBridge counter(nullptr);
      faiss::write_index(ivf_.get(), &counter);
      w.pod<uint64_t>(counter.total());
      WriterBridge bridge(&w);
      faiss::write_index(ivf_.get(), &bridge);
      if (w.status().ok() && bridge.total() != counter.total())
        w.fail(Status::Internal("FAISS wrote a different number of bytes in its second pass"));
    } catch (const std::exception& e) {
      w.fail(Status::Internal(std::string("FAISS failed to serialize the IVF index: ") + e.what()));
    }
  }

  static Result<std::unique_ptr<IndexImpl>> load(Reader& r, int64_t dim, Metric metric,
                                                 IdMap ids) {
    uint32_t version = 0;
    IvfOptions o;
    uint8_t trained = 0;
    r.pod(&version, "ivf payload version");
    if (r.status().ok() && version != kIvfPayloadVersion) {
      r.corrupt("unknown ivf payload version " + std::to_string(version));
      return r.status();
    }
    read_options(r, &o, "ivf");
    r.pod(&trained, "ivf trained flag");
    if (!r.status().ok()) return r.status();
    IndexOptions check;
    check.kind = IndexKind::kIvf;
    check.dim = dim;
    check.ivf = o;
    if (Status s = check.validate(); !s.ok() || trained > 1) {
      r.corrupt("invalid ivf parameters" + (s.ok() ? std::string() : ": " + std::string(s.message())));
      return r.status();
    }
    const int64_t slots = ids.slots(), live = ids.live();
    auto index = std::make_unique<IvfIndex>(dim, metric, o, std::move(ids));
    if (!trained) {
      if (!r.vec(&index->buffer_, "ivf training buffer")) return r.status();
      if (live != slots || index->buffer_.size() != static_cast<size_t>(slots * dim)) {
        r.corrupt("ivf training buffer does not match the id map");
        return r.status();
      }
      return std::unique_ptr<IndexImpl>(std::move(index));
    }
    if (!r.vec(&index->originals_, "ivf re-rank vectors")) return r.status();
    // Kept exactly when the options ask for re-ranking; a trained index never has zero slots.
    if (index->originals_.size() !=
        (index->keeps_originals() ? static_cast<size_t>(slots * dim) : size_t{0})) {
      r.corrupt("ivf re-rank vectors do not match the id map");
      return r.status();
    }
    uint64_t blob_size = 0;
    r.pod(&blob_size, "faiss index size");
    const char* blob = r.view(blob_size, "faiss index");
    if (blob == nullptr) return r.status();
    {
      // FAISS's reader trusts its input: only a blob of the exact shape we write reaches it.
      Reader check(blob, blob_size, r.what());
      if (!check_faiss_ivf_blob(check, {dim, index->l2(), index->opt_.encoding, index->opt_.pq_m}))
        return check.status();
    }
    ReaderBridge bridge(blob, blob_size);
    faiss::Index* raw = nullptr;
    try {
      raw = faiss::read_index(&bridge);
    } catch (const std::bad_alloc&) {
      // The blob is bounded and the lists are about its size, so a failed allocation means a
      // damaged length field rather than a genuinely large index.
      r.corrupt("faiss index declares an impossible size");
      return r.status();
    } catch (const std::exception& e) {
      r.corrupt(std::string("faiss index is damaged: ") + e.what());
      return r.status();
    }
    std::unique_ptr<faiss::Index> owned(raw);
    if (bridge.consumed() != blob_size) {
      r.corrupt("faiss index is shorter than its recorded size");
      return r.status();
    }
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(owned.get());
    if (ivf == nullptr) {
      r.corrupt("faiss payload is not an IVF index");
      return r.status();
    }
    owned.release();
    index->ivf_.reset(ivf);
    if (std::string problem = index->check_loaded(); !problem.empty()) {
      r.corrupt("faiss index is inconsistent: " + problem);
      return r.status();
    }
    index->refresh_centroids();
    return std::unique_ptr<IndexImpl>(std::move(index));
  }

 protected:
  Status add_locked(int64_t first_slot, MatrixView v) override {
    if (ivf_) return add_to_lists(first_slot, v);
    const size_t d = static_cast<size_t>(dim());
    buffer_.insert(buffer_.end(), v.data, v.data + v.rows * d);
    if (ids().live() < train_threshold()) return Status::OK();
    Status s;
    try {
      s = train_and_fill();
    } catch (const std::bad_alloc&) {
      s = Status::ResourceExhausted("out of memory while training the IVF index");
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("FAISS failed to train the IVF index: ") + e.what());
    }
    if (!s.ok()) {
      // Back to the untrained state without this add's vectors.
      ivf_.reset();
      centroids_.clear();
      originals_.clear();
      buffer_.resize(static_cast<size_t>(first_slot) * d);
    }
    return s;
  }

  Status search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                       float* dists, int64_t* labels) const override {
    const int threads = resolve_threads(o.num_threads, q.rows);
    const int64_t nprobe = std::min<int64_t>(nlist(), o.nprobe > 0 ? o.nprobe : opt_.nprobe);
    const int64_t rerank = originals_.empty() ? 0 : (o.rerank > 0 ? o.rerank : opt_.rerank);
    // Worker threads must not let an exception escape (it would terminate the host).
    FirstError error;
    parallel_chunks(q.rows, threads, [&](int64_t begin, int64_t end, int) {
      try {
        if (!ivf_) {
          search_buffer(q, begin, end, k_eff, stride, dists, labels);
        } else if (opt_.encoding != IvfEncoding::kFlat) {
          scan_codes(q, begin, end, nprobe, rerank, k_eff, stride, dists, labels);
        } else if (end - begin == 1) {
          scan_flat(q, begin, end, nprobe, k_eff, stride, dists, labels);
        } else {
          for (int64_t b = begin; b < end; b += kBatchQueries)
            scan_flat_batch(q, b, std::min(end, b + kBatchQueries), nprobe, k_eff, stride, dists,
                            labels);
        }
      } catch (const std::bad_alloc&) {
        error.set(Status::ResourceExhausted("out of memory during IVF search"));
      } catch (const std::exception& e) {
        error.set(Status::Internal(std::string("FAISS failed during IVF search: ") + e.what()));
      }
    });
    return error.get();
  }

  Status remove_locked(std::span<const int64_t> slots) override {
    const size_t d = static_cast<size_t>(dim());
    if (!ivf_) {
      // Untrained: keep the buffer dense like the Flat backend (highest hole first).
      std::vector<int64_t> holes(slots.begin(), slots.end());
      std::sort(holes.begin(), holes.end(), std::greater<>());
      for (int64_t hole : holes) {
        int64_t last = ids().slots() - 1;
        if (hole != last) std::copy_n(buffer_.begin() + last * d, d, buffer_.begin() + hole * d);
        ids().move_last_into(hole);
      }
      buffer_.resize(static_cast<size_t>(ids().slots()) * d);
      return Status::OK();
    }
    try {
      std::vector<faiss::Index::idx_t> labels(slots.begin(), slots.end());
      faiss::IDSelectorArray sel(labels.size(), labels.data());
      const size_t removed = ivf_->remove_ids(sel);
      if (removed != labels.size())
        return Status::Internal("IVF lists held " + std::to_string(removed) + " of " +
                                std::to_string(labels.size()) + " removed vectors");
    } catch (const std::exception& e) {
      return Status::Internal(std::string("FAISS failed to remove from the IVF lists: ") +
                              e.what());
    }
    // Tombstoned rows of the re-rank store are never read again; zero them so a dump of the
    // memory holds no removed data.
    if (!originals_.empty())
      for (int64_t s : slots) std::fill_n(originals_.begin() + s * d, d, 0.0f);
    // A tombstone costs 8 bytes in the id map and, with re-ranking, a row of the re-rank store,
    // so under churn they would grow without bound. Renumbering costs one pass over the lists;
    // doing it when tombstones reach half the slots keeps that O(1) per removal.
    if (2 * (ids().slots() - ids().live()) >= ids().slots()) compact();
    return Status::OK();
  }

  void vector_locked(int64_t slot, float* out) const override {
    const size_t d = static_cast<size_t>(dim());
    if (!ivf_) {
      std::copy_n(buffer_.begin() + slot * d, d, out);
    } else if (!originals_.empty()) {
      std::copy_n(originals_.begin() + slot * d, d, out);
    } else {
      try {
        ivf_->reconstruct(slot, out);
      } catch (const std::exception&) {
        // Unreachable for a live slot (the direct map holds every one); the hook cannot fail,
        // so report a recognisable vector rather than garbage.
        std::fill_n(out, d, std::numeric_limits<float>::quiet_NaN());
      }
    }
  }

  size_t memory_locked() const override {
    size_t bytes = (buffer_.capacity() + originals_.capacity() + centroids_.capacity()) *
                   sizeof(float);
    if (!ivf_) return bytes;
    const faiss::InvertedLists* il = ivf_->invlists;
    for (size_t l = 0; l < il->nlist; ++l)
      bytes += il->list_size(l) * (il->code_size + sizeof(faiss::Index::idx_t));
    bytes += il->nlist * sizeof(std::vector<uint8_t>) * 2;
    // FAISS's quantizer keeps its own copy of the centroids; the hash-table direct map costs a
    // node (key, value, next, hash) plus a bucket per vector.
    bytes += static_cast<size_t>(nlist()) * static_cast<size_t>(dim()) * sizeof(float);
    bytes += ivf_->direct_map.hashtable.size() * 4 * sizeof(int64_t) +
             ivf_->direct_map.hashtable.bucket_count() * sizeof(void*);
    if (auto* pq = dynamic_cast<const faiss::IndexIVFPQ*>(ivf_.get()))
      bytes += (pq->pq.centroids.capacity() + pq->precomputed_table.size()) * sizeof(float);
    if (auto* sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer*>(ivf_.get()))
      bytes += sq->sq.trained.capacity() * sizeof(float);
    return bytes;
  }

  // The defaults live in opt_, so save() and load() carry them like every other option.
  SearchOptions defaults_locked() const override {
    SearchOptions o;
    o.nprobe = opt_.nprobe;
    o.rerank = opt_.rerank;
    return o;
  }

  Status set_defaults_locked(const SearchOptions& o) override {
    // rerank needs the float32 originals, which are kept (from the first add) only when the
    // index was created with rerank > 0 on compressed codes; so it can change, not appear.
    if (o.rerank > 0 && !keeps_originals())
      return Status::InvalidArgument(
          "rerank needs the float32 vectors, which this IVF index does not keep (" +
          std::string(opt_.encoding == IvfEncoding::kFlat
                          ? "its lists are float32 already"
                          : "it was created with rerank 0; create it with rerank > 0") +
          ")");
    if (o.nprobe > 0) opt_.nprobe = o.nprobe;
    if (o.rerank > 0) opt_.rerank = o.rerank;
    return Status::OK();
  }

  IndexCapabilities capabilities_locked() const override {
    if (!ivf_) return IndexCapabilities{IndexKind::kIvf};  // buffering: searches are exact
    return IndexCapabilities{IndexKind::kIvf, SearchKnob::kNprobe, nlist()};
  }

  std::string describe_locked() const override {
    std::ostringstream s;
    s << "ivf(dim=" << dim() << ", metric=" << metric_name(metric()) << ", "
      << describe_options(opt_) << ", trained=" << (ivf_ ? "yes" : "no")
      << ", size=" << ids().live();
    if (ivf_) {
      s << ", lists=" << nlist() << ", tombstones=" << ids().slots() - ids().live();
      const faiss::InvertedLists* il = ivf_->invlists;
      size_t lo = std::numeric_limits<size_t>::max(), hi = 0, total = 0;
      for (size_t l = 0; l < il->nlist; ++l) {
        const size_t n = il->list_size(l);
        lo = std::min(lo, n);
        hi = std::max(hi, n);
        total += n;
      }
      s << ", list_size min/mean/max=" << lo << "/" << (total / std::max<size_t>(1, il->nlist))
        << "/" << hi;
    } else {
      s << ", train_at=" << train_threshold();
    }
    s << ", kernels=" << kernels().name << ")";
    return s.str();
  }

 private:
  int64_t nlist() const { return ivf_ ? static_cast<int64_t>(ivf_->nlist) : 0; }
  bool l2() const { return metric() == Metric::kL2; }

  // Number of live vectors at which the index trains (never below what k-means needs).
  int64_t train_threshold() const {
    if (opt_.nlist > 0) {
      const int64_t need = min_training_points(opt_, opt_.nlist);
      return std::max(opt_.train_threshold > 0 ? opt_.train_threshold : int64_t{1000}, need);
    }
    const int64_t need = min_training_points(opt_, 1);
    return std::max(opt_.train_threshold > 0 ? opt_.train_threshold : int64_t{1000}, need);
  }

  // nlist = 0: about 4 * sqrt(N), but never so many that a list gets < 39 training points.
  int64_t derived_nlist(int64_t n) const {
    if (opt_.nlist > 0) return opt_.nlist;
    const int64_t want = std::llround(4.0 * std::sqrt(double(n)));
    const int64_t cap = std::max<int64_t>(1, n / kMinPointsPerCentroid);
    return std::clamp<int64_t>(want, 1, std::min<int64_t>(cap, kMaxDerivedNlist));
  }

  std::unique_ptr<faiss::IndexIVF> make_faiss(int64_t nl) const {
    const faiss::MetricType mt = l2() ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
    const size_t d = static_cast<size_t>(dim());
    auto quantizer = l2() ? std::unique_ptr<faiss::Index>(new faiss::IndexFlatL2(d))
                          : std::unique_ptr<faiss::Index>(new faiss::IndexFlatIP(d));
    std::unique_ptr<faiss::IndexIVF> ivf;
    switch (opt_.encoding) {
      case IvfEncoding::kFlat:
        ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), d, nl, mt);
        break;
      case IvfEncoding::kSQ8:
      case IvfEncoding::kSQ4:
        ivf = std::make_unique<faiss::IndexIVFScalarQuantizer>(
            quantizer.get(), d, nl,
            opt_.encoding == IvfEncoding::kSQ8 ? faiss::ScalarQuantizer::QT_8bit
                                               : faiss::ScalarQuantizer::QT_4bit,
            mt, true);
        break;
      case IvfEncoding::kPQ: {
        auto pq = std::make_unique<faiss::IndexIVFPQ>(quantizer.get(), d, nl,
                                                      static_cast<size_t>(opt_.pq_m), 8, mt);
        pq->pq.cp.seed = static_cast<int>(opt_.seed & 0x7fffffff);
        ivf = std::move(pq);
        break;
      }
    }
    ivf->own_fields = true;
    quantizer.release();
    ivf->cp.seed = static_cast<int>(opt_.seed & 0x7fffffff);
    return ivf;
  }

  // Trains on a seeded sample of the buffer and moves every buffered vector into the lists.
  // While untrained the buffer is dense, so buffer row == slot and every slot is live.
  Status train_and_fill() {
    const int64_t n = ids().slots();
    const size_t d = static_cast<size_t>(dim());
    const int64_t nl = derived_nlist(n);
    const int64_t sample_n =
        std::min<int64_t>(n, std::max(opt_.max_train_samples, min_training_points(opt_, nl)));
    std::vector<float> sample;
    const float* train_x = buffer_.data();
    if (sample_n < n) {
      std::vector<int64_t> rows(static_cast<size_t>(n));
      std::iota(rows.begin(), rows.end(), int64_t{0});
      std::mt19937_64 rng(opt_.seed);
      for (int64_t i = 0; i < sample_n; ++i) {
        std::uniform_int_distribution<int64_t> pick(i, n - 1);
        std::swap(rows[i], rows[pick(rng)]);
      }
      std::sort(rows.begin(), rows.begin() + sample_n);
      sample.resize(static_cast<size_t>(sample_n) * d);
      for (int64_t i = 0; i < sample_n; ++i)
        std::copy_n(buffer_.begin() + rows[i] * d, d, sample.begin() + i * d);
      train_x = sample.data();
    }
    ivf_ = make_faiss(nl);
    {
      const double work = double(sample_n) * double(nl) * double(d);
      ScopedOmpThreads team(work >= kParallelTrainWork ? resolve_threads(0, 1 << 20) : 1);
      ivf_->train(sample_n, train_x);
    }
    sample = {};
    ivf_->set_direct_map_type(faiss::DirectMap::Hashtable);
    refresh_centroids();
    // The buffer is released only once the lists hold everything: a failure leaves it intact.
    VECPERF_RETURN_IF_ERROR(add_to_lists(0, MatrixView{buffer_.data(), n, dim()}));
    buffer_ = {};
    return Status::OK();
  }

  void refresh_centroids() {
    const int64_t nl = nlist();
    centroids_.resize(static_cast<size_t>(nl * dim()));
    ivf_->quantizer->reconstruct_n(0, nl, centroids_.data());
  }

  // Nearest centroid of each row, with our kernels (FAISS's single-vector path is scalar).
  void assign(MatrixView v, int64_t* out) const {
    const size_t d = static_cast<size_t>(dim());
    const int64_t nl = nlist();
    const DistanceKernels& kern = kernels();
    const bool is_l2 = l2();
    parallel_chunks(v.rows, resolve_threads(0, v.rows / 256), [&](int64_t b, int64_t e, int) {
      std::vector<float> dis(static_cast<size_t>(nl));
      for (int64_t i = b; i < e; ++i) {
        (is_l2 ? kern.l2sqr_many : kern.dot_many)(v.row(i), centroids_.data(), nl, d, dis.data());
        int64_t best = 0;
        for (int64_t c = 1; c < nl; ++c)
          if (is_l2 ? dis[c] < dis[best] : dis[c] > dis[best]) best = c;
        out[i] = best;
      }
    });
  }

  Status add_to_lists(int64_t first_slot, MatrixView v) {
    const size_t d = static_cast<size_t>(dim());
    std::vector<faiss::Index::idx_t> list_of(static_cast<size_t>(v.rows));
    std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(v.rows));
    std::iota(labels.begin(), labels.end(), first_slot);
    assign(v, list_of.data());
    const bool keep = keeps_originals();
    try {
      if (keep) {
        originals_.resize(static_cast<size_t>(first_slot) * d);
        originals_.insert(originals_.end(), v.data, v.data + v.rows * d);
      }
      // Adds arrive in chunks of a few thousand rows (see IndexBase): too little to share.
      ScopedOmpThreads team(1);
      ivf_->add_core(v.rows, v.data, labels.data(), list_of.data());
    } catch (const std::exception& e) {
      // All-or-nothing: take back whatever part of this batch reached the lists.
      try {
        faiss::IDSelectorArray sel(labels.size(), labels.data());
        ivf_->remove_ids(sel);
      } catch (const std::exception&) {
      }
      if (keep) originals_.resize(static_cast<size_t>(first_slot) * d);
      if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr)
        return Status::ResourceExhausted("out of memory while adding to the IVF lists");
      return Status::Internal(std::string("FAISS failed to add to the IVF lists: ") + e.what());
    }
    return Status::OK();
  }

  bool keeps_originals() const { return opt_.encoding != IvfEncoding::kFlat && opt_.rerank > 0; }

  // Drops the tombstoned slots, renumbering as IdMap::compact() does; the labels in the lists,
  // the direct map and the re-rank store follow. Everything that allocates comes first, so when
  // memory runs out nothing has changed and the tombstones stay (still correct, as in HNSW).
  void compact() {
    auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivf_->invlists);
    if (lists == nullptr) return;  // every index we build or load has array lists
    IdMap& map = ids();
    const size_t d = static_cast<size_t>(dim());
    try {
      const std::vector<int64_t> src = map.compaction_sources();
      using Label = faiss::Index::idx_t;
      std::vector<Label> relabel(static_cast<size_t>(map.slots()), -1);
      for (size_t s = 0; s < src.size(); ++s)
        relabel[static_cast<size_t>(src[s])] = static_cast<Label>(s);
      std::unordered_map<Label, Label> direct;
      direct.reserve(src.size());
      for (size_t l = 0; l < lists->nlist; ++l)
        for (size_t j = 0; j < lists->ids[l].size(); ++j)
          direct.emplace(relabel[static_cast<size_t>(lists->ids[l][j])], faiss::lo_build(l, j));
      std::vector<float> originals;
      if (!originals_.empty()) {
        originals.resize(src.size() * d);
        for (size_t s = 0; s < src.size(); ++s)
          std::copy_n(originals_.begin() + static_cast<size_t>(src[s]) * d, d,
                      originals.begin() + s * d);
      }
      for (std::vector<Label>& labels : lists->ids)
        for (Label& label : labels) label = relabel[static_cast<size_t>(label)];
      ivf_->direct_map.hashtable.swap(direct);
      originals_.swap(originals);
      map.compact();
    } catch (const std::bad_alloc&) {
      // Thrown before anything changed: the tombstones stay.
    }
  }

  // Exact search of the training buffer (all slots live).
  void search_buffer(MatrixView q, int64_t begin, int64_t end, int64_t k_eff, int64_t stride,
                     float* dists, int64_t* labels) const {
    const int64_t n = ids().slots();
    const size_t d = static_cast<size_t>(dim());
    const DistanceKernels& kern = kernels();
    const bool is_l2 = l2();
    constexpr int64_t kBlock = 1024;
    std::vector<float> buf(kBlock);
    TopK top(k_eff);
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t b = 0; b < n; b += kBlock) {
        const int64_t m = std::min(kBlock, n - b);
        (is_l2 ? kern.l2sqr_many : kern.dot_many)(q.row(i), buffer_.data() + b * d, m, d,
                                                  buf.data());
        if (!is_l2)
          for (int64_t j = 0; j < m; ++j) buf[j] = 1.0f - buf[j];
        top.push_block(buf.data(), m, b);
      }
      top.extract(dists + i * stride, labels + i * stride);
    }
  }

  // The `nprobe` lists nearest to `query`: list numbers in `probe`, and in `probe_raw` the raw
  // coarse value FAISS's scanners expect (squared L2, or the inner product).
  void coarse(const float* query, std::vector<float>& dis, TopK& top,
              std::vector<float>& sel_dis, std::vector<int64_t>& probe,
              std::vector<float>& probe_raw) const {
    const int64_t nl = nlist();
    const size_t d = static_cast<size_t>(dim());
    const DistanceKernels& kern = kernels();
    if (l2()) {
      kern.l2sqr_many(query, centroids_.data(), nl, d, dis.data());
    } else {
      kern.dot_many(query, centroids_.data(), nl, d, dis.data());
      for (int64_t c = 0; c < nl; ++c) dis[c] = -dis[c];
    }
    top.push_block(dis.data(), nl, 0);
    const int64_t got = top.extract(sel_dis.data(), probe.data());
    for (int64_t j = 0; j < got; ++j) probe_raw[j] = l2() ? sel_dis[j] : -sel_dis[j];
  }

  // kFlat, several queries: the same work as scan_flat, reordered so that each block of
  // centroids and each block of a list is loaded into cache once for all the queries of the
  // batch that need it. A query reads ~1 MB of centroids and lists at 128 dimensions, so one
  // query at a time is bound by memory traffic, not arithmetic. TopK's label tie-break makes the
  // result independent of the order in which candidates arrive, so it equals scan_flat's.
  void scan_flat_batch(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t k_eff,
                       int64_t stride, float* dists, int64_t* labels) const {
    const size_t d = static_cast<size_t>(dim());
    const DistanceKernels& kern = kernels();
    const ManyFn many = l2() ? kern.l2sqr_many : kern.dot_many;
    const bool is_l2 = l2();
    const int64_t nl = nlist(), nb = end - begin;
    const faiss::InvertedLists* il = ivf_->invlists;

    // Coarse distances of the batch, centroid block outer so that a block stays in L1.
    std::vector<float> cdis(static_cast<size_t>(nb * nl));
    for (int64_t c = 0; c < nl; c += kRowBlock) {
      const int64_t m = std::min<int64_t>(kRowBlock, nl - c);
      for (int64_t i = 0; i < nb; ++i)
        many(q.row(begin + i), centroids_.data() + c * d, m, d, cdis.data() + i * nl + c);
    }
    // Probed lists per query, then inverted: the queries of each list (counting sort).
    std::vector<int64_t> probe(static_cast<size_t>(nb * nprobe));
    std::vector<float> sel(nprobe);
    TopK ctop(nprobe);
    for (int64_t i = 0; i < nb; ++i) {
      float* row = cdis.data() + i * nl;
      if (!is_l2)
        for (int64_t c = 0; c < nl; ++c) row[c] = -row[c];
      ctop.push_block(row, nl, 0);
      const int64_t got = ctop.extract(sel.data(), probe.data() + i * nprobe);
      std::fill(probe.begin() + i * nprobe + got, probe.begin() + (i + 1) * nprobe, -1);
    }
    std::vector<int64_t> start(static_cast<size_t>(nl + 1), 0);
    for (int64_t l : probe)
      if (l >= 0) ++start[l + 1];
    for (int64_t l = 0; l < nl; ++l) start[l + 1] += start[l];
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    std::vector<int32_t> who(static_cast<size_t>(start[nl]));
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t p = 0; p < nprobe; ++p)
        if (int64_t l = probe[i * nprobe + p]; l >= 0) who[fill[l]++] = static_cast<int32_t>(i);

    std::vector<TopK> tops(static_cast<size_t>(nb), TopK(k_eff));
    std::vector<float> buf(kRowBlock);
    for (int64_t l = 0; l < nl; ++l) {
      if (start[l] == start[l + 1]) continue;
      const size_t size = il->list_size(static_cast<size_t>(l));
      const float* codes = reinterpret_cast<const float*>(il->get_codes(static_cast<size_t>(l)));
      const faiss::Index::idx_t* lids = il->get_ids(static_cast<size_t>(l));
      for (size_t b = 0; b < size; b += kRowBlock) {
        const size_t m = std::min<size_t>(kRowBlock, size - b);
        for (int64_t w = start[l]; w < start[l + 1]; ++w) {
          const int32_t i = who[w];
          TopK& top = tops[i];
          many(q.row(begin + i), codes + b * d, m, d, buf.data());
          for (size_t j = 0; j < m; ++j) {
            const float dist = to_distance(is_l2, buf[j]);
            if (dist <= top.threshold()) top.push(dist, lids[b + j]);
          }
        }
      }
    }
    for (int64_t i = 0; i < nb; ++i)
      tops[i].extract(dists + (begin + i) * stride, labels + (begin + i) * stride);
  }

  // kFlat: the list codes are float32 rows, scored with our kernels.
  void scan_flat(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t k_eff,
                 int64_t stride, float* dists, int64_t* labels) const {
    const size_t d = static_cast<size_t>(dim());
    const DistanceKernels& kern = kernels();
    const bool is_l2 = l2();
    const faiss::InvertedLists* il = ivf_->invlists;
    std::vector<float> cdis(static_cast<size_t>(nlist())), sel(nprobe), raw(nprobe);
    std::vector<int64_t> probe(nprobe);
    TopK ctop(nprobe), top(k_eff);
    constexpr size_t kBlock = 512;
    std::vector<float> buf(kBlock);
    for (int64_t i = begin; i < end; ++i) {
      const float* query = q.row(i);
      coarse(query, cdis, ctop, sel, probe, raw);
      for (int64_t p = 0; p < nprobe; ++p) {
        const size_t list = static_cast<size_t>(probe[p]);
        const size_t size = il->list_size(list);
        if (size == 0) continue;
        const float* codes = reinterpret_cast<const float*>(il->get_codes(list));
        const faiss::Index::idx_t* lids = il->get_ids(list);
        for (size_t b = 0; b < size; b += kBlock) {
          const size_t m = std::min(kBlock, size - b);
          (is_l2 ? kern.l2sqr_many : kern.dot_many)(query, codes + b * d, m, d, buf.data());
          for (size_t j = 0; j < m; ++j) {
            const float dist = to_distance(is_l2, buf[j]);
            if (dist <= top.threshold()) top.push(dist, lids[b + j]);
          }
        }
      }
      top.extract(dists + i * stride, labels + i * stride);
    }
  }

  // kSQ8 / kSQ4 / kPQ: FAISS's scanner scores the codes; optionally re-rank exactly.
  void scan_codes(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t rerank,
                  int64_t k_eff, int64_t stride, float* dists, int64_t* labels) const {
    const size_t d = static_cast<size_t>(dim());
    const bool is_l2 = l2();
    const faiss::InvertedLists* il = ivf_->invlists;
    std::unique_ptr<faiss::InvertedListScanner> scanner(ivf_->get_InvertedListScanner(false));
    // More candidates than live vectors cannot be found; a huge rerank must not size the heaps.
    const size_t kk = static_cast<size_t>(std::max<int64_t>(k_eff, std::min(rerank, ids().live())));
    std::vector<float> cdis(static_cast<size_t>(nlist())), sel(nprobe), raw(nprobe);
    std::vector<int64_t> probe(nprobe);
    std::vector<float> hdis(kk);
    std::vector<faiss::Index::idx_t> hids(kk);
    TopK ctop(nprobe), top(k_eff);
    using HeapL2 = faiss::CMax<float, faiss::Index::idx_t>;
    using HeapIp = faiss::CMin<float, faiss::Index::idx_t>;
    for (int64_t i = begin; i < end; ++i) {
      const float* query = q.row(i);
      coarse(query, cdis, ctop, sel, probe, raw);
      if (is_l2)
        faiss::heap_heapify<HeapL2>(kk, hdis.data(), hids.data());
      else
        faiss::heap_heapify<HeapIp>(kk, hdis.data(), hids.data());
      scanner->set_query(query);
      for (int64_t p = 0; p < nprobe; ++p) {
        const size_t list = static_cast<size_t>(probe[p]);
        const size_t size = il->list_size(list);
        if (size == 0) continue;
        scanner->set_list(probe[p], raw[p]);
        scanner->scan_codes(size, il->get_codes(list), il->get_ids(list), hdis.data(),
                            hids.data(), kk);
      }
      for (size_t j = 0; j < kk; ++j) {
        if (hids[j] < 0) continue;
        const float dist =
            rerank > 0 ? metric_distance(metric(), query, originals_.data() + hids[j] * d, d)
                       : to_distance(is_l2, hdis[j]);
        top.push(dist, hids[j]);
      }
      top.extract(dists + i * stride, labels + i * stride);
    }
  }

  // Checks a freshly loaded FAISS index against our parameters and id map; "" when sound.
  std::string check_loaded() const {
    const faiss::IndexIVF& ivf = *ivf_;
    if (ivf.d != dim()) return "dimension " + std::to_string(ivf.d) + " differs from the index";
    if (ivf.metric_type != (l2() ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT))
      return "metric differs from the index";
    if (!ivf.is_trained || ivf.nlist < 1 || ivf.quantizer == nullptr ||
        ivf.quantizer->ntotal != static_cast<faiss::Index::idx_t>(ivf.nlist) ||
        ivf.quantizer->d != dim() || ivf.invlists == nullptr || ivf.invlists->nlist != ivf.nlist)
      return "coarse quantizer or lists malformed";
    if (opt_.nlist > 0 && ivf.nlist != static_cast<size_t>(opt_.nlist))
      return "nlist differs from the saved options";
    bool encoding_ok = false;
    switch (opt_.encoding) {
      case IvfEncoding::kFlat:
        encoding_ok = dynamic_cast<const faiss::IndexIVFFlat*>(&ivf) != nullptr &&
                      ivf.code_size == static_cast<size_t>(dim()) * sizeof(float);
        break;
      case IvfEncoding::kSQ8:
      case IvfEncoding::kSQ4: {
        auto* sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer*>(&ivf);
        encoding_ok = sq != nullptr && sq->sq.qtype == (opt_.encoding == IvfEncoding::kSQ8
                                                           ? faiss::ScalarQuantizer::QT_8bit
                                                           : faiss::ScalarQuantizer::QT_4bit);
        break;
      }
      case IvfEncoding::kPQ: {
        auto* pq = dynamic_cast<const faiss::IndexIVFPQ*>(&ivf);
        encoding_ok = pq != nullptr && pq->pq.M == static_cast<size_t>(opt_.pq_m) &&
                      pq->pq.nbits == 8;
        break;
      }
    }
    if (!encoding_ok) return "encoding differs from the saved options";
    if (ivf.invlists->code_size != ivf.code_size) return "list code size is wrong";
    if (ivf.direct_map.type != faiss::DirectMap::Hashtable) return "direct map missing";
    // Every live slot exactly once in the lists, and nothing else.
    const IdMap& map = ids();
    if (ivf.ntotal != map.live() ||
        ivf.direct_map.hashtable.size() != static_cast<size_t>(map.live()))
      return "vector count differs from the id map";
    std::vector<uint8_t> seen(static_cast<size_t>(map.slots()), 0);
    for (size_t l = 0; l < ivf.nlist; ++l) {
      const size_t n = ivf.invlists->list_size(l);
      const faiss::Index::idx_t* lids = ivf.invlists->get_ids(l);
      for (size_t j = 0; j < n; ++j) {
        const faiss::Index::idx_t s = lids[j];
        if (s < 0 || s >= map.slots() || map.id(s) == kNoId || seen[s])
          return "list " + std::to_string(l) + " holds an unknown or repeated slot";
        seen[s] = 1;
        auto it = ivf.direct_map.hashtable.find(s);
        if (it == ivf.direct_map.hashtable.end() ||
            it->second != static_cast<faiss::Index::idx_t>((uint64_t(l) << 32) | j))
          return "direct map disagrees with the lists";
      }
    }
    return "";
  }

  IvfOptions opt_;
  std::vector<float> buffer_;       // untrained: slots x dim, dense
  std::unique_ptr<faiss::IndexIVF> ivf_;  // trained: quantizer, code books and lists
  std::vector<float> centroids_;    // trained: nlist x dim, for our coarse assignment
  std::vector<float> originals_;    // compressed with rerank > 0: slots x dim (tombstones zero)
};

}  // namespace

Result<std::unique_ptr<IndexImpl>> new_ivf(int64_t dim, Metric metric, const IvfOptions& options) {
  return std::unique_ptr<IndexImpl>(std::make_unique<IvfIndex>(dim, metric, options));
}

Result<std::unique_ptr<IndexImpl>> load_ivf(Reader& r, int64_t dim, Metric metric, IdMap ids) {
  return IvfIndex::load(r, dim, metric, std::move(ids));
}

}  // namespace vecperf::internal
