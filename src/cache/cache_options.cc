// The cache's options: one name table per enum (src/common/enum_names.h), read both ways by the
// name and parse functions and consulted by validate(), so that a value and its spelling are
// written once; and CacheOptions::validate, which checks every field once, at open, so that the
// tiers below may assume valid options. The first bad field is named in the error.
#include <string>

#include "common/enum_names.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace {

using internal::EnumName;

// Tiering and dtype keep the spellings the Python keywords have always taken.
constexpr EnumName<CacheTiering> kTieringNames[] = {
    {CacheTiering::kAuto, "auto"},
    {CacheTiering::kRamOnly, "ram_only"},
    {CacheTiering::kDiskOnly, "disk_only"},
    {CacheTiering::kRamOverDisk, "ram_over_disk"},
};
constexpr EnumName<CacheDtype> kDtypeNames[] = {
    {CacheDtype::kFloat32, "float32"},
    {CacheDtype::kFloat16, "float16"},
};
constexpr EnumName<CacheDurability> kDurabilityNames[] = {
    {CacheDurability::kProcessCrash, "process_crash"},
    {CacheDurability::kSyncEachWrite, "sync_each_write"},
};

}  // namespace

const char* cache_tiering_name(CacheTiering tiering) {
  return internal::enum_name<CacheTiering>(kTieringNames, tiering);
}

Result<CacheTiering> parse_cache_tiering(const std::string& name) {
  return internal::parse_enum<CacheTiering>(kTieringNames, name, "cache tiering");
}

const char* cache_dtype_name(CacheDtype dtype) {
  return internal::enum_name<CacheDtype>(kDtypeNames, dtype);
}

Result<CacheDtype> parse_cache_dtype(const std::string& name) {
  return internal::parse_enum<CacheDtype>(kDtypeNames, name, "cache dtype");
}

const char* cache_durability_name(CacheDurability durability) {
  return internal::enum_name<CacheDurability>(kDurabilityNames, durability);
}

Result<CacheDurability> parse_cache_durability(const std::string& name) {
  return internal::parse_enum<CacheDurability>(kDurabilityNames, name, "cache durability");
}

Status CacheOptions::validate() const {
  if (model.empty()) return Status::InvalidArgument("CacheOptions.model must not be empty");
  if (dim < 1 || dim > 65536) {
    return Status::InvalidArgument("CacheOptions.dim must be in 1..65536, got " +
                                   std::to_string(dim));
  }
  switch (tiering) {
    case CacheTiering::kAuto: break;
    case CacheTiering::kRamOnly:
      if (!path.empty()) {
        return Status::InvalidArgument("CacheOptions.path must be empty with tiering kRamOnly");
      }
      break;
    case CacheTiering::kDiskOnly:
    case CacheTiering::kRamOverDisk:
      if (path.empty()) {
        return Status::InvalidArgument("CacheOptions.path is required with a disk tier");
      }
      break;
    default: return Status::InvalidArgument("CacheOptions.tiering is not a known value");
  }
  if (ram_shards < 1 || ram_shards > 1024) {
    return Status::InvalidArgument("CacheOptions.ram_shards must be in 1..1024");
  }
  if (tiering != CacheTiering::kDiskOnly && ram_budget_bytes == 0) {
    return Status::InvalidArgument("CacheOptions.ram_budget_bytes must be > 0 with a RAM tier");
  }
  if (!internal::enum_known<CacheDtype>(kDtypeNames, dtype)) {
    return Status::InvalidArgument("CacheOptions.dtype is not a known value");
  }
  if (!internal::enum_known<CacheDurability>(kDurabilityNames, durability)) {
    return Status::InvalidArgument("CacheOptions.durability is not a known value");
  }
  if (disk_write_buffer_bytes < (uint64_t{1} << 16)) {
    return Status::InvalidArgument("CacheOptions.disk_write_buffer_bytes must be >= 64 KiB");
  }
  if (ttl_seconds < 0) return Status::InvalidArgument("CacheOptions.ttl_seconds must be >= 0");
  return Status::OK();
}

}  // namespace vecperf
