// The factory's rules as data: size thresholds, the recall -> nprobe and recall -> ef_search
// tables, and the constants of the memory formulas. Shared by plan() (factory.cc) and AutoIndex
// (auto_index.cc) so that a planned index and a migrated one are tuned the same way.
// docs/factory.md explains each number; change them there too.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace vecperf::internal::rules {

/// Below this many vectors an exact scan is fast enough: Flat.
inline constexpr int64_t kFlatMax = 100'000;
/// Up to this many vectors IVF (flat lists); beyond it HNSW.
inline constexpr int64_t kIvfMax = 1'000'000;

/// IVF lists: about kNlistPerSqrtN * sqrt(N), but never fewer than kMinTrainPerList training
/// vectors per list (k-means on fewer points per centroid gives poor, warning-laden centroids).
inline constexpr double kNlistPerSqrtN = 4.0;
inline constexpr int64_t kMinTrainPerList = 39;

/// One row of the IVF table: probing `probe_fraction` of the lists reaches recall@10 >= `recall`
/// on the calibration data (seeded clustered data, see docs/factory.md), never fewer than
/// `min_probe` lists.
struct IvfRecallRow {
  double recall;
  double probe_fraction;
  int min_probe;
};
/// Ascending in recall; the first row whose recall is >= the target is used.
inline constexpr IvfRecallRow kIvfRecallTable[] = {
    {0.80, 0.02, 4},  {0.90, 0.04, 8},  {0.95, 0.08, 16},
    {0.98, 0.15, 32}, {0.99, 0.25, 48}, {1.00, 1.00, 1},
};

/// One row of the HNSW table: ef_search for a recall target.
struct HnswRecallRow {
  double recall;
  int ef_search;
};
inline constexpr HnswRecallRow kHnswRecallTable[] = {
    {0.95, 128},
    {0.98, 256},
    {0.99, 512},
    {1.00, 1024},
};

/// HNSW construction parameters of a planned index.
inline constexpr int kHnswM = 16;
inline constexpr int kHnswEfConstruction = 200;

/// Memory-formula constants (bytes).
/// Id map: id_of_ (8) + unordered_map node (key, value, next, hash: 32) + bucket pointer (8).
inline constexpr size_t kIdMapBytesPerVector = 48;
/// FAISS inverted lists store a 64-bit label next to each code.
inline constexpr size_t kIvfListIdBytes = 8;
/// The IVF backend's slot -> list position map (FAISS hash-table direct map): node + bucket.
inline constexpr size_t kIvfDirectMapBytes = 40;
/// Flat (L2) keeps each vector's squared norm for its matrix-product search path.
inline constexpr size_t kFlatNormBytes = 4;
/// hnswlib per element besides vector and layer-0 links: label (8), link-count header (4),
/// per-element lock (~40), upper-layer pointer and level (12), upper links (~1/M of a layer).
inline constexpr size_t kHnswOverheadBytes = 72;
/// Arrays that grow while vectors are added in batches keep spare capacity (geometric growth):
/// built in 5,000-row batches, every backend measured 1.2x-1.4x its exact layout, so estimates
/// add a quarter.
inline constexpr size_t with_growth_slack(size_t bytes) { return bytes + bytes / 4; }

/// nlist for `n` vectors: round(4 * sqrt(n)), capped so each list has kMinTrainPerList vectors.
inline int derive_nlist(int64_t n) {
  const int64_t by_sqrt = std::llround(kNlistPerSqrtN * std::sqrt(static_cast<double>(n)));
  const int64_t by_train = n / kMinTrainPerList;
  return static_cast<int>(std::max<int64_t>(1, std::min(by_sqrt, by_train)));
}

/// Row of the IVF table used for `target` (the last row when the target exceeds every row).
inline const IvfRecallRow& ivf_row(double target) {
  for (const IvfRecallRow& row : kIvfRecallTable)
    if (row.recall >= target) return row;
  return std::span(kIvfRecallTable).back();
}

/// nprobe for `target` recall with `nlist` lists, in [1, nlist].
inline int nprobe_for(double target, int nlist) {
  const IvfRecallRow& row = ivf_row(target);
  const int by_fraction = static_cast<int>(std::ceil(row.probe_fraction * nlist));
  return std::clamp(std::max(by_fraction, row.min_probe), 1, std::max(1, nlist));
}

/// ef_search for `target` recall.
inline int ef_search_for(double target) {
  for (const HnswRecallRow& row : kHnswRecallTable)
    if (row.recall >= target) return row.ef_search;
  return std::span(kHnswRecallTable).back().ef_search;
}

}  // namespace vecperf::internal::rules
