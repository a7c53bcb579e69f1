// Internal layer of the dataset readers: what a file's header says about its layout, and the
// readers over any ByteSource (files for users, memory for fuzzers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dataset/byte_source.h"
#include "vecperf/dataset.h"

namespace vecperf::internal {

/// Largest vector dimension the readers accept; anything larger is taken for a damaged header.
inline constexpr int64_t kMaxDatasetDim = 65536;

/// Element type stored in a file.
enum class Elem : int { kF32, kI32, kI64, kU8 };

inline uint64_t elem_size(Elem e) {
  switch (e) {
    case Elem::kF32:
    case Elem::kI32: return 4;
    case Elem::kI64: return 8;
    case Elem::kU8: return 1;
  }
  return 1;
}

/// .fvecs/.ivecs/.bvecs: every record starts with its own int32 dimension.
inline bool is_record_format(DatasetFormat f) {
  return f == DatasetFormat::kFvecs || f == DatasetFormat::kIvecs || f == DatasetFormat::kBvecs;
}

/// What a validated header says: row r occupies [data_offset + r * stride, ... + stride).
struct Layout {
  DatasetFormat format = DatasetFormat::kAuto;
  Elem elem = Elem::kF32;
  int64_t rows = 0;
  int64_t dim = 0;
  uint64_t data_offset = 0;
  uint64_t stride = 0;
  /// .fvecs/.ivecs/.bvecs: each row starts with its own int32 dimension (part of `stride`).
  bool record_dims = false;
  /// big-ann .ibin ground truth: offset of rows x dim float32 distances after the ids; 0 if none.
  uint64_t distances_offset = 0;
};

/// Reads and checks the header of `src` (and, for the record formats, the file size against the
/// first record). Errors: kCorruption naming the byte offset; kNotSupported (npy variants);
/// kInvalidArgument for kAuto or kHdf5 (not byte-level formats).
Result<Layout> parse_layout(const ByteSource& src, DatasetFormat format);

/// kCorruption "<format> file '<name>': <problem> (at byte offset N)".
Status corrupt_at(DatasetFormat format, const std::string& name, uint64_t offset,
                  const std::string& problem);

/// The rows [first, first + count) that ReadOptions select from `total` rows.
struct RowRange {
  int64_t first = 0;
  int64_t count = 0;
};
/// Errors: kInvalidArgument for a negative option or first_row past the end.
Result<RowRange> select_rows(int64_t total, const ReadOptions& options, const std::string& name);

/// Readers over a source; options.format must be resolved (kAuto and kHdf5 are
/// kInvalidArgument here).
Result<FloatMatrix> read_vectors_from(const ByteSource& src, const ReadOptions& options);
Result<IntMatrix> read_neighbors_from(const ByteSource& src, const ReadOptions& options);
Result<GroundTruth> read_ground_truth_from(const ByteSource& src, const ReadOptions& options);

/// options.format, or the format implied by the path when it is kAuto.
Result<DatasetFormat> resolve_format(const std::string& path, DatasetFormat format);

/// A buffer for `bytes` of converted rows. Errors: kResourceExhausted when `bytes` exceeds the
/// physical memory (so a size taken from a header can never drive a huge allocation) or the
/// allocation fails; `what` names the rows in the message.
Result<std::shared_ptr<void>> allocate_rows(uint64_t bytes, const std::string& what);

}  // namespace vecperf::internal
