// POSIX implementation of the record files. Writes go straight to the file descriptor (no user
// space buffer), so a record acknowledged after sync() is on disk and nothing is left in a buffer
// that a SIGKILL could lose.
#include "record_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace rag {
namespace {

using vecperf::Result;
using vecperf::Status;

Status io_error(const std::string& what, const std::string& path, int err) {
  return Status::IOError(what + " '" + path + "': " + std::strerror(err));
}

uint32_t crc32_of(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a uInt length; payloads are below kMaxRecordBytes, far under 4 GiB.
  crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  return static_cast<uint32_t>(crc);
}

uint32_t load_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

Status write_all(int fd, const std::string& path, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<RecordWriter>> RecordWriter::create(const std::string& path,
                                                           std::string_view magic) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", path, errno);
  std::unique_ptr<RecordWriter> writer(new RecordWriter(path, fd, 0));
  VECPERF_RETURN_IF_ERROR(write_all(fd, path, magic.data(), magic.size()));
  writer->size_ = magic.size();
  VECPERF_RETURN_IF_ERROR(writer->sync());
  return writer;
}

Result<std::unique_ptr<RecordWriter>> RecordWriter::reopen(const std::string& path,
                                                           std::string_view magic,
                                                           uint64_t valid_end) {
  if (valid_end < magic.size()) return create(path, magic);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path, errno);
  std::unique_ptr<RecordWriter> writer(new RecordWriter(path, fd, valid_end));
  if (::ftruncate(fd, static_cast<off_t>(valid_end)) != 0)
    return io_error("cannot truncate", path, errno);
  if (::lseek(fd, static_cast<off_t>(valid_end), SEEK_SET) < 0)
    return io_error("cannot seek", path, errno);
  VECPERF_RETURN_IF_ERROR(writer->sync());
  return writer;
}

RecordWriter::~RecordWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status RecordWriter::broken_error() const {
  return Status::IOError("log file '" + path_ +
                         "' failed an earlier write or sync and accepts no more records; "
                         "fix the disk problem and restart the service");
}

Status RecordWriter::append(std::string_view payload) {
  if (broken_) return broken_error();
  if (payload.size() > kMaxRecordBytes) {
    return Status::InvalidArgument("record of " + std::to_string(payload.size()) +
                                   " bytes exceeds the limit of " +
                                   std::to_string(kMaxRecordBytes) + " bytes");
  }
  std::string frame;
  frame.reserve(8 + payload.size());
  put_u32(&frame, static_cast<uint32_t>(payload.size()));
  put_u32(&frame, crc32_of(payload));
  frame.append(payload);
  Status st = write_all(fd_, path_, frame.data(), frame.size());
  if (!st.ok()) {
    // A partial record must not stay in front of later ones.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET) < 0) {
      broken_ = true;
    }
    return st;
  }
  size_ += frame.size();
  return Status::OK();
}

Status RecordWriter::sync() {
  if (broken_) return broken_error();
  if (::fdatasync(fd_) != 0) {
    broken_ = true;
    return io_error("cannot sync", path_, errno);
  }
  return Status::OK();
}

Result<ReadEnd> read_records(const std::string& path, std::string_view magic,
                             const std::function<Status(std::string_view payload)>& on_record) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no file '" + path + "'");
    return io_error("cannot open", path, errno);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st = {};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat", path, errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  // Reads exactly n bytes at the current offset (the size was checked against the file's).
  auto read_exact = [&](char* out, size_t n) -> Status {
    while (n > 0) {
      const ssize_t r = ::read(fd, out, n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return io_error("cannot read", path, errno);
      if (r == 0) return Status::IOError("'" + path + "' shrank while being read");
      out += r;
      n -= static_cast<size_t>(r);
    }
    return Status::OK();
  };

  ReadEnd end;
  end.file_size = size;
  char head[kMagicSize] = {};
  const size_t head_len = static_cast<size_t>(std::min<uint64_t>(size, magic.size()));
  VECPERF_RETURN_IF_ERROR(read_exact(head, head_len));
  if (std::string_view(head, head_len) != magic.substr(0, head_len)) {
    return Status::Corruption("'" + path + "' does not start with the magic '" +
                              std::string(magic) + "': not a file of this kind");
  }
  if (head_len < magic.size()) {
    end.tail_problem = "file shorter than its magic";
    return end;
  }

  end.valid_end = magic.size();
  std::string payload;
  while (end.valid_end < size) {
    const uint64_t left = size - end.valid_end;
    char frame[8];
    if (left < sizeof(frame)) {
      end.tail_problem = "short record header";
      break;
    }
    VECPERF_RETURN_IF_ERROR(read_exact(frame, sizeof(frame)));
    const uint32_t length = load_u32(frame);
    const uint32_t crc = load_u32(frame + 4);
    if (length > kMaxRecordBytes || length > left - sizeof(frame)) {
      end.tail_problem = "record size " + std::to_string(length) + " runs past the end of the file";
      break;
    }
    payload.resize(length);
    VECPERF_RETURN_IF_ERROR(read_exact(payload.data(), length));
    if (crc32_of(payload) != crc) {
      end.tail_problem = "record checksum mismatch";
      break;
    }
    VECPERF_RETURN_IF_ERROR(on_record(payload));
    end.valid_end += sizeof(frame) + length;
  }
  if (end.torn()) end.tail_problem += " at offset " + std::to_string(end.valid_end);
  return end;
}

Status sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("cannot sync directory", dir, err);
  return Status::OK();
}

Status create_directory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::create_directories(dir, ec)) {
    if (ec) return Status::IOError("cannot create directory '" + dir + "': " + ec.message());
    return Status::OK();  // it existed
  }
  const std::filesystem::path parent = std::filesystem::absolute(dir, ec).parent_path();
  return ec ? Status::OK() : sync_directory(parent.string());
}

Status commit_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return io_error("cannot rename '" + from + "' to", to, errno);
  return sync_directory(std::filesystem::path(to).parent_path().string());
}

void put_u32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool ByteReader::u8(uint8_t* v) {
  if (remaining() < 1) return false;
  *v = static_cast<uint8_t>(data_[pos_++]);
  return true;
}

bool ByteReader::u32(uint32_t* v) {
  if (remaining() < 4) return false;
  *v = load_u32(data_.data() + pos_);
  pos_ += 4;
  return true;
}

bool ByteReader::u64(uint64_t* v) {
  uint32_t lo = 0, hi = 0;
  if (remaining() < 8 || !u32(&lo) || !u32(&hi)) return false;
  *v = (uint64_t{hi} << 32) | lo;
  return true;
}

bool ByteReader::bytes(size_t n, std::string_view* v) {
  if (remaining() < n) return false;
  *v = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

}  // namespace rag
