// Validation, locking and id translation shared by every backend (see index_base.h).
#include "index/index_base.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <thread>
#include <unordered_set>

#include "common/file_io.h"
#include "common/guarded.h"
#include "common/test_points.h"
#include "distance/distance.h"
#include "index/index_format.h"

namespace vecperf::internal {
namespace {

// Large adds are applied in chunks so that concurrent searches wait for one chunk at most.
constexpr int64_t kAddChunkRows = 8192;
// Attempts of a search on a held lock before it sleeps (lock_for_search): each is a failed
// try-lock and a pause, some 50-100 ns, so about 100 us in all.
constexpr int kSearchSpins = 1500;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Normalises rows for the cosine metric into `buf`; other metrics pass the view through.
Result<MatrixView> prepare(Metric metric, MatrixView v, std::vector<float>& buf, const char* what) {
  if (metric != Metric::kCosine || v.rows == 0) return v;
  buf.assign(v.data, v.data + v.rows * v.dim);
  for (int64_t i = 0; i < v.rows; ++i) {
    float* row = buf.data() + i * v.dim;
    double n2 = 0;
    for (int64_t j = 0; j < v.dim; ++j) n2 += double(row[j]) * row[j];
    if (!(n2 > 0) || !std::isfinite(n2))
      return Status::InvalidArgument(std::string(what) + " row " + std::to_string(i) +
                                     " has zero (or overflowing) norm and cannot be normalised "
                                     "for the cosine metric");
    float inv = static_cast<float>(1.0 / std::sqrt(n2));
    for (int64_t j = 0; j < v.dim; ++j) row[j] *= inv;
  }
  return MatrixView{buf.data(), v.rows, v.dim};
}

// Adds the rows chunk by chunk with add_one(chunk ids, chunk rows), calling `progress` (if any)
// after each. On the first failure, of a chunk or of `progress`, calls undo(ids added so far)
// and returns that failure, so that the add is all-or-nothing.
template <typename AddOne, typename Undo>
Status add_by_chunks(IdSpan ids, MatrixView v, const AddProgressCallback& progress,
                     AddOne&& add_one, Undo&& undo) {
  for (int64_t begin = 0; begin < v.rows; begin += kAddChunkRows) {
    const int64_t n = std::min(kAddChunkRows, v.rows - begin);
    Status s = add_one(ids.subspan(begin, n), MatrixView{v.row(begin), n, v.dim});
    const int64_t added = s.ok() ? begin + n : begin;
    if (s.ok() && progress) s = progress(added, v.rows);
    if (!s.ok()) {
      if (added > 0) undo(ids.first(added));
      return s;
    }
  }
  return Status::OK();
}

Status already_present(int64_t id) {
  return Status::AlreadyExists("id " + std::to_string(id) +
                               " is already in the index; remove it first to replace it");
}

}  // namespace

Status check_add_args(IdSpan ids, MatrixView vectors, int64_t dim) {
  if (static_cast<int64_t>(ids.size()) != vectors.rows)
    return Status::InvalidArgument("add got " + std::to_string(ids.size()) + " ids for " +
                                   std::to_string(vectors.rows) + " vectors");
  if (vectors.rows == 0) return Status::OK();
  VECPERF_RETURN_IF_ERROR(check_matrix(vectors, dim, "vectors"));
  std::unordered_set<int64_t> seen;
  seen.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0)
      return Status::InvalidArgument("id " + std::to_string(id) +
                                     " is negative; ids must be >= 0 (-1 marks empty results)");
    if (!seen.insert(id).second)
      return Status::InvalidArgument("id " + std::to_string(id) + " appears twice in one add");
  }
  return Status::OK();
}

Status check_matrix(MatrixView v, int64_t dim, const char* what) {
  if (v.rows < 0) return Status::InvalidArgument(std::string(what) + ": negative row count");
  if (v.rows > 0 && v.dim != dim)
    return Status::InvalidArgument(std::string(what) + " have dimension " + std::to_string(v.dim) +
                                   ", the index has dimension " + std::to_string(dim));
  if (v.rows > 0 && v.data == nullptr)
    return Status::InvalidArgument(std::string(what) + ": null data pointer");
  const int64_t n = v.rows * dim;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v.data[i]))
      return Status::InvalidArgument(std::string(what) + " row " + std::to_string(i / dim) +
                                     " column " + std::to_string(i % dim) +
                                     " is NaN or infinite; clean the input before indexing");
  }
  return Status::OK();
}

