// Fuzzes the embedding cache's disk record decoder (src/cache/record.h): any bytes RocksDB hands
// back must be rejected or decoded, and a decoded record must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cache/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vecperf::internal;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  int64_t expires_at = 0;
  const bool peeked = peek_expiry(value, &expires_at);
  RecordHeader h;
  std::string_view vector;
  if (!decode_record(value, &h, &vector)) return 0;
  std::string again;
  encode_record(h, vector.data(), vector.size(), &again);
  if (again != value || !peeked || expires_at != h.expires_at ||
      vector.size() != size_t{h.dim} * dtype_bytes(h.dtype)) {
    std::fprintf(stderr, "a decoded record does not re-encode to the same bytes\n");
    std::abort();
  }
  return 0;
}
