// The exception boundary: every kind of escaping exception becomes the documented Status.
#include "common/guarded.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace vecperf::internal {
namespace {

TEST(GuardedTest, PassesResultsThrough) {
  EXPECT_TRUE(guarded("doing nothing", [] { return Status::OK(); }).ok());
  Status s = guarded("failing", [] { return Status::NotFound("gone"); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "gone");
  Result<int> r = guarded("computing", [] { return Result<int>(7); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
}

TEST(GuardedTest, BadAllocIsResourceExhausted) {
  Status s = guarded("growing the table", []() -> Status { throw std::bad_alloc(); });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "out of memory while growing the table");
  Result<int> r = guarded("sizing", []() -> Result<int> { throw std::bad_alloc(); });
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST(GuardedTest, StandardExceptionsTakeTheGivenCode) {
  Status s = guarded("reading the lists", []() -> Status { throw std::runtime_error("bad size"); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "reading the lists failed: bad size");
  s = guarded(
      "decoding", []() -> Status { throw std::logic_error("x"); }, StatusCode::kCorruption);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  // bad_alloc stays ResourceExhausted whatever code is given.
  s = guarded(
      "decoding", []() -> Status { throw std::bad_alloc(); }, StatusCode::kCorruption);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
}

TEST(GuardedTest, NonStandardExceptions) {
  Status s = guarded("calling back", []() -> Status { throw 42; });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(std::string(s.message()).find("non-standard"), std::string::npos);
}

TEST(GuardedTest, VoidFunctions) {
  int calls = 0;
  EXPECT_TRUE(guarded_void("counting", [&] { ++calls; }).ok());
  EXPECT_EQ(calls, 1);
  Status s = guarded_void("throwing", [] { throw std::runtime_error("no"); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace vecperf::internal

namespace vecperf::internal {
namespace {

TEST(GuardedTest, ContextGoesBeforeCaughtExceptionsOnly) {
  Status s = guarded_in(
      "file 'x.vpi'", "decoding", []() -> Status { throw std::runtime_error("bad"); },
      StatusCode::kCorruption);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.message(), "file 'x.vpi': decoding failed: bad");
  s = guarded_in("file 'x.vpi'", "decoding", [] { return Status::NotFound("gone"); });
  EXPECT_EQ(s.message(), "gone");
}

}  // namespace
}  // namespace vecperf::internal
