// Typed construction options for every backend, and make_index().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "vecperf/export.h"
#include "vecperf/index.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf {

/// Exact search: every query is compared with every vector.
struct FlatOptions {};

/// How an IVF index stores the vectors in its inverted lists.
enum class IvfEncoding : int {
  kFlat = 0,  ///< float32, exact distances within the probed lists.
  kSQ8 = 1,   ///< 8-bit scalar quantisation: 4x smaller than float32.
  kSQ4 = 2,   ///< 4-bit scalar quantisation: 8x smaller.
  kPQ = 3,    ///< product quantisation with `pq_m` sub-quantisers of 8 bits.
};

VECPERF_EXPORT const char* ivf_encoding_name(IvfEncoding encoding);  ///< "flat", "sq8", "sq4", "pq"
/// The encoding named by ivf_encoding_name(). Errors: kInvalidArgument listing the names.
VECPERF_EXPORT Result<IvfEncoding> parse_ivf_encoding(const std::string& name);

/// Inverted-file index: k-means partitions the vectors into `nlist` lists; a query scans the
/// `nprobe` lists whose centroids are nearest.
struct IvfOptions {
  /// Number of lists; 0 derives it from the number of vectors at training time (about 4 * sqrt(N)).
  /// Default: 0.
  int nlist = 0;
  /// Lists probed per query when SearchOptions::nprobe is 0. Default: 16.
  int nprobe = 16;
  /// Storage of the vectors in the lists. Default: kFlat.
  IvfEncoding encoding = IvfEncoding::kFlat;
  /// kPQ only: number of sub-quantisers; must divide dim. 0 picks dim/4 rounded to a divisor.
  /// Default: 0.
  int pq_m = 0;
  /// Compressed encodings: keep the float32 vectors too and re-rank this many candidates per
  /// query with exact distances (two-stage retrieval). 0 disables re-ranking. Default: 0.
  int rerank = 0;
  /// Vectors are buffered (and searched exactly) until this many are present, then the index
  /// trains on them. 0 means max(1000, 39 * nlist). Default: 0.
  int64_t train_threshold = 0;
  /// At most this many vectors (a seeded random sample) are used for k-means. Default: 100000.
  int64_t max_train_samples = 100000;
  /// Seed of the training sample and of k-means. Default: 1234.
  uint64_t seed = 1234;
};

/// Hierarchical navigable small-world graph (hnswlib underneath).
struct HnswOptions {
  /// Links per node on the upper layers (2*M on layer 0). Default: 16.
  int M = 16;
  /// Candidate list size while inserting. Default: 200.
  int ef_construction = 200;
  /// Candidate list size while searching when SearchOptions::ef_search is 0. Default: 128.
  int ef_search = 128;
  /// Seed of the level generator. Default: 100.
  uint64_t seed = 100;
};

/// Storage type of the vectors resident on the device.
enum class GpuDtype : int {
  kFloat32 = 0,  ///< Exact float32 products (TF32 only when GpuFlatOptions::allow_tf32).
  kFloat16 = 1,  ///< Half the device memory and tensor-core products; ~3 significant digits per
                 ///< value, so near-ties may swap order (recall@10 typically >= 0.99).
};

VECPERF_EXPORT const char* gpu_dtype_name(GpuDtype dtype);  ///< "float32", "float16"
/// The dtype named by gpu_dtype_name(). Errors: kInvalidArgument listing the names.
VECPERF_EXPORT Result<GpuDtype> parse_gpu_dtype(const std::string& name);

/// Exact search on a CUDA device: the vectors stay resident on the device, queries are searched
/// in batches by a matrix product plus a k-selection pass (k <= 1024). A host copy of the
/// vectors (N x dim float32) is kept as well, for save(), get_vector() and re-uploads.
struct GpuFlatOptions {
  /// Device storage of the vectors. Default: kFloat32.
  GpuDtype dtype = GpuDtype::kFloat32;
  /// CUDA device ordinal. Default: 0.
  int device = 0;
  /// Share of the device's free memory (at construction and at each search) the index may use
  /// for its working buffers, in (0, 1]. Default: 0.8.
  double memory_fraction = 0.8;
  /// When no device is usable, make_index() (and load()) return a CPU Flat index instead of
  /// kUnavailable, and a search the device cannot fit runs on the CPU instead of failing with
  /// kResourceExhausted. Default: false.
  bool prefer_gpu = false;
  /// float32 only: let the product use TF32 tensor cores (10-bit mantissa: distances off by
  /// ~1e-3 relative, faster). Default: false.
  bool allow_tf32 = false;
};

/// Progress of a long operation (building or migrating an index): `done` out of `total` units.
using ProgressCallback = std::function<void(int64_t done, int64_t total)>;

/// An index that starts as Flat and migrates itself to IVF, then HNSW, as it grows.
struct AutoOptions {
  /// Migrate from Flat to IVF when size() exceeds this. Default: 100000.
  int64_t flat_max = 100000;
  /// Migrate from IVF to HNSW when size() exceeds this. Default: 1000000.
  int64_t ivf_max = 1000000;
  /// Recall the migrated-to index is tuned for. Default: 0.95.
  double target_recall = 0.95;
  /// Options of the IVF and HNSW stages (nlist 0 = derived from the size at migration).
  IvfOptions ivf;
  HnswOptions hnsw;
  /// Called during a migration; may be empty. Called on the thread that triggered it.
  ProgressCallback on_progress;
};

/// Everything needed to construct an index.
struct IndexOptions {
  IndexKind kind = IndexKind::kFlat;
  int64_t dim = 0;
  Metric metric = Metric::kL2;
  FlatOptions flat;
  IvfOptions ivf;
  HnswOptions hnsw;
  AutoOptions auto_index;
  GpuFlatOptions gpu_flat;

  /// kInvalidArgument naming the first bad field, or OK.
  VECPERF_EXPORT Status validate() const;
};

/// Creates an empty index. Errors: kInvalidArgument from IndexOptions::validate(); kGpuFlat:
/// kUnavailable when no CUDA device is usable (a CPU Flat index instead with prefer_gpu),
/// kResourceExhausted when the device cannot hold the index's buffers.
VECPERF_EXPORT Result<std::unique_ptr<Index>> make_index(const IndexOptions& options);

}  // namespace vecperf
