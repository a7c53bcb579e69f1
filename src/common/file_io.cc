// Atomic framed-file writer and verifying reader (format in file_io.h). All system calls go
// through file_ops() so that tests can make any of them fail (fs_seam.h).
#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // exposes XXH64_state_t so it can live on the stack
#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>

#include "common/fs_seam.h"

namespace vecperf::internal {
namespace {

// Repeats a system call interrupted by a signal before it did anything (EINTR). close() is
// never retried: on Linux the descriptor is gone even when close reports EINTR.
template <typename Call>
auto retry_eintr(Call&& call) {
  for (;;) {
    auto r = call();
    if (!(r < 0 && errno == EINTR)) return r;
  }
}

Status io_error(const std::string& action, const std::string& path, int err) {
  std::string msg = "cannot " + action + " '" + path + "': " + std::strerror(err);
  // A full disk is the failure users can fix themselves, so it is named as such.
  if (err == ENOSPC) msg += " (the disk is full: free some space and retry)";
  if (err == EDQUOT) msg += " (the disk quota is exhausted: free some space and retry)";
  return Status::IOError(std::move(msg));
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

// Buffers writes and hashes the payload as it streams through.
class HashingFileSink : public ByteSink {
 public:
  HashingFileSink(FileOps& ops, int fd, std::string path)
      : ops_(ops), fd_(fd), path_(std::move(path)) {
    XXH64_reset(&hash_, 0);
    buffer_.reserve(kBufferSize);
  }
  Status append(const void* data, size_t size) override {
    XXH64_update(&hash_, data, size);
    size_ += size;
    const char* p = static_cast<const char*>(data);
    if (buffer_.size() + size > kBufferSize) {
      VECPERF_RETURN_IF_ERROR(flush());
      if (size >= kBufferSize) return write_all(ops_, fd_, p, size, path_);
    }
    buffer_.insert(buffer_.end(), p, p + size);
    return Status::OK();
  }
  Status flush() {
    Status s = write_all(ops_, fd_, buffer_.data(), buffer_.size(), path_);
    buffer_.clear();
    return s;
  }
  uint64_t digest() const { return XXH64_digest(&hash_); }
  uint64_t size() const { return size_; }

 private:
  static constexpr size_t kBufferSize = 1 << 20;
  FileOps& ops_;
  int fd_;
  std::string path_;
  XXH64_state_t hash_;
  std::vector<char> buffer_;
  uint64_t size_ = 0;
};

void encode_header(const FrameSpec& spec, uint32_t kind, uint64_t payload_size,
                   uint64_t payload_hash, char out[kFileHeaderSize]) {
  std::memcpy(out, spec.magic, 8);
  std::memcpy(out + 8, &spec.version, 4);
  std::memcpy(out + 12, &kind, 4);
  std::memcpy(out + 16, &payload_size, 8);
  std::memcpy(out + 24, &payload_hash, 8);
  uint64_t header_hash = XXH64(out, 32, 0);
  std::memcpy(out + 32, &header_hash, 8);
}

std::string directory_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Streams the header placeholder and the payload into `fd`, then writes the real header and
// fsyncs. Leaves closing and cleaning up to the caller.
Status write_contents(FileOps& ops, int fd, const std::string& tmp, const FrameSpec& spec,
                      uint32_t kind, const std::function<void(Writer&)>& write_payload) {
  char header[kFileHeaderSize] = {};
  VECPERF_RETURN_IF_ERROR(write_all(ops, fd, header, sizeof(header), tmp));  // rewritten below
  HashingFileSink sink(ops, fd, tmp);
  Writer writer(&sink);
  try {
    write_payload(writer);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while serialising");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("unexpected exception while serialising: ") + e.what());
  }
  VECPERF_RETURN_IF_ERROR(writer.status());
  VECPERF_RETURN_IF_ERROR(sink.flush());
  encode_header(spec, kind, sink.size(), sink.digest(), header);
  VECPERF_RETURN_IF_ERROR(pwrite_all(ops, fd, header, sizeof(header), 0, tmp));
  if (retry_eintr([&] { return ops.fsync(fd); }) != 0) return io_error("fsync", tmp, errno);
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

// Checks a header read from a `file_size`-byte file and fills *out (all but the payload).
Status check_header(const char* header, uint64_t file_size, const FrameSpec& spec,
                    const std::string& where, FramedFile* out, uint64_t* payload_hash) {
  if (std::memcmp(header, spec.magic, 8) != 0)
    return Status::Corruption(where + " does not start with the expected magic bytes: not a " +
                              spec.what + " file, or damaged");
  uint64_t header_hash;
  std::memcpy(&header_hash, header + 32, 8);
  if (XXH64(header, 32, 0) != header_hash)
    return Status::Corruption(where + " has a damaged header (header checksum mismatch)");
  uint64_t payload_size;
  std::memcpy(&out->version, header + 8, 4);
  std::memcpy(&out->kind, header + 12, 4);
  std::memcpy(&payload_size, header + 16, 8);
  std::memcpy(payload_hash, header + 24, 8);
  if (out->version == 0 || out->version > spec.version)
    return Status::NotSupported(where + " has format version " + std::to_string(out->version) +
                                "; this build reads versions 1.." + std::to_string(spec.version) +
                                " (upgrade vecperf to read it)");
  if (payload_size != file_size - kFileHeaderSize)
    return Status::Corruption(where + " is truncated or has trailing bytes: header says " +
                              std::to_string(payload_size) + " payload bytes, file has " +
                              std::to_string(file_size - kFileHeaderSize));
  return Status::OK();
}

Status check_size(uint64_t file_size, const std::string& where) {
  if (file_size >= kFileHeaderSize) return Status::OK();
  return Status::Corruption(where + " is truncated: " + std::to_string(file_size) +
                            " bytes, shorter than the " + std::to_string(kFileHeaderSize) +
                            "-byte header");
}

Status check_payload(const FramedFile& file, uint64_t payload_hash, const std::string& where) {
  if (XXH64(file.payload.data(), file.payload.size(), 0) != payload_hash)
    return Status::Corruption(where + " failed its checksum: the payload is damaged");
  return Status::OK();
}

// The payload buffer is sized from a header already matched against the real file size, so a
// failure here is genuine memory pressure.
Status allocate_payload(FramedFile* file, uint64_t size, const std::string& where) {
  try {
    file->payload.resize(size);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("not enough memory to read " + where);
  }
  return Status::OK();
}

std::string describe(const FrameSpec& spec, const std::string& name) {
  return std::string(spec.what) + " file '" + name + "'";
}

}  // namespace

Status write_framed_file(const std::string& path, const FrameSpec& spec, uint32_t kind,
                         const std::function<void(Writer&)>& write_payload) {
  static std::atomic<uint64_t> counter{0};
  FileOps& ops = file_ops();
  const std::string context = std::string("saving ") + spec.what + " to '" + path + "'";
  const std::string tmp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const int fd = retry_eintr(
      [&] { return ops.open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); });
  if (fd < 0) return io_error("create", tmp, errno).with_context(context);

  // Removes the temporary file; a failure to do so is added to the error being reported, since
  // the caller has to delete that file by hand.
  auto discard = [&](Status s) {
    const int err = retry_eintr([&] { return ops.unlink(tmp.c_str()); }) != 0 ? errno : 0;
    if (err != 0 && err != ENOENT) {
      s = Status(s.code(), std::string(s.message()) + "; the temporary file '" + tmp +
                               "' could not be removed either: " + std::strerror(err));
    }
    return s.with_context(context);
  };

  Status s = write_contents(ops, fd, tmp, spec, kind, write_payload);
  if (!s.ok()) {
    ops.close(fd);
    return discard(std::move(s));
  }
  // close() can report a deferred write error (NFS); the data is then not safely on disk.
  if (ops.close(fd) != 0) return discard(io_error("close", tmp, errno));
  if (retry_eintr([&] { return ops.rename(tmp.c_str(), path.c_str()); }) != 0)
    return discard(io_error("rename temporary file onto", path, errno));
  s = sync_directory(ops, directory_of(path));
  if (!s.ok()) {
    return s.with_context(context +
                          " (the new file is in place, but may not survive a power loss)");
  }
  return Status::OK();
}

Result<FramedFile> read_framed_file(const std::string& path, const FrameSpec& spec) {
  FileOps& ops = file_ops();
  const int fd = retry_eintr([&] { return ops.open(path.c_str(), O_RDONLY | O_CLOEXEC, 0); });
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no such file: '" + path + "'");
    return io_error("open", path, errno);
  }
  struct FdCloser {
    FileOps& ops;
    int fd;
    ~FdCloser() { ops.close(fd); }
  } closer{ops, fd};

