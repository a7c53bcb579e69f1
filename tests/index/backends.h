// Per-backend settings for the typed suites: small parameters so every backend is exercised
// (IVF trains, AutoIndex migrates) on test-sized data, and search knobs that make the
// approximate backends exhaustive where a test needs exact answers.
#pragma once

#include <gtest/gtest.h>

#include "vecperf/options.h"

namespace vecperf::testing {

struct FlatBackend {
  static constexpr const char* kName = "flat";
  static IndexOptions options(int64_t dim, Metric metric) {
    IndexOptions o;
    o.kind = IndexKind::kFlat;
    o.dim = dim;
    o.metric = metric;
    return o;
  }
};

struct IvfBackend {
  static constexpr const char* kName = "ivf";
  static IndexOptions options(int64_t dim, Metric metric) {
    IndexOptions o;
    o.kind = IndexKind::kIvf;
    o.dim = dim;
    o.metric = metric;
    o.ivf.nlist = 4;
    o.ivf.nprobe = 4;  // all lists: exhaustive
    o.ivf.train_threshold = 64;
    return o;
  }
};

struct HnswBackend {
  static constexpr const char* kName = "hnsw";
  static IndexOptions options(int64_t dim, Metric metric) {
    IndexOptions o;
    o.kind = IndexKind::kHnsw;
    o.dim = dim;
    o.metric = metric;
    o.hnsw.M = 16;
    o.hnsw.ef_construction = 64;
    o.hnsw.ef_search = 256;
    return o;
  }
};

struct AutoBackend {
  static constexpr const char* kName = "auto";
  static IndexOptions options(int64_t dim, Metric metric) {
    IndexOptions o;
    o.kind = IndexKind::kAuto;
    o.dim = dim;
    o.metric = metric;
    o.auto_index.flat_max = 150;  // migrates to IVF, then HNSW, within the suites' data sizes
    o.auto_index.ivf_max = 300;
    o.auto_index.ivf.nlist = 4;
    o.auto_index.ivf.nprobe = 4;
    o.auto_index.hnsw.M = 16;
    o.auto_index.hnsw.ef_construction = 64;
    o.auto_index.hnsw.ef_search = 256;
    return o;
  }
};

using AllBackends = ::testing::Types<FlatBackend, IvfBackend, HnswBackend, AutoBackend>;

struct BackendNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

/// Search knobs that make every backend exhaustive on test-sized data.
inline SearchOptions exhaustive(int k) {
  SearchOptions s;
  s.k = k;
  s.nprobe = 1 << 20;
  s.ef_search = 512;
  return s;
}

}  // namespace vecperf::testing
