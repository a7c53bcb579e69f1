// Readers of the TEXMEX (.fvecs/.ivecs/.bvecs), big-ann (.fbin/.ibin/.u8bin) and .npy formats.
//
// A read is two steps. parse_layout() reads only the header (and, for the record formats, the
// first record's dimension) and checks it against the file size, so that no size taken from a
// header is trusted before it is known to fit the file. load_rows() then maps exactly the
// selected rows: a file whose rows are stored as the result wants them (.fbin, .ibin, aligned
// .npy) is returned in place; the record formats (a dimension before every row) and uint8 files
// are copied into a dense buffer, checking each record's dimension on the way.
#include "dataset/formats.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "dataset/npy_header.h"

namespace vecperf::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the dataset formats are little-endian; readers would need byte swapping");

Elem elem_of(DatasetFormat f) {
  switch (f) {
    case DatasetFormat::kIvecs:
    case DatasetFormat::kIbin: return Elem::kI32;
    case DatasetFormat::kBvecs:
    case DatasetFormat::kU8bin: return Elem::kU8;
    default: return Elem::kF32;
  }
}

std::string dim_problem(int64_t dim) {
  return "dimension " + std::to_string(dim) + " is outside 1.." + std::to_string(kMaxDatasetDim);
}

// Record formats: the first record fixes the dimension; the file must hold whole records.
Result<Layout> parse_record_layout(const ByteSource& src, DatasetFormat format) {
  const uint64_t size = src.size();
  if (size < 4)
    return corrupt_at(format, src.name(), 0,
                      "file is " + std::to_string(size) +
                          " bytes, too short for the 4-byte dimension of a first record");
  int32_t dim = 0;
  VECPERF_RETURN_IF_ERROR(src.read_at(0, &dim, 4));
  if (dim < 1 || dim > kMaxDatasetDim) return corrupt_at(format, src.name(), 0, dim_problem(dim));
  Layout l;
  l.format = format;
  l.elem = elem_of(format);
  l.dim = dim;
  l.record_dims = true;
  l.stride = 4 + static_cast<uint64_t>(dim) * elem_size(l.elem);
  if (size % l.stride != 0)
    return corrupt_at(format, src.name(), size / l.stride * l.stride,
                      "the last record is truncated: the file has " + std::to_string(size) +
                          " bytes, not a multiple of the " + std::to_string(l.stride) +
                          "-byte records of dimension " + std::to_string(dim) +
                          " (or a record changes dimension)");
  l.rows = static_cast<int64_t>(size / l.stride);
  return l;
}

// big-ann formats: uint32 rows, uint32 dim, then the rows; .ibin ground truth files append as
// many float32 distances.
Result<Layout> parse_bin_layout(const ByteSource& src, DatasetFormat format) {
  const uint64_t size = src.size();
  if (size < 8)
    return corrupt_at(format, src.name(), 0,
                      "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header");
  uint32_t header[2];
  VECPERF_RETURN_IF_ERROR(src.read_at(0, header, 8));
  Layout l;
  l.format = format;
  l.elem = elem_of(format);
  l.rows = header[0];
  l.dim = header[1];
  l.data_offset = 8;
  if (l.dim < 1 || l.dim > kMaxDatasetDim)
    return corrupt_at(format, src.name(), 4, dim_problem(l.dim));
  l.stride = static_cast<uint64_t>(l.dim) * elem_size(l.elem);
  const uint64_t data = static_cast<uint64_t>(l.rows) * l.stride;  // < 2^51: cannot overflow
  const uint64_t available = size - 8;
  if (available == data) return l;
  if (format == DatasetFormat::kIbin && available == 2 * data) {
    l.distances_offset = 8 + data;
    return l;
  }
  return corrupt_at(format, src.name(), 0,
                    "the header says " + std::to_string(l.rows) + " rows x " +
                        std::to_string(l.dim) + " dims (" + std::to_string(data) +
                        " bytes of data), but the file has " + std::to_string(available) +
                        " bytes after the header (truncated, or not a ." +
                        dataset_format_name(format) + " file)");
}

template <typename Out>
struct Loaded {
  std::shared_ptr<const void> owner;
  const Out* data = nullptr;
  bool mapped = false;
};

template <typename Out>
constexpr bool stores_as(Elem e) {
  if constexpr (std::is_same_v<Out, float>) return e == Elem::kF32;
  if constexpr (std::is_same_v<Out, int32_t>) return e == Elem::kI32;
  if constexpr (std::is_same_v<Out, int64_t>) return e == Elem::kI64;
  return false;
}

