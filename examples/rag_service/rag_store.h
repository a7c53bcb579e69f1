// The service's state: documents, their vectors in a vecperf index, the embedding cache, the
// write-ahead log and the snapshots. HTTP knows nothing of these; this knows nothing of HTTP.
#pragma once

#include <vecperf/cache.h>
#include <vecperf/index.h>
#include <vecperf/status.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "document_log.h"
#include "embedder.h"
#include "snapshot.h"

namespace rag {

/// Stages of a request whose latency the service reports separately.
enum class Stage : int {
  kCacheLookup = 0,  ///< embedding-cache lookups (and waits on texts other requests embed)
  kEmbedding,        ///< time inside Embedder::embed
  kLogAppend,        ///< write-ahead log append + fsync
  kIndexAdd,
  kIndexSearch,
  kSerialization,  ///< building the JSON reply
  kCount,
};
inline constexpr int kStageCount = static_cast<int>(Stage::kCount);
const char* stage_name(Stage stage);  ///< "cache_lookup", "embedding", ...

/// Nanoseconds per stage for one request; -1 for a stage the request did not go through.
struct StageTimes {
  std::array<int64_t, kStageCount> ns;
  StageTimes() { ns.fill(-1); }
  void add(Stage s, int64_t v) {
    ns[static_cast<int>(s)] = std::max<int64_t>(ns[static_cast<int>(s)], 0) + v;
  }
};

/// Nanoseconds from `since` to now, on the monotonic clock.
inline int64_t elapsed_ns(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              since)
      .count();
}

struct StoreOptions {
  /// Holds wal/, snapshot/ and cache/. Created if missing. Required.
  std::string data_dir;
  /// Embedding-cache RAM budget. Default: 256 MiB.
  uint64_t cache_ram_bytes = uint64_t{256} << 20;
  /// Take a snapshot once the current log segment holds this many bytes. Default: 64 MiB.
  uint64_t snapshot_log_bytes = uint64_t{64} << 20;
  /// ... or once this many seconds passed since the last one, if anything changed. 0 disables
  /// the timer. Default: 300.
  int snapshot_interval_seconds = 300;
  /// Texts per Embedder::embed call. Default: 64.
  int embed_batch = 64;
};

/// Outcome of add_documents for input document i.
struct AddedDocument {
  int64_t id = 0;
  bool created = false;  ///< false: the same text was already stored (or repeated in the call)
};

struct SearchHit {
  int64_t id = 0;
  float score = 0;  ///< cosine similarity, 1 = same direction
  std::shared_ptr<const std::string> text;
};

struct StoreStats {
  int64_t documents = 0;
  int64_t index_vectors = 0;
  uint64_t index_memory_bytes = 0;
  std::string index_description;
  uint64_t log_bytes = 0;
  uint64_t snapshots = 0;          ///< taken since start
  uint64_t snapshot_failures = 0;  ///< since start
  uint64_t snapshot_generation = 0;
  double last_snapshot_seconds = 0;  ///< duration of the last successful snapshot
  int64_t last_snapshot_unix = 0;    ///< when it finished; 0 if none since start
  uint64_t embedded_texts = 0;       ///< texts passed to the embedder since start
  // Recovery at start-up.
  int64_t recovered_log_entries = 0;
  uint64_t recovery_embedded_texts = 0;  ///< embedder calls the replay needed (0 with a warm cache)
  uint64_t recovery_dropped_tail_bytes = 0;
  double recovery_seconds = 0;
};

/// Thread-safety: every public method may be called concurrently. Searches run in parallel with
/// each other and with writes; writes (add, remove) are serialised so that the log order is the
/// order in which they are applied. A snapshot blocks writes only while it switches log segments
/// and copies the document map (pointers), not while it writes files.
class RagStore {
 public:
  static constexpr int kMaxK = 1000;

