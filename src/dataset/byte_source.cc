// File and memory byte sources. A file region is mapped read-only and private, so the rows of a
// large file are paged in on demand and shared with the page cache instead of copied; the map is
// unmapped when the last matrix pointing into it goes away. File systems that cannot map (some
// FUSE mounts) fall back to reading the region into a heap buffer.
#include "dataset/byte_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/guarded.h"

namespace vecperf::internal {
namespace {

Status os_error(const std::string& action, const std::string& path, int err) {
  return Status::IOError("cannot " + action + " '" + path + "': " + std::strerror(err));
}

Status past_end(const std::string& name, uint64_t offset, uint64_t n, uint64_t size) {
  return Status::Corruption("'" + name + "': " + std::to_string(n) + " bytes at byte offset " +
                            std::to_string(offset) + " run past the end of the " +
                            std::to_string(size) + "-byte file (did it change while read?)");
}

// Owned copy of a region, for sources that cannot (or need not) map.
Result<ByteRegion> heap_region(uint64_t n, const std::string& name) {
  std::shared_ptr<char[]> buffer;
  Status s = guarded_void("allocating a read buffer (read fewer rows: max_rows)",
                          [&] { buffer.reset(new char[n]); });
  if (!s.ok()) return s.with_context("reading " + std::to_string(n) + " bytes of '" + name + "'");
  ByteRegion r;
  r.data = buffer.get();
  r.size = n;
  r.owner = std::move(buffer);
  return r;
}

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileSource() override { ::close(fd_); }

  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }

  Status read_at(uint64_t offset, void* out, uint64_t n) const override {
    if (offset > size_ || n > size_ - offset) return past_end(path_, offset, n, size_);
    char* p = static_cast<char*>(out);
    uint64_t done = 0;
    while (done < n) {
      ssize_t got = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        return os_error("read", path_, errno);
      }
      if (got == 0) return past_end(path_, offset, n, size_);
      done += static_cast<uint64_t>(got);
    }
    return Status::OK();
  }

  Result<ByteRegion> region(uint64_t offset, uint64_t n, bool sequential) const override {
    if (offset > size_ || n > size_ - offset) return past_end(path_, offset, n, size_);
    if (n == 0) return ByteRegion{};
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t start = offset / page * page;
    const uint64_t length = n + (offset - start);
    // A region that will be read front to back anyway is populated up front, saving the page
    // faults that fault-around leaves (about 1000 per 100 MB).
    const int flags = MAP_PRIVATE | (sequential ? MAP_POPULATE : 0);
    void* base = ::mmap(nullptr, length, PROT_READ, flags, fd_, static_cast<off_t>(start));
    if (base == MAP_FAILED) {
      if (errno == ENOMEM)
        return Status::ResourceExhausted("cannot map " + std::to_string(n) + " bytes of '" + path_ +
                                         "': out of address space (read fewer rows)");
      Result<ByteRegion> copy = heap_region(n, path_);
      if (!copy.ok()) return copy;
      VECPERF_RETURN_IF_ERROR(read_at(offset, const_cast<char*>(copy->data), n));
      return copy;
    }
    ByteRegion r;
    r.owner = std::shared_ptr<const void>(
        base, [length](const void* p) { ::munmap(const_cast<void*>(p), length); });
    r.data = static_cast<const char*>(base) + (offset - start);
    r.size = n;
    r.mapped = true;
    return r;
  }

 private:
  int fd_;
  uint64_t size_;
  std::string path_;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::string bytes, std::string name)
      : bytes_(std::make_shared<const std::string>(std::move(bytes))), name_(std::move(name)) {}

  uint64_t size() const override { return bytes_->size(); }
  const std::string& name() const override { return name_; }

  Status read_at(uint64_t offset, void* out, uint64_t n) const override {
    if (offset > size() || n > size() - offset) return past_end(name_, offset, n, size());
    if (n) std::memcpy(out, bytes_->data() + offset, n);
    return Status::OK();
  }

  Result<ByteRegion> region(uint64_t offset, uint64_t n, bool /*sequential*/) const override {
    if (offset > size() || n > size() - offset) return past_end(name_, offset, n, size());
    ByteRegion r;
    r.owner = bytes_;
    r.data = bytes_->data() + offset;
    r.size = n;
    return r;
  }

 private:
  std::shared_ptr<const std::string> bytes_;
  std::string name_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no such file: '" + path + "'");
    return os_error("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = os_error("stat", path, errno);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("'" + path + "' is not a regular file");
  }
  return std::unique_ptr<ByteSource>(new FileSource(fd, static_cast<uint64_t>(st.st_size), path));
}

std::unique_ptr<ByteSource> memory_source(std::string bytes, std::string name) {
  return std::make_unique<MemorySource>(std::move(bytes), std::move(name));
}

}  // namespace vecperf::internal
