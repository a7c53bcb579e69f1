// Fault injection on vecperf's own files: every system call of write_framed_file and
// read_framed_file is routed through a FileOps (fs_seam.h) that fails on command, and every
// backend's Index::save / load is checked under each fault: the error is kIOError and names the
// path and the OS error, no temporary file is left, and the previous file is untouched and
// still loads with identical search results.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "cache/cache_test_util.h"
#include "common/file_io.h"
#include "common/fs_seam.h"
#include "index/backends.h"
#include "testing/testing.h"
#include "vecperf/dataset.h"
#include "vecperf/index.h"

namespace vecperf {
namespace {

namespace fs = std::filesystem;
using internal::FileOps;

enum class Op { kOpen, kWrite, kPwrite, kPread, kFstat, kFsync, kClose, kRename, kUnlink, kCount };

const char* op_name(Op op) {
  static const char* const kNames[] = {"open",  "write", "pwrite", "pread", "fstat",
                                       "fsync", "close", "rename", "unlink"};
  return kNames[static_cast<int>(op)];
}

// Real POSIX calls, except where a test asked for a failure:
//  - fail(op, err, skip): calls of `op` after the first `skip` fail with `err` (and do nothing);
//  - disk_budget(n): write() stores n bytes in all, a short write at the limit, then ENOSPC;
//  - max_chunk(n): write/pwrite/pread move at most n bytes per call (short transfers);
//  - interrupt(): every other call (all but close) fails with EINTR before doing anything.
class FaultyFileOps : public FileOps {
 public:
  void fail(Op op, int err, int skip = 0) {
    std::lock_guard lock(mu_);
    faults_.push_back({op, err, skip});
  }
  void disk_budget(uint64_t bytes) {
    std::lock_guard lock(mu_);
    budget_ = bytes;
  }
  void max_chunk(size_t bytes) {
    std::lock_guard lock(mu_);
    chunk_ = bytes;
  }
  void interrupt() {
    std::lock_guard lock(mu_);
    interrupt_ = true;
  }
  int calls(Op op) const {
    std::lock_guard lock(mu_);
    return calls_[static_cast<int>(op)];
  }
  int interrupted() const {
    std::lock_guard lock(mu_);
    return interrupted_;
  }
  int short_transfers() const {
    std::lock_guard lock(mu_);
    return short_;
  }

  int open(const char* path, int flags, mode_t mode) override {
    if (int err = check(Op::kOpen)) return fail_with(err);
    return ::open(path, flags, mode);
  }
  ssize_t write(int fd, const void* data, size_t size) override {
    if (int err = check(Op::kWrite)) return fail_with(err);
    size_t n = clamp(size);
    {
      std::lock_guard lock(mu_);
      if (budget_ == 0 && n > 0) return fail_with(ENOSPC);
      if (n > budget_) {
        n = static_cast<size_t>(budget_);
        ++short_;
      }
      budget_ -= n;
    }
    return ::write(fd, data, n);
  }
  ssize_t pwrite(int fd, const void* data, size_t size, off_t offset) override {
    if (int err = check(Op::kPwrite)) return fail_with(err);
    return ::pwrite(fd, data, clamp(size), offset);
  }
  ssize_t pread(int fd, void* data, size_t size, off_t offset) override {
    if (int err = check(Op::kPread)) return fail_with(err);
    return ::pread(fd, data, clamp(size), offset);
  }
  int fstat(int fd, struct stat* st) override {
    if (int err = check(Op::kFstat)) return fail_with(err);
    return ::fstat(fd, st);
  }
  int fsync(int fd) override {
    if (int err = check(Op::kFsync)) return fail_with(err);
    return ::fsync(fd);
  }
  int close(int fd) override {
    // The descriptor is released even when close reports an error (as on Linux).
    const int err = check(Op::kClose, /*interruptible=*/false);
    const int r = ::close(fd);
    return err ? fail_with(err) : r;
  }
  int rename(const char* from, const char* to) override {
    if (int err = check(Op::kRename)) return fail_with(err);
    return ::rename(from, to);
  }
  int unlink(const char* path) override {
    if (int err = check(Op::kUnlink)) return fail_with(err);
    return ::unlink(path);
  }

