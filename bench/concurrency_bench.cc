// Search latency while the index is being written: one thread searches single queries (one
// thread each, as a service does per request) while the main thread runs one kind of write at a
// time, per backend:
//   quiet   nothing else runs (the reference);
//   save    to_bytes() in a loop while a second thread adds small batches, i.e. a writer that
//           queues behind the save (the case a writer-preferring lock turns into a stall);
//   add     bulk add in batches;
//   remove  30% of the vectors, in batches.
// Each phase reports p50 / p99 / max search latency, the searches completed, and p99 over the
// quiet p99; --repeats runs everything that often and reports medians.
//
//   build/bin/vecperf_concurrency_bench [--n=20000] [--dim=128] [--kinds=flat,ivf,hnsw]
//                                        [--repeats=3] [--quiet-ms=1000]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/bench_common.h"
#include "vecperf/dataset.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::bench {
namespace {

struct PhaseFigures {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double searches = 0;
};

// Searches single queries on its own thread until stopped, keeping the latencies of the phase
// in progress.
class Searcher {
 public:
  Searcher(const Index& index, MatrixView queries) : index_(index), queries_(queries) {
    thread_ = std::thread([this] { run(); });
  }
  ~Searcher() {
    stop_ = true;
    thread_.join();
  }

  // Starts a new phase; returns the figures of the one that ends.
  PhaseFigures next_phase() {
    std::vector<double> taken;
    {
      std::lock_guard lock(mu_);
      taken.swap(samples_);
    }
    PhaseFigures f;
    if (taken.empty()) return f;
    f.p50_ms = percentile(taken, 50) * 1e3;
    f.p99_ms = percentile(taken, 99) * 1e3;
    f.max_ms = *std::max_element(taken.begin(), taken.end()) * 1e3;
    f.searches = static_cast<double>(taken.size());
    return f;
  }

 private:
  void run() {
    SearchOptions o;
    o.k = 10;
    o.num_threads = 1;
    std::vector<float> d(10);
    std::vector<int64_t> ids(10);
    for (int64_t q = 0; !stop_; q = (q + 1) % queries_.rows) {
      const double t0 = now_seconds();
      const Status s = index_.search(MatrixView{queries_.row(q), 1, queries_.dim}, o,
                                     SearchResults{d.data(), ids.data()});
      const double t = now_seconds() - t0;
      if (!s.ok()) {
        std::fprintf(stderr, "search failed: %s\n", s.to_string().c_str());
        std::abort();
      }
      std::lock_guard lock(mu_);
      samples_.push_back(t);
    }
  }

  const Index& index_;
  const MatrixView queries_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<double> samples_;  // guarded by mu_
  std::thread thread_;
};

void check(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  std::exit(1);
}

std::vector<int64_t> ids_from(int64_t first, int64_t n) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = first + i;
  return ids;
}

constexpr const char* kPhases[] = {"quiet", "save", "add", "remove"};
constexpr int kPhaseCount = 4;

// One run of every phase on a fresh index of `kind`.
std::vector<PhaseFigures> run_once(const std::string& kind, const FloatMatrix& base,
                                   const FloatMatrix& queries, int64_t n, int quiet_ms) {
  auto options = parse_index_spec(kind);
  check(options.status(), "index spec");
  options->dim = base.dim();
  const int64_t add_rows = base.rows() - n;
  auto made = make_index(*options);
  check(made.status(), "make_index");
  Index& index = **made;
  check(index.add(ids_from(0, n), MatrixView{base.data(), n, base.dim()}), "initial add");

  std::vector<PhaseFigures> out;
  Searcher searcher(index, queries.view());
  searcher.next_phase();
  std::this_thread::sleep_for(std::chrono::milliseconds(quiet_ms));
  out.push_back(searcher.next_phase());  // quiet

  {  // save, with a writer queueing behind it
    std::atomic<bool> saving{true};
    std::thread writer([&] {
      int64_t next = 0;
      const int64_t batch = 64;
      while (saving && next + batch <= add_rows / 2) {
        check(
            index.add(ids_from(n + next, batch), MatrixView{base.row(n + next), batch, base.dim()}),
            "add during save");
        next += batch;
      }
      check(index.remove(ids_from(n, next)), "undo the adds during save");
    });
    for (int i = 0; i < 5; ++i) check(index.to_bytes().status(), "to_bytes");
    saving = false;
    writer.join();
    out.push_back(searcher.next_phase());
  }

  {  // bulk add in batches
    const int64_t batch = std::max<int64_t>(1, add_rows / 4);
    for (int64_t b = 0; b < add_rows; b += batch) {
      const int64_t m = std::min(batch, add_rows - b);
      check(index.add(ids_from(n + b, m), MatrixView{base.row(n + b), m, base.dim()}), "add");
    }
    out.push_back(searcher.next_phase());
  }

  {  // remove 30%
    const int64_t total = n + add_rows, drop = total * 3 / 10,
                  batch = std::max<int64_t>(1, drop / 5);
    for (int64_t b = 0; b < drop; b += batch)
      check(index.remove(ids_from(b, std::min(batch, drop - b))), "remove");
    out.push_back(searcher.next_phase());
  }
  return out;
}

}  // namespace
}  // namespace vecperf::bench

int main(int argc, char** argv) {
  using namespace vecperf;
  using namespace vecperf::bench;
  const int64_t n = int_flag(argc, argv, "n", 20000);
  const int64_t dim = int_flag(argc, argv, "dim", 128);
  const int repeats = static_cast<int>(int_flag(argc, argv, "repeats", 3));
  const int quiet_ms = static_cast<int>(int_flag(argc, argv, "quiet-ms", 1000));
  const std::string kinds = string_flag(argc, argv, "kinds", "flat,ivf,hnsw");

  ClusteredOptions shape;
  shape.rows = n + n / 2;  // the add phase adds half as many again
  shape.dim = dim;
  auto base = make_clustered(shape);
  auto queries = make_clustered_queries(shape, 200, 77);
  if (!base.ok() || !queries.ok()) return 1;

  std::printf("vecperf_concurrency_bench: N=%lld dim=%lld, %d repeats (medians), %s\n",
              static_cast<long long>(n), static_cast<long long>(dim), repeats,
              machine_summary().c_str());
  std::printf("%-6s %-7s %9s %9s %9s %9s %10s\n", "kind", "phase", "p50 ms", "p99 ms", "max ms",
              "searches", "p99/quiet");
  std::stringstream list(kinds);
  for (std::string kind; std::getline(list, kind, ',');) {
    std::vector<std::vector<PhaseFigures>> runs;
    for (int r = 0; r < repeats; ++r) runs.push_back(run_once(kind, *base, *queries, n, quiet_ms));
    auto med = [&](int phase, double PhaseFigures::*field) {
      std::vector<double> v;
      for (const auto& run : runs) v.push_back(run[static_cast<size_t>(phase)].*field);
      return median(v);
    };
    const double quiet_p99 = med(0, &PhaseFigures::p99_ms);
    for (int p = 0; p < kPhaseCount; ++p) {
      const double p99 = med(p, &PhaseFigures::p99_ms);
      std::printf("%-6s %-7s %9.3f %9.3f %9.3f %9.0f %9.1fx\n", kind.c_str(), kPhases[p],
                  med(p, &PhaseFigures::p50_ms), p99, med(p, &PhaseFigures::max_ms),
                  med(p, &PhaseFigures::searches), quiet_p99 > 0 ? p99 / quiet_p99 : 0.0);
    }
  }
  return 0;
}
