// The GPU memory planner's arithmetic (runs without a device).
#include "gpu/memory_planner.h"

#include <gtest/gtest.h>

namespace vecperf::internal {
namespace {

GpuPlanInputs inputs(size_t free_bytes) {
  GpuPlanInputs in;
  in.free_bytes = free_bytes;
  in.memory_fraction = 0.5;
  in.dim = 128;
  in.k = 10;
  in.queries = 10000;
  in.base_rows = 1000000;
  in.multiprocessors = 132;
  return in;
}

TEST(GpuMemoryPlanner, WorkingBytesCountEveryBuffer) {
  GpuPlanInputs in = inputs(0);
  // 2 query buffers + 2 norm buffers + products + running (splits lists) + result.
  const size_t expected =
      2 * 64 * 128 * 4 + 2 * 64 * 4 + 64 * 1024 * 4 + 64 * 3 * 10 * 8 + 64 * 10 * 8;
  EXPECT_EQ(gpu_working_bytes(in, 64, 1024, 3), expected);
  in.float16 = true;  // plus a float16 copy of the queries
  EXPECT_EQ(gpu_working_bytes(in, 64, 1024, 3), expected + 64 * 128 * 2);
}

TEST(GpuMemoryPlanner, LargestPlanWhenMemoryIsAmple) {
  auto p = plan_gpu_search(inputs(size_t{80} << 30));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->query_batch, kGpuMaxQueryBatch);
  EXPECT_EQ(p->tile_rows, kGpuMaxTileRows);
  EXPECT_EQ(p->splits, 1);  // 4096 queries already give every multiprocessor blocks
  EXPECT_EQ(p->bytes, gpu_working_bytes(inputs(0), p->query_batch, p->tile_rows, p->splits));
}

TEST(GpuMemoryPlanner, SmallInputsBoundTheBuffers) {
  GpuPlanInputs in = inputs(size_t{80} << 30);
  in.queries = 3;
  in.base_rows = 500;
  auto p = plan_gpu_search(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->query_batch, 3);
  EXPECT_EQ(p->tile_rows, 500);
  // 3 queries x 264 wanted blocks, but no split narrower than 4k = 40 columns: 500 / 40 = 12.
  EXPECT_EQ(p->splits, 12);
}

TEST(GpuMemoryPlanner, SplitsKeepMultiprocessorsBusyForFewQueries) {
  GpuPlanInputs in = inputs(0);
  in.k = 10;
  EXPECT_EQ(gpu_splits(in, 1, 65536), 264);  // 2 blocks per multiprocessor
  EXPECT_EQ(gpu_splits(in, 100, 65536), 3);  // ceil(264 / 100)
  EXPECT_EQ(gpu_splits(in, 4096, 65536), 1);
  in.k = 1024;
  EXPECT_EQ(gpu_splits(in, 1, 65536), 16);  // 65536 / (4 * 1024)
  EXPECT_EQ(gpu_splits(in, 1, 1024), 1);
}

TEST(GpuMemoryPlanner, HalvesTileThenBatchUntilItFits) {
  GpuPlanInputs in = inputs(0);
  const size_t full = gpu_working_bytes(in, kGpuMaxQueryBatch, kGpuMaxTileRows,
                                        gpu_splits(in, kGpuMaxQueryBatch, kGpuMaxTileRows));
  // A quarter of the full plan's bytes (after the 0.5 fraction).
  in.free_bytes = full / 2;
  auto p = plan_gpu_search(in);
  ASSERT_TRUE(p.ok());
  EXPECT_LE(p->bytes, full / 4);
  EXPECT_EQ(p->query_batch, kGpuMaxQueryBatch);  // the tile shrank first
  EXPECT_LT(p->tile_rows, kGpuMaxTileRows);

  // Room for little more than the smallest tile: the batch shrinks too.
  in.free_bytes =
      2 * gpu_working_bytes(in, 16, kGpuMinTileRows, gpu_splits(in, 16, kGpuMinTileRows));
  p = plan_gpu_search(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->tile_rows, kGpuMinTileRows);
  EXPECT_EQ(p->query_batch, 16);
}

TEST(GpuMemoryPlanner, ShrinkStopsAtTheSmallestPlan) {
  GpuPlanInputs in = inputs(0);
  GpuSearchPlan p{2, kGpuMinTileRows * 2, 1, 0};
  ASSERT_TRUE(shrink_plan(in, &p));
  EXPECT_EQ(p.tile_rows, kGpuMinTileRows);
  EXPECT_EQ(p.query_batch, 2);
  ASSERT_TRUE(shrink_plan(in, &p));
  EXPECT_EQ(p.query_batch, 1);
  EXPECT_FALSE(shrink_plan(in, &p));
  EXPECT_EQ(p.query_batch, 1);
  EXPECT_EQ(p.bytes, gpu_working_bytes(in, 1, kGpuMinTileRows, p.splits));
}

TEST(GpuMemoryPlanner, ExhaustedWhenEvenTheSmallestPlanDoesNotFit) {
  auto p = plan_gpu_search(inputs(1000));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(p.status().message().find("500 bytes"), std::string::npos) << p.status().to_string();
}

TEST(GpuMemoryPlanner, RejectsInputsOutOfRange) {
  GpuPlanInputs in = inputs(size_t{1} << 30);
  in.memory_fraction = 0;
  EXPECT_EQ(plan_gpu_search(in).status().code(), StatusCode::kInvalidArgument);
  in = inputs(size_t{1} << 30);
  in.k = 1025;
  EXPECT_EQ(plan_gpu_search(in).status().code(), StatusCode::kInvalidArgument);
  in = inputs(size_t{1} << 30);
  in.base_rows = 0;
  EXPECT_EQ(plan_gpu_search(in).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vecperf::internal
