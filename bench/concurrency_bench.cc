// Search latency while the index is being written: one thread searches single queries (one
// thread each, as a service does per request) while the main thread runs one kind of write at a
// time, per backend:
//   quiet   nothing else runs (the reference);
//   save    to_bytes() in a loop while a second thread adds small batches, i.e. a writer that
//           queues behind the save (the case a writer-preferring lock turns into a stall);
//   add     bulk add in batches;
//   remove  30% of the vectors, in batches.
// Each phase reports p50 / p99 / max search latency, the searches completed, p99 over the quiet
// p99 and how long the phase took; --repeats runs everything that often and reports medians.
//
// A kind is an index spec with at most one option ("ivf:nlist=512": --kinds is split at commas).
// The IVF kinds name nlist (512) so that the peer "faiss-ivf" (FAISS's IndexIVFFlat behind a
// std::shared_mutex, trained on the initial rows; nprobe 16 on both) has as many lists; with
// nlist 512 vecperf trains on the initial rows too (at 39 * 512 vectors). "ivf:train_threshold=
// 26000" instead trains inside the add phase (the searches then run on the exact buffer first).
//
// The peer "hnswlib" is Debian's hnswlib (M = 16, ef_construction = 200, ef = 128: vecperf's
// HNSW defaults) behind a std::shared_mutex, the way its users share one index between request
// threads: searches take it shared, each add or remove batch and each saveIndex (to a file in
// /tmp; vecperf's save phase uses to_bytes) take it as hnswlib requires.
//
// --writer-threads is the add's thread count (AddOptions::num_threads; the peer's add threads):
// 1 by default, so that on a 2-core machine the searcher keeps a core, as a service that keeps
// cores for its queries would configure it (0: all hardware threads).
//
//   build/bin/vecperf_concurrency_bench [--n=20000] [--dim=128] [--repeats=3] [--quiet-ms=1000]
//       [--writer-threads=1] [--kinds=flat,ivf:nlist=512,faiss-ivf:nlist=512,hnsw,hnswlib]
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_io.h>
#include <faiss/invlists/DirectMap.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/bench_common.h"
#include "hnsw_peer.h"
#include "vecperf/dataset.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::bench {
namespace {

struct PhaseFigures {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double searches = 0;
  double wall_ms = 0;  // how long the phase's writes took
};

void check(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  std::exit(1);
}

// What the phases write to and search: a vecperf index, or a peer behind its users' lock.
class Target {
 public:
  virtual ~Target() = default;
  virtual void search(const float* query, int64_t dim, int64_t* ids) const = 0;
  virtual void add(const std::vector<int64_t>& ids, MatrixView rows) = 0;
  virtual void remove(const std::vector<int64_t>& ids) = 0;
  virtual void save() const = 0;
};

class VecperfTarget final : public Target {
 public:
  VecperfTarget(std::unique_ptr<Index> index, int threads) : index_(std::move(index)) {
    add_.num_threads = threads;
  }
  void search(const float* query, int64_t dim, int64_t* ids) const override {
    SearchOptions o;
    o.k = 10;
    o.num_threads = 1;
    float d[10];
    check(index_->search(MatrixView{query, 1, dim}, o, SearchResults{d, ids}), "search");
  }
  void add(const std::vector<int64_t>& ids, MatrixView rows) override {
    check(index_->add(ids, rows, add_), "add");
  }
  void remove(const std::vector<int64_t>& ids) override { check(index_->remove(ids), "remove"); }
  void save() const override { check(index_->to_bytes().status(), "to_bytes"); }

 private:
  std::unique_ptr<Index> index_;
  AddOptions add_;
};

class HnswlibTarget final : public Target {
 public:
  HnswlibTarget(MatrixView initial, int threads)
      : peer_(make_hnswlib_generic(initial.dim, 16, 200, 100)),
        path_("/tmp/vecperf_concurrency_bench_" + std::to_string(::getpid()) + ".hnsw"),
        threads_(threads) {
    peer_->build(initial.data, initial.rows, threads_);
    peer_->set_ef(128);
  }
  ~HnswlibTarget() override { std::remove(path_.c_str()); }
  void search(const float* query, int64_t, int64_t* ids) const override {
    std::shared_lock lock(mu_);
    peer_->search(query, 10, ids);
  }
  void add(const std::vector<int64_t>& ids, MatrixView rows) override {
    std::unique_lock lock(mu_);
    peer_->add(rows.data, ids.front(), rows.rows, threads_);
  }
  void remove(const std::vector<int64_t>& ids) override {
    std::unique_lock lock(mu_);
    peer_->remove(ids.data(), static_cast<int64_t>(ids.size()));
  }
  void save() const override {
    std::shared_lock lock(mu_);
    peer_->save(path_);
  }

