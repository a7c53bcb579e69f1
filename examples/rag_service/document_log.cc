// Segment management and entry encoding of the document log. Segment n is "wal-<n, 16 digits>.log",
// so the directory listing sorts in log order and a missing number is easy to spot.
#include "document_log.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <system_error>

namespace rag {
namespace fs = std::filesystem;
using vecperf::Result;
using vecperf::Status;

namespace {

// Parses "wal-0000000000000012.log" into 12; false for any other name.
bool parse_segment_name(const std::string& name, uint64_t* n) {
  constexpr std::string_view kPrefix = "wal-", kSuffix = ".log";
  if (name.size() != kPrefix.size() + 16 + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = kPrefix.size(); i < kPrefix.size() + 16; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *n = v;
  return true;
}

Status fs_error(const std::string& what, const std::string& path, const std::error_code& ec) {
  return Status::IOError(what + " '" + path + "': " + ec.message());
}

}  // namespace

std::string encode_entry(const LogEntry& entry) {
  std::string out;
  size_t bytes = 5 + entry.ids.size() * 12;
  for (const auto& t : entry.texts) bytes += t.size();
  out.reserve(bytes);
  out.push_back(static_cast<char>(entry.op));
  put_u32(&out, static_cast<uint32_t>(entry.ids.size()));
  for (size_t i = 0; i < entry.ids.size(); ++i) {
    put_u64(&out, static_cast<uint64_t>(entry.ids[i]));
    if (entry.op == LogEntry::Op::kAdd) {
      put_u32(&out, static_cast<uint32_t>(entry.texts[i].size()));
      out.append(entry.texts[i]);
    }
  }
  return out;
}

Status decode_entry(std::string_view payload, LogEntry* entry) {
  ByteReader in(payload);
  uint8_t op = 0;
  uint32_t count = 0;
  if (!in.u8(&op) || !in.u32(&count)) return Status::Corruption("log entry header is truncated");
  if (op != static_cast<uint8_t>(LogEntry::Op::kAdd) &&
      op != static_cast<uint8_t>(LogEntry::Op::kRemove)) {
    return Status::Corruption("log entry has unknown operation " + std::to_string(op));
  }
  entry->op = static_cast<LogEntry::Op>(op);
  const bool add = entry->op == LogEntry::Op::kAdd;
  // Each item takes at least 8 (remove) or 12 (add) bytes: bounds the reservation below.
  if (count > in.remaining() / (add ? 12 : 8)) {
    return Status::Corruption("log entry claims " + std::to_string(count) +
                              " documents but holds only " + std::to_string(in.remaining()) +
                              " bytes");
  }
  entry->ids.clear();
  entry->texts.clear();
  entry->ids.reserve(count);
  if (add) entry->texts.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t id = 0;
    if (!in.u64(&id) || id > uint64_t{INT64_MAX})
      return Status::Corruption("log entry has a bad id");
    entry->ids.push_back(static_cast<int64_t>(id));
    if (add) {
      uint32_t size = 0;
      std::string_view text;
      if (!in.u32(&size) || !in.bytes(size, &text))
        return Status::Corruption("log entry text is truncated");
      entry->texts.emplace_back(text);
    }
  }
  if (!in.at_end()) return Status::Corruption("log entry has trailing bytes");
  return Status::OK();
}

std::string DocumentLog::segment_path(uint64_t n) const {
  char name[32];
  std::snprintf(name, sizeof(name), "wal-%016" PRIu64 ".log", n);
  return (fs::path(dir_) / name).string();
}

Result<std::unique_ptr<DocumentLog>> DocumentLog::open(
    const std::string& dir, uint64_t first_segment, const std::function<Status(LogEntry&&)>& apply,
    LogRecovery* recovery) {
  VECPERF_RETURN_IF_ERROR(create_directory(dir));
  std::unique_ptr<DocumentLog> log(new DocumentLog(dir));
  std::error_code ec;

  std::vector<uint64_t> segments;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    uint64_t n = 0;
    if (parse_segment_name(e.path().filename().string(), &n)) segments.push_back(n);
  }
  if (ec) return fs_error("cannot list log directory", dir, ec);
  std::sort(segments.begin(), segments.end());

