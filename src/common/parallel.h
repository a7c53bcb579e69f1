// Fork-join helper for the data-parallel loops of search and build.
//
// Threads are started per call rather than kept in a pool: a search that is worth splitting
// takes milliseconds, against tens of microseconds to start a thread, and per-call threads need
// no global state, so concurrent searches with different thread counts cannot interfere.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/guarded.h"

namespace vecperf::internal {

/// Threads to use for a call: `requested` (0 = all hardware threads), at most `max_useful`.
inline int resolve_threads(int requested, int64_t max_useful) {
  int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int n = requested > 0 ? requested : hw;
  if (max_useful < n) n = static_cast<int>(std::max<int64_t>(1, max_useful));
  return n;
}

/// Calls fn(begin, end, worker) on `threads` contiguous chunks of [0, n); worker 0 runs on the
/// calling thread. Returns when all chunks are done.
template <typename Fn>
void parallel_chunks(int64_t n, int threads, Fn&& fn) {
  if (n <= 0) return;
  threads = static_cast<int>(std::min<int64_t>(std::max(1, threads), n));
  if (threads == 1) {
    fn(int64_t{0}, n, 0);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  const int64_t chunk = (n + threads - 1) / threads;
  for (int t = 1; t < threads; ++t) {
    int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    workers.emplace_back([&fn, b, e, t] { fn(b, e, t); });
  }
  fn(int64_t{0}, std::min(n, chunk), 0);
  for (auto& w : workers) w.join();
}

/// parallel_chunks() with every chunk run under guarded_void(what, ...): an exception in a worker
/// (which would otherwise terminate the process) becomes the call's Status, the first one when
/// several chunks fail. The other chunks still run to their end.
template <typename Fn>
Status guarded_chunks(int64_t n, int threads, const char* what, Fn&& fn) {
  std::mutex mu;
  Status first;  // guarded by mu
  parallel_chunks(n, threads, [&](int64_t begin, int64_t end, int worker) {
    Status s = guarded_void(what, [&] { fn(begin, end, worker); });
    if (s.ok()) return;
    std::lock_guard lock(mu);
    if (first.ok()) first = std::move(s);
  });
  return first;
}

}  // namespace vecperf::internal
