// Disk record of the embedding cache: a fixed 48-byte header followed by the vector bytes.
//
//   off  size  field
//     0     8  checksum: XXH3-64 of the vector bytes seeded with XXH3-64 of header bytes [8, 48),
//              so header and vector are covered together and the header can be built apart
//              from the vector (the disk tier hands RocksDB the two pieces without joining them)
//     8     1  format version (kRecordVersion)
//     9     1  dtype (CacheDtype)
//    10     2  reserved, 0
//    12     4  dim
//    16     8  model hash (KeyHasher::model_hash)
//    24     8  created-at, seconds since the Unix epoch
//    32     8  expires-at, seconds (0 = never)
//    40     8  write sequence number (orders capacity eviction)
//    48     -  dim values, float32 or float16, little-endian
//
// decode_record rejects anything whose length, version, dtype or checksum is off; the cache then
// also compares model hash and dim with its own, so a foreign or damaged record is a miss.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vecperf::internal {

inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordHeaderBytes = 48;

struct RecordHeader {
  uint8_t dtype = 0;
  uint32_t dim = 0;
  uint64_t model_hash = 0;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  uint64_t seq = 0;
};

/// Bytes per stored value for a dtype (4 or 2), or 0 for an unknown dtype.
size_t dtype_bytes(uint8_t dtype);

/// Writes the kRecordHeaderBytes header (checksum included) of a record holding `vector`.
/// Requires: vector_bytes == header.dim * dtype_bytes(header.dtype).
void encode_record_header(const RecordHeader& header, const void* vector, size_t vector_bytes,
                          char* out);

/// Replaces *out with the whole encoded record (header + vector).
void encode_record(const RecordHeader& header, const void* vector, size_t vector_bytes,
                   std::string* out);

/// Reads only the expires-at field (no checksum): what the TTL compaction filter needs, cheaply.
/// Returns false if `value` is too short or of an unknown version.
bool peek_expiry(std::string_view value, int64_t* expires_at);

/// Parses and verifies a record. On success fills *header and points *vector into `value`.
bool decode_record(std::string_view value, RecordHeader* header, std::string_view* vector);

}  // namespace vecperf::internal
