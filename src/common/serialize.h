// Byte-level encoding used by every on-disk format: a Writer that streams to a sink while
// hashing, and a bounds-checked Reader over bytes already verified by their checksum.
//
// Both are "sticky": the first failure is remembered and later calls do nothing, so a serializer
// writes or reads a sequence of fields and checks status() once at the end. A Reader never
// allocates more than the bytes that remain, so a corrupted length cannot trigger a huge
// allocation.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "vecperf/status.h"

namespace vecperf::internal {

/// Destination of a Writer.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status append(const void* data, size_t size) = 0;
};

/// Sink that collects bytes in memory.
class StringSink : public ByteSink {
 public:
  Status append(const void* data, size_t size) override {
    bytes_.append(static_cast<const char*>(data), size);
    return Status::OK();
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

class Writer {
 public:
  explicit Writer(ByteSink* sink) : sink_(sink) {}

  void bytes(const void* data, size_t size) {
    if (!status_.ok() || size == 0) return;
    status_ = sink_->append(data, size);
    if (status_.ok()) written_ += size;
  }
  template <typename T>
  void pod(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(&value, sizeof(T));
  }
  /// Writes a u64 element count followed by the elements.
  template <typename T>
  void array(const T* data, size_t count) {
    static_assert(std::is_trivially_copyable_v<T>);
    pod<uint64_t>(count);
    bytes(data, count * sizeof(T));
  }
  template <typename T>
  void vec(const std::vector<T>& v) {
    array(v.data(), v.size());
  }
  void str(const std::string& s) { array(s.data(), s.size()); }

  /// Lets a caller record a failure of its own (it then sticks like a sink error).
  void fail(Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  const Status& status() const { return status_; }
  uint64_t written() const { return written_; }

 private:
  ByteSink* sink_;
  Status status_;
  uint64_t written_ = 0;
};

class Reader {
 public:
  /// `what` names the source (file path) in error messages.
  Reader(const char* data, size_t size, std::string what)
      : data_(data), size_(size), what_(std::move(what)) {}

  bool bytes(void* out, size_t size, const char* field) {
    if (!status_.ok()) return false;
    if (size > size_ - pos_) return truncated(field, size);
    if (size) std::memcpy(out, data_ + pos_, size);
    pos_ += size;
    return true;
  }
  /// Points at the next `size` bytes without copying; nullptr on failure.
  const char* view(size_t size, const char* field) {
    if (!status_.ok()) return nullptr;
    if (size > size_ - pos_) {
      truncated(field, size);
      return nullptr;
    }
    const char* p = data_ + pos_;
    pos_ += size;
    return p;
  }
  template <typename T>
  bool pod(T* out, const char* field) {
    static_assert(std::is_trivially_copyable_v<T>);
    return bytes(out, sizeof(T), field);
  }
  /// Reads an element count (checked against the bytes left) followed by the elements.
  template <typename T>
  bool vec(std::vector<T>* out, const char* field) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint64_t count = 0;
    if (!pod(&count, field)) return false;
    if (count > (size_ - pos_) / sizeof(T)) return truncated(field, count * sizeof(T));
    out->resize(count);
    return bytes(out->data(), count * sizeof(T), field);
  }
  bool str(std::string* out, const char* field) {
    std::vector<char> tmp;
    if (!vec(&tmp, field)) return false;
    out->assign(tmp.begin(), tmp.end());
    return true;
  }

  /// Records a semantic error (a value out of range) at the current offset.
  bool corrupt(const std::string& problem) {
    if (status_.ok())
      status_ = Status::Corruption(what_ + ": " + problem + " (at payload offset " +
                                   std::to_string(pos_) + ")");
    return false;
  }
  const Status& status() const { return status_; }
  size_t remaining() const { return size_ - pos_; }
  size_t offset() const { return pos_; }
  const std::string& what() const { return what_; }

 private:
  bool truncated(const char* field, uint64_t need) {
    return corrupt(std::string("truncated while reading ") + field + " (need " +
                   std::to_string(need) + " bytes, " + std::to_string(size_ - pos_) + " left)");
  }

  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string what_;
  Status status_;
};

}  // namespace vecperf::internal
