// The peers. FAISS keeps its search knob in the index object (nprobe, hnsw.efSearch) and
// hnswlib in its graph (setEf): both are set before each measured call, which is safe because
// the runner calls an engine from one thread at a time. FAISS parallelises a batch with OpenMP;
// hnswlib's batch mode splits the queries over threads, as its Python binding does.
#include "vecperf_bench/peers.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <thread>
#include <vector>

#include "hnsw_peer.h"

namespace vecperf::bench {
namespace {

int resolve_threads(int threads) {
  return threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// Row-normalised copy for cosine; rows of zeros stay zero.
std::vector<float> normalized(const float* data, int64_t rows, int64_t dim) {
  std::vector<float> v(data, data + rows * dim);
  faiss::fvec_renorm_L2(static_cast<size_t>(dim), static_cast<size_t>(rows), v.data());
  return v;
}

class FaissEngine final : public Engine {
 public:
  FaissEngine(std::unique_ptr<faiss::Index> index, const PeerParams& p)
      : index_(std::move(index)), params_(p) {}

  std::string engine() const override { return "faiss"; }
  std::string index() const override { return params_.index; }
  std::string knob() const override {
    return params_.index == "ivf" ? "nprobe" : params_.index == "hnsw" ? "ef_search" : "";
  }
  int max_knob() const override { return params_.index == "ivf" ? params_.nlist : 1024; }
  std::string describe() const override {
    const char* metric = params_.metric == Metric::kL2 ? "L2" : "inner product";
    if (params_.index == "ivf")
      return "faiss IndexIVFFlat(nlist=" + std::to_string(params_.nlist) +
             ", seed=" + std::to_string(params_.seed) + ", " + metric + ")";
    if (params_.index == "hnsw")
      return "faiss IndexHNSWFlat(M=" + std::to_string(params_.M) +
             ", efConstruction=" + std::to_string(params_.ef_construction) + ", " + metric + ")";
    return std::string("faiss IndexFlat (") + metric + ")";
  }
  size_t memory_bytes() const override { return memory_; }

  Status search(MatrixView q, int k, int value, int threads, int64_t* ids) override {
    try {
      if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get()))
        ivf->nprobe = static_cast<size_t>(value);
      if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get())) hnsw->hnsw.efSearch = value;
      omp_set_num_threads(resolve_threads(threads));
      const float* data = q.data;
      std::vector<float> unit;
      if (params_.metric == Metric::kCosine) {
        unit = normalized(q.data, q.rows, q.dim);
        data = unit.data();
      }
      distances_.resize(static_cast<size_t>(q.rows * k));
      index_->search(q.rows, data, k, distances_.data(), ids);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("faiss search: ") + e.what());
    }
    return Status::OK();
  }

  // The serialised size: FAISS has no memory accounting, and its in-memory layout is the file's
  // plus vector slack.
  void measure_memory() {
    faiss::VectorIOWriter w;
    faiss::write_index(index_.get(), &w);
    memory_ = w.data.size();
  }

 private:
  std::unique_ptr<faiss::Index> index_;
  PeerParams params_;
  std::vector<float> distances_;
  size_t memory_ = 0;
};

class HnswlibEngine final : public Engine {
 public:
  HnswlibEngine(std::unique_ptr<HnswPeer> peer, const PeerParams& p, int64_t rows, int64_t dim)
      : peer_(std::move(peer)), params_(p), rows_(rows), dim_(dim) {}

  std::string engine() const override { return "hnswlib"; }
  std::string index() const override { return "hnsw"; }
  std::string knob() const override { return "ef_search"; }
  int max_knob() const override { return 1024; }
  std::string describe() const override {
    return std::string("hnswlib 0.6.2 HierarchicalNSW(M=") + std::to_string(params_.M) +
           ", ef_construction=" + std::to_string(params_.ef_construction) + ", " + peer_->simd() +
           " kernels, -march=native)";
  }
  // hnswlib's layout: per element the level-0 links (2M ids and a count), the vector and the
  // label; a 1/M share of elements has upper levels of M links each (a geometric series); plus
  // the label map.
  size_t memory_bytes() const override {
    const double n = double(rows_), m = double(params_.M);
    const double level0 = n * (2 * m * 4 + 4 + double(dim_) * 4 + 8);
    const double upper = n / (m - 1) * (m * 4 + 4 + 8);
    const double labels = n * 32;
    return static_cast<size_t>(level0 + upper + labels);
  }
  bool memory_estimated() const override { return true; }

