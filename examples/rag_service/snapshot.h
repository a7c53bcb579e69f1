// Snapshot files of the service, in one directory:
//   MANIFEST          the commit record: generation, first log segment to replay, document count
//   index-<g>.vpi     the index (vecperf's own atomic Index::save)
//   documents-<g>.bin the document texts, as log entries in a record file
// Each file is written to a temporary name, fsynced and renamed; MANIFEST is renamed last, so a
// crash at any point leaves the previous snapshot complete and in force.
#pragma once

#include <vecperf/status.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace rag {

/// Document texts by id. Texts are shared, so copying the map for a snapshot copies pointers.
using DocumentMap = std::unordered_map<int64_t, std::shared_ptr<const std::string>>;

struct SnapshotManifest {
  uint64_t generation = 0;
  uint64_t first_log_segment = 0;  ///< replay the log from this segment on
  uint64_t documents = 0;          ///< entries in documents-<generation>.bin
};

/// Thread-safety: none; the service runs one snapshot at a time.
class SnapshotStore {
 public:
  /// Uses `dir` (created if missing) and removes temporary files a crash left there.
  /// Errors: kIOError.
  static vecperf::Result<SnapshotStore> open(const std::string& dir);

  /// The manifest in force, or nullopt when no snapshot was ever committed.
  /// Errors: kIOError, kCorruption (a damaged MANIFEST: the message says what to do).
  vecperf::Result<std::optional<SnapshotManifest>> read_manifest() const;

  std::string index_path(uint64_t generation) const;

  /// Reads the documents of `manifest`. Errors: kNotFound, kIOError, kCorruption (damaged file,
  /// or a document count other than the manifest's).
  vecperf::Status read_documents(const SnapshotManifest& manifest, DocumentMap* docs) const;

  /// Writes documents-<manifest.generation>.bin. The index must already be at
  /// index_path(generation). Then commits MANIFEST and deletes older generations' files.
  /// Errors: kIOError; on error the previous snapshot stays in force.
  vecperf::Status commit(const SnapshotManifest& manifest, const DocumentMap& docs) const;

 private:
  explicit SnapshotStore(std::string dir) : dir_(std::move(dir)) {}
  std::string path(const std::string& name) const;
  std::string documents_path(uint64_t generation) const;

  std::string dir_;
};

}  // namespace rag
