// Dense row store (see row_store.h).
#include "index/row_store.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "distance/distance.h"

namespace vecperf::internal {
namespace {

// Buffers of 2 MB or more are 2 MB-aligned and advised as transparent huge pages: a scan
// streams the whole store, and with 4 KB pages the hardware prefetcher stops at every page
// boundary and every 4 KB costs a TLB miss (measured at d = 128, one core, shared machine:
// ~12-17 GB/s with 4 KB pages vs ~19-22 GB/s with huge pages).
constexpr size_t kHugePage = size_t{2} << 20;

float* allocate_floats(size_t count, size_t* bytes) {
  *bytes = count * sizeof(float);
  if (*bytes == 0) return nullptr;
  if (*bytes < kHugePage) return static_cast<float*>(std::malloc(*bytes));
  *bytes = (*bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, *bytes);
  // Advice only: where THP is disabled the buffer simply keeps 4 KB pages.
  if (p != nullptr) (void)madvise(p, *bytes, MADV_HUGEPAGE);
  return static_cast<float*>(p);
}

// Rows the first buffer holds: growth doubles from there.
constexpr int64_t kFirstCapacity = 1024;

}  // namespace

RowStore::Buffer::~Buffer() {
  std::free(rows);
  std::free(norms);
}

RowStore::Buffer::Buffer(Buffer&& o) noexcept { *this = std::move(o); }

RowStore::Buffer& RowStore::Buffer::operator=(Buffer&& o) noexcept {
  std::swap(rows, o.rows);
  std::swap(norms, o.norms);
  std::swap(capacity, o.capacity);
  std::swap(row_bytes, o.row_bytes);
  std::swap(norm_bytes, o.norm_bytes);
  return *this;
}

Status RowStore::allocate(int64_t capacity, Buffer* out) const {
  Buffer b;
  b.rows = allocate_floats(static_cast<size_t>(capacity * dim_), &b.row_bytes);
  if (keep_norms_) b.norms = allocate_floats(static_cast<size_t>(capacity), &b.norm_bytes);
  if (b.rows == nullptr || (keep_norms_ && b.norms == nullptr))
    return Status::ResourceExhausted("out of memory growing the vector store to " +
                                     std::to_string(capacity) + " vectors; nothing was added");
  b.capacity = capacity;
  *out = std::move(b);
  return Status::OK();
}

void RowStore::fill(Buffer& b, int64_t at, MatrixView v) const {
  std::memcpy(b.rows + at * dim_, v.data, static_cast<size_t>(v.rows * dim_) * sizeof(float));
  if (!keep_norms_) return;
  const DistanceKernels& k = kernels();
  for (int64_t i = 0; i < v.rows; ++i)
    b.norms[at + i] = k.dot(v.row(i), v.row(i), static_cast<size_t>(dim_));
}

Status RowStore::stage(MatrixView v) {
  const int64_t need = rows_ + v.rows;
  if (need <= cur_.capacity) {
    fill(cur_, rows_, v);  // past rows(): no search reads these rows
  } else {
    Buffer bigger;
    VECPERF_RETURN_IF_ERROR(allocate(std::max({need, 2 * cur_.capacity, kFirstCapacity}), &bigger));
    // The current rows are only read meanwhile (removals wait for this writer), so copying
    // them needs no lock.
    if (rows_ > 0) {
      std::memcpy(bigger.rows, cur_.rows, static_cast<size_t>(rows_ * dim_) * sizeof(float));
      if (keep_norms_)
        std::memcpy(bigger.norms, cur_.norms, static_cast<size_t>(rows_) * sizeof(float));
    }
    fill(bigger, rows_, v);
    pending_ = std::move(bigger);
  }
  staged_ = v.rows;
  return Status::OK();
}

RowStore::Buffer RowStore::commit() {
  Buffer replaced;
  if (pending_.capacity > 0) {
    replaced = std::move(cur_);
    cur_ = std::move(pending_);
    pending_ = Buffer();
  }
  rows_ += staged_;
  staged_ = 0;
  return replaced;
}

void RowStore::discard_staged() {
  pending_ = Buffer();
  staged_ = 0;
}

void RowStore::move_row(int64_t from, int64_t to) {
  std::memcpy(cur_.rows + to * dim_, cur_.rows + from * dim_,
              static_cast<size_t>(dim_) * sizeof(float));
  if (keep_norms_) cur_.norms[to] = cur_.norms[from];
}

void RowStore::truncate(int64_t rows) { rows_ = std::min(rows_, rows); }

Status RowStore::assign(const char* bytes, int64_t rows) {
  Buffer b;
  VECPERF_RETURN_IF_ERROR(allocate(std::max(rows, int64_t{1}), &b));
  // The bytes come from a file view: unaligned, so copied rather than read as floats.
  std::memcpy(b.rows, bytes, static_cast<size_t>(rows * dim_) * sizeof(float));
  cur_ = std::move(b);
  if (keep_norms_) {
    const DistanceKernels& k = kernels();
    for (int64_t i = 0; i < rows; ++i)
      cur_.norms[i] = k.dot(row(i), row(i), static_cast<size_t>(dim_));
  }
  rows_ = rows;
  return Status::OK();
}

void RowStore::clear_row(int64_t i) {
  std::fill_n(cur_.rows + i * dim_, dim_, 0.0f);
  if (keep_norms_) cur_.norms[i] = 0.0f;
}

Status RowStore::gather(std::span<const int64_t> src, Buffer* out) const {
  Buffer b;
  VECPERF_RETURN_IF_ERROR(allocate(std::max<int64_t>(static_cast<int64_t>(src.size()), 1), &b));
  const size_t row_bytes = static_cast<size_t>(dim_) * sizeof(float);
  for (size_t i = 0; i < src.size(); ++i) {
    std::memcpy(b.rows + static_cast<int64_t>(i) * dim_, row(src[i]), row_bytes);
    if (keep_norms_) b.norms[i] = cur_.norms[src[i]];
  }
  *out = std::move(b);
  return Status::OK();
}

RowStore::Buffer RowStore::replace(Buffer b, int64_t rows) {
  Buffer replaced = std::move(cur_);
  cur_ = std::move(b);
  rows_ = rows;
  return replaced;
}

void RowStore::scan(const float* query, Metric metric, int64_t begin, int64_t end, TopK& top,
                    float* buf) const {
  const size_t d = static_cast<size_t>(dim_);
  const DistanceKernels& kern = kernels();
  const bool l2 = metric == Metric::kL2;
  for (int64_t b = begin; b < end; b += kScanBlock) {
    const int64_t m = std::min(kScanBlock, end - b);
    const float* rows = row(b);
    // The scan is bound by memory bandwidth, so L2 is computed directly (exact in float)
    // rather than through the norm expansion.
    if (l2) {
      kern.l2sqr_many(query, rows, static_cast<size_t>(m), d, buf);
    } else {
      kern.dot_many(query, rows, static_cast<size_t>(m), d, buf);
      for (int64_t j = 0; j < m; ++j) buf[j] = 1.0f - buf[j];
    }
    offer(top, buf, m, b);
  }
}

void remove_dense(std::span<const int64_t> slots, IdMap& ids, RowStore& store) {
  std::vector<int64_t> holes(slots.begin(), slots.end());
  std::sort(holes.begin(), holes.end(), std::greater<>());
  // Highest hole first: the last slot is then either the hole itself or a live vector.
  for (int64_t hole : holes) {
    const int64_t last = ids.slots() - 1;
    if (hole != last) store.move_row(last, hole);
    ids.move_last_into(hole);
  }
  store.truncate(ids.slots());
}

Status read_rows(Reader& r, int64_t rows, const char* what, RowStore* store) {
  uint64_t count = 0;
  if (!r.pod(&count, what)) return r.status();
  if (count != static_cast<uint64_t>(rows * store->dim())) {
    r.corrupt(std::string(what) + ": vector count does not match the id map");
    return r.status();
  }
  const char* bytes = r.view(count * sizeof(float), what);
  if (bytes == nullptr) return r.status();
  return store->assign(bytes, rows);
}

void offer(TopK& top, const float* dist, int64_t n, int64_t base_label) {
  constexpr int64_t kGroup = 32;
  float thr = top.threshold();
  int64_t j = 0;
  for (; j + kGroup <= n; j += kGroup) {
    int hits = 0;
    for (int64_t t = 0; t < kGroup; ++t) hits += dist[j + t] <= thr ? 1 : 0;
    if (hits == 0) continue;
    for (int64_t t = j; t < j + kGroup; ++t) {
      if (dist[t] <= thr) {
        top.push(dist[t], base_label + t);
        thr = top.threshold();
      }
    }
  }
  for (; j < n; ++j) {
    if (dist[j] <= thr) {
      top.push(dist[j], base_label + j);
      thr = top.threshold();
    }
  }
}

}  // namespace vecperf::internal
