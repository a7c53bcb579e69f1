// Canonical key encoding and XXH3-128; see cache_key.h for the byte layout.
#include "cache/cache_key.h"

#include <cstdio>
#include <cstring>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace vecperf {
namespace internal {
namespace {

constexpr uint8_t kEncodingVersion = 1;
constexpr size_t kOneShotLimit = 4096;

void append_u64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 8);
}

void append_field(std::string* out, std::string_view field) {
  append_u64(out, field.size());
  out->append(field);
}

CacheKey to_key(XXH128_hash_t h) { return CacheKey{h.low64, h.high64}; }

}  // namespace

KeyHasher::KeyHasher(std::string_view model, std::string_view model_version, int64_t dim) {
  prefix_.push_back(static_cast<char>(kEncodingVersion));
  append_field(&prefix_, model);
  append_field(&prefix_, model_version);
  append_u64(&prefix_, static_cast<uint64_t>(dim));
  // The model hash covers only the model fields (not dim), hence its own encoding.
  std::string model_fields;
  append_field(&model_fields, model);
  append_field(&model_fields, model_version);
  model_hash_ = XXH3_64bits(model_fields.data(), model_fields.size());
}

CacheKey KeyHasher::operator()(std::string_view text) const {
  if (text.size() <= kOneShotLimit) {
    thread_local std::string scratch;
    scratch.assign(prefix_);
    append_u64(&scratch, text.size());
    scratch.append(text);
    return to_key(XXH3_128bits(scratch.data(), scratch.size()));
  }
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_128bits_reset(&state);
  XXH3_128bits_update(&state, prefix_.data(), prefix_.size());
  std::string len;
  append_u64(&len, text.size());
  XXH3_128bits_update(&state, len.data(), len.size());
  XXH3_128bits_update(&state, text.data(), text.size());
  return to_key(XXH3_128bits_digest(&state));
}

}  // namespace internal

std::string CacheKey::to_hex() const {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return std::string(buf, 32);
}

CacheKey cache_key(std::string_view model, std::string_view text) {
  return cache_key(model, "", 0, text);
}

CacheKey cache_key(std::string_view model, std::string_view model_version, int64_t dim,
                   std::string_view text) {
  return internal::KeyHasher(model, model_version, dim)(text);
}

}  // namespace vecperf
