// A small JSON (RFC 8259) reader and writer for the library's own documents: tuning profiles and
// benchmark reports. Not a general-purpose JSON library: documents are small, so the reader
// builds a tree of values and the writer appends to one string.
//
// The reader is strict and meant for untrusted input: every byte is checked against the grammar
// (numbers, escapes, UTF-8), duplicate object keys and trailing content are errors, nesting is
// bounded (kMaxJsonDepth) so that a hostile document cannot exhaust the stack, and memory grows
// only with the input. Errors are kInvalidArgument naming the line, the column and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vecperf/status.h"

namespace vecperf::internal {

/// Deepest nesting of arrays and objects the reader accepts.
inline constexpr int kMaxJsonDepth = 64;

/// One parsed JSON value: null, a boolean, a number (a double), a string, an array or an object.
/// Object members keep the order of the document.
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  struct Member;

  JsonValue() = default;  ///< null
  static JsonValue boolean(bool b);
  static JsonValue number(double n);
  static JsonValue string(std::string s);
  static JsonValue array(std::vector<JsonValue> items);
  static JsonValue object(std::vector<Member> members);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  /// The payload of the matching type; a value of another type returns false / 0 / empty.
  bool as_bool() const { return bool_; }
  double as_number() const { return number_; }
  const std::string& as_string() const { return string_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }
  /// The member named `key` of an object, or nullptr (also for a value that is not an object).
  const JsonValue* find(std::string_view key) const;

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

struct JsonValue::Member {
  std::string key;
  JsonValue value;
};

/// "null", "boolean", "number", "string", "array" or "object", for messages.
const char* json_type_name(JsonValue::Type type);

/// Parses one JSON document (surrounding whitespace allowed, nothing else after it).
/// Errors: kInvalidArgument "JSON error at line L, column C: <problem>" for malformed input, a
/// duplicate key, a number outside the range of a double, invalid UTF-8, or nesting deeper than
/// kMaxJsonDepth.
Result<JsonValue> parse_json(std::string_view text);

/// Builds a JSON document by appending to a string. Calls must form a valid document: inside an
/// object, key() before every value; begin_* and end_* balanced. Non-finite numbers are written
/// as null (JSON has no NaN or infinity). Strings are copied as UTF-8, with quotes, backslashes
/// and control characters escaped.
class JsonWriter {
 public:
  /// `indent` spaces per nesting level, one member or item per line; 0 writes a single line.
  explicit JsonWriter(int indent = 2) : indent_(indent) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  /// The name of the next member of the enclosing object.
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view s);
  /// Shortest text that reads back as the same double.
  JsonWriter& number(double n);
  JsonWriter& integer(int64_t n);
  JsonWriter& boolean(bool b);
  JsonWriter& null();

  /// The document written so far.
  const std::string& str() const { return out_; }

 private:
  // Separator and indentation before a value or key at the current level.
  void before_value();
  // Writes `s` as a quoted, escaped JSON string.
  void quote(std::string_view s);
  void open(char bracket);
  void close(char bracket);
  void newline();

  struct Level {
    bool has_items = false;
  };
  int indent_;
  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;  // a key was written; its value comes without a separator
};

}  // namespace vecperf::internal
