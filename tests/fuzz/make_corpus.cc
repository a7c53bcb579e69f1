// Writes the seed corpora of the fuzz targets: small valid inputs of every kind, so that the
// fuzzers start from the real formats instead of discovering them byte by byte.
//
//   vecperf_fuzz_corpus <corpus dir>
//
// writes <dir>/index_payload/ (kind byte + payload), <dir>/index_file/ (whole index files),
// <dir>/cache_record/, <dir>/json/ and <dir>/dataset/ (format byte, row-range byte, file).
// Files of the same name are replaced; other files (the regression inputs that found bugs) are
// left alone. Everything is seeded: the output is the same on every run.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/record.h"
#include "common/file_io.h"
#include "common/serialize.h"
#include "index/index_base.h"
#include "index/index_format.h"
#include "vecperf/cache.h"
#include "vecperf/dataset.h"
#include "vecperf/index.h"
#include "vecperf/tuning.h"

namespace {

namespace fs = std::filesystem;
using namespace vecperf;

fs::path g_root;

void put_file(const std::string& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_root / dir);
  std::ofstream out(g_root / dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

// Deterministic values in [-1, 1).
std::vector<float> values(int64_t n, int64_t dim, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n * dim));
  uint32_t x = seed * 2654435761u + 1;
  for (float& f : v) {
    x = x * 1664525u + 1013904223u;
    f = static_cast<float>(x >> 8) / float(1 << 23) - 1.0f;
  }
  return v;
}

void check(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  std::exit(1);
}

