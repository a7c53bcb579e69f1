// ann-benchmarks HDF5 files, read through the HDF5 C library. CMake compiles hdf5_reader.cc when
// it finds the library (and defines VECPERF_WITH_HDF5), hdf5_stub.cc otherwise; nothing else in
// vecperf depends on which one was built.
#pragma once

#include <string>

#include "vecperf/dataset.h"

namespace vecperf::internal {

/// True in builds with hdf5_reader.cc.
bool hdf5_available();

/// Reads rows of a floating-point data set (converted to float32) / an integer data set (int32
/// when its values are 32-bit or narrower and signed, int64 otherwise). 1-D data sets are one
/// row. Errors: kNotFound (no file, or no such data set: the message lists those present);
/// kCorruption (not an HDF5 file, damaged); kInvalidArgument (wrong element class, bad range);
/// kNotSupported (without HDF5, or more than 2 dimensions); kResourceExhausted.
Result<FloatMatrix> read_hdf5_floats(const std::string& path, const std::string& dataset,
                                     const ReadOptions& options);
Result<IntMatrix> read_hdf5_ints(const std::string& path, const std::string& dataset,
                                 const ReadOptions& options);

/// Whether the file has a data set of that name. Errors: as read_hdf5_floats.
Result<bool> hdf5_has_dataset(const std::string& path, const std::string& dataset);

/// A string attribute of the root group, or "" when absent. Errors: as read_hdf5_floats.
Result<std::string> read_hdf5_string_attribute(const std::string& path, const std::string& name);

}  // namespace vecperf::internal