  struct stat st {};
  if (retry_eintr([&] { return ops.fstat(fd, &st); }) != 0) return io_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("'" + path + "' is not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  const std::string where = describe(spec, path);

  // A failed read is the OS's error (kIOError), never kCorruption: the file may be fine.
  auto read_exact = [&](char* out, size_t size, uint64_t offset) -> Status {
    size_t done = 0;
    while (done < size) {
      const ssize_t n = retry_eintr([&] {
        return ops.pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
      });
      if (n < 0) return io_error("read", path, errno);
      if (n == 0) return Status::Corruption(where + " is truncated");
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  };

  VECPERF_RETURN_IF_ERROR(check_size(file_size, where));
  char header[kFileHeaderSize];
  VECPERF_RETURN_IF_ERROR(read_exact(header, sizeof(header), 0));
  FramedFile out;
  uint64_t payload_hash = 0;
  VECPERF_RETURN_IF_ERROR(check_header(header, file_size, spec, where, &out, &payload_hash));
  VECPERF_RETURN_IF_ERROR(allocate_payload(&out, file_size - kFileHeaderSize, where));
  VECPERF_RETURN_IF_ERROR(read_exact(out.payload.data(), out.payload.size(), kFileHeaderSize));
  VECPERF_RETURN_IF_ERROR(check_payload(out, payload_hash, where));
  return out;
}

Result<FramedFile> decode_framed(const char* data, size_t size, const FrameSpec& spec,
                                 const std::string& name) {
  const std::string where = describe(spec, name);
  VECPERF_RETURN_IF_ERROR(check_size(size, where));
  FramedFile out;
  uint64_t payload_hash = 0;
  VECPERF_RETURN_IF_ERROR(check_header(data, size, spec, where, &out, &payload_hash));
  VECPERF_RETURN_IF_ERROR(allocate_payload(&out, size - kFileHeaderSize, where));
  if (!out.payload.empty())
    std::memcpy(out.payload.data(), data + kFileHeaderSize, out.payload.size());
  VECPERF_RETURN_IF_ERROR(check_payload(out, payload_hash, where));
  return out;
}

}  // namespace vecperf::internal
