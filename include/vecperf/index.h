// The Index API: one interface over the Flat, IVF, HNSW and Auto backends.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "vecperf/export.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf {

/// kGpuFlat: exact search on a CUDA device (see vecperf/gpu.h); needs a CUDA build and a device.
enum class IndexKind : int { kFlat = 1, kIvf = 2, kHnsw = 3, kAuto = 4, kGpuFlat = 5 };

/// "flat", "ivf", "hnsw", "auto", "gpu_flat"
VECPERF_EXPORT const char* index_kind_name(IndexKind kind);
VECPERF_EXPORT Result<IndexKind> parse_index_kind(const std::string& name);

/// Per-call search knobs. Because they travel with the call, concurrent searches with different
/// knobs never interfere (unlike setting `nprobe` on a shared FAISS index).
struct SearchOptions {
  /// Neighbours per query. Must be >= 1. Default: 10.
  int k = 10;
  /// IVF: inverted lists probed per query, clamped to nlist; 0 uses the index's default.
  /// Negative is kInvalidArgument. Ignored by other backends. Default: 0.
  int nprobe = 0;
  /// HNSW: size of the candidate list; raised to k when smaller; 0 uses the index's default.
  /// Negative is kInvalidArgument. Ignored by other backends. Default: 0.
  int ef_search = 0;
  /// IVF with compressed codes: candidates re-ranked with exact distances (0: index default).
  /// Default: 0.
  int rerank = 0;
  /// Worker threads for this call; 0 means all hardware threads, 1 runs on the caller's thread.
  /// Default: 0.
  int num_threads = 0;
};

/// Caller-owned output buffers of a batched search, each `queries.rows * k` long, row-major.
/// Slot j of query i is at [i * k + j]. Slots that cannot be filled because the index holds
/// fewer than k vectors get id kNoId (-1) and distance +infinity.
struct SearchResults {
  float* distances = nullptr;
  int64_t* ids = nullptr;
};

/// The knob vecperf::tune() adjusts on a backend.
enum class SearchKnob : int {
  kNone = 0,      ///< searches are exact (Flat, gpu_flat, IVF before it trains): nothing to tune
  kNprobe = 1,    ///< IVF: SearchOptions::nprobe
  kEfSearch = 2,  ///< HNSW: SearchOptions::ef_search
};

/// "" (kNone), "nprobe", "ef_search": the name of the SearchOptions field.
VECPERF_EXPORT const char* search_knob_name(SearchKnob knob);

/// What tools that adapt to an index (tuning, profiles, benchmarks) need to know about the
/// backend serving it, beyond the operations themselves. A snapshot: an auto index that migrates,
/// or an IVF index that trains, reports differently afterwards.
struct IndexCapabilities {
  /// The backend answering searches now: kind(), or an auto index's current stage.
  IndexKind serving_kind = IndexKind::kFlat;
  /// The knob that trades recall for speed on that backend.
  SearchKnob knob = SearchKnob::kNone;
  /// Largest useful value of `knob` (nlist for nprobe); 0 when it has no bound (ef_search).
  int64_t knob_max = 0;
};

/// How an auto index's migrations went (Index::migration_status). Other kinds never migrate and
/// report all zeros and OK.
struct MigrationStatus {
  /// Migrations completed since the index was created or loaded.
  int64_t migrations = 0;
  /// Migrations that failed since then (each is retried by the next add).
  int64_t failures = 0;
  /// Why the last migration failed; OK when none has failed or the last one succeeded. A failed
  /// migration leaves the current stage serving every vector: the add that triggered it still
  /// returned OK, because its vectors are in.
  Status last_error;
};

/// Called by Index::for_each_vector with each live vector's id and its stored values (dim()
/// floats, valid only during the call).
using VectorVisitor = std::function<void(int64_t id, const float* vector)>;

/// Reports the progress of Index::add_with_progress(): `done` of `total` vectors are in so far.
/// Return OK to go on; any other status stops the add, which then removes every vector it added
/// and returns that status.
using AddProgressCallback = std::function<Status(int64_t done, int64_t total)>;

