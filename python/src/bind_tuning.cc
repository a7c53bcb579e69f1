// vecperf.tune(), tune_held_out(), parse_tuning_profile(), apply_tuning_profile() and the
// TuningResult they return: conversions around include/vecperf/tuning.h. Tuning runs with the
// GIL released; the progress callback re-takes it.
#include <cstdio>
#include <string>

#include "convert.h"
#include "objects.h"
#include "vecperf/tuning.h"

namespace vecperf::python {
namespace {

using namespace pybind11::literals;

TuningOptions tuning_options(int num_threads, bool apply, double time_budget,
                             int64_t latency_queries, int max_ef_search, py::object progress) {
  TuningOptions o;
  o.num_threads = num_threads;
  o.apply = apply;
  o.time_budget_seconds = time_budget;
  o.latency_queries = latency_queries;
  o.max_ef_search = max_ef_search;
  o.on_progress = to_progress(resolve_progress(std::move(progress), "vecperf: tuning"));
  return o;
}

TuningResult tune_index(py::object index, py::object queries, double target_recall, int k,
                        int num_threads, bool apply, double time_budget, int64_t latency_queries,
                        int max_ef_search, py::object progress) {
  Index& target = index_of(index, "index");
  Matrix q = to_matrix(queries, target.dim(), "queries");
  const TuningOptions o = tuning_options(num_threads, apply, time_budget, latency_queries,
                                         max_ef_search, std::move(progress));
  Result<TuningResult> result = [&] {
    py::gil_scoped_release release;
    return tune(target, q.view, target_recall, k, o);
  }();
  return value_or_throw(std::move(result));
}

TuningResult tune_index_held_out(py::object index, double target_recall, int k, int64_t sample_size,
                                 uint64_t seed, int num_threads, bool apply, double time_budget,
                                 int64_t latency_queries, int max_ef_search, py::object progress) {
  Index& target = index_of(index, "index");
  TuningOptions o = tuning_options(num_threads, apply, time_budget, latency_queries, max_ef_search,
                                   std::move(progress));
  o.sample_size = sample_size;
  o.seed = seed;
  Result<TuningResult> result = [&] {
    py::gil_scoped_release release;
    return tune_held_out(target, target_recall, k, o);
  }();
  return value_or_throw(std::move(result));
}

std::string fixed(double value, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return buf;
}

std::string repr(const TuningResult& r) {
  std::string s = "<vecperf.TuningResult kind=" + std::string(index_kind_name(r.kind));
  if (!r.knob.empty()) s += " " + r.knob + "=" + std::to_string(r.value);
  s += " recall=" + fixed(r.recall, 4) + " target=" + fixed(r.target_recall, 4) +
       " k=" + std::to_string(r.k) + " met_target=" + (r.met_target ? "True" : "False") +
       " applied=" + (r.applied ? "True" : "False");
  if (r.latency_queries > 0) {
    s += " p50_ms=" + fixed(r.latency_p50_ms, 3) + " p99_ms=" + fixed(r.latency_p99_ms, 3);
  }
  return s + ">";
}

constexpr const char* kTuneDoc =
    R"doc(Finds the smallest nprobe (IVF) or ef_search (HNSW) whose recall@k on `queries` reaches
target_recall, measures its latency and throughput, and (apply=True) stores it as the index's
default search knobs (index.default_search_options).

queries: (n, dim) array-like, representative of real traffic; the exact neighbours come from a
scan of the index's own vectors. target_recall in (0, 1]; k in [1, 65536]. num_threads=0 uses
every core. time_budget: seconds for the knob search, 0 = none; when it runs out, the best
setting so far is returned with complete=False. latency_queries: queries timed one at a time.
max_ef_search: top of the ef_search range (HNSW). progress: True shows a progress bar on a TTY;
a callable receives (evaluations done, upper bound on the total).

Missing the target even at the largest knob is not an error: the result has met_target=False and
a message. Flat (exact) indexes return recall 1 at once. Raises ValueError for a bad argument or
an empty index. Runs without the GIL; other threads may search meanwhile, but the result is
meaningless if the index changes during tuning.)doc";

constexpr const char* kTuneHeldOutDoc =
    R"doc(As tune(), with sample_size vectors drawn from the index itself (seeded by `seed`) as queries,
for a built index when no real queries are at hand. Each query's own id is excluded from its
neighbours. The estimate is good for IVF and optimistic for HNSW (the result's message says so).
ValueError when the index holds fewer than two vectors.)doc";

}  // namespace

