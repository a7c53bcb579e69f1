// vecperf Flat vs FAISS IndexFlatL2: same process, same data, k = 10.
//
//  (a) one query per call, 1 thread: QPS of each, the ratio, and the scan bandwidth achieved
//      (bytes of base vectors read per second);
//  (b) batches of 1000 queries at 1 and 2 threads: QPS and ratio. FAISS threads through OpenMP
//      and, for its sgemm, OpenBLAS, so both are set to the thread count under test. vecperf is
//      run twice: with that same OpenBLAS setting, and with OpenBLAS single-threaded (vecperf
//      parallelises sgemm itself; see docs/design/distance-kernels.md);
//  (c) small batches at 1 thread, the region around the SIMD-scan / sgemm switch.
// Every figure is the median of --repeats runs. Ids of both libraries are compared as a check.
//
// Flags: --datasets=mnist,clustered --sections=abc --single=40 --batch=1000 --repeats=3
#include <cblas.h>
#include <faiss/IndexFlat.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/bench_common.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::bench {
namespace {

using testing::Matrix;

constexpr int kK = 10;

// "MNIST-like" 28x28 images with integer pixel values 0..255: ten seeded stroke prototypes,
// each sample a prototype shifted by up to two pixels, with per-pixel noise and dropout.
Matrix mnist_like(int64_t n, uint64_t seed) {
  constexpr int kSide = 28, kDim = kSide * kSide, kClasses = 10;
  std::mt19937_64 proto_rng(2024);
  std::vector<float> protos(kClasses * kDim, 0.0f);
  for (int c = 0; c < kClasses; ++c) {
    // A few random strokes (random walks) drawn with a thick pen.
    for (int stroke = 0; stroke < 4; ++stroke) {
      int x = 6 + static_cast<int>(proto_rng() % 16), y = 6 + static_cast<int>(proto_rng() % 16);
      for (int step = 0; step < 25; ++step) {
        x = std::clamp(x + static_cast<int>(proto_rng() % 3) - 1, 2, kSide - 3);
        y = std::clamp(y + static_cast<int>(proto_rng() % 3) - 1, 2, kSide - 3);
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) protos[c * kDim + (y + dy) * kSide + x + dx] = 255.0f;
      }
    }
  }
  Matrix m{n, kDim, std::vector<float>(static_cast<size_t>(n * kDim), 0.0f)};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 40.0f);
  for (int64_t i = 0; i < n; ++i) {
    const float* p = protos.data() + (rng() % kClasses) * kDim;
    const int sx = static_cast<int>(rng() % 5) - 2, sy = static_cast<int>(rng() % 5) - 2;
    float* out = m.data.data() + i * kDim;
    for (int y = 0; y < kSide; ++y) {
      for (int x = 0; x < kSide; ++x) {
        const int px = x - sx, py = y - sy;
        float v = (px >= 0 && px < kSide && py >= 0 && py < kSide) ? p[py * kSide + px] : 0.0f;
        if (v > 0) v = (rng() % 8 == 0) ? 0.0f : v + noise(rng);
        out[y * kSide + x] = std::clamp(std::round(v), 0.0f, 255.0f);
      }
    }
  }
  return m;
}

struct Dataset {
  std::string name;
  Matrix base;
  Matrix queries;
};

Matrix first_rows(const Matrix& m, int64_t rows) {
  rows = std::min(rows, m.rows);
  return Matrix{rows, m.dim, std::vector<float>(m.data.begin(), m.data.begin() + rows * m.dim)};
}

// Fraction of result ids the two libraries agree on (ties can legitimately differ).
double agreement(const std::vector<int64_t>& a, const std::vector<int64_t>& b, int64_t nq) {
  return testing::recall_at_k(a, b, nq, kK);
}

struct Timing {
  double qps;
  std::vector<int64_t> ids;
};

Timing run_vecperf(const Index& index, const Matrix& q, int64_t per_call, int threads,
                   int repeats) {
  std::vector<int64_t> ids(static_cast<size_t>(q.rows * kK));
  std::vector<float> dists(ids.size());
  SearchOptions so;
  so.k = kK;
  so.num_threads = threads;
  double t = median_seconds(repeats, [&] {
    for (int64_t b = 0; b < q.rows; b += per_call) {
      int64_t m = std::min(per_call, q.rows - b);
      Status s = index.search(q.slice(b, m), so,
                              SearchResults{dists.data() + b * kK, ids.data() + b * kK});
      if (!s.ok()) std::fprintf(stderr, "search failed: %s\n", s.to_string().c_str());
    }
  });
  return {double(q.rows) / t, ids};
}

Timing run_faiss(const faiss::IndexFlatL2& index, const Matrix& q, int64_t per_call, int repeats) {
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(q.rows * kK));
  std::vector<float> dists(labels.size());
  double t = median_seconds(repeats, [&] {
    for (int64_t b = 0; b < q.rows; b += per_call) {
      int64_t m = std::min(per_call, q.rows - b);
      index.search(m, q.row(b), kK, dists.data() + b * kK, labels.data() + b * kK);
    }
  });
  return {double(q.rows) / t, std::vector<int64_t>(labels.begin(), labels.end())};
}

