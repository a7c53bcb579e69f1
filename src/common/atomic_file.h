// Atomic replacement of a file: the bytes go to "<path>.tmp-<pid>-<n>", which is fsynced and
// renamed over `path`, then the directory is fsynced so that the rename survives a power loss.
// Until commit() succeeds `path` is untouched: a crash, a full disk or any failed call leaves
// the previous file (or none) in place, never a mix. Every system call goes through file_ops()
// (fs_seam.h), so tests can make any of them fail; EINTR is retried and short writes continued.
// Used for vecperf's framed files (file_io.h) and for the dataset formats it writes.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "vecperf/status.h"

namespace vecperf::internal {

/// Repeats a system call interrupted by a signal before it did anything (EINTR). Never use it
/// for close(): on Linux the descriptor is gone even when close reports EINTR.
template <typename Call>
auto retry_eintr(Call&& call) {
  for (;;) {
    auto r = call();
    if (!(r < 0 && errno == EINTR)) return r;
  }
}

/// kIOError "cannot <action> '<path>': <strerror(err)>", with a hint when the disk is full or
/// the quota exhausted (the failures users can fix themselves).
Status io_error(const std::string& action, const std::string& path, int err);

/// Thread-safety: one object per thread; distinct objects (even for one path) are independent.
class AtomicFile {
 public:
  AtomicFile() = default;
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Creates the temporary file next to `path`. Errors: kIOError naming it and the OS error.
  Status open(const std::string& path);
  /// Appends bytes (buffered). Errors: kIOError (a full disk says so); the temporary file is
  /// then removed and every later call fails.
  Status append(const void* data, size_t size);
  /// Overwrites bytes already appended, e.g. a header whose checksum is known only at the end.
  /// Errors: as append; kInvalidArgument when the range goes past what was appended.
  Status write_at(uint64_t offset, const void* data, size_t size);
  /// Flushes, fsyncs, closes and renames the temporary file onto the path, then fsyncs the
  /// directory. Errors: kIOError; if only the directory fsync fails, the new file is already in
  /// place (and complete) but may not survive a power loss, and the message says so.
  Status commit();

  /// Abandons the write: closes and removes the temporary file (if any is left) and returns
  /// `why`, with a note naming the temporary file if it could not be removed (the caller has
  /// to delete it then). The destructor does the same, silently.
  Status discard(Status why);

  /// Bytes appended so far.
  uint64_t size() const { return size_; }

 private:
  Status flush();

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  bool pending_ = false;  // the temporary file exists and has not been renamed or removed
  uint64_t size_ = 0;
  std::vector<char> buffer_;
};

}  // namespace vecperf::internal
