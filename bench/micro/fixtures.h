// Seeded inputs shared by the micro-benchmarks (bench/micro) and the performance-gate workloads
// (bench/perf_gate): texts shaped like the passages an embedding cache is asked about, and a
// cache pre-filled with them. The same arguments always give the same bytes, so a change in a
// figure or an instruction count comes from the code under test, not from its input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vecperf/cache.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf::bench {

/// `n` distinct texts whose lengths are uniform in [min_len, max_len] bytes (min_len >= 12),
/// made of words from a small fixed vocabulary. Text i opens with its number, which keeps the
/// texts distinct; `seed` picks the words and lengths.
inline std::vector<std::string> seeded_texts(int64_t n, size_t min_len, size_t max_len,
                                             uint64_t seed) {
  static constexpr std::string_view kWords[] = {
      "vector",   "search", "index",   "query", "cache", "model", "embedding",
      "nearest",  "the",    "of",      "a",     "and",   "graph", "list",
      "distance", "recall", "latency", "text",  "token", "batch"};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> length(min_len, std::max(min_len, max_len));
  std::uniform_int_distribution<size_t> word(0, std::size(kWords) - 1);
  std::vector<std::string> texts(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::string& t = texts[static_cast<size_t>(i)];
    const size_t len = length(rng);
    t.assign(1, '#').append(std::to_string(i));
    while (t.size() < len) {
      t.push_back(' ');
      t.append(kWords[word(rng)]);
    }
    t.resize(len);
  }
  return texts;
}

/// Views of `texts[begin, begin + count)`, for the span-taking cache calls.
inline std::vector<std::string_view> text_views(const std::vector<std::string>& texts, size_t begin,
                                                size_t count) {
  return std::vector<std::string_view>(texts.begin() + static_cast<std::ptrdiff_t>(begin),
                                       texts.begin() + static_cast<std::ptrdiff_t>(begin + count));
}

/// Opens a cache with `options` and stores row i of `vectors` (texts.size() x options.dim) for
/// texts[i], in put_many batches of 100. Errors: those of EmbeddingCache::open and put_many.
inline Result<std::unique_ptr<EmbeddingCache>> filled_cache(const CacheOptions& options,
                                                            const std::vector<std::string>& texts,
                                                            const std::vector<float>& vectors) {
  auto cache = EmbeddingCache::open(options);
  if (!cache.ok()) return cache.status();
  constexpr size_t kBatch = 100;
  for (size_t b = 0; b < texts.size(); b += kBatch) {
    const size_t count = std::min(kBatch, texts.size() - b);
    const std::vector<std::string_view> batch = text_views(texts, b, count);
    const MatrixView rows{vectors.data() + b * static_cast<size_t>(options.dim),
                          static_cast<int64_t>(count), options.dim};
    Status s = (*cache)->put_many(batch, rows);
    if (!s.ok()) return s;
  }
  return std::move(cache).value();
}

}  // namespace vecperf::bench
