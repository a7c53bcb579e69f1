// What the index fuzz targets do with an index that loaded: every loaded index must behave like
// one built through the API. A violated expectation aborts, which libFuzzer reports as a crash
// and saves the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "build/index_payload.h"
#include "common/serialize.h"
#include "index/index_base.h"

namespace vecperf::fuzz {

[[noreturn]] inline void fail(const std::string& what, const Status& status = Status::OK()) {
  std::fprintf(stderr, "fuzz expectation failed: %s %s\n", what.c_str(),
               status.to_string().c_str());
  std::abort();
}

struct Answers {
  std::vector<int64_t> ids;
  std::vector<float> distances;
};

// Searches two fixed, non-zero queries (so cosine can normalise them) with k = 3.
inline Answers search(const Index& index) {
  const int64_t dim = index.dim();
  std::vector<float> queries(static_cast<size_t>(2 * dim));
  for (size_t i = 0; i < queries.size(); ++i) queries[i] = 0.25f + 0.125f * float(i % 7);
  SearchOptions options;
  options.k = 3;
  options.num_threads = 1;
  Answers a;
  a.ids.resize(6);
  a.distances.resize(6);
  const Status s = index.search(MatrixView{queries.data(), 2, dim}, options,
                                SearchResults{a.distances.data(), a.ids.data()});
  if (!s.ok()) fail("search of a loaded index failed:", s);
  for (int64_t id : a.ids) {
    if (id != kNoId && !index.contains(id)) fail("search returned an id the index does not hold");
  }
  return a;
}

// Serialises `index` and loads it again: what loaded once must load again and answer the same.
inline void round_trip(const internal::IndexImpl& index, const Answers& before) {
  internal::StringSink sink;
  internal::Writer w(&sink);
  index.write_payload(w);
  if (!w.status().ok()) fail("serialising a loaded index failed:", w.status());
  internal::Reader r(sink.bytes().data(), sink.bytes().size(), "round trip");
  auto again = internal::read_index_payload(index.kind(), r);
  if (!again.ok()) fail("a re-serialised index does not load:", again.status());
  if (r.remaining() != 0) fail("a re-serialised index has trailing bytes");
  if ((*again)->size() != index.size()) fail("a re-serialised index has another size");
  const Answers after = search(**again);
  if (after.ids != before.ids) fail("a re-serialised index answers differently");
}

// Adds one vector and removes it again. Only for the backends whose add never trains or
// migrates (IVF may run k-means, AutoIndex may rebuild), which would make inputs slow.
inline void add_and_remove(Index& index) {
  if (index.kind() != IndexKind::kFlat && index.kind() != IndexKind::kHnsw) return;
  const int64_t id = int64_t{1} << 61;
  if (index.contains(id)) return;
  std::vector<float> v(static_cast<size_t>(index.dim()), 0.5f);
  const int64_t ids[] = {id};
  Status s = index.add(ids, MatrixView{v.data(), 1, index.dim()});
  if (!s.ok()) fail("add to a loaded index failed:", s);
  search(index);
  s = index.remove(ids);
  if (!s.ok()) fail("remove from a loaded index failed:", s);
}

inline void exercise(internal::IndexImpl& index) {
  (void)index.memory_bytes();
  (void)index.describe();
  const Answers before = search(index);
  round_trip(index, before);
  add_and_remove(index);
}

}  // namespace vecperf::fuzz
