// vecperf-bench: builds (or loads) one vecperf index, optionally the same index in FAISS and
// hnswlib, sweeps the search knob of each, and reports recall, throughput and latency per
// setting with the Pareto points and a recommended setting. See docs/tuning.md.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "build/plan_rules.h"
#include "common/bench_common.h"
#include "vecperf_bench/data.h"
#include "vecperf_bench/options.h"
#include "vecperf_bench/output.h"
#include "vecperf_bench/peers.h"
#include "vecperf_bench/results.h"
#include "vecperf_bench/runner.h"

namespace vecperf::bench {
namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// An engine to sweep, with the settings it runs.
struct Candidate {
  std::unique_ptr<Engine> engine;
  bool defaults = false;
  std::vector<int> values;
  double build_seconds = 0;
};

int fail(const Status& s) {
  std::fprintf(stderr, "vecperf-bench: %s\n", s.to_string().c_str());
  return kExitError;
}

// Builds one peer, timing it; a peer that cannot run is skipped with a note.
template <typename Build>
void add_peer(const std::string& what, Build build, bool defaults, std::vector<int> values,
              std::vector<Candidate>* out, Report* report) {
  ProgressBar bar("building " + what);
  bar.update(0, 1);
  const double start = now_seconds();
  Result<std::unique_ptr<Engine>> e = build();
  bar.finish();
  if (!e.ok()) {
    report->notes.push_back(what + " skipped: " + std::string(e.status().message()));
    return;
  }
  Candidate c;
  c.build_seconds = now_seconds() - start;
  c.engine = std::move(*e);
  c.defaults = defaults;
  c.values = std::move(values);
  out->push_back(std::move(c));
}

// The peers mirroring the vecperf index, then (--peer-defaults) the peers as their libraries
// configure them out of the box.
// The mirroring peers sweep the same settings as vecperf (`values`).
void build_peers(const BenchOptions& o, const BenchData& d, const VecperfEngine& ours,
                 const std::vector<int>& values, std::vector<Candidate>* out, Report* report) {
  PeerParams same;
  same.index = ours.index();
  same.metric = o.metric;
  same.threads = o.threads;
  const std::string describe = ours.describe();
  if (same.index == "ivf") {
    same.nlist = ours.max_knob();
    same.seed = o.index.options.ivf.seed;
    same.train_rows = std::min(d.base.rows(),
                               resolve_index_options(o.index, d.base.rows(), d.base.dim(), o.metric)
                                   .ivf.max_train_samples);
    if (describe.find("encoding=flat") == std::string::npos)
      report->notes.push_back(
          "the FAISS peer mirrors float32 IVF lists only; it runs "
          "IndexIVFFlat against this compressed index");
  } else if (same.index == "hnsw") {
    same.M = describe_value(describe, "M");
    same.ef_construction = describe_value(describe, "ef_construction");
    same.hnsw_seed = o.index.options.hnsw.seed;
  }
  if (o.peer_faiss)
    add_peer(
        "faiss " + same.index, [&] { return build_faiss(d.base, same); }, false, values, out,
        report);
  if (o.peer_hnswlib) {
    if (same.index == "hnsw") {
      add_peer(
          "hnswlib hnsw", [&] { return build_hnswlib(d.base, same); }, false, values, out, report);
    } else {
      report->notes.push_back("hnswlib runs only against an hnsw index (this one is " + same.index +
                              "); see --peer-defaults");
    }
  }
  if (!o.peer_defaults) return;
  if (o.peer_faiss) {
    PeerParams ivf = same;
    ivf.index = "ivf";
    ivf.nlist = same.index == "ivf" ? same.nlist : internal::rules::derive_nlist(d.base.rows());
    ivf.train_rows = 0;  // FAISS's own sampling, 256 rows per list
    ivf.seed = 1234;     // ClusteringParameters' default
    add_peer(
        "faiss ivf (defaults)", [&] { return build_faiss(d.base, ivf); }, true,
        {kFaissIvfDefaultNprobe}, out, report);
    PeerParams hnsw = same;
    hnsw.index = "hnsw";
    hnsw.M = kFaissHnswDefaultM;
    hnsw.ef_construction = kFaissHnswDefaultEfConstruction;
    add_peer(
        "faiss hnsw (defaults)", [&] { return build_faiss(d.base, hnsw); }, true,
        {kFaissHnswDefaultEfSearch}, out, report);
  }
  if (o.peer_hnswlib) {
    PeerParams hnsw = same;
    hnsw.index = "hnsw";
    hnsw.M = kHnswlibDefaultM;
    hnsw.ef_construction = kHnswlibDefaultEfConstruction;
    hnsw.hnsw_seed = 100;
    add_peer(
        "hnswlib hnsw (defaults)", [&] { return build_hnswlib(d.base, hnsw); }, true,
        {kHnswlibDefaultEf}, out, report);
  }
}

// Adds `v` to a sorted list of settings unless present.
void insert_value(std::vector<int>* values, int v) {
  if (v <= 0 || std::find(values->begin(), values->end(), v) != values->end()) return;
  values->push_back(v);
  std::sort(values->begin(), values->end());
}

int run(const BenchOptions& o) {
  Report report;
  report.options = o;
  report.started_at = utc_now();
  report.machine = machine_facts();

  auto data = load_data(o);
  if (!data.ok()) return fail(data.status());
  report.dataset = data->info;
  if (data->truth.cols() < o.k)
    report.notes.push_back("the ground truth has " + std::to_string(data->truth.cols()) +
                           " neighbours per query; recall is recall@" +
                           std::to_string(data->truth.cols()));

  std::vector<Candidate> candidates;
  VecperfEngine* ours = nullptr;
  {
    ProgressBar bar(o.load_path.empty() ? "building vecperf" : "loading vecperf");
    const double start = now_seconds();
    auto built = build_vecperf(
        o, data->base, [&](int64_t done, int64_t total) { bar.update(done, total); },
        &report.build_tune);
    bar.finish();
    if (!built.ok()) return fail(built.status());
    Candidate c;
    c.build_seconds = now_seconds() - start;
    ours = built->get();
    c.engine = std::move(*built);
    candidates.push_back(std::move(c));
  }
  candidates[0].values = sweep_values(*ours, o);
  const int index_default = ours->default_knob();
  if (o.index.plan || !o.load_path.empty()) insert_value(&candidates[0].values, index_default);

  if (o.tune) {
    TuningOptions t;
    t.num_threads = o.threads;
    t.apply = false;
    auto tuned = vecperf::tune(ours->get(), data->tune_queries.view(), o.target_recall, o.k, t);
    if (!tuned.ok()) return fail(tuned.status().with_context("tune()"));
    report.tune = *tuned;
    if (!tuned->knob.empty()) insert_value(&candidates[0].values, tuned->value);
  }
  build_peers(o, *data, *ours, candidates[0].values, &candidates, &report);

  MeasureConfig mc;
  mc.k = o.k;
  mc.threads = o.threads;
  mc.repeats = o.repeats;
  mc.latency_queries = o.latency_queries;
  int64_t steps = 0, done = 0;
  for (const Candidate& c : candidates) steps += static_cast<int64_t>(c.values.size());
  // Settings are measured round by round (setting i of every engine before setting i + 1 of
  // any), so that load from elsewhere on a shared machine hits the engines alike; the runs are
  // then listed engine by engine.
  ProgressBar bar("sweeping");
  std::vector<std::vector<RunPoint>> per_engine(candidates.size());
  size_t rounds = 0;
  for (const Candidate& c : candidates) rounds = std::max(rounds, c.values.size());
  for (size_t i = 0; i < rounds; ++i) {
    for (size_t e = 0; e < candidates.size(); ++e) {
      const Candidate& c = candidates[e];
      if (i >= c.values.size()) continue;
      const int v = c.values[i];
      bar.update(done++, steps);
      auto p = measure(*c.engine, v, data->queries.view(), data->truth, mc);
      if (!p.ok()) return fail(p.status().with_context(c.engine->describe()));
      p->defaults = c.defaults;
      p->build_seconds = c.build_seconds;
      if (c.engine.get() == ours) {
        p->tuned = report.tune && !report.tune->knob.empty() && report.tune->value == v;
        p->index_default =
            (o.index.plan || !o.load_path.empty()) && !p->knob.empty() && v == index_default;
      }
      per_engine[e].push_back(*p);
    }
  }
  for (size_t e = 0; e < candidates.size(); ++e) {
    const Candidate& c = candidates[e];
    RunPoint named;
    named.engine = c.engine->engine();
    named.index = c.engine->index();
    named.defaults = c.defaults;
    report.engines.push_back(EngineInfo{named.label(), c.engine->describe(), c.build_seconds,
                                        c.engine->memory_bytes(), c.engine->memory_estimated(),
                                        c.engine.get() == ours && !o.load_path.empty()});
    report.runs.insert(report.runs.end(), per_engine[e].begin(), per_engine[e].end());
  }
  bar.finish();

  mark_pareto(report.runs);
  report.recommendation = recommend(report.runs, "vecperf", o.target_recall, o.max_p99_ms);
  report.best_per_label = best_per_label(report.runs, o.target_recall, o.max_p99_ms);
  report.finished_at = utc_now();
  print_report(report, stdout);
  std::fflush(stdout);
  if (!o.json_path.empty()) {
    Status s = write_text(o.json_path, report_json(report));
    if (!s.ok()) return fail(s.with_context("--json"));
  }
  if (!o.csv_path.empty()) {
    Status s = write_text(o.csv_path, report_csv(report));
    if (!s.ok()) return fail(s.with_context("--csv"));
  }
  return 0;
}

}  // namespace
}  // namespace vecperf::bench

int main(int argc, char** argv) {
  using namespace vecperf::bench;
  auto options = parse_options(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "vecperf-bench: %s\nRun 'vecperf-bench --help' for usage.\n",
                 std::string(options.status().message()).c_str());
    return kExitUsage;
  }
  if (options->help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  return run(*options);
}
