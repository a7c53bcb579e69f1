// Auto backend: a holder of one inner index (Flat, then IVF, then HNSW) that migrates itself
// when an add makes it outgrow its stage.
//
// Why a holder instead of a fourth structure: each stage is an ordinary backend, so the auto
// index inherits their validation, persistence and tests, and only the migration policy lives
// here. Migration is synchronous inside the add that crossed the threshold: the vectors are copied
// out of the old index, added to a new one of the next stage (configured with the same rule
// table as plan(), build/plan_rules.h), its search knob is tuned to target_recall on held-out
// vectors (vecperf/tuning.h), and the inner pointer is swapped. Searches keep using the old index
// until the swap because they only need a shared lock on the pointer, which the migration takes
// exclusively just for the swap itself.
//
// Locks: write_mu_ serialises add/remove/migration (so the inner index cannot change while it is
// copied); mu_ guards the inner_ pointer (shared for every use, exclusive for the swap), and
// read_gate_ lets a save or a visit of every vector read it for as long as it takes without a
// queued swap stopping searches. The inner index has its own locks, which make concurrent search
// and add on it safe.
//
// Layer: build (docs/architecture.md). It sits above the index layer because a migration plans
// (plan_rules.h) and tunes (tuning/) its next stage; the stages are plain backends that know
// nothing of it, and the metrics of the whole auto index are recorded by the wrapper that
// make_index() and load() put around it.
#include "build/auto_index.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>  // std::shared_lock
#include <sstream>
#include <vector>

#include "build/plan_rules.h"
#include "common/rw_lock.h"
#include "common/test_points.h"
#include "index/index_base.h"
#include "index/option_table.h"
#include "tuning/held_out_build.h"
#include "vecperf/tuning.h"

namespace vecperf::internal {
namespace {

// Rows handed to the new index per add call during a migration: one progress report each.
constexpr int64_t kMigrationChunkRows = 8192;
// Tuning after a migration (recall@10, as plan() targets): up to kTuneSample held-out queries,
// fewer when the exact scan would exceed kTuneWork multiply-adds (a few seconds on one core),
// but at least kTuneMinSample so that recall is still measured on 1,000 neighbours.
constexpr int kTuneK = 10;
constexpr int64_t kTuneSample = 500;
constexpr int64_t kTuneMinSample = 100;
constexpr double kTuneWork = 2e10;

std::mutex& hook_mu() {
  static std::mutex mu;
  return mu;
}
MigrationHook& migration_hook() {
  static MigrationHook hook;  // guarded by hook_mu()
  return hook;
}

// The test seam's verdict on a migration to `next` (OK when no hook is set).
Status migration_fault(IndexKind next) {
  std::lock_guard lock(hook_mu());
  return migration_hook() ? migration_hook()(next) : Status::OK();
}

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

  using Index::add;

