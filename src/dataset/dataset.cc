// Public entry points of the dataset readers: format names, the matrix types, and the dispatch
// between the byte-level readers (formats.cc) and HDF5 (hdf5_reader.cc).
#include "vecperf/dataset.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <utility>

#include "dataset/byte_source.h"
#include "dataset/formats.h"
#include "dataset/hdf5_reader.h"

namespace vecperf {
namespace {

struct FormatName {
  DatasetFormat format;
  const char* name;
};
constexpr FormatName kFormats[] = {
    {DatasetFormat::kAuto, "auto"},   {DatasetFormat::kFvecs, "fvecs"},
    {DatasetFormat::kIvecs, "ivecs"}, {DatasetFormat::kBvecs, "bvecs"},
    {DatasetFormat::kFbin, "fbin"},   {DatasetFormat::kIbin, "ibin"},
    {DatasetFormat::kU8bin, "u8bin"}, {DatasetFormat::kNpy, "npy"},
    {DatasetFormat::kHdf5, "hdf5"},
};

Status check_size(size_t values, int64_t rows, int64_t cols, const char* what) {
  if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / cols) ||
      static_cast<uint64_t>(rows * cols) != values)
    return Status::InvalidArgument(std::string(what) + ": " + std::to_string(values) +
                                   " values cannot form a " + std::to_string(rows) + " x " +
                                   std::to_string(cols) + " matrix");
  return Status::OK();
}

template <typename T>
Result<IntMatrix> int_matrix_from(std::vector<T> values, int64_t rows, int64_t cols) {
  VECPERF_RETURN_IF_ERROR(check_size(values.size(), rows, cols, "IntMatrix::from_vector"));
  auto owner = std::make_shared<std::vector<T>>(std::move(values));
  const T* data = owner->data();
  return IntMatrix(std::move(owner), data, rows, cols);
}

// The HDF5 data set a read names, or the layout's default for that kind of read.
std::string hdf5_name(const ReadOptions& options, const char* fallback) {
  return options.hdf5_dataset.empty() ? fallback : options.hdf5_dataset;
}

// Resolves the format; for non-HDF5 files also opens the source and hands both to `read`.
template <typename T, typename Hdf5Fn, typename SourceFn>
Result<T> dispatch(const std::string& path, const ReadOptions& options, Hdf5Fn&& hdf5,
                   SourceFn&& from_source) {
  Result<DatasetFormat> format = internal::resolve_format(path, options.format);
  if (!format.ok()) return format.status();
  if (*format == DatasetFormat::kHdf5) return hdf5();
  Result<std::unique_ptr<internal::ByteSource>> src = internal::open_file_source(path);
  if (!src.ok()) return src.status();
  ReadOptions resolved = options;
  resolved.format = *format;
  return from_source(**src, resolved);
}

}  // namespace

const char* dataset_format_name(DatasetFormat format) {
  for (const FormatName& f : kFormats)
    if (f.format == format) return f.name;
  return "unknown";
}

Result<DatasetFormat> parse_dataset_format(const std::string& name) {
  for (const FormatName& f : kFormats)
    if (name == f.name) return f.format;
  if (name == "h5") return DatasetFormat::kHdf5;
  return Status::InvalidArgument("unknown dataset format '" + name +
                                 "' (expected auto, fvecs, ivecs, bvecs, fbin, ibin, u8bin, npy "
                                 "or hdf5)");
}

Result<DatasetFormat> format_from_path(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  const size_t slash = path.find_last_of('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    std::string ext = path.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext != "auto") {
      Result<DatasetFormat> f = parse_dataset_format(ext);
      if (f.ok()) return f;
    }
  }
  return Status::InvalidArgument("cannot tell the format of '" + path +
                                 "' from its extension (.fvecs .ivecs .bvecs .fbin .ibin .u8bin "
                                 ".npy .hdf5 .h5): give the format explicitly");
}

bool hdf5_supported() { return internal::hdf5_available(); }

FloatMatrix::FloatMatrix(std::shared_ptr<const void> owner, const float* data, int64_t rows,
                         int64_t dim, bool mapped)
    : owner_(std::move(owner)), data_(data), rows_(rows), dim_(dim), mapped_(mapped) {}

Result<FloatMatrix> FloatMatrix::from_vector(std::vector<float> values, int64_t rows, int64_t dim) {
  VECPERF_RETURN_IF_ERROR(check_size(values.size(), rows, dim, "FloatMatrix::from_vector"));
  auto owner = std::make_shared<std::vector<float>>(std::move(values));
  const float* data = owner->data();
  return FloatMatrix(std::move(owner), data, rows, dim);
}

