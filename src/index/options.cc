// The name tables of the index enums, IndexOptions::validate(), and the dispatch of a backend's
// payload to its loader. make_index(), load() and from_bytes() are one layer up (src/build), where
// the auto backend and the metrics wrapper live.
#include <cmath>

#include "common/enum_names.h"
#include "common/guarded.h"
#include "index/index_base.h"
#include "index/index_format.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf {

namespace {

using internal::EnumName;

constexpr EnumName<Metric> kMetricNames[] = {
    {Metric::kL2, "l2"}, {Metric::kInnerProduct, "ip"}, {Metric::kCosine, "cosine"}};
constexpr EnumName<IndexKind> kKindNames[] = {{IndexKind::kFlat, "flat"},
                                              {IndexKind::kIvf, "ivf"},
                                              {IndexKind::kHnsw, "hnsw"},
                                              {IndexKind::kAuto, "auto"},
                                              {IndexKind::kGpuFlat, "gpu_flat"}};
constexpr EnumName<IvfEncoding> kEncodingNames[] = {{IvfEncoding::kFlat, "flat"},
                                                    {IvfEncoding::kSQ8, "sq8"},
                                                    {IvfEncoding::kSQ4, "sq4"},
                                                    {IvfEncoding::kPQ, "pq"}};
constexpr EnumName<GpuDtype> kDtypeNames[] = {{GpuDtype::kFloat32, "float32"},
                                              {GpuDtype::kFloat16, "float16"}};
constexpr EnumName<SearchKnob> kKnobNames[] = {{SearchKnob::kNone, ""},
                                               {SearchKnob::kNprobe, "nprobe"},
                                               {SearchKnob::kEfSearch, "ef_search"}};

}  // namespace

const char* metric_name(Metric metric) { return internal::enum_name<Metric>(kMetricNames, metric); }

Result<Metric> parse_metric(const std::string& name) {
  // "inner_product" is the long form FAISS users write.
  if (name == "inner_product") return Metric::kInnerProduct;
  return internal::parse_enum<Metric>(kMetricNames, name, "metric");
}

const char* index_kind_name(IndexKind kind) {
  return internal::enum_name<IndexKind>(kKindNames, kind);
}

Result<IndexKind> parse_index_kind(const std::string& name) {
  return internal::parse_enum<IndexKind>(kKindNames, name, "index kind");
}

const char* ivf_encoding_name(IvfEncoding encoding) {
  return internal::enum_name<IvfEncoding>(kEncodingNames, encoding);
}

Result<IvfEncoding> parse_ivf_encoding(const std::string& name) {
  return internal::parse_enum<IvfEncoding>(kEncodingNames, name, "IVF encoding");
}

const char* gpu_dtype_name(GpuDtype dtype) { return internal::enum_name<GpuDtype>(kDtypeNames, dtype); }

Result<GpuDtype> parse_gpu_dtype(const std::string& name) {
  return internal::parse_enum<GpuDtype>(kDtypeNames, name, "GPU dtype");
}

const char* search_knob_name(SearchKnob knob) {
  return internal::enum_name<SearchKnob>(kKnobNames, knob);
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

}  // namespace vecperf

namespace vecperf::internal {

Result<std::unique_ptr<IndexImpl>> read_backend_payload(IndexKind kind, Reader& r) {
  try {
    return IndexBase::read_payload(kind, r);
  } catch (...) {
    // FAISS and hnswlib report malformed data by throwing; the message names the source.
    return status_from_current_exception("decoding the index", StatusCode::kCorruption)
        .with_context(r.what());
  }
}

}  // namespace vecperf::internal