 private:
  struct Fault {
    Op op;
    int err;
    int skip;
  };

  static int fail_with(int err) {
    errno = err;
    return -1;
  }
  size_t clamp(size_t size) {
    std::lock_guard lock(mu_);
    if (size <= chunk_) return size;
    ++short_;
    return chunk_;
  }
  // The errno this call must fail with, or 0 to run it. An interrupted attempt does not count
  // as a call, so `skip` counts the calls that did happen.
  int check(Op op, bool interruptible = true) {
    std::lock_guard lock(mu_);
    if (interrupt_ && interruptible && (toggle_ = !toggle_)) {
      ++interrupted_;
      return EINTR;
    }
    const int n = calls_[static_cast<int>(op)]++;
    for (const Fault& f : faults_)
      if (f.op == op && n >= f.skip) return f.err;
    return 0;
  }

  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  uint64_t budget_ = UINT64_MAX;
  size_t chunk_ = SIZE_MAX;
  bool interrupt_ = false;
  bool toggle_ = false;
  int calls_[static_cast<int>(Op::kCount)] = {};
  int interrupted_ = 0;
  int short_ = 0;
};

// A temporary directory that also counts the temporary files a save may leave behind.
class TempDir : public testing::TempDir {
 public:
  std::string file(const std::string& name) const { return sub(name); }
  size_t temp_files() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(path()))
      n += e.path().filename().string().find(".tmp-") != std::string::npos;
    return n;
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One fault of the matrix: what to break and what the message must say.
struct SaveFault {
  const char* name;
  std::function<void(FaultyFileOps&)> arm;
  const char* os_text;  // expected in the message, besides the path
};

std::vector<SaveFault> save_faults() {
  return {
      {"create fails", [](FaultyFileOps& f) { f.fail(Op::kOpen, EACCES); }, std::strerror(EACCES)},
      {"first write EIO", [](FaultyFileOps& f) { f.fail(Op::kWrite, EIO); }, std::strerror(EIO)},
      // Small files go out in one buffered write; 64-byte transfers make the second write
      // land in the payload.
      {"payload write EIO",
       [](FaultyFileOps& f) {
         f.max_chunk(64);
         f.fail(Op::kWrite, EIO, 1);
       },
       std::strerror(EIO)},
      {"disk full in the header", [](FaultyFileOps& f) { f.disk_budget(10); }, "disk is full"},
      {"disk full in the payload", [](FaultyFileOps& f) { f.disk_budget(1000); }, "disk is full"},
      {"quota exhausted",
       [](FaultyFileOps& f) {
         f.max_chunk(64);
         f.fail(Op::kWrite, EDQUOT, 1);
       },
       "quota is exhausted"},
      {"header rewrite EIO", [](FaultyFileOps& f) { f.fail(Op::kPwrite, EIO); },
       std::strerror(EIO)},
      {"fsync EIO", [](FaultyFileOps& f) { f.fail(Op::kFsync, EIO); }, std::strerror(EIO)},
      {"close EIO", [](FaultyFileOps& f) { f.fail(Op::kClose, EIO); }, std::strerror(EIO)},
      {"rename EXDEV", [](FaultyFileOps& f) { f.fail(Op::kRename, EXDEV); }, std::strerror(EXDEV)},
      {"short writes then EIO",
       [](FaultyFileOps& f) {
         f.max_chunk(7);
         f.fail(Op::kWrite, EIO, 20);
       },
       std::strerror(EIO)},
      {"interrupted, then disk full",
       [](FaultyFileOps& f) {
         f.interrupt();
         f.disk_budget(500);
       },
       "disk is full"},
  };
}

// Exhaustive search results of `index` for fixed queries (ids and distances).
struct Answers {
  std::vector<int64_t> ids;
  std::vector<float> distances;
  bool operator==(const Answers&) const = default;
};

constexpr int64_t kDim = 8;
constexpr int kK = 5;

Answers answers(const Index& index) {
  const testing::Matrix queries = testing::clustered(20, kDim, 777);
  Answers a;
  a.ids.resize(queries.rows * kK);
  a.distances.resize(queries.rows * kK);
  EXPECT_TRUE(index
                  .search(queries.view(), testing::exhaustive(kK),
                          SearchResults{a.distances.data(), a.ids.data()})
                  .ok());
  return a;
}

template <typename Backend>
class IndexSaveFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = make_index(Backend::options(kDim, Metric::kL2));
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    index_ = std::move(*made);
    // 200 vectors: IVF is trained, AutoIndex has migrated to IVF.
    add(0, 200);
  }
  void add(int64_t first, int64_t n) {
    const testing::Matrix data = testing::clustered(n, kDim, 1000 + first);
    const std::vector<int64_t> ids = testing::sequential_ids(n, first);
    ASSERT_TRUE(index_->add(ids, data.view()).ok());
  }
  Answers loaded_answers(const std::string& path) {
    auto loaded = load(path);
    EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
    if (!loaded.ok()) return {};
    return answers(**loaded);
  }

