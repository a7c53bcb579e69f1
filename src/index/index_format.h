// Constants of the index file format (docs/file-format.md).
#pragma once

#include <cstdint>

#include "common/file_io.h"

namespace vecperf::internal {

/// Version 1: the first released layout.
inline constexpr FrameSpec kIndexFrame{"VPINDEX\x01", 1, "vecperf index"};

/// Largest dimension accepted from a file or an option (guards allocations from corrupt headers).
inline constexpr int64_t kMaxDim = 65536;

}  // namespace vecperf::internal
