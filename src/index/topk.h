// Bounded top-k selection shared by the scanning backends.
//
// A max-heap of the k best (smallest) distances seen so far: the root is the current k-th best,
// so most candidates are rejected by one comparison. Ties on distance are broken by the smaller
// label so that results are deterministic across thread counts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace vecperf::internal {

class TopK {
 public:
  explicit TopK(int64_t k) : k_(static_cast<size_t>(k)) { heap_.reserve(k_); }

  /// The distance a candidate must beat to enter (infinity until k candidates are held).
  float threshold() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().dist;
  }
  void push(float dist, int64_t label) {
    Entry e{dist, label};
    if (heap_.size() < k_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (e < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  /// Offers `n` candidates with labels base_label + i.
  void push_block(const float* dists, int64_t n, int64_t base_label) {
    for (int64_t i = 0; i < n; ++i)
      if (dists[i] <= threshold()) push(dists[i], base_label + i);
  }
  /// Merges another selector's candidates.
  void merge(const TopK& other) {
    for (const Entry& e : other.heap_) push(e.dist, e.label);
  }
  /// Writes the held candidates nearest first; the rest of the k slots are left untouched.
  /// Returns the number written. Empties the selector.
  int64_t extract(float* dists, int64_t* labels) {
    std::sort_heap(heap_.begin(), heap_.end());
    for (size_t i = 0; i < heap_.size(); ++i) {
      dists[i] = heap_[i].dist;
      labels[i] = heap_[i].label;
    }
    int64_t n = static_cast<int64_t>(heap_.size());
    heap_.clear();
    return n;
  }
  size_t size() const { return heap_.size(); }

 private:
  struct Entry {
    float dist;
    int64_t label;
    bool operator<(const Entry& o) const {
      return dist < o.dist || (dist == o.dist && label < o.label);
    }
  };
  size_t k_;
  std::vector<Entry> heap_;
};

}  // namespace vecperf::internal