Status check_search_args(const SearchOptions& o, SearchResults results) {
  if (o.k < 1) return Status::InvalidArgument("k must be >= 1, got " + std::to_string(o.k));
  if (o.nprobe < 0) return Status::InvalidArgument("nprobe must be >= 0 (0 = index default)");
  if (o.ef_search < 0) return Status::InvalidArgument("ef_search must be >= 0 (0 = index default)");
  if (o.rerank < 0) return Status::InvalidArgument("rerank must be >= 0 (0 = index default)");
  if (o.num_threads < 0) return Status::InvalidArgument("num_threads must be >= 0 (0 = all)");
  if (results.distances == nullptr || results.ids == nullptr)
    return Status::InvalidArgument("search results need distance and id buffers");
  return Status::OK();
}

void fill_unfilled(int64_t rows, int k, SearchResults results) {
  const int64_t n = rows * k;
  std::fill(results.distances, results.distances + n, std::numeric_limits<float>::infinity());
  std::fill(results.ids, results.ids + n, kNoId);
}

Status IndexImpl::save(const std::string& path) const {
  return write_framed_file(path, kIndexFrame, static_cast<uint32_t>(kind()),
                           [this](Writer& w) { write_payload(w); });
}

Result<std::string> IndexImpl::to_bytes() const {
  return encode_framed(kIndexFrame, static_cast<uint32_t>(kind()),
                       [this](Writer& w) { write_payload(w); });
}

int64_t IndexBase::size() const {
  std::shared_lock lock(mu_);
  return ids_.live();
}

Status IndexBase::add(IdSpan ids, MatrixView vectors, const AddOptions& options) {
  if (options.num_threads < 0)
    return Status::InvalidArgument("num_threads must be >= 0 (0 = all hardware threads)");
  const AddProgressCallback& progress = options.progress;
  VECPERF_RETURN_IF_ERROR(check_add_args(ids, vectors, dim_));
  if (vectors.rows == 0) return Status::OK();
  std::vector<float> normalised;
  auto prepared = prepare(metric_, vectors, normalised, "vectors");
  if (!prepared.ok()) return prepared.status();

  std::lock_guard writer(write_mu_);
  {
    std::shared_lock lock(mu_);
    for (int64_t id : ids)
      if (ids_.contains(id)) return already_present(id);
  }
  // add_chunk releases mu_ after each chunk, so `progress` runs unlocked and may search.
  return add_by_chunks(
      ids, *prepared, progress,
      [this, &options](IdSpan i, MatrixView v) { return add_chunk(i, v, options.num_threads); },
      [this](IdSpan added) {
        // write_mu_ has been held throughout, so these ids are all still present.
        WriteLocks locks = lock_for_write();
        (void)remove_locked(kill_ids(added));
        locks.lock.unlock();
        after_remove_unlocked();
      });
}

std::vector<int64_t> IndexBase::kill_ids(IdSpan ids) {
  std::vector<int64_t> slots;
  slots.reserve(ids.size());
  for (int64_t id : ids) {
    slots.push_back(ids_.kill(id));
    if (id == max_id_) max_id_stale_ = true;
  }
  return slots;
}

int64_t IndexBase::largest_id(const IdMap& ids) {
  int64_t largest = -1;  // dead slots hold kNoId (-1)
  for (int64_t s = 0; s < ids.slots(); ++s) largest = std::max(largest, ids.id(s));
  return largest;
}

int64_t IndexBase::next_free_id() const {
  {
    std::shared_lock lock(mu_);
    if (!max_id_stale_) return max_id_ + 1;
  }
  // Exclusive, to store the rescan: only the first call after the largest id was removed pays.
  std::unique_lock lock(mu_);
  if (max_id_stale_) {
    max_id_ = largest_id(ids_);
    max_id_stale_ = false;
  }
  return max_id_ + 1;
}

IndexBase::WriteLocks IndexBase::lock_for_write() const {
  reach(TestPoint::kWriterAwaitsSaves);
  WriteLocks locks{std::unique_lock(read_gate_), {}};
  locks.lock = std::unique_lock(mu_);
  return locks;
}

Status IndexBase::add_chunk(IdSpan ids, MatrixView vectors, int num_threads) {
  reach(TestPoint::kWriterAwaitsSaves);
  std::unique_lock gate(read_gate_);
  return add_unlocked(ids, vectors, num_threads);
}

Status IndexBase::add_unlocked(IdSpan ids, MatrixView vectors, int num_threads) {
  std::unique_lock lock(mu_);
  int64_t first = -1;
  Status s = guarded("adding vectors (nothing was added)", [&] {
    first = ids_.append(ids);
    return add_locked(first, vectors, num_threads);
  });
  if (!s.ok()) {
    if (first >= 0) ids_.truncate(first);
    return s;
  }
  note_added(ids);
  return s;
}