  TempDir dir_;
  std::unique_ptr<Index> index_;
};

TYPED_TEST_SUITE(IndexSaveFaultTest, testing::AllBackends, testing::BackendNames);

TYPED_TEST(IndexSaveFaultTest, EveryFaultKeepsThePreviousFile) {
  const std::string path = this->dir_.file("index.vpi");
  ASSERT_TRUE(this->index_->save(path).ok());
  const std::string good = slurp(path);
  const Answers before = this->loaded_answers(path);
  ASSERT_FALSE(before.ids.empty());
  this->add(200, 50);  // the save below would write a different file

  for (const SaveFault& fault : save_faults()) {
    SCOPED_TRACE(fault.name);
    FaultyFileOps ops;
    fault.arm(ops);
    Status s;
    {
      internal::ScopedFileOps scope(&ops);
      s = this->index_->save(path);
    }
    EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
    EXPECT_NE(s.message().find(path), std::string_view::npos) << s.to_string();
    EXPECT_NE(s.message().find(fault.os_text), std::string_view::npos) << s.to_string();
    EXPECT_EQ(this->dir_.temp_files(), 0u) << s.to_string();
    EXPECT_EQ(slurp(path), good);
    EXPECT_EQ(this->loaded_answers(path), before);
  }
}

TYPED_TEST(IndexSaveFaultTest, ShortAndInterruptedWritesProduceTheSameFile) {
  const std::string clean = this->dir_.file("clean.vpi");
  const std::string path = this->dir_.file("index.vpi");
  ASSERT_TRUE(this->index_->save(clean).ok());
  FaultyFileOps ops;
  ops.max_chunk(5);
  ops.interrupt();
  {
    internal::ScopedFileOps scope(&ops);
    Status s = this->index_->save(path);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  EXPECT_GT(ops.short_transfers(), 0);
  EXPECT_GT(ops.interrupted(), 0);
  EXPECT_EQ(slurp(path), slurp(clean));
  EXPECT_EQ(this->dir_.temp_files(), 0u);

  // Loading through the same short, interrupted reads gives the same index.
  FaultyFileOps read_ops;
  read_ops.max_chunk(3);
  read_ops.interrupt();
  internal::ScopedFileOps scope(&read_ops);
  auto loaded = load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_GT(read_ops.short_transfers(), 0);
  EXPECT_GT(read_ops.interrupted(), 0);
  EXPECT_EQ(answers(**loaded), answers(*this->index_));
}

TYPED_TEST(IndexSaveFaultTest, ReadErrorsAreIoErrorsNotCorruption) {
  const std::string path = this->dir_.file("index.vpi");
  ASSERT_TRUE(this->index_->save(path).ok());
  const std::vector<std::pair<Op, int>> faults = {
      {Op::kOpen, EIO}, {Op::kFstat, EIO}, {Op::kPread, EIO}, {Op::kOpen, EACCES}};
  for (const auto& [op, err] : faults) {
    SCOPED_TRACE(std::string(op_name(op)) + " " + std::strerror(err));
    FaultyFileOps ops;
    ops.fail(op, err);
    internal::ScopedFileOps scope(&ops);
    auto loaded = load(path);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), StatusCode::kIOError) << loaded.status().to_string();
    EXPECT_NE(loaded.status().message().find(path), std::string_view::npos);
    EXPECT_NE(loaded.status().message().find(std::strerror(err)), std::string_view::npos);
  }
  // A failure reading the payload, after the header was read successfully.
  FaultyFileOps ops;
  ops.fail(Op::kPread, EIO, 1);
  internal::ScopedFileOps scope(&ops);
  EXPECT_EQ(load(path).status().code(), StatusCode::kIOError);
}

