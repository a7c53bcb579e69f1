// Sizing of the GPU search's buffers: see memory_planner.h for the buffers it accounts for.
#include "gpu/memory_planner.h"

#include <algorithm>
#include <string>

namespace vecperf::internal {
namespace {

size_t mul(int64_t a, int64_t b, size_t elem) {
  return static_cast<size_t>(a) * static_cast<size_t>(b) * elem;
}

GpuSearchPlan make_plan(const GpuPlanInputs& in, int64_t query_batch, int64_t tile_rows) {
  GpuSearchPlan p;
  p.query_batch = query_batch;
  p.tile_rows = tile_rows;
  p.splits = gpu_splits(in, query_batch, tile_rows);
  p.bytes = gpu_working_bytes(in, query_batch, tile_rows, p.splits);
  return p;
}

int64_t smallest_tile(const GpuPlanInputs& in) { return std::min(in.base_rows, kGpuMinTileRows); }

}  // namespace

size_t gpu_working_bytes(const GpuPlanInputs& in, int64_t query_batch, int64_t tile_rows,
                         int64_t splits) {
  size_t bytes = 2 * mul(query_batch, in.dim, sizeof(float));
  if (in.float16) bytes += mul(query_batch, in.dim, 2);
  bytes += 2 * mul(query_batch, 1, sizeof(float));
  bytes += mul(query_batch, tile_rows, sizeof(float));
  bytes += mul(query_batch * splits, in.k, sizeof(uint64_t));
  bytes += mul(query_batch, in.k, sizeof(uint64_t));
  return bytes;
}

int64_t gpu_splits(const GpuPlanInputs& in, int64_t query_batch, int64_t tile_rows) {
  const int64_t wanted_blocks = int64_t{2} * std::max(1, in.multiprocessors);
  const int64_t wanted = (wanted_blocks + query_batch - 1) / query_batch;
  const int64_t widest = std::max<int64_t>(1, tile_rows / (4 * std::max<int64_t>(1, in.k)));
  return std::clamp<int64_t>(wanted, 1, widest);
}

Result<GpuSearchPlan> plan_gpu_search(const GpuPlanInputs& in) {
  if (!(in.memory_fraction > 0 && in.memory_fraction <= 1))
    return Status::InvalidArgument("memory_fraction must be in (0, 1], got " +
                                   std::to_string(in.memory_fraction));
  if (in.dim < 1 || in.k < 1 || in.k > 1024 || in.queries < 1 || in.base_rows < 1)
    return Status::InvalidArgument(
        "GPU search plan needs dim >= 1, k in [1, 1024], queries >= 1"
        " and resident vectors >= 1; got dim " +
        std::to_string(in.dim) + ", k " + std::to_string(in.k) + ", queries " +
        std::to_string(in.queries) + ", vectors " + std::to_string(in.base_rows));
  const auto budget = static_cast<size_t>(static_cast<double>(in.free_bytes) * in.memory_fraction);
  GpuSearchPlan p = make_plan(in, std::min(in.queries, kGpuMaxQueryBatch),
                              std::min(in.base_rows, kGpuMaxTileRows));
  while (p.bytes > budget) {
    if (!shrink_plan(in, &p))
      return Status::ResourceExhausted(
          "GPU search needs " + std::to_string(p.bytes) +
          " bytes of working memory even for one "
          "query at a time, but only " +
          std::to_string(budget) + " bytes (memory_fraction " + std::to_string(in.memory_fraction) +
          " of " + std::to_string(in.free_bytes) +
          " free) are available: free device memory, lower k, or raise memory_fraction");
  }
  return p;
}

bool shrink_plan(const GpuPlanInputs& in, GpuSearchPlan* plan) {
  const int64_t min_tile = smallest_tile(in);
  if (plan->tile_rows > min_tile) {
    *plan = make_plan(in, plan->query_batch, std::max(min_tile, plan->tile_rows / 2));
    return true;
  }
  if (plan->query_batch > 1) {
    *plan = make_plan(in, plan->query_batch / 2, plan->tile_rows);
    return true;
  }
  return false;
}

}  // namespace vecperf::internal
