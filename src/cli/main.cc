// `vecperf`: a command-line demo of the factory. `plan` prints what plan() decides for a workload;
// `demo` also builds the planned index on seeded synthetic data with build_tuned() (which tunes
// its search knob to the recall target) and measures it, at the tuned and the planned knob,
// against exact search. It uses only the public API, and carries its own small data generator so
// that it builds with tests and benchmarks turned off.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "vecperf/dataset.h"
#include "vecperf/factory.h"
#include "vecperf/index.h"
#include "vecperf/options.h"
#include "vecperf/tuning.h"

namespace {

using vecperf::Status;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "usage:\n"
    "  vecperf demo [--n=N] [--dim=D] [--queries=Q] [--k=K] [--metric=l2|ip|cosine]\n"
    "               [--budget-mb=M] [--target-recall=R] [--seed=S]\n"
    "      Plans an index for N vectors, builds it on seeded clustered data, tunes its search\n"
    "      knob to the target recall (build_tuned), and reports recall@K against exact search,\n"
    "      batch QPS and single-query latency percentiles at the tuned and the planned knob.\n"
    "      Defaults: N=200000 D=128 Q=1000 K=10 metric=l2 budget=unlimited R=0.95 S=1\n"
    "  vecperf plan --n=N --dim=D [--metric=l2|ip|cosine] [--budget-mb=M] [--target-recall=R]\n"
    "      Prints the plan only: kind, parameters, estimated memory and the rationale.\n"
    "  vecperf --help\n"
    "Exit codes: 0 success, 1 the operation failed, 2 bad command line.\n";

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ------------------------------------------------------------------------------------------------
// Command line: "--name=value" flags, each allowed once, checked against the command's list.

struct Flags {
  std::map<std::string, std::string> values;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "vecperf: %s\nRun 'vecperf --help' for usage.\n", message.c_str());
  return kExitUsage;
}

// Parses argv[first..] into `flags`; returns an error message or "".
std::string parse_flags(int argc, char** argv, int first, const std::vector<std::string>& allowed,
                        Flags* flags) {
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, 2) != "--") return "unexpected argument '" + std::string(arg) + "'";
    size_t eq = arg.find('=');
    if (eq == std::string_view::npos)
      return "flag '" + std::string(arg) + "' needs a value (--name=value)";
    std::string name(arg.substr(2, eq - 2));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      return "unknown flag '--" + name + "'";
    if (!flags->values.emplace(name, std::string(arg.substr(eq + 1))).second)
      return "flag '--" + name + "' given twice";
  }
  return "";
}

// Integer flag in [lo, hi]; returns an error message or "".
std::string int_flag(const Flags& f, const std::string& name, int64_t lo, int64_t hi,
                     int64_t* out) {
  auto it = f.values.find(name);
  if (it == f.values.end()) return "";
  const std::string& s = it->second;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return "--" + name + "='" + s + "' is not an integer";
  if (v < lo || v > hi)
    return "--" + name + "=" + s + " is out of range [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]";
  *out = v;
  return "";
}

std::string double_flag(const Flags& f, const std::string& name, double lo, double hi,
                        double* out) {
  auto it = f.values.find(name);
  if (it == f.values.end()) return "";
  const std::string& s = it->second;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
    return "--" + name + "='" + s + "' is not a number";
  if (v < lo || v > hi)
    return "--" + name + "=" + s + " is out of range [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]";
  *out = v;
  return "";
}

