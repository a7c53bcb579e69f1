// Error paths of the byte sources every dataset reader goes through: paths that are not
// readable files, reads past the end, and a file that shrinks while it is read.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "dataset/byte_source.h"
#include "dataset_test_util.h"

namespace vecperf::dataset_test {
namespace {

using internal::ByteRegion;
using internal::ByteSource;

using ByteSourceErrorsTest = DatasetTest;

TEST_F(ByteSourceErrorsTest, MissingFileIsNotFound) {
  auto src = internal::open_file_source(path("absent.fvecs"));
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kNotFound);
  EXPECT_NE(src.status().message().find("absent.fvecs"), std::string_view::npos);
}

TEST_F(ByteSourceErrorsTest, DirectoryIsInvalidArgument) {
  std::filesystem::create_directories(path("a_directory"));
  auto src = internal::open_file_source(path("a_directory"));
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(src.status().message().find("not a regular file"), std::string_view::npos)
      << src.status().message();
}

// A path through a regular file fails with ENOTDIR: an OS error, reported as kIOError with it.
TEST_F(ByteSourceErrorsTest, UnopenablePathIsIoErrorWithTheOsReason) {
  spit(path("plain"), "bytes");
  auto src = internal::open_file_source(path("plain") + "/inside.fvecs");
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kIOError);
  EXPECT_NE(src.status().message().find("cannot open"), std::string_view::npos);
  EXPECT_NE(src.status().message().find("Not a directory"), std::string_view::npos)
      << src.status().message();
}

void expect_past_end(const Status& s, const std::string& name) {
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find(name), std::string_view::npos) << s.message();
  EXPECT_NE(s.message().find("past the end"), std::string_view::npos) << s.message();
}

void expect_reads_past_end_fail(const ByteSource& src) {
  char buf[16];
  expect_past_end(src.read_at(src.size() - 4, buf, 8), src.name());
  expect_past_end(src.read_at(src.size() + 1, buf, 0), src.name());
  // An offset + length that would overflow 64 bits is past the end too, not a wrap-around.
  expect_past_end(src.read_at(4, buf, ~uint64_t{0}), src.name());
  expect_past_end(src.region(src.size() - 4, 8, false).status(), src.name());
  expect_past_end(src.region(4, ~uint64_t{0}, true).status(), src.name());
  // The last bytes exactly are fine.
  EXPECT_TRUE(src.read_at(src.size() - 4, buf, 4).ok());
  Result<ByteRegion> tail = src.region(src.size() - 4, 4, false);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(std::string(tail->data, 4), "6789");
}

TEST_F(ByteSourceErrorsTest, ReadsPastTheEndAreCorruptionNamingTheSource) {
  spit(path("ten.bin"), "0123456789");
  auto file = internal::open_file_source(path("ten.bin"));
  ASSERT_TRUE(file.ok());
  expect_reads_past_end_fail(**file);
  auto memory = internal::memory_source("0123456789", "in-memory ten");
  expect_reads_past_end_fail(*memory);
}

// The size is fixed at open: a file truncated afterwards makes reads of the lost part fail
// cleanly (pread returns 0) instead of returning stale or zero bytes.
TEST_F(ByteSourceErrorsTest, FileThatShrinksWhileReadIsCorruption) {
  spit(path("shrinks.bin"), std::string(8192, 'x'));
  auto src = internal::open_file_source(path("shrinks.bin"));
  ASSERT_TRUE(src.ok());
  std::filesystem::resize_file(path("shrinks.bin"), 100);
  char buf[64];
  Status s = (*src)->read_at(4096, buf, sizeof(buf));
  expect_past_end(s, path("shrinks.bin"));
  EXPECT_NE(s.message().find("did it change while read"), std::string_view::npos);
  EXPECT_TRUE((*src)->read_at(0, buf, sizeof(buf)).ok());
}

}  // namespace
}  // namespace vecperf::dataset_test
