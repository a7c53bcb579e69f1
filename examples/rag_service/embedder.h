// The embedding model seen by the service: an interface, plus a deterministic feature-hashing
// embedder that needs no model download. See README.md for plugging in a real model.
#pragma once

#include <vecperf/status.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rag {

/// Turns texts into fixed-size vectors.
///
/// Thread-safety: `embed` is called from several request threads at once (on different texts),
/// so implementations must be thread-safe. The other methods return constants.
class Embedder {
 public:
  virtual ~Embedder() = default;

  /// Model identifier and version: part of every embedding-cache key, so changing either one
  /// makes the cache miss instead of returning vectors of another model.
  virtual std::string model() const = 0;
  virtual std::string version() const = 0;
  /// Length of every vector.
  virtual int64_t dim() const = 0;

  /// Sets `*out` to texts.size() * dim() floats, row i for texts[i] (the vecperf::EmbedFn
  /// contract). A text with nothing to embed may give a zero row; the service rejects those.
  /// Errors: whatever the model reports (kUnavailable for a model server that is down, ...).
  virtual vecperf::Status embed(std::span<const std::string_view> texts,
                                std::vector<float>* out) const = 0;
};

/// Feature hashing ("the hashing trick"): a text becomes its lower-cased word unigrams and
/// bigrams; each feature is hashed to a coordinate in [0, dim) and a sign, the signed counts are
/// summed, and the vector is L2-normalised. Texts sharing words get a high cosine similarity, and
/// the result depends only on (text, dim): no training, no files, identical on every machine.
/// A word is a run of ASCII letters or digits or of non-ASCII bytes (so UTF-8 words stay whole).
/// A text without words embeds to the zero vector.
class HashingEmbedder final : public Embedder {
 public:
  /// Requires: dim >= 1.
  explicit HashingEmbedder(int64_t dim) : dim_(dim) {}

  std::string model() const override { return "feature-hashing"; }
  std::string version() const override { return "words-1-2:v1"; }
  int64_t dim() const override { return dim_; }
  vecperf::Status embed(std::span<const std::string_view> texts,
                        std::vector<float>* out) const override;

  /// Embeds one text into `out` (dim() floats). Exposed for tests and benchmarks.
  void embed_one(std::string_view text, float* out) const;

 private:
  int64_t dim_;
};

}  // namespace rag
