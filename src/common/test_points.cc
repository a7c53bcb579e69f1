// Test points (see test_points.h). The hook is copied out under the mutex and run outside it,
// so a hook that blocks (a latch) never holds up other test points.
#include "common/test_points.h"

#include <array>
#include <atomic>
#include <mutex>

namespace vecperf::internal {
namespace {

struct Hooks {
  std::mutex mu;
  std::array<std::function<void()>, kTestPoints> fns;  // guarded by mu
  std::array<std::atomic<bool>, kTestPoints> armed{};
};

Hooks& hooks() {
  static Hooks* h = new Hooks();  // leaked: may be reached during static destruction
  return *h;
}

}  // namespace

void set_test_hook(TestPoint point, std::function<void()> hook) {
  Hooks& h = hooks();
  const auto i = static_cast<size_t>(point);
  std::lock_guard lock(h.mu);
  h.armed[i].store(static_cast<bool>(hook), std::memory_order_release);
  h.fns[i] = std::move(hook);
}

void reach(TestPoint point) {
  Hooks& h = hooks();
  const auto i = static_cast<size_t>(point);
  if (!h.armed[i].load(std::memory_order_relaxed)) return;
  std::function<void()> fn;
  {
    std::lock_guard lock(h.mu);
    fn = h.fns[i];
  }
  if (fn) fn();
}

}  // namespace vecperf::internal
