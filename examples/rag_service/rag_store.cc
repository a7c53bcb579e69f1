// RagStore: the write path is  embed (outside any lock) -> [write lock] log append + fsync ->
// index add -> document map insert [unlock]; the read path takes no store-wide lock at all (the
// index has its own readers-writer lock, the document map a shared_mutex held for lookups only).
//
// Snapshots are fuzzy: under the write lock the log switches to a new segment and the document
// map is copied (shared pointers); the index is then saved while writes go on, so it may contain
// changes made after the switch. Replay starts at the new segment and is idempotent per
// document (add: insert where missing; remove: erase where present), and an id always denotes the
// same text (it is the text's hash), so after replay the index and the documents agree whichever
// of those later changes the saved index already had.
#include "rag_store.h"

#include <vecperf/options.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <unordered_set>

namespace rag {
namespace fs = std::filesystem;
using vecperf::Result;
using vecperf::Status;

namespace {

// Namespace of document ids in vecperf::cache_key: ids do not depend on the embedding model, so
// switching models keeps every document's id.
constexpr std::string_view kDocumentIdNamespace = "rag_service/document";
constexpr int64_t kRebuildBatch = 4096;

bool is_zero(const float* v, int64_t dim) {
  for (int64_t i = 0; i < dim; ++i) {
    if (v[i] != 0.0f) return false;
  }
  return true;
}

void warn(const std::string& message) {
  std::fprintf(stderr, "rag_service: warning: %s\n", message.c_str());
}

Result<std::unique_ptr<vecperf::Index>> make_empty_index(int64_t dim) {
  vecperf::IndexOptions options;
  options.kind = vecperf::IndexKind::kAuto;  // Flat while small, then IVF, then HNSW
  options.dim = dim;
  options.metric = vecperf::Metric::kCosine;
  return vecperf::make_index(options);
}

}  // namespace

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kCacheLookup: return "cache_lookup";
    case Stage::kEmbedding: return "embedding";
    case Stage::kLogAppend: return "log_append";
    case Stage::kIndexAdd: return "index_add";
    case Stage::kIndexSearch: return "index_search";
    case Stage::kSerialization: return "serialization";
    case Stage::kCount: break;
  }
  return "unknown";
}

int64_t RagStore::document_id(std::string_view text) {
  return vecperf::cache_key(kDocumentIdNamespace, text).to_id();
}

RagStore::RagStore(StoreOptions options, std::shared_ptr<const Embedder> embedder)
    : options_(std::move(options)), embedder_(std::move(embedder)) {}

Result<std::unique_ptr<RagStore>> RagStore::open(const StoreOptions& options,
                                                 std::shared_ptr<const Embedder> embedder) {
  if (options.data_dir.empty())
    return Status::InvalidArgument("data_dir is empty: pass --data-dir");
  if (!embedder || embedder->dim() < 1)
    return Status::InvalidArgument("embedder missing or with dim < 1");
  if (options.embed_batch < 1) return Status::InvalidArgument("embed_batch must be >= 1");
  std::unique_ptr<RagStore> store(new RagStore(options, std::move(embedder)));

  // The cache holds RocksDB's lock on <data_dir>/cache: opening it first makes a second process
  // on the same data directory fail (kUnavailable) before it touches the log.
  vecperf::CacheOptions cache_options;
  cache_options.model = store->embedder_->model();
  cache_options.model_version = store->embedder_->version();
  cache_options.dim = store->embedder_->dim();
  cache_options.path = (fs::path(options.data_dir) / "cache").string();
  cache_options.ram_budget_bytes = options.cache_ram_bytes;
  auto cache = vecperf::EmbeddingCache::open(cache_options);
  if (!cache.ok()) return cache.status().with_context("opening the embedding cache");
  store->cache_ = std::move(*cache);

  VECPERF_RETURN_IF_ERROR(store->recover());
  store->snapshot_thread_ = std::thread([s = store.get()] { s->snapshot_loop(); });
  return store;
}

