// Dense vectors in slot order, the store the exact scans read (Flat, gpu_flat's host copy): one
// buffer, advised as huge pages from 2 MB on (a scan streams all of it), with the squared norms
// of the rows for the L2 matrix-product path.
//
// Appends take the index's exclusive lock only to publish. The one writer stages rows past
// rows(): searches read the first rows() rows only (the index's slot count), so staged rows are
// written in place while searches run. When the buffer is full, a buffer twice as large is filled
// aside (the current rows copied, then the new ones) and commit(), under the exclusive lock,
// swaps it in; the buffer it replaces is handed back to be freed after the lock is released,
// when no search can hold it (searches hold the lock shared). Removals move rows under the
// exclusive lock (move_row, truncate). See docs/design/index-concurrency.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/serialize.h"
#include "index/id_map.h"
#include "index/topk.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf::internal {

class RowStore {
 public:
  /// One buffer: rows and (if kept) their norms, for `capacity` rows.
  class Buffer {
   public:
    Buffer() = default;
    ~Buffer();
    Buffer(Buffer&& o) noexcept;
    Buffer& operator=(Buffer&& o) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

   private:
    friend class RowStore;
    float* rows = nullptr;
    float* norms = nullptr;
    int64_t capacity = 0;
    size_t row_bytes = 0, norm_bytes = 0;  // allocated sizes
  };

  RowStore(int64_t dim, bool keep_norms) : dim_(dim), keep_norms_(keep_norms) {}

  int64_t dim() const { return dim_; }
  /// Committed rows.
  int64_t rows() const { return rows_; }
  const float* data() const { return cur_.rows; }
  const float* row(int64_t i) const { return cur_.rows + i * dim_; }
  /// ||row||^2 per row (only when kept).
  const float* norms() const { return cur_.norms; }
  size_t memory_bytes() const { return cur_.row_bytes + cur_.norm_bytes; }

  /// Stages `v` as rows rows() .. rows()+v.rows-1 (no lock: one writer at a time).
  /// kResourceExhausted stages nothing.
  Status stage(MatrixView v);
  /// Under the index's exclusive lock: the staged rows join rows(). Returns the buffer replaced
  /// (empty when the rows were staged in place), to be destroyed after the lock is released.
  Buffer commit();
  /// Drops rows staged and not committed.
  void discard_staged();
  /// Under the exclusive lock: copies row `from` onto row `to`.
  void move_row(int64_t from, int64_t to);
  /// Under the exclusive lock: keeps the first `rows` rows.
  void truncate(int64_t rows);
  /// Replaces an empty store with `rows` rows read from unaligned `bytes` (a loader).
  Status assign(const char* bytes, int64_t rows);
  /// Under the exclusive lock: zeroes row `i` (a tombstone's row is never read again, and a dump
  /// of the memory then holds no removed vector).
  void clear_row(int64_t i);
  /// A new buffer holding rows src[0], src[1], ... of this store, in that order: a compaction
  /// built aside (reads only, so no lock for the one writer). kResourceExhausted.
  Status gather(std::span<const int64_t> src, Buffer* out) const;
  /// Under the exclusive lock: `b`, holding `rows` rows (from gather()), becomes the store.
  /// Returns the buffer replaced, to be destroyed after the lock is released.
  Buffer replace(Buffer b, int64_t rows);
  /// Under the exclusive lock: empties the store and returns its buffer, as replace() does.
  Buffer release() { return replace(Buffer(), 0); }

  /// Offers rows [begin, end) to `top` for one query with the metric's distance (L2 squared,
  /// or 1 - dot), through the SIMD one-against-many kernels in L1-sized blocks. `buf` holds
  /// kScanBlock floats.
  void scan(const float* query, Metric metric, int64_t begin, int64_t end, TopK& top,
            float* buf) const;
  static constexpr int64_t kScanBlock = 1024;

 private:
  Status allocate(int64_t capacity, Buffer* out) const;
  void fill(Buffer& b, int64_t at, MatrixView v) const;

  const int64_t dim_;
  const bool keep_norms_;
  Buffer cur_;
  Buffer pending_;  // a larger buffer being filled by stage(), swapped in by commit()
  int64_t rows_ = 0;
  int64_t staged_ = 0;
};

/// Drops dead `slots` (already killed in `ids`) keeping the rows dense: highest hole first,
/// the last row moves into it and its id with it (IdMap::move_last_into). Under the exclusive lock.
void remove_dense(std::span<const int64_t> slots, IdMap& ids, RowStore& store);

/// Reads a saved store (the Writer::array layout: u64 float count, then the floats) of `rows`
/// rows into the empty `store`. kCorruption naming `what` when the count disagrees with `rows`
/// or the bytes are short; kResourceExhausted.
Status read_rows(Reader& r, int64_t rows, const char* what, RowStore* store);

/// Offers n distances with labels base_label + j to `top`, testing groups of 32 branch-free
/// first (most candidates lose to the current k-th best once the selector has warmed up).
void offer(TopK& top, const float* dist, int64_t n, int64_t base_label);

}  // namespace vecperf::internal
