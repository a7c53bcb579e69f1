// Test seam for the POSIX calls behind vecperf's own files (file_io.cc). Production code always
// runs the real calls; a test installs another FileOps to make a call fail (EIO, ENOSPC after N
// bytes), return short counts or EINTR, and so proves that every failure is reported and leaves
// no partial file behind. No LD_PRELOAD, no link-time tricks: one virtual call per system call,
// which costs nothing next to the system call itself.
//
// Each method has the contract of the POSIX call it is named after: it returns what the call
// returns and reports failure through errno.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>

namespace vecperf::internal {

/// Thread-safety: implementations must be safe to call from several threads at once (saves of
/// different indexes may run concurrently).
class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual int open(const char* path, int flags, mode_t mode) = 0;
  virtual ssize_t write(int fd, const void* data, size_t size) = 0;
  virtual ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) = 0;
  virtual ssize_t pread(int fd, void* data, size_t size, off_t offset) = 0;
  virtual int fstat(int fd, struct stat* st) = 0;
  virtual int fsync(int fd) = 0;
  virtual int close(int fd) = 0;
  virtual int rename(const char* from, const char* to) = 0;
  virtual int unlink(const char* path) = 0;
};

/// The real system calls.
FileOps& posix_file_ops();

/// The FileOps that file_io.cc uses: posix_file_ops() unless a ScopedFileOps is alive.
FileOps& file_ops();

/// Routes file_io.cc's calls through `ops` for the lifetime of this object (tests only).
/// Requires: no file operation is in flight when it is created or destroyed, and scopes nest
/// (the innermost is destroyed first). `ops` must outlive the scope.
class ScopedFileOps {
 public:
  explicit ScopedFileOps(FileOps* ops);
  ~ScopedFileOps();
  ScopedFileOps(const ScopedFileOps&) = delete;
  ScopedFileOps& operator=(const ScopedFileOps&) = delete;

 private:
  FileOps* previous_;
};

}  // namespace vecperf::internal
