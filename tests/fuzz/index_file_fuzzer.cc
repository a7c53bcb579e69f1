// Fuzzes whole index files as vecperf::load reads them (frame header, checksums, then the
// payload), from memory so that no input touches the disk.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_index.h"
#include "index/index_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vecperf;
  auto file = internal::decode_framed(reinterpret_cast<const char*>(data), size,
                                      internal::kIndexFrame, "fuzz input");
  if (!file.ok()) {
    if (file.status().code() != StatusCode::kCorruption &&
        file.status().code() != StatusCode::kNotSupported)
      fuzz::fail("a damaged file gave an unexpected code:", file.status());
    return 0;
  }
  auto index = internal::index_from_frame(*file, "fuzz input");
  if (!index.ok()) {
    if (index.status().code() != StatusCode::kCorruption &&
        index.status().code() != StatusCode::kResourceExhausted)
      fuzz::fail("a damaged payload gave an unexpected code:", index.status());
    return 0;
  }
  fuzz::exercise(**index);
  return 0;
}
