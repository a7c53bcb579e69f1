// Data sets: the standard vector file formats (read and write), seeded synthetic data, exact
// ground truth with an on-disk cache, and recall@k. See docs/datasets.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vecperf/export.h"
#include "vecperf/span.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf {

/// File formats. Integers and floats are little-endian everywhere.
enum class DatasetFormat : int {
  kAuto = 0,   ///< Chosen from the file name's extension (see format_from_path).
  kFvecs = 1,  ///< TEXMEX .fvecs: per record an int32 dim, then dim float32.
  kIvecs = 2,  ///< TEXMEX .ivecs: per record an int32 dim, then dim int32.
  kBvecs = 3,  ///< TEXMEX .bvecs: per record an int32 dim, then dim uint8 (read as float).
  kFbin = 4,   ///< big-ann .fbin: uint32 rows, uint32 dim, then rows x dim float32.
  kIbin = 5,   ///< big-ann .ibin: uint32 rows, uint32 dim, rows x dim int32 [, rows x dim float32].
  kU8bin = 6,  ///< big-ann .u8bin: uint32 rows, uint32 dim, then rows x dim uint8 (read as float).
  kNpy = 7,    ///< NumPy .npy v1-v3: '<f4', '<i4' or '<i8', C order, 1-D (one row) or 2-D.
  kHdf5 = 8,  ///< ann-benchmarks .hdf5/.h5 (train, test, neighbors, distances); see hdf5_supported.
};

VECPERF_EXPORT const char* dataset_format_name(DatasetFormat format);  ///< "fvecs", ..., "auto"
/// Errors: kInvalidArgument for an unknown name.
VECPERF_EXPORT Result<DatasetFormat> parse_dataset_format(const std::string& name);
/// Format implied by the extension: .fvecs .ivecs .bvecs .fbin .ibin .u8bin .npy .hdf5 .h5.
/// Errors: kInvalidArgument for any other name (pass the format explicitly then).
VECPERF_EXPORT Result<DatasetFormat> format_from_path(const std::string& path);
/// True when this build reads HDF5 files (it found the HDF5 C library at configure time).
VECPERF_EXPORT bool hdf5_supported();

/// Row-major `rows x dim` float32 matrix. It owns its values or points into a read-only memory
/// map of the file it came from, which it keeps mapped. Copies share the values.
/// Thread-safety: immutable; any number of threads may read it.
class VECPERF_EXPORT FloatMatrix {
 public:
  FloatMatrix() = default;
  /// Shares `owner`, which keeps `data` (rows * dim values) alive. `mapped` only informs mapped().
  FloatMatrix(std::shared_ptr<const void> owner, const float* data, int64_t rows, int64_t dim,
              bool mapped = false);
  /// Takes `values` (rows * dim of them). Errors: kInvalidArgument when the sizes disagree.
  static Result<FloatMatrix> from_vector(std::vector<float> values, int64_t rows, int64_t dim);

  int64_t rows() const { return rows_; }
  int64_t dim() const { return dim_; }
  const float* data() const { return data_; }
  const float* row(int64_t i) const { return data_ + i * dim_; }
  MatrixView view() const { return MatrixView{data_, rows_, dim_}; }
  /// True when the values are read in place from a memory-mapped file (nothing was copied).
  bool mapped() const { return mapped_; }

 private:
  std::shared_ptr<const void> owner_;
  const float* data_ = nullptr;
  int64_t rows_ = 0;
  int64_t dim_ = 0;
  bool mapped_ = false;
};

/// Element type of an IntMatrix.
enum class IntType : int { kInt32 = 4, kInt64 = 8 };

