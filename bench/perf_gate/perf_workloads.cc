// Fixed, repeatable workloads for the callgrind performance gate (bench/perf_gate/perf_gate.py;
// docs/perf-gate.md explains the gate).
//
// Each workload loads or builds its structures from fixed seeds, runs a short warm-up of the same
// operation (so first-use allocations and lazily built tables are not counted), then runs a fixed
// number of operations between callgrind client requests: under
// `valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no` the instruction count
// covers exactly those operations. Iteration counts are fixed, never time-based, and everything
// runs on the calling thread (num_threads = 1). After the counted part a digest of the results
// is printed: a changed digest means the workload now does different work, not the same work at
// another cost. Run natively, the client requests are no-ops and the program just does the work.
//
// The indexes are built by a separate native run (--prepare) and loaded by the workloads:
// valgrind runs each FMA instruction through a software helper, hundreds of times slower than
// the CPU, so k-means and graph construction under valgrind would take most of an hour. HNSW
// fixtures are built one vector per add call, so their graphs do not depend on thread timing.
//
// Usage:
//   vecperf_perf_workloads --list           one line per workload: name, critical|info, what
//   vecperf_perf_workloads --info           key=value facts the counts depend on
//   vecperf_perf_workloads --prepare DIR    builds and saves the index fixtures into DIR
//   vecperf_perf_workloads NAME DIR         runs one workload (index fixtures read from DIR);
//                                           prints workload=, ops=, digest=, kernels=
#include <dlfcn.h>
#include <gnu/libc-version.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/cache_key.h"
#include "distance/distance.h"
#include "index/topk.h"
#include "micro/fixtures.h"
#include "testing/testing.h"
#include "vecperf/cache.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

#ifdef VECPERF_WITH_CALLGRIND  // set by bench/CMakeLists.txt when the header is installed
#include <valgrind/callgrind.h>
#endif

