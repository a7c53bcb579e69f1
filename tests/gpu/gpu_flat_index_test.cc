// The gpu_flat index layer (ids, add/remove/search plumbing, all-or-nothing adds, the CPU
// fallback, device memory in batch reports) over a host stand-in for the CUDA backend, so that
// it runs on machines without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <vector>

#include "build/metered_index.h"
#include "gpu/gpu_backend.h"
#include "index/index_base.h"
#include "testing/testing.h"
#include "vecperf/metrics.h"
#include "vecperf/report.h"

namespace vecperf::internal {
namespace {

using testing::Matrix;

// Exact search on the host, with switches that make the next calls fail as a device would.
class HostBackend final : public GpuFlatBackend {
 public:
  struct Switches {
    StatusCode fail_append = StatusCode::kOk;
    StatusCode fail_search = StatusCode::kOk;
    int resets = 0;
  };
  HostBackend(int64_t dim, bool l2, Switches* sw) : dim_(dim), l2_(l2), sw_(sw) {}

  Status append(const float* rows, const float*, int64_t n) override {
    if (sw_->fail_append != StatusCode::kOk) return Status(sw_->fail_append, "injected");
    rows_.insert(rows_.end(), rows, rows + n * dim_);
    return Status::OK();
  }
  Status reset(const float* rows, const float*, int64_t n) override {
    ++sw_->resets;
    rows_.assign(rows, rows + n * dim_);
    return Status::OK();
  }
  Status search(MatrixView q, int64_t k, int64_t stride, float* dists,
                int64_t* labels) const override {
    if (sw_->fail_search != StatusCode::kOk) return Status(sw_->fail_search, "injected");
    const int64_t n = size();
    for (int64_t i = 0; i < q.rows; ++i) {
      std::vector<std::pair<float, int64_t>> all;
      for (int64_t s = 0; s < n; ++s) {
        float acc = 0;
        for (int64_t j = 0; j < dim_; ++j) {
          const float x = rows_[s * dim_ + j], y = q.row(i)[j];
          acc += l2_ ? (x - y) * (x - y) : x * y;
        }
        all.emplace_back(l2_ ? acc : 1 - acc, s);
      }
      std::partial_sort(all.begin(), all.begin() + k, all.end());
      for (int64_t j = 0; j < k; ++j) {
        dists[i * stride + j] = all[j].first;
        labels[i * stride + j] = all[j].second;
      }
    }
    return Status::OK();
  }
  int64_t size() const override { return static_cast<int64_t>(rows_.size()) / dim_; }
  size_t device_bytes() const override { return rows_.size() * sizeof(float); }
  std::string describe() const override { return "host stand-in"; }

