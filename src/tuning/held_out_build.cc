// add_and_tune() (see held_out_build.h): the rows not in the sample are gathered into one chunk
// buffer at a time, so holding the sample out costs a copy of the sample and of one chunk, not
// of the data.
#include "tuning/held_out_build.h"

#include <algorithm>
#include <random>
#include <vector>

namespace vecperf::internal {

int64_t held_out_rows(int64_t n, int64_t sample_size) {
  return std::max<int64_t>(0, std::min(sample_size, n / 10));
}

Status add_and_tune(Index& index, IdSpan ids, MatrixView vectors, double target_recall, int k,
                    const TuningOptions& tuning, int64_t chunk_rows,
                    const ProgressCallback& on_progress, Result<TuningResult>* tuned) {
  const int64_t n = vectors.rows, d = vectors.dim;
  // Checked here because the rows are read before any add() could check them.
  if (static_cast<int64_t>(ids.size()) != n || n < 0)
    return Status::InvalidArgument("got " + std::to_string(ids.size()) + " ids for " +
                                   std::to_string(n) + " vectors");
  if (n > 0 && (vectors.data == nullptr || d != index.dim()))
    return Status::InvalidArgument("vectors have dimension " + std::to_string(d) +
                                   " (or no data), the index has dimension " +
                                   std::to_string(index.dim()));
  const int64_t s = held_out_rows(n, tuning.sample_size);
  chunk_rows = std::max<int64_t>(1, chunk_rows);
  // Floyd's algorithm: s distinct rows, uniformly, in O(s) draws.
  std::vector<char> held(static_cast<size_t>(n), 0);
  std::mt19937_64 rng(tuning.seed);
  for (int64_t j = n - s; j < n; ++j) {
    const int64_t t = std::uniform_int_distribution<int64_t>(0, j)(rng);
    held[static_cast<size_t>(held[static_cast<size_t>(t)] ? j : t)] = 1;
  }

  int64_t added = 0;
  std::vector<int64_t> chunk_ids, sample_ids;
  std::vector<float> chunk, sample;
  chunk_ids.reserve(static_cast<size_t>(std::min(chunk_rows, n)));
  chunk.reserve(chunk_ids.capacity() * static_cast<size_t>(d));
  sample_ids.reserve(static_cast<size_t>(s));
  sample.reserve(static_cast<size_t>(s * d));
  auto add = [&](std::vector<int64_t>& i, std::vector<float>& v) {
    const int64_t rows = static_cast<int64_t>(i.size());
    if (rows == 0) return Status::OK();
    AddOptions options;
    options.num_threads = tuning.num_threads;
    VECPERF_RETURN_IF_ERROR(index.add(i, MatrixView{v.data(), rows, d}, options));
    added += rows;
    if (on_progress) on_progress(added, n);
    i.clear();
    v.clear();
    return Status::OK();
  };

  if (on_progress) on_progress(0, n);
  for (int64_t r = 0; r < n; ++r) {
    const bool in_sample = held[static_cast<size_t>(r)] != 0;
    auto& to_ids = in_sample ? sample_ids : chunk_ids;
    auto& to_rows = in_sample ? sample : chunk;
    to_ids.push_back(ids[static_cast<size_t>(r)]);
    to_rows.insert(to_rows.end(), vectors.row(r), vectors.row(r) + d);
    if (static_cast<int64_t>(chunk_ids.size()) == chunk_rows)
      VECPERF_RETURN_IF_ERROR(add(chunk_ids, chunk));
  }
  VECPERF_RETURN_IF_ERROR(add(chunk_ids, chunk));

  if (s == 0) {
    *tuned = tune_held_out(index, target_recall, k, tuning);
    return Status::OK();
  }
  *tuned = tune(index, MatrixView{sample.data(), s, d}, target_recall, k, tuning);
  if (tuned->ok()) (*tuned)->held_out = true;
  return add(sample_ids, sample);
}

}  // namespace vecperf::internal
