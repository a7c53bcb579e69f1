// The registry (see registry.h) and the Prometheus exposition of everything it holds.
//
// The registry is a leaked singleton: indexes and caches with static storage duration may be
// destroyed after any static registry would be, and must still be able to unregister.
#include "metrics/registry.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "vecperf/metrics.h"

namespace vecperf::internal {
namespace {

constexpr const char* kOpNames[kIndexOps] = {"search", "add", "remove"};

double seconds_since(uint64_t start_ns) {
  return static_cast<double>(metrics_now_ns() - start_ns) * 1e-9;
}

}  // namespace

class Registry {
 public:
  static Registry& get() {
    static Registry* registry = new Registry();  // leaked on purpose, see the file comment
    return *registry;
  }

  std::unique_ptr<IndexMetrics> add_index(const void* owner, std::string kind, std::string metric,
                                          int64_t dim) {
    std::lock_guard lock(mu_);
    std::unique_ptr<IndexMetrics> m(
        new IndexMetrics(owner, next_index_seq_, std::move(kind), std::move(metric), dim));
    indexes_.push_back(m.get());
    ++next_index_seq_;
    return m;
  }

  void remove_index(const IndexMetrics* m) {
    std::lock_guard lock(mu_);
    std::erase(indexes_, m);
  }

  void add_cache(CacheRegistration* c) {
    std::lock_guard lock(mu_);
    c->seq_ = next_cache_seq_++;
    caches_.push_back(c);
  }

  void remove_cache(const CacheRegistration* c) {
    std::lock_guard lock(mu_);
    std::erase(caches_, c);
  }

  void set_index_name(const void* index, std::string name) {
    std::lock_guard lock(mu_);
    if (IndexMetrics* m = find_index(index)) m->name_ = std::move(name);
  }

  void set_index_budget(const void* index, size_t budget) {
    std::lock_guard lock(mu_);
    if (IndexMetrics* m = find_index(index)) m->memory_budget_ = budget;
  }

  void set_cache_name(const void* cache, std::string name) {
    std::lock_guard lock(mu_);
    for (CacheRegistration* c : caches_) {
      if (c->cache_ == cache) {
        c->name_ = std::move(name);
        return;  // a cache registers once
      }
    }
  }

  void set_devices(DeviceMetricsSource source) {
    std::lock_guard lock(mu_);
    devices_ = std::move(source);
  }

