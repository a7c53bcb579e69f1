// JSON reader and writer (see json.h). The reader is a recursive-descent parser over the input
// bytes that stops at the first error; line and column are computed only when an error is
// reported, so the happy path tracks nothing but the position.
#include "common/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>
#include <unordered_set>
#include <utility>

namespace vecperf::internal {

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::number(double n) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.number_ = n;
  return v;
}

JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.type_ = Type::kString;
  v.string_ = std::move(s);
  return v;
}

JsonValue JsonValue::array(std::vector<JsonValue> items) {
  JsonValue v;
  v.type_ = Type::kArray;
  v.items_ = std::move(items);
  return v;
}

JsonValue JsonValue::object(std::vector<Member> members) {
  JsonValue v;
  v.type_ = Type::kObject;
  v.members_ = std::move(members);
  return v;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const Member& m : members_)
    if (m.key == key) return &m.value;
  return nullptr;
}

const char* json_type_name(JsonValue::Type type) {
  switch (type) {
    case JsonValue::Type::kNull: return "null";
    case JsonValue::Type::kBool: return "boolean";
    case JsonValue::Type::kNumber: return "number";
    case JsonValue::Type::kString: return "string";
    case JsonValue::Type::kArray: return "array";
    case JsonValue::Type::kObject: return "object";
  }
  return "unknown";
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the well-formed UTF-8 sequence starting at s[0] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it is malformed.
size_t utf8_sequence(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  return n;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<JsonValue> document() {
    skip_space();
    JsonValue v;
    if (!value(0, &v)) return error_;
    skip_space();
    if (pos_ != text_.size()) {
      fail("unexpected content after the end of the document");
      return error_;
    }
    return v;
  }

 private:
  // Records the first error at the current position; always returns false.
  bool fail(const std::string& problem) {
    if (!error_.ok()) return false;
    int line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    error_ = Status::InvalidArgument("JSON error at line " + std::to_string(line) + ", column " +
                                     std::to_string(column) + ": " + problem);
    return false;
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      return fail(
          "unknown literal; expected a value (object, array, string, number, true, "
          "false or null)");
    pos_ += word.size();
    return true;
  }

  bool value(int depth, JsonValue* out) {
    if (at_end()) return fail("unexpected end of input; expected a value");
    switch (peek()) {
      case '{': return object(depth + 1, out);
      case '[': return array(depth + 1, out);
      case '"': {
        std::string s;
        if (!string(&s)) return false;
        *out = JsonValue::string(std::move(s));
        return true;
      }
      case 't': *out = JsonValue::boolean(true); return literal("true");
      case 'f': *out = JsonValue::boolean(false); return literal("false");
      case 'n': *out = JsonValue(); return literal("null");
      default:
        if (peek() == '-' || is_digit(peek())) return number(out);
        return fail(std::string("unexpected character '") + peek() + "'; expected a value");
    }
  }

  bool check_depth(int depth) {
    if (depth > kMaxJsonDepth)
      return fail("nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  }

  bool object(int depth, JsonValue* out) {
    if (!check_depth(depth)) return false;
    ++pos_;  // '{'
    std::vector<JsonValue::Member> members;
    std::unordered_set<std::string> keys;
    skip_space();
    if (!at_end() && peek() == '}') {
      ++pos_;
      *out = JsonValue::object(std::move(members));
      return true;
    }
    while (true) {
      skip_space();
      if (at_end() || peek() != '"') return fail("expected a string key in the object");
      const size_t key_pos = pos_;
      JsonValue::Member m;
      if (!string(&m.key)) return false;
      if (!keys.insert(m.key).second) {
        pos_ = key_pos;
        return fail("duplicate key \"" + m.key + "\"");
      }
      skip_space();
      if (at_end() || peek() != ':') return fail("expected ':' after an object key");
      ++pos_;
      skip_space();
      if (!value(depth, &m.value)) return false;
      members.push_back(std::move(m));
      skip_space();
      if (at_end()) return fail("unexpected end of input inside an object; expected ',' or '}'");
      if (peek() == '}') {
        ++pos_;
        *out = JsonValue::object(std::move(members));
        return true;
      }
      if (peek() != ',') return fail("expected ',' or '}' after an object member");
      ++pos_;
    }
  }

  bool array(int depth, JsonValue* out) {
    if (!check_depth(depth)) return false;
    ++pos_;  // '['
    std::vector<JsonValue> items;
    skip_space();
    if (!at_end() && peek() == ']') {
      ++pos_;
      *out = JsonValue::array(std::move(items));
      return true;
    }
    while (true) {
      skip_space();
      JsonValue item;
      if (!value(depth, &item)) return false;
      items.push_back(std::move(item));
      skip_space();
      if (at_end()) return fail("unexpected end of input inside an array; expected ',' or ']'");
      if (peek() == ']') {
        ++pos_;
        *out = JsonValue::array(std::move(items));
        return true;
      }
      if (peek() != ',') return fail("expected ',' or ']' after an array item");
      ++pos_;
    }
  }

  // Four hex digits of a \u escape at pos_ (after "\u").
  bool hex4(uint32_t* out) {
    if (text_.size() - pos_ < 4) return fail("truncated \\u escape; expected four hex digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(text_[pos_ + i]);
      if (h < 0) return fail("invalid \\u escape; expected four hex digits");
      v = v * 16 + static_cast<uint32_t>(h);
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  bool escape(std::string& out) {
    if (at_end()) return fail("unterminated string");
    const char c = peek();
    ++pos_;
    switch (c) {
      case '"': out += '"'; return true;
      case '\\': out += '\\'; return true;
      case '/': out += '/'; return true;
      case 'b': out += '\b'; return true;
      case 'f': out += '\f'; return true;
      case 'n': out += '\n'; return true;
      case 'r': out += '\r'; return true;
      case 't': out += '\t'; return true;
      case 'u': break;
      default: --pos_; return fail(std::string("invalid escape '\\") + c + "'");
    }
    uint32_t cp = 0;
    if (!hex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired low surrogate in a \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u")
        return fail("high surrogate in a \\u escape not followed by a low surrogate");
      pos_ += 2;
      uint32_t low = 0;
      if (!hex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF)
        return fail("high surrogate in a \\u escape not followed by a low surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(cp, out);
    return true;
  }

  bool string(std::string* out) {
    ++pos_;  // opening quote
    std::string s;
    while (true) {
      if (at_end()) return fail("unterminated string");
      const char c = peek();
      if (c == '"') {
        ++pos_;
        *out = std::move(s);
        return true;
      }
      if (c == '\\') {
        ++pos_;
        if (!escape(s)) return false;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character in a string; escape it (\\n, \\t, \\u00XX)");
      const size_t n = utf8_sequence(text_.substr(pos_));
      if (n == 0) return fail("invalid UTF-8 in a string");
      s.append(text_.data() + pos_, n);
      pos_ += n;
    }
  }

  bool digits(const char* what) {
    if (at_end() || !is_digit(peek())) return fail(std::string("expected a digit ") + what);
    while (!at_end() && is_digit(peek())) ++pos_;
    return true;
  }

  bool number(JsonValue* out) {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (at_end() || !is_digit(peek())) return fail("expected a digit after '-'");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && is_digit(peek())) return fail("leading zeros are not allowed in numbers");
    } else {
      digits("in the number");
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digits("after the decimal point")) return false;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits("in the exponent")) return false;
    }
    double v = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    auto [end, ec] = std::from_chars(first, last, v);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && !std::isfinite(v))) {
      pos_ = start;
      return fail("number " + std::string(first, last) + " is outside the range of a double");
    }
    if (ec != std::errc() || end != last) {
      pos_ = start;
      return fail("malformed number");
    }
    *out = JsonValue::number(v);
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  Status error_;
};

}  // namespace

Result<JsonValue> parse_json(std::string_view text) { return Parser(text).document(); }

void JsonWriter::newline() {
  if (indent_ <= 0) return;
  out_ += '\n';
  out_.append(levels_.size() * static_cast<size_t>(indent_), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (levels_.empty()) return;
  if (levels_.back().has_items) out_ += ',';
  levels_.back().has_items = true;
  newline();
}

void JsonWriter::open(char bracket) {
  before_value();
  out_ += bracket;
  levels_.push_back(Level{});
}

void JsonWriter::close(char bracket) {
  const bool had_items = !levels_.empty() && levels_.back().has_items;
  if (!levels_.empty()) levels_.pop_back();
  if (had_items) newline();
  out_ += bracket;
}

JsonWriter& JsonWriter::begin_object() {
  open('{');
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  close('}');
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  open('[');
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  close(']');
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  before_value();
  quote(name);
  out_ += indent_ > 0 ? ": " : ":";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view s) {
  before_value();
  quote(s);
  return *this;
}

void JsonWriter::quote(std::string_view s) {
  out_ += '"';
  for (char c : s) {
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out_ += buf;
        } else {
          out_ += c;
        }
    }
  }
  out_ += '"';
}

JsonWriter& JsonWriter::number(double n) {
  before_value();
  if (!std::isfinite(n)) {
    out_ += "null";
    return *this;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out_.append(buf, ec == std::errc() ? end : buf);
  return *this;
}

JsonWriter& JsonWriter::integer(int64_t n) {
  before_value();
  out_ += std::to_string(n);
  return *this;
}

JsonWriter& JsonWriter::boolean(bool b) {
  before_value();
  out_ += b ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

}  // namespace vecperf::internal
