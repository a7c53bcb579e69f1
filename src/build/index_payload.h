// Reading an index of any kind, auto included, from its payload or its file frame: the loaders
// behind load() and from_bytes(), and the fuzz targets' way past the file checksums.
#pragma once

#include <memory>
#include <string>

#include "common/file_io.h"
#include "common/serialize.h"
#include "index/index_base.h"

namespace vecperf::internal {

/// Rebuilds an index of the given kind from a payload written by IndexImpl::write_payload.
/// The result is not registered in the metrics (metered() does that). Errors: kCorruption,
/// kResourceExhausted.
Result<std::unique_ptr<IndexImpl>> read_index_payload(IndexKind kind, Reader& r);

/// Rebuilds an index from a verified index file (read_framed_file or decode_framed with
/// kIndexFrame); `what` names the source in messages. Errors: kCorruption, kResourceExhausted.
Result<std::unique_ptr<IndexImpl>> index_from_frame(const FramedFile& file,
                                                    const std::string& what);

}  // namespace vecperf::internal
