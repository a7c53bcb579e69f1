// Tests of the JSON reader and writer (src/common/json.h): values and escapes parse as RFC 8259
// says, what the writer produces reads back, and malformed or hostile input is rejected with a
// position, never a crash.
#include "common/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace vecperf::internal {
namespace {

TEST(JsonTest, ParsesEveryKindOfValue) {
  auto v = parse_json(R"( {"a": [1, -2.5, 3e2, 0, -0.0, 1E-2], "b": {"c": true, "d": false},
                          "e": null, "f": "x", "g": [], "h": {}} )");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  ASSERT_EQ(v->type(), JsonValue::Type::kObject);
  ASSERT_EQ(v->members().size(), 6u);
  EXPECT_EQ(v->members()[0].key, "a");  // document order kept
  const JsonValue* a = v->find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items().size(), 6u);
  EXPECT_EQ(a->items()[0].as_number(), 1);
  EXPECT_EQ(a->items()[1].as_number(), -2.5);
  EXPECT_EQ(a->items()[2].as_number(), 300);
  EXPECT_EQ(a->items()[5].as_number(), 0.01);
  EXPECT_TRUE(v->find("b")->find("c")->as_bool());
  EXPECT_EQ(v->find("b")->find("d")->type(), JsonValue::Type::kBool);
  EXPECT_TRUE(v->find("e")->is_null());
  EXPECT_EQ(v->find("f")->as_string(), "x");
  EXPECT_EQ(v->find("g")->type(), JsonValue::Type::kArray);
  EXPECT_EQ(v->find("h")->type(), JsonValue::Type::kObject);
  EXPECT_EQ(v->find("missing"), nullptr);
  EXPECT_EQ(a->find("x"), nullptr);  // not an object

  auto scalar = parse_json("42");
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->as_number(), 42);
}

TEST(JsonTest, DecodesEscapesAndUnicode) {
  auto v = parse_json(R"("q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 \u0000end")");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  const std::string expected = std::string("q\" b\\ s/ \b\f\n\r\t \xc3\xa9 \xe2\x82\xac ") +
                               "\xf0\x9f\x98\x80 " + std::string(1, '\0') + "end";
  EXPECT_EQ(v->as_string(), expected);
  // Raw UTF-8 passes through.
  auto raw = parse_json("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
  ASSERT_TRUE(raw.ok()) << raw.status().to_string();
  EXPECT_EQ(raw->as_string(), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(JsonTest, WriterOutputReadsBack) {
  for (int indent : {0, 2}) {
    JsonWriter w(indent);
    w.begin_object();
    w.key("name").string("a \"b\"\n\x01\\");
    w.key("pi").number(3.141592653589793);
    w.key("tiny").number(5e-324);
    w.key("big").integer(std::numeric_limits<int64_t>::min());
    w.key("nan").number(std::nan(""));
    w.key("list").begin_array().integer(1).boolean(true).null().begin_object().end_object();
    w.end_array();
    w.key("empty").begin_array().end_array();
    w.end_object();
    auto v = parse_json(w.str());
    ASSERT_TRUE(v.ok()) << v.status().to_string() << "\n" << w.str();
    EXPECT_EQ(v->find("name")->as_string(), "a \"b\"\n\x01\\");
    EXPECT_EQ(v->find("pi")->as_number(), 3.141592653589793);
    EXPECT_EQ(v->find("tiny")->as_number(), 5e-324);
    EXPECT_EQ(v->find("big")->as_number(), -9223372036854775808.0);
    EXPECT_TRUE(v->find("nan")->is_null());
    ASSERT_EQ(v->find("list")->items().size(), 4u);
    EXPECT_TRUE(v->find("empty")->items().empty());
    EXPECT_EQ(w.str().find('\n') == std::string::npos, indent == 0) << w.str();
  }
  JsonWriter compact(0);
  compact.begin_object().key("a").begin_array().integer(1).integer(2).end_array().end_object();
  EXPECT_EQ(compact.str(), R"({"a":[1,2]})");
  JsonWriter pretty;
  pretty.begin_object().key("a").integer(1).key("b").begin_array().end_array().end_object();
  EXPECT_EQ(pretty.str(), "{\n  \"a\": 1,\n  \"b\": []\n}");
}

TEST(JsonTest, MalformedInputIsInvalidArgumentWithAPosition) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected a value"},
      {"   ", "expected a value"},
      {"{", "expected a string key"},
      {"{\"a\"", "expected ':'"},
      {"{\"a\":", "expected a value"},
      {"{\"a\":1", "expected ',' or '}'"},
      {"{\"a\":1,}", "expected a string key"},
      {"{a:1}", "expected a string key"},
      {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
      {"[1,]", "unexpected character ']'"},
      {"[1 2]", "expected ',' or ']'"},
      {"[", "expected a value"},
      {"{} x", "unexpected content after the end"},
      {"[] []", "unexpected content after the end"},
      {"tru", "unknown literal"},
      {"nul", "unknown literal"},
      {"True", "unexpected character 'T'"},
      {"NaN", "unexpected character 'N'"},
      {"Infinity", "unexpected character 'I'"},
      {"-", "expected a digit"},
      {"-a", "expected a digit"},
      {"01", "leading zeros"},
      {"1.", "after the decimal point"},
      {".5", "unexpected character '.'"},
      {"1e", "in the exponent"},
      {"1e+", "in the exponent"},
      {"+1", "unexpected character '+'"},
      {"1e400", "outside the range of a double"},
      {"-1e400", "outside the range of a double"},
      {"\"abc", "unterminated string"},
      {"\"a\\", "unterminated string"},
      {"\"\\x\"", "invalid escape"},
      {"\"\\u12\"", "four hex digits"},
      {"\"\\u12g4\"", "four hex digits"},
      {"\"\\ud800\"", "not followed by a low surrogate"},
      {"\"\\ud800\\u0041\"", "not followed by a low surrogate"},
      {"\"\\udc00\"", "unpaired low surrogate"},
      {"\"a\nb\"", "control character"},
      {"\"\xff\"", "invalid UTF-8"},
      {"\"\xc0\xaf\"", "invalid UTF-8"},          // overlong '/'
      {"\"\xed\xa0\x80\"", "invalid UTF-8"},      // encoded surrogate
      {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"},  // above U+10FFFF
      {"\"\xe2\x82\"", "invalid UTF-8"},          // truncated sequence
      {"{\"a\":1,\"a\":2}", "duplicate key \"a\""},
      {std::string("[1\0]", 4), "expected ',' or ']'"},
  };
  for (const auto& [text, says] : cases) {
    auto v = parse_json(text);
    ASSERT_FALSE(v.ok()) << "accepted: " << text;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(v.status().message().find("JSON error at line"), std::string_view::npos) << text;
    EXPECT_NE(v.status().message().find(says), std::string_view::npos)
        << text << " -> " << v.status().to_string();
  }
}

TEST(JsonTest, ErrorPositionCountsLinesAndColumns) {
  auto v = parse_json("{\n  \"a\": 1,\n  \"b\": ?\n}");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("line 3, column 8"), std::string_view::npos)
      << v.status().to_string();
}

TEST(JsonTest, NestingIsBounded) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parse_json(ok).ok());
  // Deep enough to overflow the stack of an unbounded recursive parser.
  for (const char* open : {"[", "{\"a\":"}) {
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += open;
    auto v = parse_json(deep);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find("nesting deeper than 64"), std::string_view::npos)
        << v.status().to_string();
  }
}

}  // namespace
}  // namespace vecperf::internal
