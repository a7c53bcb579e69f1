// HNSW backend: being implemented.
#include "index/index_base.h"

namespace vecperf::internal {

Result<std::unique_ptr<IndexImpl>> new_hnsw(int64_t, Metric, const HnswOptions&) {
  return Status::NotSupported("hnsw backend not built yet");
}
Result<std::unique_ptr<IndexImpl>> load_hnsw(Reader& r, int64_t, Metric, IdMap) {
  r.corrupt("hnsw backend not built yet");
  return r.status();
}

}  // namespace vecperf::internal
