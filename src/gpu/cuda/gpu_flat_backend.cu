// CUDA implementation of GpuFlatBackend (src/gpu/gpu_backend.h) and of vecperf/gpu.h.
//
// Layout on the device: the resident vectors (capacity x dim, float32 or float16, row-major),
// their squared norms (L2), and a workspace sized by the memory planner (memory_planner.h).
// A search runs the query set in batches; for each batch and each tile of resident vectors one
// cuBLAS GEMM writes the batch x tile products and select_tile_kernel folds them, as distances,
// into per-(query, split) running top-k lists, so only one tile of products exists at a time.
// Two streams overlap work: while the compute stream searches batch b, the copy stream uploads
// batch b + 1 from a pinned staging buffer (double-buffered, ordered by events).
#include <cuda_fp16.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "distance/distance.h"
#include "gpu/cuda/cuda_check.h"
#include "gpu/cuda/select_kernels.cuh"
#include "gpu/gpu_backend.h"
#include "gpu/memory_planner.h"
#include "gpu/radix_select.h"
#include "vecperf/gpu.h"

namespace vecperf {
namespace internal::cuda {
namespace {

// cudaGetDeviceCount with every failure (no driver, driver too old, no device) read as zero
// devices; `reason` says why there are none.
int usable_devices(std::string* reason) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    if (reason != nullptr)
      *reason = std::string("no usable CUDA device: cudaGetDeviceCount returned ") +
                cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
    return 0;
  }
  if (n == 0 && reason != nullptr) *reason = "no CUDA device is present";
  return n;
}

// Device memory that frees itself; grown by reserve(), contents not preserved.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  Status reserve(size_t bytes) {
    if (bytes <= bytes_) return Status::OK();
    release();
    VECPERF_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
    bytes_ = bytes;
    return Status::OK();
  }
  void release() {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void swap(DeviceBuffer& o) {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory (asynchronous copies need it), same contract as DeviceBuffer.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { release(); }

  Status reserve(size_t bytes) {
    if (bytes <= bytes_) return Status::OK();
    release();
    VECPERF_CUDA_CHECK(cudaHostAlloc(&ptr_, bytes, cudaHostAllocDefault));
    bytes_ = bytes;
    return Status::OK();
  }
  void release() {
    if (ptr_ != nullptr) (void)cudaFreeHost(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// The search's buffers: device ones sized by the plan, and the pinned staging buffers. Index 0/1
// of the doubled buffers alternates between consecutive batches.
struct Workspace {
  DeviceBuffer queries[2], qnorms[2], queries_half, products, running, result;
  PinnedBuffer host_queries[2], host_qnorms[2], host_result[2];

  size_t device_bytes() const {
    return queries[0].bytes() + queries[1].bytes() + qnorms[0].bytes() + qnorms[1].bytes() +
           queries_half.bytes() + products.bytes() + running.bytes() + result.bytes();
  }
  void release_device() {
    for (DeviceBuffer* b : {&queries[0], &queries[1], &qnorms[0], &qnorms[1], &queries_half,
                            &products, &running, &result})
      b->release();
  }
};

class CudaFlatBackend final : public GpuFlatBackend {
 public:
  CudaFlatBackend(int64_t dim, Metric metric, const GpuFlatOptions& options)
      : dim_(dim), l2_(metric == Metric::kL2), options_(options) {}

  ~CudaFlatBackend() override {
    // Teardown errors cannot be reported, and the buffers are freed either way.
    (void)cudaSetDevice(options_.device);
    if (compute_ != nullptr) (void)cudaStreamSynchronize(compute_);
    if (copy_ != nullptr) (void)cudaStreamSynchronize(copy_);
    for (cudaEvent_t e : {copied_[0], copied_[1], consumed_[0], consumed_[1], done_[0], done_[1]})
      if (e != nullptr) (void)cudaEventDestroy(e);
    if (blas_ != nullptr) (void)cublasDestroy(blas_);
    if (compute_ != nullptr) (void)cudaStreamDestroy(compute_);
    if (copy_ != nullptr) (void)cudaStreamDestroy(copy_);
  }

  Status init() {
    VECPERF_CUDA_CHECK(cudaSetDevice(options_.device));
    VECPERF_CUDA_CHECK(cudaGetDeviceProperties(&props_, options_.device));
    VECPERF_CUDA_CHECK(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
    VECPERF_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
    for (int i = 0; i < 2; ++i) {
      VECPERF_CUDA_CHECK(cudaEventCreateWithFlags(&copied_[i], cudaEventDisableTiming));
      VECPERF_CUDA_CHECK(cudaEventCreateWithFlags(&consumed_[i], cudaEventDisableTiming));
      VECPERF_CUDA_CHECK(cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming));
    }
    VECPERF_CUBLAS_CHECK(cublasCreate(&blas_));
    VECPERF_CUBLAS_CHECK(cublasSetStream(blas_, compute_));
    return Status::OK();
  }

  Status append(const float* rows, const float* norms, int64_t n) override {
    std::lock_guard lock(mu_);
    VECPERF_CUDA_CHECK(cudaSetDevice(options_.device));
    VECPERF_RETURN_IF_ERROR(grow(rows_ + n));
    VECPERF_RETURN_IF_ERROR(upload(rows, norms, rows_, n));
    rows_ += n;
    return Status::OK();
  }

  Status reset(const float* rows, const float* norms, int64_t n) override {
    std::lock_guard lock(mu_);
    VECPERF_CUDA_CHECK(cudaSetDevice(options_.device));
    rows_ = 0;
    VECPERF_RETURN_IF_ERROR(grow(n));
    VECPERF_RETURN_IF_ERROR(upload(rows, norms, 0, n));
    rows_ = n;
    return Status::OK();
  }

  Status search(MatrixView q, int64_t k, int64_t stride, float* dists,
                int64_t* labels) const override {
    if (k < 1 || k > kMaxK)
      return Status::InvalidArgument("gpu_flat: k must be in [1, " + std::to_string(kMaxK) + "]");
    std::lock_guard lock(mu_);
    if (q.rows == 0 || rows_ == 0) return Status::OK();
    if (k > rows_) return Status::InvalidArgument("gpu_flat: k exceeds the resident vectors");
    VECPERF_CUDA_CHECK(cudaSetDevice(options_.device));
    size_t free_bytes = 0, total_bytes = 0;
    VECPERF_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    GpuPlanInputs in;
    // The workspace held from an earlier search is ours to reuse or replace.
    in.free_bytes = free_bytes + ws_.device_bytes();
    in.memory_fraction = options_.memory_fraction;
    in.dim = dim_;
    in.k = k;
    in.queries = q.rows;
    in.base_rows = rows_;
    in.float16 = options_.dtype == GpuDtype::kFloat16;
    in.multiprocessors = props_.multiProcessorCount;
    auto planned = plan_gpu_search(in);
    if (!planned.ok()) return planned.status();
    GpuSearchPlan plan = *planned;
    for (;;) {
      Status s = reserve_workspace(plan, k);
      if (s.ok()) break;
      // cudaMemGetInfo is a snapshot: another process may have taken memory since.
      ws_.release_device();
      if (s.code() != StatusCode::kResourceExhausted || !shrink_plan(in, &plan)) return s;
    }
    Status s = run(q, k, plan, stride, dists, labels);
    if (!s.ok()) {
      // Work queued before the failure may still read the staging buffers: drain it, so that
      // the next search can reuse them (errors here repeat the one being returned).
      (void)cudaStreamSynchronize(copy_);
      (void)cudaStreamSynchronize(compute_);
    }
    return s;
  }

  int64_t size() const override {
    std::lock_guard lock(mu_);
    return rows_;
  }

  size_t device_bytes() const override {
    std::lock_guard lock(mu_);
    return base_.bytes() + xnorms_.bytes() + ws_.device_bytes();
  }

  std::string describe() const override {
    return std::string(props_.name) + " (device " + std::to_string(options_.device) + ", sm_" +
           std::to_string(props_.major) + std::to_string(props_.minor) + ")";
  }

 private:
  size_t elem_bytes() const { return options_.dtype == GpuDtype::kFloat16 ? 2 : sizeof(float); }

  // Makes room for `rows` resident vectors, keeping the first rows_ (amortised doubling; an
  // exact fit when doubling does not fit).
  Status grow(int64_t rows) {
    if (rows <= capacity_) return Status::OK();
    const int64_t doubled = std::max<int64_t>(rows, std::max<int64_t>(1024, 2 * capacity_));
    Status s = reallocate(doubled);
    if (s.code() == StatusCode::kResourceExhausted && doubled > rows) s = reallocate(rows);
    return s;
  }

  Status reallocate(int64_t capacity) {
    DeviceBuffer base, norms;
    VECPERF_RETURN_IF_ERROR(base.reserve(static_cast<size_t>(capacity * dim_) * elem_bytes()));
    if (l2_) VECPERF_RETURN_IF_ERROR(norms.reserve(static_cast<size_t>(capacity) * sizeof(float)));
    if (rows_ > 0) {
      VECPERF_CUDA_CHECK(cudaMemcpy(base.as<char>(), base_.as<char>(),
                                    static_cast<size_t>(rows_ * dim_) * elem_bytes(),
                                    cudaMemcpyDeviceToDevice));
      if (l2_)
        VECPERF_CUDA_CHECK(cudaMemcpy(norms.as<float>(), xnorms_.as<float>(),
                                      static_cast<size_t>(rows_) * sizeof(float),
                                      cudaMemcpyDeviceToDevice));
    }
    base_.swap(base);
    xnorms_.swap(norms);
    capacity_ = capacity;
    return Status::OK();
  }

  // Copies n rows (and norms) to resident slots at .. at + n - 1.
  Status upload(const float* rows, const float* norms, int64_t at, int64_t n) {
    if (n == 0) return Status::OK();
    if (options_.dtype == GpuDtype::kFloat32) {
      VECPERF_CUDA_CHECK(cudaMemcpy(base_.as<float>() + at * dim_, rows,
                                    static_cast<size_t>(n * dim_) * sizeof(float),
                                    cudaMemcpyHostToDevice));
    } else {
      // Converted on the host in bounded chunks, so an upload never doubles host memory.
      constexpr int64_t kChunk = int64_t{1} << 20;
      std::vector<__half> half;
      const int64_t total = n * dim_;
      for (int64_t b = 0; b < total; b += kChunk) {
        const int64_t m = std::min(kChunk, total - b);
        half.resize(static_cast<size_t>(m));
        for (int64_t i = 0; i < m; ++i) half[i] = __float2half_rn(rows[b + i]);
        VECPERF_CUDA_CHECK(cudaMemcpy(base_.as<__half>() + at * dim_ + b, half.data(),
                                      static_cast<size_t>(m) * sizeof(__half),
                                      cudaMemcpyHostToDevice));
      }
    }
    if (l2_)
      VECPERF_CUDA_CHECK(cudaMemcpy(xnorms_.as<float>() + at, norms,
                                    static_cast<size_t>(n) * sizeof(float),
                                    cudaMemcpyHostToDevice));
    return Status::OK();
  }

  Status reserve_workspace(const GpuSearchPlan& p, int64_t k) const {
    const size_t qb = static_cast<size_t>(p.query_batch);
    const size_t d = static_cast<size_t>(dim_);
    const size_t uk = static_cast<size_t>(k);
    for (int i = 0; i < 2; ++i) {
      VECPERF_RETURN_IF_ERROR(ws_.queries[i].reserve(qb * d * sizeof(float)));
      VECPERF_RETURN_IF_ERROR(ws_.qnorms[i].reserve(qb * sizeof(float)));
      VECPERF_RETURN_IF_ERROR(ws_.host_queries[i].reserve(qb * d * sizeof(float)));
      VECPERF_RETURN_IF_ERROR(ws_.host_qnorms[i].reserve(qb * sizeof(float)));
      VECPERF_RETURN_IF_ERROR(ws_.host_result[i].reserve(qb * uk * sizeof(uint64_t)));
    }
    if (options_.dtype == GpuDtype::kFloat16)
      VECPERF_RETURN_IF_ERROR(ws_.queries_half.reserve(qb * d * sizeof(__half)));
    VECPERF_RETURN_IF_ERROR(
        ws_.products.reserve(qb * static_cast<size_t>(p.tile_rows) * sizeof(float)));
    VECPERF_RETURN_IF_ERROR(
        ws_.running.reserve(qb * static_cast<size_t>(p.splits) * uk * sizeof(uint64_t)));
    VECPERF_RETURN_IF_ERROR(ws_.result.reserve(qb * uk * sizeof(uint64_t)));
    return Status::OK();
  }

  // Fills pinned buffer `slot` with queries [begin, begin + rows) and starts their upload on the
  // copy stream once the batch that last used the device buffer has been searched.
  Status stage(MatrixView q, int64_t begin, int64_t rows, int slot) const {
    const size_t bytes = static_cast<size_t>(rows * dim_) * sizeof(float);
    std::memcpy(ws_.host_queries[slot].as<float>(), q.row(begin), bytes);
    float* hn = ws_.host_qnorms[slot].as<float>();
    if (l2_) {
      for (int64_t i = 0; i < rows; ++i)
        hn[i] = norm_sqr(q.row(begin + i), static_cast<size_t>(dim_));
    }
    VECPERF_CUDA_CHECK(cudaStreamWaitEvent(copy_, consumed_[slot], 0));
    VECPERF_CUDA_CHECK(cudaMemcpyAsync(ws_.queries[slot].as<float>(),
                                       ws_.host_queries[slot].as<float>(), bytes,
                                       cudaMemcpyHostToDevice, copy_));
    if (l2_)
      VECPERF_CUDA_CHECK(cudaMemcpyAsync(ws_.qnorms[slot].as<float>(), hn,
                                         static_cast<size_t>(rows) * sizeof(float),
                                         cudaMemcpyHostToDevice, copy_));
    VECPERF_CUDA_CHECK(cudaEventRecord(copied_[slot], copy_));
    return Status::OK();
  }

  // One GEMM: products (rows x cols, row-major) = queries x resident[tile_start, +cols)^T.
  // cuBLAS is column-major, so it computes the transpose: (cols x rows) = R^T(cols x d) Q(d x
  // rows).
  Status gemm(const void* queries, int64_t rows, int64_t tile_start, int64_t cols) const {
    const float one = 1.0f, zero = 0.0f;
    const bool half = options_.dtype == GpuDtype::kFloat16;
    const cudaDataType in_type = half ? CUDA_R_16F : CUDA_R_32F;
    const cublasComputeType_t compute =
        (!half && options_.allow_tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const char* resident = base_.as<char>() + static_cast<size_t>(tile_start * dim_) * elem_bytes();
    VECPERF_CUBLAS_CHECK(cublasGemmEx(
        blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(cols), static_cast<int>(rows),
        static_cast<int>(dim_), &one, resident, in_type, static_cast<int>(dim_), queries, in_type,
        static_cast<int>(dim_), &zero, ws_.products.as<float>(), CUDA_R_32F, static_cast<int>(cols),
        compute, CUBLAS_GEMM_DEFAULT));
    return Status::OK();
  }

  // Queues the search of one staged batch on the compute stream, ending with the download of
  // its result keys into host_result[slot].
  Status launch(int64_t rows, int slot, int64_t k, const GpuSearchPlan& p) const {
    const int ik = static_cast<int>(k);
    const int splits = static_cast<int>(p.splits);
    VECPERF_CUDA_CHECK(cudaStreamWaitEvent(compute_, copied_[slot], 0));
    const void* queries = ws_.queries[slot].as<float>();
    if (options_.dtype == GpuDtype::kFloat16) {
      const int64_t n = rows * dim_;
      const int blocks = static_cast<int>(std::min<int64_t>((n + 255) / 256, 4096));
      float_to_half_kernel<<<blocks, 256, 0, compute_>>>(ws_.queries[slot].as<float>(),
                                                         ws_.queries_half.as<__half>(), n);
      VECPERF_CUDA_CHECK(cudaGetLastError());
      queries = ws_.queries_half.as<__half>();
    }
    init_running_kernel<<<static_cast<unsigned>(rows * splits), kSelectThreads, 0, compute_>>>(
        ws_.running.as<uint64_t>(), splits, ik);
    VECPERF_CUDA_CHECK(cudaGetLastError());
    for (int64_t start = 0; start < rows_; start += p.tile_rows) {
      const int64_t cols = std::min(p.tile_rows, rows_ - start);
      VECPERF_RETURN_IF_ERROR(gemm(queries, rows, start, cols));
      select_tile_kernel<<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(splits)),
                           kSelectThreads, 0, compute_>>>(
          ws_.products.as<float>(), cols, start, ws_.qnorms[slot].as<float>(), xnorms_.as<float>(),
          l2_, splits, ik, ws_.running.as<uint64_t>());
      VECPERF_CUDA_CHECK(cudaGetLastError());
    }
    // The batch's queries are no longer read: the copy stream may overwrite them.
    VECPERF_CUDA_CHECK(cudaEventRecord(consumed_[slot], compute_));
    const uint64_t* keys = ws_.running.as<uint64_t>();
    if (splits > 1) {
      merge_splits_kernel<<<static_cast<unsigned>(rows), kSelectThreads, 0, compute_>>>(
          ws_.running.as<uint64_t>(), splits, ik, ws_.result.as<uint64_t>());
      VECPERF_CUDA_CHECK(cudaGetLastError());
      keys = ws_.result.as<uint64_t>();
    }
    VECPERF_CUDA_CHECK(cudaMemcpyAsync(ws_.host_result[slot].as<uint64_t>(), keys,
                                       static_cast<size_t>(rows * k) * sizeof(uint64_t),
                                       cudaMemcpyDeviceToHost, compute_));
    VECPERF_CUDA_CHECK(cudaEventRecord(done_[slot], compute_));
    return Status::OK();
  }

  Status run(MatrixView q, int64_t k, const GpuSearchPlan& p, int64_t stride, float* dists,
             int64_t* labels) const {
    const int64_t qb = p.query_batch;
    const int64_t batches = (q.rows + qb - 1) / qb;
    auto rows_of = [&](int64_t b) { return std::min(qb, q.rows - b * qb); };
    VECPERF_RETURN_IF_ERROR(stage(q, 0, rows_of(0), 0));
    for (int64_t b = 0; b < batches; ++b) {
      const int slot = static_cast<int>(b & 1);
      const int64_t rows = rows_of(b);
      VECPERF_RETURN_IF_ERROR(launch(rows, slot, k, p));
      // Staging the next batch overlaps with the device searching this one.
      if (b + 1 < batches)
        VECPERF_RETURN_IF_ERROR(stage(q, (b + 1) * qb, rows_of(b + 1), 1 - slot));
      VECPERF_CUDA_CHECK(cudaEventSynchronize(done_[slot]));
      const uint64_t* keys = ws_.host_result[slot].as<uint64_t>();
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t out = (b * qb + i) * stride;
        for (int64_t j = 0; j < k; ++j) {
          const uint64_t key = keys[i * k + j];
          const bool empty = gpu_select::key_is_empty(key);
          dists[out + j] =
              empty ? std::numeric_limits<float>::infinity() : gpu_select::key_dist(key);
          labels[out + j] = empty ? kNoId : static_cast<int64_t>(gpu_select::key_slot(key));
        }
      }
    }
    return Status::OK();
  }

  const int64_t dim_;
  const bool l2_;
  const GpuFlatOptions options_;
  cudaDeviceProp props_{};
  cudaStream_t compute_ = nullptr, copy_ = nullptr;
  cudaEvent_t copied_[2] = {}, consumed_[2] = {}, done_[2] = {};
  cublasHandle_t blas_ = nullptr;

  // Guards everything below: one search (or upload) drives the device at a time.
  mutable std::mutex mu_;
  DeviceBuffer base_, xnorms_;
  int64_t rows_ = 0, capacity_ = 0;
  mutable Workspace ws_;
};

}  // namespace

Result<std::unique_ptr<GpuFlatBackend>> make_backend(int64_t dim, Metric metric,
                                                     const GpuFlatOptions& options) {
  std::string reason;
  const int devices = usable_devices(&reason);
  if (devices == 0)
    return Status::Unavailable("gpu_flat needs a CUDA device: " + reason +
                               "; use kind flat, or set gpu_flat.prefer_gpu to fall back to it");
  if (options.device >= devices)
    return Status::InvalidArgument("gpu_flat.device = " + std::to_string(options.device) +
                                   " but only " + std::to_string(devices) +
                                   " CUDA device(s) are present");
  auto backend = std::make_unique<CudaFlatBackend>(dim, metric, options);
  VECPERF_RETURN_IF_ERROR(backend->init());
  return std::unique_ptr<GpuFlatBackend>(std::move(backend));
}

}  // namespace internal::cuda

bool gpu_available() { return internal::cuda::usable_devices(nullptr) > 0; }

int gpu_device_count() { return internal::cuda::usable_devices(nullptr); }

std::string gpu_unavailable_reason() {
  std::string reason;
  return internal::cuda::usable_devices(&reason) > 0 ? std::string() : reason;
}

namespace internal {

Result<std::unique_ptr<GpuFlatBackend>> make_gpu_flat_backend(int64_t dim, Metric metric,
                                                              const GpuFlatOptions& options) {
  return cuda::make_backend(dim, metric, options);
}

}  // namespace internal
}  // namespace vecperf
