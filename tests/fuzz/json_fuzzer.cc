// Fuzzes the JSON reader (src/common/json.h) and the tuning-profile parser built on it. A
// document that parses must be written back by JsonWriter into one that parses to the same
// tree, and a profile that parses must survive its own to_json().
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "vecperf/tuning.h"

namespace {

using vecperf::internal::JsonValue;
using vecperf::internal::JsonWriter;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz expectation failed: %s\n", what);
  std::abort();
}

void emit(const JsonValue& v, JsonWriter& w) {
  switch (v.type()) {
    case JsonValue::Type::kNull: w.null(); break;
    case JsonValue::Type::kBool: w.boolean(v.as_bool()); break;
    case JsonValue::Type::kNumber: w.number(v.as_number()); break;
    case JsonValue::Type::kString: w.string(v.as_string()); break;
    case JsonValue::Type::kArray:
      w.begin_array();
      for (const JsonValue& item : v.items()) emit(item, w);
      w.end_array();
      break;
    case JsonValue::Type::kObject:
      w.begin_object();
      for (const JsonValue::Member& m : v.members()) {
        w.key(m.key);
        emit(m.value, w);
      }
      w.end_object();
      break;
  }
}

bool same(const JsonValue& a, const JsonValue& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case JsonValue::Type::kNull: return true;
    case JsonValue::Type::kBool: return a.as_bool() == b.as_bool();
    // The reader accepts only finite numbers, so == is exact here (and -0 == 0 is fine).
    case JsonValue::Type::kNumber: return a.as_number() == b.as_number();
    case JsonValue::Type::kString: return a.as_string() == b.as_string();
    case JsonValue::Type::kArray:
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!same(a.items()[i], b.items()[i])) return false;
      return true;
    case JsonValue::Type::kObject:
      if (a.members().size() != b.members().size()) return false;
      for (size_t i = 0; i < a.members().size(); ++i)
        if (a.members()[i].key != b.members()[i].key ||
            !same(a.members()[i].value, b.members()[i].value))
          return false;
      return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = vecperf::internal::parse_json(text);
  if (doc.ok()) {
    for (int indent : {0, 2}) {
      JsonWriter w(indent);
      emit(*doc, w);
      auto again = vecperf::internal::parse_json(w.str());
      if (!again.ok()) fail("JsonWriter output does not parse");
      if (!same(*doc, *again)) fail("JsonWriter output parses to another tree");
    }
  } else if (doc.status().code() != vecperf::StatusCode::kInvalidArgument) {
    fail("malformed JSON gave a code other than kInvalidArgument");
  }

  auto profile = vecperf::parse_tuning_profile(text);
  if (profile.ok()) {
    auto again = vecperf::parse_tuning_profile(profile->to_json());
    if (!again.ok()) fail("a parsed profile's to_json() does not parse");
    if (again->to_json() != profile->to_json()) fail("a profile does not round-trip");
  } else if (profile.status().code() != vecperf::StatusCode::kInvalidArgument &&
             profile.status().code() != vecperf::StatusCode::kNotSupported) {
    fail("a bad profile gave a code other than kInvalidArgument or kNotSupported");
  }
  return 0;
}
