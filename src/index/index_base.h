// Shared machinery of every backend: argument validation, cosine normalisation, the id map,
// locking, result padding and persistence framing. A backend derives from IndexBase and
// implements only its own structure through the *_locked hooks, which are called with mu_ held
// (exclusively for add/remove, shared for everything else) and receive validated input.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "common/rw_lock.h"
#include "common/serialize.h"
#include "index/id_map.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::internal {

/// Base of every concrete index: adds the payload serialization that save() and nested
/// containers (AutoIndex) use.
class IndexImpl : public Index {
 public:
  /// Writes everything needed to rebuild the index (not the file header). Takes its own lock.
  virtual void write_payload(Writer& w) const = 0;
  /// Calls fn(id, vector) for every live vector under a shared lock (used for migrations).
  virtual void for_each_vector(const std::function<void(int64_t, const float*)>& fn) const = 0;

  Status save(const std::string& path) const final;
};

/// Rebuilds an index of the given kind from a payload written by write_payload.
Result<std::unique_ptr<IndexImpl>> read_index_payload(IndexKind kind, Reader& r);

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
  Status add(IdSpan ids, MatrixView vectors) final;
  Status search(MatrixView queries, const SearchOptions& options,
                SearchResults results) const final;
  Status remove(IdSpan ids) final;
  size_t memory_bytes() const final;
  std::string describe() const final;
  bool contains(int64_t id) const final;
  Status get_vector(int64_t id, float* out) const final;
  void write_payload(Writer& w) const final;
  void for_each_vector(const std::function<void(int64_t, const float*)>& fn) const final;

  /// Reads the common part of a payload (dim, metric, id map) and hands the rest to the backend.
  static Result<std::unique_ptr<IndexImpl>> read_payload(IndexKind kind, Reader& r);

 protected:
  IndexBase(IndexKind kind, int64_t dim, Metric metric, IdMap ids = {})
      : kind_(kind), dim_(dim), metric_(metric), ids_(std::move(ids)) {}

  /// Stores `vectors` (already validated and, for cosine, normalised) at slots
  /// first_slot .. first_slot + rows - 1, which ids_ already maps. On failure the backend must
  /// hold none of those slots; the base then drops them from ids_.
  virtual Status add_locked(int64_t first_slot, MatrixView vectors) = 0;
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

  const IdMap& ids() const { return ids_; }
  IdMap& ids() { return ids_; }

 private:
  Status add_chunk(IdSpan ids, MatrixView vectors);

  const IndexKind kind_;
  const int64_t dim_;
  const Metric metric_;
  IdMap ids_;
  mutable RwLock mu_;             // guards ids_ and the backend's structure
  std::mutex write_mu_;           // serialises add/remove calls across their chunks
};

/// Loaders of the concrete backends: rebuild from the backend's part of a payload.
Result<std::unique_ptr<IndexImpl>> load_flat(Reader& r, int64_t dim, Metric metric, IdMap ids);
Result<std::unique_ptr<IndexImpl>> load_ivf(Reader& r, int64_t dim, Metric metric, IdMap ids);
Result<std::unique_ptr<IndexImpl>> load_hnsw(Reader& r, int64_t dim, Metric metric, IdMap ids);
Result<std::unique_ptr<IndexImpl>> load_auto(Reader& r);

/// Constructors of the concrete backends (options already validated).
Result<std::unique_ptr<IndexImpl>> new_flat(int64_t dim, Metric metric, const FlatOptions& options);
Result<std::unique_ptr<IndexImpl>> new_ivf(int64_t dim, Metric metric, const IvfOptions& options);
Result<std::unique_ptr<IndexImpl>> new_hnsw(int64_t dim, Metric metric, const HnswOptions& options);
Result<std::unique_ptr<IndexImpl>> new_auto(int64_t dim, Metric metric, const AutoOptions& options);

}  // namespace vecperf::internal
