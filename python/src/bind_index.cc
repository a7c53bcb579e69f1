// vecperf.Index, vecperf.Plan, vecperf.plan() and vecperf.load(): conversions around the C++
// Index API. The GIL is released around every call that takes the index's lock, not only the
// vector-touching ones: an auto index reports migration progress to Python from inside add(),
// so a thread holding the GIL while waiting for that lock would deadlock with it.
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "convert.h"
#include "objects.h"
#include "vecperf/factory.h"
#include "vecperf/gpu.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::python {
namespace {

using namespace pybind11::literals;

/// The Python object behind vecperf.Index.
struct PyIndex {
  std::unique_ptr<Index> index;
  int64_t dim = 0;
  /// First id add() assigns when called without ids: 0 for a new index, next_free_id() for a
  /// loaded one, then past every id added through this object.
  int64_t next_id = 0;
};

PyIndex wrap(std::unique_ptr<Index> index, int64_t next_id) {
  const int64_t dim = index->dim();
  return PyIndex{std::move(index), dim, next_id};
}

// ----- construction parameters: the library's option table, typed for Python ----------------

// The Python type a value of `type` must have, for the TypeError.
const char* python_type(OptionType type) {
  switch (type) {
    case OptionType::kInt: return "an int";
    case OptionType::kFloat: return "a number";
    case OptionType::kBool: return "a bool";
    case OptionType::kName: return "a str";
  }
  return "a value";
}

// `value` as the option's text, or TypeError when it has the wrong Python type. Refuses bool
// for numbers and float for ints, which a string conversion would otherwise let through.
std::string option_text(const std::string& name, OptionType type, py::handle value) {
  const bool is_bool = PyBool_Check(value.ptr());
  bool ok = false;
  switch (type) {
    case OptionType::kInt: ok = !is_bool && PyLong_Check(value.ptr()); break;
    case OptionType::kFloat:
      ok = !is_bool && (PyLong_Check(value.ptr()) || PyFloat_Check(value.ptr()));
      break;
    case OptionType::kBool: ok = is_bool; break;
    case OptionType::kName: ok = PyUnicode_Check(value.ptr()); break;
  }
  if (!ok) {
    throw py::type_error(name + ": expected " + python_type(type) + ", got " +
                         std::string(py::repr(value)));
  }
  if (type == OptionType::kBool) return value.ptr() == Py_True ? "true" : "false";
  if (type == OptionType::kName) return py::cast<std::string>(value);
  // repr() of a float is the shortest text that reads back as the same double.
  return py::cast<std::string>(py::repr(value));
}

// Sets each keyword as the option of that name (vecperf::set_index_option): TypeError for a name
// the kind does not accept or a value of the wrong type, ValueError for one out of range.
void apply_params(IndexOptions& o, const py::kwargs& params) {
  for (auto [key, value] : params) {
    const std::string name = py::cast<std::string>(key);
    Result<OptionType> type = index_option_type(o.kind, name);
    if (!type.ok()) throw py::type_error(std::string(type.status().message()));
    throw_if_error(set_index_option(o, name, option_text(name, *type, value)));
  }
}

// The options of `o` as a dict of Python values, keyed as Index() accepts them.
py::dict params_of(const IndexOptions& o) {
  py::dict params;
  const std::vector<OptionInfo> fields = index_option_fields(o.kind);
  const auto values = index_option_values(o);
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string& text = values[i].second;
    py::object v;
    switch (fields[i].type) {
      case OptionType::kInt: v = py::int_(py::str(text)); break;
      case OptionType::kFloat: v = py::float_(std::stod(text)); break;
      case OptionType::kBool: v = py::bool_(text == "true"); break;
      case OptionType::kName: v = py::str(text); break;
    }
    params[py::str(values[i].first)] = v;
  }
  return params;
}

PyIndex from_spec(const std::string& spec, py::object dim, py::object metric) {
  IndexOptions o = value_or_throw(parse_index_spec(spec));
  if (!dim.is_none()) o.dim = cast_arg<int64_t>(dim, "dim");
  if (!metric.is_none())
    o.metric = value_or_throw(parse_metric(cast_arg<std::string>(metric, "metric")));
  return wrap(value_or_throw(make_index(o)), 0);
}