RagStore::~RagStore() {
  {
    std::lock_guard lock(loop_mutex_);
    stopping_ = true;
  }
  loop_wake_.notify_all();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
}

Status RagStore::embed(std::span<const std::string_view> texts, std::vector<float>* out,
                       StageTimes* times) const {
  out->resize(texts.size() * static_cast<size_t>(embedder_->dim()));
  std::atomic<int64_t> embed_ns{0};
  std::atomic<bool> called{false};
  const vecperf::EmbedFn fn = [&](std::span<const std::string_view> batch,
                                  std::vector<float>* vectors) {
    const auto start = std::chrono::steady_clock::now();
    Status st = embedder_->embed(batch, vectors);
    embed_ns += elapsed_ns(start);
    called = true;
    embedded_texts_ += batch.size();
    return st;
  };
  const auto start = std::chrono::steady_clock::now();
  Status st = cache_->get_or_compute(texts, fn, options_.embed_batch, out->data());
  if (times) {
    const int64_t total = elapsed_ns(start);
    if (called) times->add(Stage::kEmbedding, embed_ns);
    times->add(Stage::kCacheLookup, std::max<int64_t>(total - embed_ns, 0));
  }
  return st;
}

Status RagStore::add_documents(std::span<const std::string> texts, std::vector<AddedDocument>* out,
                               StageTimes* times) {
  out->assign(texts.size(), AddedDocument{});
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty())
      return Status::InvalidArgument("documents[" + std::to_string(i) + "]: text is empty");
    (*out)[i].id = document_id(texts[i]);
  }

  // The first occurrence of each id not stored yet. Checked again under the write lock, since
  // another request may store the same text meanwhile; this first pass only avoids embedding
  // documents that are already there.
  std::vector<size_t> fresh;
  {
    std::unordered_set<int64_t> seen;
    std::shared_lock lock(docs_mutex_);
    for (size_t i = 0; i < texts.size(); ++i) {
      if (seen.insert((*out)[i].id).second && !docs_.contains((*out)[i].id)) fresh.push_back(i);
    }
  }
  if (fresh.empty()) return Status::OK();

  const int64_t dim = embedder_->dim();
  std::vector<std::string_view> views;
  for (size_t i : fresh) views.push_back(texts[i]);
  std::vector<float> vectors;
  VECPERF_RETURN_IF_ERROR(embed(views, &vectors, times));
  for (size_t j = 0; j < fresh.size(); ++j) {
    if (is_zero(vectors.data() + j * dim, dim)) {
      return Status::InvalidArgument("documents[" + std::to_string(fresh[j]) +
                                     "]: the text has no words the embedder can use");
    }
  }

  std::lock_guard write(write_mutex_);
  LogEntry entry;
  std::vector<float> kept;
  std::vector<size_t> positions;
  for (size_t j = 0; j < fresh.size(); ++j) {
    const int64_t id = (*out)[fresh[j]].id;
    if (docs_.contains(id)) continue;
    entry.ids.push_back(id);
    entry.texts.push_back(texts[fresh[j]]);
    kept.insert(kept.end(), vectors.begin() + j * dim, vectors.begin() + (j + 1) * dim);
    positions.push_back(fresh[j]);
  }
  if (entry.ids.empty()) return Status::OK();

  auto start = std::chrono::steady_clock::now();
  VECPERF_RETURN_IF_ERROR(log_->append(entry));
  note_log_size();
  if (times) times->add(Stage::kLogAppend, elapsed_ns(start));

  start = std::chrono::steady_clock::now();
  const Status added =
      index_->add(entry.ids, {kept.data(), static_cast<int64_t>(entry.ids.size()), dim});
  if (times) times->add(Stage::kIndexAdd, elapsed_ns(start));
  // Logged but not applied (out of memory): the outcome is unknown to the client, and a restart
  // applies the entry; a retry is harmless because adds are idempotent.
  if (!added.ok()) return added.with_context("documents were logged but not indexed");
  {
    std::unique_lock lock(docs_mutex_);
    for (size_t j = 0; j < entry.ids.size(); ++j) {
      docs_[entry.ids[j]] = std::make_shared<const std::string>(std::move(entry.texts[j]));
    }
  }
  for (size_t p : positions) (*out)[p].created = true;
  ++changes_since_snapshot_;
  return Status::OK();
}

