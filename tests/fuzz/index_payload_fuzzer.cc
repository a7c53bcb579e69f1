// Fuzzes the index payload parsers of every backend directly, past the file checksums that a
// fuzzer could never satisfy: the first input byte picks the backend kind, the rest is the
// payload. Whatever loads must search, re-serialise and take an add (fuzz_index.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vecperf;
  if (size < 1) return 0;
  // 1..4 are the IndexKind values themselves (as the seeds are written); others wrap around.
  const auto kind = static_cast<IndexKind>(1 + (data[0] + 3) % 4);
  internal::Reader r(reinterpret_cast<const char*>(data + 1), size - 1, "fuzz input");
  auto index = internal::read_index_payload(kind, r);
  if (!index.ok()) {
    if (index.status().code() != StatusCode::kCorruption &&
        index.status().code() != StatusCode::kResourceExhausted)
      fuzz::fail("a damaged payload gave an unexpected code:", index.status());
    return 0;
  }
  if ((*index)->kind() != kind) fuzz::fail("loaded index has another kind");
  fuzz::exercise(**index);
  return 0;
}
