#include "convert.h"

#include <atomic>
#include <memory>

namespace vecperf::python {
namespace {

// Exception types created at module init. Deliberately leaked: they live as long as the
// interpreter, and Py_DECREF at static destruction time would run after it is gone.
PyObject* g_error = nullptr;
PyObject* g_corruption_error = nullptr;

std::atomic<int64_t> g_conversions{0};

std::string shape_string(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(a.shape(i));
  }
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Numeric kinds numpy converts to float32/int64 by value: bool, signed, unsigned, float.
// Complex (drops the imaginary part), object, str and bytes are refused instead.
void require_real_dtype(const py::array& a, const char* what, bool allow_float) {
  const char kind = a.dtype().kind();
  if (kind == 'i' || kind == 'u' || (allow_float && (kind == 'b' || kind == 'f'))) return;
  throw py::type_error(std::string(what) + ": expected " +
                       (allow_float ? "a real numeric array" : "an integer array") +
                       ", got dtype " + std::string(py::str(a.dtype())));
}

// Returns `a` as a C-contiguous aligned native array of T, counting a conversion when the
// result is not the caller's own object (numpy copied it, or it was not an ndarray).
template <typename T>
py::array as_contiguous(const py::array& a, py::handle original) {
  auto converted = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!converted) throw py::error_already_set();
  if (converted.ptr() != original.ptr()) g_conversions.fetch_add(1, std::memory_order_relaxed);
  return converted;
}

}  // namespace

void register_exceptions(py::module_& m) {
  g_error = PyErr_NewExceptionWithDoc(
      "vecperf.Error",
      "Base class of vecperf's own exceptions. `code` names the C++ status code "
      "(e.g. 'AlreadyExists', 'Unavailable', 'ResourceExhausted').",
      PyExc_Exception, nullptr);
  if (g_error == nullptr) throw py::error_already_set();
  g_corruption_error = PyErr_NewExceptionWithDoc(
      "vecperf.CorruptionError",
      "A file or record failed its integrity checks (truncated, damaged or foreign file).", g_error,
      nullptr);
  if (g_corruption_error == nullptr) throw py::error_already_set();
  m.attr("Error") = py::handle(g_error);
  m.attr("CorruptionError") = py::handle(g_corruption_error);
}

void throw_status(const Status& status, bool file_call) {
  PyObject* type = g_error;
  switch (status.code()) {
    case StatusCode::kInvalidArgument: type = PyExc_ValueError; break;
    case StatusCode::kNotFound: type = file_call ? PyExc_FileNotFoundError : PyExc_KeyError; break;
    case StatusCode::kIOError: type = PyExc_OSError; break;
    case StatusCode::kCorruption: type = g_corruption_error; break;
    default: break;
  }
  py::object exc = py::reinterpret_borrow<py::object>(type)(std::string(status.message()));
  exc.attr("code") = status_code_name(status.code());
  PyErr_SetObject(type, exc.ptr());
  throw py::error_already_set();
}

std::string type_name(py::handle object) {
  return py::str(py::type::handle_of(object).attr("__name__"));
}

int64_t conversion_count() { return g_conversions.load(std::memory_order_relaxed); }

Matrix to_matrix(py::handle object, int64_t dim, const char* what) {
  py::array a = py::array::ensure(object);
  if (!a) throw py::type_error(std::string(what) + ": expected an array-like of numbers");
  require_real_dtype(a, what, /*allow_float=*/true);
  const std::string expected =
      dim >= 0 ? "(n, " + std::to_string(dim) + ") or (" + std::to_string(dim) + ",)" : "(n, dim)";
  const bool single = a.ndim() == 1;
  if ((a.ndim() != 1 && a.ndim() != 2) || (dim >= 0 && a.shape(a.ndim() - 1) != dim)) {
    throw py::value_error(std::string(what) + ": expected shape " + expected + ", got " +
                          shape_string(a));
  }
  Matrix m{as_contiguous<float>(a, object), {}};
  m.view.data = static_cast<const float*>(m.owner.data());
  m.view.rows = single ? 1 : m.owner.shape(0);
  m.view.dim = single ? m.owner.shape(0) : m.owner.shape(1);
  return m;
}