namespace vecperf::bench {
namespace {

using testing::Matrix;

// Instrumentation is switched on only around the counted part: setup then runs several times
// faster under valgrind, and nothing outside the operations can leak into the count. Without
// the header (Debian package valgrind) the program still builds and runs, and --info says so.
#ifdef VECPERF_WITH_CALLGRIND
constexpr bool kHaveCallgrind = true;
void start_counting() {
  CALLGRIND_START_INSTRUMENTATION;
  CALLGRIND_TOGGLE_COLLECT;
}
void stop_counting() {
  CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_STOP_INSTRUMENTATION;
}
#else
constexpr bool kHaveCallgrind = false;
void start_counting() {}
void stop_counting() {}
#endif

// Sizes: large enough that each workload spends its count in the code it is named after, small
// enough that the whole gate stays within a few minutes under callgrind on two cores.
constexpr int64_t kDim = 128;
constexpr int kK = 10;
constexpr int64_t kCacheDim = 384;
constexpr uint64_t kBaseSeed = 1, kQuerySeed = 2, kExtraSeed = 3;

// One workload, ready to run: `run` performs `ops` operations and is the only counted part.
struct Measured {
  int64_t ops = 0;
  std::function<Status()> warmup;
  std::function<Status()> run;
  std::function<uint64_t()> digest;  // of what `run` produced; computed after counting stops
};

struct Workload {
  const char* name;
  bool critical;  // a regression fails the gate; informational ones are only reported
  const char* description;
  // Loads or builds what the workload needs; `data_dir` holds the --prepare fixtures.
  Result<Measured> (*setup)(const std::string& data_dir);
};

uint64_t mix(uint64_t h, uint64_t v) {
  // FNV-1a over the 8 bytes of v: order-sensitive, so a reordering of results shows too.
  for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
  return h;
}
constexpr uint64_t kDigestSeed = 0xcbf29ce484222325ULL;

uint64_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// ----------------------------------------------------------------------------------------------
// Index workloads: fixtures built by --prepare, loaded from the data directory.

// Adds the rows of `data` with ids first_id, first_id + 1, ... in calls of `batch` rows.
Status add_rows(Index* index, MatrixView data, int64_t first_id, int64_t batch) {
  const std::vector<int64_t> ids = testing::sequential_ids(data.rows, first_id);
  for (int64_t b = 0; b < data.rows; b += batch) {
    const int64_t n = std::min(batch, data.rows - b);
    VECPERF_RETURN_IF_ERROR(index->add(IdSpan(ids.data() + b, static_cast<size_t>(n)),
                                       MatrixView{data.row(b), n, data.dim}));
  }
  return Status::OK();
}

struct IndexFixture {
  const char* file;
  IndexKind kind;
  IvfEncoding encoding;
  int64_t size;
  int64_t add_batch;  // 1 for HNSW: one thread links the nodes, in id order
};
constexpr IndexFixture kFlatFixture{"flat.vpi", IndexKind::kFlat, IvfEncoding::kFlat, 10000, 10000};
constexpr IndexFixture kIvfFixture{"ivf_flat.vpi", IndexKind::kIvf, IvfEncoding::kFlat, 20000,
                                   20000};
constexpr IndexFixture kIvfSq8Fixture{"ivf_sq8.vpi", IndexKind::kIvf, IvfEncoding::kSQ8, 20000,
                                      20000};
constexpr IndexFixture kHnswFixture{"hnsw.vpi", IndexKind::kHnsw, IvfEncoding::kFlat, 10000, 1};
constexpr const IndexFixture* kIndexFixtures[] = {&kFlatFixture, &kIvfFixture, &kIvfSq8Fixture,
                                                  &kHnswFixture};
constexpr int kNlist = 128;
constexpr int kNprobe = 8;
constexpr int kEfSearch = 64;

std::string fixture_path(const std::string& dir, const IndexFixture& f) {
  return dir + "/" + f.file;
}

// Builds every fixture from seeded clustered data and saves it into `dir` (which must exist).
Status prepare(const std::string& dir) {
  for (const IndexFixture* f : kIndexFixtures) {
    IndexOptions o;
    o.kind = f->kind;
    o.dim = kDim;
    o.metric = Metric::kL2;
    o.ivf.nlist = kNlist;
    o.ivf.encoding = f->encoding;
    auto index = make_index(o);
    if (!index.ok()) return index.status();
    VECPERF_RETURN_IF_ERROR(add_rows(
        index->get(), testing::clustered(f->size, kDim, kBaseSeed).view(), 0, f->add_batch));
    VECPERF_RETURN_IF_ERROR((*index)->save(fixture_path(dir, *f)));
  }
  return Status::OK();
}

Result<std::shared_ptr<Index>> load_fixture(const std::string& dir, const IndexFixture& f) {
  const std::string path = fixture_path(dir, f);
  auto index = load(path);
  if (!index.ok()) {
    return Status(index.status().code(), std::string(index.status().message()) +
                                             " (make the fixtures with --prepare DIR first)");
  }
  if ((*index)->kind() != f.kind || (*index)->dim() != kDim || (*index)->size() != f.size) {
    return Status::InvalidArgument(path + " is not the fixture this program expects (" +
                                   (*index)->describe() + "); run --prepare again");
  }
  return std::shared_ptr<Index>(std::move(index).value());
}

// Searches `nq` seeded queries in calls of `batch` rows; the digest covers every result id.
Measured search_workload(std::shared_ptr<Index> index, SearchOptions options, int64_t nq,
                         int64_t batch) {
  options.k = kK;
  options.num_threads = 1;
  auto queries = std::make_shared<Matrix>(testing::clustered(nq, kDim, kQuerySeed));
  auto ids = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(nq * kK));
  auto dists = std::make_shared<std::vector<float>>(ids->size());
  auto search = [=](int64_t begin, int64_t end) -> Status {
    for (int64_t b = begin; b < end; b += batch) {
      const int64_t n = std::min(batch, end - b);
      VECPERF_RETURN_IF_ERROR(
          index->search(queries->slice(b, n), options,
                        SearchResults{dists->data() + b * kK, ids->data() + b * kK}));
    }
    return Status::OK();
  };
  Measured m;
  m.ops = nq;
  m.warmup = [=] { return search(0, std::min(nq, batch)); };
  m.run = [=] { return search(0, nq); };
  m.digest = [=] {
    uint64_t h = kDigestSeed;
    for (int64_t id : *ids) h = mix(h, static_cast<uint64_t>(id));
    return h;
  };
  return m;
}

Result<Measured> searches(const std::string& dir, const IndexFixture& f, SearchOptions options,
                          int64_t nq, int64_t batch) {
  auto index = load_fixture(dir, f);
  if (!index.ok()) return index.status();
  return search_workload(*index, options, nq, batch);
}

Result<Measured> flat_search_single(const std::string& dir) {
  return searches(dir, kFlatFixture, SearchOptions{}, 25, 1);
}
Result<Measured> flat_search_batch(const std::string& dir) {
  // 16 queries per call: the sgemm path (4 queries and more).
  return searches(dir, kFlatFixture, SearchOptions{}, 32, 16);
}
Result<Measured> ivf_search(const std::string& dir) {
  SearchOptions o;
  o.nprobe = kNprobe;
  return searches(dir, kIvfFixture, o, 200, 1);
}
Result<Measured> ivf_search_sq8(const std::string& dir) {
  SearchOptions o;
  o.nprobe = kNprobe;
  return searches(dir, kIvfSq8Fixture, o, 100, 1);
}
Result<Measured> hnsw_search(const std::string& dir) {
  SearchOptions o;
  o.ef_search = kEfSearch;
  return searches(dir, kHnswFixture, o, 200, 1);
}

Result<Measured> hnsw_insert(const std::string& dir) {
  auto loaded = load_fixture(dir, kHnswFixture);
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<Index> index = *loaded;
  constexpr int64_t kWarm = 5, kInserts = 100;
  const int64_t first_id = kHnswFixture.size;
  auto extra = std::make_shared<Matrix>(testing::clustered(kWarm + kInserts, kDim, kExtraSeed));
  Measured m;
  m.ops = kInserts;
  m.warmup = [=] { return add_rows(index.get(), extra->slice(0, kWarm), first_id, 1); };
  m.run = [=] { return add_rows(index.get(), extra->slice(kWarm, kInserts), first_id + kWarm, 1); };
  // The inserted nodes' links decide what a search finds: search for them.
  m.digest = [=] {
    SearchOptions o;
    o.k = kK;
    o.num_threads = 1;
    std::vector<int64_t> ids(static_cast<size_t>(extra->rows * kK));
    std::vector<float> dists(ids.size());
    uint64_t h = mix(kDigestSeed, static_cast<uint64_t>(index->size()));
    if (!index->search(extra->view(), o, SearchResults{dists.data(), ids.data()}).ok()) return h;
    for (int64_t id : ids) h = mix(h, static_cast<uint64_t>(id));
    return h;
  };
  return m;
}

// ----------------------------------------------------------------------------------------------
// Cache workloads: RAM tier only, 384-d float32 (a common sentence-embedding size).

constexpr int64_t kCacheEntries = 20000;

CacheOptions ram_cache_options() {
  CacheOptions o;
  o.model = "perf-model";
  o.model_version = "v1";
  o.dim = kCacheDim;
  o.tiering = CacheTiering::kRamOnly;
  return o;
}

struct CacheFixture {
  std::unique_ptr<EmbeddingCache> cache;
  std::vector<std::string> texts;
};

Result<std::shared_ptr<CacheFixture>> cache_fixture(const CacheOptions& options) {
  auto f = std::make_shared<CacheFixture>();
  f->texts = seeded_texts(kCacheEntries, 40, 400, kBaseSeed);
  auto cache =
      filled_cache(options, f->texts, testing::uniform(kCacheEntries, kCacheDim, kBaseSeed).data);
  if (!cache.ok()) return cache.status();
  f->cache = std::move(cache).value();
  return f;
}

// `lookups` hits in a seeded random order, in get_many calls of `batch` texts.
Result<Measured> cache_get(int64_t lookups, int64_t batch) {
  auto fixture = cache_fixture(ram_cache_options());
  if (!fixture.ok()) return fixture.status();
  std::shared_ptr<CacheFixture> f = *fixture;
  auto order = std::make_shared<std::vector<std::string_view>>();
  std::mt19937_64 rng(kQuerySeed);
  for (int64_t i = 0; i < lookups; ++i) order->push_back(f->texts[rng() % f->texts.size()]);
  auto found = std::make_shared<std::vector<uint8_t>>(order->size());
  auto out = std::make_shared<std::vector<float>>(order->size() * kCacheDim);
  auto get = [=](int64_t end) -> Status {
    for (int64_t b = 0; b < end; b += batch) {
      const size_t n = static_cast<size_t>(std::min(batch, end - b));
      VECPERF_RETURN_IF_ERROR(
          f->cache->get_many(std::span<const std::string_view>(order->data() + b, n),
                             out->data() + b * kCacheDim, found->data() + b));
    }
    return Status::OK();
  };
  Measured m;
  m.ops = lookups;
  m.warmup = [=] { return get(std::min<int64_t>(lookups, 2 * batch)); };
  m.run = [=] { return get(lookups); };
  m.digest = [=] {
    uint64_t h = kDigestSeed;
    for (size_t i = 0; i < found->size(); ++i)
      h = mix(mix(h, (*found)[i]), float_bits((*out)[i * kCacheDim]));
    return h;
  };
  return m;
}
Result<Measured> cache_get_ram_batch(const std::string&) { return cache_get(10000, 100); }
Result<Measured> cache_get_ram_single(const std::string&) { return cache_get(2000, 1); }

Result<Measured> cache_put_ram(const std::string&) {
  // A budget of exactly kCacheEntries entries: after the fill every put evicts (steady state).
  CacheOptions o = ram_cache_options();
  o.ram_budget_bytes = EmbeddingCache::ram_entry_bytes(kCacheDim, o.dtype) * kCacheEntries;
  auto fixture = cache_fixture(o);
  if (!fixture.ok()) return fixture.status();
  std::shared_ptr<CacheFixture> f = *fixture;
  constexpr int64_t kWarm = 200, kPuts = 5000, kBatch = 100;
  auto texts =
      std::make_shared<std::vector<std::string>>(seeded_texts(kWarm + kPuts, 40, 400, kExtraSeed));
  for (auto& t : *texts) t.insert(0, "new");  // distinct from the fill's texts
  auto vectors = std::make_shared<Matrix>(testing::uniform(kWarm + kPuts, kCacheDim, kExtraSeed));
  auto put = [=](int64_t begin, int64_t end) -> Status {
    for (int64_t b = begin; b < end; b += kBatch) {
      const int64_t n = std::min(kBatch, end - b);
      VECPERF_RETURN_IF_ERROR(
          f->cache->put_many(text_views(*texts, static_cast<size_t>(b), static_cast<size_t>(n)),
                             vectors->slice(b, n)));
    }
    return Status::OK();
  };
  Measured m;
  m.ops = kPuts;
  m.warmup = [=] { return put(0, kWarm); };
  m.run = [=] { return put(kWarm, kWarm + kPuts); };
  m.digest = [=] {
    const CacheStats s = f->cache->stats();
    return mix(mix(kDigestSeed, s.ram.entries), s.ram.evictions);
  };
  return m;
}

Result<Measured> cache_key_hash(const std::string&) {
  // 12..400-byte texts: XXH3's 17-128, 129-240 and >240-byte paths (the prefix adds 45 bytes).
  constexpr int64_t kTexts = 20000;
  auto texts =
      std::make_shared<std::vector<std::string>>(seeded_texts(kTexts, 12, 400, kQuerySeed));
  auto hasher = std::make_shared<internal::KeyHasher>("perf-model", "v1", kCacheDim);
  auto keys = std::make_shared<std::vector<CacheKey>>(texts->size());
  auto hash = [=](size_t end) {
    for (size_t i = 0; i < end; ++i) (*keys)[i] = (*hasher)((*texts)[i]);
    return Status::OK();
  };
  Measured m;
  m.ops = kTexts;
  m.warmup = [=] { return hash(100); };
  m.run = [=] { return hash(texts->size()); };
  m.digest = [=] {
    uint64_t h = kDigestSeed;
    for (const CacheKey& k : *keys) h = mix(mix(h, k.lo), k.hi);
    return h;
  };
  return m;
}

// ----------------------------------------------------------------------------------------------
// Top-k selection over a stream of seeded random distances, as a scan feeds it (blocks of 1024).

Result<Measured> topk(const std::string&) {
  constexpr int64_t kCandidates = int64_t{1} << 18, kBlock = 1024;
  constexpr int64_t kKs[] = {10, 100};
  auto dists =
      std::make_shared<std::vector<float>>(testing::uniform(1, kCandidates, kBaseSeed).data);
  auto labels = std::make_shared<std::vector<int64_t>>();
  auto select = [=](int64_t n) {
    labels->clear();
    for (int64_t k : kKs) {
      internal::TopK top(k);
      for (int64_t b = 0; b < n; b += kBlock)
        top.push_block(dists->data() + b, std::min(kBlock, n - b), b);
      std::vector<float> d(static_cast<size_t>(k));
      std::vector<int64_t> l(static_cast<size_t>(k));
      l.resize(static_cast<size_t>(top.extract(d.data(), l.data())));
      labels->insert(labels->end(), l.begin(), l.end());
    }
    return Status::OK();
  };
  Measured m;
  m.ops = kCandidates * static_cast<int64_t>(std::size(kKs));
  m.warmup = [=] { return select(4 * kBlock); };
  m.run = [=] { return select(kCandidates); };
  m.digest = [=] {
    uint64_t h = kDigestSeed;
    for (int64_t l : *labels) h = mix(h, static_cast<uint64_t>(l));
    return h;
  };
  return m;
}

// ----------------------------------------------------------------------------------------------

constexpr Workload kWorkloads[] = {
    {"flat_search_single", true, "flat L2, 10000 x 128: 25 queries one per call, k=10",
     flat_search_single},
    {"flat_search_batch", true, "flat L2, 10000 x 128: 2 calls of 16 queries (sgemm path), k=10",
     flat_search_batch},
    {"ivf_search", true, "IVF-Flat L2, 20000 x 128, nlist=128: 200 queries one per call, nprobe=8",
     ivf_search},
    {"ivf_search_sq8", false,
     "IVF-SQ8 (codes scored by FAISS), 20000 x 128, nlist=128: 100 queries, nprobe=8",
     ivf_search_sq8},
    {"hnsw_search", true, "HNSW M=16, 10000 x 128: 200 queries one per call, ef_search=64, k=10",
     hnsw_search},
    {"hnsw_insert", true, "HNSW M=16, ef_construction=200: 100 single-vector adds to 10000 x 128",
     hnsw_insert},
    {"cache_get_ram_batch", true, "RAM cache 384-d, 20000 entries: 10000 hits via get_many(100)",
     cache_get_ram_batch},
    {"cache_get_ram_single", true, "RAM cache 384-d, 20000 entries: 2000 hits via get_many(1)",
     cache_get_ram_single},
    {"cache_put_ram", true, "full RAM cache 384-d: 5000 new texts via put_many(100), each evicts",
     cache_put_ram},
    {"cache_key_hash", true, "KeyHasher over 20000 texts of 12..400 bytes", cache_key_hash},
    {"topk", true, "TopK k=10 and k=100 over 262144 random distances in blocks of 1024", topk},
};

std::string openblas_core() {
  // Looked up at run time: the BLAS in use is whatever the system's libblas.so.3 points to.
  using Fn = char* (*)();
  auto corename = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return corename != nullptr ? corename() : "not-openblas";
}

int print_info() {
  std::printf("callgrind_client_requests=%s\n", kHaveCallgrind ? "yes" : "no");
  std::printf("kernels=%s\n", internal::kernels().name);
  std::printf("compiler=gcc-%d.%d.%d\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
  std::printf("glibc=%s\n", gnu_get_libc_version());
  std::printf("openblas_core=%s\n", openblas_core().c_str());
  return 0;
}

int run_workload(const Workload& w, const std::string& data_dir) {
  auto fail = [&](const char* stage, const Status& s) {
    std::fprintf(stderr, "workload %s: %s failed: %s\n", w.name, stage, s.to_string().c_str());
    return 1;
  };
  Result<Measured> m = w.setup(data_dir);
  if (!m.ok()) return fail("setup", m.status());
  if (Status s = m->warmup(); !s.ok()) return fail("warm-up", s);
  start_counting();
  Status s = m->run();
  stop_counting();
  if (!s.ok()) return fail("run", s);
  std::printf("workload=%s ops=%lld digest=%016llx kernels=%s\n", w.name,
              static_cast<long long>(m->ops), static_cast<unsigned long long>(m->digest()),
              internal::kernels().name);
  return 0;
}

int usage(const std::string& problem) {
  std::fprintf(stderr,
               "%s\nusage: vecperf_perf_workloads --list | --info | --prepare DIR | NAME DIR\n",
               problem.c_str());
  return 2;
}

int main_impl(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--list") {
    for (const Workload& w : kWorkloads)
      std::printf("%s\t%s\t%s\n", w.name, w.critical ? "critical" : "info", w.description);
    return 0;
  }
  if (args.size() == 1 && args[0] == "--info") return print_info();
  if (args.size() == 2 && args[0] == "--prepare") {
    std::error_code ec;
    std::filesystem::create_directories(args[1], ec);
    if (ec) return usage("cannot create " + args[1] + ": " + ec.message());
    if (Status s = prepare(args[1]); !s.ok()) {
      std::fprintf(stderr, "preparing fixtures in %s failed: %s\n", args[1].c_str(),
                   s.to_string().c_str());
      return 1;
    }
    return 0;
  }
  if (args.size() != 2) return usage("wrong arguments");
  for (const Workload& w : kWorkloads)
    if (args[0] == w.name) return run_workload(w, args[1]);
  return usage("unknown workload '" + args[0] + "'; --list shows the names");
}

}  // namespace
}  // namespace vecperf::bench

int main(int argc, char** argv) { return vecperf::bench::main_impl(argc, argv); }