void set_peer_threads(int threads) {
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

void run_dataset(const Dataset& ds, const std::string& sections, int64_t single, int64_t batch,
                 int repeats) {
  const int64_t n = ds.base.rows, d = ds.base.dim;
  const double base_bytes = double(n) * double(d) * sizeof(float);
  std::printf("\n== %s: %lld x %lld (%.0f MB), k=%d, median of %d runs\n", ds.name.c_str(),
              static_cast<long long>(n), static_cast<long long>(d), base_bytes / 1e6, kK, repeats);

  IndexOptions opts;
  opts.kind = IndexKind::kFlat;
  opts.dim = d;
  opts.metric = Metric::kL2;
  auto made = make_index(opts);
  if (!made.ok()) {
    std::fprintf(stderr, "make_index: %s\n", made.status().to_string().c_str());
    return;
  }
  std::unique_ptr<Index> ours = std::move(made).value();
  if (Status s = ours->add(testing::sequential_ids(n), ds.base.view()); !s.ok()) {
    std::fprintf(stderr, "add: %s\n", s.to_string().c_str());
    return;
  }
  faiss::IndexFlatL2 peer(static_cast<int>(d));
  peer.add(n, ds.base.data.data());
  std::printf("vecperf: %s\n", ours->describe().c_str());

  // (a) one query per call, one thread.
  if (sections.find('a') != std::string::npos) {
    const Matrix q = first_rows(ds.queries, single);
    set_peer_threads(1);
    Timing v = run_vecperf(*ours, q, 1, 1, repeats);
    Timing f = run_faiss(peer, q, 1, repeats);
    std::printf("(a) single query, 1 thread, %lld queries\n", static_cast<long long>(q.rows));
    std::printf("    vecperf %9.1f QPS  %6.2f GB/s scanned\n", v.qps, v.qps * base_bytes / 1e9);
    std::printf("    faiss   %9.1f QPS  %6.2f GB/s scanned\n", f.qps, f.qps * base_bytes / 1e9);
    std::printf("    ratio vecperf/faiss: %.2fx   (id agreement %.4f)\n", v.qps / f.qps,
                agreement(v.ids, f.ids, q.rows));
    // The same with both threads allowed: vecperf splits one query's scan across them, FAISS
    // parallelises over queries only, so it stays on one.
    set_peer_threads(2);
    Timing v2 = run_vecperf(*ours, q, 1, 2, repeats);
    Timing f2 = run_faiss(peer, q, 1, repeats);
    std::printf("(a) single query, 2 threads\n");
    std::printf("    vecperf %9.1f QPS  %6.2f GB/s scanned\n", v2.qps, v2.qps * base_bytes / 1e9);
    std::printf("    faiss   %9.1f QPS  %6.2f GB/s scanned\n", f2.qps, f2.qps * base_bytes / 1e9);
    std::printf("    ratio vecperf/faiss: %.2fx   (id agreement %.4f)\n", v2.qps / f2.qps,
                agreement(v2.ids, f2.ids, q.rows));
  }
  // (b) batches.
  if (sections.find('b') != std::string::npos) {
    const Matrix q = first_rows(ds.queries, batch);
    for (int threads : {1, 2}) {
      set_peer_threads(threads);
      Timing f = run_faiss(peer, q, q.rows, repeats);
      std::printf("(b) batch of %lld, %d thread(s)\n", static_cast<long long>(q.rows), threads);
      std::printf("    faiss (omp=%d, openblas=%d)     %9.1f QPS\n", threads, threads, f.qps);
      if (threads > 1) {
        Timing v_same = run_vecperf(*ours, q, q.rows, threads, repeats);
        std::printf(
            "    vecperf (openblas=%d)            %9.1f QPS  ratio %.2fx  (id agreement "
            "%.4f)\n",
            threads, v_same.qps, v_same.qps / f.qps, agreement(v_same.ids, f.ids, q.rows));
      }
      openblas_set_num_threads(1);
      Timing v_one = run_vecperf(*ours, q, q.rows, threads, repeats);
      std::printf(
          "    vecperf (openblas=1)            %9.1f QPS  ratio %.2fx  (id agreement "
          "%.4f)\n",
          v_one.qps, v_one.qps / f.qps, agreement(v_one.ids, f.ids, q.rows));
    }
  }
  // (c) small batches around the scan / sgemm switch, one thread.
  if (sections.find('c') != std::string::npos) {
    set_peer_threads(1);
    std::printf("(c) small batches, 1 thread: QPS vecperf / faiss\n");
    for (int64_t per_call : {2, 4, 8, 12, 16, 24, 32, 64}) {
      const Matrix q = first_rows(ds.queries, std::max<int64_t>(per_call, 4 * per_call));
      Timing v = run_vecperf(*ours, q, per_call, 1, repeats);
      Timing f = run_faiss(peer, q, per_call, repeats);
      std::printf("    batch %3lld: %9.1f / %9.1f  ratio %.2fx\n", static_cast<long long>(per_call),
                  v.qps, f.qps, v.qps / f.qps);
    }
  }
}

}  // namespace
}  // namespace vecperf::bench

int main(int argc, char** argv) {
  using namespace vecperf::bench;
  const std::string datasets = string_flag(argc, argv, "datasets", "mnist,clustered");
  const std::string sections = string_flag(argc, argv, "sections", "abc");
  const int64_t single = int_flag(argc, argv, "single", 40);
  const int64_t batch = int_flag(argc, argv, "batch", 1000);
  const int repeats = static_cast<int>(int_flag(argc, argv, "repeats", 3));
  std::printf("flat_bench: %s\n", machine_summary().c_str());
  const int64_t nq = std::max(single, batch);
  if (datasets.find("mnist") != std::string::npos) {
    run_dataset({"mnist-like uint8", mnist_like(60000, 1), mnist_like(nq, 2)}, sections, single,
                batch, repeats);
  }
  if (datasets.find("clustered") != std::string::npos) {
    run_dataset({"clustered", vecperf::testing::clustered(200000, 128, 1),
                 vecperf::testing::clustered(nq, 128, 2)},
                sections, single, batch, repeats);
  }
  return 0;
}
