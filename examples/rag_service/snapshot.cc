// Snapshot files. The documents file reuses the log's entry encoding in chunks, so the reader is
// the log's reader; unlike the log, any damage in it is an error, because it was fsynced and
// renamed into place whole.
#include "snapshot.h"

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "document_log.h"
#include "record_file.h"

namespace rag {
namespace fs = std::filesystem;
using vecperf::Result;
using vecperf::Status;

namespace {

constexpr std::string_view kManifestMagic = "RAGSNAP1";
constexpr std::string_view kDocumentsMagic = "RAGDOCS1";
constexpr const char* kManifestName = "MANIFEST";
constexpr const char* kTempSuffix = ".tmp";
// Chunks keep each record small enough to read without a large buffer.
constexpr size_t kChunkDocuments = 1024;
constexpr size_t kChunkBytes = size_t{4} << 20;

std::string generation_name(const char* stem, uint64_t generation, const char* ext) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s-%016" PRIu64 "%s", stem, generation, ext);
  return name;
}

// Generation of "index-<g>.vpi" / "documents-<g>.bin"; nullopt for other names.
std::optional<uint64_t> generation_of(const std::string& name) {
  for (const char* stem : {"index-", "documents-"}) {
    if (!name.starts_with(stem)) continue;
    const std::string digits = name.substr(std::string_view(stem).size(), 16);
    if (digits.size() != 16 || digits.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    return std::stoull(digits);
  }
  return std::nullopt;
}

Status write_record_file(const std::string& path, std::string_view magic,
                         const std::function<Status(RecordWriter&)>& fill) {
  const std::string temp = path + kTempSuffix;
  auto writer = RecordWriter::create(temp, magic);
  if (!writer.ok()) return writer.status();
  VECPERF_RETURN_IF_ERROR(fill(**writer));
  VECPERF_RETURN_IF_ERROR((*writer)->sync());
  writer->reset();
  return commit_file(temp, path);
}

}  // namespace

Result<SnapshotStore> SnapshotStore::open(const std::string& dir) {
  VECPERF_RETURN_IF_ERROR(create_directory(dir));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().ends_with(kTempSuffix)) fs::remove(e.path(), ec);
  }
  if (ec) return Status::IOError("cannot clean snapshot directory '" + dir + "': " + ec.message());
  return SnapshotStore(dir);
}

std::string SnapshotStore::path(const std::string& name) const {
  return (fs::path(dir_) / name).string();
}

std::string SnapshotStore::index_path(uint64_t generation) const {
  return path(generation_name("index", generation, ".vpi"));
}

std::string SnapshotStore::documents_path(uint64_t generation) const {
  return path(generation_name("documents", generation, ".bin"));
}

Result<std::optional<SnapshotManifest>> SnapshotStore::read_manifest() const {
  const std::string file = path(kManifestName);
  std::optional<SnapshotManifest> manifest;
  auto end = read_records(file, kManifestMagic, [&](std::string_view payload) {
    ByteReader in(payload);
    SnapshotManifest m;
    if (manifest || !in.u64(&m.generation) || !in.u64(&m.first_log_segment) ||
        !in.u64(&m.documents) || !in.at_end()) {
      return Status::Corruption("malformed manifest record");
    }
    manifest = m;
    return Status::OK();
  });
  if (!end.ok() && end.status().code() == vecperf::StatusCode::kNotFound) {
    return std::optional<SnapshotManifest>();
  }
  const char* advice =
      ": the snapshot cannot be trusted. Move the data directory aside and "
      "restore it from a backup, or start with an empty one";
  if (!end.ok()) return end.status().with_context(file).with_context(advice);
  if (end->torn() || !manifest) {
    return Status::Corruption(file + " is damaged (" +
                              (end->torn() ? end->tail_problem : std::string("no record")) + ")" +
                              advice);
  }
  return manifest;
}

Status SnapshotStore::read_documents(const SnapshotManifest& manifest, DocumentMap* docs) const {
  const std::string file = documents_path(manifest.generation);
  docs->clear();
  LogEntry entry;
  auto end = read_records(file, kDocumentsMagic, [&](std::string_view payload) {
    VECPERF_RETURN_IF_ERROR(decode_entry(payload, &entry));
    if (entry.op != LogEntry::Op::kAdd) return Status::Corruption("unexpected remove entry");
    for (size_t i = 0; i < entry.ids.size(); ++i) {
      (*docs)[entry.ids[i]] = std::make_shared<const std::string>(std::move(entry.texts[i]));
    }
    return Status::OK();
  });
  if (!end.ok()) return end.status().with_context(file);
  if (end->torn()) return Status::Corruption(file + " is damaged: " + end->tail_problem);
  if (docs->size() != manifest.documents) {
    return Status::Corruption(file + " holds " + std::to_string(docs->size()) +
                              " documents but the manifest says " +
                              std::to_string(manifest.documents));
  }
  return Status::OK();
}

Status SnapshotStore::commit(const SnapshotManifest& manifest, const DocumentMap& docs) const {
  VECPERF_RETURN_IF_ERROR(write_record_file(
      documents_path(manifest.generation), kDocumentsMagic, [&](RecordWriter& writer) {
        LogEntry chunk;
        size_t chunk_bytes = 0;
        auto flush = [&]() -> Status {
          if (chunk.ids.empty()) return Status::OK();
          VECPERF_RETURN_IF_ERROR(writer.append(encode_entry(chunk)));
          chunk.ids.clear();
          chunk.texts.clear();
          chunk_bytes = 0;
          return Status::OK();
        };
        for (const auto& [id, text] : docs) {
          chunk.ids.push_back(id);
          chunk.texts.push_back(*text);
          chunk_bytes += text->size();
          if (chunk.ids.size() >= kChunkDocuments || chunk_bytes >= kChunkBytes) {
            VECPERF_RETURN_IF_ERROR(flush());
          }
        }
        return flush();
      }));

  VECPERF_RETURN_IF_ERROR(
      write_record_file(path(kManifestName), kManifestMagic, [&](RecordWriter& w) {
        std::string payload;
        put_u64(&payload, manifest.generation);
        put_u64(&payload, manifest.first_log_segment);
        put_u64(&payload, manifest.documents);
        return w.append(payload);
      }));

  // The new manifest is in force: older generations are garbage. Failing to delete one only
  // costs disk space, and the next snapshot tries again.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const auto g = generation_of(e.path().filename().string());
    if (g && *g < manifest.generation) fs::remove(e.path(), ec);
  }
  return Status::OK();
}

}  // namespace rag