/// Per-call options of Index::add().
struct AddOptions {
  /// Threads that build the index structure for this call (HNSW linking, IVF list assignment
  /// and training, an auto index's migration); 0 means all hardware threads, 1 the calling
  /// thread only, so that a service can keep cores for its searches. Negative is
  /// kInvalidArgument. Default: 0.
  int num_threads = 0;
  /// Called after each chunk of 8192 rows (see add_with_progress); may be empty.
  AddProgressCallback progress;
};

/// Abstract vector index.
///
/// Thread-safety: any number of threads may call the const methods (`search`, `size`, `save`,
/// ...) concurrently. `add` and `remove` may run concurrently with searches: a readers-writer lock
/// lets searches proceed together while a writer waits for them, and a writer holds the lock only
/// while it publishes its change, so a search sees an index either before or after each chunk of
/// 8192 vectors of an `add` and each chunk of a `remove` (a few dozen ids). What a search may wait
/// for: one such publication, nothing else. Adds hold the lock only while a chunk's ids are
/// recorded with what was built for them: Flat copies the rows and IVF assigns and encodes them
/// before (IVF then appends the codes to their lists under the lock), HNSW links them after; IVF
/// trains, and HNSW and IVF compact after many removals, aside while searches run. A search
/// during an HNSW add may find part of that chunk, and its ids are in the index (`contains`,
/// `size`) from the moment the chunk's linking starts. A removed id is never returned by a search
/// that starts after `remove` returned. A `save`, `to_bytes` or `for_each_vector` in progress
/// makes writers wait (so that it reads a consistent index) but never searches, even when a
/// writer is waiting for it.
class VECPERF_EXPORT Index {
 public:
  virtual ~Index() = default;

  virtual IndexKind kind() const = 0;
  virtual int64_t dim() const = 0;
  virtual Metric metric() const = 0;
  /// Number of live vectors (added and not removed).
  virtual int64_t size() const = 0;

  /// Adds `vectors.rows` vectors with the given ids (ids.size() == vectors.rows), with the
  /// per-call options of AddOptions. All-or-nothing: on any error nothing is added.
  /// Errors: kInvalidArgument for a wrong dimension, a NaN/Inf value, a negative id, an id
  /// repeated within the call, (cosine) a zero vector, or a negative num_threads;
  /// kAlreadyExists for an id already in the index (remove it first to replace it);
  /// kResourceExhausted when memory runs out; the status `options.progress` returned.
  virtual Status add(IdSpan ids, MatrixView vectors, const AddOptions& options) = 0;

  /// add() with the default AddOptions.
  Status add(IdSpan ids, MatrixView vectors) { return add(ids, vectors, AddOptions{}); }

  /// add() reporting progress: the vectors go in by chunks (8192 rows) and `progress` is called
  /// after each chunk with the rows added so far, ending with (rows, rows); not called for an
  /// empty add. It runs on the calling thread between chunks, when searches are not blocked, so
  /// it may search the index; it must not add to or remove from it (that may deadlock).
  /// Still all-or-nothing: when a chunk fails or `progress` returns a non-OK status, the vectors
  /// of the chunks already added are removed again and that status is returned. Searches running
  /// meanwhile may see the chunks added so far. An IVF index keeps the training the add triggered;
  /// an auto index keeps the stage it migrated to. An empty `progress` makes this add().
  /// Errors: as add(), or the status `progress` returned.
  Status add_with_progress(IdSpan ids, MatrixView vectors, const AddProgressCallback& progress) {
    AddOptions options;
    options.progress = progress;
    return add(ids, vectors, options);
  }

  /// Finds the `options.k` nearest vectors of each query, nearest first (see Metric).
  /// `results` must point to two buffers of queries.rows * options.k elements.
  /// An empty index is not an error: every slot is unfilled (id -1, distance +inf).
  /// Errors: kInvalidArgument for a wrong dimension, NaN/Inf in a query, k < 1, a negative
  /// nprobe / ef_search, or null result buffers.
  virtual Status search(MatrixView queries, const SearchOptions& options,
                        SearchResults results) const = 0;

  /// Removes the given ids. All-or-nothing: if any id is not in the index (or repeats within the
  /// call) nothing is removed and kNotFound / kInvalidArgument names it.
  virtual Status remove(IdSpan ids) = 0;

