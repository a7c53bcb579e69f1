// Conversions between Python objects and vecperf's C++ types, and the one place where a Status
// becomes a Python exception. Everything here runs with the GIL held.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vecperf/index.h"
#include "vecperf/options.h"
#include "vecperf/status.h"
#include "vecperf/types.h"

namespace vecperf::python {

namespace py = pybind11;

/// Creates vecperf.Error and vecperf.CorruptionError in `m`; called once by the module init.
void register_exceptions(py::module_& m);

/// Raises the Python exception of `status` (must not be OK): InvalidArgument -> ValueError,
/// NotFound -> KeyError, IOError -> OSError, Corruption -> vecperf.CorruptionError, anything
/// else -> vecperf.Error. Every exception carries the code name in its `code` attribute.
/// `file_call`: the status comes from opening a file by path, where NotFound means a missing
/// file, so it raises FileNotFoundError (an OSError) rather than KeyError.
[[noreturn]] void throw_status(const Status& status, bool file_call = false);

inline void throw_if_error(const Status& status, bool file_call = false) {
  if (!status.ok()) throw_status(status, file_call);
}

/// The value of `result`, or its error raised as above.
template <typename T>
T value_or_throw(Result<T>&& result, bool file_call = false) {
  if (!result.ok()) throw_status(result.status(), file_call);
  return std::move(result).value();
}

/// py::cast<T>(value), raising TypeError naming the argument instead of pybind11's RuntimeError.
template <typename T>
T cast_arg(py::handle value, const char* name) {
  try {
    return py::cast<T>(value);
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(name) + ": cannot use " + std::string(py::repr(value)));
  }
}

/// The name of `object`'s type, for error messages ("list", "ndarray", ...).
std::string type_name(py::handle object);

/// Number of input arrays that had to be converted (copied) because they were not C-contiguous
/// native float32 / int64. Test-only probe of the zero-copy guarantee
/// (vecperf._vecperf._conversions).
int64_t conversion_count();

/// A float32 matrix borrowed from, or converted once from, a Python object. `owner` keeps the
/// memory alive; `view` points into it.
struct Matrix {
  py::array owner;
  MatrixView view;
};

/// Accepts a 2-D (n, dim) array-like, or a 1-D (dim,) single vector. A C-contiguous float32
/// ndarray is used in place; any other real numeric input (float64, integers, lists, Fortran
/// order, strided views) is converted to float32 once. Raises TypeError for a non-numeric dtype
/// and ValueError naming the expected and actual shape. `dim` < 0 accepts any width.
Matrix to_matrix(py::handle object, int64_t dim, const char* what);

/// Ids as a C-contiguous int64 array: 1-D array-like of integers, or a single integer.
struct Ids {
  py::array owner;
  IdSpan span;
};
Ids to_ids(py::handle object, const char* what);

/// 2-D int64 matrix (e.g. search result ids) borrowed from, or converted once from, a Python
/// object: C-contiguous int64 is used in place; other integer input is converted. Raises TypeError
/// for a non-integer dtype and ValueError for another number of dimensions.
struct IdMatrix {
  py::array owner;
  const int64_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};
IdMatrix to_id_matrix(py::handle object, const char* what);

/// The per-index search knobs of `options` as a dict {'nprobe', 'ef_search', 'rerank'}.
py::dict search_knobs(const SearchOptions& options);

/// A sequence of str (or bytes) viewed as UTF-8 without copying: `keep` holds a reference to
/// every item, so the views stay valid even if the caller's list changes during the call.
struct Texts {
  std::vector<py::object> keep;
  std::vector<std::string_view> views;
};
Texts to_texts(py::handle object);

/// The UTF-8 bytes of a str (cached inside the str object, so valid while it lives) or the bytes
/// of a bytes object; nullopt for any other type. Throws if a str cannot be encoded.
std::optional<std::string_view> text_bytes(PyObject* item);

/// The callable a `progress=` argument stands for (vecperf._progress.resolve): True -> a
/// progress bar on stderr if it is a TTY, a callable -> itself, None/False/no TTY -> None.
py::object resolve_progress(py::object progress, const char* description);

/// Calls progress(done, total) if it is not None; an exception in it is reported as unraisable
/// instead of propagating, because a progress report must not abort the work it reports on.
void report_progress(const py::object& progress, int64_t done, int64_t total);

/// Wraps a Python callable taking (done, total) as a ProgressCallback that may be called from
/// any thread: it takes the GIL, and reports (does not propagate) exceptions, because a
/// progress report must not abort the work it reports on. `callback` None gives an empty one.
ProgressCallback to_progress(py::object callback);

/// A progress callable for an operation that can stop and undo itself (Index.add): its
/// callback() takes the GIL to call it; when it raises, the exception is kept and the callback
/// returns a non-OK status, which stops the operation. raise_if_stopped() then raises that same
/// exception (type, message, traceback). Construct and destroy with the GIL held; the callback
/// may run on any thread while this object is alive.
class StoppingProgress {
 public:
  /// `callable` None gives an empty callback.
  explicit StoppingProgress(py::object callable) : callable_(std::move(callable)) {}
  StoppingProgress(const StoppingProgress&) = delete;
  StoppingProgress& operator=(const StoppingProgress&) = delete;

  AddProgressCallback callback();
  /// Raises the kept exception, if the callable raised one (GIL held).
  void raise_if_stopped();

 private:
  py::object callable_;
  std::optional<py::error_already_set> error_;
};

/// A read-only view of a bytes-like object (bytes, bytearray, memoryview, a C-contiguous
/// array), held until destruction (GIL held then). TypeError naming `what` for anything else.
class ByteView {
 public:
  ByteView(py::handle object, const char* what);
  ~ByteView() { PyBuffer_Release(&view_); }
  ByteView(const ByteView&) = delete;
  ByteView& operator=(const ByteView&) = delete;

  std::string_view bytes() const {
    return {static_cast<const char*>(view_.buf), static_cast<size_t>(view_.len)};
  }

 private:
  Py_buffer view_{};
};

}  // namespace vecperf::python
