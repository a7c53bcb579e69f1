// make_index(), load() and from_bytes(): the entry points that dispatch on the backend kind and
// hand out indexes. They live in the build layer because they know every kind, the auto index
// included, and wrap what they return for the metrics (metered_index.h).
#include <string>

#include "build/auto_index.h"
#include "build/index_payload.h"
#include "build/metered_index.h"
#include "common/guarded.h"
#include "index/index_base.h"
#include "index/index_format.h"
#include "vecperf/factory.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf {
namespace internal {

Result<std::unique_ptr<IndexImpl>> read_index_payload(IndexKind kind, Reader& r) {
  if (kind != IndexKind::kAuto) return read_backend_payload(kind, r);
  return guarded_in(
      r.what(), "decoding the index", [&] { return load_auto(r); }, StatusCode::kCorruption);
}

Result<std::unique_ptr<IndexImpl>> index_from_frame(const FramedFile& file,
                                                    const std::string& what) {
  if (file.kind < 1 || file.kind > static_cast<uint32_t>(IndexKind::kGpuFlat))
    return Status::Corruption(what + " names unknown backend kind " + std::to_string(file.kind));
  Reader r(file.payload.data(), file.payload.size(), what);
  auto index = read_index_payload(static_cast<IndexKind>(file.kind), r);
  if (!index.ok()) return index.status();
  if (r.remaining() != 0) {
    r.corrupt(std::to_string(r.remaining()) + " unexpected bytes after the index payload");
    return r.status();
  }
  return index;
}

}  // namespace internal

namespace {

// The index in a framed file that was read (or failed to be); `name` as in the frame's messages.
Result<std::unique_ptr<Index>> index_in(const Result<internal::FramedFile>& file,
                                        const std::string& name) {
  if (!file.ok()) return file.status();
  auto index = internal::index_from_frame(*file, "vecperf index file '" + name + "'");
  if (!index.ok()) return index.status();
  return internal::metered(std::move(*index));
}

}  // namespace

Result<std::unique_ptr<Index>> make_index(const IndexOptions& o) {
  VECPERF_RETURN_IF_ERROR(o.validate());
  Result<std::unique_ptr<internal::IndexImpl>> index = Status::Internal("unreachable");
  switch (o.kind) {
    case IndexKind::kFlat: index = internal::new_flat(o.dim, o.metric, o.flat); break;
    case IndexKind::kIvf: index = internal::new_ivf(o.dim, o.metric, o.ivf); break;
    case IndexKind::kHnsw: index = internal::new_hnsw(o.dim, o.metric, o.hnsw); break;
    case IndexKind::kAuto: index = internal::new_auto(o.dim, o.metric, o.auto_index); break;
    case IndexKind::kGpuFlat: index = internal::new_gpu_flat(o.dim, o.metric, o.gpu_flat); break;
  }
  if (!index.ok()) return index.status();
  return internal::metered(std::move(*index));
}

Result<std::unique_ptr<Index>> load(const std::string& path) {
  return index_in(internal::read_framed_file(path, internal::kIndexFrame), path);
}

Result<std::unique_ptr<Index>> from_bytes(std::string_view bytes) {
  // Named like a file in messages, so that they read as load()'s do.
  std::string name = "<";  // appended piecewise: GCC 12 warns falsely on "<" + to_string(...)
  name += std::to_string(bytes.size());
  name += " bytes in memory>";
  return index_in(internal::decode_framed(bytes.data(), bytes.size(), internal::kIndexFrame, name),
                  name);
}

}  // namespace vecperf
