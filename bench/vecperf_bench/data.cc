// Data loading. Synthetic sets use fixed seeds (base 1, queries 2, tuning queries 3, centres
// 42), so two runs with the same --synthetic see the same vectors.
#include "vecperf_bench/data.h"

#include <algorithm>
#include <memory>

namespace vecperf::bench {
namespace {

constexpr uint64_t kBaseSeed = 1;
constexpr uint64_t kQuerySeed = 2;
constexpr uint64_t kTuneSeed = 3;

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Status load_synthetic(const BenchOptions& o, BenchData* d) {
  ClusteredOptions c;
  c.rows = o.synthetic_rows;
  c.dim = o.synthetic_dim;
  c.clusters = o.synthetic_clusters;
  c.seed = kBaseSeed;
  auto base = make_clustered(c);
  if (!base.ok()) return base.status().with_context("--synthetic");
  auto queries = make_clustered_queries(c, o.synthetic_queries, kQuerySeed);
  if (!queries.ok()) return queries.status().with_context("--synthetic queries");
  d->base = *base;
  d->queries = *queries;
  if (o.tune) {
    auto tq = make_clustered_queries(c, o.tune_queries, kTuneSeed);
    if (!tq.ok()) return tq.status().with_context("--synthetic tuning queries");
    d->tune_queries = *tq;
  }
  d->info.source = "synthetic";
  return Status::OK();
}

Status load_files(const BenchOptions& o, BenchData* d) {
  auto base = read_vectors(o.base_path);
  if (!base.ok()) return base.status().with_context("--base " + o.base_path);
  auto queries = read_vectors(o.queries_path);
  if (!queries.ok()) return queries.status().with_context("--queries " + o.queries_path);
  if (queries->dim() != base->dim())
    return Status::InvalidArgument("--queries " + o.queries_path + " has dimension " +
                                   std::to_string(queries->dim()) + " but --base " + o.base_path +
                                   " has " + std::to_string(base->dim()) +
                                   "; they must come from the same data set");
  if (base->rows() == 0 || queries->rows() == 0)
    return Status::InvalidArgument("--base and --queries must each hold at least one vector");
  d->base = *base;
  d->queries = *queries;
  if (o.tune) {
    // Shares the query matrix: the owner keeps its values alive.
    auto owner = std::make_shared<FloatMatrix>(*queries);
    d->tune_queries =
        FloatMatrix(owner, owner->data(), std::min(o.tune_queries, owner->rows()), owner->dim());
  }
  d->info.source = "files";
  d->info.base_path = o.base_path;
  d->info.queries_path = o.queries_path;
  return Status::OK();
}

Status load_truth(const BenchOptions& o, BenchData* d) {
  if (!o.gt_path.empty()) {
    auto gt = read_ground_truth(o.gt_path);
    if (!gt.ok()) return gt.status().with_context("--gt " + o.gt_path);
    if (gt->ids.rows() != d->queries.rows())
      return Status::InvalidArgument("--gt " + o.gt_path + " has " +
                                     std::to_string(gt->ids.rows()) + " rows but --queries has " +
                                     std::to_string(d->queries.rows()) + "; one row per query");
    for (int64_t i = 0; i < gt->ids.rows(); ++i)
      for (int64_t j = 0; j < gt->ids.cols(); ++j)
        if (gt->ids.at(i, j) >= d->base.rows())
          return Status::InvalidArgument("--gt " + o.gt_path + ": id " +
                                         std::to_string(gt->ids.at(i, j)) + " in row " +
                                         std::to_string(i) + " is not a row of --base (" +
                                         std::to_string(d->base.rows()) + " rows)");
    d->truth = gt->ids;
    d->info.gt_path = o.gt_path;
    d->info.gt_source = "file";
    return Status::OK();
  }
  GroundTruthOptions g;
  g.k = o.k;
  g.metric = o.metric;
  const std::string dir = !o.gt_cache_dir.empty() ? o.gt_cache_dir
                          : o.synthetic_rows == 0 ? directory_of(o.base_path)
                                                  : "";
  Result<GroundTruth> gt = dir.empty()
                               ? compute_ground_truth(d->base.view(), d->queries.view(), g)
                               : cached_ground_truth(d->base.view(), d->queries.view(), g, dir);
  if (!gt.ok()) return gt.status().with_context("ground truth");
  d->truth = gt->ids;
  d->info.gt_source = gt->from_cache ? "cache" : "computed";
  d->info.gt_path = gt->cache_path;
  return Status::OK();
}

}  // namespace

Result<BenchData> load_data(const BenchOptions& options) {
  BenchData d;
  VECPERF_RETURN_IF_ERROR(options.synthetic_rows > 0 ? load_synthetic(options, &d)
                                                     : load_files(options, &d));
  VECPERF_RETURN_IF_ERROR(load_truth(options, &d));
  d.info.base_rows = d.base.rows();
  d.info.dim = d.base.dim();
  d.info.queries_rows = d.queries.rows();
  d.info.gt_cols = d.truth.cols();
  return d;
}

}  // namespace vecperf::bench