  std::string prometheus() {
    Exposition e;
    using T = Exposition::Type;
    // Index families are declared up front so that a scrape has the same families (and order)
    // whether or not any index exists yet.
    e.family("vecperf_process_resident_memory_bytes", T::kGauge,
             "Resident set size of the process.");
    e.family("vecperf_index_info", T::kGauge,
             "Constant 1 per live index; its labels give the backend kind, metric and dimension.");
    e.family("vecperf_index_vectors", T::kGauge, "Live vectors in the index.");
    e.family("vecperf_index_memory_bytes", T::kGauge,
             "Memory held by the index (vectors, lists or graph, id map).");
    e.family("vecperf_index_memory_budget_bytes", T::kGauge,
             "Memory budget set for the index with set_memory_budget.");
    e.family("vecperf_index_calls_total", T::kCounter,
             "Calls of search, add and remove, failed ones included.");
    e.family("vecperf_index_search_queries_total", T::kCounter,
             "Query vectors answered by successful searches.");
    e.family("vecperf_index_added_vectors_total", T::kCounter, "Vectors added successfully.");
    e.family("vecperf_index_removed_vectors_total", T::kCounter, "Vectors removed successfully.");
    e.family("vecperf_index_errors_total", T::kCounter,
             "Failed calls by operation and status code.");
    e.family("vecperf_index_migrations_total", T::kCounter,
             "Migrations of an auto index to its next stage, by result (ok, failed).");
    e.family("vecperf_index_search_latency_seconds", T::kHistogram,
             "Latency of successful search calls (one sample per call, whatever its batch size).");

    e.gauge("vecperf_process_resident_memory_bytes", "", "",
            static_cast<double>(resident_memory_bytes()));
    std::lock_guard lock(mu_);
    const std::vector<std::string> index_names = effective_names(indexes_, "index");
    for (size_t i = 0; i < indexes_.size(); ++i) {
      const IndexMetrics& m = *indexes_[i];
      const std::string labels = format_labels({{"index", index_names[i]}});
      const std::string dim = std::to_string(m.dim_);
      e.gauge(
          "vecperf_index_info", "",
          format_labels(
              {{"index", index_names[i]}, {"kind", m.kind_}, {"metric", m.metric_}, {"dim", dim}}),
          1);
      e.gauge("vecperf_index_vectors", "", labels,
              static_cast<double>(m.size_.load(std::memory_order_relaxed)));
      e.gauge("vecperf_index_memory_bytes", "", labels,
              static_cast<double>(m.memory_bytes_.load(std::memory_order_relaxed)));
      if (m.memory_budget_ > 0) {
        e.gauge("vecperf_index_memory_budget_bytes", "", labels,
                static_cast<double>(m.memory_budget_));
      }
      for (int op = 0; op < kIndexOps; ++op) {
        const std::string op_labels = join_labels(labels, format_labels({{"op", kOpNames[op]}}));
        e.counter("vecperf_index_calls_total", "", op_labels,
                  m.calls_[op].load(std::memory_order_relaxed));
        for (int code = 1; code < kStatusCodes; ++code) {
          const uint64_t n = m.errors_[op * kStatusCodes + code].load(std::memory_order_relaxed);
          // Only codes that occurred: ten mostly-zero series per operation would drown the rest.
          if (n == 0) continue;
          e.counter(
              "vecperf_index_errors_total", "",
              join_labels(op_labels, format_labels({{"code", status_code_name(StatusCode(code))}})),
              n);
        }
      }
      e.counter("vecperf_index_search_queries_total", "", labels,
                m.search_queries_.load(std::memory_order_relaxed));
      e.counter("vecperf_index_added_vectors_total", "", labels,
                m.added_vectors_.load(std::memory_order_relaxed));
      e.counter("vecperf_index_removed_vectors_total", "", labels,
                m.removed_vectors_.load(std::memory_order_relaxed));
      if (m.kind_ == "auto") {  // the only kind that migrates
        e.counter("vecperf_index_migrations_total", "",
                  join_labels(labels, format_labels({{"result", "ok"}})),
                  m.migrations_.load(std::memory_order_relaxed));
        e.counter("vecperf_index_migrations_total", "",
                  join_labels(labels, format_labels({{"result", "failed"}})),
                  m.migration_failures_.load(std::memory_order_relaxed));
      }
      e.histogram_ns("vecperf_index_search_latency_seconds", "", labels, m.search_latency_);
    }
    const std::vector<std::string> cache_names = effective_names(caches_, "cache");
    for (size_t i = 0; i < caches_.size(); ++i) {
      caches_[i]->collect_(e, format_labels({{"cache", cache_names[i]}}));
    }
    if (devices_) {
      for (const DeviceMetrics& d : devices_()) {
        const std::string labels =
            format_labels({{"device", std::to_string(d.device)}, {"name", d.name}});
        e.gauge("vecperf_device_memory_used_bytes", "Device memory in use.", labels,
                static_cast<double>(d.memory_used_bytes));
        // Unknown figures are left out rather than reported as 0 (see DeviceMetrics).
        if (d.memory_total_bytes > 0)
          e.gauge("vecperf_device_memory_total_bytes", "Device memory in total.", labels,
                  static_cast<double>(d.memory_total_bytes));
        if (d.utilization >= 0)
          e.gauge("vecperf_device_utilization_ratio",
                  "Fraction of the last sampling period the device was busy.", labels,
                  d.utilization);
        e.counter("vecperf_device_batch_searches_total", "Batch searches run on the device.",
                  labels, d.batch_searches);
        if (d.batch_search_utilization >= 0)
          e.gauge("vecperf_device_batch_search_utilization_ratio",
                  "Fraction of batch-search wall time the device was busy.", labels,
                  d.batch_search_utilization);
      }
    }
    return e.text();
  }

  MetricsSnapshot snapshot() {
    MetricsSnapshot s;
    s.resident_memory_bytes = resident_memory_bytes();
    std::lock_guard lock(mu_);
    const std::vector<std::string> index_names = effective_names(indexes_, "index");
    s.indexes.reserve(indexes_.size());
    for (size_t i = 0; i < indexes_.size(); ++i) {
      const IndexMetrics& m = *indexes_[i];
      IndexSnapshot& x = s.indexes.emplace_back();
      x.name = index_names[i];
      x.kind = m.kind_;
      x.metric = m.metric_;
      x.migrations = m.migrations_.load(std::memory_order_relaxed);
      x.migration_failures = m.migration_failures_.load(std::memory_order_relaxed);
      x.migration_failing = m.migration_failing_.load(std::memory_order_relaxed);
      x.dim = m.dim_;
      x.size = m.size_.load(std::memory_order_relaxed);
      x.memory_bytes = m.memory_bytes_.load(std::memory_order_relaxed);
      x.memory_budget_bytes = m.memory_budget_;
      x.age_seconds = seconds_since(m.created_ns_);
      for (int op = 0; op < kIndexOps; ++op) {
        x.calls[op] = m.calls_[op].load(std::memory_order_relaxed);
      }
      x.search_queries = m.search_queries_.load(std::memory_order_relaxed);
      x.added_vectors = m.added_vectors_.load(std::memory_order_relaxed);
      x.removed_vectors = m.removed_vectors_.load(std::memory_order_relaxed);
      for (const auto& n : m.errors_) x.errors += n.load(std::memory_order_relaxed);
      x.search_latency = m.search_latency_.summary();
    }
    const std::vector<std::string> cache_names = effective_names(caches_, "cache");
    s.caches.reserve(caches_.size());
    for (size_t i = 0; i < caches_.size(); ++i) {
      s.caches.push_back(CacheSnapshot{cache_names[i], caches_[i]->stats_()});
    }
    if (devices_) s.devices = devices_();
    return s;
  }

