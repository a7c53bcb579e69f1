// IVF backend, adds and training: the buffer before training, k-means on a seeded sample, and
// the assignment of vectors to their lists with our kernels (ivf_index.h).
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/invlists/DirectMap.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "common/guarded.h"
#include "common/parallel.h"
#include "common/test_points.h"
#include "distance/distance.h"
#include "index/ivf_index.h"

namespace vecperf::internal {
namespace {

constexpr int kMaxDerivedNlist = 65536;

// Fewest points k-means and the code books need to train without degenerate clusters.
int64_t min_training_points(const IvfOptions& o, int64_t nlist) {
  int64_t need = kMinPointsPerCentroid * std::max<int64_t>(1, nlist);
  if (o.encoding == IvfEncoding::kPQ) need = std::max(need, kMinPointsPerCentroid * kPqCentroids);
  return need;
}

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

// Nearest of the `nc` centroids (nc x d, row-major) to each of the n rows of x, with our kernels
// on up to `threads` threads: labels[i], and (if `distances`) distances[i] as FAISS's flat
// indexes report them (squared L2, or the inner product).
void nearest_centroids(const float* x, int64_t n, int64_t d, const float* centroids, int64_t nc,
                       bool l2, int threads, int64_t* labels, float* distances) {
  const DistanceKernels& kern = kernels();
  const size_t dim = static_cast<size_t>(d);
  parallel_chunks(n, resolve_threads(threads, n / 256), [&](int64_t b, int64_t e, int) {
    std::vector<float> dis(static_cast<size_t>(nc));
    for (int64_t i = b; i < e; ++i) {
      (l2 ? kern.l2sqr_many : kern.dot_many)(x + i * d, centroids, nc, dim, dis.data());
      int64_t best = 0;
      for (int64_t c = 1; c < nc; ++c)
        if (l2 ? dis[c] < dis[best] : dis[c] > dis[best]) best = c;
      labels[i] = best;
      if (distances != nullptr) distances[i] = dis[best];
    }
  });
}

// The assignment step of FAISS's k-means (each training point's nearest centroid), on our
// kernels and the add's threads. FAISS would run it as an sgemm on OpenBLAS's thread pool, which
// is process-wide and ignores AddOptions::num_threads: while an add trained, its threads took
// the cores of the searches running meanwhile (see docs/design/index-concurrency.md, "IVF").
// FAISS keeps the rest of k-means (seeding, updates, empty-cluster splits). Nearest-only (k = 1),
// which is all k-means asks of it; distances as FAISS's flat indexes report them.
class KernelAssigner final : public faiss::Index {
 public:
  KernelAssigner(int64_t d, bool l2, int threads)
      : faiss::Index(d, l2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT), threads_(threads) {}

  void add(idx_t n, const float* x) override {
    centroids_.insert(centroids_.end(), x, x + n * d);
    ntotal += n;
  }
  void reset() override {
    centroids_.clear();
    ntotal = 0;
  }
  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* /*params*/) const override {
    if (k != 1) throw std::invalid_argument("the k-means assigner finds the nearest centroid only");
    if (ntotal == 0) throw std::invalid_argument("the k-means assigner has no centroids");
    nearest_centroids(x, n, d, centroids_.data(), ntotal, metric_type == faiss::METRIC_L2, threads_,
                      labels, distances);
  }

 private:
  const int threads_;
  std::vector<float> centroids_;
};

}  // namespace

Status IvfIndex::add_unlocked(IdSpan new_ids, MatrixView v, int num_threads) {
  // write_mu_ and read_gate_ are held: this is the only writer, so ivf_, the centroids, the
  // stores and the id map change only here, and reading them needs no lock.
  if (ivf_) return add_to_lists(new_ids, v, num_threads);
  VECPERF_RETURN_IF_ERROR(publish_rows(new_ids, v, buffer_));
  if (ids().live() < train_threshold()) return Status::OK();
  // The rows are searchable (exactly, in the buffer) while the lists are trained and filled.
  Status s = guarded("training the IVF index", [&] { return train_and_fill(num_threads); });
  if (!s.ok()) withdraw_ids(new_ids);  // all or nothing: back to the buffer without these rows
  return s;
}

int64_t IvfIndex::train_threshold() const {
  if (opt_.nlist > 0) {
    const int64_t need = min_training_points(opt_, opt_.nlist);
    return std::max(opt_.train_threshold > 0 ? opt_.train_threshold : int64_t{1000}, need);
  }
  const int64_t need = min_training_points(opt_, 1);
  return std::max(opt_.train_threshold > 0 ? opt_.train_threshold : int64_t{1000}, need);
}

int64_t IvfIndex::derived_nlist(int64_t n) const {
  if (opt_.nlist > 0) return opt_.nlist;
  const int64_t want = std::llround(4.0 * std::sqrt(double(n)));
  const int64_t cap = std::max<int64_t>(1, n / kMinPointsPerCentroid);
  return std::clamp<int64_t>(want, 1, std::min<int64_t>(cap, kMaxDerivedNlist));
}