// The selected rows as a dense row-major array of Out: in place when possible, else converted.
template <typename Out>
Result<Loaded<Out>> load_rows(const ByteSource& src, const Layout& l, RowRange range) {
  const uint64_t start = l.data_offset + static_cast<uint64_t>(range.first) * l.stride;
  const uint64_t bytes = static_cast<uint64_t>(range.count) * l.stride;
  const bool in_place = !l.record_dims && stores_as<Out>(l.elem);
  Result<ByteRegion> region = src.region(start, bytes, /*sequential=*/!in_place);
  if (!region.ok()) return region.status();
  if (in_place && reinterpret_cast<uintptr_t>(region->data) % alignof(Out) == 0)
    return Loaded<Out>{region->owner, reinterpret_cast<const Out*>(region->data), region->mapped};

  const uint64_t values = static_cast<uint64_t>(range.count) * static_cast<uint64_t>(l.dim);
  Result<std::shared_ptr<void>> buffer = allocate_rows(
      values * sizeof(Out), std::to_string(range.count) + " rows of '" + src.name() + "'");
  if (!buffer.ok()) return buffer.status();
  Out* out = static_cast<Out*>(buffer->get());
  const size_t dim = static_cast<size_t>(l.dim);
  const uint64_t header = l.record_dims ? 4 : 0;
  for (int64_t i = 0; i < range.count; ++i) {
    const char* record = region->data + static_cast<uint64_t>(i) * l.stride;
    if (l.record_dims) {
      int32_t d;
      std::memcpy(&d, record, 4);
      if (d != l.dim)
        return corrupt_at(l.format, src.name(), start + static_cast<uint64_t>(i) * l.stride,
                          "record " + std::to_string(range.first + i) + " has dimension " +
                              std::to_string(d) + " but the first record has " +
                              std::to_string(l.dim) + " (all records must have the same)");
    }
    Out* row = out + static_cast<uint64_t>(i) * dim;
    if (l.elem == Elem::kU8) {
      const unsigned char* in = reinterpret_cast<const unsigned char*>(record + header);
      for (size_t j = 0; j < dim; ++j) row[j] = static_cast<Out>(in[j]);
    } else {
      std::memcpy(row, record + header, dim * sizeof(Out));
    }
  }
  return Loaded<Out>{std::move(*buffer), out, false};
}

std::string holds_text(Elem e) {
  switch (e) {
    case Elem::kF32: return "float32 vectors";
    case Elem::kU8: return "uint8 vectors";
    case Elem::kI32: return "int32 ids";
    case Elem::kI64: return "int64 ids";
  }
  return "?";
}

Result<IntMatrix> neighbors_with_layout(const ByteSource& src, const Layout& l,
                                        const ReadOptions& options) {
  if (l.elem != Elem::kI32 && l.elem != Elem::kI64)
    return Status::InvalidArgument("'" + src.name() + "' holds " + holds_text(l.elem) +
                                   ", not neighbour ids: read it with read_vectors");
  Result<RowRange> range = select_rows(l.rows, options, src.name());
  if (!range.ok()) return range.status();
  if (l.elem == Elem::kI32) {
    Result<Loaded<int32_t>> r = load_rows<int32_t>(src, l, *range);
    if (!r.ok()) return r.status();
    return IntMatrix(std::move(r->owner), r->data, range->count, l.dim, r->mapped);
  }
  Result<Loaded<int64_t>> r = load_rows<int64_t>(src, l, *range);
  if (!r.ok()) return r.status();
  return IntMatrix(std::move(r->owner), r->data, range->count, l.dim, r->mapped);
}

}  // namespace

Status corrupt_at(DatasetFormat format, const std::string& name, uint64_t offset,
                  const std::string& problem) {
  return Status::Corruption(std::string(dataset_format_name(format)) + " file '" + name +
                            "': " + problem + " (at byte offset " + std::to_string(offset) + ")");
}

Result<Layout> parse_layout(const ByteSource& src, DatasetFormat format) {
  if (format == DatasetFormat::kAuto || format == DatasetFormat::kHdf5)
    return Status::InvalidArgument(std::string("cannot parse '") + src.name() + "' as " +
                                   dataset_format_name(format) + " bytes");
  if (format == DatasetFormat::kNpy) return parse_npy_layout(src);
  if (is_record_format(format)) return parse_record_layout(src, format);
  return parse_bin_layout(src, format);
}

