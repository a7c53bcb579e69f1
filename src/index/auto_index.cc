// Auto backend: a holder of one inner index (Flat, then IVF, then HNSW) that migrates itself
// when an add makes it outgrow its stage.
//
// Why a holder instead of a fourth structure: each stage is an ordinary backend, so the auto
// index inherits their validation, persistence and tests, and only the migration policy lives
// here. Migration is synchronous inside the add that crossed the threshold: the vectors are copied
// out of the old index, added to a new one of the next stage (tuned with the same rule table as
// plan(), index/plan_rules.h), and the inner pointer is swapped. Searches keep using the old index
// until the swap because they only need a shared lock on the pointer, which the migration takes
// exclusively just for the swap itself.
//
// Locks: write_mu_ serialises add/remove/migration (so the inner index cannot change while it is
// copied); mu_ guards the inner_ pointer (shared for every use, exclusive for the swap). The inner
// index has its own lock, which makes concurrent search and add on it safe.
#include <algorithm>
#include <mutex>
#include <shared_mutex>  // std::shared_lock
#include <sstream>
#include <vector>

#include "common/rw_lock.h"
#include "index/index_base.h"
#include "index/options_codec.h"
#include "index/plan_rules.h"

namespace vecperf::internal {
namespace {

// Rows handed to the new index per add call during a migration: one progress report each.
constexpr int64_t kMigrationChunkRows = 8192;

class AutoIndex final : public IndexImpl {
 public:
  AutoIndex(int64_t dim, Metric metric, AutoOptions options, std::unique_ptr<IndexImpl> inner)
      : dim_(dim), metric_(metric), options_(std::move(options)), inner_(std::move(inner)) {}

  IndexKind kind() const override { return IndexKind::kAuto; }
  int64_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }

  int64_t size() const override {
    std::shared_lock lock(mu_);
    return inner_->size();
  }

  Status add(IdSpan ids, MatrixView vectors) override {
    std::lock_guard writer(write_mu_);
    {
      std::shared_lock lock(mu_);
      VECPERF_RETURN_IF_ERROR(inner_->add(ids, vectors));
    }
    // The vectors are in: a failed migration must not make the add look failed, so it leaves
    // the current stage serving, is reported by describe(), and is retried on the next add.
    const IndexKind next = stage_for(inner_->size());
    if (next != inner_->kind()) {
      Status migrated = migrate(next);
      std::lock_guard guard(error_mu_);
      migration_error_ = std::move(migrated);
    }
    return Status::OK();
  }

  Status search(MatrixView queries, const SearchOptions& options,
                SearchResults results) const override {
    std::shared_lock lock(mu_);
    return inner_->search(queries, options, results);
  }

  Status remove(IdSpan ids) override {
    std::lock_guard writer(write_mu_);
    std::shared_lock lock(mu_);
    return inner_->remove(ids);
  }

  size_t memory_bytes() const override {
    std::shared_lock lock(mu_);
    return sizeof(*this) + inner_->memory_bytes();
  }

  std::string describe() const override {
    std::shared_lock lock(mu_);
    std::ostringstream s;
    s << "auto(stage=" << index_kind_name(inner_->kind()) << ", flat_max=" << options_.flat_max
      << ", ivf_max=" << options_.ivf_max << ", target_recall=" << options_.target_recall;
    {
      std::lock_guard guard(error_mu_);
      if (!migration_error_.ok())
        s << ", last_migration_error=\"" << migration_error_.to_string() << '"';
    }
    s << ") -> " << inner_->describe();
    return s.str();
  }

  bool contains(int64_t id) const override {
    std::shared_lock lock(mu_);
    return inner_->contains(id);
  }

  Status get_vector(int64_t id, float* out) const override {
    std::shared_lock lock(mu_);
    return inner_->get_vector(id, out);
  }

  void for_each_vector(const std::function<void(int64_t, const float*)>& fn) const override {
    std::shared_lock lock(mu_);
    inner_->for_each_vector(fn);
  }

  void write_payload(Writer& w) const override {
    std::shared_lock lock(mu_);
    const AutoOptions& o = options_;
    w.pod<int64_t>(o.flat_max);
    w.pod<int64_t>(o.ivf_max);
    w.pod<double>(o.target_recall);
    write_options(w, o.ivf);
    write_options(w, o.hnsw);
    w.pod<uint32_t>(static_cast<uint32_t>(inner_->kind()));
    inner_->write_payload(w);
  }

 private:
  // Stage an index of `n` vectors belongs in. Never goes back: removals do not demote.
  IndexKind stage_for(int64_t n) const {
    const IndexKind current = inner_->kind();
    if (n > options_.ivf_max && current != IndexKind::kHnsw) return IndexKind::kHnsw;
    if (n > options_.flat_max && current == IndexKind::kFlat) return IndexKind::kIvf;
    return current;
  }

