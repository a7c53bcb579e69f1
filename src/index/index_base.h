// Shared machinery of every backend: argument validation, cosine normalisation, the id map,
// locking, result padding and persistence framing. A backend derives from IndexBase and
// implements only its own structure through the *_locked hooks, which are called with mu_ held
// (exclusively for add/remove, shared for everything else) or, for the long reads (save_locked,
// and vector_locked from for_each_vector), with the read gate held; they receive validated input.
//
// Two locks, so that a search never waits for a save. Searches and short reads take mu_ shared;
// writers take mu_ exclusively for one chunk at a time, or (add_unlocked, after_remove_unlocked)
// only for the moments they publish what they built while searches ran. The long reads (save /
// to_bytes and for_each_vector, which serialise or visit the whole index) take read_gate_ shared
// instead of mu_, and every writer takes read_gate_ exclusively before mu_. A writer therefore
// waits for a long read while it does not yet hold or queue for mu_ (mu_ prefers writers, so a
// writer queued on it would stop new searches), and a long read sees no writer in the middle of a
// chunk. Order: write_mu_, then read_gate_, then mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "common/file_io.h"
#include "common/rw_lock.h"
#include "common/serialize.h"
#include "index/id_map.h"
#include "index/row_store.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::internal {

/// Base of every concrete index: adds the payload serialization that save(), to_bytes() and
/// nested containers (AutoIndex) use.
class IndexImpl : public Index {
 public:
  /// Writes everything needed to rebuild the index (not the file header). Takes its own lock.
  virtual void write_payload(Writer& w) const = 0;

  Status save(const std::string& path) const final;
  Result<std::string> to_bytes() const final;
};

/// Rebuilds a backend (flat, ivf, hnsw, gpu_flat: every kind with slots, not auto) from a
/// payload written by write_payload. Errors: kCorruption (also for a kind it does not build),
/// kResourceExhausted.
Result<std::unique_ptr<IndexImpl>> read_backend_payload(IndexKind kind, Reader& r);

/// The checks of Index::add() that need no index state: as many ids as rows, a valid matrix
/// (check_matrix), no negative id and no id twice. kInvalidArgument naming the problem.
Status check_add_args(IdSpan ids, MatrixView vectors, int64_t dim);

/// kInvalidArgument unless `v` is a non-empty-or-zero-row matrix of dimension `dim` whose values
/// are all finite. `what` names the argument ("vectors", "queries") in the message.
Status check_matrix(MatrixView v, int64_t dim, const char* what);
/// kInvalidArgument for k < 1, negative knobs, or null result buffers.
Status check_search_args(const SearchOptions& options, SearchResults results);
/// Fills every result slot with (+inf, kNoId).
void fill_unfilled(int64_t rows, int k, SearchResults results);

class IndexBase : public IndexImpl {
 public:
  IndexKind kind() const final { return kind_; }
  int64_t dim() const final { return dim_; }
  Metric metric() const final { return metric_; }
  int64_t size() const final;
  using Index::add;
  Status add(IdSpan ids, MatrixView vectors, const AddOptions& options) final;
  Status search(MatrixView queries, const SearchOptions& options,
                SearchResults results) const final;
  Status remove(IdSpan ids) final;
  size_t memory_bytes() const final;
  std::string describe() const final;
  bool contains(int64_t id) const final;
  int64_t next_free_id() const final;
  Status get_vector(int64_t id, float* out) const final;
  void write_payload(Writer& w) const final;
  void for_each_vector(const VectorVisitor& fn) const final;
  SearchOptions default_search_options() const final;
  Status set_default_search_options(const SearchOptions& options) final;
  IndexCapabilities capabilities() const final;
  /// 0: the CPU backends hold no device memory (gpu_flat overrides it).
  size_t device_memory_bytes() const override { return 0; }
  /// A single backend never migrates.
  MigrationStatus migration_status() const final { return MigrationStatus{}; }

  /// Reads the common part of a payload (dim, metric, id map) and hands the rest to the backend.
  static Result<std::unique_ptr<IndexImpl>> read_payload(IndexKind kind, Reader& r);

 protected:
  IndexBase(IndexKind kind, int64_t dim, Metric metric, IdMap ids = {})
      : kind_(kind), dim_(dim), metric_(metric), ids_(std::move(ids)), max_id_(largest_id(ids_)) {}