 private:
  int64_t dim_;
  bool l2_;
  Switches* sw_;
  std::vector<float> rows_;
};

struct Fixture {
  HostBackend::Switches sw;
  std::unique_ptr<IndexImpl> index;
  Fixture(int64_t dim, Metric metric, bool prefer_gpu) {
    GpuFlatOptions o;
    o.prefer_gpu = prefer_gpu;
    index = new_gpu_flat_on(dim, metric, o,
                            std::make_unique<HostBackend>(dim, metric == Metric::kL2, &sw));
  }
};

std::vector<int64_t> ids_from(int64_t n, int64_t first) {
  return testing::sequential_ids(n, first);
}

std::vector<int64_t> search_ids(const Index& index, const Matrix& q, int k, Status* status) {
  std::vector<float> d(q.rows * k);
  std::vector<int64_t> ids(d.size());
  SearchOptions o;
  o.k = k;
  *status = index.search(q.view(), o, {d.data(), ids.data()});
  return ids;
}

TEST(GpuFlatIndex, MatchesCpuFlatThroughAddRemoveAndIds) {
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    const Matrix base = testing::clustered(600, 9, 1);
    const Matrix q = testing::clustered(20, 9, 2);
    Fixture gpu(9, m, false);
    auto cpu = new_flat(9, m, FlatOptions{});
    ASSERT_TRUE(cpu.ok());
    for (Index* index : {static_cast<Index*>(gpu.index.get()), static_cast<Index*>(cpu->get())}) {
      ASSERT_TRUE(index->add(ids_from(300, 1000), base.slice(0, 300)).ok());
      ASSERT_TRUE(index->add(ids_from(300, 5000), base.slice(300, 300)).ok());
      std::vector<int64_t> gone = {1000, 5299, 1150, 5000};
      ASSERT_TRUE(index->remove(gone).ok());
    }
    EXPECT_EQ(gpu.index->kind(), IndexKind::kGpuFlat);
    EXPECT_EQ(gpu.index->size(), 596);
    EXPECT_EQ(gpu.sw.resets, 1);  // the removal re-uploaded the compacted copy
    Status s1, s2;
    EXPECT_EQ(search_ids(*gpu.index, q, 10, &s1), search_ids(**cpu, q, 10, &s2)) << metric_name(m);
    EXPECT_TRUE(s1.ok() && s2.ok());
    std::vector<float> v(9), w(9);
    ASSERT_TRUE(gpu.index->get_vector(5001, v.data()).ok());
    ASSERT_TRUE((*cpu)->get_vector(5001, w.data()).ok());
    EXPECT_EQ(v, w);
  }
}

TEST(GpuFlatIndex, FailedUploadAddsNothing) {
  const Matrix base = testing::uniform(50, 4, 3);
  Fixture gpu(4, Metric::kL2, false);
  ASSERT_TRUE(gpu.index->add(ids_from(20, 0), base.slice(0, 20)).ok());
  gpu.sw.fail_append = StatusCode::kResourceExhausted;
  EXPECT_EQ(gpu.index->add(ids_from(30, 20), base.slice(20, 30)).code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(gpu.index->size(), 20);
  EXPECT_FALSE(gpu.index->contains(25));
  gpu.sw.fail_append = StatusCode::kOk;
  ASSERT_TRUE(gpu.index->add(ids_from(30, 20), base.slice(20, 30)).ok());
  Status s;
  const auto got = search_ids(*gpu.index, base, 1, &s);
  ASSERT_TRUE(s.ok());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(got[i], i);
}

TEST(GpuFlatIndex, DeviceFailureFallsBackToCpuOnlyWithPreferGpu) {
  const Matrix base = testing::uniform(200, 6, 4);
  const Matrix q = testing::uniform(7, 6, 5);
  auto cpu = new_flat(6, Metric::kL2, FlatOptions{});
  ASSERT_TRUE((*cpu)->add(ids_from(200, 0), base.view()).ok());
  Status s;
  const auto want = search_ids(**cpu, q, 5, &s);
  for (bool prefer : {false, true}) {
    Fixture gpu(6, Metric::kL2, prefer);
    ASSERT_TRUE(gpu.index->add(ids_from(200, 0), base.view()).ok());
    gpu.sw.fail_search = StatusCode::kResourceExhausted;
    const auto got = search_ids(*gpu.index, q, 5, &s);
    if (prefer) {
      EXPECT_TRUE(s.ok()) << s.to_string();
      EXPECT_EQ(got, want);
    } else {
      EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
    }
    // An internal error is never hidden by the fallback.
    gpu.sw.fail_search = StatusCode::kInternal;
    search_ids(*gpu.index, q, 5, &s);
    EXPECT_EQ(s.code(), StatusCode::kInternal);
  }
}

TEST(GpuFlatIndex, KAbove1024IsRejected) {
  const Matrix base = testing::uniform(10, 3, 6);
  Fixture gpu(3, Metric::kL2, false);
  ASSERT_TRUE(gpu.index->add(ids_from(10, 0), base.view()).ok());
  Status s;
  search_ids(*gpu.index, base, 1025, &s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1024"), std::string::npos);
}

TEST(GpuFlatIndex, BatchReportShowsDeviceMemory) {
  const Matrix base = testing::uniform(100, 8, 7);
  Fixture gpu(8, Metric::kL2, false);
  ASSERT_TRUE(gpu.index->add(ids_from(100, 0), base.view()).ok());
  std::vector<float> d(100 * 3);
  std::vector<int64_t> ids(d.size());
  SearchOptions o;
  o.k = 3;
  BatchReport r;
  ASSERT_TRUE(
      search_batch(*gpu.index, base.view(), o, {d.data(), ids.data()}, BatchOptions{}, &r).ok());
  EXPECT_EQ(r.device_memory_bytes, 100u * 8 * sizeof(float));
  EXPECT_NE(gpu.index->describe().find("host stand-in"), std::string::npos);
}

TEST(GpuFlatIndex, DeviceMemoryAndBatchSearchesReachTheMetrics) {
  const Matrix base = testing::clustered(200, 8, 1);
  const Matrix q = testing::clustered(5, 8, 2);
  Fixture gpu(8, Metric::kL2, false);
  // Handed out as make_index() hands out every index: with the metrics wrapper, which exports
  // the device figures.
  std::unique_ptr<Index> index = metered(std::move(gpu.index));
  ASSERT_TRUE(index->add(ids_from(200, 0), base.view()).ok());
  Status st;
  for (int i = 0; i < 3; ++i) {
    search_ids(*index, q, 4, &st);
    ASSERT_TRUE(st.ok()) << st.to_string();
  }
  const std::string text = prometheus_text();
  // The host stand-in holds 200 x 8 floats "on the device".
  EXPECT_NE(text.find("vecperf_device_memory_used_bytes{device=\"0\",name=\"cuda:0\"} 6400"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("vecperf_device_batch_searches_total{device=\"0\",name=\"cuda:0\"} 3"),
            std::string::npos)
      << text;
  // Busy fractions are not measured yet: left out, not reported as 0.
  EXPECT_EQ(text.find("vecperf_device_batch_search_utilization_ratio{"), std::string::npos);
  index.reset();
  EXPECT_EQ(prometheus_text().find("vecperf_device_memory_used_bytes{"), std::string::npos);
}

}  // namespace
}  // namespace vecperf::internal