void IndexBase::note_added(IdSpan ids) {
  // A stale maximum is rescanned by next_free_id() anyway.
  if (!max_id_stale_) max_id_ = std::max(max_id_, *std::max_element(ids.begin(), ids.end()));
}

Result<int64_t> IndexBase::publish_ids(IdSpan ids, const std::function<Status()>& also) {
  std::unique_lock lock(mu_);
  const int64_t first = ids_.slots();
  Status s = guarded_void("adding vectors (nothing was added)", [&] { ids_.append(ids); });
  if (s.ok() && also) s = also();
  if (!s.ok()) {
    ids_.truncate(first);
    return s;
  }
  note_added(ids);
  return first;
}

std::shared_lock<RwLock> IndexBase::lock_for_search() const {
  // Writers hold mu_ for tens of microseconds at a time (a chunk's publication, a chunk of a
  // remove). Sleeping on the lock costs more than that: a thread woken from a futex wait runs
  // again only after tens to hundreds of microseconds (more in a VM). So a search spins first,
  // for about as long as such a hold, and sleeps only if the writer holds on.
  std::shared_lock lock(mu_, std::defer_lock);
  if (lock.try_lock()) return lock;  // no writer: the common case touches no shared counter
  searches_waiting_.fetch_add(1, std::memory_order_relaxed);
  for (int i = 0; i < kSearchSpins && !lock.owns_lock(); ++i) {
    cpu_relax();
    (void)lock.try_lock();
  }
  if (!lock.owns_lock()) lock.lock();
  searches_waiting_.fetch_sub(1, std::memory_order_relaxed);
  return lock;
}

Status IndexBase::publish_rows(IdSpan ids, MatrixView v, RowStore& store) {
  VECPERF_RETURN_IF_ERROR(store.stage(v));
  reach(TestPoint::kAddInProgress);
  RowStore::Buffer replaced;  // freed on return, after the exclusive lock
  auto first = publish_ids(ids, [&] {
    replaced = store.commit();
    return Status::OK();
  });
  if (!first.ok()) store.discard_staged();
  return first.status();
}

void IndexBase::let_waiting_searches_in() const {
  // Bounded: under a steady stream of searches the count may never reach zero, and the writer
  // must not starve either. A yield is about a microsecond; a woken search takes the lock in
  // tens of microseconds.
  constexpr int kMaxYields = 256;
  for (int i = 0; i < kMaxYields && searches_waiting_.load(std::memory_order_relaxed) > 0; ++i)
    std::this_thread::yield();
}

void IndexBase::withdraw_ids(IdSpan ids) {
  std::unique_lock lock(mu_);
  (void)remove_locked(kill_ids(ids));
}

Status IndexBase::search(MatrixView queries, const SearchOptions& options,
                         SearchResults results) const {
  VECPERF_RETURN_IF_ERROR(check_search_args(options, results));
  VECPERF_RETURN_IF_ERROR(check_matrix(queries, dim_, "queries"));
  if (queries.rows == 0) return Status::OK();
  std::vector<float> normalised;
  auto prepared = prepare(metric_, queries, normalised, "queries");
  if (!prepared.ok()) return prepared.status();

  fill_unfilled(queries.rows, options.k, results);
  std::shared_lock lock = lock_for_search();
  const int64_t k_eff = std::min<int64_t>(options.k, ids_.live());
  if (k_eff == 0) return Status::OK();
  VECPERF_RETURN_IF_ERROR(guarded("searching (try a smaller batch)", [&] {
    return search_locked(*prepared, options, k_eff, options.k, results.distances, results.ids);
  }));
  const int64_t n = queries.rows * options.k;
  for (int64_t i = 0; i < n; ++i) {
    if (results.ids[i] != kNoId) results.ids[i] = ids_.id(results.ids[i]);
  }
  return Status::OK();
}

