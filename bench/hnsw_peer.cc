// One copy of hnswlib behind HnswPeer (see hnsw_peer.h). Compiled twice by bench/CMakeLists.txt:
// VECPERF_PEER_NS names the namespace the copy lives in and VECPERF_PEER_FACTORY its factory.
//
// Every system header hnswlib includes is included first, at global scope, so that the
// #include inside the namespace below only adds hnswlib's own declarations to it: its global
// functions (cpuid, AVXCapable, ...) and templates then belong to this copy alone, and two copies
// compiled with different flags link into one program without clashing.
#include "hnsw_peer.h"

#include <assert.h>
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#if !defined(VECPERF_PEER_NS) || !defined(VECPERF_PEER_FACTORY)
#error "hnsw_peer.cc is compiled with -DVECPERF_PEER_NS=... -DVECPERF_PEER_FACTORY=..."
#endif

namespace VECPERF_PEER_NS {
#include <hnswlib/hnswlib.h>
}  // namespace VECPERF_PEER_NS

namespace vecperf::bench {
namespace {

namespace hl = VECPERF_PEER_NS::hnswlib;

class Peer final : public HnswPeer {
 public:
  Peer(int64_t dim, int m, int ef_construction, uint64_t seed)
      : space_(static_cast<size_t>(dim)),
        m_(static_cast<size_t>(m)),
        ef_construction_(static_cast<size_t>(ef_construction)),
        seed_(static_cast<size_t>(seed)) {}

  void build(const float* rows, int64_t n, int threads) override {
    const size_t dim = space_.get_data_size() / sizeof(float);
    index_ = std::make_unique<hl::HierarchicalNSW<float>>(&space_, static_cast<size_t>(n), m_,
                                                          ef_construction_, seed_);
    capacity_ = count_ = static_cast<size_t>(n);
    if (n == 0) return;
    index_->addPoint(rows, 0);
    std::atomic<int64_t> next{1};
    auto work = [&] {
      for (int64_t i = next++; i < n; i = next++)
        index_->addPoint(rows + static_cast<size_t>(i) * dim, static_cast<size_t>(i));
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }

  void add(const float* rows, int64_t first, int64_t n, int threads) override {
    const size_t dim = space_.get_data_size() / sizeof(float);
    // Tracked here: hnswlib 0.6.2 has no accessors for its element counts.
    const size_t need = count_ + static_cast<size_t>(n);
    if (need > capacity_) {
      capacity_ = std::max(need, 2 * capacity_);
      index_->resizeIndex(capacity_);
    }
    count_ = need;
    std::atomic<int64_t> next{0};
    auto work = [&] {
      for (int64_t i = next++; i < n; i = next++)
        index_->addPoint(rows + static_cast<size_t>(i) * dim, static_cast<size_t>(first + i));
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }

  void remove(const int64_t* labels, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) index_->markDelete(static_cast<size_t>(labels[i]));
  }

  void save(const std::string& path) const override { index_->saveIndex(path); }

  void set_ef(int ef) override { index_->setEf(static_cast<size_t>(ef)); }

  void search(const float* query, int k, int64_t* labels) const override {
    auto top = index_->searchKnn(query, static_cast<size_t>(k));
    for (int i = static_cast<int>(top.size()) - 1; i >= 0; --i) {
      labels[i] = static_cast<int64_t>(top.top().second);
      top.pop();
    }
  }

  const char* simd() const override {
#if defined(USE_AVX512)
    return "avx512";
#elif defined(USE_AVX)
    return "avx";
#elif defined(USE_SSE)
    return "sse";
#else
    return "none";
#endif
  }

 private:
  hl::L2Space space_;
  size_t m_, ef_construction_, seed_;
  size_t capacity_ = 0, count_ = 0;
  std::unique_ptr<hl::HierarchicalNSW<float>> index_;
};

}  // namespace

std::unique_ptr<HnswPeer> VECPERF_PEER_FACTORY(int64_t dim, int m, int ef_construction,
                                               uint64_t seed) {
  return std::make_unique<Peer>(dim, m, ef_construction, seed);
}

}  // namespace vecperf::bench
