// Fault injection under the cache's RocksDB tier: a rocksdb::FileSystemWrapper fails appends
// (EIO), fills the disk (a partial append, then "no space") or fails syncs, and the cache must
// report the failure, lose nothing it acknowledged, keep serving hits, and recover as
// documented in disk_tier.h (by itself from a full disk, by a reopen after an EIO).
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache_test_util.h"
#include "cache/disk_tier.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace {

using testing::disk_options;
using testing::TempDir;
using testing::vector_for;

constexpr int64_t kDim = 16;

enum class Fault { kNone, kAppendEio, kDiskFull, kSyncEio };

class FaultyFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyFile(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<Fault>* fault)
      : FSWritableFileOwnerWrapper(std::move(file)), fault_(fault) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = before_append(data, options, dbg); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = before_append(data, options, dbg); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (*fault_ == Fault::kSyncEio) return rocksdb::IOStatus::IOError("injected fsync EIO");
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (*fault_ == Fault::kSyncEio) return rocksdb::IOStatus::IOError("injected fsync EIO");
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  // A full disk stores part of the data first, as write(2) does, so the WAL ends in a torn
  // record that recovery must skip.
  rocksdb::IOStatus before_append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                                  rocksdb::IODebugContext* dbg) {
    switch (fault_->load()) {
      case Fault::kAppendEio: return rocksdb::IOStatus::IOError("injected write EIO");
      case Fault::kDiskFull:
        FSWritableFileOwnerWrapper::Append(rocksdb::Slice(data.data(), data.size() / 2), options,
                                           dbg)
            .PermitUncheckedError();
        return rocksdb::IOStatus::NoSpace("injected ENOSPC");
      case Fault::kNone:
      case Fault::kSyncEio: break;
    }
    return rocksdb::IOStatus::OK();
  }

  const std::atomic<Fault>* fault_;
};

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "vecperf.test.FaultyFileSystem"; }
  void set(Fault fault) { fault_ = fault; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    if (fault_ == Fault::kAppendEio) return rocksdb::IOStatus::IOError("injected create EIO");
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, file, dbg);
    if (s.ok()) *file = std::make_unique<FaultyFile>(std::move(*file), &fault_);
    return s;
  }

 private:
  std::atomic<Fault> fault_{Fault::kNone};
};

std::string text(int i) { return "fault-text-" + std::to_string(i); }

class DiskFaultTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  DiskFaultTest()
      : fs_(std::make_shared<FaultyFileSystem>()), env_(rocksdb::NewCompositeEnv(fs_)) {}

  CacheOptions options(CacheDurability durability = CacheDurability::kProcessCrash) const {
    CacheOptions o = disk_options(dir_.path(), kDim);
    o.disk_max_entries = GetParam();
    o.durability = durability;
    return o;
  }
  // A cache whose disk is the faulty file system.
  std::unique_ptr<EmbeddingCache> open_faulty(CacheDurability durability) {
    internal::ScopedDiskEnvForTesting scope(env_.get());
    auto c = EmbeddingCache::open(options(durability));
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static Status put(EmbeddingCache& c, int i) {
    const std::string t = text(i);
    return c.put(t, vector_for(t, kDim));
  }
  static Status put_range(EmbeddingCache& c, int first, int n) {
    std::vector<std::string> texts;
    std::vector<float> rows;
    for (int i = first; i < first + n; ++i) {
      texts.push_back(text(i));
      const std::vector<float> v = vector_for(texts.back(), kDim);
      rows.insert(rows.end(), v.begin(), v.end());
    }
    return c.put_many(testing::views(texts), MatrixView{rows.data(), n, kDim});
  }
  // Every text in [first, first + n) is a hit with its exact vector.
  static void expect_hits(EmbeddingCache& c, int first, int n) {
    for (int i = first; i < first + n; ++i) {
      auto got = c.get(text(i));
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      ASSERT_TRUE(got->has_value()) << "acknowledged entry " << i << " lost";
      EXPECT_EQ(**got, vector_for(text(i), kDim)) << i;
    }
  }
  // Reopens on a healthy disk: every acknowledged entry is there, and an entry whose write was
  // refused is either absent or intact, never damaged.
  void check_after_reopen(int acknowledged, int refused_first, int refused_n) {
    auto c = EmbeddingCache::open(options());
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    expect_hits(**c, 0, acknowledged);
    for (int i = refused_first; i < refused_first + refused_n; ++i) {
      auto got = (*c)->get(text(i));
      ASSERT_TRUE(got.ok());
      if (got->has_value()) {
        EXPECT_EQ(**got, vector_for(text(i), kDim)) << i;
      }
    }
    EXPECT_EQ((*c)->stats().corrupt_records, 0u);
    EXPECT_TRUE(put(**c, 1000).ok());
  }

  TempDir dir_;
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

INSTANTIATE_TEST_SUITE_P(Capacity, DiskFaultTest, ::testing::Values(0, 10000),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                           return info.param == 0 ? std::string("Unbounded")
                                                  : std::string("Bounded");
                         });