  /// Adds one chunk of new, distinct ids with validated (and, for cosine, normalised) vectors.
  /// Called with write_mu_ and read_gate_ held exclusively but mu_ released, so searches run.
  /// The default takes mu_ exclusively for the whole chunk (appends the ids, add_locked). A
  /// backend whose structure can take rows while searches read it (HNSW) overrides it: it
  /// prepares the rows, makes them visible with publish_ids(), finishes with mu_ released and,
  /// if that fails, takes them back with withdraw_ids().
  virtual Status add_unlocked(IdSpan ids, MatrixView vectors, int num_threads);
  /// Ids a remove applies per hold of mu_ (it releases the lock between chunks). 64 ids hold it
  /// for about 50 us in the costliest backend (IVF: the id map, a list entry and the direct map
  /// per id, about 0.8 us together, mostly cache misses).
  virtual size_t remove_chunk_ids() const { return 64; }
  /// Runs after a remove, with write_mu_ and read_gate_ still held and mu_ released: work that
  /// may take long (HNSW compaction built aside) and must not hold up searches. It swaps what it
  /// built in under exclusive().
  virtual void after_remove_unlocked() {}
  /// Appends `ids` to the id map under mu_ exclusively and returns their first slot; `also`
  /// (if any) runs under the same lock once the append has succeeded. If `also` fails, it must
  /// have changed nothing: the ids are taken back and its status returned.
  Result<int64_t> publish_ids(IdSpan ids, const std::function<Status()>& also = {});
  /// The add of a backend whose rows live in a RowStore (Flat; IVF before it trains): stages `v`
  /// in `store` unlocked, publishes the rows with their ids (publish_ids, the store's commit in
  /// the same lock) and, if that fails, drops what was staged.
  Status publish_rows(IdSpan ids, MatrixView v, RowStore& store);
  /// Kills the slots of `ids` (published by this add) and calls remove_locked, under mu_.
  void withdraw_ids(IdSpan ids);
  /// Runs fn() with mu_ held exclusively (what a backend built while searches ran, swapped in).
  template <typename Fn>
  auto exclusive(Fn&& fn) {
    std::unique_lock lock(mu_);
    return fn();
  }

  /// Stores `vectors` (already validated and, for cosine, normalised) at slots
  /// first_slot .. first_slot + rows - 1, which ids_ already maps. On failure the backend must
  /// hold none of those slots; the base then drops them from ids_.
  /// `num_threads` is the add's AddOptions::num_threads (0: all hardware threads).
  /// Backends that override add_unlocked need not implement it.
  virtual Status add_locked(int64_t /*first_slot*/, MatrixView /*vectors*/, int /*num_threads*/) {
    return Status::Internal("this backend adds through add_unlocked");
  }
  /// Writes up to k_eff (<= live vectors) nearest slots per query, nearest first, at
  /// dists/labels[i * stride + j]. Slots it leaves alone stay unfilled (+inf, -1). Labels are
  /// slots; the base maps them to ids.
  virtual Status search_locked(MatrixView queries, const SearchOptions& options, int64_t k_eff,
                               int64_t stride, float* dists, int64_t* labels) const = 0;
  /// Forgets the given slots; ids_ has already marked them dead. A compacting backend may
  /// renumber slots with ids_.move_last_into().
  virtual Status remove_locked(std::span<const int64_t> slots) = 0;
  /// Copies the stored vector of a live slot.
  virtual void vector_locked(int64_t slot, float* out) const = 0;
  virtual void save_locked(Writer& w) const = 0;
  virtual size_t memory_locked() const = 0;
  virtual std::string describe_locked() const = 0;
  /// Default knobs (see Index::default_search_options); a backend without knobs has none (all 0).
  virtual SearchOptions defaults_locked() const { return SearchOptions{}; }
  /// Stores the non-zero knobs of `o`, already checked to be non-negative (mu_ held exclusively).
  virtual Status set_defaults_locked(const SearchOptions& /*o*/) { return Status::OK(); }
  /// The tunable knob; a backend without knobs is exact.
  virtual IndexCapabilities capabilities_locked() const { return IndexCapabilities{kind_}; }

