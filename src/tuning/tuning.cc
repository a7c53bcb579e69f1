// tune() and tune_held_out(): exact neighbours of a query sample, then a search of the knob
// range for the smallest value whose recall@k reaches the target.
//
// The search doubles the knob from the bottom of the range until a value meets the target, then
// bisects between the last miss and that hit. Recall grows with nprobe (the probed lists nest,
// so the candidates do) and, in practice, with ef_search, which is what makes bisection valid;
// doubling from the bottom keeps the evaluations cheap, because the wanted value is usually a
// small fraction of the range and every evaluation is a batch search at the value tried. At the
// end the value below the answer has been evaluated and missed, so "smallest" is measured, not
// assumed.
#include "vecperf/tuning.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <new>
#include <utility>
#include <vector>

#include "common/guarded.h"
#include "index/index_base.h"
#include "metrics/histogram.h"
#include "tuning/exact_scan.h"

namespace vecperf {
namespace {

using Clock = std::chrono::steady_clock;

// Largest k accepted: results of sample x (k + 1) ids must stay a reasonable allocation.
constexpr int kMaxTuningK = 1 << 16;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Status check_arguments(double target_recall, int k, const TuningOptions& o) {
  if (!(target_recall > 0 && target_recall <= 1))
    return Status::InvalidArgument("target_recall must be in (0, 1], got " +
                                   std::to_string(target_recall));
  if (k < 1 || k > kMaxTuningK)
    return Status::InvalidArgument("k must be in [1, " + std::to_string(kMaxTuningK) + "], got " +
                                   std::to_string(k));
  if (o.num_threads < 0)
    return Status::InvalidArgument("TuningOptions::num_threads must be >= 0 (0 = all)");
  if (!(o.time_budget_seconds >= 0) || !std::isfinite(o.time_budget_seconds))
    return Status::InvalidArgument("TuningOptions::time_budget_seconds must be >= 0 (0 = none)");
  if (o.sample_size < 1) return Status::InvalidArgument("TuningOptions::sample_size must be >= 1");
  if (o.latency_queries < 0)
    return Status::InvalidArgument("TuningOptions::latency_queries must be >= 0");
  if (o.max_ef_search < 1)
    return Status::InvalidArgument("TuningOptions::max_ef_search must be >= 1");
  return Status::OK();
}

// At least `need` vectors in the index, which tune() needs (1) and tune_held_out() too (2).
Status check_size(const Index& index, int64_t need) {
  if (index.size() >= need) return Status::OK();
  return Status::InvalidArgument(
      need == 1 ? "the index is empty; add vectors before tuning it"
                : "tune_held_out needs at least two vectors in the index (a query and a "
                  "neighbour)");
}

// Recall@k of the index at given knobs against precomputed exact neighbours.
class Evaluator {
 public:
  Evaluator(const Index& index, MatrixView queries, std::vector<int64_t> truth,
            const int64_t* exclude, int k)
      : index_(index),
        queries_(queries),
        exclude_(exclude),
        k_(k),
        kk_(k + (exclude != nullptr ? 1 : 0)),
        truth_(std::move(truth)) {
    // Truth rows sorted, for binary search, and the number of real neighbours.
    const int64_t nq = queries.rows;
    for (int64_t q = 0; q < nq; ++q) {
      auto row = truth_.begin() + q * k;
      std::sort(row, row + k);
      neighbours_ += k - std::count(row, row + k, kNoId);
    }
    dist_.resize(static_cast<size_t>(nq * kk_));
    ids_.resize(static_cast<size_t>(nq * kk_));
  }

  Result<double> recall(SearchOptions knobs) {
    knobs.k = kk_;
    VECPERF_RETURN_IF_ERROR(index_.search(queries_, knobs, {dist_.data(), ids_.data()}));
    if (neighbours_ == 0) return 1.0;
    int64_t hits = 0;
    for (int64_t q = 0; q < queries_.rows; ++q) {
      const auto row = truth_.begin() + q * k_;
      int taken = 0;
      for (int j = 0; j < kk_ && taken < k_; ++j) {
        const int64_t id = ids_[q * kk_ + j];
        if (id == kNoId || (exclude_ != nullptr && id == exclude_[q])) continue;
        ++taken;
        hits += std::binary_search(row, row + k_, id);
      }
    }
    return static_cast<double>(hits) / static_cast<double>(neighbours_);
  }

  int search_k() const { return kk_; }

