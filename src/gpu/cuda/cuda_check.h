// Every CUDA runtime and cuBLAS call of vecperf goes through these checks, which turn the error
// code into a Status naming the call and its source line: out of memory -> kResourceExhausted
// (the planner then retries smaller, or the caller falls back), no usable device or driver ->
// kUnavailable, anything else -> kInternal.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "vecperf/status.h"

namespace vecperf::internal::cuda {

inline Status cuda_status(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return Status::OK();
  // Clears a non-sticky error so that later calls do not report it again.
  (void)cudaGetLastError();
  std::string msg = std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                    cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  switch (err) {
    case cudaErrorMemoryAllocation:
      return Status::ResourceExhausted(msg + "; free device memory or lower memory_fraction");
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion: return Status::Unavailable(msg);
    default: return Status::Internal(msg);
  }
}

inline Status cublas_status(cublasStatus_t err, const char* call, const char* file, int line) {
  if (err == CUBLAS_STATUS_SUCCESS) return Status::OK();
  std::string msg = std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                    cublasGetStatusName(err) + " (" + cublasGetStatusString(err) + ")";
  switch (err) {
    case CUBLAS_STATUS_ALLOC_FAILED:
      return Status::ResourceExhausted(msg + "; free device memory or lower memory_fraction");
    case CUBLAS_STATUS_NOT_INITIALIZED:
    case CUBLAS_STATUS_ARCH_MISMATCH: return Status::Unavailable(msg);
    default: return Status::Internal(msg);
  }
}

}  // namespace vecperf::internal::cuda

/// Returns the Status of a failed CUDA runtime call from the enclosing function.
#define VECPERF_CUDA_CHECK(expr) \
  VECPERF_RETURN_IF_ERROR(::vecperf::internal::cuda::cuda_status((expr), #expr, __FILE__, __LINE__))
/// Returns the Status of a failed cuBLAS call from the enclosing function.
#define VECPERF_CUBLAS_CHECK(expr) \
  VECPERF_RETURN_IF_ERROR(         \
      ::vecperf::internal::cuda::cublas_status((expr), #expr, __FILE__, __LINE__))
