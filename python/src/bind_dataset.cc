// vecperf.read_vectors(), write_vectors() and compute_ground_truth(): conversions around
// include/vecperf/dataset.h. Matrices the C++ side returns become numpy arrays without a copy:
// the array's base is a capsule holding the C++ matrix, which keeps its memory (or the file's
// memory map) alive as long as the array.
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <string>

#include "convert.h"
#include "vecperf/dataset.h"

namespace vecperf::python {
namespace {

using namespace pybind11::literals;

/// A read-only (rows, cols) array over `data`, owned by a copy of `matrix` (copies share values).
/// Read-only because the values may be a read-only memory map, and are shared with `matrix`.
template <typename M, typename T>
py::array share(const M& matrix, const T* data, int64_t rows, int64_t cols) {
  if (rows == 0 || data == nullptr) return py::array_t<T>({rows, cols});
  py::capsule owner(new M(matrix), [](void* p) { delete static_cast<M*>(p); });
  py::array_t<T> array({rows, cols}, data, owner);
  py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return array;
}

py::array share(const FloatMatrix& m) { return share(m, m.data(), m.rows(), m.dim()); }

py::array share(const IntMatrix& m) {
  if (m.type() == IntType::kInt64) return share(m, m.data_i64(), m.rows(), m.cols());
  return py::array(share(m, m.data_i32(), m.rows(), m.cols()).attr("astype")("int64"));
}

DatasetFormat format_of(const py::object& format) {
  if (format.is_none()) return DatasetFormat::kAuto;
  return value_or_throw(parse_dataset_format(cast_arg<std::string>(format, "format")));
}

py::array read(const std::filesystem::path& path, py::object max_rows, int64_t first_row,
               py::object format) {
  ReadOptions o;
  o.format = format_of(format);
  o.first_row = first_row;
  o.max_rows = max_rows.is_none() ? 0 : cast_arg<int64_t>(max_rows, "max_rows");
  if (!max_rows.is_none() && o.max_rows < 1) {
    throw py::value_error("max_rows must be >= 1 or None (all rows), got " +
                          std::to_string(o.max_rows));
  }
  Result<FloatMatrix> result = [&] {
    py::gil_scoped_release release;
    return read_vectors(path.string(), o);
  }();
  return share(value_or_throw(std::move(result), /*file_call=*/true));
}

void write(const std::filesystem::path& path, py::object vectors, py::object format) {
  const DatasetFormat f = format_of(format);
  Matrix v = to_matrix(vectors, -1, "vectors");
  Status status;
  {
    py::gil_scoped_release release;
    status = write_vectors(path.string(), v.view, f);
  }
  throw_if_error(status, /*file_call=*/true);
}

py::tuple ground_truth(py::object base, py::object queries, int k, const std::string& metric,
                       int num_threads) {
  Matrix b = to_matrix(base, -1, "base");
  Matrix q = to_matrix(queries, b.view.dim, "queries");
  GroundTruthOptions o;
  o.k = k;
  o.metric = value_or_throw(parse_metric(metric));
  o.num_threads = num_threads;
  Result<GroundTruth> result = [&] {
    py::gil_scoped_release release;
    return compute_ground_truth(b.view, q.view, o);
  }();
  GroundTruth truth = value_or_throw(std::move(result));
  return py::make_tuple(share(truth.distances), share(truth.ids));
}

}  // namespace

void bind_dataset(py::module_& m) {
  m.def("read_vectors", &read, "path"_a, "max_rows"_a = py::none(), py::kw_only(),
        "first_row"_a = 0, "format"_a = py::none(),
        R"doc(Reads float vectors from .fvecs, .bvecs, .fbin, .u8bin, .npy ('<f4') or .hdf5/.h5.

Returns a read-only (rows, dim) float32 array. .fbin and aligned .npy files are memory-mapped
and the array points into the map (no copy; the map lives as long as the array); other formats
are converted once. np.array(a) makes a writable copy. max_rows (None: to the end) and
first_row select rows; rows outside the range are never read. format: 'fvecs', 'fbin', 'npy',
... (None: from the extension).
Raises FileNotFoundError, OSError, ValueError (unknown extension, integer file, bad range),
vecperf.CorruptionError (malformed file, with the byte offset), vecperf.Error (code
'NotSupported': an npy dtype or order not read, HDF5 without HDF5 support).)doc");
  m.def("write_vectors", &write, "path"_a, "vectors"_a, py::kw_only(), "format"_a = py::none(),
        R"doc(Writes (n, dim) vectors atomically as .fvecs, .fbin, .npy ('<f4'), .bvecs or .u8bin
(values must then be integers in 0..255). format: None takes it from the extension.
Raises ValueError (a format without floats, a value that does not fit, dim outside 1..65536),
OSError; a previous file is kept on error.)doc");
  m.def("compute_ground_truth", &ground_truth, "base"_a, "queries"_a, "k"_a, "metric"_a = "l2",
        py::kw_only(), "num_threads"_a = 0,
        R"doc(Exact top-k neighbours of each query in base (row numbers), by a multithreaded scan.

Returns (distances, ids) of shape (nq, k), nearest first, in vecperf's units (squared L2,
1 - dot, 1 - cos); ties go to the smaller id; id -1 and distance inf where base has fewer than
k rows. ValueError for k < 1, differing dimensions, NaN/Inf, a zero vector with 'cosine'.)doc");
}

}  // namespace vecperf::python