IntMatrix::IntMatrix(std::shared_ptr<const void> owner, const int32_t* data, int64_t rows,
                     int64_t cols, bool mapped)
    : owner_(std::move(owner)),
      data_(data),
      rows_(rows),
      cols_(cols),
      type_(IntType::kInt32),
      mapped_(mapped) {}

IntMatrix::IntMatrix(std::shared_ptr<const void> owner, const int64_t* data, int64_t rows,
                     int64_t cols, bool mapped)
    : owner_(std::move(owner)),
      data_(data),
      rows_(rows),
      cols_(cols),
      type_(IntType::kInt64),
      mapped_(mapped) {}

Result<IntMatrix> IntMatrix::from_vector(std::vector<int64_t> values, int64_t rows, int64_t cols) {
  return int_matrix_from(std::move(values), rows, cols);
}

Result<IntMatrix> IntMatrix::from_vector(std::vector<int32_t> values, int64_t rows, int64_t cols) {
  return int_matrix_from(std::move(values), rows, cols);
}

const int32_t* IntMatrix::data_i32() const {
  return type_ == IntType::kInt32 ? static_cast<const int32_t*>(data_) : nullptr;
}

const int64_t* IntMatrix::data_i64() const {
  return type_ == IntType::kInt64 ? static_cast<const int64_t*>(data_) : nullptr;
}

std::vector<int64_t> IntMatrix::to_int64() const {
  const int64_t n = rows_ * cols_;
  if (type_ == IntType::kInt64) {
    const int64_t* p = data_i64();
    return std::vector<int64_t>(p, p + n);
  }
  const int32_t* p = data_i32();
  return std::vector<int64_t>(p, p + n);
}

Result<FloatMatrix> read_vectors(const std::string& path, const ReadOptions& options) {
  return dispatch<FloatMatrix>(
      path, options,
      [&] { return internal::read_hdf5_floats(path, hdf5_name(options, "train"), options); },
      internal::read_vectors_from);
}

Result<IntMatrix> read_neighbors(const std::string& path, const ReadOptions& options) {
  return dispatch<IntMatrix>(
      path, options,
      [&] { return internal::read_hdf5_ints(path, hdf5_name(options, "neighbors"), options); },
      internal::read_neighbors_from);
}

Result<GroundTruth> read_ground_truth(const std::string& path, const ReadOptions& options) {
  auto from_hdf5 = [&]() -> Result<GroundTruth> {
    GroundTruth gt;
    Result<IntMatrix> ids =
        internal::read_hdf5_ints(path, hdf5_name(options, "neighbors"), options);
    if (!ids.ok()) return ids.status();
    gt.ids = std::move(*ids);
    Result<bool> has = internal::hdf5_has_dataset(path, "distances");
    if (!has.ok()) return has.status();
    if (*has) {
      Result<FloatMatrix> d = internal::read_hdf5_floats(path, "distances", options);
      if (!d.ok()) return d.status();
      gt.distances = std::move(*d);
    }
    return gt;
  };
  return dispatch<GroundTruth>(path, options, from_hdf5, internal::read_ground_truth_from);
}

Result<AnnBenchmarksDataset> read_ann_benchmarks(const std::string& path) {
  ReadOptions options;
  options.format = DatasetFormat::kHdf5;
  AnnBenchmarksDataset out;
  Result<FloatMatrix> train = internal::read_hdf5_floats(path, "train", options);
  if (!train.ok()) return train.status();
  Result<FloatMatrix> test = internal::read_hdf5_floats(path, "test", options);
  if (!test.ok()) return test.status();
  Result<GroundTruth> truth = read_ground_truth(path, options);
  if (!truth.ok()) return truth.status();
  Result<std::string> distance = internal::read_hdf5_string_attribute(path, "distance");
  if (!distance.ok()) return distance.status();
  out.train = std::move(*train);
  out.test = std::move(*test);
  out.neighbors = std::move(truth->ids);
  out.distances = std::move(truth->distances);
  out.distance = std::move(*distance);
  return out;
}

Result<Metric> metric_for_ann_distance(const std::string& distance) {
  if (distance == "euclidean") return Metric::kL2;
  if (distance == "angular") return Metric::kCosine;
  if (distance == "ip" || distance == "dot") return Metric::kInnerProduct;
  return Status::NotSupported("ann-benchmarks distance '" + distance +
                              "' has no vecperf metric (supported: euclidean, angular, ip, dot)");
}

}  // namespace vecperf