/// Row-major `rows x cols` matrix of neighbour ids, stored as int32 (as in .ivecs/.ibin files,
/// possibly memory-mapped) or int64 (computed ground truth, .npy '<i8').
/// Thread-safety: immutable; any number of threads may read it.
class VECPERF_EXPORT IntMatrix {
 public:
  IntMatrix() = default;
  IntMatrix(std::shared_ptr<const void> owner, const int32_t* data, int64_t rows, int64_t cols,
            bool mapped = false);
  IntMatrix(std::shared_ptr<const void> owner, const int64_t* data, int64_t rows, int64_t cols,
            bool mapped = false);
  /// Errors: kInvalidArgument when values.size() != rows * cols.
  static Result<IntMatrix> from_vector(std::vector<int64_t> values, int64_t rows, int64_t cols);
  static Result<IntMatrix> from_vector(std::vector<int32_t> values, int64_t rows, int64_t cols);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  IntType type() const { return type_; }
  /// The values when type() is kInt32 / kInt64; nullptr otherwise.
  const int32_t* data_i32() const;
  const int64_t* data_i64() const;
  /// Value at (row, col), widened. Requires: both in range.
  int64_t at(int64_t row, int64_t col) const {
    const int64_t i = row * cols_ + col;
    return type_ == IntType::kInt32 ? static_cast<const int32_t*>(data_)[i]
                                    : static_cast<const int64_t*>(data_)[i];
  }
  /// All values widened to int64 (a copy).
  std::vector<int64_t> to_int64() const;
  bool mapped() const { return mapped_; }

 private:
  std::shared_ptr<const void> owner_;
  const void* data_ = nullptr;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  IntType type_ = IntType::kInt64;
  bool mapped_ = false;
};

// ---------------------------------------------------------------------------------------------
// Reading and writing

struct ReadOptions {
  /// Format of the file; kAuto takes it from the extension. Default: kAuto.
  DatasetFormat format = DatasetFormat::kAuto;
  /// First row to read; must be <= the number of rows. Default: 0.
  int64_t first_row = 0;
  /// Read at most this many rows from first_row; 0 reads to the end. Rows outside the range are
  /// never touched, so the first rows of a billion-row file load in milliseconds. Default: 0.
  int64_t max_rows = 0;
  /// HDF5 only: the data set to read; empty means "train" for read_vectors and "neighbors" for
  /// read_neighbors. Default: empty.
  std::string hdf5_dataset;
};

/// Reads float vectors from .fvecs, .bvecs, .fbin, .u8bin, .npy ('<f4') or HDF5.
/// .fbin and aligned .npy files are memory-mapped and the result points into the map; .fvecs is
/// copied into a dense matrix (its records are interleaved with their dimension), .bvecs/.u8bin
/// are converted from uint8, HDF5 is read through its library. Only the requested rows are read.
/// Errors: kNotFound (no such file); kIOError (the OS refused); kInvalidArgument (unknown
/// extension, integer file, first_row past the end, negative max_rows, not a regular file);
/// kCorruption for a malformed file, naming the file and the byte offset of the problem;
/// kNotSupported (npy dtype/order/endianness we do not read, HDF5 without HDF5 support);
/// kResourceExhausted when the converted rows do not fit in memory.
/// Thread-safety: safe to call concurrently (HDF5 reads are serialised internally).
VECPERF_EXPORT Result<FloatMatrix> read_vectors(const std::string& path,
                                                const ReadOptions& options = {});

/// Reads neighbour ids from .ivecs, .ibin, .npy ('<i4' or '<i8') or HDF5 ("neighbors").
/// .ibin and aligned .npy are memory-mapped. Errors and thread-safety: as read_vectors.
VECPERF_EXPORT Result<IntMatrix> read_neighbors(const std::string& path,
                                                const ReadOptions& options = {});

/// Writes `vectors` atomically (temporary file, fsync, rename) as .fvecs, .fbin, .npy ('<f4'),
/// .bvecs or .u8bin (each value must then be an integer in 0..255).
/// Errors: kInvalidArgument (format that holds no floats, dim outside 1..65536, more rows than
/// the format can count, an empty .fvecs/.bvecs, a value that does not fit uint8);
/// kIOError from the OS (a full disk says so); the previous file, if any, is kept.
/// Thread-safety: safe to call concurrently; two writes of one path leave one complete file.
VECPERF_EXPORT Status write_vectors(const std::string& path, MatrixView vectors,
                                    DatasetFormat format = DatasetFormat::kAuto);