 private:
  std::unique_ptr<HnswPeer> peer_;
  const std::string path_;
  const int threads_;
  mutable std::shared_mutex mu_;
};

// FAISS's IndexIVFFlat behind a std::shared_mutex, as its users share one (faiss#492: FAISS
// indexes are not safe for a write alongside searches). Trained on the initial rows with the
// given nlist and seed, nprobe 16 (vecperf's default), and a hash-table direct map so that
// remove_ids costs per id, as a FAISS user who deletes by id would set it up.
class FaissIvfTarget final : public Target {
 public:
  FaissIvfTarget(MatrixView initial, int nlist, int threads)
      : quantizer_(initial.dim),
        index_(&quantizer_, static_cast<size_t>(initial.dim), static_cast<size_t>(nlist)),
        path_("/tmp/vecperf_concurrency_bench_" + std::to_string(::getpid()) + ".faiss"),
        threads_(threads) {
    index_.cp.seed = 1234;
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    omp_set_num_threads(threads_ > 0 ? threads_ : hw);  // this thread's FAISS team (libgomp)
    index_.train(initial.rows, initial.data);
    index_.set_direct_map_type(faiss::DirectMap::Hashtable);
    index_.nprobe = 16;
    const std::vector<faiss::Index::idx_t> ids = labels(0, initial.rows);
    index_.add_with_ids(initial.rows, initial.data, ids.data());
  }
  ~FaissIvfTarget() override { std::remove(path_.c_str()); }
  void search(const float* query, int64_t, int64_t* ids) const override {
    // One query, one thread, as vecperf's searches here (libgomp keeps the setting per thread).
    thread_local const bool one_thread = (omp_set_num_threads(1), true);
    (void)one_thread;
    float d[10];
    faiss::Index::idx_t found[10];
    std::shared_lock lock(mu_);
    index_.search(1, query, 10, d, found);
    std::copy_n(found, 10, ids);
  }
  void add(const std::vector<int64_t>& ids, MatrixView rows) override {
    const std::vector<faiss::Index::idx_t> l(ids.begin(), ids.end());
    std::unique_lock lock(mu_);
    index_.add_with_ids(rows.rows, rows.data, l.data());
  }
  void remove(const std::vector<int64_t>& ids) override {
    const std::vector<faiss::Index::idx_t> l(ids.begin(), ids.end());
    faiss::IDSelectorArray sel(l.size(), l.data());
    std::unique_lock lock(mu_);
    index_.remove_ids(sel);
  }
  void save() const override {
    std::shared_lock lock(mu_);
    faiss::write_index(&index_, path_.c_str());
  }

 private:
  static std::vector<faiss::Index::idx_t> labels(int64_t first, int64_t n) {
    std::vector<faiss::Index::idx_t> l(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) l[static_cast<size_t>(i)] = first + i;
    return l;
  }

  faiss::IndexFlatL2 quantizer_;
  faiss::IndexIVFFlat index_;
  const std::string path_;
  const int threads_;
  mutable std::shared_mutex mu_;
};

// Searches single queries on its own thread until stopped, keeping the latencies of the phase
// in progress.
class Searcher {
 public:
  Searcher(const Target& index, MatrixView queries) : index_(index), queries_(queries) {
    thread_ = std::thread([this] { run(); });
  }
  ~Searcher() {
    stop_ = true;
    thread_.join();
  }

  // Starts a new phase; returns the figures of the one that ends.
  PhaseFigures next_phase() {
    std::vector<double> taken;
    const double now = now_seconds();
    {
      std::lock_guard lock(mu_);
      taken.swap(samples_);
    }
    PhaseFigures f;
    f.wall_ms = (now - phase_start_) * 1e3;
    phase_start_ = now;
    if (taken.empty()) return f;
    f.p50_ms = percentile(taken, 50) * 1e3;
    f.p99_ms = percentile(taken, 99) * 1e3;
    f.max_ms = *std::max_element(taken.begin(), taken.end()) * 1e3;
    f.searches = static_cast<double>(taken.size());
    return f;
  }

 private:
  void run() {
    int64_t ids[10];
    for (int64_t q = 0; !stop_; q = (q + 1) % queries_.rows) {
      const double t0 = now_seconds();
      index_.search(queries_.row(q), queries_.dim, ids);
      const double t = now_seconds() - t0;
      std::lock_guard lock(mu_);
      samples_.push_back(t);
    }
  }

  const Target& index_;
  const MatrixView queries_;
  double phase_start_ = now_seconds();
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<double> samples_;  // guarded by mu_
  std::thread thread_;
};

std::vector<int64_t> ids_from(int64_t first, int64_t n) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = first + i;
  return ids;
}

