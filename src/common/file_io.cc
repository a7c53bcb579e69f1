// Atomic framed-file writer and verifying reader (format in file_io.h).
#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // exposes XXH64_state_t so it can live on the stack
#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace vecperf::internal {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

Status io_error(const std::string& action, const std::string& path, int err) {
  std::string msg = "cannot " + action + " '" + path + "': " + errno_text(err);
  if (err == ENOSPC || err == EDQUOT) {
    return Status::ResourceExhausted(msg + " (free disk space and retry; the previous file, if "
                                           "any, is unchanged)");
  }
  return Status::IOError(msg);
}

Status write_all(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::OK();
}

// Buffers writes and hashes the payload as it streams through.
class HashingFileSink : public ByteSink {
 public:
  HashingFileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    XXH64_reset(&hash_, 0);
    buffer_.reserve(kBufferSize);
  }
  Status append(const void* data, size_t size) override {
    XXH64_update(&hash_, data, size);
    size_ += size;
    const char* p = static_cast<const char*>(data);
    if (buffer_.size() + size > kBufferSize) {
      VECPERF_RETURN_IF_ERROR(flush());
      if (size >= kBufferSize) return write_all(fd_, p, size, path_);
    }
    buffer_.insert(buffer_.end(), p, p + size);
    return Status::OK();
  }
  Status flush() {
    Status s = write_all(fd_, buffer_.data(), buffer_.size(), path_);
    buffer_.clear();
    return s;
  }
  uint64_t digest() const { return XXH64_digest(&hash_); }
  uint64_t size() const { return size_; }

 private:
  static constexpr size_t kBufferSize = 1 << 20;
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

}  // namespace

Status write_framed_file(const std::string& path, const FrameSpec& spec, uint32_t kind,
                         const std::function<void(Writer&)>& write_payload) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("create", tmp, errno);

  auto fail = [&](Status s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s.with_context(std::string("saving ") + spec.what + " to '" + path + "'");
  };

  char header[kFileHeaderSize] = {};
  Status s = write_all(fd, header, sizeof(header), tmp);  // placeholder, rewritten below
  if (!s.ok()) return fail(s);

  HashingFileSink sink(fd, tmp);
  Writer writer(&sink);
  write_payload(writer);
  if (!writer.status().ok()) return fail(writer.status());
  s = sink.flush();
  if (!s.ok()) return fail(s);

  encode_header(spec, kind, sink.size(), sink.digest(), header);
  if (::pwrite(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)))
    return fail(io_error("write header of", tmp, errno));
  if (::fsync(fd) != 0) return fail(io_error("fsync", tmp, errno));
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error("close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error("rename temporary file onto", path, err);
  }
  // Make the rename itself durable.
  int dfd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

Result<FramedFile> read_framed_file(const std::string& path, const FrameSpec& spec) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no such file: '" + path + "'");
    return io_error("open", path, errno);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("'" + path + "' is not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  const std::string where = std::string(spec.what) + " file '" + path + "'";

  auto read_exact = [&](char* out, size_t size, uint64_t offset) -> Status {
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("read", path, errno);
      }
      if (n == 0) return Status::Corruption(where + " is truncated");
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  };

  if (file_size < kFileHeaderSize) {
    return Status::Corruption(where + " is truncated: " + std::to_string(file_size) +
                              " bytes, shorter than the " + std::to_string(kFileHeaderSize) +
                              "-byte header");
  }
  char header[kFileHeaderSize];
  VECPERF_RETURN_IF_ERROR(read_exact(header, sizeof(header), 0));
  if (std::memcmp(header, spec.magic, 8) != 0)
    return Status::Corruption(where + " does not start with the expected magic bytes: not a " +
                              spec.what + " file, or damaged");
  uint64_t header_hash;
  std::memcpy(&header_hash, header + 32, 8);
  if (XXH64(header, 32, 0) != header_hash)
    return Status::Corruption(where + " has a damaged header (header checksum mismatch)");

  FramedFile out;
  uint64_t payload_size, payload_hash;
  std::memcpy(&out.version, header + 8, 4);
  std::memcpy(&out.kind, header + 12, 4);
  std::memcpy(&payload_size, header + 16, 8);
  std::memcpy(&payload_hash, header + 24, 8);
  if (out.version == 0 || out.version > spec.version)
    return Status::NotSupported(where + " has format version " + std::to_string(out.version) +
                                "; this build reads versions 1.." + std::to_string(spec.version) +
                                " (upgrade vecperf to read it)");
  if (payload_size != file_size - kFileHeaderSize)
    return Status::Corruption(where + " is truncated or has trailing bytes: header says " +
                              std::to_string(payload_size) + " payload bytes, file has " +
                              std::to_string(file_size - kFileHeaderSize));
  try {
    out.payload.resize(payload_size);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("not enough memory to read " + where);
  }
  VECPERF_RETURN_IF_ERROR(read_exact(out.payload.data(), payload_size, kFileHeaderSize));
  if (XXH64(out.payload.data(), payload_size, 0) != payload_hash)
    return Status::Corruption(where + " failed its checksum: the payload is damaged");
  return out;
}

}  // namespace vecperf::internal
