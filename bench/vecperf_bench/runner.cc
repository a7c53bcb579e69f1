// The vecperf side of the benchmark and the measuring loop shared by every engine.
//
// Each setting is measured three ways: one batch search of all queries (recall, and the batch
// QPS as the median of --repeats timings), then each query alone on one thread (single-query
// QPS and the latency percentiles). The batch search before the timings also warms the caches.
#include "vecperf_bench/runner.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "build/plan_rules.h"
#include "common/bench_common.h"
#include "vecperf/factory.h"
#include "vecperf/options.h"

namespace vecperf::bench {
namespace {

// Rows added per call while building, so that progress can be shown.
constexpr int64_t kBuildChunks = 50;
constexpr int64_t kMinChunkRows = 4096;
// Top of the automatic ef_search sweep.
constexpr int kMaxAutoEf = 1024;

}  // namespace

int describe_value(const std::string& describe, const std::string& key) {
  const size_t at = describe.find(", " + key + "=");
  if (at == std::string::npos) return 0;
  return std::atoi(describe.c_str() + at + key.size() + 3);
}

VecperfEngine::VecperfEngine(std::unique_ptr<Index> index) : index_(std::move(index)) {
  // The backend serving searches (an auto index's stage) and its knob; an IVF index still
  // buffering before its training searches exactly and has none.
  const IndexCapabilities c = index_->capabilities();
  kind_ = index_kind_name(c.serving_kind);
  knob_ = search_knob_name(c.knob);
  if (c.knob == SearchKnob::kEfSearch) max_knob_ = kMaxAutoEf;
  if (c.knob == SearchKnob::kNprobe) max_knob_ = static_cast<int>(std::max<int64_t>(1, c.knob_max));
}

int VecperfEngine::default_knob() const {
  const SearchOptions d = index_->default_search_options();
  const std::string k = knob();
  return k == "nprobe" ? d.nprobe : k == "ef_search" ? d.ef_search : 0;
}

Status VecperfEngine::search(MatrixView queries, int k, int value, int threads, int64_t* ids) {
  distances_.resize(static_cast<size_t>(queries.rows * k));
  SearchOptions o;
  o.k = k;
  o.num_threads = threads;
  const std::string name = knob();
  if (name == "nprobe") o.nprobe = value;
  if (name == "ef_search") o.ef_search = value;
  return index_->search(queries, o, SearchResults{distances_.data(), ids});
}

IndexOptions resolve_index_options(const IndexSpec& spec, int64_t rows, int64_t dim,
                                   Metric metric) {
  IndexOptions o = spec.options;
  o.dim = dim;
  o.metric = metric;
  if (o.kind == IndexKind::kIvf) {
    if (o.ivf.nlist == 0) o.ivf.nlist = internal::rules::derive_nlist(rows);
    // Train once, on the whole base (FAISS's peer does the same), rather than on the first
    // train_threshold rows added.
    if (o.ivf.train_threshold == 0) o.ivf.train_threshold = std::max<int64_t>(1, rows);
    if (o.ivf.max_train_samples == IvfOptions{}.max_train_samples)
      o.ivf.max_train_samples = std::max<int64_t>(o.ivf.max_train_samples, rows);
  }
  return o;
}

Result<std::unique_ptr<VecperfEngine>> build_vecperf(const BenchOptions& options,
                                                     const FloatMatrix& base,
                                                     const Progress& progress,
                                                     std::optional<TuningResult>* tuning) {
  std::unique_ptr<Index> index;
  if (!options.load_path.empty()) {
    auto loaded = load(options.load_path);
    if (!loaded.ok()) return loaded.status().with_context("--load " + options.load_path);
    index = std::move(*loaded);
    if (index->dim() != base.dim())
      return Status::InvalidArgument("--load " + options.load_path + ": the index has dimension " +
                                     std::to_string(index->dim()) + " but the base has " +
                                     std::to_string(base.dim()));
    if (index->metric() != options.metric)
      return Status::InvalidArgument("--load " + options.load_path + ": the index uses metric " +
                                     metric_name(index->metric()) + "; pass --metric " +
                                     metric_name(index->metric()));
    if (index->size() != base.rows())
      return Status::InvalidArgument("--load " + options.load_path + ": the index holds " +
                                     std::to_string(index->size()) + " vectors but the base has " +
                                     std::to_string(base.rows()) +
                                     "; the ground truth would not match");
    return std::make_unique<VecperfEngine>(std::move(index));
  }
  const std::vector<int64_t> ids = [&] {
    std::vector<int64_t> v(static_cast<size_t>(base.rows()));
    for (int64_t i = 0; i < base.rows(); ++i) v[static_cast<size_t>(i)] = i;
    return v;
  }();
  if (options.index.plan) {
    Workload w;
    w.expected_size = base.rows();
    w.dim = base.dim();
    w.metric = options.metric;
    w.target_recall = options.target_recall;
    w.memory_budget_bytes = static_cast<size_t>(options.index.budget_mb * 1024.0 * 1024.0);
    auto p = plan(w);
    if (!p.ok()) return p.status().with_context("plan()");
    BuildOptions b;
    b.on_progress = progress;
    b.k = options.k;
    b.tuning.num_threads = options.threads;
    auto built = build_tuned(*p, ids, base.view(), b);
    if (!built.ok()) return built.status().with_context("build_tuned()");
    if (!built->tuning.knob.empty()) *tuning = built->tuning;
    index = std::move(built->index);
  } else {
    auto made =
        make_index(resolve_index_options(options.index, base.rows(), base.dim(), options.metric));
    if (!made.ok()) return made.status().with_context("--index " + options.index.text);
    index = std::move(*made);
    const int64_t chunk = std::max(kMinChunkRows, base.rows() / kBuildChunks);
    for (int64_t first = 0; first < base.rows(); first += chunk) {
      const int64_t n = std::min(chunk, base.rows() - first);
      VECPERF_RETURN_IF_ERROR(
          index->add(IdSpan(ids).subspan(static_cast<size_t>(first), static_cast<size_t>(n)),
                     MatrixView{base.row(first), n, base.dim()}));
      if (progress) progress(first + n, base.rows());
    }
  }
  if (!options.save_path.empty()) {
    Status s = index->save(options.save_path);
    if (!s.ok()) return s.with_context("--save " + options.save_path);
  }
  return std::make_unique<VecperfEngine>(std::move(index));
}

Result<RunPoint> measure(Engine& engine, int value, MatrixView queries, const IntMatrix& truth,
                         const MeasureConfig& config) {
  RunPoint p;
  p.engine = engine.engine();
  p.index = engine.index();
  p.knob = engine.knob();
  p.value = p.knob.empty() ? 0 : value;
  std::vector<int64_t> ids(static_cast<size_t>(queries.rows * config.k));

  VECPERF_RETURN_IF_ERROR(engine.search(queries, config.k, value, config.threads, ids.data()));
  auto recall = recall_at_k(ids, config.k, truth);
  if (!recall.ok()) return recall.status();
  p.recall = recall->recall;

  std::vector<double> batch;
  for (int r = 0; r < config.repeats; ++r) {
    const double start = now_seconds();
    VECPERF_RETURN_IF_ERROR(engine.search(queries, config.k, value, config.threads, ids.data()));
    batch.push_back(now_seconds() - start);
  }
  p.batch_qps = double(queries.rows) / std::max(1e-12, median(batch));

  const int64_t n =
      config.latency_queries > 0 ? std::min(config.latency_queries, queries.rows) : queries.rows;
  std::vector<double> latency(static_cast<size_t>(n));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double start = now_seconds();
    VECPERF_RETURN_IF_ERROR(
        engine.search(MatrixView{queries.row(i), 1, queries.dim}, config.k, value, 1, ids.data()));
    latency[static_cast<size_t>(i)] = now_seconds() - start;
    total += latency[static_cast<size_t>(i)];
  }
  p.single_qps = double(n) / std::max(1e-12, total);
  p.p50_ms = percentile(latency, 50) * 1e3;
  p.p95_ms = percentile(latency, 95) * 1e3;
  p.p99_ms = percentile(latency, 99) * 1e3;
  p.p999_ms = percentile(latency, 99.9) * 1e3;
  p.memory_bytes = engine.memory_bytes();
  p.memory_estimated = engine.memory_estimated();
  return p;
}

std::vector<int> sweep_values(const Engine& engine, const BenchOptions& options) {
  const std::string knob = engine.knob();
  if (knob.empty()) return {0};
  if (knob == "nprobe" && !options.nprobe.empty()) return options.nprobe;
  if (knob == "ef_search" && !options.ef_search.empty()) return options.ef_search;
  std::vector<int> v;
  const int top = engine.max_knob();
  if (knob == "ef_search") v.push_back(options.k);
  for (int x = 1; x < top; x *= 2)
    if (knob == "nprobe" || x > options.k) v.push_back(x);
  if (v.empty() || v.back() != top) v.push_back(top);
  return v;
}

}  // namespace vecperf::bench
