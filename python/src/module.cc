// The extension module vecperf._vecperf; the package vecperf re-exports it (python/vecperf).
#include "convert.h"

namespace vecperf::python {
void bind_index(py::module_& m);
void bind_cache(py::module_& m);
void bind_tuning(py::module_& m);
void bind_metrics(py::module_& m);
void bind_dataset(py::module_& m);
}  // namespace vecperf::python

PYBIND11_MODULE(_vecperf, m) {
  namespace vp = vecperf::python;
  m.doc() = "vecperf's C++ engine: vector indexes (Flat, IVF, HNSW, Auto) and an embedding cache.";
  vp::register_exceptions(m);
  vp::bind_index(m);
  vp::bind_cache(m);
  vp::bind_tuning(m);
  vp::bind_metrics(m);
  vp::bind_dataset(m);
  m.def("_conversions", &vp::conversion_count,
        "Test probe: how many input arrays were copied because they were not C-contiguous "
        "native float32/int64.");
}
