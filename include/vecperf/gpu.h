// Run-time detection of the CUDA device used by IndexKind::kGpuFlat. Plain C++: no CUDA types,
// so it can be included (and called) by any build; a build without CUDA reports no device.
#pragma once

#include <string>

#include "vecperf/export.h"

namespace vecperf {

/// True when vecperf was built with CUDA and at least one CUDA device can be used now. Never
/// fails: a missing driver, no device or a driver older than the runtime all read as false
/// (gpu_unavailable_reason() says which). Thread-safe; the first call initialises the CUDA
/// runtime, later calls only repeat the (cheap) device count.
VECPERF_EXPORT bool gpu_available();

/// Number of usable CUDA devices (0 without CUDA or without a device). Thread-safe.
VECPERF_EXPORT int gpu_device_count();

/// Why gpu_available() is false ("built without CUDA", the CUDA runtime's error, ...), or an
/// empty string when a device is available. Thread-safe.
VECPERF_EXPORT std::string gpu_unavailable_reason();

}  // namespace vecperf
