// guarded(): see guarded.h.
#include "common/guarded.h"

namespace vecperf::internal {

Status status_from_current_exception(const char* what, StatusCode code) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string("out of memory while ") + what);
  } catch (const std::exception& e) {
    return Status(code, std::string(what) + " failed: " + e.what());
  } catch (...) {
    return Status(code, std::string(what) + " failed with a non-standard exception");
  }
}

}  // namespace vecperf::internal
