// vecperf.prometheus_text(), performance_report(), set_metrics_name(), set_memory_budget() and
// merge_results(): conversions around include/vecperf/metrics.h and merge.h.
#include <string>
#include <vector>

#include "convert.h"
#include "objects.h"
#include "vecperf/merge.h"
#include "vecperf/metrics.h"

namespace vecperf::python {
namespace {

using namespace pybind11::literals;

std::string report(const std::string& format, uint64_t memory_budget) {
  ReportOptions o;
  if (format == "text") {
    o.format = ReportFormat::kText;
  } else if (format == "json") {
    o.format = ReportFormat::kJson;
  } else {
    throw py::value_error("format: expected 'text' or 'json', got '" + format + "'");
  }
  o.memory_budget_bytes = memory_budget;
  py::gil_scoped_release release;
  return performance_report(o);
}

// The registry calls below run without the GIL: prometheus_text() holds the registry's lock while
// it reads every index, and an auto index may wait for the GIL (its progress callback) while
// holding its own lock, so waiting for the registry with the GIL held could deadlock.
void set_name(py::object object, std::string name) {
  const Index* index = index_or_null(object);
  std::shared_ptr<EmbeddingCache> cache = index == nullptr ? cache_or_null(object) : nullptr;
  if (index == nullptr && cache == nullptr) {
    throw py::type_error(
        "set_metrics_name: expected a vecperf.Index or vecperf.EmbeddingCache, got " +
        type_name(object));
  }
  py::gil_scoped_release release;
  if (index != nullptr) {
    set_metrics_name(*index, std::move(name));
  } else {
    set_metrics_name(*cache, std::move(name));
  }
}

py::tuple merge(py::sequence shards, int k) {
  if (k < 1) throw py::value_error("k must be >= 1, got " + std::to_string(k));
  std::vector<Matrix> distances;
  std::vector<IdMatrix> ids;
  std::vector<ShardResults> views;
  const size_t count = shards.size();
  distances.reserve(count);
  ids.reserve(count);
  int64_t nq = -1;
  for (size_t s = 0; s < count; ++s) {
    const std::string where = "shards[" + std::to_string(s) + "]";
    py::object pair = shards[s];
    // A tuple or list only: a 2-row array is a sequence of two too, and is surely a mistake.
    if (!(py::isinstance<py::tuple>(pair) || py::isinstance<py::list>(pair)) ||
        py::len(pair) != 2) {
      throw py::type_error(where + ": expected a (distances, ids) pair as Index.search returns");
    }
    distances.push_back(to_matrix(pair[py::int_(0)], -1, (where + " distances").c_str()));
    ids.push_back(to_id_matrix(pair[py::int_(1)], (where + " ids").c_str()));
    const MatrixView& d = distances.back().view;
    const IdMatrix& i = ids.back();
    if (d.rows != i.rows || d.dim != i.cols) {
      throw py::value_error(where + ": distances have shape (" + std::to_string(d.rows) + ", " +
                            std::to_string(d.dim) + ") but ids (" + std::to_string(i.rows) + ", " +
                            std::to_string(i.cols) + "); they must match");
    }
    if (nq >= 0 && i.rows != nq) {
      throw py::value_error(where + ": " + std::to_string(i.rows) + " queries, but shards[0] has " +
                            std::to_string(nq) + "; every shard must answer the same queries");
    }
    nq = i.rows;
    views.push_back(ShardResults{d.data, i.data, static_cast<int>(i.cols)});
  }
  if (nq < 0) throw py::value_error("shards: expected at least one (distances, ids) pair");
  py::array_t<float> out_distances({nq, int64_t{k}});
  py::array_t<int64_t> out_ids({nq, int64_t{k}});
  SearchResults out{out_distances.mutable_data(), out_ids.mutable_data()};
  Status status;
  {
    py::gil_scoped_release release;
    status = merge_results(views, nq, k, out);
  }
  throw_if_error(status);
  return py::make_tuple(out_distances, out_ids);
}

}  // namespace

void bind_metrics(py::module_& m) {
  m.def("prometheus_text", &prometheus_text, py::call_guard<py::gil_scoped_release>(),
        "Prometheus text exposition (format 0.0.4) of every live index and embedding cache in the "
        "process, plus process metrics; names are vecperf_* (docs/operations.md). Serve it with "
        "Content-Type 'text/plain; version=0.0.4'. Thread-safe.");
  m.def("_performance_report", &report, "format"_a, "memory_budget"_a,
        "The report as a str; vecperf.performance_report() parses the JSON form.");
  m.def("set_metrics_name", &set_name, "obj"_a, "name"_a,
        "Label of an Index (`index`) or EmbeddingCache (`cache`) in metrics and the report; '' "
        "restores the default 'index<N>' / 'cache<N>'. When two live objects share a name, the "
        "later one is shown as '<name>-<N>'. TypeError for another object. Thread-safe.");
  m.def(
      "set_memory_budget",
      [](py::object index, size_t budget) {
        const Index& target = index_of(index, "index");
        py::gil_scoped_release release;
        set_memory_budget(target, budget);
      },
      "index"_a, "budget_bytes"_a,
      "Memory budget of one index in bytes, for the report's memory warning; 0 removes it.");
  m.def("merge_results", &merge, "shards"_a, "k"_a,
        R"doc(Merges several shards' search results for the same queries into one global top-k.

shards: a sequence of (distances, ids) pairs as Index.search returns them, each (nq, k_shard)
with the same nq. Returns (distances, ids) of shape (nq, k), nearest first; ties go to the
smaller id, an id found by several shards is kept once, unfilled slots hold id -1 and distance
inf. Distances are comparable only between indexes of the same metric. ValueError for
mismatched shapes, k < 1 or a NaN distance.)doc");
}

}  // namespace vecperf::python
