// Error paths of the embedding cache that the other cache tests leave out: every rejected
// CacheOptions field, null output buffers, and an embed function that throws.
#include <gtest/gtest.h>

#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "cache/cache_test_util.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace {

using testing::disk_options;
using testing::ram_options;
using testing::TempDir;

struct BadOptions {
  const char* field;  // must appear in the message
  std::function<void(CacheOptions*)> spoil;
};

TEST(CacheErrorPathsTest, EachBadOptionIsInvalidArgumentNamingTheField) {
  TempDir dir;
  const std::vector<BadOptions> cases = {
      {"path",
       [&](CacheOptions* o) {
         o->tiering = CacheTiering::kRamOnly;
         o->path = dir.path();
       }},
      {"path", [](CacheOptions* o) { o->tiering = CacheTiering::kDiskOnly; }},
      {"path", [](CacheOptions* o) { o->tiering = CacheTiering::kRamOverDisk; }},
      {"tiering", [](CacheOptions* o) { o->tiering = static_cast<CacheTiering>(42); }},
      {"ram_shards", [](CacheOptions* o) { o->ram_shards = 0; }},
      {"ram_shards", [](CacheOptions* o) { o->ram_shards = 1025; }},
      {"ram_budget_bytes", [](CacheOptions* o) { o->ram_budget_bytes = 0; }},
      {"dtype", [](CacheOptions* o) { o->dtype = static_cast<CacheDtype>(7); }},
      {"durability", [](CacheOptions* o) { o->durability = static_cast<CacheDurability>(9); }},
      {"disk_write_buffer_bytes", [](CacheOptions* o) { o->disk_write_buffer_bytes = 1024; }},
      {"ttl_seconds", [](CacheOptions* o) { o->ttl_seconds = -1; }},
  };
  for (const BadOptions& c : cases) {
    SCOPED_TRACE(c.field);
    CacheOptions o = ram_options();
    c.spoil(&o);
    Status s = o.validate();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.field), std::string_view::npos) << s.message();
    // open() refuses the same options with the same error, before touching the disk.
    Result<std::unique_ptr<EmbeddingCache>> opened = EmbeddingCache::open(o);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(opened.status().message(), s.message());
  }
}

TEST(CacheErrorPathsTest, DiskOnlyNeedsNoRamBudget) {
  TempDir dir;
  CacheOptions o = disk_options(dir.path());
  o.tiering = CacheTiering::kDiskOnly;
  o.ram_budget_bytes = 0;
  EXPECT_TRUE(o.validate().ok());
}

TEST(CacheErrorPathsTest, NullOutputBuffersAreInvalidArgument) {
  auto c = EmbeddingCache::open(ram_options());
  ASSERT_TRUE(c.ok());
  const std::vector<std::string_view> texts = {"a", "b"};
  std::vector<float> out(2 * 8);
  std::vector<uint8_t> found(2);
  EXPECT_EQ((*c)->get_many(texts, nullptr, found.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*c)->get_many(texts, out.data(), nullptr).code(), StatusCode::kInvalidArgument);
  // Nothing to write: null buffers are fine.
  EXPECT_TRUE((*c)->get_many({}, nullptr, nullptr).ok());
  const EmbedFn embed = [](std::span<const std::string_view> t, std::vector<float>* v) {
    v->assign(t.size() * 8, 0.5f);
    return Status::OK();
  };
  EXPECT_EQ((*c)->get_or_compute(texts, embed, 16, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*c)->get_or_compute(texts, EmbedFn(), 16, out.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*c)->stats().computed, 0u);
}

// A model client that throws must not take the process down nor leave the texts' flights open:
// the call reports the exception and a later call for the same texts computes them.
TEST(CacheErrorPathsTest, ThrowingEmbedFunctionIsReportedAndLeavesNothingBehind) {
  TempDir dir;
  auto c = EmbeddingCache::open(disk_options(dir.path()));
  ASSERT_TRUE(c.ok());
  const std::vector<std::string_view> texts = {"x", "y", "z"};
  std::vector<float> out(3 * 8);

  const EmbedFn throws = [](std::span<const std::string_view>, std::vector<float>*) -> Status {
    throw std::runtime_error("model server unreachable");
  };
  Status s = (*c)->get_or_compute(texts, throws, 2, out.data());
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("model server unreachable"), std::string_view::npos) << s.message();

  const EmbedFn out_of_memory = [](std::span<const std::string_view>,
                                   std::vector<float>*) -> Status { throw std::bad_alloc(); };
  EXPECT_EQ((*c)->get_or_compute(texts, out_of_memory, 2, out.data()).code(),
            StatusCode::kResourceExhausted);

  const EmbedFn throws_int = [](std::span<const std::string_view>, std::vector<float>*) -> Status {
    throw 42;
  };
  EXPECT_EQ((*c)->get_or_compute(texts, throws_int, 2, out.data()).code(), StatusCode::kInternal);

  // Nothing was cached, and the next caller is not left waiting on an abandoned flight.
  for (std::string_view t : texts) {
    auto got = (*c)->get(t);
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value()) << t;
  }
  const EmbedFn works = [](std::span<const std::string_view> t, std::vector<float>* v) {
    v->clear();
    for (std::string_view text : t) {
      const std::vector<float> row = testing::vector_for(text, 8);
      v->insert(v->end(), row.begin(), row.end());
    }
    return Status::OK();
  };
  ASSERT_TRUE((*c)->get_or_compute(texts, works, 2, out.data()).ok());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(std::vector<float>(out.begin() + i * 8, out.begin() + (i + 1) * 8),
              testing::vector_for(texts[i], 8));
  }
}

}  // namespace
}  // namespace vecperf
