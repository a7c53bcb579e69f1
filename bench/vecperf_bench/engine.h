// What the sweep needs of an index, whoever implements it: vecperf, FAISS or hnswlib.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf::bench {

/// A built index under test. Not thread-safe: the runner calls it from one thread (a batch
/// search may use several threads internally).
class Engine {
 public:
  virtual ~Engine() = default;
  /// "vecperf", "faiss" or "hnswlib".
  virtual std::string engine() const = 0;
  /// "flat", "ivf" or "hnsw".
  virtual std::string index() const = 0;
  /// "nprobe", "ef_search", or "" when searches are exact.
  virtual std::string knob() const = 0;
  /// Largest meaningful value of knob() (nlist for nprobe), for the automatic sweep.
  virtual int max_knob() const = 0;
  /// One line with the engine's parameters.
  virtual std::string describe() const = 0;
  virtual size_t memory_bytes() const = 0;
  /// True when memory_bytes() comes from a formula rather than from the index itself.
  virtual bool memory_estimated() const { return false; }
  /// Searches every row of `queries` for its `k` nearest ids (row-major into `ids`, rows * k),
  /// with knob() set to `value` (ignored when knob() is empty), on `threads` threads (0 = all).
  virtual Status search(MatrixView queries, int k, int value, int threads, int64_t* ids) = 0;
};

}  // namespace vecperf::bench