  // Options of the next stage for `n` vectors: the caller's IVF/HNSW options with nlist derived
  // from n when 0 and the search knobs raised to what the rule table gives for target_recall.
  Result<std::unique_ptr<IndexImpl>> new_stage(IndexKind next, int64_t n) const {
    if (next == IndexKind::kIvf) {
      IvfOptions o = options_.ivf;
      if (o.nlist == 0) o.nlist = rules::derive_nlist(n);
      o.nprobe =
          std::min(o.nlist, std::max(o.nprobe, rules::nprobe_for(options_.target_recall, o.nlist)));
      // Train once on everything present now (a seeded sample of it), not on the first chunk.
      if (o.train_threshold == 0) o.train_threshold = n;
      o.max_train_samples =
          std::max<int64_t>(o.max_train_samples, rules::kMinTrainPerList * int64_t{o.nlist});
      return new_ivf(dim_, metric_, o);
    }
    HnswOptions o = options_.hnsw;
    o.ef_search = std::max(o.ef_search, rules::ef_search_for(options_.target_recall));
    return new_hnsw(dim_, metric_, o);
  }

  // Builds the next stage from the current one and swaps it in. Requires: write_mu_ held, so
  // inner_ cannot change (reading it without mu_ is then safe: only this thread writes it).
  Status migrate(IndexKind next) {
    const int64_t n = inner_->size();
    auto built = new_stage(next, n);
    if (!built.ok()) return built.status();
    std::unique_ptr<IndexImpl> fresh = std::move(*built);

    // Copied out first so that the progress callback (and the new index's add) run with no lock
    // of the old index held: the callback may search this index. Costs one transient copy.
    std::vector<int64_t> ids;
    std::vector<float> data;
    ids.reserve(static_cast<size_t>(n));
    data.reserve(static_cast<size_t>(n * dim_));
    inner_->for_each_vector([&](int64_t id, const float* v) {
      ids.push_back(id);
      data.insert(data.end(), v, v + dim_);
    });
    const int64_t total = static_cast<int64_t>(ids.size());
    if (options_.on_progress) options_.on_progress(0, total);
    for (int64_t begin = 0; begin < total; begin += kMigrationChunkRows) {
      const int64_t rows = std::min(kMigrationChunkRows, total - begin);
      VECPERF_RETURN_IF_ERROR(fresh->add(IdSpan(ids.data() + begin, static_cast<size_t>(rows)),
                                         MatrixView{data.data() + begin * dim_, rows, dim_}));
      if (options_.on_progress) options_.on_progress(begin + rows, total);
    }
    if (fresh->size() != total)
      return Status::Internal("migration to " + std::string(index_kind_name(next)) + " holds " +
                              std::to_string(fresh->size()) + " vectors instead of " +
                              std::to_string(total));
    {
      std::unique_lock lock(mu_);
      inner_.swap(fresh);
    }
    // `fresh` now owns the old stage and frees it here, outside the lock.
    return Status::OK();
  }

  const int64_t dim_;
  const Metric metric_;
  const AutoOptions options_;
  // Guards the inner_ pointer (not the index it owns). Writer-preferring, so that the swap at the
  // end of a migration is not starved by back-to-back searches.
  mutable RwLock mu_;
  std::unique_ptr<IndexImpl> inner_;  // guarded by mu_; replaced only under write_mu_
  std::mutex write_mu_;               // serialises add, remove and migration
  mutable std::mutex error_mu_;       // guards migration_error_ (read by describe)
  Status migration_error_;            // last migration failure, OK once one succeeds
};

}  // namespace

Result<std::unique_ptr<IndexImpl>> new_auto(int64_t dim, Metric metric,
                                            const AutoOptions& options) {
  auto inner = new_flat(dim, metric, FlatOptions{});
  if (!inner.ok()) return inner.status();
  return std::unique_ptr<IndexImpl>(
      std::make_unique<AutoIndex>(dim, metric, options, std::move(*inner)));
}

Result<std::unique_ptr<IndexImpl>> load_auto(Reader& r) {
  AutoOptions o;
  uint32_t inner_kind = 0;
  r.pod(&o.flat_max, "auto flat_max");
  r.pod(&o.ivf_max, "auto ivf_max");
  r.pod(&o.target_recall, "auto target_recall");
  read_options(r, &o.ivf);
  read_options(r, &o.hnsw);
  r.pod(&inner_kind, "auto inner kind");
  if (!r.status().ok()) return r.status();
  if (inner_kind < static_cast<uint32_t>(IndexKind::kFlat) ||
      inner_kind > static_cast<uint32_t>(IndexKind::kHnsw)) {
    r.corrupt("auto index stage has kind " + std::to_string(inner_kind) +
              " (must be flat, ivf or hnsw)");
    return r.status();
  }
  auto inner = read_index_payload(static_cast<IndexKind>(inner_kind), r);
  if (!inner.ok()) return inner.status();
  IndexOptions check;
  check.kind = IndexKind::kAuto;
  check.dim = (*inner)->dim();
  check.metric = (*inner)->metric();
  check.auto_index = o;
  if (Status s = check.validate(); !s.ok()) {
    r.corrupt("auto index options are invalid: " + std::string(s.message()));
    return r.status();
  }
  const int64_t dim = check.dim;
  const Metric metric = check.metric;
  return std::unique_ptr<IndexImpl>(
      std::make_unique<AutoIndex>(dim, metric, std::move(o), std::move(*inner)));
}

}  // namespace vecperf::internal
