// Test points: named places in the library where a test can run code of its own, to park a
// thread on a latch at a moment that timing could never hit reliably (a save in the middle of
// serialising, a writer about to wait for it) and check what other threads can still do. That
// is how the "a search never waits for X" promises are tested deterministically.
//
// Cost when no test has set a hook: one relaxed atomic load per reach().
#pragma once

#include <functional>

namespace vecperf::internal {

enum class TestPoint : int {
  /// A save or to_bytes() has taken what it holds and is about to serialise the index.
  kSaveSerializing = 0,
  /// A writer (add, remove, a migration's swap) is about to wait for saves in progress.
  kWriterAwaitsSaves = 1,
  /// An add is in the part it runs without the index lock: HNSW has published the chunk and
  /// linked half of it; Flat has staged the chunk's rows and IVF has encoded them, and neither
  /// has published them yet.
  kAddInProgress = 2,
  /// A compaction has built its new structure aside (HNSW: the graph; IVF: the renumbered
  /// lists) and is about to swap it in.
  kCompactionBuilt = 3,
  /// An IVF add that reached the training threshold has published its rows to the buffer and
  /// trained k-means aside; the lists are not filled yet.
  kTrainingInProgress = 4,
};
inline constexpr int kTestPoints = 5;

/// Runs `hook` on every thread that reaches `point` from now on; an empty function removes it.
/// Process-wide; for tests only. Thread-safe.
void set_test_hook(TestPoint point, std::function<void()> hook);

/// Calls the hook of `point`, if any.
void reach(TestPoint point);

}  // namespace vecperf::internal
