// The gpu_flat backend. Without a CUDA device (or in a build without CUDA) the comparisons with
// the CPU Flat index skip, and the no-device behaviour is tested instead: kUnavailable, or a CPU
// Flat index with prefer_gpu, from make_index, plan and load.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/file_io.h"
#include "index/id_map.h"
#include "index/index_format.h"
#include "testing/testing.h"
#include "vecperf/factory.h"
#include "vecperf/gpu.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf {
namespace {

using testing::Matrix;

IndexOptions gpu_options(int64_t dim, Metric metric, GpuDtype dtype = GpuDtype::kFloat32) {
  IndexOptions o;
  o.kind = IndexKind::kGpuFlat;
  o.dim = dim;
  o.metric = metric;
  o.gpu_flat.dtype = dtype;
  return o;
}

TEST(GpuFlat, KindNameRoundTrips) {
  EXPECT_STREQ(index_kind_name(IndexKind::kGpuFlat), "gpu_flat");
  auto kind = parse_index_kind("gpu_flat");
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, IndexKind::kGpuFlat);
}

TEST(GpuFlat, OptionsAreValidated) {
  IndexOptions o = gpu_options(8, Metric::kL2);
  o.gpu_flat.memory_fraction = 0;
  EXPECT_EQ(make_index(o).status().code(), StatusCode::kInvalidArgument);
  o.gpu_flat.memory_fraction = 1.5;
  EXPECT_EQ(make_index(o).status().code(), StatusCode::kInvalidArgument);
  o = gpu_options(8, Metric::kL2);
  o.gpu_flat.device = -1;
  EXPECT_EQ(make_index(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(GpuFlat, AvailabilityIsConsistent) {
  EXPECT_EQ(gpu_available(), gpu_device_count() > 0);
  EXPECT_EQ(gpu_available(), gpu_unavailable_reason().empty()) << gpu_unavailable_reason();
}

class GpuFlatWithoutDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gpu_available())
      GTEST_SKIP() << "a CUDA device is present: the no-device path is not taken";
  }
};

TEST_F(GpuFlatWithoutDevice, MakeIndexIsUnavailable) {
  auto index = make_index(gpu_options(16, Metric::kL2));
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(index.status().message().find(gpu_unavailable_reason()), std::string::npos)
      << index.status().to_string();
}

TEST_F(GpuFlatWithoutDevice, PreferGpuFallsBackToCpuFlat) {
  IndexOptions o = gpu_options(16, Metric::kCosine);
  o.gpu_flat.prefer_gpu = true;
  auto index = make_index(o);
  ASSERT_TRUE(index.ok()) << index.status().to_string();
  EXPECT_EQ((*index)->kind(), IndexKind::kFlat);
  const Matrix base = testing::uniform(200, 16, 1);
  const auto ids = testing::sequential_ids(200);
  ASSERT_TRUE((*index)->add(ids, base.view()).ok());
  std::vector<float> d(10);
  std::vector<int64_t> got(10);
  ASSERT_TRUE((*index)->search(base.slice(5, 1), SearchOptions{}, {d.data(), got.data()}).ok());
  EXPECT_EQ(got[0], 5);
}

TEST_F(GpuFlatWithoutDevice, PlanForGpuFallsBackToTheCpuRules) {
  Workload w;
  w.expected_size = 5000;
  w.dim = 32;
  w.device = Device::kGpu;
  auto p = plan(w);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->options.kind, IndexKind::kFlat);
  EXPECT_NE(p->rationale.find("device=gpu ignored"), std::string::npos) << p->rationale;
}

TEST(GpuFlatPlan, DeviceOutOfRangeIsInvalid) {
  Workload w;
  w.expected_size = 10;
  w.dim = 4;
  w.device = static_cast<Device>(7);
  EXPECT_EQ(plan(w).status().code(), StatusCode::kInvalidArgument);
}

