// vecperf HNSW vs hnswlib 0.6.2: same process, same data, same graph parameters.
//
// Peers: hnswlib compiled with the generic flags Debian ships it with (SSE kernels), and
// hnswlib compiled with -march=native (AVX-512 kernels on a CPU that has them); each copy lives
// in its own translation unit (hnsw_peer.cc). All three build with M=16, ef_construction=200,
// seed 100 (hnswlib: --threads insertion threads; vecperf's add uses every hardware thread,
// which is 2 on the reference machine, the default of --threads), then for each ef_search:
//  - recall@10 against exact search;
//  - QPS one query per call on 1 thread (vecperf: Index::search with num_threads=1; hnswlib:
//    searchKnn);
//  - QPS of the whole query batch on --threads threads (vecperf: one Index::search call;
//    hnswlib: the queries split over that many threads calling searchKnn, as its Python
//    binding does).
// Ratios are vecperf over the peer (>1: vecperf faster). Every time is the median of --repeats
// runs; build times too (each run builds a fresh index). The engines take turns run by run, so
// that outside load on a shared machine hits them alike.
//
// Flags: --datasets=clustered,wide (clustered: --n x --dim, default 200000 x 128, clustered
// data from testing::clustered; wide: 60000 x 784) --queries=1000 --efs=64,128,256
// --threads=2 --repeats=3
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/bench_common.h"
#include "hnsw_peer.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::bench {
namespace {

using testing::Matrix;

constexpr int kK = 10;
constexpr int kM = 16;
constexpr int kEfConstruction = 200;
constexpr uint64_t kSeed = 100;  // hnswlib's default random_seed

struct Config {
  int threads = 2;
  int repeats = 3;
  std::vector<int> efs;
};

struct Figures {
  std::string name;
  std::string detail;
  double build_s = 0;
  std::vector<double> recall, qps_single, qps_single_cpu, qps_batch;
};

// What an engine must offer the measuring loops.
struct Engine {
  std::function<void()> build;          // builds a fresh index over the base vectors
  std::function<void(int ef)> prepare;  // before the measurements of one ef
  std::function<void(int ef, const float* q, int64_t* labels)> search_one;
  std::function<void(int ef, const Matrix& q, int64_t* labels)> search_batch;
  std::function<std::string()> detail;
};

// CPU time of the calling thread: single-query figures by CPU time are much less disturbed by
// other processes than wall time when the machine is shared.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Runs the engines' measurements interleaved (round r of every engine before round r + 1 of
// any), so that load from elsewhere on a shared machine spreads over all of them alike.
std::vector<Figures> measure(std::vector<std::pair<std::string, Engine>>& engines,
                             const Matrix& queries, const std::vector<int64_t>& truth,
                             const Config& c) {
  const size_t ne = engines.size();
  std::vector<Figures> f(ne);
  std::vector<std::vector<double>> t(ne);
  for (int r = 0; r < c.repeats; ++r) {
    for (size_t e = 0; e < ne; ++e) {
      std::printf("  build %d/%d %s...\n", r + 1, c.repeats, engines[e].first.c_str());
      std::fflush(stdout);
      const double start = now_seconds();
      engines[e].second.build();
      t[e].push_back(now_seconds() - start);
    }
  }
  for (size_t e = 0; e < ne; ++e) {
    f[e].name = engines[e].first;
    f[e].build_s = median(t[e]);
    f[e].detail = engines[e].second.detail();
  }
  std::vector<int64_t> labels(static_cast<size_t>(queries.rows * kK));
  for (int ef : c.efs) {
    std::vector<std::vector<double>> single(ne), single_cpu(ne), batch(ne);
    for (size_t e = 0; e < ne; ++e) {
      Engine& en = engines[e].second;
      en.prepare(ef);
      en.search_batch(ef, queries, labels.data());
      f[e].recall.push_back(testing::recall_at_k(labels, truth, queries.rows, kK));
    }
    for (int r = 0; r < c.repeats; ++r) {
      for (size_t e = 0; e < ne; ++e) {
        Engine& en = engines[e].second;
        en.prepare(ef);
        double start = now_seconds();
        const double cpu_start = thread_cpu_seconds();
        for (int64_t i = 0; i < queries.rows; ++i)
          en.search_one(ef, queries.row(i), &labels[i * kK]);
        single_cpu[e].push_back(thread_cpu_seconds() - cpu_start);
        single[e].push_back(now_seconds() - start);
        start = now_seconds();
        en.search_batch(ef, queries, labels.data());
        batch[e].push_back(now_seconds() - start);
      }
    }
    for (size_t e = 0; e < ne; ++e) {
      f[e].qps_single.push_back(double(queries.rows) / median(single[e]));
      f[e].qps_single_cpu.push_back(double(queries.rows) / median(single_cpu[e]));
      f[e].qps_batch.push_back(double(queries.rows) / median(batch[e]));
    }
  }
  return f;
}

Engine vecperf_engine(const Matrix& base, const Config& c, std::unique_ptr<Index>& index) {
  Engine e;
  e.build = [&base, &index] {
    IndexOptions o;
    o.kind = IndexKind::kHnsw;
    o.dim = base.dim;
    o.metric = Metric::kL2;
    o.hnsw.M = kM;
    o.hnsw.ef_construction = kEfConstruction;
    o.hnsw.seed = kSeed;
    index.reset();
    auto made = make_index(o);
    if (!made.ok() || !(*made)->add(testing::sequential_ids(base.rows), base.view()).ok()) {
      std::fprintf(stderr, "vecperf build failed\n");
      std::exit(1);
    }
    index = std::move(*made);
  };
  e.prepare = [](int) {};
  auto run = [&index](int ef, MatrixView q, int threads, int64_t* labels) {
    SearchOptions o;
    o.k = kK;
    o.ef_search = ef;
    o.num_threads = threads;
    thread_local std::vector<float> dists;
    dists.resize(static_cast<size_t>(q.rows * kK));
    if (!index->search(q, o, SearchResults{dists.data(), labels}).ok()) std::exit(1);
  };
  e.search_one = [run, &base](int ef, const float* q, int64_t* labels) {
    run(ef, MatrixView{q, 1, base.dim}, 1, labels);
  };
  e.search_batch = [run, &c](int ef, const Matrix& q, int64_t* labels) {
    run(ef, q.view(), c.threads, labels);
  };
  e.detail = [&index] { return index->describe(); };
  return e;
}

Engine peer_engine(const Matrix& base, const Config& c, std::unique_ptr<HnswPeer>& peer,
                   std::function<std::unique_ptr<HnswPeer>()> make) {
  Engine e;
  e.build = [&base, &c, &peer, make] {
    peer.reset();
    peer = make();
    peer->build(base.data.data(), base.rows, c.threads);
  };
  e.prepare = [&peer](int ef) { peer->set_ef(ef); };
  e.search_one = [&peer](int, const float* q, int64_t* labels) { peer->search(q, kK, labels); };
  e.search_batch = [&peer, &c](int, const Matrix& q, int64_t* labels) {
    const int64_t chunk = (q.rows + c.threads - 1) / c.threads;
    auto work = [&](int64_t b) {
      for (int64_t i = b; i < std::min(q.rows, b + chunk); ++i)
        peer->search(q.row(i), kK, labels + i * kK);
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < c.threads; ++t) pool.emplace_back(work, t * chunk);
    work(0);
    for (auto& t : pool) t.join();
  };
  e.detail = [&peer] { return std::string("hnswlib 0.6.2, ") + peer->simd() + " kernels"; };
  return e;
}

void run_dataset(const std::string& name, const Matrix& base, const Matrix& queries,
                 const Config& c) {
  std::printf(
      "\n== %s: %lld x %lld, %lld queries, k=%d, M=%d, ef_construction=%d, %d threads, "
      "median of %d ==\n",
      name.c_str(), (long long)base.rows, (long long)base.dim, (long long)queries.rows, kK, kM,
      kEfConstruction, c.threads, c.repeats);
  std::printf("  exact search for the ground truth...\n");
  std::fflush(stdout);
  const auto truth =
      testing::exact_knn(base, testing::sequential_ids(base.rows), queries, kK, Metric::kL2);

  const int64_t dim = base.dim;
  std::unique_ptr<Index> index;
  std::unique_ptr<HnswPeer> generic, native;
  std::vector<std::pair<std::string, Engine>> engines;
  engines.emplace_back("vecperf", vecperf_engine(base, c, index));
  engines.emplace_back("hnswlib-generic", peer_engine(base, c, generic, [dim] {
                         return make_hnswlib_generic(dim, kM, kEfConstruction, kSeed);
                       }));
  engines.emplace_back("hnswlib-native", peer_engine(base, c, native, [dim] {
                         return make_hnswlib_native(dim, kM, kEfConstruction, kSeed);
                       }));
  const std::vector<Figures> all = measure(engines, queries, truth, c);
  const Figures& vp = all[0];
  std::printf("\n");
  for (const Figures& f : all) std::printf("  %-16s %s\n", f.name.c_str(), f.detail.c_str());
  std::printf("\n  build (s):        ");
  for (const Figures& f : all) std::printf("%s %.2f   ", f.name.c_str(), f.build_s);
  std::printf("\n  build speed-up:   vs generic %.2fx   vs native %.2fx\n",
              all[1].build_s / vp.build_s, all[2].build_s / vp.build_s);
  std::printf("\n  %-5s | %-23s | %-29s | %-15s | %-29s | %-15s\n", "ef", "recall@10 vp/gen/nat",
              "1-thread QPS vp/gen/nat", "ratio gen/nat", "batch QPS vp/gen/nat", "ratio gen/nat");
  for (size_t i = 0; i < c.efs.size(); ++i) {
    std::printf(
        "  %-5d | %.3f / %.3f / %.3f   | %8.0f %8.0f %8.0f    | %5.2fx %5.2fx   | "
        "%8.0f %8.0f %8.0f    | %5.2fx %5.2fx\n",
        c.efs[i], vp.recall[i], all[1].recall[i], all[2].recall[i], vp.qps_single[i],
        all[1].qps_single[i], all[2].qps_single[i], vp.qps_single[i] / all[1].qps_single[i],
        vp.qps_single[i] / all[2].qps_single[i], vp.qps_batch[i], all[1].qps_batch[i],
        all[2].qps_batch[i], vp.qps_batch[i] / all[1].qps_batch[i],
        vp.qps_batch[i] / all[2].qps_batch[i]);
  }
  std::printf("\n  1-thread QPS by thread CPU time (less sensitive to other load):\n");
  for (size_t i = 0; i < c.efs.size(); ++i) {
    std::printf("  %-5d | %8.0f %8.0f %8.0f | vs generic %5.2fx  vs native %5.2fx\n", c.efs[i],
                vp.qps_single_cpu[i], all[1].qps_single_cpu[i], all[2].qps_single_cpu[i],
                vp.qps_single_cpu[i] / all[1].qps_single_cpu[i],
                vp.qps_single_cpu[i] / all[2].qps_single_cpu[i]);
  }
  std::fflush(stdout);
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoi(item));
  return out;
}

}  // namespace
}  // namespace vecperf::bench

