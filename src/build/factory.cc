// plan(): a short decision list over the workload (size rule first, then memory fallbacks), with
// every threshold taken from plan_rules.h so that the rules live in one table, and a rationale
// string built alongside so the caller can see which rule fired and with which numbers.
#include "vecperf/factory.h"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "build/metered_index.h"
#include "build/plan_rules.h"
#include "index/index_base.h"
#include "index/index_format.h"
#include "tuning/held_out_build.h"
#include "vecperf/gpu.h"

namespace vecperf {
namespace {

namespace rules = internal::rules;

std::string mib(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// Largest divisor of `dim` that is <= limit (at least 1).
int largest_divisor_at_most(int64_t dim, int64_t limit) {
  for (int64_t m = std::max<int64_t>(1, std::min(limit, dim)); m > 1; --m)
    if (dim % m == 0) return static_cast<int>(m);
  return 1;
}

size_t estimate_ivf(const IvfOptions& o, int64_t dim, Metric metric, int64_t n) {
  const size_t un = static_cast<size_t>(n), ud = static_cast<size_t>(dim);
  const size_t nlist = static_cast<size_t>(o.nlist > 0 ? o.nlist : rules::derive_nlist(n));
  size_t code = 0, extra = 0;
  switch (o.encoding) {
    case IvfEncoding::kFlat: code = ud * sizeof(float); break;
    case IvfEncoding::kSQ8: code = ud; break;
    case IvfEncoding::kSQ4: code = (ud + 1) / 2; break;
    case IvfEncoding::kPQ: {
      const size_t m =
          static_cast<size_t>(o.pq_m > 0 ? o.pq_m : largest_divisor_at_most(dim, dim / 4));
      code = m;
      extra = 256 * ud * sizeof(float);  // m code books of 256 centroids of dim/m floats
      // L2 on residuals: FAISS precomputes a table of nlist x m x 256 floats.
      if (metric == Metric::kL2) extra += nlist * m * 256 * sizeof(float);
      break;
    }
  }
  const size_t originals =
      (o.encoding != IvfEncoding::kFlat && o.rerank > 0) ? un * ud * sizeof(float) : 0;
  // Centroids twice: FAISS's coarse quantiser and the backend's own copy for assignment.
  return rules::with_growth_slack(un * (code + rules::kIvfListIdBytes + rules::kIvfDirectMapBytes +
                                        rules::kIdMapBytesPerVector) +
                                  2 * nlist * ud * sizeof(float) + extra + originals);
}

size_t estimate_hnsw(const HnswOptions& o, int64_t dim, int64_t n) {
  const size_t per_vector = static_cast<size_t>(dim) * sizeof(float) +
                            static_cast<size_t>(2 * o.M) * sizeof(uint32_t) +
                            rules::kHnswOverheadBytes + rules::kIdMapBytesPerVector;
  return rules::with_growth_slack(static_cast<size_t>(n) * per_vector);
}

Status check_workload(const Workload& w) {
  if (w.expected_size < 1)
    return Status::InvalidArgument("workload.expected_size must be >= 1, got " +
                                   std::to_string(w.expected_size));
  if (w.dim < 1 || w.dim > internal::kMaxDim)
    return Status::InvalidArgument("workload.dim must be in [1, " +
                                   std::to_string(internal::kMaxDim) + "], got " +
                                   std::to_string(w.dim));
  if (static_cast<int>(w.metric) < 0 || static_cast<int>(w.metric) > 2)
    return Status::InvalidArgument("workload.metric is not a known Metric");
  if (!(w.target_recall > 0 && w.target_recall <= 1))
    return Status::InvalidArgument("workload.target_recall must be in (0, 1], got " +
                                   std::to_string(w.target_recall));
  if (w.device != Device::kCpu && w.device != Device::kGpu)
    return Status::InvalidArgument("workload.device is not a known Device (kCpu or kGpu)");
  return Status::OK();
}

// IVF options for n vectors at the workload's recall target.
IvfOptions planned_ivf(const Workload& w, IvfEncoding encoding, int pq_m) {
  IvfOptions o;
  o.nlist = rules::derive_nlist(w.expected_size);
  o.nprobe = rules::nprobe_for(w.target_recall, o.nlist);
  o.encoding = encoding;
  o.pq_m = pq_m;
  // k-means wants kMinTrainPerList points per centroid; the default sample is too small for
  // the largest nlist values.
  o.max_train_samples =
      std::max<int64_t>(o.max_train_samples, rules::kMinTrainPerList * int64_t{o.nlist});
  return o;
}

// make_index(o), except that an HNSW graph gets room for all n vectors up front, so that a build
// in chunks (and its tuning sample, added last) allocates the graph once instead of doubling it.
Result<std::unique_ptr<Index>> make_sized(const IndexOptions& o, int64_t n) {
  if (o.kind != IndexKind::kHnsw) return make_index(o);
  VECPERF_RETURN_IF_ERROR(o.validate());
  auto made = internal::new_hnsw(o.dim, o.metric, o.hnsw, std::max<int64_t>(0, n));
  if (!made.ok()) return made.status();
  return internal::metered(std::move(*made));
}

std::string ivf_params(const IvfOptions& o) {
  std::ostringstream s;
  s << "nlist=" << o.nlist << ", nprobe=" << o.nprobe
    << ", encoding=" << ivf_encoding_name(o.encoding);
  if (o.encoding == IvfEncoding::kPQ) s << ", pq_m=" << o.pq_m;
  return s.str();
}

}  // namespace

size_t estimate_memory(const IndexOptions& o, int64_t n) {
  if (n <= 0) return 0;
  const size_t un = static_cast<size_t>(n), ud = static_cast<size_t>(o.dim);
  switch (o.kind) {
    case IndexKind::kFlat: {
      const size_t norms = o.metric == Metric::kL2 ? rules::kFlatNormBytes : 0;
      return rules::with_growth_slack(un *
                                      (ud * sizeof(float) + norms + rules::kIdMapBytesPerVector));
    }
    case IndexKind::kGpuFlat:  // host memory: the host copy of the vectors and the id map
      return rules::with_growth_slack(un * (ud * sizeof(float) + rules::kIdMapBytesPerVector));
    case IndexKind::kIvf: return estimate_ivf(o.ivf, o.dim, o.metric, n);
    case IndexKind::kHnsw: return estimate_hnsw(o.hnsw, o.dim, n);
    case IndexKind::kAuto: {
      IndexOptions stage = o;
      stage.kind = n <= o.auto_index.flat_max  ? IndexKind::kFlat
                   : n <= o.auto_index.ivf_max ? IndexKind::kIvf
                                               : IndexKind::kHnsw;
      stage.ivf = o.auto_index.ivf;
      stage.hnsw = o.auto_index.hnsw;
      return estimate_memory(stage, n);
    }
  }
  return 0;
}

Result<IndexPlan> plan(const Workload& w) {
  VECPERF_RETURN_IF_ERROR(check_workload(w));
  const int64_t n = w.expected_size;
  IndexPlan p;
  p.target_recall = w.target_recall;
  p.options.dim = w.dim;
  p.options.metric = w.metric;
  std::ostringstream why;

  const bool gpu = w.device == Device::kGpu && gpu_available();
  if (w.device == Device::kGpu && !gpu)
    why << "device=gpu ignored (" << gpu_unavailable_reason() << "); ";
  if (gpu) {
    p.options.kind = IndexKind::kGpuFlat;
    p.options.gpu_flat.prefer_gpu = true;
    why << "device rule: device=gpu and a CUDA device is available -> gpu_flat (exact, recall "
        << "1.0; vectors resident on the device, falls back to the CPU if the device fails)";
  } else if (n < rules::kFlatMax) {
    p.options.kind = IndexKind::kFlat;
    why << "size rule: N=" << n << " < " << rules::kFlatMax
        << " -> flat (an exact scan is fast enough and has recall 1.0)";
  } else if (n <= rules::kIvfMax) {
    p.options.kind = IndexKind::kIvf;
    p.options.ivf = planned_ivf(w, IvfEncoding::kFlat, 0);
    why << "size rule: " << rules::kFlatMax << " <= N=" << n << " <= " << rules::kIvfMax
        << " -> ivf (" << ivf_params(p.options.ivf) << "; nlist ~ " << rules::kNlistPerSqrtN
        << "*sqrt(N), nprobe = " << rules::ivf_row(w.target_recall).probe_fraction
        << " of nlist for recall target " << w.target_recall << ")";
  } else {
    p.options.kind = IndexKind::kHnsw;
    p.options.hnsw.M = rules::kHnswM;
    p.options.hnsw.ef_construction = rules::kHnswEfConstruction;
    p.options.hnsw.ef_search = rules::ef_search_for(w.target_recall);
    why << "size rule: N=" << n << " > " << rules::kIvfMax << " -> hnsw (M=" << p.options.hnsw.M
        << ", ef_construction=" << p.options.hnsw.ef_construction
        << ", ef_search=" << p.options.hnsw.ef_search << " for recall target " << w.target_recall
        << ")";
  }
  p.estimated_memory_bytes = estimate_memory(p.options, n);
  const size_t budget = w.memory_budget_bytes;
  if (budget == 0 || p.estimated_memory_bytes <= budget) {
    why << "; estimated memory " << mib(p.estimated_memory_bytes)
        << (budget == 0 ? " (no budget)" : " fits the budget of " + mib(budget));
    p.rationale = why.str();
    return p;
  }

  why << "; but " << index_kind_name(p.options.kind) << " needs ~" << mib(p.estimated_memory_bytes)
      << " > budget " << mib(budget);
  IndexOptions compressed = p.options;
  compressed.kind = IndexKind::kIvf;
  // Re-ranking would need the float32 originals, which are what does not fit: no rerank.
  compressed.ivf = planned_ivf(w, IvfEncoding::kSQ8, 0);
  size_t need = estimate_memory(compressed, n);
  if (need <= budget) {
    p.options = compressed;
    p.estimated_memory_bytes = need;
    why << " -> memory rule: ivf " << ivf_params(compressed.ivf) << " (1 byte per dimension, no "
        << "rerank) needs ~" << mib(need)
        << "; compressed codes may fall short of the recall target";
    p.rationale = why.str();
    return p;
  }
  why << "; ivf sq8 needs ~" << mib(need);
  // PQ: the most sub-quantisers (best accuracy) that fit; beyond dim/2 SQ8 is the better code.
  for (int64_t m = std::max<int64_t>(1, w.dim / 2); m >= 1; --m) {
    if (w.dim % m != 0) continue;
    compressed.ivf = planned_ivf(w, IvfEncoding::kPQ, static_cast<int>(m));
    need = estimate_memory(compressed, n);
    if (need <= budget) {
      p.options = compressed;
      p.estimated_memory_bytes = need;
      why << " -> memory rule: ivf " << ivf_params(compressed.ivf) << " (" << m
          << " bytes per vector, the largest pq_m dividing dim that fits) needs ~" << mib(need)
          << "; compressed codes may fall short of the recall target";
      p.rationale = why.str();
      return p;
    }
  }
  return Status::ResourceExhausted("no index for N=" + std::to_string(n) +
                                   ", dim=" + std::to_string(w.dim) + " fits in " +
                                   std::to_string(budget) + " bytes (" + mib(budget) +
                                   "): the smallest, ivf pq with pq_m=1, "
                                   "needs at least " +
                                   std::to_string(need) + " bytes (" + mib(need) + ")");
}

Result<std::unique_ptr<Index>> make_index(const IndexPlan& p) { return make_index(p.options); }

Result<TunedIndex> build_tuned(const IndexPlan& p, IdSpan ids, MatrixView vectors,
                               const BuildOptions& options) {
  auto made = make_sized(p.options, vectors.rows);
  if (!made.ok()) return made.status();
  TunedIndex out;
  out.index = std::move(*made);
  // Chunks of about 1 % (at least 8192 rows) give a smooth progress report at no cost: the
  // backends apply large adds in chunks anyway.
  const int64_t chunk = std::max<int64_t>(8192, vectors.rows / 100);
  Result<TuningResult> tuned = Status::Internal("not tuned");
  VECPERF_RETURN_IF_ERROR(internal::add_and_tune(*out.index, ids, vectors, p.target_recall,
                                                 options.k, options.tuning, chunk,
                                                 options.on_progress, &tuned));
  if (!tuned.ok()) return tuned.status();
  out.tuning = std::move(*tuned);
  return out;
}

}  // namespace vecperf