// A gpu_flat file written by a machine with a device: on one without, load() gives kUnavailable,
// or a CPU Flat index holding the same vectors when the file says prefer_gpu.
void write_gpu_flat_file(const std::string& path, const Matrix& base, bool prefer_gpu,
                         int32_t dtype = 0) {
  internal::IdMap ids;
  const auto seq = testing::sequential_ids(base.rows, 100);
  ids.append(seq);
  Status s = internal::write_framed_file(path, internal::kIndexFrame,
                                         static_cast<uint32_t>(IndexKind::kGpuFlat),
                                         [&](internal::Writer& w) {
                                           w.pod<int64_t>(base.dim);
                                           w.pod<uint32_t>(static_cast<uint32_t>(Metric::kL2));
                                           ids.save(w);
                                           w.pod<int32_t>(dtype);  // 0: float32
                                           w.pod<int32_t>(0);      // device
                                           w.pod<double>(0.5);     // memory fraction
                                           w.pod<uint8_t>(prefer_gpu ? 1 : 0);
                                           w.pod<uint8_t>(0);  // allow_tf32
                                           w.array(base.data.data(), base.data.size());
                                         });
  ASSERT_TRUE(s.ok()) << s.to_string();
}

TEST_F(GpuFlatWithoutDevice, LoadWithoutDevice) {
  const std::string dir = ::testing::TempDir();
  const Matrix base = testing::uniform(50, 6, 3);
  const std::string strict = dir + "/gpu_flat_strict.vpi", prefer = dir + "/gpu_flat_prefer.vpi";
  write_gpu_flat_file(strict, base, false);
  write_gpu_flat_file(prefer, base, true);

  auto failed = load(strict);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);

  auto loaded = load(prefer);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->kind(), IndexKind::kFlat);
  EXPECT_EQ((*loaded)->size(), 50);
  std::vector<float> v(6);
  ASSERT_TRUE((*loaded)->get_vector(107, v.data()).ok());
  EXPECT_TRUE(std::equal(v.begin(), v.end(), base.row(7)));
  std::filesystem::remove(strict);
  std::filesystem::remove(prefer);
}

TEST(GpuFlatFile, CorruptOptionsAreReported) {
  const std::string path = ::testing::TempDir() + "/gpu_flat_bad.vpi";
  Matrix empty;
  empty.dim = 4;
  write_gpu_flat_file(path, empty, false, /*dtype=*/9);
  auto loaded = load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(loaded.status().message().find("dtype"), std::string::npos);
  std::filesystem::remove(path);
}

// ---------------------------------------------------------------------------------------------
// On a device: the GPU index against the CPU Flat index.

class GpuFlatOnDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gpu_available()) GTEST_SKIP() << "no CUDA device: " << gpu_unavailable_reason();
  }
};

struct Searched {
  std::vector<float> d;
  std::vector<int64_t> ids;
};

Searched search(const Index& index, const Matrix& q, int k) {
  Searched s{std::vector<float>(q.rows * k), std::vector<int64_t>(q.rows * k)};
  SearchOptions o;
  o.k = k;
  Status st = index.search(q.view(), o, {s.d.data(), s.ids.data()});
  EXPECT_TRUE(st.ok()) << st.to_string();
  return s;
}

std::unique_ptr<Index> filled(const IndexOptions& o, const Matrix& base) {
  auto index = make_index(o);
  EXPECT_TRUE(index.ok()) << index.status().to_string();
  if (!index.ok()) return nullptr;
  EXPECT_TRUE((*index)->add(testing::sequential_ids(base.rows), base.view()).ok());
  return std::move(*index);
}

// Ids equal position by position, except where the CPU's distances tie within the tolerance;
// distances within 1e-3 relative (absolute near 0).
void expect_same(const Searched& gpu, const Searched& cpu, int64_t nq, int k) {
  for (int64_t i = 0; i < nq * k; ++i) {
    const float tol = 1e-3f * std::max(1.0f, std::fabs(cpu.d[i]));
    ASSERT_NEAR(gpu.d[i], cpu.d[i], tol) << "slot " << i;
    if (gpu.ids[i] != cpu.ids[i]) {
      // A swap between near-equal distances: the GPU's id must be one of the CPU's ids of that
      // query at a distance within the tolerance.
      const int64_t q = i / k;
      bool tied = false;
      for (int j = 0; j < k; ++j)
        tied |= cpu.ids[q * k + j] == gpu.ids[i] && std::fabs(cpu.d[q * k + j] - cpu.d[i]) <= tol;
      EXPECT_TRUE(tied || std::fabs(gpu.d[i] - cpu.d[i]) <= tol) << "slot " << i;
    }
  }
}

