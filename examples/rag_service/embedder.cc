// Feature-hashing embedder. Bigrams carry word order ("new york" vs "york new") at half the
// weight of a word, so a query that matches a document's words but not their order still ranks
// it high. The hash is 64-bit FNV-1a followed by a finaliser: FNV alone has weak low bits, and the
// coordinate is taken from the low bits while the sign comes from the top bit.
#include "embedder.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace rag {
namespace {

constexpr float kUnigramWeight = 1.0f;
constexpr float kBigramWeight = 0.5f;

uint64_t hash_feature(std::string_view first, std::string_view second) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a offset basis
  auto mix_in = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  };
  mix_in(first);
  if (!second.empty()) {
    mix_in(std::string_view("\x1f", 1));  // separator: ("ab","c") and ("a","bc") differ
    mix_in(second);
  }
  // splitmix64 finaliser
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

}  // namespace

void HashingEmbedder::embed_one(std::string_view text, float* out) const {
  std::fill(out, out + dim_, 0.0f);
  auto add = [&](std::string_view a, std::string_view b, float weight) {
    const uint64_t h = hash_feature(a, b);
    out[h % static_cast<uint64_t>(dim_)] += (h >> 63) ? -weight : weight;
  };

  std::string previous;
  std::string word;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    word.clear();
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) {
      const char c = text[i++];
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    if (word.empty()) break;
    add(word, {}, kUnigramWeight);
    if (!previous.empty()) add(previous, word, kBigramWeight);
    previous.swap(word);
  }

  double norm = 0;
  for (int64_t d = 0; d < dim_; ++d) norm += double(out[d]) * out[d];
  if (norm == 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (int64_t d = 0; d < dim_; ++d) out[d] *= scale;
}

vecperf::Status HashingEmbedder::embed(std::span<const std::string_view> texts,
                                       std::vector<float>* out) const {
  out->resize(texts.size() * static_cast<size_t>(dim_));
  for (size_t i = 0; i < texts.size(); ++i) embed_one(texts[i], out->data() + i * dim_);
  return vecperf::Status::OK();
}

}  // namespace rag
