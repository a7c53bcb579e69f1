// Single-flight for get_or_compute: which keys some caller is computing right now, so that
// concurrent callers that miss on the same text wait for one computation instead of each calling
// the model.
//
// A hash map from key to a shared Flight, under one mutex that is held only to look up, insert or
// erase entries, never while computing or waiting. A caller that misses on a key either registers
// a new Flight and owns it, or takes the one already in the map and waits on it. The owner
// completes each flight it registered, with a value or an error, which erases it from the map and
// wakes its waiters; a Flight lives on (shared_ptr) until its last waiter has read it.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cache/lru_cache.h"
#include "vecperf/cache.h"

namespace vecperf::internal {

/// One key being computed. Completed once, by its owner; any number of threads may wait on it.
class Flight {
 public:
  /// Blocks until the owner completes the flight. Returns its error, or OK with the value (the
  /// cache's dim floats) copied to `out`.
  Status wait(float* out);

 private:
  friend class FlightTable;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_, like status_ and value_
  Status status_;
  std::vector<float> value_;
};

/// The flights in progress. Thread-safety: every method may be called concurrently.
class FlightTable {
 public:
  using Wait = std::pair<size_t, std::shared_ptr<Flight>>;  // (index into keys, flight)

  /// For each keys[j] with found[j] == 0: takes the flight another caller registered for it
  /// (appends (j, flight) to `waits`), or registers a new one that this caller now owns (appends
  /// j to `mine` and the flight to `owned`). The owner must complete every flight it owns, with
  /// finish() or fail(), before it waits on any other: then no two callers wait on each other.
  void claim(std::span<const CacheKey> keys, const uint8_t* found, std::vector<size_t>* mine,
             std::vector<std::shared_ptr<Flight>>* owned, std::vector<Wait>* waits);

  /// Completes flights[i] (registered for keys[i]) with row rows[i] of `values` (row i when
  /// `rows` is empty), rows of `dim` floats. Erases the keys first: the caller has stored the
  /// values in the tiers, so a later caller finds them there.
  void finish(std::span<const CacheKey> keys, std::span<const std::shared_ptr<Flight>> flights,
              const float* values, std::span<const size_t> rows, size_t dim);

  /// Completes with `status` every flight of `flights` that is not yet complete, and erases them
  /// all from the table. For an owner that cannot finish: its waiters get its error instead of
  /// waiting forever.
  void fail(std::span<const std::shared_ptr<Flight>> flights, const Status& status);

 private:
  std::mutex mu_;
  std::unordered_map<CacheKey, std::shared_ptr<Flight>, CacheKeyHash> flights_;  // guarded by mu_
};

}  // namespace vecperf::internal
