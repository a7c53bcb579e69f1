// HDF5 entry points of a build without the HDF5 C library: every call says how to get support.
#include "dataset/hdf5_reader.h"

namespace vecperf::internal {
namespace {

Status unsupported(const std::string& path) {
  return Status::NotSupported(
      "cannot read '" + path +
      "': this vecperf was built without HDF5 support. Install the HDF5 C library "
      "(Debian: libhdf5-dev) and reconfigure, or convert the file to .fbin/.npy");
}

}  // namespace

bool hdf5_available() { return false; }

Result<FloatMatrix> read_hdf5_floats(const std::string& path, const std::string&,
                                     const ReadOptions&) {
  return unsupported(path);
}

Result<IntMatrix> read_hdf5_ints(const std::string& path, const std::string&, const ReadOptions&) {
  return unsupported(path);
}

Result<bool> hdf5_has_dataset(const std::string& path, const std::string&) {
  return unsupported(path);
}

Result<std::string> read_hdf5_string_attribute(const std::string& path, const std::string&) {
  return unsupported(path);
}

}  // namespace vecperf::internal
