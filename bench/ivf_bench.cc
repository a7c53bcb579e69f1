// IVF-Flat: vecperf (FAISS lists, vecperf kernels and per-call knobs) against FAISS IndexIVFFlat,
// in one process on the same data.
//
// Both sides train FAISS k-means on the same N rows with the same seed and nlist. vecperf runs
// the assignment step of k-means on its own kernels, so the centroids are close to FAISS's but
// not identical, and the recall columns agree to within a few thousandths: the same quality,
// and only the speed differs. Ground truth comes from FAISS IndexFlatL2 (independent of
// vecperf's kernels). Every measurement is the median of --repeats runs.
//
//   vecperf_ivf_bench [--n=200000] [--dim=128] [--nq=1000] [--repeats=3] [--threads=2]
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/bench_common.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace {

using vecperf::bench::int_flag;
using vecperf::bench::median_seconds;
using vecperf::bench::now_seconds;

constexpr int kK = 10;
constexpr uint64_t kSeed = 1234;

struct Run {
  std::vector<int64_t> ids;
  double single_qps = 0;
  double batch_qps = 0;
};

int fail(const vecperf::Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = int_flag(argc, argv, "n", 200000);
  const int64_t dim = int_flag(argc, argv, "dim", 128);
  const int64_t nq = int_flag(argc, argv, "nq", 1000);
  const int repeats = static_cast<int>(int_flag(argc, argv, "repeats", 3));
  const int threads = static_cast<int>(int_flag(argc, argv, "threads", 2));
  // About 4 * sqrt(N), with >= 39 training points per list (what k-means needs, and what
  // vecperf requires before it trains).
  const int64_t nlist =
      std::max<int64_t>(1, std::min<int64_t>(std::llround(4.0 * std::sqrt(double(n))), n / 39));
  const int nprobes[] = {4, 8, 16, 32, 64};

  std::printf("# IVF-Flat: vecperf vs FAISS IndexIVFFlat (FAISS %s)\n# %s\n", "1.7.3",
              vecperf::bench::machine_summary().c_str());
  std::printf("# N=%lld dim=%lld queries=%lld k=%d nlist=%lld repeats=%d (median)\n", (long long)n,
              (long long)dim, (long long)nq, kK, (long long)nlist, repeats);

  const vecperf::testing::Matrix base = vecperf::testing::clustered(n, dim, 1);
  const vecperf::testing::Matrix queries = vecperf::testing::clustered(nq, dim, 2);
  const std::vector<int64_t> ids = vecperf::testing::sequential_ids(n);

  // Ground truth.
  std::vector<int64_t> truth(static_cast<size_t>(nq * kK));
  {
    faiss::IndexFlatL2 flat(dim);
    flat.add(n, base.data.data());
    std::vector<float> d(truth.size());
    flat.search(nq, queries.data.data(), kK, d.data(), truth.data());
  }

  // FAISS side: train on all N rows (seeded), then add.
  double t0 = now_seconds();
  faiss::IndexFlatL2 quantizer(dim);
  faiss::IndexIVFFlat peer(&quantizer, dim, nlist, faiss::METRIC_L2);
  peer.cp.seed = static_cast<int>(kSeed);
  omp_set_num_threads(threads);
  peer.train(n, base.data.data());
  peer.add(n, base.data.data());
  const double faiss_build = now_seconds() - t0;

  // vecperf side: the same rows, seed and nlist; training waits until all N are present and then
  // uses all of them, so its k-means sees exactly what FAISS's saw.
  t0 = now_seconds();
  vecperf::IndexOptions o;
  o.kind = vecperf::IndexKind::kIvf;
  o.dim = dim;
  o.ivf.nlist = static_cast<int>(nlist);
  o.ivf.train_threshold = n;
  o.ivf.max_train_samples = n;
  o.ivf.seed = kSeed;
  auto made = vecperf::make_index(o);
  if (!made.ok()) return fail(made.status(), "make_index");
  std::unique_ptr<vecperf::Index> ours = std::move(made).value();
  if (auto s = ours->add(ids, base.view()); !s.ok()) return fail(s, "add");
  const double ours_build = now_seconds() - t0;
  if (ours->describe().find("trained=yes") == std::string::npos) {
    std::fprintf(stderr, "vecperf index did not train: %s\n", ours->describe().c_str());
    return 1;
  }
  std::printf("# build (train + add): vecperf %.1f s, faiss %.1f s\n# %s\n", ours_build,
              faiss_build, ours->describe().c_str());

  std::printf("\n%6s | %9s %9s | %11s %11s %6s | %11s %11s %6s\n", "nprobe", "recall_vp",
              "recall_fs", "1q1t_vp", "1q1t_fs", "ratio", "batch_vp", "batch_fs", "ratio");
  std::printf("%6s | %9s %9s | %11s %11s %6s | %11s %11s %6s\n", "", "", "", "QPS", "QPS", "",
              "QPS", "QPS", "");
  std::vector<double> single_ratios, batch_ratios;
  for (int nprobe : nprobes) {
    Run vp, fs;
    vp.ids.resize(truth.size());
    fs.ids.resize(truth.size());
    std::vector<float> dist(truth.size());

    // Single query at a time, one thread.
    vecperf::SearchOptions so;
    so.k = kK;
    so.nprobe = nprobe;
    so.num_threads = 1;
    vecperf::Status status;
    double t = median_seconds(repeats, [&] {
      for (int64_t i = 0; i < nq; ++i) {
        vecperf::Status s =
            ours->search(queries.slice(i, 1), so, {dist.data() + i * kK, vp.ids.data() + i * kK});
        if (!s.ok()) status = s;
      }
    });
    if (!status.ok()) return fail(status, "search");
    vp.single_qps = double(nq) / t;

    faiss::SearchParametersIVF params;
    params.nprobe = static_cast<size_t>(nprobe);
    omp_set_num_threads(1);
    t = median_seconds(repeats, [&] {
      for (int64_t i = 0; i < nq; ++i)
        peer.search(1, queries.row(i), kK, dist.data() + i * kK, fs.ids.data() + i * kK, &params);
    });
    fs.single_qps = double(nq) / t;

    // The whole batch, `threads` threads.
    so.num_threads = threads;
    t = median_seconds(repeats, [&] {
      vecperf::Status s = ours->search(queries.view(), so, {dist.data(), vp.ids.data()});
      if (!s.ok()) status = s;
    });
    if (!status.ok()) return fail(status, "search");
    vp.batch_qps = double(nq) / t;

    omp_set_num_threads(threads);
    t = median_seconds(repeats, [&] {
      peer.search(nq, queries.data.data(), kK, dist.data(), fs.ids.data(), &params);
    });
    fs.batch_qps = double(nq) / t;

    const double r_vp = vecperf::testing::recall_at_k(vp.ids, truth, nq, kK);
    const double r_fs = vecperf::testing::recall_at_k(fs.ids, truth, nq, kK);
    single_ratios.push_back(vp.single_qps / fs.single_qps);
    batch_ratios.push_back(vp.batch_qps / fs.batch_qps);
    std::printf("%6d | %9.4f %9.4f | %11.0f %11.0f %5.2fx | %11.0f %11.0f %5.2fx\n", nprobe, r_vp,
                r_fs, vp.single_qps, fs.single_qps, single_ratios.back(), vp.batch_qps,
                fs.batch_qps, batch_ratios.back());
  }
  std::printf("\n# median QPS ratio vecperf/faiss: single-query %.2fx, batch(%d threads) %.2fx\n",
              vecperf::bench::median(single_ratios), threads, vecperf::bench::median(batch_ratios));
  return 0;
}
