// Building the vecperf index and measuring any engine over a sweep of its knob.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vecperf/dataset.h"
#include "vecperf/index.h"
#include "vecperf/tuning.h"
#include "vecperf_bench/engine.h"
#include "vecperf_bench/options.h"
#include "vecperf_bench/results.h"

namespace vecperf::bench {

/// Progress of a long step: (done, total).
using Progress = std::function<void(int64_t done, int64_t total)>;

/// The integer after ", key=" in an Index::describe() line (e.g. "nlist", "M"), or 0.
int describe_value(const std::string& describe, const std::string& key);

/// vecperf's index behind the Engine interface.
class VecperfEngine final : public Engine {
 public:
  /// Reads the backend and its knob once: describe() walks the lists, far too slow per query.
  explicit VecperfEngine(std::unique_ptr<Index> index);
  std::string engine() const override { return "vecperf"; }
  std::string index() const override { return kind_; }
  std::string knob() const override { return knob_; }
  int max_knob() const override { return max_knob_; }
  std::string describe() const override { return index_->describe(); }
  size_t memory_bytes() const override { return index_->memory_bytes(); }
  Status search(MatrixView queries, int k, int value, int threads, int64_t* ids) override;

  Index& get() { return *index_; }
  /// The index's default value of knob() (0 when there is no knob).
  int default_knob() const;

 private:
  std::unique_ptr<Index> index_;
  std::string kind_;
  std::string knob_;
  int max_knob_ = 0;
  std::vector<float> distances_;
};

/// Fills in what the spec left to the data: dim, metric, and for IVF the nlist (derived from
/// the base size as plan() does) and a training set of the whole base (sampled to
/// max_train_samples), so that a peer can train on the same rows with the same seed.
IndexOptions resolve_index_options(const IndexSpec& spec, int64_t rows, int64_t dim, Metric metric);

/// Builds the vecperf index from the spec (or plan() + build_tuned() for "plan"), adding the
/// base in chunks with row numbers as ids. `tuning` receives build_tuned()'s result.
Result<std::unique_ptr<VecperfEngine>> build_vecperf(const BenchOptions& options,
                                                     const FloatMatrix& base,
                                                     const Progress& progress,
                                                     std::optional<TuningResult>* tuning);

/// How to measure one setting.
struct MeasureConfig {
  int k = 10;
  int threads = 0;
  int repeats = 3;
  int64_t latency_queries = 0;  ///< 0 = all queries
};

/// Recall, batch QPS (median of `repeats`), single-query QPS and latency percentiles of `engine`
/// at knob `value`. Fills the measured fields of a RunPoint (engine, index, knob, value).
Result<RunPoint> measure(Engine& engine, int value, MatrixView queries, const IntMatrix& truth,
                         const MeasureConfig& config);

/// The settings to sweep for `engine`: the explicit list for its knob when given, otherwise a
/// geometric sweep (powers of two from 1 to max_knob() for nprobe; k, then powers of two up to
/// 1024 for ef_search), and one point for exact search.
std::vector<int> sweep_values(const Engine& engine, const BenchOptions& options);

}  // namespace vecperf::bench
