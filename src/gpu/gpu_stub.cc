// The GPU entry points of a build without CUDA (VECPERF_WITH_CUDA=OFF, or AUTO without a CUDA
// compiler): no device is ever available, and creating a GPU backend says how to get one.
#include "gpu/gpu_backend.h"
#include "vecperf/gpu.h"

namespace vecperf {
namespace {

constexpr const char* kNoCuda =
    "vecperf was built without CUDA; rebuild with -DVECPERF_WITH_CUDA=ON (needs the CUDA "
    "toolkit) to use a GPU, or use IndexKind::kFlat";

}  // namespace

bool gpu_available() { return false; }
int gpu_device_count() { return 0; }
std::string gpu_unavailable_reason() { return kNoCuda; }

namespace internal {

Result<std::unique_ptr<GpuFlatBackend>> make_gpu_flat_backend(int64_t, Metric,
                                                              const GpuFlatOptions&) {
  return Status::Unavailable(kNoCuda);
}

}  // namespace internal
}  // namespace vecperf