/// Writes ids atomically as .ivecs or .ibin (each value must fit int32) or .npy (the matrix's
/// own type). Errors: as write_vectors.
VECPERF_EXPORT Status write_neighbors(const std::string& path, const IntMatrix& ids,
                                      DatasetFormat format = DatasetFormat::kAuto);

/// The ann-benchmarks HDF5 layout, read whole (see read_vectors for one data set or a row range).
struct AnnBenchmarksDataset {
  FloatMatrix train;      ///< base vectors
  FloatMatrix test;       ///< queries
  IntMatrix neighbors;    ///< true neighbours of each query
  FloatMatrix distances;  ///< their distances in ann-benchmarks units; empty when absent
  std::string distance;   ///< the file's "distance" attribute ("euclidean", "angular", ...) or ""
};

/// Reads train, test, neighbors, distances (if present) and the "distance" attribute.
/// Errors: as read_vectors; kNotFound when train, test or neighbors is missing.
VECPERF_EXPORT Result<AnnBenchmarksDataset> read_ann_benchmarks(const std::string& path);

/// vecperf metric for an ann-benchmarks "distance": "euclidean" -> kL2 (note that the file's
/// distances are then not squared), "angular" -> kCosine, "ip"/"dot" -> kInnerProduct.
/// Errors: kNotSupported for other distances (hamming, jaccard).
VECPERF_EXPORT Result<Metric> metric_for_ann_distance(const std::string& distance);

// ---------------------------------------------------------------------------------------------
// Synthetic data

/// Gaussian clusters: `clusters` centres uniform in [-1, 1]^dim drawn from `centre_seed`; each
/// row is a centre picked uniformly plus N(0, spread^2) noise, drawn from `seed`. The same
/// options always give bit-identical values (on one standard library implementation). The
/// generators are pure functions, safe to call from any thread.
struct ClusteredOptions {
  int64_t rows = 0;           ///< >= 0
  int64_t dim = 0;            ///< >= 1
  int clusters = 64;          ///< >= 1. Default: 64.
  float spread = 0.15f;       ///< > 0 and finite. Default: 0.15.
  uint64_t seed = 1;          ///< Default: 1.
  uint64_t centre_seed = 42;  ///< Default: 42.
};

/// Fills `out` (options.rows * options.dim floats, row-major).
/// Errors: kInvalidArgument for a bad option or a wrongly sized `out`.
VECPERF_EXPORT Status fill_clustered(const ClusteredOptions& options, Span<float> out);
/// Errors: as fill_clustered; kResourceExhausted when the matrix does not fit in memory.
VECPERF_EXPORT Result<FloatMatrix> make_clustered(const ClusteredOptions& options);
/// Queries for a base made with `base`: same centres and spread, `rows` rows drawn from `seed`
/// (use a seed other than base.seed, or the queries repeat the first base rows).
VECPERF_EXPORT Result<FloatMatrix> make_clustered_queries(const ClusteredOptions& base,
                                                          int64_t rows, uint64_t seed);

// ---------------------------------------------------------------------------------------------
// Ground truth and recall

struct GroundTruthOptions {
  /// Neighbours per query, >= 1. Default: 100.
  int k = 100;
  /// Default: kL2.
  Metric metric = Metric::kL2;
  /// Threads of the exact search (SearchOptions::num_threads). Default: 0 (all).
  int num_threads = 0;
};

/// Exact neighbours of each query: row i holds ids (row numbers of the base) nearest first.
struct GroundTruth {
  IntMatrix ids;          ///< nq x k; kNoId (-1) where the base has fewer than k rows
  FloatMatrix distances;  ///< nq x k in vecperf units (see Metric); empty if a file had none
  /// cached_ground_truth only: whether the ids came from the cache file, that file's path, and
  /// why the cache could not be used or written when that happened (the result is valid anyway).
  bool from_cache = false;
  std::string cache_path;
  Status cache_status;
};

