#include "vecperf/status.h"

#include <gtest/gtest.h>

namespace vecperf {
namespace {

Status fails_then_continues(bool fail, int* reached) {
  VECPERF_RETURN_IF_ERROR(fail ? Status::NotFound("missing") : Status::OK());
  ++*reached;
  return Status::OK();
}

TEST(StatusTest, OkCarriesNothing) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_TRUE(s.message().empty());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(StatusTest, ErrorsKeepCodeAndMessageThroughCopies) {
  Status s = Status::Corruption("bad checksum");
  Status copy = s;
  Status moved = std::move(s);
  EXPECT_EQ(copy.code(), StatusCode::kCorruption);
  EXPECT_EQ(moved.message(), "bad checksum");
  EXPECT_EQ(copy.to_string(), "Corruption: bad checksum");
  EXPECT_EQ(copy.with_context("loading x").to_string(), "Corruption: loading x: bad checksum");
  EXPECT_TRUE(Status::OK().with_context("ignored").ok());
}

TEST(StatusTest, ReturnIfErrorStopsAtTheFirstError) {
  int reached = 0;
  EXPECT_TRUE(fails_then_continues(false, &reached).ok());
  EXPECT_EQ(fails_then_continues(true, &reached).code(), StatusCode::kNotFound);
  EXPECT_EQ(reached, 1);
}

TEST(StatusTest, ResultHoldsValueOrError) {
  Result<int> good = 5;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 5);
  Result<int> bad = Status::InvalidArgument("k must be >= 1");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  // An OK status is not a value: it becomes an internal error instead of an empty success.
  Result<int> confused = Status::OK();
  EXPECT_FALSE(confused.ok());
  EXPECT_EQ(confused.status().code(), StatusCode::kInternal);
}

TEST(StatusTest, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c)
    EXPECT_STRNE(status_code_name(static_cast<StatusCode>(c)), "Unknown");
}

}  // namespace
}  // namespace vecperf
