// The auto backend (auto_index.cc): an index that migrates itself from Flat to IVF to HNSW.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/serialize.h"
#include "index/index_base.h"
#include "vecperf/options.h"

namespace vecperf::internal {

/// An empty auto index (options already validated); it starts as a Flat stage.
Result<std::unique_ptr<IndexImpl>> new_auto(int64_t dim, Metric metric, const AutoOptions& options);

/// Rebuilds an auto index from its payload (its options, then its stage's payload).
/// Errors: kCorruption, kResourceExhausted.
Result<std::unique_ptr<IndexImpl>> load_auto(Reader& r);

/// Test seam: while set, every migration first calls hook(next stage) and fails with its status
/// when that is not OK (as a migration that ran out of memory would), leaving the current stage
/// serving. An empty function removes it. Process-wide; for tests only.
using MigrationHook = std::function<Status(IndexKind next)>;
void set_migration_hook_for_testing(MigrationHook hook);

}  // namespace vecperf::internal