PyIndex make(int64_t dim, const std::string& metric, const std::string& kind, py::object progress,
             const py::kwargs& params) {
  IndexOptions o;
  o.dim = dim;
  o.metric = value_or_throw(parse_metric(metric));
  o.kind = value_or_throw(parse_index_kind(kind));
  apply_params(o, params);
  if (!progress.is_none()) {
    if (o.kind != IndexKind::kAuto) {
      throw py::value_error(
          "progress: only kind='auto' has long operations to report (migrations)");
    }
    o.auto_index.on_progress = to_progress(resolve_progress(progress, "vecperf: migrating index"));
  }
  return wrap(value_or_throw(make_index(o)), 0);
}

// ----- operations ----------------------------------------------------------------------------

py::array add(PyIndex& self, py::object vectors, py::object ids, py::object progress,
              int num_threads) {
  // Checked before the implicit ids are reserved, so a rejected call consumes none.
  if (num_threads < 0)
    throw py::value_error("num_threads must be >= 0 (0 = every core), got " +
                          std::to_string(num_threads));
  Matrix v = to_matrix(vectors, self.dim, "vectors");
  StoppingProgress report(resolve_progress(std::move(progress), "vecperf: adding vectors"));
  if (ids.is_none()) {
    // Reserved with no Python code between the read and the write (Python code may switch
    // threads), so concurrent implicit adds get disjoint ranges.
    const int64_t first = self.next_id;
    self.next_id += v.view.rows;
    ids = py::module_::import("numpy").attr("arange")(first, first + v.view.rows,
                                                      "dtype"_a = "int64");
  }
  Ids i = to_ids(ids, "ids");
  AddOptions options;
  options.progress = report.callback();
  options.num_threads = num_threads;
  Status status;
  {
    py::gil_scoped_release release;
    status = self.index->add(i.span, v.view, options);
  }
  report.raise_if_stopped();  // the add was undone; the callable's exception explains why
  throw_if_error(status);
  if (!i.span.empty()) {
    const auto largest = py::cast<int64_t>(i.owner.attr("max")());
    const int64_t after_largest = largest < INT64_MAX ? largest + 1 : largest;
    self.next_id = std::max(self.next_id, after_largest);  // no Python code in between
  }
  return i.owner;
}

/// An optional per-call knob: None means 0, the index default.
int knob(py::object value, const char* name) {
  return value.is_none() ? 0 : cast_arg<int>(value, name);
}

py::tuple search(const PyIndex& self, py::object queries, int k, py::object nprobe,
                 py::object ef_search, py::object rerank, int num_threads) {
  Matrix q = to_matrix(queries, self.dim, "queries");
  // Checked here, not only by the index, because the output arrays are allocated first.
  if (k < 1) throw py::value_error("k must be >= 1, got " + std::to_string(k));
  SearchOptions options{k, knob(nprobe, "nprobe"), knob(ef_search, "ef_search"),
                        knob(rerank, "rerank"), num_threads};
  py::array_t<float> distances({q.view.rows, int64_t{k}});
  py::array_t<int64_t> ids({q.view.rows, int64_t{k}});
  SearchResults results{distances.mutable_data(), ids.mutable_data()};
  Status status;
  {
    py::gil_scoped_release release;
    status = self.index->search(q.view, options, results);
  }
  throw_if_error(status);
  return py::make_tuple(distances, ids);
}

void remove(PyIndex& self, py::object ids) {
  Ids i = to_ids(ids, "ids");
  Status status;
  {
    py::gil_scoped_release release;
    status = self.index->remove(i.span);
  }
  throw_if_error(status);
}

py::array_t<float> get_vector(const PyIndex& self, int64_t id) {
  py::array_t<float> out(self.dim);
  float* data = out.mutable_data();
  Status status;
  {
    py::gil_scoped_release release;
    status = self.index->get_vector(id, data);
  }
  throw_if_error(status);
  return out;
}

// A loaded index numbers implicit ids after the largest id it holds, so they cannot collide.
PyIndex wrap_loaded(Result<std::unique_ptr<Index>>&& index, bool file_call) {
  std::unique_ptr<Index> loaded = value_or_throw(std::move(index), file_call);
  int64_t next_id = 0;
  {
    py::gil_scoped_release release;
    next_id = loaded->next_free_id();
  }
  return wrap(std::move(loaded), next_id);
}

PyIndex load_index(const std::filesystem::path& path) {
  Result<std::unique_ptr<Index>> index = [&] {
    py::gil_scoped_release release;
    return load(path.string());
  }();
  return wrap_loaded(std::move(index), /*file_call=*/true);
}

