// Error model of the C++ API: every fallible call returns a Status or a Result<T>.
// Nothing in the public API throws; an OK Status allocates nothing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "vecperf/export.h"

namespace vecperf {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,    ///< The caller passed something wrong: fix the call.
  kNotFound = 2,           ///< An id, key or file does not exist.
  kAlreadyExists = 3,      ///< An id is already in the index.
  kResourceExhausted = 4,  ///< Out of memory, disk or device memory.
  kUnavailable = 5,        ///< A resource (GPU, lock) is not available right now.
  kNotSupported = 6,       ///< Valid request the backend or file version cannot serve.
  kCorruption = 7,         ///< A file or record failed its integrity checks.
  kIOError = 8,            ///< The operating system refused a read, write, sync or rename.
  kInternal = 9,           ///< A bug in vecperf or a dependency: please report it.
};

/// Human-readable name of a code ("InvalidArgument", ...).
VECPERF_EXPORT const char* status_code_name(StatusCode code);

/// Outcome of an operation: OK, or a code plus a message saying what was wrong and what to do.
/// Thread-safety: a Status is a value; distinct objects may be used from any thread.
class [[nodiscard]] VECPERF_EXPORT Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status NotSupported(std::string msg) {
    return {StatusCode::kNotSupported, std::move(msg)};
  }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  /// The message alone; empty for OK.
  std::string_view message() const {
    return rep_ ? std::string_view(rep_->message) : std::string_view();
  }
  /// "Code: message", or "OK".
  std::string to_string() const;

  /// Returns a copy whose message is prefixed with `context` (e.g. the file being read).
  Status with_context(std::string_view context) const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

/// A value of type T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok())
      status_ = Status::Internal("Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  /// Requires: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace vecperf

/// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define VECPERF_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::vecperf::Status vecperf_status_ = (expr);        \
    if (!vecperf_status_.ok()) return vecperf_status_; \
  } while (false)