  Status search(MatrixView q, int k, int value, int threads, int64_t* ids) override {
    if (value != ef_) {
      peer_->set_ef(value);
      ef_ = value;
    }
    const float* data = q.data;
    std::vector<float> unit;
    if (params_.metric == Metric::kCosine) {
      unit = normalized(q.data, q.rows, q.dim);
      data = unit.data();
    }
    // searchKnn returns fewer than k labels when the graph holds fewer vectors.
    std::fill(ids, ids + q.rows * k, kNoId);
    if (q.rows == 1) {
      peer_->search(data, k, ids);
      return Status::OK();
    }
    std::atomic<int64_t> next{0};
    auto work = [&] {
      for (int64_t i = next++; i < q.rows; i = next++)
        peer_->search(data + i * q.dim, k, ids + i * k);
    };
    std::vector<std::thread> pool;
    const int n = std::min<int64_t>(resolve_threads(threads), q.rows);
    for (int t = 1; t < n; ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    return Status::OK();
  }

 private:
  std::unique_ptr<HnswPeer> peer_;
  PeerParams params_;
  int64_t rows_, dim_;
  int ef_ = -1;
};

}  // namespace

Result<std::unique_ptr<Engine>> build_faiss(const FloatMatrix& base, const PeerParams& p) {
  const int64_t n = base.rows(), d = base.dim();
  const faiss::MetricType metric =
      p.metric == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
  std::vector<float> unit;
  const float* data = base.data();
  if (p.metric == Metric::kCosine) {
    unit = normalized(base.data(), n, d);
    data = unit.data();
  }
  try {
    omp_set_num_threads(resolve_threads(p.threads));
    std::unique_ptr<faiss::Index> index;
    if (p.index == "ivf") {
      auto ivf = std::make_unique<faiss::IndexIVFFlat>(new faiss::IndexFlat(d, metric), d,
                                                       static_cast<size_t>(p.nlist), metric);
      ivf->own_fields = true;
      ivf->cp.seed = static_cast<int>(p.seed);
      if (p.train_rows > 0)
        ivf->cp.max_points_per_centroid =
            std::max<int>(ivf->cp.max_points_per_centroid,
                          static_cast<int>((p.train_rows + p.nlist - 1) / std::max(1, p.nlist)));
      ivf->train(n, data);
      index = std::move(ivf);
    } else if (p.index == "hnsw") {
      auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(d), p.M, metric);
      hnsw->hnsw.efConstruction = p.ef_construction;
      index = std::move(hnsw);
    } else {
      index = std::make_unique<faiss::IndexFlat>(d, metric);
    }
    index->add(n, data);
    auto engine = std::make_unique<FaissEngine>(std::move(index), p);
    engine->measure_memory();
    return std::unique_ptr<Engine>(std::move(engine));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("faiss build: ") + e.what());
  }
}

Result<std::unique_ptr<Engine>> build_hnswlib(const FloatMatrix& base, const PeerParams& p) {
  if (p.metric == Metric::kInnerProduct)
    return Status::NotSupported(
        "the hnswlib peer has only the L2 space; it runs with --metric "
        "l2 or cosine");
  std::vector<float> unit;
  const float* data = base.data();
  if (p.metric == Metric::kCosine) {
    unit = normalized(base.data(), base.rows(), base.dim());
    data = unit.data();
  }
  std::unique_ptr<HnswPeer> peer =
      make_hnswlib_native(base.dim(), p.M, p.ef_construction, p.hnsw_seed);
  peer->build(data, base.rows(), resolve_threads(p.threads));
  return std::unique_ptr<Engine>(
      std::make_unique<HnswlibEngine>(std::move(peer), p, base.rows(), base.dim()));
}

}  // namespace vecperf::bench
