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
//
// Every system call goes through file_ops() (fs_seam.h), so tests can inject failures. EINTR is
// retried; short reads and writes are continued.
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
  const char* magic;  ///< exactly 8 bytes
  uint32_t version;   ///< version written; also the newest version the reader accepts
  const char* what;   ///< file type in messages, e.g. "vecperf index"
};

/// Writes `path` atomically; `write_payload` streams the payload into the given Writer.
/// Errors: kIOError naming `path` and the OS error (a full disk or quota says so), or the
/// Writer's own error. On any error before the rename, the temporary file is removed and a
/// previous file at `path` is untouched. If only the final directory fsync fails, the new file
/// is already in place (and complete) but may not survive a power loss: that is a kIOError too.
/// Thread-safety: concurrent calls are safe (each uses its own temporary file); two concurrent
/// writes of the same path leave one of the two complete files.
Status write_framed_file(const std::string& path, const FrameSpec& spec, uint32_t kind,
                         const std::function<void(Writer&)>& write_payload);

/// The bytes write_framed_file() would write (header, then payload), built in memory; with
/// decode_framed() this is the in-memory form of a framed file.
/// Errors: the Writer's own error; kResourceExhausted when memory runs out.
/// Thread-safety: as `write_payload`.
Result<std::string> encode_framed(const FrameSpec& spec, uint32_t kind,
                                  const std::function<void(Writer&)>& write_payload);

struct FramedFile {
  uint32_t version = 0;
  uint32_t kind = 0;
  std::vector<char> payload;
};

/// Reads and verifies a framed file. Errors: kNotFound, kIOError (the OS failed a read: never
/// reported as kCorruption), kCorruption (bad magic, truncation, checksum mismatch),
/// kNotSupported (version newer than spec.version), kInvalidArgument (not a regular file).
Result<FramedFile> read_framed_file(const std::string& path, const FrameSpec& spec);

/// Verifies and unpacks a whole framed file held in memory, with the same checks and messages as
/// read_framed_file; `name` stands for the path in messages. Errors: kCorruption, kNotSupported.
Result<FramedFile> decode_framed(const char* data, size_t size, const FrameSpec& spec,
                                 const std::string& name);

}  // namespace vecperf::internal