PyIndex index_from_bytes(py::object data) {
  ByteView view(data, "data");
  Result<std::unique_ptr<Index>> index = [&] {
    py::gil_scoped_release release;
    return from_bytes(view.bytes());
  }();
  return wrap_loaded(std::move(index), /*file_call=*/false);
}

py::bytes index_to_bytes(const PyIndex& self) {
  Result<std::string> bytes = [&] {
    py::gil_scoped_release release;
    return self.index->to_bytes();
  }();
  return py::bytes(value_or_throw(std::move(bytes)));
}

py::object plan_workload(int64_t n, int64_t dim, const std::string& metric, py::object budget,
                         double target_recall) {
  Workload w;
  w.expected_size = n;
  w.dim = dim;
  w.metric = value_or_throw(parse_metric(metric));
  w.memory_budget_bytes = budget.is_none() ? 0 : cast_arg<size_t>(budget, "memory_budget");
  w.target_recall = target_recall;
  return py::cast(value_or_throw(plan(w)));
}

constexpr const char* kIndexDoc =
    R"doc(A vector index: exact Flat, IVF, HNSW, or an Auto index that migrates itself
from Flat to IVF to HNSW as it grows.

Index(dim, metric="l2", kind="auto", *, progress=None, **params)

  dim     vector dimension.
  metric  "l2" (squared Euclidean), "ip" (inner product, distance 1 - <q, x>) or "cosine"
          (distance 1 - cos; vectors are normalised on add, zero vectors are refused).
  kind    "auto", "flat", "ivf", "hnsw" or "gpu_flat". vecperf.plan() picks one for a workload.
  params  backend parameters (TypeError for a name the kind does not accept or a value of the
          wrong type, ValueError for one out of range; vecperf.option_fields(kind) lists them):
            ivf:      nlist, nprobe, encoding ("flat", "sq8", "sq4", "pq"), pq_m, rerank,
                      train_threshold, max_train_samples, seed
            hnsw:     M, ef_construction, ef_search, seed
            gpu_flat: dtype ("float32", "float16"), device, memory_fraction, prefer_gpu,
                      allow_tf32
            auto:     flat_max, ivf_max, target_recall, plus the ivf and hnsw parameters of the
                      stages it migrates to: "nlist" sets the IVF stage's, "seed" both stages';
                      "ivf.seed" / "hnsw.seed" (through **{...}) set one
          Index.from_spec("hnsw,M=32,ef_search=64", dim) takes the same options as a string.
  progress  kind="auto" only: True shows a progress bar on a TTY while the index migrates;
          a callable receives (done, total).

Input arrays: a C-contiguous float32 (n, dim) array is used in place, without a copy. Other
real numeric input (float64, integers, lists, Fortran order, a single (dim,) vector) is
converted to float32 once. A wrong shape raises ValueError naming the expected and actual
shape; a non-numeric dtype raises TypeError.

Distances are "smaller is nearer", sorted ascending. Every method that touches vectors or the
index lock releases the GIL, so searches from several Python threads run in parallel; add and
remove may run concurrently with searches. Errors: ValueError (bad argument), KeyError (unknown
id), OSError (file I/O), vecperf.CorruptionError (damaged file), vecperf.Error (the rest, e.g.
an id that is already present: code 'AlreadyExists').

Pickling and copy.deepcopy go through to_bytes()/from_bytes() (the C++ serializer, in memory).)doc";

}  // namespace

Index* index_or_null(py::handle object) {
  if (!py::isinstance<PyIndex>(object)) return nullptr;
  return py::cast<PyIndex&>(object).index.get();
}

Index& index_of(py::handle object, const char* what) {
  Index* index = index_or_null(object);
  if (index == nullptr) {
    throw py::type_error(std::string(what) + ": expected a vecperf.Index, got " +
                         type_name(object));
  }
  return *index;
}

