// Flat (exact) index: vectors stored densely in slot order (RowStore); every query scans all of
// them. Adds stage their rows without the index lock and publish them with their ids (the
// exclusive lock is held for the id map append and a pointer swap). Removal keeps the storage
// dense by moving the last vector into the hole.
//
// Two search paths, chosen by batch size (see docs/design/distance-kernels.md):
//  - Small batches stream the base through the SIMD one-query-against-many kernels. This is
//    bound by memory bandwidth, so a single query is split across threads by base rows once
//    each thread has a few megabytes to scan, and a few queries are split across threads.
//  - Large batches turn the scan into a matrix product: BLAS sgemm computes <q, x> for a tile
//    of queries against a block of base rows, and the top-k selection consumes the tile while it
//    is still in cache. For L2 the squared norms of the stored vectors are kept from add time,
//    so ||q - x||^2 = ||q||^2 + ||x||^2 - 2<q, x> needs nothing but the product.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>

#include "common/parallel.h"
#include "distance/distance.h"
#include "index/index_base.h"
#include "index/row_store.h"
#include "index/topk.h"

namespace vecperf::internal {
namespace {

// Batches of at least this many queries use sgemm; below, the SIMD scan is as fast, because a
// product this thin cannot amortise sgemm's packing of the base blocks (measured at one thread:
// 2 queries about even, 4 queries 1.1-3x faster with sgemm, at d = 128 and d = 784).
constexpr int64_t kBlasMinQueries = 4;
// sgemm tile: up to 128 queries x one base block. The block is sized to about 512 KB of
// vectors (1024 rows at d = 128, the 256-row floor at d = 784) so that it stays in L2 while every
// query tile reuses it, and the tile of products (at most 128 x 1024 floats) stays there too
// while the top-k selection reads it back. At d = 784, 256-row blocks measured ~3-5% faster
// than 1024-row ones (noisy shared machine).
constexpr int64_t kBlasQueryTile = 128;
constexpr int64_t kBlasBlockBytes = int64_t{512} << 10;
constexpr int64_t kBlasMinBlockRows = 256;
constexpr int64_t kBlasMaxBlockRows = 1024;
// Rows per SIMD kernel call on the scan path: 1024 distances stay in L1.
constexpr int64_t kScanBlock = RowStore::kScanBlock;
// Starting a thread costs tens of microseconds; below this many bytes of base per thread the
// scan finishes sooner on fewer threads.
constexpr int64_t kMinScanBytesPerThread = int64_t{2} << 20;

class FlatIndex final : public IndexBase {
 public:
  FlatIndex(int64_t dim, Metric metric, IdMap ids = {})
      : IndexBase(IndexKind::kFlat, dim, metric, std::move(ids)),
        store_(dim, metric == Metric::kL2) {}

  RowStore& store() { return store_; }

 protected:
  // write_mu_ and read_gate_ are held: the only writer, so the store can be staged unlocked.
  Status add_unlocked(IdSpan ids, MatrixView v, int /*num_threads*/) override {
    return publish_rows(ids, v, store_);
  }

  Status search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                       float* dists, int64_t* labels) const override {
    if (q.rows >= kBlasMinQueries) {
      search_blas(q, o, k_eff, stride, dists, labels);
    } else {
      search_scan(q, o, k_eff, stride, dists, labels);
    }
    return Status::OK();
  }

  Status remove_locked(std::span<const int64_t> slots) override {
    remove_dense(slots, ids(), store_);
    return Status::OK();
  }

  void vector_locked(int64_t slot, float* out) const override {
    std::copy_n(store_.row(slot), dim(), out);
  }
  // Same layout as Writer::vec (u64 count, then the floats).
  void save_locked(Writer& w) const override {
    w.array(store_.data(), static_cast<size_t>(store_.rows() * dim()));
  }
  size_t memory_locked() const override { return store_.memory_bytes(); }
  std::string describe_locked() const override {
    std::ostringstream s;
    s << "flat(dim=" << dim() << ", metric=" << metric_name(metric()) << ", size=" << ids().live()
      << ", kernels=" << kernels().name << ")";
    return s.str();
  }

 private:
  void compute_norms(const float* rows, int64_t n, float* out) const {
    const size_t d = static_cast<size_t>(dim());
    const DistanceKernels& kern = kernels();
    for (int64_t i = 0; i < n; ++i) out[i] = kern.dot(rows + i * d, rows + i * d, d);
  }

  void scan_rows(const float* query, int64_t begin, int64_t end, TopK& top, float* buf) const {
    store_.scan(query, metric(), begin, end, top, buf);
  }

