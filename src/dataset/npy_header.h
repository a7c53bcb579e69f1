// The .npy header, parsed and written by hand (no NumPy needed).
//
//   offset  size  field
//   0       6     magic "\x93NUMPY"
//   6       2     version major, minor (1.0, 2.0 or 3.0)
//   8       2/4   header length HLEN (u16 for 1.0, u32 for 2.0 and 3.0)
//   10/12   HLEN  a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False,
//                 'shape': (1000, 128), } padded with spaces and a final '\n'
//   ...           the array, C order
#pragma once

#include <cstdint>
#include <string>

#include "dataset/byte_source.h"
#include "dataset/formats.h"

namespace vecperf::internal {

/// Parses and checks the header of an .npy source, including the data size against the file
/// size. Errors: kCorruption naming the byte offset (bad magic, malformed dict, shape that
/// disagrees with the size); kNotSupported (version, dtype, big-endian, Fortran order, ndim > 2).
Result<Layout> parse_npy_layout(const ByteSource& src);

/// The complete v1.0 header for a C-order `rows x dim` array of `elem` (padded so the data starts
/// on a 64-byte boundary, as NumPy does).
std::string encode_npy_header(Elem elem, int64_t rows, int64_t dim);

}  // namespace vecperf::internal
