// Framed files: atomic replacement and the checks made before a payload is trusted.
#include "common/file_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vecperf::internal {
namespace {

constexpr FrameSpec kSpec{"VPTEST\0\1", 2, "test"};
namespace fs = std::filesystem;

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vecperf_fileio_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char* name) { return (dir_ / name).string(); }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void spit(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  size_t temp_files() const {
    size_t n = 0;
    for (auto& e : fs::directory_iterator(dir_))
      n += e.path().filename().string().find(".tmp-") != std::string::npos;
    return n;
  }
  fs::path dir_;
};

void write_numbers(Writer& w, int n) {
  for (int i = 0; i < n; ++i) w.pod<int32_t>(i);
}

TEST_F(FileIoTest, RoundTripsPayloadAndKind) {
  ASSERT_TRUE(
      write_framed_file(path("a"), kSpec, 7, [](Writer& w) { write_numbers(w, 1000); }).ok());
  auto f = read_framed_file(path("a"), kSpec);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->kind, 7u);
  EXPECT_EQ(f->version, 2u);
  ASSERT_EQ(f->payload.size(), 4000u);
  Reader r(f->payload.data(), f->payload.size(), "a");
  for (int i = 0; i < 1000; ++i) {
    int32_t v = -1;
    ASSERT_TRUE(r.pod(&v, "number"));
    EXPECT_EQ(v, i);
  }
  EXPECT_EQ(temp_files(), 0u);
}

TEST_F(FileIoTest, FailedWriteKeepsThePreviousFileAndLeavesNoTemporary) {
  ASSERT_TRUE(
      write_framed_file(path("keep"), kSpec, 1, [](Writer& w) { write_numbers(w, 10); }).ok());
  const std::string before = slurp(path("keep"));
  Status s = write_framed_file(path("keep"), kSpec, 1, [](Writer& w) {
    write_numbers(w, 100000);
    w.fail(Status::IOError("simulated failure half way"));
  });
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("keep"), std::string_view::npos) << s.to_string();
  EXPECT_EQ(slurp(path("keep")), before);
  EXPECT_EQ(temp_files(), 0u);
  EXPECT_TRUE(read_framed_file(path("keep"), kSpec).ok());
}

TEST_F(FileIoTest, UnwritableLocationIsAnIoError) {
  Status s =
      write_framed_file(path("no/such/dir/file"), kSpec, 1, [](Writer& w) { write_numbers(w, 1); });
  EXPECT_EQ(s.code(), StatusCode::kIOError);
}

TEST_F(FileIoTest, MissingFileIsNotFound) {
  EXPECT_EQ(read_framed_file(path("absent"), kSpec).status().code(), StatusCode::kNotFound);
}

TEST_F(FileIoTest, RejectsForeignNewerTruncatedAndDamagedFiles) {
  ASSERT_TRUE(write_framed_file(path("f"), kSpec, 3, [](Writer& w) { write_numbers(w, 64); }).ok());
  const std::string good = slurp(path("f"));

  spit(path("f"), "this is not a vecperf file at all, but it is long enough");
  EXPECT_EQ(read_framed_file(path("f"), kSpec).status().code(), StatusCode::kCorruption);

  constexpr FrameSpec kOlder{"VPTEST\0\1", 1, "test"};
  spit(path("f"), good);
  auto newer = read_framed_file(path("f"), kOlder);
  EXPECT_EQ(newer.status().code(), StatusCode::kNotSupported) << newer.status().to_string();

  for (size_t len : {size_t(0), size_t(10), kFileHeaderSize, good.size() - 1}) {
    spit(path("f"), good.substr(0, len));
    EXPECT_EQ(read_framed_file(path("f"), kSpec).status().code(), StatusCode::kCorruption) << len;
  }
  spit(path("f"), good + "x");
  EXPECT_EQ(read_framed_file(path("f"), kSpec).status().code(), StatusCode::kCorruption);

  std::string flipped = good;
  flipped[kFileHeaderSize + 5] ^= 1;
  spit(path("f"), flipped);
  auto r = read_framed_file(path("f"), kSpec);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("checksum"), std::string_view::npos);
}

TEST_F(FileIoTest, ReaderNeverTrustsLengths) {
  StringSink sink;
  Writer w(&sink);
  w.pod<uint64_t>(uint64_t(1) << 60);  // an absurd element count with no elements behind it
  std::vector<float> out;
  Reader r(sink.bytes().data(), sink.bytes().size(), "crafted");
  EXPECT_FALSE(r.vec(&out, "vectors"));
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(r.vec(&out, "more"));  // sticky
}

}  // namespace
}  // namespace vecperf::internal
