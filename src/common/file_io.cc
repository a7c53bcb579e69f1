// Atomic framed-file writer and verifying reader (format in file_io.h). All system calls go
// through file_ops() so that tests can make any of them fail (fs_seam.h).
#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // exposes XXH64_state_t so it can live on the stack
#include <xxhash.h>

#include <cerrno>
#include <cstring>

#include "common/atomic_file.h"
#include "common/fs_seam.h"
#include "common/guarded.h"

namespace vecperf::internal {
namespace {

// Hashes the payload as it streams into the file.
class HashingFileSink : public ByteSink {
 public:
  explicit HashingFileSink(AtomicFile& file) : file_(file) { XXH64_reset(&hash_, 0); }
  Status append(const void* data, size_t size) override {
    XXH64_update(&hash_, data, size);
    size_ += size;
    return file_.append(data, size);
  }
  uint64_t digest() const { return XXH64_digest(&hash_); }
  uint64_t size() const { return size_; }

 private:
  AtomicFile& file_;
  XXH64_state_t hash_;
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

// Runs a payload serializer; an exception from it (FAISS, the allocator) becomes a Status.
Status run_payload_writer(Writer& writer, const std::function<void(Writer&)>& write_payload) {
  VECPERF_RETURN_IF_ERROR(guarded_void("serialising", [&] { write_payload(writer); }));
  return writer.status();
}

// Streams the header placeholder and the payload into `file`, then writes the real header.
Status write_contents(AtomicFile& file, const FrameSpec& spec, uint32_t kind,
                      const std::function<void(Writer&)>& write_payload) {
  char header[kFileHeaderSize] = {};
  VECPERF_RETURN_IF_ERROR(file.append(header, sizeof(header)));  // rewritten below
  HashingFileSink sink(file);
  Writer writer(&sink);
  VECPERF_RETURN_IF_ERROR(run_payload_writer(writer, write_payload));
  encode_header(spec, kind, sink.size(), sink.digest(), header);
  return file.write_at(0, header, sizeof(header));
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
  Status s = guarded_void("allocating its read buffer", [&] { file->payload.resize(size); });
  return s.ok() ? s : s.with_context("reading " + where);
}

std::string describe(const FrameSpec& spec, const std::string& name) {
  return std::string(spec.what) + " file '" + name + "'";
}

}  // namespace

Status write_framed_file(const std::string& path, const FrameSpec& spec, uint32_t kind,
                         const std::function<void(Writer&)>& write_payload) {
  const std::string context = std::string("saving ") + spec.what + " to '" + path + "'";
  AtomicFile file;
  Status s = file.open(path);
  if (s.ok()) s = write_contents(file, spec, kind, write_payload);
  if (s.ok()) s = file.commit();
  return s.ok() ? s : file.discard(std::move(s)).with_context(context);
}

Result<std::string> encode_framed(const FrameSpec& spec, uint32_t kind,
                                  const std::function<void(Writer&)>& write_payload) {
  return guarded("serialising into a byte string", [&]() -> Result<std::string> {
    StringSink sink;
    sink.bytes().assign(kFileHeaderSize, '\0');  // rewritten below
    Writer writer(&sink);
    VECPERF_RETURN_IF_ERROR(run_payload_writer(writer, write_payload));
    std::string& bytes = sink.bytes();
    const char* payload = bytes.data() + kFileHeaderSize;
    const uint64_t payload_size = bytes.size() - kFileHeaderSize;
    encode_header(spec, kind, payload_size, XXH64(payload, payload_size, 0), bytes.data());
    return std::move(bytes);
  });
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