void bind_tuning(py::module_& m) {
  py::class_<TuningResult>(m, "TuningResult",
                           "What vecperf.tune() chose and measured; also a profile that to_json() "
                           "exports and vecperf.parse_tuning_profile() reads back. Read-only.")
      .def_property_readonly(
          "kind", [](const TuningResult& r) { return index_kind_name(r.kind); },
          "Backend whose knob was tuned: 'ivf', 'hnsw', 'flat' (an auto index: "
          "its current stage).")
      .def_readonly("knob", &TuningResult::knob,
                    "'nprobe', 'ef_search', or '' when searches are exact and there was nothing to "
                    "tune.")
      .def_readonly("value", &TuningResult::value, "The chosen value of knob (0 when knob is '').")
      .def_readonly("min_value", &TuningResult::min_value, "Lower end of the range searched.")
      .def_readonly("max_value", &TuningResult::max_value, "Upper end of the range searched.")
      .def_property_readonly(
          "search_options", [](const TuningResult& r) { return search_knobs(r.search_options); },
          "The chosen knobs as a dict {'nprobe', 'ef_search', 'rerank'}.")
      .def_readonly("target_recall", &TuningResult::target_recall)
      .def_readonly("k", &TuningResult::k)
      .def_readonly("recall", &TuningResult::recall,
                    "Recall@k measured at value on the sample (1 for exact searches).")
      .def_readonly("met_target", &TuningResult::met_target, "recall >= target_recall.")
      .def_readonly("complete", &TuningResult::complete,
                    "False when the time budget stopped the search early.")
      .def_readonly("applied", &TuningResult::applied,
                    "True when the knobs were stored as the index's defaults.")
      .def_readonly("held_out", &TuningResult::held_out,
                    "True when the queries were drawn from the indexed vectors.")
      .def_readonly("sample_size", &TuningResult::sample_size, "Queries in the sample.")
      .def_readonly("evaluations", &TuningResult::evaluations, "Knob settings evaluated.")
      .def_readonly("latency_queries", &TuningResult::latency_queries,
                    "Queries timed one at a time for the latency percentiles (0: not measured).")
      .def_readonly("latency_p50_ms", &TuningResult::latency_p50_ms)
      .def_readonly("latency_p99_ms", &TuningResult::latency_p99_ms)
      .def_readonly("batch_qps", &TuningResult::batch_qps,
                    "Batch throughput over the sample, queries per second.")
      .def_readonly("seconds", &TuningResult::seconds, "Wall-clock seconds the tuning took.")
      .def_readonly("message", &TuningResult::message,
                    "Why the target was missed or the search stopped, or a caveat; '' otherwise.")
      .def("to_json", &TuningResult::to_json,
           "The result as a JSON profile (format 'vecperf-tuning-profile'); "
           "vecperf.parse_tuning_profile() reads it back.")
      .def("__repr__", &repr);

  m.def("tune", &tune_index, "index"_a, "queries"_a, "target_recall"_a, "k"_a = 10, py::kw_only(),
        "num_threads"_a = 0, "apply"_a = true, "time_budget"_a = 0.0,
        "latency_queries"_a = TuningOptions{}.latency_queries,
        "max_ef_search"_a = TuningOptions{}.max_ef_search, "progress"_a = py::none(), kTuneDoc);
  m.def("tune_held_out", &tune_index_held_out, "index"_a, "target_recall"_a, "k"_a = 10,
        py::kw_only(), "sample_size"_a = TuningOptions{}.sample_size,
        "seed"_a = TuningOptions{}.seed, "num_threads"_a = 0, "apply"_a = true,
        "time_budget"_a = 0.0, "latency_queries"_a = TuningOptions{}.latency_queries,
        "max_ef_search"_a = TuningOptions{}.max_ef_search, "progress"_a = py::none(),
        kTuneHeldOutDoc);
  m.def(
      "parse_tuning_profile",
      [](const std::string& text) { return value_or_throw(parse_tuning_profile(text)); }, "text"_a,
      "Reads a profile written by TuningResult.to_json(). ValueError for malformed JSON (with "
      "line and column), a missing or out-of-range member; vecperf.Error (code 'NotSupported') "
      "for a newer format version.");
  m.def(
      "apply_tuning_profile",
      [](py::object index, const TuningResult& profile) {
        Index& target = index_of(index, "index");
        Status status;
        {
          py::gil_scoped_release release;
          status = apply_tuning_profile(target, profile);
        }
        throw_if_error(status);
      },
      "index"_a, "profile"_a,
      "Stores the profile's knobs as the index's default search options. ValueError when the "
      "profile was tuned for another kind of backend than the one serving the index.");
}

}  // namespace vecperf::python
