// IVF backend, searches: the exact scan of the training buffer, the coarse selection of the
// probed lists, and the list scans (float32 rows with our kernels, one query or a batch; codes
// with FAISS's scanners and an optional exact re-rank). See ivf_index.h.
#include <faiss/IndexIVF.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/Heap.h>

#include <algorithm>
#include <mutex>

#include "common/guarded.h"
#include "common/parallel.h"
#include "distance/distance.h"
#include "index/ivf_index.h"

namespace vecperf::internal {
namespace {

// Batched flat search: queries handled together (bounds the coarse-distance matrix to
// kBatchQueries * nlist floats) and rows per kernel call (64 rows of 128 floats fill 32 KB, L1).
constexpr int64_t kBatchQueries = 256;
constexpr int64_t kRowBlock = 64;

// Distance (smaller is nearer) used for selection from a raw kernel value.
inline float to_distance(bool l2, float raw) { return l2 ? raw : 1.0f - raw; }

}  // namespace

Status IvfIndex::search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                               float* dists, int64_t* labels) const {
  const int threads = resolve_threads(o.num_threads, q.rows);
  const int64_t nprobe = std::min<int64_t>(nlist(), o.nprobe > 0 ? o.nprobe : opt_.nprobe);
  const int64_t rerank = originals_.rows() == 0 ? 0 : (o.rerank > 0 ? o.rerank : opt_.rerank);
  // Worker threads must not let an exception escape (it would terminate the host).
  return guarded_chunks(q.rows, threads, "searching the IVF index",
                        [&](int64_t begin, int64_t end, int) {
                          if (!ivf_) {
                            search_buffer(q, begin, end, k_eff, stride, dists, labels);
                          } else if (opt_.encoding != IvfEncoding::kFlat) {
                            scan_codes(q, begin, end, nprobe, rerank, k_eff, stride, dists, labels);
                          } else if (end - begin == 1) {
                            scan_flat(q, begin, end, nprobe, k_eff, stride, dists, labels);
                          } else {
                            for (int64_t b = begin; b < end; b += kBatchQueries)
                              scan_flat_batch(q, b, std::min(end, b + kBatchQueries), nprobe, k_eff,
                                              stride, dists, labels);
                          }
                        });
}

void IvfIndex::search_buffer(MatrixView q, int64_t begin, int64_t end, int64_t k_eff,
                             int64_t stride, float* dists, int64_t* labels) const {
  std::vector<float> buf(RowStore::kScanBlock);
  TopK top(k_eff);
  for (int64_t i = begin; i < end; ++i) {
    buffer_.scan(q.row(i), metric(), 0, ids().slots(), top, buf.data());
    top.extract(dists + i * stride, labels + i * stride);
  }
}

void IvfIndex::coarse(const float* query, std::vector<float>& dis, TopK& top,
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

void IvfIndex::scan_flat_batch(MatrixView q, int64_t begin, int64_t end, int64_t nprobe,
                               int64_t k_eff, int64_t stride, float* dists, int64_t* labels) const {
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

void IvfIndex::scan_flat(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t k_eff,
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

void IvfIndex::scan_codes(MatrixView q, int64_t begin, int64_t end, int64_t nprobe, int64_t rerank,
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
      scanner->scan_codes(size, il->get_codes(list), il->get_ids(list), hdis.data(), hids.data(),
                          kk);
    }
    for (size_t j = 0; j < kk; ++j) {
      if (hids[j] < 0) continue;
      const float dist = rerank > 0 ? metric_distance(metric(), query, originals_.row(hids[j]), d)
                                    : to_distance(is_l2, hdis[j]);
      top.push(dist, hids[j]);
    }
    top.extract(dists + i * stride, labels + i * stride);
  }
}

}  // namespace vecperf::internal
