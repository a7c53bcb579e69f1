// The boundary between the index layer and the CUDA code, in plain C++ (pointers, sizes, Status):
// src/index/gpu_flat_index.cc talks to a GpuFlatBackend, and CMake links either the CUDA
// implementation (src/gpu/cuda/) or src/gpu/gpu_stub.cc, so no #if CUDA appears outside src/gpu.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "vecperf/options.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf::internal {

/// Device-resident copy of a Flat index's vectors and the batched exact search over it.
/// Slots are 0 .. size() - 1 in upload order; labels returned by search() are slots.
///
/// Thread-safety: search() may be called from several threads at once (calls are serialised on
/// the device by an internal mutex); append() and reset() require that no search() runs.
class GpuFlatBackend {
 public:
  virtual ~GpuFlatBackend() = default;

  /// Appends `n` rows (row-major n x dim; already normalised for cosine) with their squared
  /// norms (L2 only; null otherwise) at slots size() .. size() + n - 1. All-or-nothing.
  /// Errors: kResourceExhausted when the device cannot hold them; kInternal for a CUDA failure.
  virtual Status append(const float* rows, const float* norms, int64_t n) = 0;

  /// Replaces the whole device copy (after a removal compacted the host copy).
  /// Errors: as append(); on error the device copy is empty.
  virtual Status reset(const float* rows, const float* norms, int64_t n) = 0;

  /// For each query (row-major q.rows x dim; normalised for cosine) writes the k nearest slots,
  /// nearest first, at dists/labels[i * stride + j], j < k, k <= min(size(), kMaxK), in the
  /// index's distance convention (squared L2, 1 - dot).
  /// Errors: kResourceExhausted when even the smallest tiling does not fit; kInternal.
  virtual Status search(MatrixView q, int64_t k, int64_t stride, float* dists,
                        int64_t* labels) const = 0;

  virtual int64_t size() const = 0;
  virtual size_t device_bytes() const = 0;
  /// e.g. "NVIDIA H100 80GB HBM3 (device 0, sm_90), float16".
  virtual std::string describe() const = 0;

  /// Largest k one search can return (one k-selection block keeps k keys in shared memory).
  static constexpr int64_t kMaxK = 1024;
};

/// Creates an empty backend on options.device. Errors: kUnavailable when vecperf was built
/// without CUDA or the device cannot be used (the message says why); kInvalidArgument for a
/// device ordinal out of range.
Result<std::unique_ptr<GpuFlatBackend>> make_gpu_flat_backend(int64_t dim, Metric metric,
                                                              const GpuFlatOptions& options);

}  // namespace vecperf::internal
