// Names of the cache enums: every value round-trips through its name, the spellings are the ones
// Python and the benchmarks already accept, and an unknown name is refused with the choices.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vecperf/cache.h"

namespace vecperf {
namespace {

// An unknown name is kInvalidArgument, and the message quotes it and lists every accepted name.
template <typename E>
void expect_refused(const Result<E>& parsed, const std::string& name,
                    const std::vector<std::string>& accepted) {
  ASSERT_FALSE(parsed.ok()) << name;
  const Status& s = parsed.status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("'" + name + "'"), std::string_view::npos) << s.to_string();
  for (const std::string& a : accepted) {
    EXPECT_NE(s.message().find(a), std::string_view::npos) << a << " in " << s.to_string();
  }
}

TEST(CacheEnumNamesTest, TieringRoundTrips) {
  const std::vector<std::pair<CacheTiering, std::string>> all = {
      {CacheTiering::kAuto, "auto"},
      {CacheTiering::kRamOnly, "ram_only"},
      {CacheTiering::kDiskOnly, "disk_only"},
      {CacheTiering::kRamOverDisk, "ram_over_disk"},
  };
  std::vector<std::string> names;
  for (const auto& [value, name] : all) {
    EXPECT_EQ(cache_tiering_name(value), name);
    Result<CacheTiering> parsed = parse_cache_tiering(cache_tiering_name(value));
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(*parsed, value) << name;
    names.push_back(name);
  }
  expect_refused(parse_cache_tiering("tape"), "tape", names);
  expect_refused(parse_cache_tiering("RAM_ONLY"), "RAM_ONLY", names);  // names are exact
  expect_refused(parse_cache_tiering(""), "", names);
  EXPECT_STREQ(cache_tiering_name(static_cast<CacheTiering>(42)), "unknown");
}

TEST(CacheEnumNamesTest, DtypeRoundTrips) {
  const std::vector<std::pair<CacheDtype, std::string>> all = {
      {CacheDtype::kFloat32, "float32"},
      {CacheDtype::kFloat16, "float16"},
  };
  std::vector<std::string> names;
  for (const auto& [value, name] : all) {
    EXPECT_EQ(cache_dtype_name(value), name);
    Result<CacheDtype> parsed = parse_cache_dtype(cache_dtype_name(value));
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(*parsed, value) << name;
    names.push_back(name);
  }
  expect_refused(parse_cache_dtype("int8"), "int8", names);
  expect_refused(parse_cache_dtype("f2"), "f2", names);  // numpy aliases are Python's business
  EXPECT_STREQ(cache_dtype_name(static_cast<CacheDtype>(7)), "unknown");
}

TEST(CacheEnumNamesTest, DurabilityRoundTrips) {
  const std::vector<std::pair<CacheDurability, std::string>> all = {
      {CacheDurability::kProcessCrash, "process_crash"},
      {CacheDurability::kSyncEachWrite, "sync_each_write"},
  };
  std::vector<std::string> names;
  for (const auto& [value, name] : all) {
    EXPECT_EQ(cache_durability_name(value), name);
    Result<CacheDurability> parsed = parse_cache_durability(cache_durability_name(value));
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(*parsed, value) << name;
    names.push_back(name);
  }
  expect_refused(parse_cache_durability("fsync"), "fsync", names);
  EXPECT_STREQ(cache_durability_name(static_cast<CacheDurability>(9)), "unknown");
}

// validate() accepts exactly the values the name tables list.
TEST(CacheEnumNamesTest, ValidateAcceptsEveryNamedValue) {
  for (const char* name : {"float32", "float16"}) {
    CacheOptions o;
    o.model = "m";
    o.dim = 4;
    o.dtype = *parse_cache_dtype(name);
    EXPECT_TRUE(o.validate().ok()) << name;
  }
  for (const char* name : {"process_crash", "sync_each_write"}) {
    CacheOptions o;
    o.model = "m";
    o.dim = 4;
    o.durability = *parse_cache_durability(name);
    EXPECT_TRUE(o.validate().ok()) << name;
  }
}

}  // namespace
}  // namespace vecperf
