// FlightTable and Flight: see single_flight.h. The table's mutex orders registration against
// erasure; each flight's own mutex orders its completion against its waiters, so completing a
// flight never holds the table lock while it copies a value or wakes threads.
#include "cache/single_flight.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace vecperf::internal {

Status Flight::wait(float* out) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  if (!status_.ok()) return status_;
  std::memcpy(out, value_.data(), value_.size() * sizeof(float));
  return Status::OK();
}

void FlightTable::claim(std::span<const CacheKey> keys, const uint8_t* found,
                        std::vector<size_t>* mine, std::vector<std::shared_ptr<Flight>>* owned,
                        std::vector<Wait>* waits) {
  // Reserved so that nothing below throws between registering a flight and recording it in
  // *owned: a registered flight nobody owns would block its waiters forever.
  mine->reserve(mine->size() + keys.size());
  owned->reserve(owned->size() + keys.size());
  waits->reserve(waits->size() + keys.size());
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t j = 0; j < keys.size(); ++j) {
    if (found[j]) continue;
    auto it = flights_.find(keys[j]);
    if (it != flights_.end()) {
      waits->emplace_back(j, it->second);
      continue;
    }
    auto flight = std::make_shared<Flight>();
    flights_.emplace(keys[j], flight);  // on a throw nothing was inserted
    mine->push_back(j);
    owned->push_back(std::move(flight));
  }
}

void FlightTable::finish(std::span<const CacheKey> keys,
                         std::span<const std::shared_ptr<Flight>> flights, const float* values,
                         std::span<const size_t> rows, size_t dim) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const CacheKey& k : keys) flights_.erase(k);
  }
  for (size_t i = 0; i < flights.size(); ++i) {
    Flight& f = *flights[i];
    const float* v = values + (rows.empty() ? i : rows[i]) * dim;
    std::vector<float> value(v, v + dim);
    {
      std::lock_guard<std::mutex> lock(f.mu_);
      f.value_ = std::move(value);
      f.done_ = true;
    }
    f.cv_.notify_all();
  }
}

void FlightTable::fail(std::span<const std::shared_ptr<Flight>> flights, const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = flights_.begin(); it != flights_.end();) {
      const bool mine = std::find(flights.begin(), flights.end(), it->second) != flights.end();
      it = mine ? flights_.erase(it) : std::next(it);
    }
  }
  for (const auto& f : flights) {
    {
      std::lock_guard<std::mutex> lock(f->mu_);
      if (f->done_) continue;
      f->status_ = status;
      f->done_ = true;
    }
    f->cv_.notify_all();
  }
}

}  // namespace vecperf::internal