TEST_P(DiskFaultTest, WriteErrorIsIoErrorAndNeedsAReopen) {
  {
    auto cache = open_faulty(CacheDurability::kProcessCrash);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(put_range(*cache, 0, 40).ok());
    ASSERT_TRUE(put(*cache, 40).ok());

    fs_->set(Fault::kAppendEio);
    const Status batch = put_range(*cache, 50, 10);
    EXPECT_EQ(batch.code(), StatusCode::kIOError) << batch.to_string();
    const Status single = put(*cache, 60);
    EXPECT_EQ(single.code(), StatusCode::kIOError) << single.to_string();
    EXPECT_NE(single.message().find("open it again"), std::string_view::npos) << single.to_string();

    // flush() must not reach RocksDB's SyncWAL on the failed WAL (it aborts the process).
    EXPECT_EQ(cache->flush().code(), StatusCode::kIOError);

    // Hits keep coming from RAM, and a refused write never reached RAM.
    const uint64_t ram_hits = cache->stats().ram.hits;
    expect_hits(*cache, 0, 41);
    EXPECT_EQ(cache->stats().ram.hits, ram_hits + 41);
    auto refused = cache->get(text(55));
    ASSERT_TRUE(refused.ok()) << refused.status().to_string();
    EXPECT_FALSE(refused->has_value());

    // get_or_compute stores before it answers, so it reports the storage error (documented in
    // docs/reliability.md); the model was still asked.
    int embedded = 0;
    const EmbedFn embed = [&](std::span<const std::string_view> texts, std::vector<float>* out) {
      embedded += static_cast<int>(texts.size());
      for (std::string_view t : texts) {
        const std::vector<float> v = vector_for(t, kDim);
        out->insert(out->end(), v.begin(), v.end());
      }
      return Status::OK();
    };
    const std::string_view fresh[] = {"never-seen-before"};
    std::vector<float> row(kDim);
    EXPECT_EQ(cache->get_or_compute(fresh, embed, 8, row.data()).code(), StatusCode::kIOError);
    EXPECT_EQ(embedded, 1);

    // RocksDB 7.8 does not resume after a plain EIO, even once the disk is healthy again.
    fs_->set(Fault::kNone);
    EXPECT_EQ(put(*cache, 61).code(), StatusCode::kIOError);
    expect_hits(*cache, 0, 41);
  }
  check_after_reopen(41, 50, 12);
}

TEST_P(DiskFaultTest, FullDiskIsResourceExhaustedAndWritesResumeWhenSpaceReturns) {
  {
    auto cache = open_faulty(CacheDurability::kProcessCrash);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(put_range(*cache, 0, 30).ok());

    fs_->set(Fault::kDiskFull);
    for (int i = 30; i < 33; ++i) {
      const Status s = put(*cache, i);
      EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
      EXPECT_NE(s.message().find("disk is full"), std::string_view::npos) << s.to_string();
    }
    expect_hits(*cache, 0, 30);

    // Space is back. RocksDB's own recovery of a full disk runs on a background thread, and
    // until it has finished Resume() answers "busy": retry (bounded) until a put goes through.
    fs_->set(Fault::kNone);
    Status s;
    for (int attempt = 0; attempt < 500; ++attempt) {
      s = put(*cache, 40);
      if (s.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_TRUE(put_range(*cache, 41, 9).ok());
    expect_hits(*cache, 40, 10);
  }
  check_after_reopen(30, 30, 3);
  auto c = EmbeddingCache::open(options());
  ASSERT_TRUE(c.ok());
  expect_hits(**c, 40, 10);  // written after the recovery, so acknowledged too
}

TEST_P(DiskFaultTest, SyncFailureWithSyncEachWriteIsIoError) {
  {
    auto cache = open_faulty(CacheDurability::kSyncEachWrite);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(put_range(*cache, 0, 20).ok());
    fs_->set(Fault::kSyncEio);
    EXPECT_EQ(put(*cache, 20).code(), StatusCode::kIOError);
    EXPECT_EQ(put_range(*cache, 21, 5).code(), StatusCode::kIOError);
    EXPECT_EQ(cache->flush().code(), StatusCode::kIOError);
    expect_hits(*cache, 0, 20);
    fs_->set(Fault::kNone);
  }
  check_after_reopen(20, 20, 6);
}

TEST_P(DiskFaultTest, OpeningOnAFailingDiskIsAnIoError) {
  fs_->set(Fault::kAppendEio);
  internal::ScopedDiskEnvForTesting scope(env_.get());
  auto c = EmbeddingCache::open(options());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIOError) << c.status().to_string();
  EXPECT_NE(c.status().message().find(dir_.path()), std::string_view::npos);
}

}  // namespace
}  // namespace vecperf