// The bytes of a file written by `write` to a temporary path with the given extension.
std::string file_bytes(const std::string& ext,
                       const std::function<Status(const std::string&)>& write) {
  const fs::path tmp =
      fs::temp_directory_path() / ("vecperf_corpus_" + std::to_string(::getpid()) + "." + ext);
  check(write(tmp.string()), ext.c_str());
  std::ifstream in(tmp, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  fs::remove(tmp);
  return bytes;
}

// Builds an index of `n` vectors (ids 0..n-1, minus `removed`), then writes its payload and its
// file under `name`.
void index_seed(const std::string& name, const IndexOptions& options, int64_t n,
                std::vector<int64_t> removed = {}) {
  auto made = make_index(options);
  if (!made.ok()) check(made.status(), name.c_str());
  Index& index = **made;
  const std::vector<float> v = values(n, options.dim, static_cast<uint32_t>(name.size() * 31 + n));
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i * 3 + 1;
  if (n > 0) check(index.add(ids, MatrixView{v.data(), n, options.dim}), name.c_str());
  if (!removed.empty()) check(index.remove(removed), name.c_str());

  // The payload is the file's frame contents: to_bytes() decoded, so that the seeds need no
  // access to the backend behind the index make_index() returned.
  auto bytes = index.to_bytes();
  if (!bytes.ok()) check(bytes.status(), name.c_str());
  auto frame = internal::decode_framed(bytes->data(), bytes->size(), internal::kIndexFrame, name);
  if (!frame.ok()) check(frame.status(), name.c_str());
  put_file("index_payload", name,
           std::string(1, static_cast<char>(options.kind)) +
               std::string(frame->payload.begin(), frame->payload.end()));

  put_file("index_file", name,
           file_bytes("vpi", [&](const std::string& path) { return index.save(path); }));
}

IndexOptions options(IndexKind kind, int64_t dim, Metric metric) {
  IndexOptions o;
  o.kind = kind;
  o.dim = dim;
  o.metric = metric;
  o.hnsw.M = 4;
  o.hnsw.ef_construction = 16;
  o.ivf.nlist = 1;
  o.ivf.train_threshold = 40;  // k-means needs 39 points per list
  o.ivf.max_train_samples = 40;
  return o;
}

void index_seeds() {
  index_seed("flat_empty", options(IndexKind::kFlat, 3, Metric::kL2), 0);
  index_seed("flat_l2", options(IndexKind::kFlat, 3, Metric::kL2), 5);
  index_seed("flat_cosine", options(IndexKind::kFlat, 2, Metric::kCosine), 4, {4});
  index_seed("ivf_buffer", options(IndexKind::kIvf, 2, Metric::kL2), 5);
  IndexOptions pq = options(IndexKind::kIvf, 4, Metric::kInnerProduct);
  pq.ivf.encoding = IvfEncoding::kPQ;
  pq.ivf.pq_m = 2;
  index_seed("ivf_pq_buffer", pq, 3);
  index_seed("ivf_flat_trained", options(IndexKind::kIvf, 2, Metric::kL2), 40, {7});
  IndexOptions sq8 = options(IndexKind::kIvf, 2, Metric::kInnerProduct);
  sq8.ivf.encoding = IvfEncoding::kSQ8;
  index_seed("ivf_sq8_trained", sq8, 40);
  IndexOptions sq4 = options(IndexKind::kIvf, 3, Metric::kCosine);
  sq4.ivf.encoding = IvfEncoding::kSQ4;
  sq4.ivf.rerank = 4;  // keeps the float vectors for re-ranking
  index_seed("ivf_sq4_rerank", sq4, 40);
  index_seed("hnsw_empty", options(IndexKind::kHnsw, 2, Metric::kL2), 0);
  index_seed("hnsw_l2", options(IndexKind::kHnsw, 2, Metric::kL2), 12, {4});
  index_seed("hnsw_ip", options(IndexKind::kHnsw, 3, Metric::kInnerProduct), 6);
  IndexOptions a = options(IndexKind::kAuto, 2, Metric::kL2);
  a.auto_index.flat_max = 3;
  a.auto_index.ivf_max = 5;
  a.auto_index.hnsw.M = 4;
  a.auto_index.hnsw.ef_construction = 16;
  index_seed("auto_flat", a, 2);
  index_seed("auto_hnsw", a, 7);
}

void record_seed(const std::string& name, CacheDtype dtype, uint32_t dim, int64_t expires_at) {
  internal::RecordHeader h;
  h.dtype = static_cast<uint8_t>(dtype);
  h.dim = dim;
  h.model_hash = 0x0123456789abcdefull;
  h.created_at = 1700000000;
  h.expires_at = expires_at;
  h.seq = 42;
  const size_t bytes = dim * internal::dtype_bytes(h.dtype);
  const std::vector<float> v = values(1, (bytes + 3) / 4, dim);
  std::string out;
  internal::encode_record(h, v.data(), bytes, &out);
  put_file("cache_record", name, out);
}

void json_seeds() {
  put_file("json", "scalars",
           R"([null, true, false, 0, -0.5, 1e300, 123456789012,)"
           R"( "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"])");
  put_file("json", "nested", R"({"a": {"b": [[], {}, [1, [2, [3]]]]}, "c": "\u0000x"})");
  TuningResult r;
  r.kind = IndexKind::kHnsw;
  r.knob = "ef_search";
  r.value = 48;
  r.min_value = 10;
  r.max_value = 4096;
  r.search_options.k = 10;
  r.search_options.ef_search = 48;
  r.target_recall = 0.95;
  r.recall = 0.957;
  r.sample_size = 1000;
  r.evaluations = 9;
  r.latency_queries = 200;
  r.latency_p50_ms = 0.21;
  r.latency_p99_ms = 0.5;
  r.batch_qps = 12345.5;
  r.seconds = 1.25;
  put_file("json", "profile_hnsw", r.to_json());
  TuningResult flat;
  flat.message = "searches are exact: nothing to tune";
  put_file("json", "profile_flat", flat.to_json());
}

// The dataset fuzzer's first byte: the position of the format in its table.
enum DatasetSeedFormat : char { kFvecs, kIvecs, kBvecs, kFbin, kIbin, kU8bin, kNpy };

void dataset_seeds() {
  const std::vector<float> v = values(3, 4, 7);
  const MatrixView m{v.data(), 3, 4};
  std::vector<float> bytes(12);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<float>(i * 20);
  const MatrixView u8{bytes.data(), 3, 4};
  auto ids = IntMatrix::from_vector(std::vector<int32_t>{0, 2, 1, 1, 0, 2}, 3, 2);
  auto ids64 = IntMatrix::from_vector(std::vector<int64_t>{5, -1, 7, 3, 2, 1}, 3, 2);
  if (!ids.ok() || !ids64.ok()) check(Status::Internal("id matrix"), "dataset");
  const struct {
    const char* name;
    char format;
    const char* ext;
    std::function<Status(const std::string&)> write;
  } seeds[] = {
      {"fvecs", kFvecs, "fvecs", [&](const std::string& p) { return write_vectors(p, m); }},
      {"fbin", kFbin, "fbin", [&](const std::string& p) { return write_vectors(p, m); }},
      {"npy_f32", kNpy, "npy", [&](const std::string& p) { return write_vectors(p, m); }},
      {"bvecs", kBvecs, "bvecs", [&](const std::string& p) { return write_vectors(p, u8); }},
      {"u8bin", kU8bin, "u8bin", [&](const std::string& p) { return write_vectors(p, u8); }},
      {"ivecs", kIvecs, "ivecs", [&](const std::string& p) { return write_neighbors(p, *ids); }},
      {"ibin", kIbin, "ibin", [&](const std::string& p) { return write_neighbors(p, *ids); }},
      {"npy_i64", kNpy, "npy", [&](const std::string& p) { return write_neighbors(p, *ids64); }},
  };
  for (const auto& seed : seeds) {
    // Row-range byte 0x21: from row 1, at most 2 rows.
    put_file("dataset", seed.name,
             std::string{seed.format, 0x21} + file_bytes(seed.ext, seed.write));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  index_seeds();
  record_seed("f32_dim4", CacheDtype::kFloat32, 4, 0);
  record_seed("f16_dim3_ttl", CacheDtype::kFloat16, 3, 1700003600);
  record_seed("f32_dim0", CacheDtype::kFloat32, 0, 0);
  json_seeds();
  dataset_seeds();
  return 0;
}