class FramedFileFaultTest : public ::testing::Test {
 protected:
  static constexpr internal::FrameSpec kSpec{"VPFAULT\1", 1, "test"};
  static Status save(const std::string& path, int numbers) {
    return internal::write_framed_file(path, kSpec, 1, [numbers](internal::Writer& w) {
      for (int i = 0; i < numbers; ++i) w.pod<int32_t>(i);
    });
  }
  TempDir dir_;
};

TEST_F(FramedFileFaultTest, DiskFullAfterSeveralBufferedWrites) {
  // 3 MiB of payload: several 1 MiB buffer flushes before the disk fills, the last one short.
  const std::string path = dir_.file("big");
  ASSERT_TRUE(save(path, 16).ok());
  const std::string good = slurp(path);
  FaultyFileOps ops;
  ops.disk_budget((uint64_t{5} << 19) + 123);
  internal::ScopedFileOps scope(&ops);
  Status s = save(path, 3 << 18);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("disk is full"), std::string_view::npos) << s.to_string();
  EXPECT_GE(ops.calls(Op::kWrite), 3);
  EXPECT_EQ(ops.short_transfers(), 1);
  EXPECT_EQ(ops.calls(Op::kUnlink), 1);
  EXPECT_EQ(dir_.temp_files(), 0u);
  EXPECT_EQ(slurp(path), good);
}

TEST_F(FramedFileFaultTest, DirectorySyncFailureIsReportedWithTheNewFileInPlace) {
  const std::string path = dir_.file("f");
  ASSERT_TRUE(save(path, 16).ok());
  FaultyFileOps ops;
  ops.fail(Op::kFsync, EIO, /*skip=*/1);  // the file's fsync succeeds, the directory's fails
  {
    internal::ScopedFileOps scope(&ops);
    Status s = save(path, 32);
    EXPECT_EQ(s.code(), StatusCode::kIOError);
    EXPECT_NE(s.message().find("fsync directory"), std::string_view::npos) << s.to_string();
    EXPECT_NE(s.message().find("new file is in place"), std::string_view::npos) << s.to_string();
  }
  EXPECT_EQ(ops.calls(Op::kFsync), 2);
  EXPECT_EQ(dir_.temp_files(), 0u);
  auto f = internal::read_framed_file(path, kSpec);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->payload.size(), 32 * sizeof(int32_t));
}