Status RagStore::remove_document(int64_t id) {
  std::lock_guard write(write_mutex_);
  if (!docs_.contains(id)) return Status::NotFound("no document with id " + std::to_string(id));
  LogEntry entry;
  entry.op = LogEntry::Op::kRemove;
  entry.ids = {id};
  VECPERF_RETURN_IF_ERROR(log_->append(entry));
  note_log_size();
  if (index_->contains(id)) {
    VECPERF_RETURN_IF_ERROR(
        index_->remove(entry.ids).with_context("removal was logged but not applied"));
  }
  {
    std::unique_lock lock(docs_mutex_);
    docs_.erase(id);
  }
  ++changes_since_snapshot_;
  return Status::OK();
}

void RagStore::note_log_size() {
  log_bytes_ = log_->total_bytes();
  segment_bytes_ = log_->current_segment_bytes();
  if (segment_bytes_ >= options_.snapshot_log_bytes) loop_wake_.notify_one();
}

Status RagStore::search(std::string_view query, int k, std::vector<SearchHit>* hits,
                        StageTimes* times) const {
  hits->clear();
  if (query.empty()) return Status::InvalidArgument("query is empty");
  if (k < 1 || k > kMaxK) {
    return Status::InvalidArgument("k = " + std::to_string(k) + " is outside [1, " +
                                   std::to_string(kMaxK) + "]");
  }
  const int64_t dim = embedder_->dim();
  std::vector<float> vector;
  const std::string_view texts[] = {query};
  VECPERF_RETURN_IF_ERROR(embed(texts, &vector, times));
  if (is_zero(vector.data(), dim))
    return Status::InvalidArgument("query has no words the embedder can use");

  vecperf::SearchOptions options;
  options.k = k;
  options.num_threads = 1;  // one request per HTTP worker thread already fills the cores
  std::vector<float> distances(k);
  std::vector<int64_t> ids(k);
  const auto start = std::chrono::steady_clock::now();
  VECPERF_RETURN_IF_ERROR(
      index_->search({vector.data(), 1, dim}, options, {distances.data(), ids.data()}));
  if (times) times->add(Stage::kIndexSearch, elapsed_ns(start));

  std::shared_lock lock(docs_mutex_);
  for (int i = 0; i < k && ids[i] != vecperf::kNoId; ++i) {
    auto it = docs_.find(ids[i]);
    if (it == docs_.end()) continue;  // removed after the index answered
    hits->push_back({ids[i], 1.0f - distances[i], it->second});
  }
  return Status::OK();
}

