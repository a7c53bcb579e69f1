// External id <-> internal slot map shared by every backend.
//
// Backends address vectors by dense "slots" (row numbers, graph node ids, FAISS labels); callers
// use arbitrary non-negative 64-bit ids. Slots are appended in add order. A backend that deletes
// by tombstone leaves the slot dead (kNoId); one that compacts moves the last slot into the hole
// with move_last_into() and pops it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <unordered_map>
#include <vector>

#include "common/serialize.h"
#include "vecperf/types.h"

namespace vecperf::internal {

class IdMap {
 public:
  int64_t live() const { return static_cast<int64_t>(slot_of_.size()); }
  int64_t slots() const { return static_cast<int64_t>(id_of_.size()); }
  bool contains(int64_t id) const { return slot_of_.count(id) != 0; }
  /// Slot of `id`, or -1.
  int64_t slot(int64_t id) const {
    auto it = slot_of_.find(id);
    return it == slot_of_.end() ? -1 : it->second;
  }
  /// Id stored in `slot`, or kNoId for a dead slot.
  int64_t id(int64_t slot) const { return id_of_[static_cast<size_t>(slot)]; }

  /// Appends slots for `ids`; returns the first new slot. Requires: ids are new and distinct.
  int64_t append(IdSpan ids) {
    int64_t first = slots();
    // Grow geometrically: reserving exactly size + n on every call rehashes on every small
    // append (streaming one id at a time would rehash each time).
    const size_t needed = slot_of_.size() + ids.size();
    if (static_cast<float>(needed) > slot_of_.bucket_count() * slot_of_.max_load_factor())
      slot_of_.reserve(std::max(needed, 2 * slot_of_.size()));
    for (int64_t id : ids) {
      slot_of_.emplace(id, static_cast<int64_t>(id_of_.size()));
      id_of_.push_back(id);
    }
    return first;
  }
  /// Drops every slot from `first` on (undoes a failed append).
  void truncate(int64_t first) {
    while (slots() > first) {
      int64_t id = id_of_.back();
      if (id != kNoId) slot_of_.erase(id);
      id_of_.pop_back();
    }
  }
  /// Marks the slot of `id` dead (tombstone) and returns it. Requires: contains(id).
  int64_t kill(int64_t id) {
    auto it = slot_of_.find(id);
    int64_t s = it->second;
    slot_of_.erase(it);
    id_of_[static_cast<size_t>(s)] = kNoId;
    return s;
  }
  /// Moves the id of the last slot into dead slot `hole` and pops the last slot
  /// (for backends that keep their storage dense).
  void move_last_into(int64_t hole) {
    int64_t last = slots() - 1;
    int64_t id = id_of_.back();
    id_of_.pop_back();
    if (hole == last) return;
    id_of_[static_cast<size_t>(hole)] = id;
    if (id != kNoId) slot_of_[id] = hole;
  }

  /// The renumbering compact() applies, for backends that must move their storage first:
  /// element s is the old slot whose id new slot s holds afterwards.
  std::vector<int64_t> compaction_sources() const {
    std::vector<int64_t> src(id_of_.size());
    std::iota(src.begin(), src.end(), int64_t{0});
    // Same order as compact(): every slot above s is live by the time s is filled.
    for (int64_t s = slots() - 1; s >= 0; --s) {
      if (id(s) != kNoId) continue;
      src[static_cast<size_t>(s)] = src.back();
      src.pop_back();
    }
    return src;
  }

  /// Drops every dead slot: highest hole first, the last slot moves into it (move_last_into),
  /// then frees the capacity they held. Cannot fail: if the smaller buffer cannot be allocated,
  /// libstdc++'s shrink_to_fit keeps the old one.
  void compact() {
    for (int64_t s = slots() - 1; s >= 0; --s)
      if (id(s) == kNoId) move_last_into(s);
    id_of_.shrink_to_fit();
  }

  size_t memory_bytes() const {
    // unordered_map: a node (key, value, next pointer, cached hash) plus a bucket pointer.
    return id_of_.capacity() * sizeof(int64_t) + slot_of_.size() * (4 * sizeof(int64_t)) +
           slot_of_.bucket_count() * sizeof(void*);
  }

  void save(Writer& w) const { w.vec(id_of_); }
  bool load(Reader& r) {
    if (!r.vec(&id_of_, "id map")) return false;
    slot_of_.clear();
    slot_of_.reserve(id_of_.size());
    for (size_t s = 0; s < id_of_.size(); ++s) {
      int64_t id = id_of_[s];
      if (id == kNoId) continue;
      if (id < 0) return r.corrupt("negative id in id map");
      if (!slot_of_.emplace(id, static_cast<int64_t>(s)).second)
        return r.corrupt("id " + std::to_string(id) + " appears twice in id map");
    }
    return true;
  }

 private:
  std::unordered_map<int64_t, int64_t> slot_of_;
  std::vector<int64_t> id_of_;
};

}  // namespace vecperf::internal
