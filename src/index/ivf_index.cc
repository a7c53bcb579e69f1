// IVF backend: being implemented.
#include "index/index_base.h"

namespace vecperf::internal {

Result<std::unique_ptr<IndexImpl>> new_ivf(int64_t, Metric, const IvfOptions&) {
  return Status::NotSupported("ivf backend not built yet");
}
Result<std::unique_ptr<IndexImpl>> load_ivf(Reader& r, int64_t, Metric, IdMap) {
  r.corrupt("ivf backend not built yet");
  return r.status();
}

}  // namespace vecperf::internal