Status IndexBase::remove(IdSpan ids) {
  std::lock_guard writer(write_mu_);
  reach(TestPoint::kWriterAwaitsSaves);
  std::unique_lock gate(read_gate_);
  // Checked without mu_: only writers change the id map, and write_mu_ keeps them out, so the
  // searches (which only read it) need not wait for a pass over every id.
  std::unordered_set<int64_t> seen;
  seen.reserve(ids.size());
  for (int64_t id : ids) {
    if (!seen.insert(id).second)
      return Status::InvalidArgument("id " + std::to_string(id) + " appears twice in one remove");
    if (!ids_.contains(id))
      return Status::NotFound("id " + std::to_string(id) + " is not in the index; nothing removed");
  }
  // In chunks, releasing the lock in between, so that a search waits for one chunk at most (an
  // IVF removal rewrites a list entry and the direct map per id). Each chunk's slots are looked
  // up after the chunks before it, which may have moved slots (Flat keeps its rows dense).
  const size_t per_chunk = std::max<size_t>(1, remove_chunk_ids());
  for (size_t begin = 0; begin < ids.size(); begin += per_chunk) {
    if (begin > 0) let_waiting_searches_in();
    std::unique_lock lock(mu_);
    const IdSpan chunk = ids.subspan(begin, std::min(per_chunk, ids.size() - begin));
    VECPERF_RETURN_IF_ERROR(remove_locked(kill_ids(chunk)));
  }
  after_remove_unlocked();  // searches run during what remains
  return Status::OK();
}

size_t IndexBase::memory_bytes() const {
  std::shared_lock lock(mu_);
  return ids_.memory_bytes() + memory_locked();
}

std::string IndexBase::describe() const {
  std::shared_lock lock(mu_);
  return describe_locked();
}

bool IndexBase::contains(int64_t id) const {
  std::shared_lock lock(mu_);
  return ids_.contains(id);
}

Status IndexBase::get_vector(int64_t id, float* out) const {
  if (out == nullptr) return Status::InvalidArgument("get_vector needs an output buffer");
  std::shared_lock lock(mu_);
  int64_t slot = ids_.slot(id);
  if (slot < 0) return Status::NotFound("id " + std::to_string(id) + " is not in the index");
  vector_locked(slot, out);
  return Status::OK();
}

SearchOptions IndexBase::default_search_options() const {
  std::shared_lock lock(mu_);
  return defaults_locked();
}

Status IndexBase::set_default_search_options(const SearchOptions& o) {
  if (o.nprobe < 0 || o.ef_search < 0 || o.rerank < 0)
    return Status::InvalidArgument(
        "default nprobe, ef_search and rerank must be >= 0 "
        "(0 keeps the current default)");
  // Exclusive: searches read the defaults under the shared lock, so none sees a half update.
  const WriteLocks locks = lock_for_write();
  return set_defaults_locked(o);
}

IndexCapabilities IndexBase::capabilities() const {
  std::shared_lock lock(mu_);
  return capabilities_locked();
}

void IndexBase::for_each_vector(const VectorVisitor& fn) const {
  std::shared_lock gate(read_gate_);  // a long read: writers wait, searches do not
  std::vector<float> buf(static_cast<size_t>(dim_));
  for (int64_t s = 0; s < ids_.slots(); ++s) {
    int64_t id = ids_.id(s);
    if (id == kNoId) continue;
    vector_locked(s, buf.data());
    fn(id, buf.data());
  }
}

void IndexBase::write_payload(Writer& w) const {
  std::shared_lock gate(read_gate_);  // a long read: writers wait, searches do not
  reach(TestPoint::kSaveSerializing);
  w.pod<int64_t>(dim_);
  w.pod<uint32_t>(static_cast<uint32_t>(metric_));
  ids_.save(w);
  save_locked(w);
}

Result<std::unique_ptr<IndexImpl>> IndexBase::read_payload(IndexKind kind, Reader& r) {
  int64_t dim = 0;
  uint32_t metric = 0;
  r.pod(&dim, "dimension");
  r.pod(&metric, "metric");
  if (!r.status().ok()) return r.status();
  if (dim < 1 || dim > kMaxDim) {
    r.corrupt("dimension " + std::to_string(dim) + " is out of range");
    return r.status();
  }
  if (metric > static_cast<uint32_t>(Metric::kCosine)) {
    r.corrupt("unknown metric " + std::to_string(metric));
    return r.status();
  }
  IdMap ids;
  if (!ids.load(r)) return r.status();
  const Metric m = static_cast<Metric>(metric);
  Result<std::unique_ptr<IndexImpl>> loaded =
      Status::Corruption(r.what() + ": an auto index cannot be a backend's payload");
  switch (kind) {
    case IndexKind::kFlat: loaded = load_flat(r, dim, m, std::move(ids)); break;
    case IndexKind::kIvf: loaded = load_ivf(r, dim, m, std::move(ids)); break;
    case IndexKind::kHnsw: loaded = load_hnsw(r, dim, m, std::move(ids)); break;
    case IndexKind::kGpuFlat: loaded = load_gpu_flat(r, dim, m, std::move(ids)); break;
    case IndexKind::kAuto: break;
  }
  return loaded;
}

}  // namespace vecperf::internal
