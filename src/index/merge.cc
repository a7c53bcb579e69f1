// k-way merge of per-shard top-k lists. Each shard's list is already sorted, so a query costs
// O(total candidates * log(shards)) with a small heap of list heads, and stops after k distinct
// ids.
#include "vecperf/merge.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace vecperf {

namespace {

struct Head {
  float dist;
  int64_t id;
  size_t shard;
  int pos;
  // std::push_heap builds a max-heap; invert so the nearest (then smallest id) is on top.
  bool operator<(const Head& o) const { return dist > o.dist || (dist == o.dist && id > o.id); }
};

}  // namespace

Status merge_results(Span<const ShardResults> shards, int64_t nq, int k, SearchResults out) {
  if (k < 1)
    return Status::InvalidArgument("merge_results: k must be >= 1, got " + std::to_string(k));
  if (nq < 0) return Status::InvalidArgument("merge_results: nq must be >= 0");
  if (out.distances == nullptr || out.ids == nullptr)
    return Status::InvalidArgument("merge_results: output buffers must not be null");
  for (size_t s = 0; s < shards.size(); ++s) {
    if (shards[s].k < 1 || shards[s].distances == nullptr || shards[s].ids == nullptr)
      return Status::InvalidArgument("merge_results: shard " + std::to_string(s) +
                                     " has k < 1 or null buffers");
  }
  constexpr float kInf = std::numeric_limits<float>::infinity();
  std::vector<Head> heap;
  std::vector<int64_t> taken;
  for (int64_t q = 0; q < nq; ++q) {
    auto offer = [&](size_t s, int pos) -> Status {
      const ShardResults& sh = shards[s];
      const size_t at = static_cast<size_t>(q) * sh.k + pos;
      const int64_t id = sh.ids[at];
      if (id == kNoId) return Status::OK();  // the rest of this list is unfilled
      const float d = sh.distances[at];
      if (std::isnan(d))
        return Status::InvalidArgument("merge_results: shard " + std::to_string(s) +
                                       " has a NaN distance for query " + std::to_string(q));
      heap.push_back({d, id, s, pos});
      std::push_heap(heap.begin(), heap.end());
      return Status::OK();
    };
    heap.clear();
    taken.clear();
    for (size_t s = 0; s < shards.size(); ++s) VECPERF_RETURN_IF_ERROR(offer(s, 0));
    float* dist_row = out.distances + q * k;
    int64_t* id_row = out.ids + q * k;
    int filled = 0;
    while (filled < k && !heap.empty()) {
      std::pop_heap(heap.begin(), heap.end());
      const Head h = heap.back();
      heap.pop_back();
      // Nearest-first order means a repeated id was already taken at a smaller distance.
      if (std::find(taken.begin(), taken.end(), h.id) == taken.end()) {
        taken.push_back(h.id);
        dist_row[filled] = h.dist;
        id_row[filled] = h.id;
        ++filled;
      }
      if (h.pos + 1 < shards[h.shard].k) VECPERF_RETURN_IF_ERROR(offer(h.shard, h.pos + 1));
    }
    for (int j = filled; j < k; ++j) {
      dist_row[j] = kInf;
      id_row[j] = kNoId;
    }
  }
  return Status::OK();
}

}  // namespace vecperf
