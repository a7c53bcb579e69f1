// Atomic replacement of a file whose bytes are not framed (the public dataset formats):
// the bytes go to "<path>.tmp-<pid>-<n>", which is fsynced and renamed over `path`, then the
// directory is fsynced. Until commit() succeeds `path` is untouched; an AtomicFile destroyed
// without a successful commit removes its temporary file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vecperf/status.h"

namespace vecperf::internal {

/// Thread-safety: one object per thread; distinct objects (even for one path) are independent.
class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Creates the temporary file. Errors: kIOError, kResourceExhausted (disk full).
  Status open(const std::string& path);
  /// Buffers and writes bytes. Errors: as open.
  Status append(const void* data, size_t size);
  /// Flushes, fsyncs and renames onto the path. Errors: as open.
  Status commit();

 private:
  Status flush();
  Status fail(const std::string& action, int err);

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  std::vector<char> buffer_;
};

}  // namespace vecperf::internal