/// Computes exact top-k with the Flat backend (multithreaded; ties go to the smaller id).
/// Memory: the Flat index copies the base once. Thread-safety: safe to call concurrently.
/// Errors: kInvalidArgument (k < 1, dimensions differ, empty queries, NaN/Inf values, a zero
/// vector with kCosine); kResourceExhausted.
VECPERF_EXPORT Result<GroundTruth> compute_ground_truth(MatrixView base, MatrixView queries,
                                                        const GroundTruthOptions& options);

/// As compute_ground_truth, but kept in `cache_dir` (e.g. the data set's directory; created if
/// missing) in a checksummed file named by the XXH3-128 hash of base + queries + k + metric. A
/// matching file is read instead of searching (hashing the inputs costs one pass over them); a
/// damaged or foreign one is recomputed and replaced. Errors: as compute_ground_truth, and
/// kInvalidArgument for an empty cache_dir; cache problems are reported in cache_status only.
/// Thread-safety: concurrent calls are safe (the file is replaced atomically).
VECPERF_EXPORT Result<GroundTruth> cached_ground_truth(MatrixView base, MatrixView queries,
                                                       const GroundTruthOptions& options,
                                                       const std::string& cache_dir);

/// Reads ground truth from a file: ids as read_neighbors, plus distances where the file has them
/// (big-ann .ibin ground truth, which appends rows x k float32 distances; HDF5 "distances").
VECPERF_EXPORT Result<GroundTruth> read_ground_truth(const std::string& path,
                                                     const ReadOptions& options = {});

/// Exact distances (vecperf units) from each query to its `k` found ids (row numbers of `base`;
/// kNoId gives +infinity), for tie-aware recall of indexes whose distances are approximate.
/// Errors: kInvalidArgument (ids.size() != queries.rows * k, an id outside the base, dimensions
/// differ, a zero vector with kCosine). Thread-safety: a pure function, as are the recall ones.
VECPERF_EXPORT Result<std::vector<float>> exact_distances(MatrixView base, MatrixView queries,
                                                          Span<const int64_t> ids, int64_t k,
                                                          Metric metric);

struct RecallStats {
  double recall = 0;    ///< mean over queries, in [0, 1]
  int64_t k = 0;        ///< the k evaluated: min(k asked, truth.cols())
  int64_t queries = 0;  ///< truth.rows()
};

/// Id-based recall@k: for each query, |first k found ∩ first k true| / (true ids that are not
/// kNoId), averaged (a query with no true ids counts 1). `found` is truth.rows() x k, row-major,
/// as filled by Index::search. kNoId never matches and a repeated id counts once. When k exceeds
/// truth.cols() the evaluation uses k = truth.cols(): only that many neighbours are known.
/// This is the figure the bench reports. Errors: kInvalidArgument for mismatched sizes, an empty
/// ground truth, k < 1.
VECPERF_EXPORT Result<RecallStats> recall_at_k(Span<const int64_t> found, int64_t k,
                                               const IntMatrix& truth);

/// Tie-aware recall@k (as ann-benchmarks counts): a found id also counts when its distance is
/// within the k-th true distance plus epsilon * max(1, |k-th true distance|), so a neighbour tied
/// with the k-th is not a miss. `found_distances` (as `found`) and `truth_distances`
/// (truth.rows() x truth.cols()) must be exact and in the same units (see exact_distances).
/// Errors: as recall_at_k; kInvalidArgument for a negative or non-finite epsilon.
VECPERF_EXPORT Result<RecallStats> recall_at_k_with_ties(Span<const int64_t> found,
                                                         Span<const float> found_distances,
                                                         int64_t k, const IntMatrix& truth,
                                                         MatrixView truth_distances,
                                                         float epsilon = 1e-3f);

}  // namespace vecperf