// The workload flags shared by `plan` and `demo`.
std::string read_workload(const Flags& f, vecperf::Workload* w) {
  std::string err;
  if (!(err = int_flag(f, "n", 1, int64_t{1} << 40, &w->expected_size)).empty()) return err;
  if (!(err = int_flag(f, "dim", 1, 65536, &w->dim)).empty()) return err;
  double budget_mb = 0;
  if (!(err = double_flag(f, "budget-mb", 0, 1e9, &budget_mb)).empty()) return err;
  w->memory_budget_bytes = static_cast<size_t>(budget_mb * 1024.0 * 1024.0);
  if (!(err = double_flag(f, "target-recall", 1e-9, 1.0, &w->target_recall)).empty()) return err;
  if (auto it = f.values.find("metric"); it != f.values.end()) {
    auto metric = vecperf::parse_metric(it->second);
    if (!metric.ok()) return "--metric: " + std::string(metric.status().message());
    w->metric = *metric;
  }
  return "";
}

// ------------------------------------------------------------------------------------------------
// Plan printing.

std::string mib(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

void print_plan(const vecperf::Workload& w, const vecperf::IndexPlan& p) {
  std::printf("plan for N=%lld dim=%lld metric=%s target_recall=%.3g budget=%s\n",
              static_cast<long long>(w.expected_size), static_cast<long long>(w.dim),
              vecperf::metric_name(w.metric), w.target_recall,
              w.memory_budget_bytes == 0 ? "unlimited"
                                         : mib(static_cast<double>(w.memory_budget_bytes)).c_str());
  std::printf("  %-18s %s\n", "kind", vecperf::index_kind_name(p.options.kind));
  std::printf("  %-18s %s\n", "spec", vecperf::index_spec(p.options).c_str());
  std::printf("  %-18s %s\n", "estimated memory",
              mib(static_cast<double>(p.estimated_memory_bytes)).c_str());
  std::printf("  %-18s %s\n", "rationale", p.rationale.c_str());
}

// Maps a plan() failure to the exit code: a bad workload is a usage error.
int plan_failure(const Status& s) {
  std::fprintf(stderr, "vecperf: %s\n", s.to_string().c_str());
  return s.code() == vecperf::StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

int run_plan(int argc, char** argv) {
  Flags f;
  std::string err =
      parse_flags(argc, argv, 2, {"n", "dim", "metric", "budget-mb", "target-recall"}, &f);
  if (err.empty() && (!f.values.count("n") || !f.values.count("dim")))
    err = "plan needs --n and --dim";
  vecperf::Workload w;
  if (err.empty()) err = read_workload(f, &w);
  if (!err.empty()) return usage_error(err);
  auto p = vecperf::plan(w);
  if (!p.ok()) return plan_failure(p.status());
  print_plan(w, *p);
  return kExitOk;
}

// ------------------------------------------------------------------------------------------------
// Demo.

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

// Recall@k of `found` against the exact neighbours `truth` (both nq x k), as vecperf-bench
// reports it.
vecperf::Result<double> recall(const std::vector<int64_t>& found, const std::vector<int64_t>& truth,
                               int64_t nq, int k) {
  auto t = vecperf::IntMatrix::from_vector(truth, nq, k);
  if (!t.ok()) return t.status();
  auto r = vecperf::recall_at_k(found, k, *t);
  if (!r.ok()) return r.status();
  return r->recall;
}

int fail(const char* what, const Status& s) {
  std::fprintf(stderr, "\nvecperf: %s failed: %s\n", what, s.to_string().c_str());
  return kExitFailure;
}

// "building <label> done/total vectors (pct%) seconds": redrawn in place on a terminal; a log
// or pipe gets the final line alone.
class ProgressLine {
 public:
  explicit ProgressLine(const char* label)
      : label_(label), start_(now_seconds()), live_(::isatty(STDOUT_FILENO) != 0) {}

  void update(int64_t done, int64_t total) {
    if (total <= 0 || (!live_ && done < total)) return;
    std::printf("\r  building %-6s %lld/%lld vectors (%3lld%%) %.1f s", label_,
                static_cast<long long>(done), static_cast<long long>(total),
                static_cast<long long>(done * 100 / total), now_seconds() - start_);
    if (done == total) std::printf("\n");
    std::fflush(stdout);
  }

 private:
  const char* label_;
  double start_;
  bool live_;
};

// Adds the corpus in chunks, printing a progress line; returns the build time.
Status build(vecperf::Index& index, const std::vector<int64_t>& ids, vecperf::MatrixView data,
             const char* label, double* seconds) {
  const int64_t dim = data.dim;
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t chunk = std::max<int64_t>(1000, n / 20);
  const double start = now_seconds();
  ProgressLine line(label);
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t rows = std::min(chunk, n - b);
    VECPERF_RETURN_IF_ERROR(index.add(vecperf::IdSpan(ids.data() + b, static_cast<size_t>(rows)),
                                      vecperf::MatrixView{data.row(b), rows, dim}));
    line.update(b + rows, n);
  }
  *seconds = now_seconds() - start;
  return Status::OK();
}

// The knob a plan sets for its backend: ("nprobe", value), ("ef_search", value) or ("", 0).
std::pair<std::string, int> plan_knob(const vecperf::IndexOptions& o) {
  if (o.kind == vecperf::IndexKind::kIvf) return {"nprobe", o.ivf.nprobe};
  if (o.kind == vecperf::IndexKind::kHnsw) return {"ef_search", o.hnsw.ef_search};
  return {"", 0};
}

void print_tuning(const vecperf::TuningResult& t, const std::pair<std::string, int>& planned) {
  if (t.knob.empty()) {
    std::printf("  tuning: %s\n", t.message.c_str());
    return;
  }
  std::printf(
      "  tuned: %s %d (plan) -> %d (recall@%d %.4f on %lld held-out vectors, target %.3g, "
      "%d evaluations, %.1f s)\n",
      t.knob.c_str(), planned.second, t.value, t.k, t.recall, static_cast<long long>(t.sample_size),
      t.target_recall, t.evaluations, t.seconds);
  if (!t.message.empty()) std::printf("  tuning note: %s\n", t.message.c_str());
}

struct Measured {
  double build_s = 0;
  size_t memory = 0;
  double recall = 0;
  double qps = 0;
  std::vector<double> latency_s;  // empty: not measured
};

void print_row(const char* name, const Measured& m) {
  if (m.latency_s.empty()) {
    std::printf("  %-14s %9.2f %12.1f %10.4f %12.0f %9s %9s %9s\n", name, m.build_s,
                static_cast<double>(m.memory) / (1024.0 * 1024.0), m.recall, m.qps, "-", "-", "-");
    return;
  }
  std::printf("  %-14s %9.2f %12.1f %10.4f %12.0f %9.3f %9.3f %9.3f\n", name, m.build_s,
              static_cast<double>(m.memory) / (1024.0 * 1024.0), m.recall, m.qps,
              percentile(m.latency_s, 50) * 1e3, percentile(m.latency_s, 95) * 1e3,
              percentile(m.latency_s, 99) * 1e3);
}

int run_demo(int argc, char** argv) {
  Flags f;
  std::string err =
      parse_flags(argc, argv, 2,
                  {"n", "dim", "queries", "k", "metric", "budget-mb", "target-recall", "seed"}, &f);
  vecperf::Workload w;
  w.expected_size = 200000;
  w.dim = 128;
  int64_t nq = 1000, k = 10, seed = 1;
  if (err.empty()) err = read_workload(f, &w);
  if (err.empty()) err = int_flag(f, "queries", 1, 1000000, &nq);
  if (err.empty()) err = int_flag(f, "k", 1, 4096, &k);
  if (err.empty()) err = int_flag(f, "seed", 0, INT64_MAX, &seed);
  if (!err.empty()) return usage_error(err);
  const int ki = static_cast<int>(k);

  auto p = vecperf::plan(w);
  if (!p.ok()) return plan_failure(p.status());
  print_plan(w, *p);

  const int64_t n = w.expected_size, dim = w.dim;
  std::printf("\ngenerating %lld base vectors and %lld queries (seeded clusters, seed %lld)\n",
              static_cast<long long>(n), static_cast<long long>(nq), static_cast<long long>(seed));
  // Seeded Gaussian clusters, the shape of the test suites' data, so the demo's recall
  // reflects the factory's calibration.
  vecperf::ClusteredOptions shape;
  shape.rows = n;
  shape.dim = dim;
  shape.seed = static_cast<uint64_t>(seed);
  auto base_matrix = vecperf::make_clustered(shape);
  if (!base_matrix.ok()) return fail("make_clustered", base_matrix.status());
  auto query_matrix =
      vecperf::make_clustered_queries(shape, nq, static_cast<uint64_t>(seed) + 1000003);
  if (!query_matrix.ok()) return fail("make_clustered_queries", query_matrix.status());
  const vecperf::MatrixView bv = base_matrix->view();
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = i;
  const vecperf::MatrixView qv = query_matrix->view();

  // Built and tuned to the plan's recall target: the tuned knob becomes the index's default.
  Measured planned, untuned, exact;
  ProgressLine line(vecperf::index_kind_name(p->options.kind));
  vecperf::BuildOptions build_options;
  build_options.k = ki;
  build_options.on_progress = [&line](int64_t done, int64_t total) { line.update(done, total); };
  const double build_start = now_seconds();
  auto built = vecperf::build_tuned(*p, ids, bv, build_options);
  if (!built.ok()) return fail("build_tuned", built.status());
  const vecperf::TuningResult& tuning = built->tuning;
  planned.build_s = now_seconds() - build_start - tuning.seconds;
  const vecperf::Index& index = *built->index;
  planned.memory = index.memory_bytes();
  untuned.build_s = planned.build_s;
  untuned.memory = planned.memory;
  const std::pair<std::string, int> knob = plan_knob(p->options);
  print_tuning(tuning, knob);
  std::printf("  index: %s\n", index.describe().c_str());

  vecperf::IndexOptions flat_options;
  flat_options.dim = dim;
  flat_options.metric = w.metric;
  auto flat = vecperf::make_index(flat_options);
  if (!flat.ok()) return fail("make_index(flat)", flat.status());
  if (Status s = build(**flat, ids, bv, "flat", &exact.build_s); !s.ok())
    return fail("add(flat)", s);
  exact.memory = (*flat)->memory_bytes();

  std::vector<float> dist(static_cast<size_t>(nq * k));
  std::vector<int64_t> truth(static_cast<size_t>(nq * k)), found(static_cast<size_t>(nq * k));
  vecperf::SearchOptions all_threads;
  all_threads.k = ki;
  all_threads.num_threads = 0;
  // The same index searched with the plan's knob instead of the tuned default, for comparison.
  const bool compare = !tuning.knob.empty() && tuning.value != knob.second;
  vecperf::SearchOptions plan_threads = all_threads;
  (knob.first == "nprobe" ? plan_threads.nprobe : plan_threads.ef_search) = knob.second;

  // Batch QPS: median of three runs; the first exact run also yields the ground truth.
  constexpr int kRepeats = 3;
  std::printf("  searching: %lld queries in one batch, %d times per index...\n",
              static_cast<long long>(nq), kRepeats);
  std::fflush(stdout);
  auto batch_qps = [&](const vecperf::Index& idx, const vecperf::SearchOptions& options,
                       std::vector<int64_t>& out, double* qps) {
    std::vector<double> times;
    for (int r = 0; r < kRepeats; ++r) {
      const double t0 = now_seconds();
      VECPERF_RETURN_IF_ERROR(idx.search(qv, options, {dist.data(), out.data()}));
      times.push_back(now_seconds() - t0);
    }
    *qps = static_cast<double>(nq) / percentile(times, 50);
    return Status::OK();
  };
  if (Status s = batch_qps(**flat, all_threads, truth, &exact.qps); !s.ok())
    return fail("search(flat)", s);
  if (Status s = batch_qps(index, all_threads, found, &planned.qps); !s.ok())
    return fail("search", s);
  auto r = recall(found, truth, nq, ki);
  if (!r.ok()) return fail("recall", r.status());
  planned.recall = *r;
  if (compare) {
    if (Status s = batch_qps(index, plan_threads, found, &untuned.qps); !s.ok())
      return fail("search", s);
    r = recall(found, truth, nq, ki);
    if (!r.ok()) return fail("recall", r.status());
    untuned.recall = *r;
  }
  exact.recall = 1.0;

  // Latency: one query per call on the caller's thread. The exact scan is slow per query, so it
  // is timed on the first kExactLatencyQueries queries only.
  constexpr int64_t kExactLatencyQueries = 200;
  std::printf("  searching: %lld single queries on one thread (%lld for exact)...\n",
              static_cast<long long>(nq),
              static_cast<long long>(std::min(nq, kExactLatencyQueries)));
  std::fflush(stdout);
  auto latencies = [&](const vecperf::Index& idx, vecperf::SearchOptions one_thread, int64_t count,
                       std::vector<double>* out) {
    one_thread.num_threads = 1;
    out->reserve(static_cast<size_t>(count));
    for (int64_t q = 0; q < count; ++q) {
      const double t0 = now_seconds();
      VECPERF_RETURN_IF_ERROR(idx.search(vecperf::MatrixView{qv.row(q), 1, dim}, one_thread,
                                         {dist.data(), found.data()}));
      out->push_back(now_seconds() - t0);
    }
    return Status::OK();
  };
  if (Status s = latencies(index, all_threads, nq, &planned.latency_s); !s.ok())
    return fail("search", s);
  if (compare) {
    if (Status s = latencies(index, plan_threads, nq, &untuned.latency_s); !s.ok())
      return fail("search", s);
  }
  if (Status s =
          latencies(**flat, all_threads, std::min(nq, kExactLatencyQueries), &exact.latency_s);
      !s.ok())
    return fail("search(flat)", s);

  std::printf("\nresults: N=%lld dim=%lld metric=%s, %lld queries, k=%d (recall@%d vs exact)\n",
              static_cast<long long>(n), static_cast<long long>(dim),
              vecperf::metric_name(w.metric), static_cast<long long>(nq), ki, ki);
  std::printf("  %-14s %9s %12s %10s %12s %9s %9s %9s\n", "index", "build s", "memory MiB",
              "recall", "batch QPS", "p50 ms", "p95 ms", "p99 ms");
  const std::string kind = vecperf::index_kind_name(p->options.kind);
  if (compare) {
    print_row((kind + " tuned").c_str(), planned);
    print_row((kind + " plan").c_str(), untuned);
  } else {
    print_row(kind.c_str(), planned);
  }
  print_row("flat (exact)", exact);
  std::printf("  vs exact: %.2fx batch QPS, %.2fx lower p50 latency, %.2fx the memory\n",
              planned.qps / exact.qps,
              percentile(exact.latency_s, 50) / percentile(planned.latency_s, 50),
              static_cast<double>(planned.memory) / static_cast<double>(exact.memory));
  if (compare)
    std::printf("  tuned vs plan: %s %d vs %d, %.2fx batch QPS, %.2fx lower p50 latency\n",
                knob.first.c_str(), tuning.value, knob.second, planned.qps / untuned.qps,
                percentile(untuned.latency_s, 50) / percentile(planned.latency_s, 50));
  std::printf(
      "  (QPS: median of %d batch runs using all threads; latency: single-thread, one "
      "query per call; build s excludes tuning)\n",
      kRepeats);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (command == "plan") return run_plan(argc, argv);
  if (command == "demo") return run_demo(argc, argv);
  return usage_error("unknown command '" + std::string(command) + "'");
}