  /// Writes the index to `path` atomically (temporary file, fsync, rename), so a crash or a full
  /// disk leaves either the old file or the new one. Errors: kIOError.
  virtual Status save(const std::string& path) const = 0;

  /// The bytes save() would write (docs/file-format.md), built in memory: from_bytes() reads
  /// them back. Errors: kResourceExhausted when memory runs out.
  virtual Result<std::string> to_bytes() const = 0;

  /// Bytes of memory held by the index (vectors, graph or lists, id map).
  virtual size_t memory_bytes() const = 0;

  /// One line describing the backend and its parameters, e.g. "ivf(nlist=1024, nprobe=16, ...)".
  virtual std::string describe() const = 0;

  /// True when `id` is in the index.
  virtual bool contains(int64_t id) const = 0;

  /// One past the largest id in the index (0 when it is empty): ids from here on collide with no
  /// id present. Removing the largest id lowers it, and it is the same after save() and load().
  /// Cost: constant, except after the largest id was removed, when the first call scans the id
  /// map.
  virtual int64_t next_free_id() const = 0;

  /// The stored copy of vector `id` (normalised for cosine; decoded for compressed IVF, so only
  /// approximately equal to what was added). Errors: kNotFound.
  virtual Status get_vector(int64_t id, float* out) const = 0;

  /// The knobs a search uses where its SearchOptions field is 0: nprobe and rerank (IVF),
  /// ef_search (HNSW; an auto index reports its current stage's). Fields that do not apply to
  /// the backend are 0; k and num_threads keep SearchOptions' defaults. Saved with the index.
  virtual SearchOptions default_search_options() const = 0;

  /// Replaces the defaults above with the non-zero nprobe, ef_search and rerank of `options`;
  /// zero fields, fields that do not apply to the backend, k and num_threads are ignored. Takes
  /// effect for searches that start afterwards; searches already running keep the old values.
  /// vecperf::tune() calls this. Safe to call concurrently with searches, adds and removes.
  /// Errors: kInvalidArgument for a negative field, or a rerank on an IVF index that keeps no
  /// float32 vectors to re-rank with (built without rerank, or with float32 lists).
  virtual Status set_default_search_options(const SearchOptions& options) = 0;

  /// The backend serving searches and its tunable knob (see IndexCapabilities). Cheap (reads a
  /// few fields under the read lock). vecperf::tune() and apply_tuning_profile() use it.
  virtual IndexCapabilities capabilities() const = 0;

  /// Calls fn(id, vector) for every live vector, in storage order, with the stored copy (as
  /// get_vector() returns it). Holds the read lock throughout: searches run meanwhile, adds and
  /// removes wait until it returns, so `fn` must not add to or remove from this index.
  /// vecperf::tune() draws its samples and exact neighbours through it.
  virtual void for_each_vector(const VectorVisitor& fn) const = 0;

  /// Bytes of device (GPU) memory held now: the resident vectors and working buffers of a
  /// gpu_flat index; 0 for the CPU backends.
  virtual size_t device_memory_bytes() const = 0;

  /// Migrations of an auto index so far and why the last one failed, if it did; all zeros and
  /// OK for the other kinds. Also exported as `vecperf_index_migrations_total`.
  virtual MigrationStatus migration_status() const = 0;
};

/// Loads an index saved by `Index::save`, whatever its backend.
/// Errors: kNotFound / kIOError when the file cannot be read; kCorruption for a truncated,
/// damaged or foreign file (the message names the file and the problem); kNotSupported for a
/// file written by a newer format version.
VECPERF_EXPORT Result<std::unique_ptr<Index>> load(const std::string& path);

/// Loads an index from the bytes of Index::to_bytes() (or of a saved file), with the same checks
/// as load(). Errors: kCorruption for truncated, damaged or foreign bytes; kNotSupported for a
/// newer format version; kResourceExhausted when memory runs out. Thread-safe.
VECPERF_EXPORT Result<std::unique_ptr<Index>> from_bytes(std::string_view bytes);

}  // namespace vecperf