  // The stage adds by chunks and undoes them if `progress` stops it. `progress` may search this
  // index: that takes mu_ shared as well, and mu_ is taken exclusively only under write_mu_.
  Status add(IdSpan ids, MatrixView vectors, const AddOptions& options) override {
    std::lock_guard writer(write_mu_);
    {
      std::shared_lock lock(mu_);
      VECPERF_RETURN_IF_ERROR(inner_->add(ids, vectors, options));
    }
    // The vectors are in: a failed migration must not make the add look failed, so it leaves
    // the current stage serving, shows in migration_status() (and the migrations metric), and
    // is retried on the next add.
    const IndexKind next = stage_for(inner_->size());
    if (next != inner_->kind()) {
      Status migrated = migrate(next, options.num_threads);
      std::lock_guard guard(status_mu_);
      ++(migrated.ok() ? migration_.migrations : migration_.failures);
      migration_.last_error = std::move(migrated);
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
    IndexOptions mine;
    mine.kind = IndexKind::kAuto;
    mine.auto_index = options_;
    s << "auto(stage=" << index_kind_name(inner_->kind()) << ", " << describe_options(mine);
    {
      std::lock_guard guard(status_mu_);
      if (!migration_.last_error.ok())
        s << ", last_migration_error=\"" << migration_.last_error.to_string() << '"';
    }
    s << ") -> " << inner_->describe();
    return s.str();
  }

  int64_t next_free_id() const override {
    std::shared_lock lock(mu_);
    return inner_->next_free_id();
  }

  bool contains(int64_t id) const override {
    std::shared_lock lock(mu_);
    return inner_->contains(id);
  }

  Status get_vector(int64_t id, float* out) const override {
    std::shared_lock lock(mu_);
    return inner_->get_vector(id, out);
  }

  void for_each_vector(const VectorVisitor& fn) const override {
    std::shared_lock gate(read_gate_);  // a long read (see read_gate_)
    inner_->for_each_vector(fn);
  }

  SearchOptions default_search_options() const override {
    std::shared_lock lock(mu_);
    return inner_->default_search_options();
  }

  Status set_default_search_options(const SearchOptions& options) override {
    // write_mu_ so that a migration in progress cannot swap in a stage without the change.
    std::lock_guard writer(write_mu_);
    std::shared_lock lock(mu_);
    return inner_->set_default_search_options(options);
  }

  IndexCapabilities capabilities() const override {
    std::shared_lock lock(mu_);
    return inner_->capabilities();
  }

  size_t device_memory_bytes() const override { return 0; }  // its stages are CPU backends

  MigrationStatus migration_status() const override {
    std::lock_guard guard(status_mu_);
    return migration_;
  }

  void write_payload(Writer& w) const override {
    std::shared_lock gate(read_gate_);  // a long read (see read_gate_)
    write_options(w, options_);
    write_options(w, options_.ivf);
    write_options(w, options_.hnsw);
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
  // from n when 0 and the search knobs raised to what the rule table gives for target_recall
  // (the starting point: tuning replaces them). An IVF stage trains at `train_at` vectors.
  Result<std::unique_ptr<IndexImpl>> new_stage(IndexKind next, int64_t n, int64_t train_at) const {
    if (next == IndexKind::kIvf) {
      IvfOptions o = options_.ivf;
      if (o.nlist == 0) o.nlist = rules::derive_nlist(n);
      o.nprobe =
          std::min(o.nlist, std::max(o.nprobe, rules::nprobe_for(options_.target_recall, o.nlist)));
      // Train once on everything present now (a seeded sample of it), not on the first chunk.
      if (o.train_threshold == 0) o.train_threshold = train_at;
      o.max_train_samples =
          std::max<int64_t>(o.max_train_samples, rules::kMinTrainPerList * int64_t{o.nlist});
      return new_ivf(dim_, metric_, o);
    }
    HnswOptions o = options_.hnsw;
    o.ef_search = std::max(o.ef_search, rules::ef_search_for(options_.target_recall));
    // Room for all n at once: the tuning sample is added after the rest (add_and_tune), which
    // must not double the graph's memory for its last few hundred vectors.
    return new_hnsw(dim_, metric_, o, n);
  }

  // Builds the next stage from the current one and swaps it in. Requires: write_mu_ held, so
  // inner_ cannot change (reading it without mu_ is then safe: only this thread writes it).
  Status migrate(IndexKind next, int num_threads) {
    VECPERF_RETURN_IF_ERROR(migration_fault(next));
    const int64_t n = inner_->size();
    const TuningOptions tuning = stage_tuning(n, num_threads);
    // add_and_tune adds all but the tuning sample first: the stage trains on those.
    auto built = new_stage(next, n, n - held_out_rows(n, tuning.sample_size));
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
    // Tuned before the swap, so no search ever runs on the untuned stage. A failed tuning leaves
    // the rule table's knob, which is still a working index: the stage is swapped in anyway.
    Result<TuningResult> tuned = Status::Internal("not tuned");
    VECPERF_RETURN_IF_ERROR(add_and_tune(*fresh, ids, MatrixView{data.data(), total, dim_},
                                         options_.target_recall, kTuneK, tuning,
                                         kMigrationChunkRows, options_.on_progress, &tuned));
    if (fresh->size() != total)
      return Status::Internal("migration to " + std::string(index_kind_name(next)) + " holds " +
                              std::to_string(fresh->size()) + " vectors instead of " +
                              std::to_string(total));
    {
      reach(TestPoint::kWriterAwaitsSaves);
      std::unique_lock gate(read_gate_);
      std::unique_lock lock(mu_);
      inner_.swap(fresh);
    }
    // `fresh` now owns the old stage and frees it here, outside the lock.
    if (!tuned.ok())
      return tuned.status().with_context(
          "migrated to " + std::string(index_kind_name(next)) +
          ", but tuning its search knob failed (the rule table's value "
          "stays)");
    return Status::OK();
  }

  // How a stage of n vectors is tuned: the knob set to the smallest value reaching
  // target_recall on a held-out sample whose size bounds the exact scan's cost.
  TuningOptions stage_tuning(int64_t n, int num_threads) const {
    TuningOptions t;
    const double per_query = static_cast<double>(n) * static_cast<double>(dim_);
    t.sample_size = std::clamp<int64_t>(static_cast<int64_t>(kTuneWork / per_query), kTuneMinSample,
                                        kTuneSample);
    t.apply = true;
    t.num_threads = num_threads;  // the triggering add's: the migration builds and tunes with it
    return t;
  }

  const int64_t dim_;
  const Metric metric_;
  const AutoOptions options_;
  // Guards the inner_ pointer (not the index it owns). Writer-preferring, so that the swap at the
  // end of a migration is not starved by back-to-back searches.
  mutable RwLock mu_;
  // Held shared by the long reads (save, to_bytes, for_each_vector) instead of mu_, and taken by
  // the swap before mu_: a swap waits for a save without queueing on mu_, where it would make new
  // searches wait too (as IndexBase does; see index_base.h).
  mutable RwLock read_gate_;
  std::unique_ptr<IndexImpl> inner_;  // guarded by mu_ (read) and read_gate_ + mu_ (replaced)
  std::mutex write_mu_;               // serialises add, remove and migration
  mutable std::mutex status_mu_;      // guards migration_ (read by describe and callers)
  MigrationStatus migration_;         // counts since construction; last_error OK once one succeeds
};

}  // namespace

void set_migration_hook_for_testing(MigrationHook hook) {
  std::lock_guard lock(hook_mu());
  migration_hook() = std::move(hook);
}

Result<std::unique_ptr<IndexImpl>> new_auto(int64_t dim, Metric metric,
                                            const AutoOptions& options) {
  Result<std::unique_ptr<IndexImpl>> inner = new_flat(dim, metric, FlatOptions{});
  if (!inner.ok()) return inner.status();
  return std::unique_ptr<IndexImpl>(
      std::make_unique<AutoIndex>(dim, metric, options, std::move(*inner)));
}

Result<std::unique_ptr<IndexImpl>> load_auto(Reader& r) {
  AutoOptions o;
  uint32_t inner_kind = 0;
  read_options(r, &o, "auto") && read_options(r, &o.ivf, "ivf") && read_options(r, &o.hnsw, "hnsw");
  r.pod(&inner_kind, "auto inner kind");
  if (!r.status().ok()) return r.status();
  if (inner_kind < static_cast<uint32_t>(IndexKind::kFlat) ||
      inner_kind > static_cast<uint32_t>(IndexKind::kHnsw)) {
    r.corrupt("auto index stage has kind " + std::to_string(inner_kind) +
              " (must be flat, ivf or hnsw)");
    return r.status();
  }
  Result<std::unique_ptr<IndexImpl>> inner =
      read_backend_payload(static_cast<IndexKind>(inner_kind), r);
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