Result<RowRange> select_rows(int64_t total, const ReadOptions& options, const std::string& name) {
  if (options.first_row < 0 || options.max_rows < 0)
    return Status::InvalidArgument("first_row and max_rows must be >= 0 (got " +
                                   std::to_string(options.first_row) + " and " +
                                   std::to_string(options.max_rows) + ")");
  if (options.first_row > total)
    return Status::InvalidArgument("first_row " + std::to_string(options.first_row) +
                                   " is past the end of '" + name + "', which has " +
                                   std::to_string(total) + " rows");
  RowRange r;
  r.first = options.first_row;
  r.count = total - r.first;
  if (options.max_rows > 0 && options.max_rows < r.count) r.count = options.max_rows;
  return r;
}

Result<std::shared_ptr<void>> allocate_rows(uint64_t bytes, const std::string& what) {
  const uint64_t memory = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                          static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (memory > 0 && bytes > memory)
    return Status::ResourceExhausted("reading " + what + " needs " + std::to_string(bytes) +
                                     " bytes, more than this machine's " + std::to_string(memory) +
                                     " bytes of memory (read fewer "
                                     "rows with max_rows)");
  // Large buffers are 2 MB-aligned and advised as huge pages: filling one otherwise takes a page
  // fault per 4 KB, which dominated the conversion of .fvecs files (measured on a VM: ~1 s for
  // 100 MB with 4 KB pages).
  constexpr uint64_t kHugePage = uint64_t{2} << 20;
  const bool huge = bytes >= kHugePage;
  const uint64_t align = huge ? kHugePage : 64;  // aligned_alloc wants a multiple of the alignment
  const uint64_t size = std::max(align, (bytes + align - 1) / align * align);
  void* p = std::aligned_alloc(align, size);
  if (p == nullptr)
    return Status::ResourceExhausted("not enough memory for " + what + " (" +
                                     std::to_string(bytes) +
                                     " bytes; read fewer rows with "
                                     "max_rows)");
  if (huge) (void)::madvise(p, size, MADV_HUGEPAGE);  // advice only
  return std::shared_ptr<void>(p, std::free);
}

Result<DatasetFormat> resolve_format(const std::string& path, DatasetFormat format) {
  if (format != DatasetFormat::kAuto) return format;
  return format_from_path(path);
}

Result<FloatMatrix> read_vectors_from(const ByteSource& src, const ReadOptions& options) {
  Result<Layout> l = parse_layout(src, options.format);
  if (!l.ok()) return l.status();
  if (l->elem != Elem::kF32 && l->elem != Elem::kU8)
    return Status::InvalidArgument("'" + src.name() + "' holds " + holds_text(l->elem) +
                                   ", not vectors: read it with read_neighbors");
  Result<RowRange> range = select_rows(l->rows, options, src.name());
  if (!range.ok()) return range.status();
  Result<Loaded<float>> r = load_rows<float>(src, *l, *range);
  if (!r.ok()) return r.status();
  return FloatMatrix(std::move(r->owner), r->data, range->count, l->dim, r->mapped);
}

Result<IntMatrix> read_neighbors_from(const ByteSource& src, const ReadOptions& options) {
  Result<Layout> l = parse_layout(src, options.format);
  if (!l.ok()) return l.status();
  return neighbors_with_layout(src, *l, options);
}

Result<GroundTruth> read_ground_truth_from(const ByteSource& src, const ReadOptions& options) {
  Result<Layout> l = parse_layout(src, options.format);
  if (!l.ok()) return l.status();
  GroundTruth gt;
  Result<IntMatrix> ids = neighbors_with_layout(src, *l, options);
  if (!ids.ok()) return ids.status();
  gt.ids = std::move(*ids);
  if (l->distances_offset != 0) {
    Layout d = *l;
    d.elem = Elem::kF32;
    d.data_offset = l->distances_offset;
    Result<RowRange> range = select_rows(l->rows, options, src.name());
    if (!range.ok()) return range.status();
    Result<Loaded<float>> r = load_rows<float>(src, d, *range);
    if (!r.ok()) return r.status();
    gt.distances = FloatMatrix(std::move(r->owner), r->data, range->count, l->dim, r->mapped);
  }
  return gt;
}

}  // namespace vecperf::internal
