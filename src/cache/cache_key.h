// Key derivation shared by the cache and its tests: the canonical encoding of
// (model, model_version, dim, text) hashed with XXH3-128.
//
// Encoding, every integer little-endian:
//   u8 encoding_version (1) | u64 len(model) | model | u64 len(version) | version | u64 dim |
//   u64 len(text) | text
// Length prefixes make the encoding injective: ("ab","c") and ("a","bc") differ. Everything but
// the text is fixed per cache, so a KeyHasher builds that prefix once and each key costs one
// XXH3-128 over prefix + text (one-shot below 4 KiB of text, streaming above, same result).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vecperf/cache.h"

namespace vecperf::internal {

class KeyHasher {
 public:
  KeyHasher(std::string_view model, std::string_view model_version, int64_t dim);

  /// Thread-safe (uses a thread-local scratch buffer).
  CacheKey operator()(std::string_view text) const;

  /// XXH3-64 of (model, model_version): stored in every disk record and checked on read.
  uint64_t model_hash() const { return model_hash_; }

 private:
  std::string prefix_;
  uint64_t model_hash_ = 0;
};

}  // namespace vecperf::internal
