// Typed construction options for every backend, and make_index().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// ---- Options as text: index specs, and options by name --------------------------------------
// One table per options struct in the library names every option once; specs, describe(), the
// Python keywords and the benchmark flags all go through it (docs/design/options.md).

/// How an option's value is written as text.
enum class OptionType : int {
  kInt = 0,    ///< decimal integer
  kFloat = 1,  ///< decimal number, e.g. 0.95
  kBool = 2,   ///< true, false, 1 or 0
  kName = 3,   ///< one of a fixed set of names, e.g. an IvfEncoding: flat, sq8, sq4, pq
};

/// One construction option of a backend.
struct OptionInfo {
  /// As in a spec: "M", "nlist". An auto index's stage options are "ivf.<name>" and
  /// "hnsw.<name>".
  std::string name;
  OptionType type = OptionType::kInt;
  /// Its default, written as index_spec() writes values.
  std::string default_value;
  /// What IndexOptions::validate() accepts, in words: ">= 1", "in [2, 256]", "sq8, sq4 or pq".
  std::string allowed;
};

/// The options of `kind`, in the order of its options struct (none for kFlat). Thread-safe.
VECPERF_EXPORT std::vector<OptionInfo> index_option_fields(IndexKind kind);

/// The type of option `name` of `kind`, resolved as set_index_option() resolves names.
/// Errors: kInvalidArgument for a name `kind` does not have (the message lists those it has).
VECPERF_EXPORT Result<OptionType> index_option_type(IndexKind kind, std::string_view name);

/// Sets option `name` of `options.kind` from its text ("32", "0.95", "sq8", "true"). For an auto
/// index a name without a stage prefix sets that option of every stage that has it ("nlist" the
/// IVF stage's, "seed" both), "ivf.nlist" only the IVF stage's. "dim" and "metric" set those
/// fields of `options` for every kind. On error `options` is unchanged.
/// Errors: kInvalidArgument for an unknown name (listing the known ones), text that is not a
/// value of the option's type, or a value outside what validate() accepts for that field.
VECPERF_EXPORT Status set_index_option(IndexOptions& options, std::string_view name,
                                       std::string_view value);

/// Every option of `options.kind` as (name, value text), in index_option_fields() order.
VECPERF_EXPORT std::vector<std::pair<std::string, std::string>> index_option_values(
    const IndexOptions& options);

/// Reads an index spec: a kind, then comma-separated name=value options (set_index_option
/// names), e.g. "hnsw,M=32,ef_search=64", "ivf,nlist=1024,encoding=sq8,rerank=100",
/// "auto,flat_max=50000,hnsw.M=32", or "flat,dim=768,metric=cosine". A ':' after the kind is
/// accepted in place of the first ','. Options not named keep their defaults; dim stays 0
/// unless given. Fields are range-checked; the whole is checked by validate() (make_index).
/// Errors: kInvalidArgument naming the kind or the item that is wrong and what is accepted.
VECPERF_EXPORT Result<IndexOptions> parse_index_spec(std::string_view spec);

/// The spec of `options`: its kind, dim (when set), metric (when not l2) and every option that
/// differs from its default, so that parse_index_spec(index_spec(o)) gives `o` back (callbacks
/// aside). E.g. "ivf,dim=128,nlist=1024,nprobe=24".
VECPERF_EXPORT std::string index_spec(const IndexOptions& options);

/// Creates an empty index. Errors: kInvalidArgument from IndexOptions::validate(); kGpuFlat:
/// kUnavailable when no CUDA device is usable (a CPU Flat index instead with prefer_gpu),
/// kResourceExhausted when the device cannot hold the index's buffers.
VECPERF_EXPORT Result<std::unique_ptr<Index>> make_index(const IndexOptions& options);

}  // namespace vecperf
