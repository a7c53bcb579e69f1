// ann-benchmarks HDF5 files through the HDF5 C library.
//
// HDF5 data sets may be chunked and compressed, so rows cannot be mapped in place: the selected
// rows are read (as a hyperslab, touching nothing else) into an owned buffer, with HDF5 doing the
// element conversion. Every call holds one process-wide mutex, because HDF5 builds without
// --enable-threadsafe must not be entered by two threads at once, and silences HDF5's automatic
// error printing for its duration (the library never prints): failures are reported with the
// innermost message of HDF5's error stack instead.
#include "dataset/hdf5_reader.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "dataset/formats.h"

namespace vecperf::internal {
namespace {

std::mutex& hdf5_mutex() {
  static std::mutex mu;
  return mu;
}

// Holds the mutex and mutes HDF5's error printing; restores the previous handler on exit.
class Session {
 public:
  Session() : lock_(hdf5_mutex()) {
    H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Session() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  std::lock_guard<std::mutex> lock_;
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

// Closes an HDF5 identifier. Declared after the Session in each function, so it closes first.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// The innermost description on HDF5's error stack (the most specific cause), or "".
std::string hdf5_error() {
  std::string out;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e->desc != nullptr) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &out);
  return out.empty() ? "" : " (HDF5: " + out + ")";
}

std::string where(const std::string& path) { return "hdf5 file '" + path + "'"; }

Status check_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound("no such file: '" + path + "'");
    return Status::IOError("cannot stat '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("'" + path + "' is not a regular file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    return Status::Corruption(
        where(path) + ": no HDF5 signature (at byte offset 0; not an HDF5 file, or damaged)");
  return Status::OK();
}

Status open_file(const std::string& path, hid_t* out) {
  VECPERF_RETURN_IF_ERROR(check_file(path));
  *out = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*out < 0)
    return Status::Corruption(where(path) + ": the HDF5 library cannot open it" + hdf5_error());
  return Status::OK();
}

std::string dataset_names(hid_t file) {
  H5G_info_t info{};
  if (H5Gget_info(file, &info) < 0) return "?";
  std::string names;
  for (hsize_t i = 0; i < info.nlinks && i < 64; ++i) {
    char name[256] = {};
    if (H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof(name),
                           H5P_DEFAULT) < 0)
      continue;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  return names.empty() ? "nothing" : names;
}

bool has_link(hid_t file, const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos &&
         H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0;
}

// The shape and element class of an open data set, checked.
struct Shape {
  int ndims = 0;
  int64_t rows = 0;
  int64_t dim = 0;
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t type_size = 0;
  bool is_signed = true;
};

Result<Shape> shape_of(hid_t dataset, const std::string& path, const std::string& name) {
  Shape s;
  Handle space(H5Dget_space(dataset), H5Sclose);
  Handle type(H5Dget_type(dataset), H5Tclose);
  if (!space.valid() || !type.valid())
    return Status::Corruption(where(path) + ": data set '" + name + "' is damaged" + hdf5_error());
  s.ndims = H5Sget_simple_extent_ndims(space.get());
  if (s.ndims < 1 || s.ndims > 2)
    return Status::NotSupported(where(path) + ": data set '" + name + "' has " +
                                std::to_string(s.ndims) +
                                " dimensions; vecperf reads 1-D (one row) or 2-D data sets");
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  const hsize_t rows = s.ndims == 2 ? dims[0] : 1, dim = dims[s.ndims - 1];
  if (dim < 1 || dim > static_cast<hsize_t>(kMaxDatasetDim))
    return Status::Corruption(where(path) + ": data set '" + name + "' has dimension " +
                              std::to_string(dim) + ", outside 1.." +
                              std::to_string(kMaxDatasetDim));
  if (rows > (hsize_t{1} << 48))
    return Status::Corruption(where(path) + ": data set '" + name + "' claims an absurd " +
                              std::to_string(rows) + " rows");
  s.rows = static_cast<int64_t>(rows);
  s.dim = static_cast<int64_t>(dim);
  s.type_class = H5Tget_class(type.get());
  s.type_size = H5Tget_size(type.get());
  s.is_signed = s.type_class != H5T_INTEGER || H5Tget_sign(type.get()) != H5T_SGN_NONE;
  return s;
}

// Reads the selected rows of `dataset` as `mem_type` elements of type T.
template <typename T>
Result<std::shared_ptr<void>> read_rows(hid_t dataset, hid_t mem_type, const Shape& s,
                                        RowRange range, const std::string& path,
                                        const std::string& name) {
  const uint64_t values = static_cast<uint64_t>(range.count) * static_cast<uint64_t>(s.dim);
  Result<std::shared_ptr<void>> out =
      allocate_rows(values * sizeof(T), "data set '" + name + "' of '" + path + "'");
  if (!out.ok() || values == 0) return out;
  Handle file_space(H5Dget_space(dataset), H5Sclose);
  hsize_t start[2] = {static_cast<hsize_t>(range.first), 0};
  hsize_t count[2] = {static_cast<hsize_t>(range.count), static_cast<hsize_t>(s.dim)};
  if (s.ndims == 1) {  // the single row
    start[0] = 0;
    count[0] = static_cast<hsize_t>(s.dim);
  }
  Handle mem_space(H5Screate_simple(s.ndims, count, nullptr), H5Sclose);
  if (!file_space.valid() || !mem_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      H5Dread(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out->get()) < 0)
    return Status::Corruption(where(path) + ": reading data set '" + name + "' failed" +
                              hdf5_error());
  return out;
}

// Opens `name` in `file` and checks its shape and the requested range.
struct Opened {
  Shape shape;
  RowRange range;
};

Result<Opened> open_dataset(hid_t file, const std::string& path, const std::string& name,
                            const ReadOptions& options, hid_t* dataset) {
  if (!has_link(file, name))
    return Status::NotFound(where(path) + " has no data set '" + name +
                            "' (it has: " + dataset_names(file) + ")");
  *dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (*dataset < 0)
    return Status::Corruption(where(path) + ": '" + name + "' is not a readable data set" +
                              hdf5_error());
  Result<Shape> shape = shape_of(*dataset, path, name);
  if (!shape.ok()) return shape.status();
  Result<RowRange> range = select_rows(shape->rows, options, path + ":" + name);
  if (!range.ok()) return range.status();
  return Opened{*shape, *range};
}

// Opens the file and the data set under the session lock and hands them to `read`.
template <typename T, typename ReadFn>
Result<T> with_dataset(const std::string& path, const std::string& name, const ReadOptions& options,
                       ReadFn&& read) {
  Session session;
  hid_t file_id = -1, dataset_id = -1;
  Status s = open_file(path, &file_id);
  Handle file(file_id, H5Fclose);
  if (!s.ok()) return s;
  Result<Opened> o = open_dataset(file.get(), path, name, options, &dataset_id);
  Handle dataset(dataset_id, H5Dclose);
  if (!o.ok()) return o.status();
  return read(dataset.get(), *o);
}

}  // namespace

