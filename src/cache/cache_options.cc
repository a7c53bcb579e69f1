// CacheOptions::validate: every field checked once, at open, so that the tiers below may assume
// valid options. The first bad field is named in the error.
#include <string>

#include "vecperf/cache.h"

namespace vecperf {

Status CacheOptions::validate() const {
  if (model.empty()) return Status::InvalidArgument("CacheOptions.model must not be empty");
  if (dim < 1 || dim > 65536) {
    return Status::InvalidArgument("CacheOptions.dim must be in 1..65536, got " +
                                   std::to_string(dim));
  }
  switch (tiering) {
    case CacheTiering::kAuto:
      break;
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
    default:
      return Status::InvalidArgument("CacheOptions.tiering is not a known value");
  }
  if (ram_shards < 1 || ram_shards > 1024) {
    return Status::InvalidArgument("CacheOptions.ram_shards must be in 1..1024");
  }
  if (tiering != CacheTiering::kDiskOnly && ram_budget_bytes == 0) {
    return Status::InvalidArgument("CacheOptions.ram_budget_bytes must be > 0 with a RAM tier");
  }
  if (dtype != CacheDtype::kFloat32 && dtype != CacheDtype::kFloat16) {
    return Status::InvalidArgument("CacheOptions.dtype is not a known value");
  }
  if (durability != CacheDurability::kProcessCrash &&
      durability != CacheDurability::kSyncEachWrite) {
    return Status::InvalidArgument("CacheOptions.durability is not a known value");
  }
  if (disk_write_buffer_bytes < (uint64_t{1} << 16)) {
    return Status::InvalidArgument("CacheOptions.disk_write_buffer_bytes must be >= 64 KiB");
  }
  if (ttl_seconds < 0) return Status::InvalidArgument("CacheOptions.ttl_seconds must be >= 0");
  return Status::OK();
}

}  // namespace vecperf