Status RagStore::recover() {
  const auto start = std::chrono::steady_clock::now();
  const uint64_t embedded_before = embedded_texts_;
  auto snapshots = SnapshotStore::open((fs::path(options_.data_dir) / "snapshot").string());
  if (!snapshots.ok()) return snapshots.status();
  snapshots_ = std::make_unique<SnapshotStore>(std::move(*snapshots));
  auto manifest = snapshots_->read_manifest();
  if (!manifest.ok()) return manifest.status();

  bool rebuild = false;
  uint64_t first_segment = 0;
  if (*manifest) {
    const SnapshotManifest& m = **manifest;
    VECPERF_RETURN_IF_ERROR(snapshots_->read_documents(m, &docs_));
    auto loaded = vecperf::load(snapshots_->index_path(m.generation));
    if (loaded.ok() && (*loaded)->dim() == embedder_->dim() &&
        (*loaded)->metric() == vecperf::Metric::kCosine) {
      index_ = std::move(*loaded);
    } else {
      // The documents and the cache hold everything the index does: rebuild instead of failing.
      warn("index snapshot unusable (" +
           (loaded.ok() ? std::string("built for another dimension or metric")
                        : loaded.status().to_string()) +
           "); rebuilding it from the documents");
      rebuild = true;
    }
    generation_ = m.generation;
    first_segment = m.first_log_segment;
  }
  if (!index_) {
    auto fresh = make_empty_index(embedder_->dim());
    if (!fresh.ok()) return fresh.status();
    index_ = std::move(*fresh);
  }

  auto log = DocumentLog::open((fs::path(options_.data_dir) / "wal").string(), first_segment,
                               [this](LogEntry&& e) { return replay(std::move(e)); }, &recovery_);
  if (!log.ok()) return log.status();
  log_ = std::move(*log);
  note_log_size();
  if (recovery_.dropped_tail_bytes > 0) {
    warn("dropped an unacknowledged, torn log record (" +
         std::to_string(recovery_.dropped_tail_bytes) + " bytes, " + recovery_.tail_problem + ")");
  }

  if (!rebuild) {
    // After replay the index must hold exactly the documents; anything else is a bug or damage
    // that the snapshot's checksums could not see, and a rebuild repairs it.
    bool agree = index_->size() == static_cast<int64_t>(docs_.size());
    for (auto it = docs_.begin(); agree && it != docs_.end(); ++it)
      agree = index_->contains(it->first);
    if (!agree) {
      warn("index (" + std::to_string(index_->size()) + " vectors) disagrees with the documents (" +
           std::to_string(docs_.size()) + "); rebuilding it");
      rebuild = true;
    }
  }
  if (rebuild) VECPERF_RETURN_IF_ERROR(rebuild_index());
  // Replayed entries are not in any snapshot yet.
  changes_since_snapshot_ = static_cast<uint64_t>(recovery_.entries) + (rebuild ? 1 : 0);
  snapshot_generation_ = generation_;
  recovery_embedded_texts_ = embedded_texts_ - embedded_before;
  recovery_seconds_ = elapsed_ns(start) * 1e-9;
  return Status::OK();
}

Status RagStore::replay(LogEntry&& entry) {
  const int64_t dim = embedder_->dim();
  if (entry.op == LogEntry::Op::kRemove) {
    for (int64_t id : entry.ids) {
      docs_.erase(id);
      if (index_->contains(id))
        VECPERF_RETURN_IF_ERROR(index_->remove(std::span<const int64_t>(&id, 1)));
    }
    return Status::OK();
  }
  std::vector<int64_t> missing;
  std::vector<std::string_view> missing_texts;
  for (size_t i = 0; i < entry.ids.size(); ++i) {
    if (!index_->contains(entry.ids[i])) {
      missing.push_back(entry.ids[i]);
      missing_texts.push_back(entry.texts[i]);
    }
  }
  if (!missing.empty()) {
    std::vector<float> vectors;
    VECPERF_RETURN_IF_ERROR(embed(missing_texts, &vectors, nullptr));
    VECPERF_RETURN_IF_ERROR(
        index_->add(missing, {vectors.data(), static_cast<int64_t>(missing.size()), dim}));
  }
  for (size_t i = 0; i < entry.ids.size(); ++i) {
    if (!docs_.contains(entry.ids[i])) {
      docs_[entry.ids[i]] = std::make_shared<const std::string>(std::move(entry.texts[i]));
    }
  }
  return Status::OK();
}

