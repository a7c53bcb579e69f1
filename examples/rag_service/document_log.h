// The write-ahead log of document changes, in numbered segment files (wal-<n>.log in one
// directory). Every acknowledged change is one record, fsynced before the reply. A snapshot
// rotates to a new segment and later deletes the segments it covers.
#pragma once

#include <vecperf/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "record_file.h"

namespace rag {

/// One logged change: the documents one request added, or the ids it removed.
struct LogEntry {
  enum class Op : uint8_t { kAdd = 1, kRemove = 2 };
  Op op = Op::kAdd;
  std::vector<int64_t> ids;
  std::vector<std::string> texts;  ///< kAdd: texts[i] is document ids[i]; kRemove: empty
};

/// Record payload of an entry:
///   u8 op | u32 count | count x (u64 id [| u32 text size | text])      (text only for kAdd)
std::string encode_entry(const LogEntry& entry);
/// Errors: kCorruption when `payload` is not a well-formed entry.
vecperf::Status decode_entry(std::string_view payload, LogEntry* entry);

/// What opening the log found.
struct LogRecovery {
  int segments = 0;                 ///< segments replayed
  int64_t entries = 0;              ///< entries replayed
  uint64_t dropped_tail_bytes = 0;  ///< torn tail cut off the last segment (0 normally)
  std::string tail_problem;         ///< why the tail was dropped
};

/// Thread-safety: none; the owner serialises every call (the service holds its write lock).
class DocumentLog {
 public:
  static constexpr std::string_view kMagic = "RAGWAL01";

  /// Opens the log in `dir` (created if missing) and calls `apply` with every entry of segments
  /// numbered `first_segment` and later, oldest first. Segments below `first_segment` are
  /// covered by a snapshot and are deleted. A short or damaged record at the end of the newest
  /// segment is an unacknowledged write cut by a crash: it is dropped and the file truncated
  /// there. The same damage in an older segment is kCorruption, as is a gap in the numbering.
  /// Errors: kIOError, kCorruption, or the first error of `apply`.
  static vecperf::Result<std::unique_ptr<DocumentLog>> open(
      const std::string& dir, uint64_t first_segment,
      const std::function<vecperf::Status(LogEntry&&)>& apply, LogRecovery* recovery);

  /// Appends `entry` and fsyncs it: when this returns OK the change survives kill -9 and power
  /// loss. Errors: kIOError (the log then refuses further appends; see RecordWriter).
  vecperf::Status append(const LogEntry& entry);

  /// Starts a new segment (synced and visible in the directory) that receives later appends,
  /// and returns its number. Errors: kIOError (appends keep going to the old segment).
  vecperf::Result<uint64_t> rotate();

  /// Deletes the segments numbered below `segment` (a snapshot covers them). Errors: kIOError.
  vecperf::Status remove_segments_before(uint64_t segment);

  uint64_t current_segment() const { return current_; }
  /// Bytes in the current segment (what a snapshot would let us delete, roughly).
  uint64_t current_segment_bytes() const { return writer_->size(); }
  /// Bytes in every live segment.
  uint64_t total_bytes() const { return older_bytes_ + writer_->size(); }

 private:
  DocumentLog(std::string dir) : dir_(std::move(dir)) {}
  std::string segment_path(uint64_t n) const;

  std::string dir_;
  std::unique_ptr<RecordWriter> writer_;
  uint64_t current_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> older_;  ///< (segment, bytes) before current_
  uint64_t older_bytes_ = 0;
};

}  // namespace rag
