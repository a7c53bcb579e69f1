// C++ side of bench/python_overhead.py: times the same batched searches the script times through
// Python, on the same saved index and queries, and prints one median per batch size.
//
//   vecperf_search_timer INDEX QUERIES(raw float32) NQ K REPEATS THREADS BATCH...
// Output: "batch=<b> median_s=<seconds to search all NQ queries in batches of b>" per batch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "vecperf/index.h"

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr, "usage: %s INDEX QUERIES NQ K REPEATS THREADS BATCH...\n", argv[0]);
    return 2;
  }
  auto index = vecperf::load(argv[1]);
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", index.status().to_string().c_str());
    return 1;
  }
  const int64_t nq = std::atoll(argv[3]);
  const int k = std::atoi(argv[4]);
  const int repeats = std::atoi(argv[5]);
  const int64_t dim = (*index)->dim();
  std::vector<float> queries(static_cast<size_t>(nq * dim));
  std::ifstream in(argv[2], std::ios::binary);
  in.read(reinterpret_cast<char*>(queries.data()),
          static_cast<std::streamsize>(queries.size() * sizeof(float)));
  if (!in) {
    std::fprintf(stderr, "cannot read %lld queries from %s\n", static_cast<long long>(nq), argv[2]);
    return 1;
  }
  vecperf::SearchOptions options;
  options.k = k;
  options.num_threads = std::atoi(argv[6]);
  for (int a = 7; a < argc; ++a) {
    const int64_t batch = std::atoll(argv[a]);
    // Result buffers are allocated per call, as the Python binding does.
    std::vector<double> times;
    for (int r = -1; r < repeats; ++r) {  // run -1 warms caches and is not recorded
      const auto start = std::chrono::steady_clock::now();
      for (int64_t first = 0; first < nq; first += batch) {
        const int64_t rows = std::min(batch, nq - first);
        std::vector<float> distances(static_cast<size_t>(rows * k));
        std::vector<int64_t> ids(static_cast<size_t>(rows * k));
        vecperf::Status s = (*index)->search({queries.data() + first * dim, rows, dim}, options,
                                             {distances.data(), ids.data()});
        if (!s.ok()) {
          std::fprintf(stderr, "%s\n", s.to_string().c_str());
          return 1;
        }
      }
      if (r >= 0)
        times.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(times.begin(), times.begin() + repeats / 2, times.end());
    std::printf("batch=%lld median_s=%.9f\n", static_cast<long long>(batch), times[repeats / 2]);
  }
  return 0;
}