int main(int argc, char** argv) {
  using namespace vecperf::bench;
  Config c;
  c.threads = static_cast<int>(int_flag(argc, argv, "threads", 2));
  c.repeats = static_cast<int>(int_flag(argc, argv, "repeats", 3));
  c.efs = parse_list(string_flag(argc, argv, "efs", "64,128,256"));
  const int64_t nq = int_flag(argc, argv, "queries", 1000);
  const std::string datasets = string_flag(argc, argv, "datasets", "clustered");
  std::printf("vecperf hnsw vs hnswlib 0.6.2 on %s\n", machine_summary().c_str());
  std::stringstream in(datasets);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name == "clustered") {
      const int64_t n = int_flag(argc, argv, "n", 200000), dim = int_flag(argc, argv, "dim", 128);
      run_dataset(name, vecperf::testing::clustered(n, dim, 1),
                  vecperf::testing::clustered(nq, dim, 2), c);
    } else if (name == "wide") {
      const int64_t n = int_flag(argc, argv, "wide_n", 60000);
      run_dataset(name, vecperf::testing::clustered(n, 784, 3),
                  vecperf::testing::clustered(nq, 784, 4), c);
    } else {
      std::fprintf(stderr, "unknown dataset '%s' (clustered, wide)\n", name.c_str());
      return 2;
    }
  }
  return 0;
}
