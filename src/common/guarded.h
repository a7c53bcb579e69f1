// The library's one exception boundary. Nothing in the public API throws, but the code below it
// can: the allocator (std::bad_alloc), FAISS (faiss::FaissException, a std::exception), the
// standard library, and callbacks a caller hands in (an embedding model). Every place where such
// code runs under a public call wraps it in guarded(), which turns whatever escapes into a
// Status, so the mapping (and its wording) is written once.
//
// Cost: a try block is free on the path that does not throw (zero-cost exception tables), and
// `what` is a string literal, so nothing is built unless something was thrown.
#pragma once

#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "vecperf/status.h"

namespace vecperf::internal {

/// The Status for an exception caught while doing `what` (a phrase such as "training the IVF
/// index"): kResourceExhausted "out of memory while <what>" for std::bad_alloc; otherwise
/// `code` (kInternal unless the caller knows better, e.g. kCorruption while decoding a file)
/// with "<what> failed: <e.what()>". Call it only from inside a catch block.
Status status_from_current_exception(const char* what, StatusCode code = StatusCode::kInternal);

/// Runs fn(), which returns a Status or a Result<T>, and returns what it returns; an exception
/// escaping it becomes status_from_current_exception(what, code). `what` must outlive the call.
template <typename Fn>
auto guarded(const char* what, Fn&& fn, StatusCode code = StatusCode::kInternal)
    -> std::invoke_result_t<Fn&> {
  try {
    return fn();
  } catch (...) {
    return status_from_current_exception(what, code);
  }
}

/// As guarded(), with `context` (e.g. the name of the file being read) before the message of a
/// caught exception; statuses fn() returns itself are passed through unchanged.
template <typename Fn>
auto guarded_in(const std::string& context, const char* what, Fn&& fn,
                StatusCode code = StatusCode::kInternal) -> std::invoke_result_t<Fn&> {
  try {
    return fn();
  } catch (...) {
    return status_from_current_exception(what, code).with_context(context);
  }
}

/// As guarded(), for a fn() that returns nothing: OK when it returns normally.
template <typename Fn>
Status guarded_void(const char* what, Fn&& fn, StatusCode code = StatusCode::kInternal) {
  static_assert(std::is_void_v<std::invoke_result_t<Fn&>>,
                "use guarded() for fn returning a value");
  try {
    fn();
    return Status::OK();
  } catch (...) {
    return status_from_current_exception(what, code);
  }
}

}  // namespace vecperf::internal
