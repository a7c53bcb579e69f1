// Checksummed record files: the write-ahead log segments and the snapshot files of the service.
//
//   file   := magic (8 bytes) record*
//   record := u32 payload size | u32 CRC-32 of the payload | payload     (integers little-endian)
//
// A record is appended with one write(2) and made durable with fdatasync. A crash can leave the
// last record short or with a bad checksum (a torn tail); the reader stops before it and reports
// where the intact prefix ends, so the caller can truncate the file there and go on appending.
#pragma once

#include <vecperf/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace rag {

inline constexpr size_t kMagicSize = 8;
/// Largest payload a reader accepts; a bigger size field is treated as damage, so a flipped bit
/// never makes the reader allocate gigabytes.
inline constexpr uint32_t kMaxRecordBytes = uint32_t{1} << 30;

/// Appends records to one file.
/// Thread-safety: none; the owner serialises calls.
class RecordWriter {
 public:
  /// Creates `path` (replacing a leftover file of that name), writes `magic` and syncs the file.
  /// Errors: kIOError.
  static vecperf::Result<std::unique_ptr<RecordWriter>> create(const std::string& path,
                                                               std::string_view magic);
  /// Opens an existing file for appending after its first `valid_end` bytes, cutting off what
  /// follows (a torn record found by read_records). A file with no intact magic is rewritten
  /// with `magic`. Errors: kIOError.
  static vecperf::Result<std::unique_ptr<RecordWriter>> reopen(const std::string& path,
                                                               std::string_view magic,
                                                               uint64_t valid_end);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  /// Appends one record (not yet durable: see sync). On a failed write the file is cut back to
  /// its previous end, so a later record never follows garbage; if even that fails, or a sync
  /// failed, the writer refuses every later call (the kernel may have dropped dirty pages, so
  /// nothing written since the last good sync can be trusted). Errors: kInvalidArgument (payload
  /// larger than kMaxRecordBytes), kIOError.
  vecperf::Status append(std::string_view payload);
  /// fdatasync: every appended record survives a crash of the process or the machine.
  /// Errors: kIOError.
  vecperf::Status sync();

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  RecordWriter(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  vecperf::Status broken_error() const;

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool broken_ = false;
};

/// Where the intact prefix of a record file ends.
struct ReadEnd {
  uint64_t valid_end = 0;  ///< bytes up to the end of the last intact record
  uint64_t file_size = 0;
  std::string tail_problem;  ///< why reading stopped before file_size ("" when it did not)
  bool torn() const { return valid_end < file_size; }
};

/// Calls `on_record` with each intact record of `path`, in order, and stops at the first short or
/// damaged one (see ReadEnd). A file shorter than the magic but matching it so far is empty.
/// Errors: kNotFound, kIOError, kCorruption (wrong magic: not a file of this kind), or the first
/// error `on_record` returns.
vecperf::Result<ReadEnd> read_records(
    const std::string& path, std::string_view magic,
    const std::function<vecperf::Status(std::string_view payload)>& on_record);

/// Renames `from` over `to` and fsyncs their directory: with a synced `from`, a crash leaves the
/// old `to` or the new one, never a mix. Errors: kIOError.
vecperf::Status commit_file(const std::string& from, const std::string& to);

/// fsyncs a directory so that entries created or removed in it survive a crash. Errors: kIOError.
vecperf::Status sync_directory(const std::string& dir);

/// Creates `dir` and its missing parents, and syncs the parent so that a new directory survives
/// a crash too. Errors: kIOError.
vecperf::Status create_directory(const std::string& dir);

/// Little-endian encoding of the record payloads.
void put_u32(std::string* out, uint32_t v);
void put_u64(std::string* out, uint64_t v);

/// Bounds-checked reader over one payload: every call fails (returns false) instead of reading
/// past the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  bool u8(uint8_t* v);
  bool u32(uint32_t* v);
  bool u64(uint64_t* v);
  bool bytes(size_t n, std::string_view* v);
  bool at_end() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace rag
