// Exact ground truth through the Flat backend, and its on-disk cache.
//
// Cache file: a framed file (common/file_io.h; magic "VPGTRUTH", kind = metric) named
// "vecperf-gt-<32 hex digits>.bin" after the XXH3-128 key of the inputs. Payload:
//   u64 key low, u64 key high, i64 base rows, i64 queries, i64 k,
//   queries x k int64 ids, then queries x k float32 distances.
// The key is stored again inside so that a renamed or colliding file is detected; the frame's
// checksums catch damage. Anything unusable is recomputed and replaced, never trusted.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>

#include "common/file_io.h"
#include "common/guarded.h"
#include "distance/distance.h"
#include "index/index_base.h"
#include "vecperf/dataset.h"
#include "vecperf/options.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3 streaming state on the stack
#include <xxhash.h>

namespace vecperf {
namespace {

constexpr internal::FrameSpec kCacheFrame{"VPGTRUTH", 1, "ground-truth cache"};

Status check_inputs(MatrixView base, MatrixView queries, int64_t k, const char* what) {
  const std::string prefix = std::string(what) + ": ";
  if (k < 1)
    return Status::InvalidArgument(prefix + "k must be >= 1 (got " + std::to_string(k) + ")");
  if (base.dim < 1 || queries.dim != base.dim)
    return Status::InvalidArgument(prefix + "the base has dimension " + std::to_string(base.dim) +
                                   " and the queries " + std::to_string(queries.dim) +
                                   "; they must be equal and >= 1");
  if (base.rows < 0 || queries.rows < 1)
    return Status::InvalidArgument(prefix +
                                   "needs at least one query and a non-negative base size");
  if ((base.rows > 0 && base.data == nullptr) || queries.data == nullptr)
    return Status::InvalidArgument(prefix + "null data pointer");
  return Status::OK();
}

struct TruthKey {
  uint64_t low = 0;
  uint64_t high = 0;
};

TruthKey cache_key(MatrixView base, MatrixView queries, const GroundTruthOptions& o) {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_128bits_reset(&state);
  static constexpr char kDomain[] = "vecperf ground truth v1";
  XXH3_128bits_update(&state, kDomain, sizeof(kDomain));
  const int64_t fields[] = {static_cast<int64_t>(o.metric), o.k, base.rows, base.dim, queries.rows};
  XXH3_128bits_update(&state, fields, sizeof(fields));
  XXH3_128bits_update(&state, base.data, static_cast<size_t>(base.rows * base.dim) * sizeof(float));
  XXH3_128bits_update(&state, queries.data,
                      static_cast<size_t>(queries.rows * queries.dim) * sizeof(float));
  const XXH128_hash_t h = XXH3_128bits_digest(&state);
  return TruthKey{h.low64, h.high64};
}

std::string cache_file(const std::string& dir, TruthKey key) {
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(key.high),
                static_cast<unsigned long long>(key.low));
  return (std::filesystem::path(dir) / ("vecperf-gt-" + std::string(hex) + ".bin")).string();
}

// Decodes a verified cache payload; any disagreement with what was asked is corruption.
Result<GroundTruth> decode_cache(const internal::FramedFile& file, TruthKey key, int64_t base_rows,
                                 int64_t nq, int64_t k, const std::string& path) {
  internal::Reader r(file.payload.data(), file.payload.size(), "ground-truth cache '" + path + "'");
  TruthKey stored;
  int64_t stored_base = 0, stored_nq = 0, stored_k = 0;
  r.pod(&stored.low, "key");
  r.pod(&stored.high, "key");
  r.pod(&stored_base, "base rows");
  r.pod(&stored_nq, "queries");
  r.pod(&stored_k, "k");
  if (!r.status().ok()) return r.status();
  if (stored.low != key.low || stored.high != key.high || stored_base != base_rows ||
      stored_nq != nq || stored_k != k) {
    r.corrupt("it was made for other data (key or sizes differ)");
    return r.status();
  }
  const size_t n = static_cast<size_t>(nq * k);
  std::vector<int64_t> ids(n);
  std::vector<float> distances(n);
  r.bytes(ids.data(), n * sizeof(int64_t), "ids");
  r.bytes(distances.data(), n * sizeof(float), "distances");
  if (r.status().ok() && r.remaining() != 0) r.corrupt("trailing bytes");
  for (int64_t id : ids)
    if (r.status().ok() && (id < kNoId || id >= base_rows)) r.corrupt("id out of range");
  if (!r.status().ok()) return r.status();
  GroundTruth gt;
  gt.ids = *IntMatrix::from_vector(std::move(ids), nq, k);
  gt.distances = *FloatMatrix::from_vector(std::move(distances), nq, k);
  return gt;
}

Status write_cache(const std::string& path, TruthKey key, int64_t base_rows,
                   const GroundTruthOptions& o, const GroundTruth& gt) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const size_t n = static_cast<size_t>(gt.ids.rows() * gt.ids.cols());
  return internal::write_framed_file(path, kCacheFrame, static_cast<uint32_t>(o.metric),
                                     [&](internal::Writer& w) {
                                       w.pod(key.low);
                                       w.pod(key.high);
                                       w.pod(base_rows);
                                       w.pod(gt.ids.rows());
                                       w.pod(int64_t{o.k});
                                       w.bytes(gt.ids.data_i64(), n * sizeof(int64_t));
                                       w.bytes(gt.distances.data(), n * sizeof(float));
                                     });
}

}  // namespace

