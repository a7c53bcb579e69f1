// GPU Flat index: exact search with the vectors resident on a CUDA device.
//
// The index keeps two copies of the vectors: the host copy (slots x dim float32, in slot order,
// like the CPU Flat index) serves save(), get_vector() and rebuilding the device copy, and the
// device copy (float32 or float16, plus squared norms for L2) serves searches through the plain
// C++ GpuFlatBackend interface (src/gpu/gpu_backend.h). Host memory is therefore the same as a
// CPU Flat index; device memory is N x dim x (4 or 2) bytes plus 4 bytes per vector for L2 and
// the search's working buffers (src/gpu/memory_planner.h).
//
// Removal compacts the host copy (the last slot moves into each hole) and re-uploads it: one
// host-to-device copy of the whole index per remove call, which is cheap next to how often a
// GPU index is searched. A remove or search that the device cannot serve falls back to an
// exact scan of the host copy when GpuFlatOptions::prefer_gpu is set.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <sstream>

#include "common/parallel.h"
#include "distance/distance.h"
#include "gpu/gpu_backend.h"
#include "index/index_base.h"
#include "index/option_table.h"
#include "index/row_store.h"
#include "index/topk.h"

namespace vecperf::internal {
namespace {

// The options as the table writes them; ranges are checked here because no validate() follows.
bool read_gpu_options(Reader& r, GpuFlatOptions* o) {
  if (!read_options(r, o, "gpu_flat")) return false;
  if (Status s = check_options(*o, "gpu_flat"); !s.ok()) return r.corrupt(std::string(s.message()));
  return true;
}

class GpuFlatIndex;

// The live gpu_flat indexes, for gpu_flat_device_use(): the device memory and batch searches of
// every one, summed per device, read from atomics so that a metrics scrape never touches an
// index's lock. Lock order: whatever the caller holds (the metrics registry's mutex during a
// scrape), then live_mu().
std::mutex& live_mu() {
  static std::mutex mu;
  return mu;
}
std::set<const GpuFlatIndex*>& live_indexes() {
  static std::set<const GpuFlatIndex*> live;
  return live;
}
void track(const GpuFlatIndex* index) {
  std::lock_guard<std::mutex> lock(live_mu());
  live_indexes().insert(index);
}

void untrack(const GpuFlatIndex* index) {
  std::lock_guard<std::mutex> lock(live_mu());
  live_indexes().erase(index);
}

class GpuFlatIndex final : public IndexBase {
 public:
  GpuFlatIndex(int64_t dim, Metric metric, const GpuFlatOptions& options,
               std::unique_ptr<GpuFlatBackend> backend, IdMap ids = {})
      : IndexBase(IndexKind::kGpuFlat, dim, metric, std::move(ids)),
        options_(options),
        backend_(std::move(backend)),
        host_(dim, metric == Metric::kL2) {
    track(this);
  }
  ~GpuFlatIndex() override { untrack(this); }

  int device() const { return options_.device; }
  uint64_t device_bytes_now() const { return device_bytes_.load(std::memory_order_relaxed); }
  uint64_t batch_searches() const { return batch_searches_.load(std::memory_order_relaxed); }

  RowStore& host() { return host_; }

  /// Replaces the device copy with the host copy (after a load or a removal); on failure the
  /// device copy is marked stale. Errors: as GpuFlatBackend::reset.
  Status upload() {
    Status s = backend_->reset(host_.data(), host_.norms(), ids().slots());
    device_stale_ = !s.ok();
    device_bytes_.store(backend_->device_bytes(), std::memory_order_relaxed);
    return s;
  }

  size_t device_memory_bytes() const override { return device_bytes_now(); }

 protected:
  Status add_locked(int64_t first_slot, MatrixView v, int /*num_threads*/) override {
    // Device slots beyond 2^31 would not fit the selection keys (src/gpu/radix_select.h).
    if (first_slot + v.rows > (int64_t{1} << 31))
      return Status::ResourceExhausted("gpu_flat holds at most 2^31 vectors");
    if (device_stale_) VECPERF_RETURN_IF_ERROR(upload());
    VECPERF_RETURN_IF_ERROR(host_.stage(v));
    // The staged rows' norms are computed by the store; the device takes them from there once
    // committed (mu_ is held exclusively here, so committing first is safe).
    host_.commit();
    Status s =
        backend_->append(v.data, host_.norms() ? host_.norms() + first_slot : nullptr, v.rows);
    if (!s.ok()) {
      host_.truncate(first_slot);  // all-or-nothing
      return s;
    }
    device_bytes_.store(backend_->device_bytes(), std::memory_order_relaxed);
    return Status::OK();
  }

  Status search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                       float* dists, int64_t* labels) const override {
    if (o.k > GpuFlatBackend::kMaxK)
      return Status::InvalidArgument("gpu_flat returns at most " +
                                     std::to_string(GpuFlatBackend::kMaxK) +
                                     " neighbours per query, got k = " + std::to_string(o.k) +
                                     "; use a CPU flat index for larger k");
    Status s = device_stale_ ? Status::Unavailable(
                                   "the device copy of the gpu_flat index could not be "
                                   "rebuilt after a removal; add or remove again to retry")
                             : backend_->search(q, k_eff, stride, dists, labels);
    if (s.ok()) batch_searches_.fetch_add(1, std::memory_order_relaxed);
    if (s.ok() || !options_.prefer_gpu ||
        (s.code() != StatusCode::kResourceExhausted && s.code() != StatusCode::kUnavailable))
      return s;
    search_host(q, o, k_eff, stride, dists, labels);
    return Status::OK();
  }