  // Segments below first_segment are covered by the snapshot; a crash after the snapshot
  // committed but before they were deleted leaves them behind.
  std::vector<uint64_t> live;
  for (uint64_t n : segments) {
    if (n >= first_segment) {
      live.push_back(n);
    } else if (!fs::remove(log->segment_path(n), ec) && ec) {
      return fs_error("cannot delete old log segment", log->segment_path(n), ec);
    }
  }
  for (size_t i = 0; i < live.size(); ++i) {
    const uint64_t expected = i == 0 ? first_segment : live[i - 1] + 1;
    // Without a snapshot (first_segment 0) the log may start anywhere it was created.
    if (live[i] != expected && !(i == 0 && first_segment == 0)) {
      return Status::Corruption("log segment " + log->segment_path(expected) +
                                " is missing: the changes it held are lost. Restore it, or "
                                "remove the data directory to start empty");
    }
  }

  *recovery = LogRecovery{};
  LogEntry entry;
  uint64_t tail_end = 0;
  for (size_t i = 0; i < live.size(); ++i) {
    const std::string path = log->segment_path(live[i]);
    auto end = read_records(path, kMagic, [&](std::string_view payload) {
      VECPERF_RETURN_IF_ERROR(decode_entry(payload, &entry).with_context(path));
      ++recovery->entries;
      return apply(std::move(entry));
    });
    if (!end.ok()) return end.status();
    ++recovery->segments;
    const bool newest = i + 1 == live.size();
    if (end->torn() && !newest) {
      return Status::Corruption("log segment " + path + " is damaged (" + end->tail_problem +
                                ") and is not the newest one, so records after the damage "
                                "were acknowledged and cannot be recovered");
    }
    if (end->torn()) {
      recovery->dropped_tail_bytes = end->file_size - end->valid_end;
      recovery->tail_problem = end->tail_problem;
    }
    if (newest) {
      tail_end = end->valid_end;
    } else {
      log->older_.emplace_back(live[i], end->file_size);
      log->older_bytes_ += end->file_size;
    }
  }

  if (live.empty()) {
    log->current_ = std::max<uint64_t>(first_segment, 1);
    auto writer = RecordWriter::create(log->segment_path(log->current_), kMagic);
    if (!writer.ok()) return writer.status();
    log->writer_ = std::move(*writer);
    VECPERF_RETURN_IF_ERROR(sync_directory(dir));
  } else {
    log->current_ = live.back();
    auto writer = RecordWriter::reopen(log->segment_path(log->current_), kMagic, tail_end);
    if (!writer.ok()) return writer.status();
    log->writer_ = std::move(*writer);
  }
  return log;
}

Status DocumentLog::append(const LogEntry& entry) {
  VECPERF_RETURN_IF_ERROR(writer_->append(encode_entry(entry)));
  return writer_->sync();
}

Result<uint64_t> DocumentLog::rotate() {
  const uint64_t next = current_ + 1;
  auto writer = RecordWriter::create(segment_path(next), kMagic);
  if (!writer.ok()) return writer.status();
  VECPERF_RETURN_IF_ERROR(sync_directory(dir_));
  older_.emplace_back(current_, writer_->size());
  older_bytes_ += writer_->size();
  writer_ = std::move(*writer);
  current_ = next;
  return next;
}

Status DocumentLog::remove_segments_before(uint64_t segment) {
  std::error_code ec;
  while (!older_.empty() && older_.front().first < segment) {
    const std::string path = segment_path(older_.front().first);
    if (!fs::remove(path, ec) && ec) return fs_error("cannot delete log segment", path, ec);
    older_bytes_ -= older_.front().second;
    older_.erase(older_.begin());
  }
  return sync_directory(dir_);
}

}  // namespace rag
