// Buffered temporary file + fsync + rename (see atomic_file.h).
#include "dataset/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vecperf::internal {
namespace {

// Large enough that a row-by-row writer makes few system calls.
constexpr size_t kBufferBytes = size_t{1} << 20;

}  // namespace

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

Status AtomicFile::fail(const std::string& action, int err) {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
    fd_ = -1;
  }
  const std::string msg = "cannot " + action + " while writing '" + path_ + "': " +
                          std::strerror(err);
  if (err == ENOSPC || err == EDQUOT)
    return Status::ResourceExhausted(msg + " (free disk space; any previous file is unchanged)");
  return Status::IOError(msg);
}

Status AtomicFile::open(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  path_ = path;
  tmp_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) return fail("create " + tmp_, errno);
  buffer_.reserve(kBufferBytes);
  return Status::OK();
}

Status AtomicFile::flush() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
  return Status::OK();
}

Status AtomicFile::append(const void* data, size_t size) {
  if (fd_ < 0) return Status::Internal("AtomicFile::append on a file that is not open");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const size_t n = std::min(size, kBufferBytes - buffer_.size());
    buffer_.insert(buffer_.end(), p, p + n);
    p += n;
    size -= n;
    if (buffer_.size() == kBufferBytes) VECPERF_RETURN_IF_ERROR(flush());
  }
  return Status::OK();
}

Status AtomicFile::commit() {
  if (fd_ < 0) return Status::Internal("AtomicFile::commit on a file that is not open");
  VECPERF_RETURN_IF_ERROR(flush());
  if (::fsync(fd_) != 0) return fail("fsync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    return fail("close and rename the temporary file", err);
  }
  // Makes the rename itself durable; a directory that cannot be opened is left to the OS.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0) return fail("fsync the directory", err);
  }
  return Status::OK();
}

}  // namespace vecperf::internal
