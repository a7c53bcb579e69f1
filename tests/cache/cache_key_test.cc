// Key derivation: the canonical length-prefixed encoding, injectivity across field boundaries,
// and the one-shot and streaming paths agreeing.
#include "cache/cache_key.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <set>
#include <string>

#include "vecperf/cache.h"

namespace vecperf {
namespace {

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// The documented encoding, written out independently of the implementation.
CacheKey reference_key(std::string_view model, std::string_view version, uint64_t dim,
                       std::string_view text) {
  std::string e(1, '\x01');
  e += u64le(model.size()) + std::string(model);
  e += u64le(version.size()) + std::string(version);
  e += u64le(dim);
  e += u64le(text.size()) + std::string(text);
  XXH128_hash_t h = XXH3_128bits(e.data(), e.size());
  return CacheKey{h.low64, h.high64};
}

TEST(CacheKeyTest, MatchesCanonicalEncoding) {
  EXPECT_EQ(cache_key("m", "v1", 768, "hello"), reference_key("m", "v1", 768, "hello"));
  EXPECT_EQ(cache_key("m", "hello"), reference_key("m", "", 0, "hello"));
  EXPECT_EQ(cache_key("m", ""), reference_key("m", "", 0, ""));
}

TEST(CacheKeyTest, LongTextsUseTheSameEncoding) {
  for (size_t n : {4095u, 4096u, 4097u, 100000u}) {
    std::string text(n, 'x');
    text[n / 2] = 'y';
    EXPECT_EQ(cache_key("model", "ns", 384, text), reference_key("model", "ns", 384, text)) << n;
  }
}

TEST(CacheKeyTest, FieldBoundariesAreUnambiguous) {
  std::set<std::pair<uint64_t, uint64_t>> keys;
  auto add = [&](CacheKey k) { return keys.insert({k.lo, k.hi}).second; };
  EXPECT_TRUE(add(cache_key("ab", "c", 8, "t")));
  EXPECT_TRUE(add(cache_key("a", "bc", 8, "t")));
  EXPECT_TRUE(add(cache_key("a", "b", 8, "ct")));
  EXPECT_TRUE(add(cache_key("abc", "", 8, "t")));
  EXPECT_TRUE(add(cache_key("ab", "c", 9, "t")));
  EXPECT_TRUE(add(cache_key("ab", "c", 8, "")));
  EXPECT_TRUE(add(cache_key("ab", "c", 8, std::string(1, '\0'))));
  EXPECT_TRUE(add(cache_key("ab", "c", 8, "T")));
}

TEST(CacheKeyTest, HexAndId) {
  const CacheKey k = cache_key("m", "text");
  const std::string hex = k.to_hex();
  EXPECT_EQ(hex.size(), 32u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_GE(k.to_id(), 0);
  EXPECT_EQ(cache_key("m", "text").to_id(), k.to_id());
  EXPECT_NE(cache_key("m", "text2").to_id(), k.to_id());
}

}  // namespace
}  // namespace vecperf
