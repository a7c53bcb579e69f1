// Writers of every format the readers accept except HDF5. Values are checked before the file is
// created (so a bad value leaves no file behind), then rows stream through an AtomicFile.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/atomic_file.h"
#include "dataset/formats.h"
#include "dataset/npy_header.h"
#include "vecperf/dataset.h"

namespace vecperf {
namespace {

using internal::Elem;
using internal::is_record_format;

Status check_shape(const std::string& path, DatasetFormat format, int64_t rows, int64_t dim) {
  const std::string prefix = "cannot write '" + path + "': ";
  if (dim < 1 || dim > internal::kMaxDatasetDim)
    return Status::InvalidArgument(prefix + "dimension " + std::to_string(dim) + " is outside 1.." +
                                   std::to_string(internal::kMaxDatasetDim) +
                                   " (the range the readers accept)");
  if (rows < 0) return Status::InvalidArgument(prefix + "negative row count");
  if (rows == 0 && is_record_format(format))
    return Status::InvalidArgument(prefix + "a ." + dataset_format_name(format) +
                                   " file cannot hold zero rows (its dimension is stored in the "
                                   "first record); use .fbin or .npy");
  if (format != DatasetFormat::kNpy && !is_record_format(format) &&
      rows > int64_t{std::numeric_limits<uint32_t>::max()})
    return Status::InvalidArgument(prefix + std::to_string(rows) +
                                   " rows do not fit the 32-bit row count of ." +
                                   dataset_format_name(format) + "; use .npy");
  return Status::OK();
}

// Streams `rows` rows in `format`; row_bytes(i) points at row i as dim elements of `elem`.
template <typename RowBytes>
Status write_rows(const std::string& path, DatasetFormat format, Elem elem, int64_t rows,
                  int64_t dim, RowBytes&& row_bytes) {
  internal::AtomicFile file;
  auto stream = [&]() -> Status {
    VECPERF_RETURN_IF_ERROR(file.open(path));
    if (format == DatasetFormat::kNpy) {
      const std::string header = internal::encode_npy_header(elem, rows, dim);
      VECPERF_RETURN_IF_ERROR(file.append(header.data(), header.size()));
    } else if (!is_record_format(format)) {
      const uint32_t header[2] = {static_cast<uint32_t>(rows), static_cast<uint32_t>(dim)};
      VECPERF_RETURN_IF_ERROR(file.append(header, sizeof(header)));
    }
    const int32_t record_dim = static_cast<int32_t>(dim);
    const size_t bytes = static_cast<size_t>(dim) * internal::elem_size(elem);
    for (int64_t i = 0; i < rows; ++i) {
      if (is_record_format(format)) VECPERF_RETURN_IF_ERROR(file.append(&record_dim, 4));
      VECPERF_RETURN_IF_ERROR(file.append(row_bytes(i), bytes));
    }
    return file.commit();
  };
  Status s = stream();
  return s.ok() ? s : file.discard(std::move(s)).with_context("writing '" + path + "'");
}

std::string cell(int64_t row, int64_t col) {
  return "row " + std::to_string(row) + ", column " + std::to_string(col);
}

}  // namespace

Status write_vectors(const std::string& path, MatrixView v, DatasetFormat format) {
  Result<DatasetFormat> f = internal::resolve_format(path, format);
  if (!f.ok()) return f.status();
  Elem elem;
  switch (*f) {
    case DatasetFormat::kFvecs:
    case DatasetFormat::kFbin:
    case DatasetFormat::kNpy: elem = Elem::kF32; break;
    case DatasetFormat::kBvecs:
    case DatasetFormat::kU8bin: elem = Elem::kU8; break;
    case DatasetFormat::kHdf5:
      return Status::NotSupported("vecperf does not write HDF5 ('" + path +
                                  "'); write .fbin or .npy instead");
    default:
      return Status::InvalidArgument("cannot write vectors as ." +
                                     std::string(dataset_format_name(*f)) + " ('" + path +
                                     "'): that format holds integer ids (use write_neighbors)");
  }
  VECPERF_RETURN_IF_ERROR(check_shape(path, *f, v.rows, v.dim));
  if (v.rows > 0 && v.data == nullptr)
    return Status::InvalidArgument("cannot write '" + path + "': vectors.data is null");

  if (elem == Elem::kF32)
    return write_rows(path, *f, elem, v.rows, v.dim, [&](int64_t i) { return v.row(i); });

  for (int64_t i = 0; i < v.rows; ++i)
    for (int64_t j = 0; j < v.dim; ++j) {
      const float x = v.row(i)[j];
      if (!(x >= 0.0f && x <= 255.0f) || x != std::floor(x))
        return Status::InvalidArgument("cannot write '" + path + "': " + cell(i, j) + " holds " +
                                       std::to_string(x) + "; ." + dataset_format_name(*f) +
                                       " stores integers 0..255 (round or rescale the vectors)");
    }
  std::vector<uint8_t> row(static_cast<size_t>(v.dim));
  return write_rows(path, *f, elem, v.rows, v.dim, [&](int64_t i) {
    for (int64_t j = 0; j < v.dim; ++j) row[j] = static_cast<uint8_t>(v.row(i)[j]);
    return row.data();
  });
}

Status write_neighbors(const std::string& path, const IntMatrix& ids, DatasetFormat format) {
  Result<DatasetFormat> f = internal::resolve_format(path, format);
  if (!f.ok()) return f.status();
  if (*f != DatasetFormat::kIvecs && *f != DatasetFormat::kIbin && *f != DatasetFormat::kNpy)
    return Status::InvalidArgument("cannot write ids as ." + std::string(dataset_format_name(*f)) +
                                   " ('" + path + "'): use .ivecs, .ibin or .npy");
  VECPERF_RETURN_IF_ERROR(check_shape(path, *f, ids.rows(), ids.cols()));
  const int64_t cols = ids.cols();
  const bool wide = ids.type() == IntType::kInt64;
  if (*f == DatasetFormat::kNpy || !wide) {
    const Elem elem = wide ? Elem::kI64 : Elem::kI32;
    const char* base = wide ? static_cast<const char*>(static_cast<const void*>(ids.data_i64()))
                            : static_cast<const char*>(static_cast<const void*>(ids.data_i32()));
    const size_t row_bytes = static_cast<size_t>(cols) * internal::elem_size(elem);
    return write_rows(path, *f, elem, ids.rows(), cols,
                      [&](int64_t i) { return base + static_cast<size_t>(i) * row_bytes; });
  }
  const int64_t* values = ids.data_i64();
  for (int64_t i = 0; i < ids.rows() * cols; ++i)
    if (values[i] < std::numeric_limits<int32_t>::min() ||
        values[i] > std::numeric_limits<int32_t>::max())
      return Status::InvalidArgument("cannot write '" + path + "': " + cell(i / cols, i % cols) +
                                     " holds " + std::to_string(values[i]) +
                                     ", which does not "
                                     "fit the int32 of ." +
                                     dataset_format_name(*f) + " (use .npy)");
  std::vector<int32_t> row(static_cast<size_t>(cols));
  return write_rows(path, *f, Elem::kI32, ids.rows(), cols, [&](int64_t i) {
    for (int64_t j = 0; j < cols; ++j) row[j] = static_cast<int32_t>(values[i * cols + j]);
    return row.data();
  });
}

}  // namespace vecperf