  /// Opens the data directory: loads the latest snapshot, replays the log after it (embeddings
  /// come from the cache, so a warm restart calls no model), and starts the snapshot thread.
  /// Errors: kInvalidArgument (options), kUnavailable (another process uses the directory),
  /// kIOError, kCorruption (with what to do).
  static vecperf::Result<std::unique_ptr<RagStore>> open(const StoreOptions& options,
                                                         std::shared_ptr<const Embedder> embedder);
  /// Stops the snapshot thread. Does not snapshot: call snapshot() first for a fast next start.
  ~RagStore();

  /// Stores documents (ids are content hashes of the texts) and returns one outcome per text.
  /// Durable when OK is returned. All-or-nothing. Errors: kInvalidArgument (an empty text, or
  /// one the embedder maps to a zero vector: the message names its position), the embedder's
  /// error, kIOError (log write failed: nothing was stored).
  vecperf::Status add_documents(std::span<const std::string> texts, std::vector<AddedDocument>* out,
                                StageTimes* times);

  /// Removes a document; durable when OK is returned. Errors: kNotFound, kIOError.
  vecperf::Status remove_document(int64_t id);

  /// The `k` documents nearest to `query`, best first. Errors: kInvalidArgument (empty query, k
  /// outside [1, kMaxK], a query without usable words), the embedder's error.
  vecperf::Status search(std::string_view query, int k, std::vector<SearchHit>* hits,
                         StageTimes* times) const;

  /// Takes a snapshot now (see snapshot.h). A no-op when nothing changed since the last one.
  /// Errors: kIOError; the previous snapshot and the log stay valid.
  vecperf::Status snapshot();

  /// Id of a document text: the content hash the service uses.
  static int64_t document_id(std::string_view text);

  StoreStats stats() const;
  const vecperf::Index& index() const { return *index_; }
  vecperf::EmbeddingCache& cache() const { return *cache_; }

 private:
  RagStore(StoreOptions options, std::shared_ptr<const Embedder> embedder);
  vecperf::Status recover();
  vecperf::Status replay(LogEntry&& entry);
  vecperf::Status rebuild_index();
  // Embeds `texts` through the cache into `out`; timings go to `times` when given.
  vecperf::Status embed(std::span<const std::string_view> texts, std::vector<float>* out,
                        StageTimes* times) const;
  void snapshot_loop();
  // Publishes the log's sizes and wakes the snapshot thread when the segment is full.
  // Requires: write_mutex_ held.
  void note_log_size();

  const StoreOptions options_;
  const std::shared_ptr<const Embedder> embedder_;
  std::unique_ptr<vecperf::EmbeddingCache> cache_;
  std::unique_ptr<vecperf::Index> index_;  // internally synchronised
  std::unique_ptr<DocumentLog> log_;       // guarded by write_mutex_
  std::unique_ptr<SnapshotStore> snapshots_;

  // Lock order: snapshot_mutex_, then write_mutex_, then docs_mutex_.
  mutable std::shared_mutex docs_mutex_;
  DocumentMap docs_;  // written under write_mutex_ + docs_mutex_ (exclusive)
  std::mutex write_mutex_;
  uint64_t changes_since_snapshot_ = 0;  // guarded by write_mutex_
  std::mutex snapshot_mutex_;            // one snapshot at a time
  uint64_t generation_ = 0;              // guarded by snapshot_mutex_

  mutable std::atomic<uint64_t> embedded_texts_{0};
  std::atomic<uint64_t> snapshots_taken_{0};
  std::atomic<uint64_t> snapshot_failures_{0};
  std::atomic<uint64_t> snapshot_generation_{0};
  std::atomic<double> last_snapshot_seconds_{0};
  std::atomic<int64_t> last_snapshot_unix_{0};
  std::atomic<uint64_t> log_bytes_{0};      // every live segment
  std::atomic<uint64_t> segment_bytes_{0};  // the current segment
  LogRecovery recovery_;
  uint64_t recovery_embedded_texts_ = 0;
  double recovery_seconds_ = 0;

  std::mutex loop_mutex_;
  std::condition_variable loop_wake_;
  bool stopping_ = false;  // guarded by loop_mutex_
  std::thread snapshot_thread_;
};

}  // namespace rag
