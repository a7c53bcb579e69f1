// search_batch(): Index::search over slices of a query set, timed per slice into the shared
// latency histogram, with recall against optional ground truth. The same measurement for every
// backend, CPU or GPU (device memory comes from Index::device_memory_bytes).
#include <chrono>
#include <cstdio>

#include "metrics/histogram.h"
#include "vecperf/report.h"

namespace vecperf {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t elapsed_ns(Clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count());
}

}  // namespace

std::string BatchReport::to_string() const {
  char buf[320];
  int n = std::snprintf(buf, sizeof buf,
                        "%lld queries k=%d in %lld batches: %.4g s, %.0f QPS, batch "
                        "p50/p95/p99 %.3g/%.3g/%.3g ms, device %zu B",
                        static_cast<long long>(queries), k, static_cast<long long>(batches),
                        wall_seconds, qps, batch_p50_ms, batch_p95_ms, batch_p99_ms,
                        device_memory_bytes);
  if (has_recall && n > 0 && static_cast<size_t>(n) < sizeof buf)
    std::snprintf(buf + n, sizeof buf - static_cast<size_t>(n), ", recall@%lld %.4f",
                  static_cast<long long>(recall_k), recall);
  return buf;
}

Status search_batch(const Index& index, MatrixView queries, const SearchOptions& options,
                    SearchResults results, const BatchOptions& batch, BatchReport* report) {
  if (batch.batch_size < 0)
    return Status::InvalidArgument("batch_size must be >= 0 (0: one batch), got " +
                                   std::to_string(batch.batch_size));
  if (options.k < 1)
    return Status::InvalidArgument("k must be >= 1, got " + std::to_string(options.k));
  if (results.distances == nullptr || results.ids == nullptr)
    return Status::InvalidArgument("search_batch needs result buffers of queries.rows * k");
  if (batch.ground_truth != nullptr && batch.ground_truth->rows() != queries.rows)
    return Status::InvalidArgument(
        "ground truth has " + std::to_string(batch.ground_truth->rows()) + " rows but there are " +
        std::to_string(queries.rows) + " queries; pass the ground truth of these queries");
  const int64_t k = options.k;
  const int64_t step = batch.batch_size > 0 ? batch.batch_size : std::max<int64_t>(1, queries.rows);
  internal::Histogram latency;
  int64_t batches = 0;
  const Clock::time_point start = Clock::now();
  // One call even for zero queries, so that the index validates the arguments as search does.
  // The result pointers advance with the loop instead of being recomputed from `begin`: g++ 12
  // with -O2 -fsanitize=thread compiled the recomputed form so that the second batch was given
  // the pointers of no batch (null), and each later one those of the batch before it.
  float* distances = results.distances;
  int64_t* ids = results.ids;
  for (int64_t begin = 0; begin < queries.rows || batches == 0; begin += step) {
    const int64_t rows = std::min(step, queries.rows - begin);
    const MatrixView part{queries.data + begin * queries.dim, rows, queries.dim};
    const Clock::time_point t = Clock::now();
    VECPERF_RETURN_IF_ERROR(index.search(part, options, SearchResults{distances, ids}));
    latency.record(elapsed_ns(t));
    distances += rows * k;
    ids += rows * k;
    ++batches;
  }
  const double wall = static_cast<double>(elapsed_ns(start)) * 1e-9;
  if (report == nullptr) return Status::OK();

  BatchReport r;
  r.queries = queries.rows;
  r.k = options.k;
  r.batches = batches;
  r.wall_seconds = wall;
  r.qps = wall > 0 ? static_cast<double>(queries.rows) / wall : 0;
  const internal::HistogramSummary s = latency.summary();
  r.batch_p50_ms = s.p50 * 1e-6;
  r.batch_p95_ms = s.p95 * 1e-6;
  r.batch_p99_ms = s.p99 * 1e-6;
  r.device_memory_bytes = index.device_memory_bytes();
  if (batch.ground_truth != nullptr && queries.rows > 0) {
    auto recall = recall_at_k(std::span<const int64_t>(results.ids, queries.rows * k), k,
                              *batch.ground_truth);
    if (!recall.ok()) return recall.status();
    r.has_recall = true;
    r.recall = recall->recall;
    r.recall_k = recall->k;
  }
  *report = r;
  return Status::OK();
}

}  // namespace vecperf
