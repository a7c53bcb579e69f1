// Shared fixture of the dataset tests: a scratch directory and raw byte helpers for writing
// hand-made (often deliberately damaged) files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "vecperf/dataset.h"

namespace vecperf::dataset_test {

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("vecperf_dataset_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void spit(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  /// Files in the scratch directory whose name contains `part`.
  size_t files_containing(const std::string& part) const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_))
      n += e.path().filename().string().find(part) != std::string::npos;
    return n;
  }

  std::filesystem::path dir_;
};

/// Little-endian bytes of a value (the host is little-endian).
template <typename T>
std::string le(T value) {
  std::string s(sizeof(T), '\0');
  std::memcpy(s.data(), &value, sizeof(T));
  return s;
}

/// An .fvecs/.ivecs-style record: int32 dim, then the values.
template <typename T>
std::string record(int32_t dim, std::initializer_list<T> values) {
  std::string s = le(dim);
  for (T v : values) s += le(v);
  return s;
}

/// Expects `s` to fail with `code` and a message containing every one of `parts`.
inline void expect_error(const Status& s, StatusCode code,
                         std::initializer_list<std::string> parts) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  for (const std::string& part : parts)
    EXPECT_NE(s.message().find(part), std::string_view::npos)
        << "message lacks '" << part << "': " << s.to_string();
}

}  // namespace vecperf::dataset_test