Result<GroundTruth> compute_ground_truth(MatrixView base, MatrixView queries,
                                         const GroundTruthOptions& o) {
  VECPERF_RETURN_IF_ERROR(check_inputs(base, queries, o.k, "ground truth"));
  IndexOptions io;
  io.kind = IndexKind::kFlat;
  io.dim = base.dim;
  io.metric = o.metric;
  VECPERF_RETURN_IF_ERROR(io.validate());
  // A backend, not make_index(): a computation's scratch index, not a user's.
  Result<std::unique_ptr<internal::IndexImpl>> index =
      internal::new_flat(base.dim, o.metric, FlatOptions{});
  if (!index.ok()) return index.status();
  std::vector<int64_t> ids;
  std::vector<float> distances;
  VECPERF_RETURN_IF_ERROR(internal::guarded("computing the ground truth", [&]() -> Status {
    ids.resize(static_cast<size_t>(base.rows));
    std::iota(ids.begin(), ids.end(), int64_t{0});
    Status s = (*index)->add(ids, base);
    if (!s.ok()) return s.with_context("ground truth: the base");
    ids.assign(static_cast<size_t>(queries.rows * o.k), kNoId);
    distances.resize(ids.size());
    return Status::OK();
  }));
  SearchOptions so;
  so.k = o.k;
  so.num_threads = o.num_threads;
  Status s = (*index)->search(queries, so, SearchResults{distances.data(), ids.data()});
  if (!s.ok()) return s.with_context("ground truth: the queries");
  GroundTruth gt;
  gt.ids = *IntMatrix::from_vector(std::move(ids), queries.rows, o.k);
  gt.distances = *FloatMatrix::from_vector(std::move(distances), queries.rows, o.k);
  return gt;
}

Result<GroundTruth> cached_ground_truth(MatrixView base, MatrixView queries,
                                        const GroundTruthOptions& o, const std::string& cache_dir) {
  VECPERF_RETURN_IF_ERROR(check_inputs(base, queries, o.k, "ground truth"));
  if (cache_dir.empty())
    return Status::InvalidArgument(
        "ground truth: cache_dir is empty (pass \".\" for the current "
        "directory)");
  const TruthKey key = cache_key(base, queries, o);
  const std::string path = cache_file(cache_dir, key);

  Status unusable;
  Result<internal::FramedFile> file = internal::read_framed_file(path, kCacheFrame);
  if (file.ok()) {
    Result<GroundTruth> cached = decode_cache(*file, key, base.rows, queries.rows, o.k, path);
    if (cached.ok()) {
      cached->from_cache = true;
      cached->cache_path = path;
      return cached;
    }
    unusable = cached.status();
  } else if (file.status().code() != StatusCode::kNotFound) {
    unusable = file.status();
  }

  Result<GroundTruth> gt = compute_ground_truth(base, queries, o);
  if (!gt.ok()) return gt;
  gt->cache_path = path;
  Status written = write_cache(path, key, base.rows, o, *gt);
  if (!written.ok()) {
    gt->cache_status = written.with_context("ground truth computed but not cached");
  } else if (!unusable.ok()) {
    gt->cache_status = unusable.with_context("the cache file was unusable and has been replaced");
  }
  return gt;
}

Result<std::vector<float>> exact_distances(MatrixView base, MatrixView queries,
                                           Span<const int64_t> ids, int64_t k, Metric metric) {
  VECPERF_RETURN_IF_ERROR(check_inputs(base, queries, k, "exact_distances"));
  if (static_cast<uint64_t>(ids.size()) != static_cast<uint64_t>(queries.rows * k))
    return Status::InvalidArgument("exact_distances: " + std::to_string(ids.size()) +
                                   " ids given, queries x k is " +
                                   std::to_string(queries.rows * k));
  const internal::DistanceKernels& kern = internal::kernels();
  const size_t dim = static_cast<size_t>(base.dim);
  auto norm = [&](const float* v, const char* what, int64_t row) -> Result<float> {
    const float n = std::sqrt(kern.dot(v, v, dim));
    if (!(n > 0.0f))
      return Status::InvalidArgument(std::string("exact_distances: ") + what + " " +
                                     std::to_string(row) + " is a zero vector (no cosine)");
    return n;
  };
  std::vector<float> out(ids.size(), std::numeric_limits<float>::infinity());
  for (int64_t q = 0; q < queries.rows; ++q) {
    const float* x = queries.row(q);
    float qn = 1.0f;
    if (metric == Metric::kCosine) {
      Result<float> n = norm(x, "query", q);
      if (!n.ok()) return n.status();
      qn = *n;
    }
    for (int64_t j = 0; j < k; ++j) {
      const int64_t id = ids[static_cast<size_t>(q * k + j)];
      if (id == kNoId) continue;
      if (id < 0 || id >= base.rows)
        return Status::InvalidArgument("exact_distances: id " + std::to_string(id) + " (query " +
                                       std::to_string(q) +
                                       ") is not a row of the "
                                       "base (0.." +
                                       std::to_string(base.rows - 1) + ")");
      const float* y = base.row(id);
      float d;
      if (metric == Metric::kL2) {
        d = kern.l2sqr(x, y, dim);
      } else if (metric == Metric::kInnerProduct) {
        d = 1.0f - kern.dot(x, y, dim);
      } else {
        Result<float> yn = norm(y, "base row", id);
        if (!yn.ok()) return yn.status();
        d = 1.0f - kern.dot(x, y, dim) / (qn * *yn);
      }
      out[static_cast<size_t>(q * k + j)] = d;
    }
  }
  return out;
}

}  // namespace vecperf
