// Report writers. The JSON document is the complete record (plot.py and the tests read it); the
// CSV has one row per run with the facts needed to compare rows from different files; the table
// is for people.
#include "vecperf_bench/output.h"

#include <unistd.h>

#include <array>
#include <cinttypes>
#include <ctime>
#include <memory>
#include <sstream>

#include "common/atomic_file.h"
#include "common/bench_common.h"
#include "common/json.h"
#include "distance/distance.h"

#ifndef VECPERF_SOURCE_DIR
#define VECPERF_SOURCE_DIR "."
#endif
#ifndef VECPERF_GIT_COMMIT
#define VECPERF_GIT_COMMIT "unknown"
#endif

namespace vecperf::bench {
namespace {

using internal::JsonWriter;

// First line printed by `command`, or "" when it fails.
std::string command_output(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::array<char, 256> buf{};
  std::string out;
  if (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe.get())) out = buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The commit of the checkout the program was built from, read when it runs (the build-time
// value goes stale after a commit without a reconfigure); the build-time value outside a
// checkout.
std::string git_commit() {
  const std::string dir = "'" VECPERF_SOURCE_DIR "'";
  const std::string head = command_output("git -C " + dir + " rev-parse HEAD 2>/dev/null");
  if (head.empty()) return VECPERF_GIT_COMMIT;
  const std::string dirty =
      command_output("git -C " + dir + " status --porcelain --untracked-files=no 2>/dev/null");
  return dirty.empty() ? head : head + "+dirty";
}

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

void write_tuning(JsonWriter& w, const std::optional<TuningResult>& t) {
  if (!t) {
    w.null();
    return;
  }
  w.begin_object();
  w.key("index_kind").string(index_kind_name(t->kind));
  w.key("knob").string(t->knob);
  w.key("value").integer(t->value);
  w.key("knob_range").begin_array().integer(t->min_value).integer(t->max_value).end_array();
  w.key("k").integer(t->k);
  w.key("target_recall").number(t->target_recall);
  w.key("recall").number(t->recall);
  w.key("met_target").boolean(t->met_target);
  w.key("complete").boolean(t->complete);
  w.key("held_out").boolean(t->held_out);
  w.key("sample_size").integer(t->sample_size);
  w.key("evaluations").integer(t->evaluations);
  w.key("seconds").number(t->seconds);
  w.key("message").string(t->message);
  w.end_object();
}

void write_run(JsonWriter& w, const RunPoint& p) {
  w.begin_object();
  w.key("label").string(p.label());
  w.key("engine").string(p.engine);
  w.key("index").string(p.index);
  w.key("defaults").boolean(p.defaults);
  w.key("knob").string(p.knob);
  w.key("value").integer(p.value);
  w.key("tuned").boolean(p.tuned);
  w.key("index_default").boolean(p.index_default);
  w.key("recall").number(p.recall);
  w.key("batch_qps").number(p.batch_qps);
  w.key("single_qps").number(p.single_qps);
  w.key("latency_ms").begin_object();
  w.key("p50").number(p.p50_ms).key("p95").number(p.p95_ms);
  w.key("p99").number(p.p99_ms).key("p999").number(p.p999_ms);
  w.end_object();
  w.key("build_seconds").number(p.build_seconds);
  w.key("memory_bytes").integer(static_cast<int64_t>(p.memory_bytes));
  w.key("memory_estimated").boolean(p.memory_estimated);
  w.key("pareto_single").boolean(p.pareto_single);
  w.key("pareto_batch").boolean(p.pareto_batch);
  w.end_object();
}

void write_int_list(JsonWriter& w, const std::vector<int>& v) {
  w.begin_array();
  for (int x : v) w.integer(x);
  w.end_array();
}

void write_parameters(JsonWriter& w, const BenchOptions& o) {
  w.begin_object();
  w.key("metric").string(metric_name(o.metric));
  w.key("k").integer(o.k);
  w.key("index").string(o.load_path.empty() ? o.index.text : "");
  w.key("load").string(o.load_path);
  w.key("save").string(o.save_path);
  w.key("nprobe");
  write_int_list(w, o.nprobe);
  w.key("ef_search");
  write_int_list(w, o.ef_search);
  w.key("sweep").string(o.nprobe.empty() && o.ef_search.empty() ? "auto" : "list");
  w.key("threads").integer(o.threads);
  w.key("repeats").integer(o.repeats);
  w.key("latency_queries").integer(o.latency_queries);
  w.key("target_recall").number(o.target_recall);
  w.key("max_p99_ms").number(o.max_p99_ms);
  w.key("tune").boolean(o.tune);
  w.key("tune_queries").integer(o.tune_queries);
  w.key("peers").begin_array();
  if (o.peer_faiss) w.string("faiss");
  if (o.peer_hnswlib) w.string("hnswlib");
  w.end_array();
  w.key("peer_defaults").boolean(o.peer_defaults);
  w.key("synthetic").begin_object();
  w.key("rows").integer(o.synthetic_rows).key("dim").integer(o.synthetic_dim);
  w.key("clusters").integer(o.synthetic_clusters).key("queries").integer(o.synthetic_queries);
  w.end_object();
  w.key("command_line").begin_array();
  for (const std::string& a : o.command_line) w.string(a);
  w.end_array();
  w.end_object();
}

// CSV field: quoted when it holds a separator, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

MachineFacts machine_facts() {
  MachineFacts m;
  const std::string summary = machine_summary();
  m.cpu_model = summary.substr(0, summary.rfind(", "));
  m.hardware_threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m.kernel_isa = internal::kernels().name;
  m.git_commit = git_commit();
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) m.hostname = host;
  return m;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void print_report(const Report& r, std::FILE* out) {
  const DatasetInfo& d = r.dataset;
  std::fprintf(out, "# %s, %d hardware threads, vecperf kernels: %s, commit %s\n",
               r.machine.cpu_model.c_str(), r.machine.hardware_threads,
               r.machine.kernel_isa.c_str(), r.machine.git_commit.c_str());
  std::fprintf(out,
               "# data: %s, base %" PRId64 " x %" PRId64 ", %" PRId64
               " queries, ground truth %s (%" PRId64 " per query), metric %s, k=%d\n",
               d.source.c_str(), d.base_rows, d.dim, d.queries_rows, d.gt_source.c_str(), d.gt_cols,
               metric_name(r.options.metric), r.options.k);
  for (const EngineInfo& e : r.engines) {
    std::fprintf(out, "# %-24s %s; %s %.2f s; memory %s%s\n", e.label.c_str(), e.describe.c_str(),
                 e.loaded ? "loaded in" : "built in", e.build_seconds, mib(e.memory_bytes).c_str(),
                 e.memory_estimated ? " (estimate)" : "");
  }
  for (const auto* t : {&r.build_tune, &r.tune}) {
    if (!*t) continue;
    std::fprintf(out,
                 "# %s: %s=%d, recall@%d %.4f on %" PRId64
                 " %s queries, %d evaluations, "
                 "%.2f s%s%s\n",
                 t == &r.build_tune ? "build_tuned()" : "tune()", (*t)->knob.c_str(), (*t)->value,
                 (*t)->k, (*t)->recall, (*t)->sample_size, (*t)->held_out ? "held-out" : "sample",
                 (*t)->evaluations, (*t)->seconds, (*t)->message.empty() ? "" : "; ",
                 (*t)->message.c_str());
  }
  for (const std::string& n : r.notes) std::fprintf(out, "# note: %s\n", n.c_str());
  std::fprintf(out, "\n%-26s %-9s %6s %8s %10s %10s %8s %8s %8s %9s  %-6s %s\n", "engine", "knob",
               "value", "recall", "batch_QPS", "1q_QPS", "p50_ms", "p95_ms", "p99_ms", "p99.9_ms",
               "pareto", "");
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const RunPoint& p = r.runs[i];
    std::string pareto = std::string(p.pareto_single ? "S" : "") + (p.pareto_batch ? "B" : "");
    std::string mark;
    if (r.recommendation.choice && *r.recommendation.choice == i) mark += "<= recommended ";
    if (p.tuned) mark += "(tune) ";
    if (p.index_default) mark += "(index default) ";
    std::fprintf(out, "%-26s %-9s %6d %8.4f %10.0f %10.0f %8.3f %8.3f %8.3f %9.3f  %-6s %s\n",
                 p.label().c_str(), p.knob.empty() ? "-" : p.knob.c_str(), p.value, p.recall,
                 p.batch_qps, p.single_qps, p.p50_ms, p.p95_ms, p.p99_ms, p.p999_ms,
                 pareto.empty() ? "-" : pareto.c_str(), mark.c_str());
  }
  const int threads = r.options.threads > 0 ? r.options.threads : r.machine.hardware_threads;
  std::fprintf(out,
               "\npareto: S = optimal for recall vs single-query QPS, B = vs batch QPS "
               "(%d threads)\n",
               threads);
  std::fprintf(out, "best per engine at recall@%d >= %.4f%s:\n", r.options.k,
               r.options.target_recall, r.options.max_p99_ms > 0 ? " within the p99 limit" : "");
  for (size_t i : r.best_per_label) {
    const RunPoint& p = r.runs[i];
    std::fprintf(out, "  %-26s %s=%d  recall %.4f  1q %.0f QPS  batch %.0f QPS  p99 %.3f ms\n",
                 p.label().c_str(), p.knob.empty() ? "exact" : p.knob.c_str(), p.value, p.recall,
                 p.single_qps, p.batch_qps, p.p99_ms);
  }
  std::fprintf(out, "recommendation: %s%s\n",
               r.recommendation.choice ? "" : "NONE: ", r.recommendation.message.c_str());
}

std::string report_json(const Report& r) {
  JsonWriter w;
  w.begin_object();
  w.key("format").string("vecperf-bench");
  w.key("version").integer(kBenchReportVersion);
  w.key("started_at").string(r.started_at);
  w.key("finished_at").string(r.finished_at);
  w.key("machine").begin_object();
  w.key("cpu_model").string(r.machine.cpu_model);
  w.key("hardware_threads").integer(r.machine.hardware_threads);
  w.key("kernel_isa").string(r.machine.kernel_isa);
  w.key("git_commit").string(r.machine.git_commit);
  w.key("hostname").string(r.machine.hostname);
  w.end_object();
  w.key("parameters");
  write_parameters(w, r.options);
  const DatasetInfo& d = r.dataset;
  w.key("dataset").begin_object();
  w.key("source").string(d.source);
  w.key("base_path").string(d.base_path).key("queries_path").string(d.queries_path);
  w.key("gt_path").string(d.gt_path).key("gt_source").string(d.gt_source);
  w.key("base_rows").integer(d.base_rows).key("dim").integer(d.dim);
  w.key("queries_rows").integer(d.queries_rows).key("gt_cols").integer(d.gt_cols);
  w.end_object();
  w.key("engines").begin_array();
  for (const EngineInfo& e : r.engines) {
    w.begin_object();
    w.key("label").string(e.label).key("describe").string(e.describe);
    w.key("build_seconds").number(e.build_seconds);
    w.key("memory_bytes").integer(static_cast<int64_t>(e.memory_bytes));
    w.key("memory_estimated").boolean(e.memory_estimated).key("loaded").boolean(e.loaded);
    w.end_object();
  }
  w.end_array();
  w.key("build_tuning");
  write_tuning(w, r.build_tune);
  w.key("tuning");
  write_tuning(w, r.tune);
  w.key("runs").begin_array();
  for (const RunPoint& p : r.runs) write_run(w, p);
  w.end_array();
  w.key("recommendation").begin_object();
  w.key("found").boolean(r.recommendation.choice.has_value());
  w.key("run");
  if (r.recommendation.choice) {
    w.integer(static_cast<int64_t>(*r.recommendation.choice));
  } else {
    w.null();
  }
  w.key("knob").string(r.recommendation.choice ? r.runs[*r.recommendation.choice].knob : "");
  w.key("value").integer(r.recommendation.choice ? r.runs[*r.recommendation.choice].value : 0);
  w.key("message").string(r.recommendation.message);
  w.end_object();
  w.key("best_per_engine").begin_array();
  for (size_t i : r.best_per_label) w.integer(static_cast<int64_t>(i));
  w.end_array();
  w.key("notes").begin_array();
  for (const std::string& n : r.notes) w.string(n);
  w.end_array();
  w.end_object();
  return w.str() + "\n";
}

std::string report_csv(const Report& r) {
  std::ostringstream s;
  s << "label,engine,index,defaults,knob,value,tuned,index_default,recall,batch_qps,single_qps,"
       "p50_ms,p95_ms,p99_ms,p999_ms,build_seconds,memory_bytes,pareto_single,pareto_batch,"
       "recommended,metric,k,threads,base_rows,dim,queries_rows,dataset,cpu_model,"
       "hardware_threads,kernel_isa,git_commit,started_at\n";
  const std::string dataset = r.dataset.source == "synthetic" ? "synthetic" : r.dataset.base_path;
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const RunPoint& p = r.runs[i];
    const bool recommended = r.recommendation.choice && *r.recommendation.choice == i;
    s << csv_field(p.label()) << ',' << p.engine << ',' << p.index << ',' << p.defaults << ','
      << p.knob << ',' << p.value << ',' << p.tuned << ',' << p.index_default << ','
      << fmt("%.6f", p.recall) << ',' << fmt("%.1f", p.batch_qps) << ','
      << fmt("%.1f", p.single_qps) << ',' << fmt("%.4f", p.p50_ms) << ',' << fmt("%.4f", p.p95_ms)
      << ',' << fmt("%.4f", p.p99_ms) << ',' << fmt("%.4f", p.p999_ms) << ','
      << fmt("%.3f", p.build_seconds) << ',' << p.memory_bytes << ',' << p.pareto_single << ','
      << p.pareto_batch << ',' << recommended << ',' << metric_name(r.options.metric) << ','
      << r.options.k << ',' << r.options.threads << ',' << r.dataset.base_rows << ','
      << r.dataset.dim << ',' << r.dataset.queries_rows << ',' << csv_field(dataset) << ','
      << csv_field(r.machine.cpu_model) << ',' << r.machine.hardware_threads << ','
      << r.machine.kernel_isa << ',' << r.machine.git_commit << ',' << r.started_at << '\n';
  }
  return s.str();
}

Status write_text(const std::string& path, const std::string& text) {
  internal::AtomicFile f;
  VECPERF_RETURN_IF_ERROR(f.open(path));
  VECPERF_RETURN_IF_ERROR(f.append(text.data(), text.size()));
  return f.commit();
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), active_(isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, int64_t total) {
  if (!active_ || total <= 0) return;
  const int permille = static_cast<int>(1000 * std::min(done, total) / total);
  if (permille == last_permille_) return;
  last_permille_ = permille;
  constexpr int kWidth = 30;
  const int filled = permille * kWidth / 1000;
  std::fprintf(stderr, "\r%-32s [%s%s] %5.1f%%", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(kWidth - filled, ' ').c_str(), permille / 10.0);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!active_ || last_permille_ < 0) return;
  std::fprintf(stderr, "\r%*s\r", 80, "");
  std::fflush(stderr);
  last_permille_ = -1;
}

}  // namespace vecperf::bench
