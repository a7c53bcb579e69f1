// Where the dataset readers get their bytes: a file (read with pread, rows memory-mapped) or an
// in-memory copy (fuzzing, tests). The readers see only this interface, so the parsing code that
// a fuzzer exercises is exactly the code that reads files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "vecperf/status.h"

namespace vecperf::internal {

/// A run of bytes kept alive by `owner`: a memory map, a heap buffer or the source's own copy.
struct ByteRegion {
  std::shared_ptr<const void> owner;
  const char* data = nullptr;
  uint64_t size = 0;
  bool mapped = false;  ///< the bytes are a memory map of the file, not a copy
};

/// Thread-safety: the methods are const and safe to call from several threads.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Total size in bytes (fixed when the source was opened).
  virtual uint64_t size() const = 0;
  /// Copies [offset, offset + n) to `out`. Errors: kCorruption when the range passes the end
  /// (the file shrank), kIOError.
  virtual Status read_at(uint64_t offset, void* out, uint64_t n) const = 0;
  /// The bytes [offset, offset + n) without copying where possible. `sequential` hints that they
  /// will be read once from front to back. Errors: as read_at; kResourceExhausted.
  virtual Result<ByteRegion> region(uint64_t offset, uint64_t n, bool sequential) const = 0;
  /// Names the source in messages (the path).
  virtual const std::string& name() const = 0;
};

/// Opens a regular file. Errors: kNotFound, kIOError, kInvalidArgument (not a regular file).
Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path);

/// A source over its own copy of `bytes`; `name` stands in for a path in messages.
std::unique_ptr<ByteSource> memory_source(std::string bytes, std::string name);

}  // namespace vecperf::internal
