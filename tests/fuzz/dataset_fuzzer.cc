// Fuzzes the dataset readers (include/vecperf/dataset.h) over in-memory sources: the same
// parsing code that reads files. Input byte 0 picks the format (fvecs, ivecs, bvecs, fbin, ibin,
// u8bin, npy; HDF5 is the HDF5 library's own parser and is not fuzzed here), byte 1 the row
// range, the rest is the file. Whatever reads must have the shape it claims, every value
// readable.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dataset/byte_source.h"
#include "dataset/formats.h"

namespace {

using namespace vecperf;

[[noreturn]] void fail(const char* what, const Status& s = Status::OK()) {
  std::fprintf(stderr, "fuzz expectation failed: %s %s\n", what, s.to_string().c_str());
  std::abort();
}

// A reader may refuse bad input only with these codes.
void expect_refusal(const Status& s) {
  switch (s.code()) {
    case StatusCode::kCorruption:
    case StatusCode::kNotSupported:
    case StatusCode::kInvalidArgument:  // first_row past the end of a valid file
    case StatusCode::kResourceExhausted: return;
    default: fail("a reader refused input with an unexpected code:", s);
  }
}

// Reads every value, so that ASan sees any row pointing outside its buffer.
template <typename T>
volatile T g_sink;

void touch(const FloatMatrix& m) {
  float sum = 0;
  for (int64_t i = 0; i < m.rows() * m.dim(); ++i) sum += m.data()[i];
  g_sink<float> = sum;
}

void touch(const IntMatrix& m) {
  uint64_t sum = 0;  // wraps: the values are arbitrary
  for (int64_t r = 0; r < m.rows(); ++r)
    for (int64_t c = 0; c < m.cols(); ++c) sum += static_cast<uint64_t>(m.at(r, c));
  g_sink<uint64_t> = sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vecperf::internal;
  if (size < 2) return 0;
  static constexpr DatasetFormat kFormats[] = {
      DatasetFormat::kFvecs, DatasetFormat::kIvecs, DatasetFormat::kBvecs, DatasetFormat::kFbin,
      DatasetFormat::kIbin,  DatasetFormat::kU8bin, DatasetFormat::kNpy};
  ReadOptions options;
  options.format = kFormats[data[0] % 7];
  options.first_row = data[1] & 0x7;
  options.max_rows = data[1] >> 4;
  auto src =
      memory_source(std::string(reinterpret_cast<const char*>(data + 2), size - 2), "fuzz input");

  auto vectors = read_vectors_from(*src, options);
  if (vectors.ok()) {
    if (vectors->rows() < 0 || vectors->dim() < 1 || vectors->dim() > kMaxDatasetDim)
      fail("read_vectors returned an impossible shape");
    if (options.max_rows > 0 && vectors->rows() > options.max_rows)
      fail("read_vectors returned more rows than asked for");
    touch(*vectors);
  } else {
    expect_refusal(vectors.status());
  }
  auto ids = read_neighbors_from(*src, options);
  if (ids.ok()) {
    touch(*ids);
  } else {
    expect_refusal(ids.status());
  }
  auto truth = read_ground_truth_from(*src, options);
  if (truth.ok()) {
    touch(truth->ids);
    touch(truth->distances);
    if (truth->distances.rows() != 0 && (truth->distances.rows() != truth->ids.rows() ||
                                         truth->distances.dim() != truth->ids.cols()))
      fail("ground truth distances do not match the ids");
  } else {
    expect_refusal(truth.status());
  }
  return 0;
}
