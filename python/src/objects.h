// Access to the C++ objects behind vecperf.Index and vecperf.EmbeddingCache for the bindings of
// the free functions (tuning, metrics) that take them as arguments. Called with the GIL held.
#pragma once

#include <memory>

#include "convert.h"
#include "vecperf/cache.h"
#include "vecperf/index.h"

namespace vecperf::python {

/// The index behind a vecperf.Index, or nullptr when `object` is not one.
Index* index_or_null(py::handle object);

/// The index behind a vecperf.Index; TypeError naming `what` for anything else. The reference
/// stays valid while the caller holds `object`.
Index& index_of(py::handle object, const char* what);

/// The cache behind a vecperf.EmbeddingCache (shared, so a concurrent close() cannot destroy it
/// under the caller), or nullptr when `object` is not one; ValueError when it is closed.
std::shared_ptr<EmbeddingCache> cache_or_null(py::handle object);

}  // namespace vecperf::python
