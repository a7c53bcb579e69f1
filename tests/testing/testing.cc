#include "testing/testing.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <thread>
#include <unordered_set>

#include "vecperf/dataset.h"

namespace vecperf::testing {

Matrix clustered(int64_t n, int64_t dim, uint64_t seed, int clusters, float spread,
                 uint64_t centre_seed) {
  // One implementation for the tests and the library's users (vecperf::fill_clustered).
  Matrix m{n, dim, std::vector<float>(static_cast<size_t>(n * dim))};
  ClusteredOptions options;
  options.rows = n;
  options.dim = dim;
  options.clusters = clusters;
  options.spread = spread;
  options.seed = seed;
  options.centre_seed = centre_seed;
  const Status s = fill_clustered(options, m.data);
  if (!s.ok()) {
    // A test asked for impossible data: a bug in the test, not a condition to handle.
    std::fprintf(stderr, "testing::clustered: %s\n", s.to_string().c_str());
    std::abort();
  }
  return m;
}

Matrix uniform(int64_t n, int64_t dim, uint64_t seed) {
  Matrix m{n, dim, std::vector<float>(static_cast<size_t>(n * dim))};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : m.data) v = u(rng);
  return m;
}

std::vector<int64_t> sequential_ids(int64_t n, int64_t first) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::vector<int64_t> exact_knn(const Matrix& base, const std::vector<int64_t>& ids,
                               const Matrix& queries, int k, Metric metric) {
  const int64_t d = base.dim;
  auto norm = [d](const float* v) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(v[j]) * v[j];
    return std::sqrt(s);
  };
  std::vector<double> base_norm(static_cast<size_t>(base.rows), 1.0);
  if (metric == Metric::kCosine)
    for (int64_t i = 0; i < base.rows; ++i) base_norm[i] = norm(base.row(i));

  std::vector<int64_t> out(static_cast<size_t>(queries.rows * k), kNoId);
  auto work = [&](int64_t begin, int64_t end) {
    std::vector<std::pair<double, int64_t>> cand(static_cast<size_t>(base.rows));
    for (int64_t q = begin; q < end; ++q) {
      const float* x = queries.row(q);
      double qn = metric == Metric::kCosine ? norm(x) : 1.0;
      for (int64_t i = 0; i < base.rows; ++i) {
        const float* y = base.row(i);
        double dist = 0;
        if (metric == Metric::kL2) {
          for (int64_t j = 0; j < d; ++j) dist += (double(x[j]) - y[j]) * (double(x[j]) - y[j]);
        } else {
          double dot = 0;
          for (int64_t j = 0; j < d; ++j) dot += double(x[j]) * y[j];
          dist = 1.0 - dot / (qn * base_norm[i]);
        }
        cand[i] = {dist, ids[i]};
      }
      int64_t kk = std::min<int64_t>(k, base.rows);
      std::partial_sort(cand.begin(), cand.begin() + kk, cand.end());
      for (int64_t j = 0; j < kk; ++j) out[q * k + j] = cand[j].second;
    }
  };
  int threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  int64_t chunk = (queries.rows + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    int64_t b = t * chunk, e = std::min(queries.rows, b + chunk);
    if (b < e) pool.emplace_back(work, b, e);
  }
  for (auto& th : pool) th.join();
  return out;
}

double recall_at_k(const std::vector<int64_t>& found, const std::vector<int64_t>& truth, int64_t nq,
                   int k) {
  if (nq == 0) return 1.0;
  double total = 0;
  for (int64_t q = 0; q < nq; ++q) {
    std::unordered_set<int64_t> t;
    for (int j = 0; j < k; ++j)
      if (truth[q * k + j] != kNoId) t.insert(truth[q * k + j]);
    if (t.empty()) {
      total += 1;
      continue;
    }
    int hit = 0;
    for (int j = 0; j < k; ++j)
      if (found[q * k + j] != kNoId && t.count(found[q * k + j])) ++hit;
    total += double(hit) / double(t.size());
  }
  return total / double(nq);
}

}  // namespace vecperf::testing