TEST_F(FramedFileFaultTest, UnremovableTemporaryFileIsNamedInTheError) {
  const std::string path = dir_.file("f");
  FaultyFileOps ops;
  ops.fail(Op::kFsync, EIO);
  ops.fail(Op::kUnlink, EPERM);
  Status s;
  {
    internal::ScopedFileOps scope(&ops);
    s = save(path, 16);
  }
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("could not be removed"), std::string_view::npos) << s.to_string();
  EXPECT_NE(s.message().find(".tmp-"), std::string_view::npos) << s.to_string();
  EXPECT_EQ(dir_.temp_files(), 1u);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(FramedFileFaultTest, SuccessfulSaveSyncsFileAndDirectoryAndRemovesNothing) {
  const std::string path = dir_.file("f");
  FaultyFileOps ops;
  {
    internal::ScopedFileOps scope(&ops);
    ASSERT_TRUE(save(path, 100).ok());
  }
  EXPECT_EQ(ops.calls(Op::kFsync), 2);  // the file, then its directory
  EXPECT_EQ(ops.calls(Op::kRename), 1);
  EXPECT_EQ(ops.calls(Op::kUnlink), 0);
  EXPECT_EQ(ops.calls(Op::kOpen), 2);
  EXPECT_EQ(ops.calls(Op::kClose), 2);
}

TEST_F(FramedFileFaultTest, DecodeFramedMatchesTheFileReader) {
  const std::string path = dir_.file("f");
  ASSERT_TRUE(save(path, 10).ok());
  std::string bytes = slurp(path);
  auto from_memory = internal::decode_framed(bytes.data(), bytes.size(), kSpec, "mem");
  ASSERT_TRUE(from_memory.ok()) << from_memory.status().to_string();
  auto from_file = internal::read_framed_file(path, kSpec);
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_memory->payload, from_file->payload);
  EXPECT_EQ(from_memory->kind, from_file->kind);
  bytes[internal::kFileHeaderSize + 3] ^= 0x10;
  auto damaged = internal::decode_framed(bytes.data(), bytes.size(), kSpec, "mem");
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  EXPECT_NE(damaged.status().message().find("'mem'"), std::string_view::npos);
  EXPECT_EQ(internal::decode_framed(bytes.data(), 12, kSpec, "mem").status().code(),
            StatusCode::kCorruption);
}

// The dataset writers stream through the same atomic writer as index files, so the same fault
// matrix applies (all but the header rewrite, which only framed files do).
TEST(DatasetWriteFaultTest, EveryFaultKeepsThePreviousFile) {
  TempDir dir;
  for (const char* name : {"base.fbin", "base.fvecs", "base.npy"}) {
    SCOPED_TRACE(name);
    const std::string path = dir.file(name);
    ASSERT_TRUE(write_vectors(path, testing::clustered(100, kDim, 1).view()).ok());
    const std::string good = slurp(path);
    const testing::Matrix other = testing::clustered(120, kDim, 2);
    for (const SaveFault& fault : save_faults()) {
      if (std::string(fault.name) == "header rewrite EIO") continue;
      SCOPED_TRACE(fault.name);
      FaultyFileOps ops;
      fault.arm(ops);
      Status s;
      {
        internal::ScopedFileOps scope(&ops);
        s = write_vectors(path, other.view());
      }
      EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
      EXPECT_NE(s.message().find(path), std::string_view::npos) << s.to_string();
      EXPECT_NE(s.message().find(fault.os_text), std::string_view::npos) << s.to_string();
      EXPECT_EQ(dir.temp_files(), 0u) << s.to_string();
      EXPECT_EQ(slurp(path), good);
    }
    // Short, interrupted writes still produce the complete file.
    FaultyFileOps ops;
    ops.max_chunk(5);
    ops.interrupt();
    {
      internal::ScopedFileOps scope(&ops);
      ASSERT_TRUE(write_vectors(path, other.view()).ok());
    }
    EXPECT_GT(ops.short_transfers(), 0);
    EXPECT_EQ(ops.calls(Op::kFsync), 2);  // the file, then its directory
    auto back = read_vectors(path);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(back->rows(), other.rows);
  }
}

}  // namespace
}  // namespace vecperf