TEST_F(GpuFlatOnDevice, Float32MatchesCpuFlat) {
  for (int64_t n : {1500, 70001}) {
    for (int64_t dim : {3, 17, 128}) {
      for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        const Matrix base = testing::clustered(n, dim, 10 + n + dim);
        const Matrix q = testing::clustered(37, dim, 99 + dim);
        IndexOptions cpu_o = gpu_options(dim, m);
        cpu_o.kind = IndexKind::kFlat;
        auto gpu = filled(gpu_options(dim, m), base);
        auto cpu = filled(cpu_o, base);
        ASSERT_TRUE(gpu && cpu);
        for (int k : {1, 10, 100, 1024}) {
          SCOPED_TRACE("n=" + std::to_string(n) + " dim=" + std::to_string(dim) +
                       " metric=" + metric_name(m) + " k=" + std::to_string(k));
          expect_same(search(*gpu, q, k), search(*cpu, q, k), q.rows, k);
        }
      }
    }
  }
}

TEST_F(GpuFlatOnDevice, Float16RecallAt10) {
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    const Matrix base = testing::clustered(20000, 96, 5);
    const Matrix q = testing::clustered(200, 96, 6);
    auto gpu = filled(gpu_options(96, m, GpuDtype::kFloat16), base);
    ASSERT_TRUE(gpu);
    const Searched got = search(*gpu, q, 10);
    const auto truth = testing::exact_knn(base, testing::sequential_ids(base.rows), q, 10, m);
    EXPECT_GE(testing::recall_at_k(got.ids, truth, q.rows, 10), 0.99) << metric_name(m);
  }
}

TEST_F(GpuFlatOnDevice, ManyQueriesSpanSeveralBatches) {
  const Matrix base = testing::uniform(3000, 20, 8);
  const Matrix q = testing::uniform(9000, 20, 9);  // > kGpuMaxQueryBatch: three batches
  IndexOptions cpu_o = gpu_options(20, Metric::kL2);
  cpu_o.kind = IndexKind::kFlat;
  auto gpu = filled(gpu_options(20, Metric::kL2), base);
  auto cpu = filled(cpu_o, base);
  expect_same(search(*gpu, q, 10), search(*cpu, q, 10), q.rows, 10);
}

TEST_F(GpuFlatOnDevice, RemoveSaveLoadAndLargeK) {
  const Matrix base = testing::uniform(2000, 12, 4);
  auto gpu = filled(gpu_options(12, Metric::kL2), base);
  ASSERT_TRUE(gpu);
  std::vector<int64_t> gone = {0, 5, 1999, 700};
  ASSERT_TRUE(gpu->remove(gone).ok());
  EXPECT_EQ(gpu->size(), 1996);
  const Matrix q = base;  // the removed rows must not come back as their own neighbours
  const Searched s = search(*gpu, q, 1);
  for (int64_t id : gone) EXPECT_NE(s.ids[id], id);
  EXPECT_EQ(s.ids[1], 1);
  SearchOptions big;
  big.k = 1025;
  std::vector<float> d(1025);
  std::vector<int64_t> ids(1025);
  EXPECT_EQ(gpu->search(q.slice(0, 1), big, {d.data(), ids.data()}).code(),
            StatusCode::kInvalidArgument);

  const std::string path = ::testing::TempDir() + "/gpu_flat_device.vpi";
  ASSERT_TRUE(gpu->save(path).ok());
  auto loaded = load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->kind(), IndexKind::kGpuFlat);
  const Searched again = search(**loaded, q, 1);
  EXPECT_EQ(again.ids, s.ids);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vecperf
