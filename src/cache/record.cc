// Record encoding; the layout is documented in record.h. Fields are written byte by byte in
// little-endian order so that files move between machines unchanged.
#include "cache/record.h"

#include <xxhash.h>

#include <cstring>

#include "vecperf/cache.h"

namespace vecperf::internal {
namespace {

void put_le(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint64_t record_checksum(const char* header, const void* vector, size_t vector_bytes) {
  const uint64_t seed = XXH3_64bits(header + 8, kRecordHeaderBytes - 8);
  return XXH3_64bits_withSeed(vector, vector_bytes, seed);
}

}  // namespace

size_t dtype_bytes(uint8_t dtype) {
  switch (static_cast<CacheDtype>(dtype)) {
    case CacheDtype::kFloat32: return 4;
    case CacheDtype::kFloat16: return 2;
  }
  return 0;
}

void encode_record_header(const RecordHeader& h, const void* vector, size_t vector_bytes, char* p) {
  p[8] = static_cast<char>(kRecordVersion);
  p[9] = static_cast<char>(h.dtype);
  put_le(p + 10, 0, 2);
  put_le(p + 12, h.dim, 4);
  put_le(p + 16, h.model_hash, 8);
  put_le(p + 24, static_cast<uint64_t>(h.created_at), 8);
  put_le(p + 32, static_cast<uint64_t>(h.expires_at), 8);
  put_le(p + 40, h.seq, 8);
  put_le(p, record_checksum(p, vector, vector_bytes), 8);
}

void encode_record(const RecordHeader& h, const void* vector, size_t vector_bytes,
                   std::string* out) {
  out->resize(kRecordHeaderBytes + vector_bytes);
  encode_record_header(h, vector, vector_bytes, out->data());
  if (vector_bytes > 0) std::memcpy(out->data() + kRecordHeaderBytes, vector, vector_bytes);
}

bool peek_expiry(std::string_view value, int64_t* expires_at) {
  if (value.size() < kRecordHeaderBytes || static_cast<uint8_t>(value[8]) != kRecordVersion) {
    return false;
  }
  *expires_at = static_cast<int64_t>(get_le(value.data() + 32, 8));
  return true;
}

bool decode_record(std::string_view value, RecordHeader* h, std::string_view* vector) {
  if (value.size() < kRecordHeaderBytes) return false;
  const char* p = value.data();
  if (static_cast<uint8_t>(p[8]) != kRecordVersion) return false;
  h->dtype = static_cast<uint8_t>(p[9]);
  const size_t elem = dtype_bytes(h->dtype);
  if (elem == 0 || get_le(p + 10, 2) != 0) return false;
  h->dim = static_cast<uint32_t>(get_le(p + 12, 4));
  if (value.size() != kRecordHeaderBytes + static_cast<size_t>(h->dim) * elem) return false;
  if (get_le(p, 8) !=
      record_checksum(p, p + kRecordHeaderBytes, value.size() - kRecordHeaderBytes)) {
    return false;
  }
  h->model_hash = get_le(p + 16, 8);
  h->created_at = static_cast<int64_t>(get_le(p + 24, 8));
  h->expires_at = static_cast<int64_t>(get_le(p + 32, 8));
  h->seq = get_le(p + 40, 8);
  *vector = value.substr(kRecordHeaderBytes);
  return true;
}

}  // namespace vecperf::internal
