// IVF backend, adds and training: the buffer before training, k-means on a seeded sample, and
// the assignment of vectors to their lists with our kernels (ivf_index.h).
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/invlists/DirectMap.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/guarded.h"
#include "common/parallel.h"
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

}  // namespace

Status IvfIndex::add_locked(int64_t first_slot, MatrixView v, int num_threads) {
  if (ivf_) return add_to_lists(first_slot, v, num_threads);
  const size_t d = static_cast<size_t>(dim());
  buffer_.insert(buffer_.end(), v.data, v.data + v.rows * d);
  if (ids().live() < train_threshold()) return Status::OK();
  Status s;
  s = guarded("training the IVF index", [&] { return train_and_fill(num_threads); });
  if (!s.ok()) {
    // Back to the untrained state without this add's vectors.
    ivf_.reset();
    centroids_.clear();
    originals_.clear();
    buffer_.resize(static_cast<size_t>(first_slot) * d);
  }
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
      std::copy_n(buffer_.begin() + rows[i] * d, d, sample.begin() + i * d);
    train_x = sample.data();
  }
  ivf_ = make_faiss(nl);
  {
    const double work = double(sample_n) * double(nl) * double(d);
    ScopedOmpThreads team(work >= kParallelTrainWork ? resolve_threads(num_threads, 1 << 20) : 1);
    ivf_->train(sample_n, train_x);
  }
  sample = {};
  ivf_->set_direct_map_type(faiss::DirectMap::Hashtable);
  refresh_centroids();
  // The buffer is released only once the lists hold everything: a failure leaves it intact.
  VECPERF_RETURN_IF_ERROR(add_to_lists(0, MatrixView{buffer_.data(), n, dim()}, num_threads));
  buffer_ = {};
  return Status::OK();
}

void IvfIndex::refresh_centroids() {
  const int64_t nl = nlist();
  centroids_.resize(static_cast<size_t>(nl * dim()));
  ivf_->quantizer->reconstruct_n(0, nl, centroids_.data());
}

void IvfIndex::assign(MatrixView v, int64_t* out, int num_threads) const {
  const size_t d = static_cast<size_t>(dim());
  const int64_t nl = nlist();
  const DistanceKernels& kern = kernels();
  const bool is_l2 = l2();
  parallel_chunks(
      v.rows, resolve_threads(num_threads, v.rows / 256), [&](int64_t b, int64_t e, int) {
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

Status IvfIndex::add_to_lists(int64_t first_slot, MatrixView v, int num_threads) {
  const size_t d = static_cast<size_t>(dim());
  std::vector<faiss::Index::idx_t> list_of(static_cast<size_t>(v.rows));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(v.rows));
  std::iota(labels.begin(), labels.end(), first_slot);
  assign(v, list_of.data(), num_threads);
  const bool keep = keeps_originals();
  Status s = guarded_void("adding to the IVF lists", [&] {
    if (keep) {
      originals_.resize(static_cast<size_t>(first_slot) * d);
      originals_.insert(originals_.end(), v.data, v.data + v.rows * d);
    }
    // Adds arrive in chunks of a few thousand rows (see IndexBase): too little to share.
    ScopedOmpThreads team(1);
    ivf_->add_core(v.rows, v.data, labels.data(), list_of.data());
  });
  if (!s.ok()) {
    // All-or-nothing: take back whatever part of this batch reached the lists. A failure of
    // this removal leaves nothing more to undo, so its status is not reported over the first.
    (void)guarded_void("undoing a failed add to the IVF lists", [&] {
      faiss::IDSelectorArray sel(labels.size(), labels.data());
      ivf_->remove_ids(sel);
    });
    if (keep) originals_.resize(static_cast<size_t>(first_slot) * d);
  }
  return s;
}

}  // namespace vecperf::internal