  void search_scan(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                   float* dists, int64_t* labels) const {
    const int64_t n = ids().slots();
    const int64_t bytes = n * dim() * static_cast<int64_t>(sizeof(float));
    const int64_t useful = std::max<int64_t>(1, q.rows * bytes / kMinScanBytesPerThread);
    const int threads = resolve_threads(o.num_threads, useful);
    if (q.rows >= threads) {
      parallel_chunks(q.rows, threads, [&](int64_t begin, int64_t end, int) {
        std::vector<float> buf(kScanBlock);
        TopK top(k_eff);
        for (int64_t i = begin; i < end; ++i) {
          scan_rows(q.row(i), 0, n, top, buf.data());
          top.extract(dists + i * stride, labels + i * stride);
        }
      });
      return;
    }
    // Fewer queries than threads: split the base instead; each part keeps its own top-k and
    // the parts are merged in order (TopK breaks ties by label, so the result does not depend
    // on the split).
    for (int64_t i = 0; i < q.rows; ++i) {
      std::vector<TopK> parts(static_cast<size_t>(threads), TopK(k_eff));
      parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int worker) {
        std::vector<float> buf(kScanBlock);
        scan_rows(q.row(i), begin, end, parts[worker], buf.data());
      });
      for (int t = 1; t < threads; ++t) parts[0].merge(parts[t]);
      parts[0].extract(dists + i * stride, labels + i * stride);
    }
  }

  // Offers base rows [xbegin, xend) to tops[0 .. qend - qbegin) for queries [qbegin, qend),
  // through sgemm. `qnorms` holds ||q||^2 of those queries (L2 only).
  void blas_block(MatrixView q, int64_t qbegin, int64_t qend, int64_t xbegin, int64_t xend,
                  const float* qnorms, TopK* tops) const {
    const int64_t d = dim();
    const bool l2 = metric() == Metric::kL2;
    const int64_t nq = qend - qbegin;
    const int64_t block =
        std::clamp<int64_t>(kBlasBlockBytes / (d * static_cast<int64_t>(sizeof(float))),
                            kBlasMinBlockRows, kBlasMaxBlockRows);
    std::vector<float> ip(static_cast<size_t>(kBlasQueryTile * block));
    // Base blocks outside, query tiles inside: a base block is read from memory once and reused
    // from cache by every query tile.
    for (int64_t xb = xbegin; xb < xend; xb += block) {
      const int64_t nb = std::min(block, xend - xb);
      const float* x = store_.row(xb);
      for (int64_t qt = 0; qt < nq; qt += kBlasQueryTile) {
        const int64_t m = std::min(kBlasQueryTile, nq - qt);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
                    static_cast<int>(nb), static_cast<int>(d), 1.0f, q.row(qbegin + qt),
                    static_cast<int>(d), x, static_cast<int>(d), 0.0f, ip.data(),
                    static_cast<int>(nb));
        for (int64_t i = 0; i < m; ++i) {
          float* row = ip.data() + i * nb;
          if (l2) {
            const float qn = qnorms[qt + i];
            const float* xn = store_.norms() + xb;
            // Rounding in the expansion can leave a tiny negative for a near-duplicate.
            for (int64_t j = 0; j < nb; ++j) row[j] = std::max(0.0f, qn + xn[j] - 2.0f * row[j]);
          } else {
            for (int64_t j = 0; j < nb; ++j) row[j] = 1.0f - row[j];
          }
          offer(tops[qt + i], row, nb, xb);
        }
      }
    }
  }

  void search_blas(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                   float* dists, int64_t* labels) const {
    const int64_t n = ids().slots();
    const int64_t nq = q.rows;
    std::vector<float> qnorms(static_cast<size_t>(nq), 0.0f);
    if (metric() == Metric::kL2) compute_norms(q.data, nq, qnorms.data());
    const int64_t base_bytes = n * dim() * static_cast<int64_t>(sizeof(float));
    const int wanted = resolve_threads(o.num_threads, std::numeric_limits<int64_t>::max());
    // Split the queries when every thread gets at least a full sgemm tile of them, or when the
    // base is too small to be worth splitting; otherwise split the base, so that a batch of a
    // few dozen queries against a large base still uses every thread, with full-height tiles.
    const bool split_base =
        wanted > 1 && nq < wanted * kBlasQueryTile && base_bytes / kMinScanBytesPerThread >= 2;
    if (!split_base) {
      const int threads =
          resolve_threads(o.num_threads, (nq + kBlasMinQueries - 1) / kBlasMinQueries);
      parallel_chunks(nq, threads, [&](int64_t begin, int64_t end, int) {
        std::vector<TopK> tops(static_cast<size_t>(end - begin), TopK(k_eff));
        blas_block(q, begin, end, 0, n, qnorms.data() + begin, tops.data());
        for (int64_t i = begin; i < end; ++i)
          tops[i - begin].extract(dists + i * stride, labels + i * stride);
      });
      return;
    }
    const int threads = resolve_threads(o.num_threads, base_bytes / kMinScanBytesPerThread);
    std::vector<std::vector<TopK>> parts(static_cast<size_t>(threads));
    parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int worker) {
      parts[worker].assign(static_cast<size_t>(nq), TopK(k_eff));
      blas_block(q, 0, nq, begin, end, qnorms.data(), parts[worker].data());
    });
    for (int64_t i = 0; i < nq; ++i) {
      for (size_t t = 1; t < parts.size(); ++t)
        if (!parts[t].empty()) parts[0][i].merge(parts[t][i]);
      parts[0][i].extract(dists + i * stride, labels + i * stride);
    }
  }

  RowStore store_;  // slots() x dim, row-major; L2 keeps ||x||^2 per slot for the sgemm path
};

}  // namespace

Result<std::unique_ptr<IndexImpl>> new_flat(int64_t dim, Metric metric, const FlatOptions&) {
  return std::unique_ptr<IndexImpl>(std::make_unique<FlatIndex>(dim, metric));
}

Result<std::unique_ptr<IndexImpl>> load_flat(Reader& r, int64_t dim, Metric metric, IdMap ids) {
  if (ids.live() != ids.slots()) {
    r.corrupt("flat index with dead slots");
    return r.status();
  }
  auto index = std::make_unique<FlatIndex>(dim, metric, std::move(ids));
  VECPERF_RETURN_IF_ERROR(read_rows(r, index->size(), "flat vectors", &index->store()));
  return std::unique_ptr<IndexImpl>(std::move(index));
}

}  // namespace vecperf::internal