bool hdf5_available() { return true; }

Result<FloatMatrix> read_hdf5_floats(const std::string& path, const std::string& name,
                                     const ReadOptions& options) {
  return with_dataset<FloatMatrix>(
      path, name, options, [&](hid_t dataset, const Opened& o) -> Result<FloatMatrix> {
        if (o.shape.type_class != H5T_FLOAT)
          return Status::InvalidArgument(where(path) + ": data set '" + name +
                                         "' does not hold floating-point vectors (read ids with "
                                         "read_neighbors)");
        Result<std::shared_ptr<void>> rows =
            read_rows<float>(dataset, H5T_NATIVE_FLOAT, o.shape, o.range, path, name);
        if (!rows.ok()) return rows.status();
        const float* data = static_cast<const float*>(rows->get());
        return FloatMatrix(std::move(*rows), data, o.range.count, o.shape.dim);
      });
}

Result<IntMatrix> read_hdf5_ints(const std::string& path, const std::string& name,
                                 const ReadOptions& options) {
  return with_dataset<IntMatrix>(
      path, name, options, [&](hid_t dataset, const Opened& o) -> Result<IntMatrix> {
        if (o.shape.type_class != H5T_INTEGER)
          return Status::InvalidArgument(where(path) + ": data set '" + name +
                                         "' does not hold integer ids (read vectors with "
                                         "read_vectors)");
        // HDF5 converts on read: narrow signed ids stay int32, anything else widens to int64.
        const bool narrow = o.shape.type_size <= 4 && o.shape.is_signed;
        Result<std::shared_ptr<void>> rows =
            narrow ? read_rows<int32_t>(dataset, H5T_NATIVE_INT32, o.shape, o.range, path, name)
                   : read_rows<int64_t>(dataset, H5T_NATIVE_INT64, o.shape, o.range, path, name);
        if (!rows.ok()) return rows.status();
        const void* data = rows->get();
        if (narrow)
          return IntMatrix(std::move(*rows), static_cast<const int32_t*>(data), o.range.count,
                           o.shape.dim);
        return IntMatrix(std::move(*rows), static_cast<const int64_t*>(data), o.range.count,
                         o.shape.dim);
      });
}

Result<bool> hdf5_has_dataset(const std::string& path, const std::string& name) {
  Session session;
  hid_t file_id = -1;
  Status s = open_file(path, &file_id);
  Handle file(file_id, H5Fclose);
  if (!s.ok()) return s;
  if (!has_link(file.get(), name)) return false;
  Handle object(H5Oopen(file.get(), name.c_str(), H5P_DEFAULT), H5Oclose);
  return object.valid() && H5Iget_type(object.get()) == H5I_DATASET;
}

Result<std::string> read_hdf5_string_attribute(const std::string& path, const std::string& name) {
  Session session;
  hid_t file_id = -1;
  Status s = open_file(path, &file_id);
  Handle file(file_id, H5Fclose);
  if (!s.ok()) return s;
  const htri_t exists = H5Aexists(file.get(), name.c_str());
  if (exists == 0) return std::string();
  const std::string what = where(path) + ": attribute '" + name + "'";
  Handle attr(exists > 0 ? H5Aopen(file.get(), name.c_str(), H5P_DEFAULT) : -1, H5Aclose);
  if (!attr.valid()) return Status::Corruption(what + " cannot be read" + hdf5_error());
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.valid() || !space.valid() || H5Tget_class(type.get()) != H5T_STRING ||
      H5Sget_simple_extent_npoints(space.get()) != 1)
    return Status::Corruption(what + " is not a single string");
  std::string value;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    char* text = nullptr;
    if (!mem.valid() || H5Tset_size(mem.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(mem.get(), H5Tget_cset(type.get())) < 0 ||
        H5Aread(attr.get(), mem.get(), &text) < 0)
      return Status::Corruption(what + " cannot be read" + hdf5_error());
    if (text != nullptr) {
      value = text;
      H5free_memory(text);
    }
  } else {
    const size_t size = H5Tget_size(type.get());
    if (size > (1 << 16)) return Status::Corruption(what + " is absurdly long");
    std::vector<char> buffer(size + 1, '\0');
    if (H5Aread(attr.get(), type.get(), buffer.data()) < 0)
      return Status::Corruption(what + " cannot be read" + hdf5_error());
    value.assign(buffer.data());  // fixed-length strings are NUL- or space-padded
    while (!value.empty() && value.back() == ' ') value.pop_back();
  }
  return value;
}

}  // namespace vecperf::internal