std::unique_ptr<faiss::IndexIVF> IvfIndex::make_faiss(int64_t nl) const {
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
      ivf = std::make_unique<faiss::IndexIVFScalarQuantizer>(quantizer.get(), d, nl,
                                                             opt_.encoding == IvfEncoding::kSQ8
                                                                 ? faiss::ScalarQuantizer::QT_8bit
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
  ivf->own_fields = true;  // ivf now owns the quantizer
  (void)quantizer.release();
  ivf->cp.seed = static_cast<int>(opt_.seed & 0x7fffffff);
  return ivf;
}

Status IvfIndex::train_and_fill(int num_threads) {
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
      std::copy_n(buffer_.row(rows[i]), d, sample.begin() + i * d);
    train_x = sample.data();
  }
  std::unique_ptr<faiss::IndexIVF> trained = make_faiss(nl);
  {
    const double work = double(sample_n) * double(nl) * double(d);
    const int threads = work >= kParallelTrainWork ? resolve_threads(num_threads, 1 << 20) : 1;
    ScopedOmpThreads team(threads);
    KernelAssigner coarse(dim(), l2(), threads);
    trained->clustering_index = &coarse;
    // PQ trains its sub-quantizers with k-means too: the same assigner, at their dimension.
    auto* pq = dynamic_cast<faiss::IndexIVFPQ*>(trained.get());
    std::unique_ptr<KernelAssigner> sub;
    if (pq != nullptr) {
      sub = std::make_unique<KernelAssigner>(static_cast<int64_t>(pq->pq.dsub), true, threads);
      pq->pq.assign_index = sub.get();
    }
    trained->train(sample_n, train_x);
    trained->clustering_index = nullptr;  // neither outlives this block
    if (pq != nullptr) pq->pq.assign_index = nullptr;
  }
  sample = {};
  reach(TestPoint::kTrainingInProgress);
  trained->set_direct_map_type(faiss::DirectMap::Hashtable);
  std::vector<float> centroids = centroids_of(*trained);
  // No search sees `trained` yet: FAISS fills its lists directly.
  std::vector<faiss::Index::idx_t> list_of(static_cast<size_t>(n)), labels(list_of.size());
  std::iota(labels.begin(), labels.end(), faiss::Index::idx_t{0});
  const MatrixView all{buffer_.data(), n, dim()};
  assign(all, centroids.data(), nl, list_of.data(), num_threads);
  {
    ScopedOmpThreads team(1);
    trained->add_core(n, all.data, labels.data(), list_of.data());
  }
  if (keeps_originals()) VECPERF_RETURN_IF_ERROR(originals_.stage(all));
  RowStore::Buffer released, replaced;  // freed on return, after the exclusive lock
  exclusive([&] {
    ivf_ = std::move(trained);
    centroids_.swap(centroids);
    replaced = originals_.commit();
    released = buffer_.release();
  });
  return Status::OK();
}

std::vector<float> IvfIndex::centroids_of(const faiss::IndexIVF& ivf) {
  std::vector<float> c(ivf.nlist * static_cast<size_t>(ivf.d));
  ivf.quantizer->reconstruct_n(0, static_cast<faiss::Index::idx_t>(ivf.nlist), c.data());
  return c;
}

void IvfIndex::assign(MatrixView v, const float* centroids, int64_t nl, int64_t* out,
                      int num_threads) const {
  nearest_centroids(v.data, v.rows, dim(), centroids, nl, l2(), num_threads, out, nullptr);
}

Status IvfIndex::add_to_lists(IdSpan new_ids, MatrixView v, int num_threads) {
  const int64_t first_slot = ids().slots();
  std::vector<faiss::Index::idx_t> list_of(static_cast<size_t>(v.rows));
  assign(v, centroids_.data(), nlist(), list_of.data(), num_threads);
  std::vector<uint8_t> codes;
  VECPERF_RETURN_IF_ERROR(guarded_void("encoding vectors for the IVF lists", [&] {
    codes.resize(static_cast<size_t>(v.rows) * ivf_->code_size);
    // A chunk is a few thousand rows (see IndexBase): too little to share with OpenMP.
    ScopedOmpThreads team(1);
    ivf_->encode_vectors(v.rows, v.data, list_of.data(), codes.data());
  }));
  const bool keep = keeps_originals();
  if (keep) VECPERF_RETURN_IF_ERROR(originals_.stage(v));
  reach(TestPoint::kAddInProgress);
  RowStore::Buffer replaced;  // freed on return, after the exclusive lock
  auto first = publish_ids(new_ids, [&] {
    VECPERF_RETURN_IF_ERROR(append_codes(first_slot, v.rows, list_of.data(), codes.data()));
    if (keep) replaced = originals_.commit();
    return Status::OK();
  });
  if (!first.ok() && keep) originals_.discard_staged();
  return first.status();
}

Status IvfIndex::append_codes(int64_t first_slot, int64_t n, const int64_t* list_of,
                              const uint8_t* codes) {
  faiss::InvertedLists* il = ivf_->invlists;
  auto& direct = ivf_->direct_map.hashtable;
  const size_t code_size = ivf_->code_size;
  std::vector<size_t> old_size(il->nlist);
  for (size_t l = 0; l < il->nlist; ++l) old_size[l] = il->list_size(l);
  Status s = guarded_void("adding to the IVF lists", [&] {
    // Geometric growth, as the id map does: reserving exactly would rehash on every add.
    const size_t needed = direct.size() + static_cast<size_t>(n);
    if (static_cast<float>(needed) > direct.bucket_count() * direct.max_load_factor())
      direct.reserve(std::max(needed, 2 * direct.size()));
    for (int64_t i = 0; i < n; ++i) {
      const auto label = static_cast<faiss::Index::idx_t>(first_slot + i);
      const auto list = static_cast<size_t>(list_of[i]);
      const size_t offset = il->add_entry(list, label, codes + static_cast<size_t>(i) * code_size);
      direct[label] = faiss::lo_build(list, offset);
    }
  });
  if (!s.ok()) {
    // Only an allocation fails: take back the entries appended so far (shrinking cannot fail).
    for (size_t l = 0; l < il->nlist; ++l)
      if (il->list_size(l) != old_size[l]) il->resize(l, old_size[l]);
    for (int64_t i = 0; i < n; ++i) direct.erase(static_cast<faiss::Index::idx_t>(first_slot + i));
    return s;
  }
  ivf_->ntotal += n;
  return Status::OK();
}

}  // namespace vecperf::internal
