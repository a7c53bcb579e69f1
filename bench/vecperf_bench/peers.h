// FAISS and hnswlib as peers of the benchmark, behind the Engine interface.
#pragma once

#include <cstdint>
#include <memory>

#include "vecperf/dataset.h"
#include "vecperf/status.h"
#include "vecperf_bench/engine.h"

namespace vecperf::bench {

/// Parameters of a peer index, mirrored from the vecperf index (or the library's defaults).
struct PeerParams {
  std::string index;  ///< "flat", "ivf" or "hnsw"
  Metric metric = Metric::kL2;
  int threads = 0;  ///< build threads; 0 = all
  // IVF: lists, k-means seed, and how many rows k-means sees (FAISS subsamples beyond
  // 256 per list by default; this raises the limit to match vecperf's sample).
  int nlist = 0;
  uint64_t seed = 1234;
  int64_t train_rows = 0;
  // HNSW.
  int M = 16;
  int ef_construction = 200;
  uint64_t hnsw_seed = 100;
};

/// FAISS IndexFlatL2/IP, IndexIVFFlat or IndexHNSWFlat over `base` (ids = row numbers). Cosine
/// runs as inner product on L2-normalised copies of the base and of each query batch.
/// Errors: kInternal with FAISS's message when FAISS throws.
Result<std::unique_ptr<Engine>> build_faiss(const FloatMatrix& base, const PeerParams& params);

/// hnswlib 0.6.2 compiled with -march=native (bench/hnsw_peer.h). It has only the L2 space here,
/// so cosine runs on normalised copies (the same ranking) and inner product is kNotSupported.
Result<std::unique_ptr<Engine>> build_hnswlib(const FloatMatrix& base, const PeerParams& params);

/// FAISS's defaults: IndexIVFFlat probes 1 list; IndexHNSWFlat as index_factory("HNSW") builds
/// it, M=32, efConstruction=40, efSearch=16; hnswlib M=16, ef_construction=200 and ef=10, which
/// searchKnn raises to k.
inline constexpr int kFaissIvfDefaultNprobe = 1;
inline constexpr int kFaissHnswDefaultM = 32;
inline constexpr int kFaissHnswDefaultEfConstruction = 40;
inline constexpr int kFaissHnswDefaultEfSearch = 16;
inline constexpr int kHnswlibDefaultM = 16;
inline constexpr int kHnswlibDefaultEfConstruction = 200;
inline constexpr int kHnswlibDefaultEf = 10;

}  // namespace vecperf::bench