constexpr const char* kPhases[] = {"quiet", "save", "add", "remove"};
constexpr int kPhaseCount = 4;

// One run of every phase on a fresh index of `kind`.
std::vector<PhaseFigures> run_once(const std::string& kind, const FloatMatrix& base,
                                   const FloatMatrix& queries, int64_t n, int quiet_ms,
                                   int writer_threads) {
  const int64_t add_rows = base.rows() - n;
  const MatrixView initial{base.data(), n, base.dim()};
  std::unique_ptr<Target> target;
  if (kind == "hnswlib") {
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    target = std::make_unique<HnswlibTarget>(initial, writer_threads > 0 ? writer_threads : hw);
  } else if (kind.rfind("faiss-ivf", 0) == 0) {  // faiss-ivf[:nlist=N]
    const size_t eq = kind.find("nlist=");
    const int nlist = eq == std::string::npos ? 512 : std::atoi(kind.c_str() + eq + 6);
    target = std::make_unique<FaissIvfTarget>(initial, nlist, writer_threads);
  } else {
    auto options = parse_index_spec(kind);
    check(options.status(), "index spec");
    options->dim = base.dim();
    auto made = make_index(*options);
    check(made.status(), "make_index");
    check((*made)->add(ids_from(0, n), initial), "initial add");
    target = std::make_unique<VecperfTarget>(std::move(*made), writer_threads);
  }
  Target& index = *target;

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
        index.add(ids_from(n + next, batch), MatrixView{base.row(n + next), batch, base.dim()});
        next += batch;
      }
      index.remove(ids_from(n, next));  // undo the adds during the save
    });
    for (int i = 0; i < 5; ++i) index.save();
    saving = false;
    writer.join();
    out.push_back(searcher.next_phase());
  }

  {  // bulk add in batches
    const int64_t batch = std::max<int64_t>(1, add_rows / 4);
    for (int64_t b = 0; b < add_rows; b += batch) {
      const int64_t m = std::min(batch, add_rows - b);
      index.add(ids_from(n + b, m), MatrixView{base.row(n + b), m, base.dim()});
    }
    out.push_back(searcher.next_phase());
  }

  {  // remove 30%
    const int64_t total = n + add_rows, drop = total * 3 / 10,
                  batch = std::max<int64_t>(1, drop / 5);
    for (int64_t b = 0; b < drop; b += batch) index.remove(ids_from(b, std::min(batch, drop - b)));
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
  const std::string kinds =
      string_flag(argc, argv, "kinds", "flat,ivf:nlist=512,faiss-ivf:nlist=512,hnsw,hnswlib");
  const int writer_threads = static_cast<int>(int_flag(argc, argv, "writer-threads", 1));

  ClusteredOptions shape;
  shape.rows = n + n / 2;  // the add phase adds half as many again
  shape.dim = dim;
  auto base = make_clustered(shape);
  auto queries = make_clustered_queries(shape, 200, 77);
  if (!base.ok() || !queries.ok()) return 1;

  std::printf(
      "vecperf_concurrency_bench: N=%lld dim=%lld, %d repeats (medians), writer threads %d, %s\n",
      static_cast<long long>(n), static_cast<long long>(dim), repeats, writer_threads,
      machine_summary().c_str());
  std::printf("%-6s %-7s %9s %9s %9s %9s %10s %9s\n", "kind", "phase", "p50 ms", "p99 ms", "max ms",
              "searches", "p99/quiet", "phase ms");
  std::stringstream list(kinds);
  for (std::string kind; std::getline(list, kind, ',');) {
    std::vector<std::vector<PhaseFigures>> runs;
    for (int r = 0; r < repeats; ++r)
      runs.push_back(run_once(kind, *base, *queries, n, quiet_ms, writer_threads));
    auto med = [&](int phase, double PhaseFigures::*field) {
      std::vector<double> v;
      for (const auto& run : runs) v.push_back(run[static_cast<size_t>(phase)].*field);
      return median(v);
    };
    const double quiet_p99 = med(0, &PhaseFigures::p99_ms);
    for (int p = 0; p < kPhaseCount; ++p) {
      const double p99 = med(p, &PhaseFigures::p99_ms);
      std::printf("%-6s %-7s %9.3f %9.3f %9.3f %9.0f %9.1fx %9.1f\n", kind.c_str(), kPhases[p],
                  med(p, &PhaseFigures::p50_ms), p99, med(p, &PhaseFigures::max_ms),
                  med(p, &PhaseFigures::searches), quiet_p99 > 0 ? p99 / quiet_p99 : 0.0,
                  med(p, &PhaseFigures::wall_ms));
    }
  }
  return 0;
}
