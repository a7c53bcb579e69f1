// get_or_compute: the cache's lookup and store (embedding_cache.cc) around a caller's model, with
// single-flight (single_flight.h) so that each distinct missing text reaches the model once, even
// across threads. docs/design/cache.md, "Batched API and single-flight", gives the argument.
//
// One call is a ComputeCall working on the distinct texts of its input, in first-occurrence
// order: keys_[j] is distinct text j, first_[j] the index of its first occurrence in the input,
// slot_[i] the distinct index of input text i. Rows are written straight into the caller's `out`
// at each distinct text's first occurrence and copied to the duplicates at the end, so there is
// no scratch matrix (at 100 x 768 floats it would be mmapped and page-faulted on every call).
// The distinct texts this call computes are mine_ (distinct indices) with their flights in
// owned_, in the same order; owned_[0, completed_) have been completed. Whatever a step returns
// or throws, get_or_compute completes the rest with the error, so no waiter is left hanging.
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/embedding_cache_impl.h"
#include "common/guarded.h"

namespace vecperf::internal {

class EmbeddingCacheImpl::ComputeCall {
 public:
  ComputeCall(EmbeddingCacheImpl& cache, std::span<const std::string_view> texts,
              const EmbedFn& embed, size_t batch_size, float* out)
      : cache_(cache),
        texts_(texts),
        embed_(embed),
        batch_size_(batch_size),
        out_(out),
        dim_(cache.dim_) {}

  // The steps in the order that makes single-flight correct; see the file comment.
  Status run() {
    dedupe();
    found_.resize(keys_.size());
    VECPERF_RETURN_IF_ERROR(cache_.lookup(keys_, out_, first_, found_.data(), /*count=*/true));
    cache_.flights_.claim(keys_, found_.data(), &mine_, &owned_, &waits_);
    if (!mine_.empty()) {
      VECPERF_RETURN_IF_ERROR(reprobe_owned());
      for (size_t begin = completed_; begin < mine_.size(); begin += batch_size_) {
        VECPERF_RETURN_IF_ERROR(compute_chunk(begin, std::min(mine_.size(), begin + batch_size_)));
      }
    }
    VECPERF_RETURN_IF_ERROR(wait_for_others());
    copy_duplicates();
    return Status::OK();
  }

  // Completes with `reason` the flights this call owns and has not completed (after an error or
  // an exception), so that callers waiting on them return that error instead of hanging.
  void fail_open_flights(const Status& reason) {
    if (completed_ == owned_.size()) return;
    cache_.flights_.fail(
        std::span(owned_).subspan(completed_),
        reason.ok() ? Status::Internal("get_or_compute: computation abandoned") : reason);
  }

 private:
  // Hashes every text and keeps each key once, so that a text repeated in one call is looked
  // up, claimed and computed once.
  void dedupe() {
    const size_t n = texts_.size();
    slot_.resize(n);
    std::unordered_map<CacheKey, size_t, CacheKeyHash> seen;
    seen.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const CacheKey k = cache_.hasher_(texts_[i]);
      auto [it, inserted] = seen.try_emplace(k, keys_.size());
      if (inserted) {
        keys_.push_back(k);
        first_.push_back(i);
      }
      slot_[i] = it->second;
    }
  }

  // Looks the claimed keys up again, because an owner that finished between our lookup and our
  // claim has already stored its value (owners store before they erase their flights). The keys
  // found now are moved to the front of mine_ and their flights completed at once.
  Status reprobe_owned() {
    std::vector<CacheKey> keys;
    std::vector<size_t> rows;
    owned_keys(0, mine_.size(), &keys, &rows);
    std::vector<uint8_t> again(mine_.size());
    VECPERF_RETURN_IF_ERROR(cache_.lookup(keys, out_, rows, again.data(), /*count=*/false));
    const size_t ready = move_found_first(again);
    if (ready > 0) {
      owned_keys(0, ready, &keys, &rows);
      cache_.flights_.finish(keys, std::span(owned_).first(ready), out_, rows, dim_);
      completed_ = ready;
    }
    return Status::OK();
  }

  // Reorders mine_ and owned_ together, stably, so that the entries with found[m] set come
  // first; returns how many there are.
  size_t move_found_first(const std::vector<uint8_t>& found) {
    std::vector<size_t> order(mine_.size());
    for (size_t m = 0; m < mine_.size(); ++m) order[m] = m;
    std::stable_partition(order.begin(), order.end(), [&](size_t m) { return found[m] != 0; });
    std::vector<size_t> sorted_mine(mine_.size());
    std::vector<std::shared_ptr<Flight>> sorted_owned(mine_.size());
    size_t ready = 0;
    for (size_t m = 0; m < mine_.size(); ++m) {
      sorted_mine[m] = mine_[order[m]];
      sorted_owned[m] = owned_[order[m]];
      ready += found[order[m]] != 0;
    }
    mine_ = std::move(sorted_mine);
    owned_ = std::move(sorted_owned);
    return ready;
  }

