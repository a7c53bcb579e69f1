// Sizing of the GPU search's working buffers. Plain C++ (no CUDA), so the arithmetic is unit
// tested on machines without a device; src/gpu/cuda/ feeds it cudaMemGetInfo's figure.
//
// A search processes the queries in batches of `query_batch` rows and the resident vectors in
// tiles of `tile_rows` rows. Per batch the device holds, besides the resident vectors:
//   queries      2 x query_batch x dim float32 (double-buffered: the next batch is copied in
//                while the current one is searched), plus a float16 copy for float16 storage;
//   query norms  2 x query_batch float32 (L2);
//   products     query_batch x tile_rows float32 (one GEMM output tile, consumed by the
//                k-selection before the next tile overwrites it: the nq x N matrix never exists);
//   running top  query_batch x splits x k keys of 8 bytes (candidates kept between tiles);
//   result       query_batch x k keys of 8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vecperf/status.h"

namespace vecperf::internal {

/// What the planner needs to know about the search and the device.
struct GpuPlanInputs {
  size_t free_bytes = 0;         ///< device memory free now (cudaMemGetInfo)
  double memory_fraction = 0.8;  ///< share of free_bytes the buffers may take, in (0, 1]
  int64_t dim = 0;
  int64_t k = 0;            ///< neighbours per query, in [1, 1024]
  int64_t queries = 0;      ///< queries in the search call (>= 1)
  int64_t base_rows = 0;    ///< resident vectors (>= 1)
  bool float16 = false;     ///< float16 storage: queries get a float16 copy too
  int multiprocessors = 1;  ///< streaming multiprocessors: splits keep them busy
};

/// Buffer sizes of one search.
struct GpuSearchPlan {
  int64_t query_batch = 0;  ///< queries per batch
  int64_t tile_rows = 0;    ///< resident vectors per GEMM tile
  int64_t splits = 1;       ///< column splits of a tile, each with its own running top-k
  size_t bytes = 0;         ///< device bytes of the working buffers (working_bytes())
};

/// Largest and smallest batch and tile sizes the planner uses.
inline constexpr int64_t kGpuMaxQueryBatch = 4096;
inline constexpr int64_t kGpuMaxTileRows = int64_t{1} << 16;
inline constexpr int64_t kGpuMinTileRows = 1024;

/// Device bytes of the working buffers for the given sizes (see the file comment).
size_t gpu_working_bytes(const GpuPlanInputs& in, int64_t query_batch, int64_t tile_rows,
                         int64_t splits);

/// Column splits for a batch: enough (query, split) blocks to give every multiprocessor two,
/// but no split narrower than 4k columns, so that selecting k per split stays cheap.
int64_t gpu_splits(const GpuPlanInputs& in, int64_t query_batch, int64_t tile_rows);

/// The largest plan whose working buffers fit in free_bytes * memory_fraction: starts from
/// min(queries, kGpuMaxQueryBatch) x min(base_rows, kGpuMaxTileRows) and halves (shrink_plan)
/// until it fits. Errors: kInvalidArgument for inputs out of range; kResourceExhausted when the
/// smallest plan (1 query, kGpuMinTileRows) does not fit (the message gives both figures).
Result<GpuSearchPlan> plan_gpu_search(const GpuPlanInputs& in);

/// Halves the plan after an allocation failed: the tile first (down to kGpuMinTileRows or
/// base_rows), then the query batch (down to 1); recomputes splits and bytes. Returns false when
/// the plan is already the smallest.
bool shrink_plan(const GpuPlanInputs& in, GpuSearchPlan* plan);

}  // namespace vecperf::internal
