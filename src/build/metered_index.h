// Metrics at the edge: the wrapper that make_index(), load() and from_bytes() put around every
// index they hand out. It registers the index with the process-wide metrics registry, records
// each search, add and remove (calls, errors, vectors, search latency), refreshes the size,
// memory and migration gauges after each write, and forwards everything else unchanged.
//
// Why a wrapper rather than recording inside the backends: what is "an index" to a user is what
// make_index() returned, not every object the library builds. An auto index's stages, the
// scratch Flat index of an exact scan and the indexes tests build directly are not user indexes;
// with recording in the backends each of them had to opt out (a thread-local scope at five call
// sites). Here nothing below the build layer knows the registry exists.
#pragma once

#include <memory>

#include "index/index_base.h"
#include "vecperf/index.h"

namespace vecperf::internal {

/// `index` wrapped so that it is registered and recorded in the process-wide metrics (see
/// vecperf/metrics.h). The wrapper's own cost per call is two clock reads and a few relaxed
/// atomic increments (search), plus a mutex and the size/memory reads after each write.
std::unique_ptr<Index> metered(std::unique_ptr<IndexImpl> index);

}  // namespace vecperf::internal
