// Entry points that dispatch on the backend kind: load(), make_index(), and the name tables.
#include <cmath>

#include "index/index_base.h"
#include "index/index_format.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf {

const char* metric_name(Metric metric) {
  switch (metric) {
    case Metric::kL2: return "l2";
    case Metric::kInnerProduct: return "ip";
    case Metric::kCosine: return "cosine";
  }
  return "unknown";
}

Result<Metric> parse_metric(const std::string& name) {
  if (name == "l2") return Metric::kL2;
  if (name == "ip" || name == "inner_product") return Metric::kInnerProduct;
  if (name == "cosine") return Metric::kCosine;
  return Status::InvalidArgument("unknown metric '" + name + "'; expected l2, ip or cosine");
}

const char* index_kind_name(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat: return "flat";
    case IndexKind::kIvf: return "ivf";
    case IndexKind::kHnsw: return "hnsw";
    case IndexKind::kAuto: return "auto";
    case IndexKind::kGpuFlat: return "gpu_flat";
  }
  return "unknown";
}

Result<IndexKind> parse_index_kind(const std::string& name) {
  if (name == "flat") return IndexKind::kFlat;
  if (name == "ivf") return IndexKind::kIvf;
  if (name == "hnsw") return IndexKind::kHnsw;
  if (name == "auto") return IndexKind::kAuto;
  if (name == "gpu_flat") return IndexKind::kGpuFlat;
  return Status::InvalidArgument("unknown index kind '" + name +
                                 "'; expected flat, ivf, hnsw, auto or gpu_flat");
}

const char* ivf_encoding_name(IvfEncoding encoding) {
  switch (encoding) {
    case IvfEncoding::kFlat: return "flat";
    case IvfEncoding::kSQ8: return "sq8";
    case IvfEncoding::kSQ4: return "sq4";
    case IvfEncoding::kPQ: return "pq";
  }
  return "unknown";
}

namespace {

Status check_ivf(const IvfOptions& o, int64_t dim) {
  if (o.nlist < 0) return Status::InvalidArgument("ivf.nlist must be >= 0 (0 = derived from N)");
  if (o.nprobe < 1) return Status::InvalidArgument("ivf.nprobe must be >= 1");
  if (o.rerank < 0) return Status::InvalidArgument("ivf.rerank must be >= 0");
  if (o.train_threshold < 0) return Status::InvalidArgument("ivf.train_threshold must be >= 0");
  if (o.max_train_samples < 1) return Status::InvalidArgument("ivf.max_train_samples must be >= 1");
  if (o.encoding == IvfEncoding::kPQ && o.pq_m != 0 && (o.pq_m < 1 || dim % o.pq_m != 0))
    return Status::InvalidArgument("ivf.pq_m = " + std::to_string(o.pq_m) +
                                   " must divide the dimension " + std::to_string(dim));
  if (static_cast<int>(o.encoding) < 0 || static_cast<int>(o.encoding) > 3)
    return Status::InvalidArgument("ivf.encoding is not a known IvfEncoding");
  return Status::OK();
}

Status check_gpu_flat(const GpuFlatOptions& o) {
  if (static_cast<int>(o.dtype) < 0 || static_cast<int>(o.dtype) > 1)
    return Status::InvalidArgument("gpu_flat.dtype is not a known GpuDtype");
  if (o.device < 0) return Status::InvalidArgument("gpu_flat.device must be >= 0");
  if (!(o.memory_fraction > 0 && o.memory_fraction <= 1))
    return Status::InvalidArgument("gpu_flat.memory_fraction must be in (0, 1]");
  return Status::OK();
}

Status check_hnsw(const HnswOptions& o) {
  if (o.M < 2 || o.M > 256) return Status::InvalidArgument("hnsw.M must be in [2, 256]");
  if (o.ef_construction < 1) return Status::InvalidArgument("hnsw.ef_construction must be >= 1");
  if (o.ef_search < 1) return Status::InvalidArgument("hnsw.ef_search must be >= 1");
  return Status::OK();
}

}  // namespace

Status IndexOptions::validate() const {
  if (dim < 1 || dim > internal::kMaxDim)
    return Status::InvalidArgument("dim must be in [1, " + std::to_string(internal::kMaxDim) +
                                   "], got " + std::to_string(dim));
  if (static_cast<int>(metric) < 0 || static_cast<int>(metric) > 2)
    return Status::InvalidArgument("metric is not a known Metric");
  switch (kind) {
    case IndexKind::kFlat: return Status::OK();
    case IndexKind::kIvf: return check_ivf(ivf, dim);
    case IndexKind::kHnsw: return check_hnsw(hnsw);
    case IndexKind::kGpuFlat: return check_gpu_flat(gpu_flat);
    case IndexKind::kAuto: {
      const AutoOptions& a = auto_index;
      if (a.flat_max < 1 || a.ivf_max < a.flat_max)
        return Status::InvalidArgument("auto_index needs 1 <= flat_max <= ivf_max");
      if (!(a.target_recall > 0 && a.target_recall <= 1))
        return Status::InvalidArgument("auto_index.target_recall must be in (0, 1]");
      VECPERF_RETURN_IF_ERROR(check_ivf(a.ivf, dim));
      return check_hnsw(a.hnsw);
    }
  }
  return Status::InvalidArgument("kind is not a known IndexKind");
}

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
  return std::unique_ptr<Index>(std::move(*index));
}

namespace {

// The index in a framed file that was read (or failed to be); `name` as in the frame's messages.
Result<std::unique_ptr<Index>> index_in(const Result<internal::FramedFile>& file,
                                        const std::string& name) {
  if (!file.ok()) return file.status();
  auto index = internal::index_from_frame(*file, "vecperf index file '" + name + "'");
  if (!index.ok()) return index.status();
  return std::unique_ptr<Index>(std::move(*index));
}

}  // namespace

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

namespace vecperf::internal {

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

Result<std::unique_ptr<IndexImpl>> read_index_payload(IndexKind kind, Reader& r) {
  try {
    if (kind == IndexKind::kAuto) return load_auto(r);
    return IndexBase::read_payload(kind, r);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(r.what() + ": not enough memory to load the index");
  } catch (const std::exception& e) {
    // FAISS and hnswlib report malformed data by throwing.
    return Status::Corruption(r.what() + ": " + e.what());
  }
}

}  // namespace vecperf::internal