void bind_index(py::module_& m) {
  py::class_<PyIndex>(m, "Index", kIndexDoc)
      .def(py::init(&make), "dim"_a, "metric"_a = "l2", "kind"_a = "auto", py::kw_only(),
           "progress"_a = py::none(),
           "Creates an empty index; see the class documentation for the parameters.")
      .def_static("from_spec", &from_spec, "spec"_a, "dim"_a = py::none(), py::kw_only(),
                  "metric"_a = py::none(),
                  R"doc(Creates an empty index from a spec such as "hnsw,M=32,ef_search=64".

The spec is the kind, then name=value options (the keywords Index() takes, e.g.
"ivf,nlist=1024,encoding=sq8,rerank=100" or "auto,flat_max=50000,hnsw.M=32"); it may carry
dim= and metric= itself, and the dim and metric arguments override them. Plan.spec and the
vecperf-bench --index flag use the same form. ValueError for a malformed spec, an unknown kind
or option, or a value out of range.)doc")
      .def("add", &add, "vectors"_a, "ids"_a = py::none(), py::kw_only(), "progress"_a = py::none(),
           "num_threads"_a = 0,
           R"doc(Adds vectors (n, dim) with ids (n,) of non-negative int64, all or nothing.

ids=None assigns consecutive ids after the largest id added through this object (for a loaded
or unpickled index, after the largest id it holds). Returns the ids as an int64 array.
progress: True shows a progress bar on a TTY; a callable receives (done, total) after each
chunk of 8192 vectors, ending with (n, n), with the GIL held. If it raises, the add stops,
every vector it added is removed again, and that exception propagates.
num_threads: threads that build the index structure (HNSW links, IVF assignment and training,
an auto index's migration); 0 uses every core, 1 only the calling thread, so that a service can
keep cores for its searches.
Raises ValueError (shape, NaN/Inf, negative or repeated id, zero vector for cosine, negative
num_threads) and
vecperf.Error with code 'AlreadyExists' for an id already in the index.)doc")
      .def("search", &search, "queries"_a, "k"_a = 10, py::kw_only(), "nprobe"_a = py::none(),
           "ef_search"_a = py::none(), "rerank"_a = py::none(), "num_threads"_a = 0,
           R"doc(Finds the k nearest vectors of each query; returns (distances, ids).

Both arrays have shape (nq, k), nearest first (FAISS's order); a single (dim,) query gives
nq = 1. Slots that cannot be filled (k > len(index)) hold id -1 and distance inf.
nprobe (IVF), ef_search (HNSW) and rerank (compressed IVF) override the index defaults for this
call only; num_threads=0 uses every core, 1 runs on the calling thread.)doc")
      .def("remove", &remove, "ids"_a,
           "Removes the given ids, all or nothing: KeyError names an id that is not present.")
      .def(
          "save",
          [](const PyIndex& self, const std::filesystem::path& path) {
            Status status;
            {
              py::gil_scoped_release release;
              status = self.index->save(path.string());
            }
            throw_if_error(status, /*file_call=*/true);
          },
          "path"_a,
          "Writes the index to path (str or os.PathLike) atomically; vecperf.load() reads it.")
      .def("to_bytes", &index_to_bytes,
           "The bytes save() would write (the same format and checksums), as bytes; "
           "vecperf.from_bytes() reads them back.")
      .def("get_vector", &get_vector, "id"_a,
           "The stored copy of vector id (normalised for cosine, decoded for compressed IVF); "
           "KeyError if absent.")
      .def(
          "describe", [](const PyIndex& self) { return self.index->describe(); },
          py::call_guard<py::gil_scoped_release>(),
          "One line naming the backend and its parameters.")
      .def(
          "memory_bytes", [](const PyIndex& self) { return self.index->memory_bytes(); },
          py::call_guard<py::gil_scoped_release>(),
          "Bytes of memory held by the index (vectors, graph or lists, id map).")
      .def(
          "__len__", [](const PyIndex& self) { return self.index->size(); },
          py::call_guard<py::gil_scoped_release>(), "Number of live vectors.")
      .def(
          "__contains__", [](const PyIndex& self, int64_t id) { return self.index->contains(id); },
          "id"_a, py::call_guard<py::gil_scoped_release>(), "True when id is in the index.")
      .def("__repr__",
           [](const PyIndex& self) {
             std::string d;
             {
               py::gil_scoped_release release;
               d = self.index->describe();
             }
             return "<vecperf.Index " + d + ">";
           })
      .def_property_readonly(
          "dim", [](const PyIndex& self) { return self.dim; }, "Vector dimension.")
      .def_property_readonly(
          "metric", [](const PyIndex& self) { return metric_name(self.index->metric()); },
          "'l2', 'ip' or 'cosine'.")
      .def_property_readonly(
          "kind", [](const PyIndex& self) { return index_kind_name(self.index->kind()); },
          "'flat', 'ivf', 'hnsw' or 'auto'.")
      .def_property_readonly(
          "default_search_options",
          [](const PyIndex& self) {
            SearchOptions defaults;
            {
              py::gil_scoped_release release;
              defaults = self.index->default_search_options();
            }
            return search_knobs(defaults);
          },
          "The knobs a search uses when it does not pass them, as a dict {'nprobe', "
          "'ef_search', 'rerank'} (0 where the backend has no such knob); vecperf.tune() and "
          "vecperf.apply_tuning_profile() set them, and save() keeps them.");

  py::class_<IndexPlan>(m, "Plan",
                        "The factory's choice for a workload (see vecperf.plan): kind, params, "
                        "estimated memory and the rationale.")
      .def_property_readonly(
          "kind", [](const IndexPlan& p) { return index_kind_name(p.options.kind); },
          "Chosen backend: 'flat', 'ivf' or 'hnsw'.")
      .def_property_readonly("dim", [](const IndexPlan& p) { return p.options.dim; })
      .def_property_readonly("metric",
                             [](const IndexPlan& p) { return metric_name(p.options.metric); })
      .def_property_readonly(
          "params", [](const IndexPlan& p) { return params_of(p.options); },
          "Backend parameters: Index(plan.dim, plan.metric, plan.kind, **plan.params) "
          "builds the planned index.")
      .def_property_readonly(
          "spec", [](const IndexPlan& p) { return index_spec(p.options); },
          "The planned index as a spec: Index.from_spec(plan.spec) builds it.")
      .def_readonly("rationale", &IndexPlan::rationale,
                    "Which rule fired and why, with the numbers.")
      .def_readonly("estimated_memory_bytes", &IndexPlan::estimated_memory_bytes,
                    "Estimated bytes once the index holds the planned number of vectors.")
      .def_readonly("target_recall", &IndexPlan::target_recall)
      .def(
          "make_index", [](const IndexPlan& p) { return wrap(value_or_throw(make_index(p)), 0); },
          "Creates the empty index this plan describes.")
      .def("__repr__", [](const IndexPlan& p) {
        return "<vecperf.Plan kind=" + std::string(index_kind_name(p.options.kind)) +
               " params=" + std::string(py::str(params_of(p.options))) +
               " estimated_memory_bytes=" + std::to_string(p.estimated_memory_bytes) + ">";
      });

  m.def("plan", &plan_workload, "n"_a, "dim"_a, "metric"_a = "l2", py::kw_only(),
        "memory_budget"_a = py::none(), "target_recall"_a = 0.95,
        R"doc(Chooses a backend and parameters for n vectors of dimension dim.

memory_budget: most bytes the index may use (None or 0: unlimited). target_recall: recall@10
the approximate backends are tuned for, in (0, 1]. Returns a vecperf.Plan; plan.make_index()
creates the index. ValueError for a bad argument; vecperf.Error (code 'ResourceExhausted') when
even the smallest index exceeds the budget.)doc");
  m.def(
      "option_fields",
      [](const std::string& kind) {
        py::list out;
        for (const OptionInfo& f : index_option_fields(value_or_throw(parse_index_kind(kind)))) {
          const char* type = f.type == OptionType::kInt     ? "int"
                             : f.type == OptionType::kFloat ? "float"
                             : f.type == OptionType::kBool  ? "bool"
                                                            : "str";
          out.append(py::dict("name"_a = f.name, "type"_a = type, "default"_a = f.default_value,
                              "allowed"_a = f.allowed));
        }
        return out;
      },
      "kind"_a,
      "The construction parameters of an index kind: a list of dicts {'name', 'type', "
      "'default', 'allowed'} in the order of the C++ options struct.");
  m.def("gpu_available", &gpu_available,
        "True when vecperf was built with CUDA and a CUDA device can be used (kind='gpu_flat').");
  m.def("from_bytes", &index_from_bytes, "data"_a,
        R"doc(Loads an index from the bytes of Index.to_bytes() (or of a saved file).

data: bytes, bytearray or memoryview. The same checks as load(): vecperf.CorruptionError for
truncated, damaged or foreign bytes, vecperf.Error (code 'NotSupported') for a newer format,
TypeError for an object that is not bytes-like.)doc");
  m.def("load", &load_index, "path"_a,
        R"doc(Loads an index written by Index.save(), whatever its backend.

Raises FileNotFoundError or another OSError when the file cannot be read, vecperf.CorruptionError for a
truncated, damaged or foreign file, vecperf.Error (code 'NotSupported') for a newer format.)doc");
}

}  // namespace vecperf::python