Status RagStore::rebuild_index() {
  auto fresh = make_empty_index(embedder_->dim());
  if (!fresh.ok()) return fresh.status();
  const int64_t dim = embedder_->dim();
  std::vector<int64_t> ids;
  std::vector<std::string_view> texts;
  std::vector<float> vectors;
  auto flush = [&]() -> Status {
    if (ids.empty()) return Status::OK();
    VECPERF_RETURN_IF_ERROR(embed(texts, &vectors, nullptr));
    VECPERF_RETURN_IF_ERROR(
        (*fresh)->add(ids, {vectors.data(), static_cast<int64_t>(ids.size()), dim}));
    ids.clear();
    texts.clear();
    return Status::OK();
  };
  for (const auto& [id, text] : docs_) {
    ids.push_back(id);
    texts.push_back(*text);
    if (static_cast<int64_t>(ids.size()) >= kRebuildBatch) VECPERF_RETURN_IF_ERROR(flush());
  }
  VECPERF_RETURN_IF_ERROR(flush());
  index_ = std::move(*fresh);
  return Status::OK();
}

Status RagStore::snapshot() {
  std::lock_guard snapshot_lock(snapshot_mutex_);
  const auto start = std::chrono::steady_clock::now();
  SnapshotManifest manifest;
  DocumentMap docs;
  {
    std::lock_guard write(write_mutex_);
    if (changes_since_snapshot_ == 0) return Status::OK();
    auto segment = log_->rotate();
    if (!segment.ok()) {
      ++snapshot_failures_;
      return segment.status();
    }
    manifest.first_log_segment = *segment;
    note_log_size();
    docs = docs_;
    changes_since_snapshot_ = 0;
  }
  manifest.generation = generation_ + 1;
  manifest.documents = docs.size();

  Status st = index_->save(snapshots_->index_path(manifest.generation));
  if (st.ok()) st = snapshots_->commit(manifest, docs);
  std::lock_guard write(write_mutex_);
  if (!st.ok()) {
    ++snapshot_failures_;
    ++changes_since_snapshot_;  // so that the next attempt does not think it has nothing to do
    return st.with_context("snapshot failed (the previous one and the log stay in force)");
  }
  generation_ = manifest.generation;
  st = log_->remove_segments_before(manifest.first_log_segment);
  note_log_size();
  ++snapshots_taken_;
  snapshot_generation_ = generation_;
  last_snapshot_seconds_ = elapsed_ns(start) * 1e-9;
  last_snapshot_unix_ = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  return st;
}

void RagStore::snapshot_loop() {
  auto last = std::chrono::steady_clock::now();
  std::unique_lock lock(loop_mutex_);
  while (!stopping_) {
    loop_wake_.wait_for(lock, std::chrono::seconds(1));
    if (stopping_) break;
    const bool by_size = segment_bytes_.load() >= options_.snapshot_log_bytes;
    const bool by_time = options_.snapshot_interval_seconds > 0 &&
                         std::chrono::steady_clock::now() - last >=
                             std::chrono::seconds(options_.snapshot_interval_seconds);
    if (!by_size && !by_time) continue;
    lock.unlock();
    const Status st = snapshot();
    if (!st.ok()) warn(st.to_string());
    last = std::chrono::steady_clock::now();
    lock.lock();
  }
}

StoreStats RagStore::stats() const {
  StoreStats s;
  {
    std::shared_lock lock(docs_mutex_);
    s.documents = static_cast<int64_t>(docs_.size());
  }
  s.index_vectors = index_->size();
  s.index_memory_bytes = index_->memory_bytes();
  s.index_description = index_->describe();
  s.log_bytes = log_bytes_;
  s.snapshots = snapshots_taken_;
  s.snapshot_failures = snapshot_failures_;
  s.snapshot_generation = snapshot_generation_;
  s.last_snapshot_seconds = last_snapshot_seconds_;
  s.last_snapshot_unix = last_snapshot_unix_;
  s.embedded_texts = embedded_texts_;
  s.recovered_log_entries = recovery_.entries;
  s.recovery_embedded_texts = recovery_embedded_texts_;
  s.recovery_dropped_tail_bytes = recovery_.dropped_tail_bytes;
  s.recovery_seconds = recovery_seconds_;
  return s;
}

}  // namespace rag
