// Helpers shared by the cache tests: temporary directories, deterministic vectors and options.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "vecperf/cache.h"

namespace vecperf::testing {

/// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("vecperf_cache_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Deterministic vector for a text: values depend on every byte and on the position.
inline std::vector<float> vector_for(std::string_view text, int64_t dim) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  std::vector<float> v(static_cast<size_t>(dim));
  for (int64_t j = 0; j < dim; ++j) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    v[static_cast<size_t>(j)] =
        static_cast<float>(static_cast<int64_t>(h >> 40) % 2000 - 1000) / 1000.0f;
  }
  return v;
}

inline CacheOptions ram_options(int64_t dim = 8) {
  CacheOptions o;
  o.model = "test-model";
  o.model_version = "v1";
  o.dim = dim;
  o.ram_budget_bytes = 1 << 20;
  o.ram_shards = 4;
  return o;
}

inline CacheOptions disk_options(const std::string& path, int64_t dim = 8) {
  CacheOptions o = ram_options(dim);
  o.path = path;
  o.disk_block_cache_bytes = 1 << 20;
  o.disk_write_buffer_bytes = 1 << 20;
  return o;
}

inline std::vector<std::string> make_texts(int n, const std::string& prefix = "text-") {
  std::vector<std::string> t;
  for (int i = 0; i < n; ++i) t.push_back(prefix + std::to_string(i));
  return t;
}

inline std::vector<std::string_view> views(const std::vector<std::string>& texts) {
  return std::vector<std::string_view>(texts.begin(), texts.end());
}

/// Environment variables a helper process reads: which role it plays, its directory and the
/// file descriptor it reports on.
inline constexpr char kChildRoleEnv[] = "VECPERF_CACHE_TEST_CHILD";
inline constexpr char kChildDirEnv[] = "VECPERF_CACHE_TEST_DIR";
inline constexpr char kChildFdEnv[] = "VECPERF_CACHE_TEST_FD";

/// Starts this test binary again running only `test` (a helper that skips unless
/// kChildRoleEnv == role), with `dir` and `fd` in its environment. fork + exec rather than a
/// bare fork: the parent already has RocksDB's background threads, which a forked child would
/// lack (and ThreadSanitizer refuses threads after a multi-threaded fork). Returns the pid.
inline pid_t spawn_helper(const std::string& test, const std::string& role, const std::string& dir,
                          int fd) {
  // Everything is built before fork: between fork and exec only async-signal-safe calls.
  std::vector<std::string> args = {"/proc/self/exe", "--gtest_filter=" + test};
  std::vector<std::string> env = {std::string(kChildRoleEnv) + "=" + role,
                                  std::string(kChildDirEnv) + "=" + dir,
                                  std::string(kChildFdEnv) + "=" + std::to_string(fd)};
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

/// In a helper process started by spawn_helper for `role`: true, with its directory and fd.
inline bool is_helper(const std::string& role, std::string* dir, int* fd) {
  const char* r = std::getenv(kChildRoleEnv);
  if (r == nullptr || role != r) return false;
  *dir = std::getenv(kChildDirEnv);
  *fd = std::atoi(std::getenv(kChildFdEnv));
  return true;
}

}  // namespace vecperf::testing
