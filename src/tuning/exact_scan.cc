// Exact neighbours from an index's own vectors (see exact_scan.h).
//
// Why blocks through a Flat index rather than a Flat copy of the whole index or a scan of our
// own: a full copy doubles the memory of the index being tuned (gigabytes at the sizes where
// tuning matters), while a block of 32 MiB is enough for the Flat backend's batched BLAS path to
// run at full speed, and reusing that backend keeps one implementation of exact search and of
// the metrics' conventions (cosine normalisation, 1 - dot).
#include "tuning/exact_scan.h"

#include <algorithm>
#include <new>
#include <numeric>
#include <random>

#include "common/guarded.h"
#include "index/topk.h"

namespace vecperf::internal {

Result<HeldOutSample> sample_stored_vectors(const Index& index, int64_t size, uint64_t seed) {
  const int64_t d = index.dim();
  HeldOutSample s;
  VECPERF_RETURN_IF_ERROR(guarded_void("drawing held-out vectors (use a smaller sample_size)", [&] {
    const int64_t want = std::min(size, index.size());
    s.ids.reserve(static_cast<size_t>(want));
    s.vectors.reserve(static_cast<size_t>(want * d));
    std::mt19937_64 rng(seed);
    int64_t seen = 0;
    index.for_each_vector([&](int64_t id, const float* v) {
      if (static_cast<int64_t>(s.ids.size()) < size) {
        s.ids.push_back(id);
        s.vectors.insert(s.vectors.end(), v, v + d);
      } else {
        // Algorithm R: item `seen` replaces a random member with probability size / (seen + 1).
        const int64_t j = std::uniform_int_distribution<int64_t>(0, seen)(rng);
        if (j < size) {
          s.ids[static_cast<size_t>(j)] = id;
          std::copy(v, v + d, s.vectors.begin() + j * d);
        }
      }
      ++seen;
    });
  }));
  return s;
}

Result<std::vector<int64_t>> exact_neighbours(const Index& index, MatrixView queries, int k,
                                              const int64_t* exclude, int num_threads) {
  const int64_t d = index.dim(), nq = queries.rows;
  const int64_t block_rows = std::clamp<int64_t>(
      kExactBlockBytes / (d * static_cast<int64_t>(sizeof(float))), 256, int64_t{1} << 20);
  // One more candidate per block when a query's own id may be among them and must be dropped.
  const int kk = k + (exclude != nullptr ? 1 : 0);
  Status error;
  std::vector<int64_t> out;
  VECPERF_RETURN_IF_ERROR(guarded("computing exact neighbours (use fewer queries)", [&] {
    std::vector<TopK> tops(static_cast<size_t>(nq), TopK(k));
    std::vector<int64_t> block_ids, positions(static_cast<size_t>(block_rows));
    std::vector<float> block;
    block_ids.reserve(static_cast<size_t>(block_rows));
    block.reserve(static_cast<size_t>(block_rows * d));
    std::iota(positions.begin(), positions.end(), int64_t{0});
    std::vector<float> dist(static_cast<size_t>(nq * kk));
    std::vector<int64_t> found(static_cast<size_t>(nq * kk));
    SearchOptions so;
    so.k = kk;
    so.num_threads = num_threads;

    auto flush = [&] {
      const int64_t m = static_cast<int64_t>(block_ids.size());
      if (m == 0 || !error.ok()) return;
      // A backend, not make_index(): scratch space of a computation, not a user's index.
      Result<std::unique_ptr<IndexImpl>> flat = new_flat(d, index.metric(), FlatOptions{});
      if (!flat.ok()) {
        error = flat.status();
        return;
      }
      error = (*flat)->add(IdSpan(positions.data(), static_cast<size_t>(m)),
                           MatrixView{block.data(), m, d});
      if (error.ok()) error = (*flat)->search(queries, so, {dist.data(), found.data()});
      if (!error.ok()) return;
      for (int64_t q = 0; q < nq; ++q) {
        for (int j = 0; j < kk; ++j) {
          const int64_t p = found[q * kk + j];
          if (p == kNoId) break;
          const int64_t id = block_ids[static_cast<size_t>(p)];
          if (exclude != nullptr && id == exclude[q]) continue;
          tops[q].push(dist[q * kk + j], id);
        }
      }
      block_ids.clear();
      block.clear();
    };
    index.for_each_vector([&](int64_t id, const float* v) {
      if (!error.ok()) return;
      block_ids.push_back(id);
      block.insert(block.end(), v, v + d);
      if (static_cast<int64_t>(block_ids.size()) == block_rows) flush();
    });
    flush();
    if (!error.ok()) return error;

    out.assign(static_cast<size_t>(nq * k), kNoId);
    std::vector<float> unused(static_cast<size_t>(k));
    for (int64_t q = 0; q < nq; ++q) tops[q].extract(unused.data(), out.data() + q * k);
    return Status::OK();
  }));
  return out;
}

}  // namespace vecperf::internal
