// The POSIX FileOps and the process-wide pointer that a test may redirect (see fs_seam.h).
#include "common/fs_seam.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>

namespace vecperf::internal {
namespace {

class PosixFileOps final : public FileOps {
 public:
  int open(const char* path, int flags, mode_t mode) override { return ::open(path, flags, mode); }
  ssize_t write(int fd, const void* data, size_t size) override { return ::write(fd, data, size); }
  ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) override {
    return ::pwrite(fd, data, size, offset);
  }
  ssize_t pread(int fd, void* data, size_t size, off_t offset) override {
    return ::pread(fd, data, size, offset);
  }
  int fstat(int fd, struct stat* st) override { return ::fstat(fd, st); }
  int fsync(int fd) override { return ::fsync(fd); }
  int close(int fd) override { return ::close(fd); }
  int rename(const char* from, const char* to) override { return ::rename(from, to); }
  int unlink(const char* path) override { return ::unlink(path); }
};

// Null means the POSIX calls; only ScopedFileOps writes it.
std::atomic<FileOps*> g_installed{nullptr};

}  // namespace

FileOps& posix_file_ops() {
  static PosixFileOps ops;
  return ops;
}

FileOps& file_ops() {
  FileOps* ops = g_installed.load(std::memory_order_acquire);
  return ops != nullptr ? *ops : posix_file_ops();
}

ScopedFileOps::ScopedFileOps(FileOps* ops)
    : previous_(g_installed.exchange(ops, std::memory_order_acq_rel)) {}

ScopedFileOps::~ScopedFileOps() { g_installed.store(previous_, std::memory_order_release); }

}  // namespace vecperf::internal