  const IdMap& ids() const { return ids_; }
  IdMap& ids() { return ids_; }

 private:
  Status add_chunk(IdSpan ids, MatrixView vectors, int num_threads);
  // Records the largest id of a successful add (mu_ held exclusively).
  void note_added(IdSpan ids);
  // Marks the slots of `ids` dead (mu_ held exclusively) and returns them.
  std::vector<int64_t> kill_ids(IdSpan ids);
  // Locks for a writer (read_gate_, then mu_, both exclusive), after any save in progress.
  struct WriteLocks {
    std::unique_lock<RwLock> gate;
    std::unique_lock<RwLock> lock;
  };
  WriteLocks lock_for_write() const;
  // mu_ shared for a search: spins briefly before it sleeps (index_base.cc says why).
  std::shared_lock<RwLock> lock_for_search() const;
  // Between two chunks of a write, with mu_ released: waits (briefly, by yielding) until the
  // searches that queued on mu_ during the chunk have taken it. mu_ prefers writers, so a writer
  // that re-locks at once keeps them waiting for its whole write.
  void let_waiting_searches_in() const;
  // Largest live id of `ids`, -1 when it holds none.
  static int64_t largest_id(const IdMap& ids);

  const IndexKind kind_;
  const int64_t dim_;
  const Metric metric_;
  IdMap ids_;
  // Largest live id (next_free_id() - 1); stale after the largest id is removed, until the next
  // next_free_id() rescans. Guarded by mu_.
  mutable int64_t max_id_;
  mutable bool max_id_stale_ = false;
  mutable RwLock mu_;  // guards ids_ and the backend's structure (see the file comment)
  mutable std::atomic<int> searches_waiting_{0};  // searches queued on mu_ (a hint, not a lock)
  mutable RwLock read_gate_;  // shared: the long reads; exclusive: writers, before mu_
  std::mutex write_mu_;       // serialises add/remove calls across their chunks
};

/// Loaders of the concrete backends: rebuild from the backend's part of a payload.
Result<std::unique_ptr<IndexImpl>> load_flat(Reader& r, int64_t dim, Metric metric, IdMap ids);
Result<std::unique_ptr<IndexImpl>> load_ivf(Reader& r, int64_t dim, Metric metric, IdMap ids);
Result<std::unique_ptr<IndexImpl>> load_hnsw(Reader& r, int64_t dim, Metric metric, IdMap ids);
/// A CPU Flat index instead when no device is usable and options.prefer_gpu is set.
Result<std::unique_ptr<IndexImpl>> load_gpu_flat(Reader& r, int64_t dim, Metric metric, IdMap ids);

/// Constructors of the concrete backends (options already validated).
Result<std::unique_ptr<IndexImpl>> new_flat(int64_t dim, Metric metric, const FlatOptions& options);
Result<std::unique_ptr<IndexImpl>> new_ivf(int64_t dim, Metric metric, const IvfOptions& options);
/// `capacity`: vectors the HNSW graph holds before it first grows (0: a small default), so that
/// a build whose size is known (an auto index's migration) allocates exactly once.
Result<std::unique_ptr<IndexImpl>> new_hnsw(int64_t dim, Metric metric, const HnswOptions& options,
                                            int64_t capacity = 0);
/// A CPU Flat index instead when no device is usable and options.prefer_gpu is set.
Result<std::unique_ptr<IndexImpl>> new_gpu_flat(int64_t dim, Metric metric,
                                                const GpuFlatOptions& options);
class GpuFlatBackend;
/// A gpu_flat index over a given backend (tests substitute a host implementation).
std::unique_ptr<IndexImpl> new_gpu_flat_on(int64_t dim, Metric metric,
                                           const GpuFlatOptions& options,
                                           std::unique_ptr<GpuFlatBackend> backend);

/// Device memory and batch searches of the live gpu_flat indexes, summed per device: what the
/// layer above exports as device metrics. Reads only atomics (never an index's lock).
struct GpuFlatDeviceUse {
  int device = 0;
  uint64_t memory_bytes = 0;
  uint64_t batch_searches = 0;
};
std::vector<GpuFlatDeviceUse> gpu_flat_device_use();

}  // namespace vecperf::internal
