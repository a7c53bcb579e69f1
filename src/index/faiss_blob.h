// Structural check of the FAISS serialisation inside an IVF payload, run before any byte is
// handed to faiss::read_index.
//
// Why: FAISS 1.7.3's reader trusts its input. It sizes vectors from counts of up to 2^40
// elements before reading them (a huge allocation from a few bytes), reads past the end of a
// "sparse" list-size table with an odd length, accepts any bool byte, follows nested
// quantizers recursively, and leaks what it built when it throws. So the blob is walked here
// first, field by field, with every count checked against the bytes that remain and every
// field compared with what vecperf itself writes (layout in faiss_blob.cc); FAISS then
// only ever reads a blob of the exact shape it wrote.
#pragma once

#include <cstdint>

#include "common/serialize.h"
#include "vecperf/options.h"

namespace vecperf::internal {

/// What the IVF payload around the blob says the FAISS index must be.
struct FaissIvfShape {
  int64_t dim = 0;
  bool l2 = true;  ///< METRIC_L2; otherwise METRIC_INNER_PRODUCT (ip and cosine)
  IvfEncoding encoding = IvfEncoding::kFlat;
  int pq_m = 0;  ///< sub-quantisers, for kPQ
};

/// Walks the whole blob `r` reads (an IndexIVFFlat, IndexIVFScalarQuantizer or IndexIVFPQ over
/// an IndexFlatL2/IP quantizer, with a hash-table direct map and array inverted lists, as
/// faiss::write_index writes them). Returns true when the blob has exactly that shape and
/// nothing after it; otherwise false with r.status() a kCorruption naming the first bad field.
bool check_faiss_ivf_blob(Reader& r, const FaissIvfShape& shape);

}  // namespace vecperf::internal
