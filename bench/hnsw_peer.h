// hnswlib as a benchmark peer, behind an interface free of hnswlib types.
//
// hnswlib.h defines non-inline functions at global scope and picks its SIMD kernels from the
// compiler flags, so each copy of it lives in its own translation unit (hnsw_peer.cc, compiled
// once with the default flags and once with -march=native) inside its own namespace; this
// header is all the benchmark sees of either.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace vecperf::bench {

/// One hnswlib HierarchicalNSW<float> with the L2 space.
/// Thread-safety: search() may run concurrently; build(), add(), remove(), save() and set_ef()
/// must not run with a search (hnswlib's own contract; the concurrency benchmark wraps the peer
/// in the readers-writer lock its users put around it).
class HnswPeer {
 public:
  virtual ~HnswPeer() = default;
  /// Adds rows 0..n-1 (labels = row numbers) with `threads` threads, the way hnswlib's Python
  /// binding does: the first row alone, then the rest from a shared counter.
  virtual void build(const float* rows, int64_t n, int threads) = 0;
  /// Adds rows with labels first .. first+n-1 to a built index (growing it with resizeIndex),
  /// on `threads` threads from a shared counter.
  virtual void add(const float* rows, int64_t first, int64_t n, int threads) = 0;
  /// markDelete of each label.
  virtual void remove(const int64_t* labels, int64_t n) = 0;
  /// saveIndex to `path`.
  virtual void save(const std::string& path) const = 0;
  /// hnswlib's only ef knob: a member of the index, shared by every search.
  virtual void set_ef(int ef) = 0;
  /// The k nearest labels of one query, nearest first (searchKnn).
  virtual void search(const float* query, int k, int64_t* labels) const = 0;
  /// Which SIMD kernels hnswlib compiled in ("sse", "avx", "avx512").
  virtual const char* simd() const = 0;
};

/// hnswlib compiled with the library's generic flags (Debian's package as shipped).
std::unique_ptr<HnswPeer> make_hnswlib_generic(int64_t dim, int m, int ef_construction,
                                               uint64_t seed);
/// hnswlib compiled with -march=native.
std::unique_ptr<HnswPeer> make_hnswlib_native(int64_t dim, int m, int ef_construction,
                                              uint64_t seed);

}  // namespace vecperf::bench
