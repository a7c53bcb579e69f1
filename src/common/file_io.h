// Framed files: every file vecperf writes is a fixed header followed by a payload.
//
//   offset  size  field
//   0       8     magic (identifies the file type)
//   8       4     format version (u32, little endian)
//   12      4     kind (u32; for index files the IndexKind)
//   16      8     payload size in bytes (u64)
//   24      8     XXH64 of the payload (seed 0)
//   32      8     XXH64 of bytes 0..31 (guards the header itself)
//   40      ...   payload
//
// Writing is atomic: the bytes go to "<path>.tmp-<pid>-<n>", which is fsynced, renamed over
// `path`, and the directory is fsynced. Reading checks magic, header checksum, version, the exact
// file size and the payload checksum before any payload byte is interpreted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/serialize.h"
#include "vecperf/status.h"

namespace vecperf::internal {

inline constexpr size_t kFileHeaderSize = 40;

struct FrameSpec {
  const char* magic;     ///< exactly 8 bytes
  uint32_t version;      ///< version written; also the newest version the reader accepts
  const char* what;      ///< file type in messages, e.g. "vecperf index"
};

/// Writes `path` atomically; `write_payload` streams the payload into the given Writer.
Status write_framed_file(const std::string& path, const FrameSpec& spec, uint32_t kind,
                         const std::function<void(Writer&)>& write_payload);

struct FramedFile {
  uint32_t version = 0;
  uint32_t kind = 0;
  std::vector<char> payload;
};

/// Reads and verifies a framed file. Errors: kNotFound, kIOError, kCorruption (bad magic,
/// truncation, checksum mismatch), kNotSupported (version newer than spec.version).
Result<FramedFile> read_framed_file(const std::string& path, const FrameSpec& spec);

}  // namespace vecperf::internal