  // Every removal uploads the whole host copy: one chunk, one upload.
  size_t remove_chunk_ids() const override { return std::numeric_limits<size_t>::max(); }

  Status remove_locked(std::span<const int64_t> slots) override {
    remove_dense(slots, ids(), host_);
    // The ids are gone from the map already, so the removal stands; a failed upload leaves the
    // device copy stale until the next add/remove rebuilds it (searches report it meanwhile).
    return upload();
  }

  void vector_locked(int64_t slot, float* out) const override {
    std::copy_n(host_.row(slot), dim(), out);
  }
  void save_locked(Writer& w) const override {
    write_options(w, options_);
    // The CPU Flat layout: load can fall back to it.
    w.array(host_.data(), static_cast<size_t>(host_.rows() * dim()));
  }
  size_t memory_locked() const override { return host_.memory_bytes(); }
  std::string describe_locked() const override {
    std::ostringstream s;
    s << "gpu_flat(dim=" << dim() << ", metric=" << metric_name(metric()) << ", "
      << describe_options(options_) << ", size=" << ids().live() << ", on=" << backend_->describe()
      << ")";
    return s.str();
  }

 private:
  bool l2() const { return metric() == Metric::kL2; }

  // Exact scan of the host copy, for prefer_gpu when the device cannot serve a search: the
  // blocked SIMD scan the CPU Flat index uses.
  void search_host(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                   float* dists, int64_t* labels) const {
    const int64_t n = ids().slots();
    const Metric m = l2() ? Metric::kL2 : Metric::kInnerProduct;  // cosine data is normalised
    auto scan = [&](int64_t begin, int64_t end, int) {
      std::vector<float> buf(RowStore::kScanBlock);
      for (int64_t i = begin; i < end; ++i) {
        TopK top(k_eff);
        host_.scan(q.row(i), m, 0, n, top, buf.data());
        top.extract(dists + i * stride, labels + i * stride);
      }
    };
    parallel_chunks(q.rows, resolve_threads(o.num_threads, q.rows), scan);
  }

  const GpuFlatOptions options_;
  const std::unique_ptr<GpuFlatBackend> backend_;
  RowStore host_;  // slots() x dim, row-major, with the norms the device takes for L2
  // Written under the exclusive lock (add/remove), read under the shared one (search).
  bool device_stale_ = false;
  // Read by metric scrapes without the index lock.
  std::atomic<uint64_t> device_bytes_{0};
  mutable std::atomic<uint64_t> batch_searches_{0};
};

}  // namespace

std::unique_ptr<IndexImpl> new_gpu_flat_on(int64_t dim, Metric metric,
                                           const GpuFlatOptions& options,
                                           std::unique_ptr<GpuFlatBackend> backend) {
  return std::make_unique<GpuFlatIndex>(dim, metric, options, std::move(backend));
}

std::vector<GpuFlatDeviceUse> gpu_flat_device_use() {
  std::map<int, GpuFlatDeviceUse> by_device;
  std::lock_guard<std::mutex> lock(live_mu());
  for (const GpuFlatIndex* index : live_indexes()) {
    GpuFlatDeviceUse& d = by_device[index->device()];
    d.device = index->device();
    d.memory_bytes += index->device_bytes_now();
    d.batch_searches += index->batch_searches();
  }
  std::vector<GpuFlatDeviceUse> out;
  out.reserve(by_device.size());
  for (const auto& [device, use] : by_device) out.push_back(use);
  return out;
}

Result<std::unique_ptr<IndexImpl>> new_gpu_flat(int64_t dim, Metric metric,
                                                const GpuFlatOptions& options) {
  auto backend = make_gpu_flat_backend(dim, metric, options);
  if (!backend.ok()) {
    if (options.prefer_gpu && backend.status().code() == StatusCode::kUnavailable)
      return new_flat(dim, metric, FlatOptions{});
    return backend.status();
  }
  return new_gpu_flat_on(dim, metric, options, std::move(*backend));
}

Result<std::unique_ptr<IndexImpl>> load_gpu_flat(Reader& r, int64_t dim, Metric metric, IdMap ids) {
  GpuFlatOptions options;
  if (!read_gpu_options(r, &options)) return r.status();
  auto backend = make_gpu_flat_backend(dim, metric, options);
  if (!backend.ok()) {
    // The rest of the payload is a CPU Flat payload.
    if (options.prefer_gpu && backend.status().code() == StatusCode::kUnavailable)
      return load_flat(r, dim, metric, std::move(ids));
    return backend.status();
  }
  if (ids.live() != ids.slots()) {
    r.corrupt("gpu_flat index with dead slots");
    return r.status();
  }
  auto index =
      std::make_unique<GpuFlatIndex>(dim, metric, options, std::move(*backend), std::move(ids));
  VECPERF_RETURN_IF_ERROR(read_rows(r, index->size(), "gpu_flat vectors", &index->host()));
  VECPERF_RETURN_IF_ERROR(index->upload());
  return std::unique_ptr<IndexImpl>(std::move(index));
}

}  // namespace vecperf::internal