 private:
  // Effective names of registered objects, in creation order: the caller's name or
  // "<prefix><seq>", with "-<seq>" appended to a name an earlier object already shows.
  template <typename Entry>
  static std::vector<std::string> effective_names(const std::vector<Entry*>& entries,
                                                  const char* prefix) {
    std::vector<std::string> names;
    names.reserve(entries.size());
    std::unordered_set<std::string> used;
    for (const Entry* e : entries) {
      const std::string seq = std::to_string(e->seq_);
      std::string name = e->name_.empty() ? prefix + seq : e->name_;
      // Each round makes the name longer, so this ends.
      while (!used.insert(name).second) name += "-" + seq;
      names.push_back(std::move(name));
    }
    return names;
  }

  IndexMetrics* find_index(const void* index) {
    for (IndexMetrics* m : indexes_) {
      if (m->owner_ == index) return m;
    }
    return nullptr;
  }

  std::mutex mu_;
  std::vector<IndexMetrics*> indexes_;      // guarded by mu_
  std::vector<CacheRegistration*> caches_;  // guarded by mu_
  uint64_t next_index_seq_ = 0;             // guarded by mu_
  uint64_t next_cache_seq_ = 0;             // guarded by mu_
  DeviceMetricsSource devices_;             // guarded by mu_
};

IndexMetrics::IndexMetrics(const void* owner, uint64_t seq, std::string kind, std::string metric,
                           int64_t dim)
    : owner_(owner),
      seq_(seq),
      kind_(std::move(kind)),
      metric_(std::move(metric)),
      dim_(dim),
      created_ns_(metrics_now_ns()) {}

std::unique_ptr<IndexMetrics> IndexMetrics::create(const void* owner, std::string kind,
                                                   std::string metric, int64_t dim) {
  return Registry::get().add_index(owner, std::move(kind), std::move(metric), dim);
}

IndexMetrics::~IndexMetrics() { Registry::get().remove_index(this); }

void IndexMetrics::record_search(int64_t queries, uint64_t elapsed_ns,
                                 const Status& status) noexcept {
  calls_[static_cast<int>(IndexOp::kSearch)].fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) {
    errors_[static_cast<int>(IndexOp::kSearch) * kStatusCodes + static_cast<int>(status.code())]
        .fetch_add(1, std::memory_order_relaxed);
    return;
  }
  search_queries_.fetch_add(static_cast<uint64_t>(queries), std::memory_order_relaxed);
  search_latency_.record(elapsed_ns);
}

void IndexMetrics::record_write(IndexOp op, int64_t vectors, const Status& status) noexcept {
  const int i = static_cast<int>(op);
  calls_[i].fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) {
    errors_[i * kStatusCodes + static_cast<int>(status.code())].fetch_add(
        1, std::memory_order_relaxed);
    return;
  }
  auto& total = op == IndexOp::kAdd ? added_vectors_ : removed_vectors_;
  total.fetch_add(static_cast<uint64_t>(vectors), std::memory_order_relaxed);
}

void IndexMetrics::set_shape(int64_t size, size_t memory_bytes) noexcept {
  size_.store(size, std::memory_order_relaxed);
  memory_bytes_.store(memory_bytes, std::memory_order_relaxed);
}

void IndexMetrics::set_migrations(int64_t completed, int64_t failed, bool last_failed) noexcept {
  migrations_.store(static_cast<uint64_t>(completed), std::memory_order_relaxed);
  migration_failures_.store(static_cast<uint64_t>(failed), std::memory_order_relaxed);
  migration_failing_.store(last_failed, std::memory_order_relaxed);
}

CacheRegistration::CacheRegistration(const void* cache, Collect collect, Stats stats)
    : cache_(cache), collect_(std::move(collect)), stats_(std::move(stats)) {
  Registry::get().add_cache(this);
}

CacheRegistration::~CacheRegistration() { Registry::get().remove_cache(this); }

void set_device_metrics_source(DeviceMetricsSource source) {
  Registry::get().set_devices(std::move(source));
}

uint64_t resident_memory_bytes() {
  // statm: size resident shared text lib data dt, in pages. One read of a tiny procfs file.
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  const long page = sysconf(_SC_PAGESIZE);
  if (n != 2 || page <= 0) return 0;
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(page);
}

MetricsSnapshot metrics_snapshot() { return Registry::get().snapshot(); }

}  // namespace vecperf::internal

namespace vecperf {

std::string prometheus_text() { return internal::Registry::get().prometheus(); }

void set_metrics_name(const Index& index, std::string name) {
  internal::Registry::get().set_index_name(&index, std::move(name));
}

void set_metrics_name(const EmbeddingCache& cache, std::string name) {
  internal::Registry::get().set_cache_name(&cache, std::move(name));
}

void set_memory_budget(const Index& index, size_t budget_bytes) {
  internal::Registry::get().set_index_budget(&index, budget_bytes);
}

}  // namespace vecperf
