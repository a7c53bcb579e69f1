// Encoding of the backends' options inside index payloads, shared by the IVF and HNSW backends
// and by AutoIndex (which stores the options of the stages it will migrate to).
#pragma once

#include <cstdint>

#include "common/serialize.h"
#include "vecperf/options.h"

namespace vecperf::internal {

inline void write_options(Writer& w, const IvfOptions& o) {
  w.pod<int32_t>(o.nlist);
  w.pod<int32_t>(o.nprobe);
  w.pod<int32_t>(static_cast<int32_t>(o.encoding));
  w.pod<int32_t>(o.pq_m);
  w.pod<int32_t>(o.rerank);
  w.pod<int64_t>(o.train_threshold);
  w.pod<int64_t>(o.max_train_samples);
  w.pod<uint64_t>(o.seed);
}

/// Reads IVF options; only the encoding is range-checked here, the caller validates the rest
/// with IndexOptions::validate() (which knows the dimension).
inline bool read_options(Reader& r, IvfOptions* o) {
  int32_t encoding = 0;
  r.pod(&o->nlist, "ivf nlist");
  r.pod(&o->nprobe, "ivf nprobe");
  r.pod(&encoding, "ivf encoding");
  r.pod(&o->pq_m, "ivf pq_m");
  r.pod(&o->rerank, "ivf rerank");
  r.pod(&o->train_threshold, "ivf train threshold");
  r.pod(&o->max_train_samples, "ivf max train samples");
  r.pod(&o->seed, "ivf seed");
  if (!r.status().ok()) return false;
  if (encoding < 0 || encoding > static_cast<int32_t>(IvfEncoding::kPQ))
    return r.corrupt("unknown IVF encoding " + std::to_string(encoding));
  o->encoding = static_cast<IvfEncoding>(encoding);
  return true;
}

inline void write_options(Writer& w, const HnswOptions& o) {
  w.pod<int32_t>(o.M);
  w.pod<int32_t>(o.ef_construction);
  w.pod<int32_t>(o.ef_search);
  w.pod<uint64_t>(o.seed);
}

/// Reads HNSW options; the caller validates them.
inline bool read_options(Reader& r, HnswOptions* o) {
  r.pod(&o->M, "hnsw M");
  r.pod(&o->ef_construction, "hnsw ef_construction");
  r.pod(&o->ef_search, "hnsw ef_search");
  r.pod(&o->seed, "hnsw seed");
  return r.status().ok();
}

}  // namespace vecperf::internal
