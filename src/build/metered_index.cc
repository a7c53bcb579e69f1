// The metered wrapper (see metered_index.h).
//
// Gauges after a write: the refresh reads size(), memory_bytes() and migration_status() of the
// index and stores them while holding shape_mu_. Each refresh starts after its own write has
// returned, and refreshes are serialised, so the last one to run reads a state at least as new
// as every write that had returned before it: a scrape never shows an index older than its last
// completed write for longer than one refresh.
#include "build/metered_index.h"

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "metrics/registry.h"

namespace vecperf::internal {
namespace {

// Device metrics are the gpu_flat indexes' own figures (index layer), exported once per process
// through the registry's device source; installed when the first index is handed out, so a
// process that never makes an index never installs it.
void install_device_metrics() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    set_device_metrics_source([] {
      std::vector<DeviceMetrics> out;
      for (const GpuFlatDeviceUse& use : gpu_flat_device_use()) {
        DeviceMetrics d;
        d.device = use.device;
        d.name = "cuda:" + std::to_string(use.device);
        d.memory_used_bytes = use.memory_bytes;
        d.batch_searches = use.batch_searches;
        // Not measured: the backend has no device timers yet, so the busy fractions stay
        // unknown rather than reported as 0 (see DeviceMetrics).
        d.utilization = -1;
        d.batch_search_utilization = -1;
        out.push_back(std::move(d));
      }
      return out;
    });
  });
}

class MeteredIndex final : public Index {
 public:
  explicit MeteredIndex(std::unique_ptr<IndexImpl> inner)
      : inner_(std::move(inner)),
        metrics_(IndexMetrics::create(this, index_kind_name(inner_->kind()),
                                      metric_name(inner_->metric()), inner_->dim())) {
    refresh();  // a loaded index starts with vectors
  }

  IndexKind kind() const override { return inner_->kind(); }
  int64_t dim() const override { return inner_->dim(); }
  Metric metric() const override { return inner_->metric(); }
  int64_t size() const override { return inner_->size(); }

  using Index::add;
  Status add(IdSpan ids, MatrixView vectors, const AddOptions& options) override {
    return write(IndexOp::kAdd, ids.size(), [&] { return inner_->add(ids, vectors, options); });
  }

  Status search(MatrixView queries, const SearchOptions& options,
                SearchResults results) const override {
    const uint64_t start = metrics_now_ns();
    Status s = inner_->search(queries, options, results);
    metrics_->record_search(queries.rows, metrics_now_ns() - start, s);
    return s;
  }

  Status remove(IdSpan ids) override {
    return write(IndexOp::kRemove, ids.size(), [&] { return inner_->remove(ids); });
  }

  Status save(const std::string& path) const override { return inner_->save(path); }
  Result<std::string> to_bytes() const override { return inner_->to_bytes(); }
  size_t memory_bytes() const override { return inner_->memory_bytes(); }
  std::string describe() const override { return inner_->describe(); }
  bool contains(int64_t id) const override { return inner_->contains(id); }
  int64_t next_free_id() const override { return inner_->next_free_id(); }
  Status get_vector(int64_t id, float* out) const override { return inner_->get_vector(id, out); }
  SearchOptions default_search_options() const override { return inner_->default_search_options(); }
  Status set_default_search_options(const SearchOptions& options) override {
    return inner_->set_default_search_options(options);
  }
  IndexCapabilities capabilities() const override { return inner_->capabilities(); }
  void for_each_vector(const VectorVisitor& fn) const override { inner_->for_each_vector(fn); }
  size_t device_memory_bytes() const override { return inner_->device_memory_bytes(); }
  MigrationStatus migration_status() const override { return inner_->migration_status(); }

 private:
  template <typename Fn>
  Status write(IndexOp op, size_t rows, Fn&& fn) {
    Status s = fn();
    metrics_->record_write(op, static_cast<int64_t>(rows), s);
    // A failed add may still have migrated an auto index (or an IVF index may have trained),
    // so the gauges are refreshed either way.
    refresh();
    return s;
  }

  void refresh() {
    std::lock_guard lock(shape_mu_);
    metrics_->set_shape(inner_->size(), inner_->memory_bytes());
    const MigrationStatus m = inner_->migration_status();
    metrics_->set_migrations(m.migrations, m.failures, !m.last_error.ok());
  }

  const std::unique_ptr<IndexImpl> inner_;
  // Declared after inner_: destroyed (unregistered) before the index it observes.
  const std::unique_ptr<IndexMetrics> metrics_;
  std::mutex shape_mu_;  // serialises refresh(), see the file comment
};

}  // namespace

std::unique_ptr<Index> metered(std::unique_ptr<IndexImpl> index) {
  install_device_metrics();
  return std::make_unique<MeteredIndex>(std::move(index));
}

}  // namespace vecperf::internal