Ids to_ids(py::handle object, const char* what) {
  py::array a = py::array::ensure(object);
  if (!a) throw py::type_error(std::string(what) + ": expected an array-like of integers");
  if (a.ndim() == 0) a = a.attr("reshape")(1);
  if (a.ndim() != 1) {
    throw py::value_error(std::string(what) + ": expected shape (n,), got " + shape_string(a));
  }
  if (a.size() > 0) require_real_dtype(a, what, /*allow_float=*/false);
  Ids ids{as_contiguous<int64_t>(a, object), {}};
  ids.span = IdSpan(static_cast<const int64_t*>(ids.owner.data()), ids.owner.shape(0));
  return ids;
}

IdMatrix to_id_matrix(py::handle object, const char* what) {
  py::array a = py::array::ensure(object);
  if (!a) throw py::type_error(std::string(what) + ": expected an array-like of integers");
  if (a.ndim() != 2) {
    throw py::value_error(std::string(what) + ": expected shape (nq, k), got " + shape_string(a));
  }
  if (a.size() > 0) require_real_dtype(a, what, /*allow_float=*/false);
  IdMatrix m{as_contiguous<int64_t>(a, object)};
  m.data = static_cast<const int64_t*>(m.owner.data());
  m.rows = m.owner.shape(0);
  m.cols = m.owner.shape(1);
  return m;
}

py::dict search_knobs(const SearchOptions& options) {
  py::dict knobs;
  knobs["nprobe"] = options.nprobe;
  knobs["ef_search"] = options.ef_search;
  knobs["rerank"] = options.rerank;
  return knobs;
}

Texts to_texts(py::handle object) {
  if (PyUnicode_Check(object.ptr()) || PyBytes_Check(object.ptr())) {
    throw py::type_error(
        "texts: expected a sequence of str, got a single string; wrap it in a list");
  }
  py::object fast = py::reinterpret_steal<py::object>(
      PySequence_Fast(object.ptr(), "texts: expected a sequence of str"));
  if (!fast) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(fast.ptr());
  PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
  Texts texts;
  texts.keep.reserve(static_cast<size_t>(n));
  texts.views.reserve(static_cast<size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = items[i];
    const std::optional<std::string_view> view = text_bytes(item);
    if (!view) {
      throw py::type_error("texts[" + std::to_string(i) + "]: expected str, got " +
                           type_name(item));
    }
    texts.keep.push_back(py::reinterpret_borrow<py::object>(item));
    texts.views.push_back(*view);
  }
  return texts;
}

std::optional<std::string_view> text_bytes(PyObject* item) {
  if (PyUnicode_Check(item)) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(item, &size);
    if (data == nullptr) throw py::error_already_set();
    return std::string_view(data, static_cast<size_t>(size));
  }
  if (PyBytes_Check(item)) {
    return std::string_view(PyBytes_AS_STRING(item), static_cast<size_t>(PyBytes_GET_SIZE(item)));
  }
  return std::nullopt;
}

py::object resolve_progress(py::object progress, const char* description) {
  return py::module_::import("vecperf._progress").attr("resolve")(progress, description);
}

void report_progress(const py::object& progress, int64_t done, int64_t total) {
  if (progress.is_none()) return;
  try {
    progress(done, total);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("vecperf progress callback");
  }
}

ProgressCallback to_progress(py::object callback) {
  if (callback.is_none()) return {};
  // The index may outlive this call and be destroyed without the GIL (e.g. at shutdown of a
  // worker thread), so the reference is released under the GIL explicitly.
  std::shared_ptr<py::object> held(new py::object(std::move(callback)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
  return [held](int64_t done, int64_t total) {
    py::gil_scoped_acquire gil;
    report_progress(*held, done, total);
  };
}

AddProgressCallback StoppingProgress::callback() {
  if (callable_.is_none()) return {};
  return [this](int64_t done, int64_t total) {
    py::gil_scoped_acquire gil;
    try {
      callable_(done, total);
      return Status::OK();
    } catch (py::error_already_set& e) {
      error_.emplace(std::move(e));
      // Never seen by Python: raise_if_stopped() raises the callable's own exception instead.
      return Status::Unavailable("the progress callback raised an exception");
    }
  };
}

void StoppingProgress::raise_if_stopped() {
  if (!error_) return;
  py::error_already_set error = std::move(*error_);
  error_.reset();
  throw error;
}

ByteView::ByteView(py::handle object, const char* what) {
  // PyBUF_SIMPLE: contiguous bytes only, so a strided memoryview is refused rather than misread.
  if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    throw py::type_error(std::string(what) +
                         ": expected a bytes-like object (bytes, bytearray, "
                         "memoryview), got " +
                         type_name(object));
  }
}

}  // namespace vecperf::python