  // Computes mine_[begin, end): calls the model, checks and stores its output, copies it to
  // `out` and completes those flights. Nothing of a chunk that fails is stored.
  Status compute_chunk(size_t begin, size_t end) {
    const size_t c = end - begin;
    chunk_texts_.clear();
    chunk_keys_.clear();
    for (size_t m = begin; m < end; ++m) {
      chunk_texts_.push_back(texts_[first_[mine_[m]]]);
      chunk_keys_.push_back(keys_[mine_[m]]);
    }
    result_.clear();
    cache_.computed_.fetch_add(c, std::memory_order_relaxed);
    VECPERF_RETURN_IF_ERROR(call_model());
    VECPERF_RETURN_IF_ERROR(cache_.store(chunk_keys_, result_.data(), kDefaultTtl));
    for (size_t m = begin; m < end; ++m) {
      std::memcpy(out_ + first_[mine_[m]] * dim_, result_.data() + (m - begin) * dim_,
                  dim_ * sizeof(float));
    }
    cache_.flights_.finish(chunk_keys_, std::span(owned_).subspan(begin, c), result_.data(), {},
                           dim_);
    completed_ = end;
    return Status::OK();
  }

  // Runs the caller's embed function on chunk_texts_ into result_ and rejects output that is not
  // exactly one finite row of dim floats per text, which must never be cached.
  Status call_model() {
    // The embed function is the caller's code: whatever it throws is reported as its failure.
    VECPERF_RETURN_IF_ERROR(
        guarded("calling the embedding function", [&] { return embed_(chunk_texts_, &result_); }));
    const size_t c = chunk_texts_.size();
    if (result_.size() != c * dim_) {
      return Status::InvalidArgument("get_or_compute: embed function returned " +
                                     std::to_string(result_.size()) + " floats for " +
                                     std::to_string(c) + " texts of dim " + std::to_string(dim_) +
                                     " (expected " + std::to_string(c * dim_) + ")");
    }
    if (!all_finite(result_.data(), result_.size())) {
      return Status::InvalidArgument("get_or_compute: embed function returned NaN or inf");
    }
    return Status::OK();
  }

  // Waits for the texts other callers are computing and copies their values. Runs only after
  // this call has completed all its own flights, so no two callers can wait on each other.
  Status wait_for_others() {
    for (const FlightTable::Wait& w : waits_) {
      VECPERF_RETURN_IF_ERROR(w.second->wait(out_ + first_[w.first] * dim_));
    }
    return Status::OK();
  }

  // Copies each distinct text's row to the later occurrences of the same text.
  void copy_duplicates() {
    for (size_t i = 0; i < texts_.size(); ++i) {
      const size_t src = first_[slot_[i]];
      if (src != i) std::memcpy(out_ + i * dim_, out_ + src * dim_, dim_ * sizeof(float));
    }
  }

  // Sets *keys and *rows to the keys, and the rows of `out`, of mine_[begin, end).
  void owned_keys(size_t begin, size_t end, std::vector<CacheKey>* keys,
                  std::vector<size_t>* rows) const {
    keys->resize(end - begin);
    rows->resize(end - begin);
    for (size_t m = begin; m < end; ++m) {
      (*keys)[m - begin] = keys_[mine_[m]];
      (*rows)[m - begin] = first_[mine_[m]];
    }
  }

  EmbeddingCacheImpl& cache_;
  const std::span<const std::string_view> texts_;
  const EmbedFn& embed_;
  const size_t batch_size_;
  float* const out_;
  const size_t dim_;

  std::vector<CacheKey> keys_;  // distinct keys, first-occurrence order
  std::vector<size_t> first_;   // input index of each distinct key's first occurrence
  std::vector<size_t> slot_;    // distinct index of each input text
  std::vector<uint8_t> found_;  // per distinct key: found by the first lookup

  std::vector<size_t> mine_;                    // distinct indices this call computes
  std::vector<std::shared_ptr<Flight>> owned_;  // their flights, parallel to mine_
  size_t completed_ = 0;                        // owned_[0, completed_) are completed
  std::vector<FlightTable::Wait> waits_;        // (distinct index, flight) of other callers

  std::vector<std::string_view> chunk_texts_;  // the texts of one chunk (reused by each chunk)
  std::vector<CacheKey> chunk_keys_;           // their keys
  std::vector<float> result_;                  // the model's output for them
};

Status EmbeddingCacheImpl::get_or_compute(Span<const std::string_view> texts, const EmbedFn& embed,
                                          int64_t batch_size, float* out) {
  if (batch_size < 1) return Status::InvalidArgument("get_or_compute: batch_size must be >= 1");
  if (!embed) return Status::InvalidArgument("get_or_compute: embed function is empty");
  if (texts.empty()) return Status::OK();
  if (out == nullptr) return Status::InvalidArgument("get_or_compute: out must not be null");
  ComputeCall call(*this, texts, embed, static_cast<size_t>(batch_size), out);
  Status s = guarded("looking up or computing embeddings", [&] { return call.run(); });
  call.fail_open_flights(s);
  return s;
}

}  // namespace vecperf::internal
