// Auto backend: being implemented.
#include "index/index_base.h"

namespace vecperf::internal {

Result<std::unique_ptr<IndexImpl>> new_auto(int64_t, Metric, const AutoOptions&) {
  return Status::NotSupported("auto backend not built yet");
}
Result<std::unique_ptr<IndexImpl>> load_auto(Reader& r) {
  r.corrupt("auto backend not built yet");
  return r.status();
}

}  // namespace vecperf::internal