 private:
  const Index& index_;
  MatrixView queries_;
  const int64_t* exclude_;
  int k_, kk_;
  std::vector<int64_t> truth_;
  int64_t neighbours_ = 0;
  std::vector<float> dist_;
  std::vector<int64_t> ids_;
};

// Single-query latency percentiles and batch throughput at the chosen knobs.
Status measure(const Index& index, MatrixView queries, SearchOptions knobs, int search_k,
               const TuningOptions& o, TuningResult* r) {
  knobs.k = search_k;
  std::vector<float> dist(static_cast<size_t>(queries.rows * search_k));
  std::vector<int64_t> ids(dist.size());
  const int64_t n = std::min(o.latency_queries, queries.rows);
  if (n > 0) {
    internal::Histogram latency;
    SearchOptions one = knobs;
    one.num_threads = 1;
    for (int64_t q = 0; q < n; ++q) {
      const auto t0 = Clock::now();
      VECPERF_RETURN_IF_ERROR(
          index.search(MatrixView{queries.row(q), 1, queries.dim}, one, {dist.data(), ids.data()}));
      latency.record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
    }
    r->latency_queries = n;
    r->latency_p50_ms = latency.percentile(50) / 1e6;
    r->latency_p99_ms = latency.percentile(99) / 1e6;
  }
  knobs.num_threads = o.num_threads;
  const auto t0 = Clock::now();
  VECPERF_RETURN_IF_ERROR(index.search(queries, knobs, {dist.data(), ids.data()}));
  const double t = seconds_since(t0);
  r->batch_qps = t > 0 ? static_cast<double>(queries.rows) / t : 0;
  return Status::OK();
}

std::string format_recall(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", r);
  return buf;
}

// The fields every result has: what was asked and the index's current knobs.
TuningResult base_result(const Index& index, const IndexCapabilities& knob, double target, int k,
                         bool held_out) {
  TuningResult r;
  r.kind = knob.serving_kind;
  r.target_recall = target;
  r.k = k;
  r.held_out = held_out;
  r.search_options = index.default_search_options();
  r.search_options.k = k;
  return r;
}

// The result for an index whose searches are exact: nothing to search for.
TuningResult exact_result(const Index& index, const IndexCapabilities& knob, double target, int k,
                          bool held_out, Clock::time_point start) {
  TuningResult r = base_result(index, knob, target, k, held_out);
  r.message = knob.serving_kind == IndexKind::kIvf
                  ? "the IVF index has not trained yet (it trains once it holds "
                    "train_threshold vectors) and searches exactly: nothing to tune; tune "
                    "again after it has trained"
                  : "searches are exact: nothing to tune";
  r.seconds = seconds_since(start);
  return r;
}

// The knob search proper, on validated input; `exclude` holds the held-out queries' own ids.
Result<TuningResult> run(Index& index, const IndexCapabilities& knob, MatrixView queries,
                         const int64_t* exclude, double target, int k, const TuningOptions& o,
                         Clock::time_point start) {
  TuningResult r = base_result(index, knob, target, k, exclude != nullptr);
  r.sample_size = queries.rows;

  auto truth = internal::exact_neighbours(index, queries, k, exclude, o.num_threads);
  if (!truth.ok()) return truth.status();
  Evaluator eval(index, queries, std::move(*truth), exclude, k);

  r.knob = search_knob_name(knob.knob);
  const bool nprobe = knob.knob == SearchKnob::kNprobe;
  const int lo_bound = nprobe ? 1 : k;
  const int hi_bound = nprobe ? static_cast<int>(std::clamp<int64_t>(knob.knob_max, 1, INT32_MAX))
                              : std::max(k, o.max_ef_search);
  r.min_value = lo_bound;
  r.max_value = hi_bound;
  const int steps = static_cast<int>(
      std::ceil(std::log2(static_cast<double>(hi_bound) / static_cast<double>(lo_bound) + 1.0)));
  const int64_t max_evaluations = 2 * int64_t{steps} + 1;

  SearchOptions knobs = r.search_options;
  knobs.num_threads = o.num_threads;
  std::map<int, double> measured;
  auto evaluate = [&](int v) -> Status {
    (nprobe ? knobs.nprobe : knobs.ef_search) = v;
    auto rec = eval.recall(knobs);
    if (!rec.ok()) return rec.status();
    measured[v] = *rec;
    ++r.evaluations;
    if (o.on_progress)
      o.on_progress(std::min<int64_t>(r.evaluations, max_evaluations), max_evaluations);
    return Status::OK();
  };
  auto out_of_time = [&] {
    return o.time_budget_seconds > 0 && seconds_since(start) >= o.time_budget_seconds;
  };

  // Invariant: `miss` (when >= lo_bound) was evaluated below target, `hit` (when > 0) at or
  // above it, and miss < hit.
  int miss = lo_bound - 1, hit = 0;
  bool stopped = false;
  for (int v = lo_bound;;) {
    VECPERF_RETURN_IF_ERROR(evaluate(v));
    if (measured[v] >= target) {
      hit = v;
      break;
    }
    miss = v;
    if (v == hi_bound) break;
    if (out_of_time()) {
      stopped = true;
      break;
    }
    v = static_cast<int>(std::min<int64_t>(hi_bound, 2 * int64_t{v}));
  }
  while (hit > 0 && hit - miss > 1 && !stopped) {
    if (out_of_time()) {
      stopped = true;
      break;
    }
    const int mid = miss + (hit - miss) / 2;
    VECPERF_RETURN_IF_ERROR(evaluate(mid));
    (measured[mid] >= target ? hit : miss) = mid;
  }

  r.value = hit > 0 ? hit : miss;  // no hit: the largest value tried, the best recall seen
  r.recall = measured[r.value];
  r.met_target = hit > 0;
  r.complete = !stopped;
  (nprobe ? r.search_options.nprobe : r.search_options.ef_search) = r.value;
  const std::string at = r.knob + " " + std::to_string(r.value);
  if (stopped) {
    r.message = "the time budget of " + std::to_string(o.time_budget_seconds) +
                " s ran out after " + std::to_string(r.evaluations) + " evaluations: " +
                (r.met_target ? at + " meets the target, a smaller value may too"
                              : "no value tried met the target; the best so far, " + at +
                                    ", gives recall " + format_recall(r.recall));
  } else if (!r.met_target) {
    r.message =
        "target recall@" + std::to_string(k) + " " + format_recall(target) +
        " is out of reach: the largest " + at + " gives " + format_recall(r.recall) + "; " +
        (nprobe ? "every list is probed, so the codes limit recall (use float32 lists or rerank) "
                  "or the target is too close to 1 for float rounding of near-ties"
                : "raise TuningOptions::max_ef_search, or rebuild with a larger M or "
                  "ef_construction") +
        ", or lower the target";
  }

  if (r.message.empty() && exclude != nullptr && !nprobe)
    r.message =
        "the queries are stored vectors, which a graph finds more easily than unseen queries: "
        "expect lower recall for new queries at this ef_search (tune with real queries, or "
        "build with build_tuned, which holds its sample out of the index)";
  (nprobe ? knobs.nprobe : knobs.ef_search) = r.value;
  VECPERF_RETURN_IF_ERROR(measure(index, queries, knobs, eval.search_k(), o, &r));
  if (o.apply) {
    SearchOptions apply;
    (nprobe ? apply.nprobe : apply.ef_search) = r.value;
    VECPERF_RETURN_IF_ERROR(index.set_default_search_options(apply));
    r.applied = true;
  }
  r.seconds = seconds_since(start);
  return r;
}

}  // namespace

Result<TuningResult> tune(Index& index, MatrixView sample_queries, double target_recall, int k,
                          const TuningOptions& options) {
  const auto start = Clock::now();
  VECPERF_RETURN_IF_ERROR(check_arguments(target_recall, k, options));
  if (sample_queries.rows < 1)
    return Status::InvalidArgument("tune needs at least one sample query");
  VECPERF_RETURN_IF_ERROR(internal::check_matrix(sample_queries, index.dim(), "sample queries"));
  const IndexCapabilities knob = index.capabilities();
  if (knob.knob == SearchKnob::kNone)
    return exact_result(index, knob, target_recall, k, false, start);
  VECPERF_RETURN_IF_ERROR(check_size(index, 1));
  return internal::guarded("tuning (use fewer sample queries)", [&] {
    return run(index, knob, sample_queries, nullptr, target_recall, k, options, start);
  });
}

Result<TuningResult> tune_held_out(Index& index, double target_recall, int k,
                                   const TuningOptions& options) {
  const auto start = Clock::now();
  VECPERF_RETURN_IF_ERROR(check_arguments(target_recall, k, options));
  const IndexCapabilities knob = index.capabilities();
  if (knob.knob == SearchKnob::kNone)
    return exact_result(index, knob, target_recall, k, true, start);
  VECPERF_RETURN_IF_ERROR(check_size(index, 2));
  auto sample = internal::sample_stored_vectors(index, options.sample_size, options.seed);
  if (!sample.ok()) return sample.status();
  const MatrixView queries{sample->vectors.data(), sample->rows(), index.dim()};
  return internal::guarded("tuning (use a smaller sample_size)", [&] {
    return run(index, knob, queries, sample->ids.data(), target_recall, k, options, start);
  });
}

}  // namespace vecperf
