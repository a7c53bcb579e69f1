// Buffered temporary file + fsync + rename (see atomic_file.h).
#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "common/fs_seam.h"

namespace vecperf::internal {
namespace {

// Large enough that a row-by-row or field-by-field writer makes few system calls.
constexpr size_t kBufferBytes = size_t{1} << 20;

std::string directory_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status write_all(FileOps& ops, int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = retry_eintr([&] { return ops.write(fd, data, size); });
    if (n < 0) return io_error("write", path, errno);
    // A zero-byte write of a non-empty buffer would loop forever; POSIX allows it only for
    // special files, and a full disk reports ENOSPC.
    if (n == 0) return io_error("write", path, EIO);
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status pwrite_all(FileOps& ops, int fd, const char* data, size_t size, off_t offset,
                  const std::string& path) {
  while (size > 0) {
    const ssize_t n = retry_eintr([&] { return ops.pwrite(fd, data, size, offset); });
    if (n < 0) return io_error("write", path, errno);
    if (n == 0) return io_error("write", path, EIO);
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return Status::OK();
}

// Makes a rename in `dir` durable. EINVAL means the file system cannot sync directories
// (some network and FUSE file systems), where there is nothing more to do.
Status sync_directory(FileOps& ops, const std::string& dir) {
  const int dfd =
      retry_eintr([&] { return ops.open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0); });
  if (dfd < 0) return io_error("open directory", dir, errno);
  Status s;
  if (retry_eintr([&] { return ops.fsync(dfd); }) != 0 && errno != EINVAL)
    s = io_error("fsync directory", dir, errno);
  ops.close(dfd);
  return s;
}

}  // namespace

Status io_error(const std::string& action, const std::string& path, int err) {
  std::string msg = "cannot " + action + " '" + path + "': " + std::strerror(err);
  if (err == ENOSPC) msg += " (the disk is full: free some space and retry)";
  if (err == EDQUOT) msg += " (the disk quota is exhausted: free some space and retry)";
  return Status::IOError(std::move(msg));
}

AtomicFile::~AtomicFile() {
  if (pending_) (void)discard(Status::OK());
}

Status AtomicFile::discard(Status s) {
  FileOps& ops = file_ops();
  if (fd_ >= 0) ops.close(fd_);
  fd_ = -1;
  if (!pending_) return s;
  pending_ = false;
  const int err = retry_eintr([&] { return ops.unlink(tmp_.c_str()); }) != 0 ? errno : 0;
  // The caller has to delete a temporary file that could not be removed, so it is named.
  if (err != 0 && err != ENOENT) {
    s = Status(s.code(), std::string(s.message()) + "; the temporary file '" + tmp_ +
                             "' could not be removed either: " + std::strerror(err));
  }
  return s;
}

Status AtomicFile::open(const std::string& path) {
  if (pending_) return Status::Internal("AtomicFile::open called twice");
  static std::atomic<uint64_t> counter{0};
  path_ = path;
  tmp_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  size_ = 0;
  fd_ = retry_eintr([&] {
    return file_ops().open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  });
  if (fd_ < 0) return io_error("create", tmp_, errno);
  pending_ = true;
  buffer_.reserve(kBufferBytes);
  return Status::OK();
}

Status AtomicFile::flush() {
  Status s = write_all(file_ops(), fd_, buffer_.data(), buffer_.size(), tmp_);
  buffer_.clear();
  return s.ok() ? s : discard(std::move(s));
}

Status AtomicFile::append(const void* data, size_t size) {
  if (fd_ < 0) return Status::Internal("'" + path_ + "' is not open for writing");
  const char* p = static_cast<const char*>(data);
  size_ += size;
  if (buffer_.size() + size > kBufferBytes) {
    VECPERF_RETURN_IF_ERROR(flush());
    // A large block goes straight to the file instead of through the buffer.
    if (size >= kBufferBytes) {
      Status s = write_all(file_ops(), fd_, p, size, tmp_);
      return s.ok() ? s : discard(std::move(s));
    }
  }
  buffer_.insert(buffer_.end(), p, p + size);
  return Status::OK();
}

Status AtomicFile::write_at(uint64_t offset, const void* data, size_t size) {
  if (fd_ < 0) return Status::Internal("'" + path_ + "' is not open for writing");
  if (offset > size_ || size > size_ - offset)
    return Status::InvalidArgument("write_at past the end of '" + tmp_ + "'");
  VECPERF_RETURN_IF_ERROR(flush());
  Status s = pwrite_all(file_ops(), fd_, static_cast<const char*>(data), size,
                        static_cast<off_t>(offset), tmp_);
  return s.ok() ? s : discard(std::move(s));
}

Status AtomicFile::commit() {
  if (fd_ < 0) return Status::Internal("'" + path_ + "' is not open for writing");
  VECPERF_RETURN_IF_ERROR(flush());
  FileOps& ops = file_ops();
  if (retry_eintr([&] { return ops.fsync(fd_); }) != 0)
    return discard(io_error("fsync", tmp_, errno));
  // close() can report a deferred write error (NFS); the data is then not safely on disk.
  const int fd = fd_;
  fd_ = -1;
  if (ops.close(fd) != 0) {
    return discard(io_error("close", tmp_, errno));
  }
  if (retry_eintr([&] { return ops.rename(tmp_.c_str(), path_.c_str()); }) != 0)
    return discard(io_error("rename temporary file onto", path_, errno));
  pending_ = false;
  Status s = sync_directory(ops, directory_of(path_));
  if (!s.ok()) {
    return Status(s.code(), std::string(s.message()) +
                                " (the new file is in place, but may not survive a power loss)");
  }
  return Status::OK();
}

}  // namespace vecperf::internal
