// IVF backend, persistence: the backend's part of the payload, the bridges between our Writer /
// Reader and FAISS's serializer, and the checks a loaded FAISS index must pass (ivf_index.h).
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/invlists/InvertedLists.h>

#include <cstring>
#include <vector>

#include "common/guarded.h"
#include "index/faiss_blob.h"
#include "index/ivf_index.h"
#include "index/option_table.h"

namespace vecperf::internal {
namespace {

// Bridges FAISS's serializer to our Writer; a counting pass (sink == nullptr) measures the size
// first so that the blob can be length-prefixed without buffering a copy of the index.
class WriterBridge : public faiss::IOWriter {
 public:
  explicit WriterBridge(Writer* w) : w_(w) { name = "vecperf payload"; }
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const size_t n = size * nitems;
    if (w_ != nullptr) w_->bytes(ptr, n);
    total_ += n;
    return nitems;
  }
  uint64_t total() const { return total_; }

 private:
  Writer* w_;
  uint64_t total_ = 0;
};

// Reads FAISS's serialization from a bounded byte range; a short read makes FAISS throw.
class ReaderBridge : public faiss::IOReader {
 public:
  ReaderBridge(const char* data, size_t size) : data_(data), size_(size) {
    name = "vecperf payload";
  }
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0) return nitems;
    const size_t avail = std::min(nitems, (size_ - pos_) / size);
    if (avail == 0) return 0;  // FAISS reads empty vectors into a null pointer
    std::memcpy(ptr, data_ + pos_, avail * size);
    pos_ += avail * size;
    return avail;
  }
  size_t consumed() const { return pos_; }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace

void IvfIndex::save_locked(Writer& w) const {
  w.pod<uint32_t>(kIvfPayloadVersion);
  write_options(w, opt_);
  w.pod<uint8_t>(ivf_ ? 1 : 0);
  // The stores in the layout of Writer::vec (u64 float count, then the floats).
  if (!ivf_) {
    w.array(buffer_.data(), static_cast<size_t>(buffer_.rows() * dim()));
    return;
  }
  w.array(originals_.data(), static_cast<size_t>(originals_.rows() * dim()));
  Status s = guarded_void("serializing the IVF index with FAISS", [&] {
    WriterBridge counter(nullptr);
    faiss::write_index(ivf_.get(), &counter);
    w.pod<uint64_t>(counter.total());
    WriterBridge bridge(&w);
    faiss::write_index(ivf_.get(), &bridge);
    if (w.status().ok() && bridge.total() != counter.total())
      w.fail(Status::Internal("FAISS wrote a different number of bytes in its second pass"));
  });
  if (!s.ok()) w.fail(std::move(s));
}

Result<std::unique_ptr<IndexImpl>> IvfIndex::load(Reader& r, int64_t dim, Metric metric,
                                                  IdMap ids) {
  uint32_t version = 0;
  IvfOptions o;
  uint8_t trained = 0;
  r.pod(&version, "ivf payload version");
  if (r.status().ok() && version != kIvfPayloadVersion) {
    r.corrupt("unknown ivf payload version " + std::to_string(version));
    return r.status();
  }
  read_options(r, &o, "ivf");
  r.pod(&trained, "ivf trained flag");
  if (!r.status().ok()) return r.status();
  IndexOptions check;
  check.kind = IndexKind::kIvf;
  check.dim = dim;
  check.ivf = o;
  if (Status s = check.validate(); !s.ok() || trained > 1) {
    r.corrupt("invalid ivf parameters" +
              (s.ok() ? std::string() : ": " + std::string(s.message())));
    return r.status();
  }
  const int64_t slots = ids.slots(), live = ids.live();
  auto index = std::make_unique<IvfIndex>(dim, metric, o, std::move(ids));
  if (!trained) {
    if (live != slots) {
      r.corrupt("ivf training buffer does not match the id map (it holds no removed slots)");
      return r.status();
    }
    VECPERF_RETURN_IF_ERROR(read_rows(r, slots, "ivf training buffer", &index->buffer_));
    return std::unique_ptr<IndexImpl>(std::move(index));
  }
  // Kept exactly when the options ask for re-ranking; a trained index never has zero slots.
  VECPERF_RETURN_IF_ERROR(read_rows(r, index->keeps_originals() ? slots : 0, "ivf re-rank vectors",
                                    &index->originals_));
  uint64_t blob_size = 0;
  r.pod(&blob_size, "faiss index size");
  const char* blob = r.view(blob_size, "faiss index");
  if (blob == nullptr) return r.status();
  {
    // FAISS's reader trusts its input: only a blob of the exact shape we write reaches it.
    Reader check(blob, blob_size, r.what());
    if (!check_faiss_ivf_blob(check, {dim, index->l2(), index->opt_.encoding, index->opt_.pq_m}))
      return check.status();
  }
  ReaderBridge bridge(blob, blob_size);
  faiss::Index* raw = nullptr;
  Status read = guarded_void(
      "reading the FAISS index", [&] { raw = faiss::read_index(&bridge); },
      StatusCode::kCorruption);
  if (!read.ok()) {
    // The blob is bounded and the lists are about its size, so a failed allocation means a
    // damaged length field rather than a genuinely large index: corruption either way.
    r.corrupt(read.code() == StatusCode::kResourceExhausted
                  ? std::string("faiss index declares an impossible size")
                  : std::string(read.message()));
    return r.status();
  }
  std::unique_ptr<faiss::Index> owned(raw);
  if (bridge.consumed() != blob_size) {
    r.corrupt("faiss index is shorter than its recorded size");
    return r.status();
  }
  auto* ivf = dynamic_cast<faiss::IndexIVF*>(owned.get());
  if (ivf == nullptr) {
    r.corrupt("faiss payload is not an IVF index");
    return r.status();
  }
  index->ivf_.reset(static_cast<faiss::IndexIVF*>(owned.release()));  // == ivf
  if (std::string problem = index->check_loaded(); !problem.empty()) {
    r.corrupt("faiss index is inconsistent: " + problem);
    return r.status();
  }
  index->centroids_ = centroids_of(*index->ivf_);
  return std::unique_ptr<IndexImpl>(std::move(index));
}

std::string IvfIndex::check_loaded() const {
  const faiss::IndexIVF& ivf = *ivf_;
  if (ivf.d != dim()) return "dimension " + std::to_string(ivf.d) + " differs from the index";
  if (ivf.metric_type != (l2() ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT))
    return "metric differs from the index";
  if (!ivf.is_trained || ivf.nlist < 1 || ivf.quantizer == nullptr ||
      ivf.quantizer->ntotal != static_cast<faiss::Index::idx_t>(ivf.nlist) ||
      ivf.quantizer->d != dim() || ivf.invlists == nullptr || ivf.invlists->nlist != ivf.nlist)
    return "coarse quantizer or lists malformed";
  if (opt_.nlist > 0 && ivf.nlist != static_cast<size_t>(opt_.nlist))
    return "nlist differs from the saved options";
  bool encoding_ok = false;
  switch (opt_.encoding) {
    case IvfEncoding::kFlat:
      encoding_ok = dynamic_cast<const faiss::IndexIVFFlat*>(&ivf) != nullptr &&
                    ivf.code_size == static_cast<size_t>(dim()) * sizeof(float);
      break;
    case IvfEncoding::kSQ8:
    case IvfEncoding::kSQ4: {
      auto* sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer*>(&ivf);
      encoding_ok = sq != nullptr && sq->sq.qtype == (opt_.encoding == IvfEncoding::kSQ8
                                                          ? faiss::ScalarQuantizer::QT_8bit
                                                          : faiss::ScalarQuantizer::QT_4bit);
      break;
    }
    case IvfEncoding::kPQ: {
      auto* pq = dynamic_cast<const faiss::IndexIVFPQ*>(&ivf);
      encoding_ok =
          pq != nullptr && pq->pq.M == static_cast<size_t>(opt_.pq_m) && pq->pq.nbits == 8;
      break;
    }
  }
  if (!encoding_ok) return "encoding differs from the saved options";
  if (ivf.invlists->code_size != ivf.code_size) return "list code size is wrong";
  if (ivf.direct_map.type != faiss::DirectMap::Hashtable) return "direct map missing";
  // Every live slot exactly once in the lists, and nothing else.
  const IdMap& map = ids();
  if (ivf.ntotal != map.live() ||
      ivf.direct_map.hashtable.size() != static_cast<size_t>(map.live()))
    return "vector count differs from the id map";
  std::vector<uint8_t> seen(static_cast<size_t>(map.slots()), 0);
  for (size_t l = 0; l < ivf.nlist; ++l) {
    const size_t n = ivf.invlists->list_size(l);
    const faiss::Index::idx_t* lids = ivf.invlists->get_ids(l);
    for (size_t j = 0; j < n; ++j) {
      const faiss::Index::idx_t s = lids[j];
      if (s < 0 || s >= map.slots() || map.id(s) == kNoId || seen[s])
        return "list " + std::to_string(l) + " holds an unknown or repeated slot";
      seen[s] = 1;
      auto it = ivf.direct_map.hashtable.find(s);
      if (it == ivf.direct_map.hashtable.end() ||
          it->second != static_cast<faiss::Index::idx_t>((uint64_t(l) << 32) | j))
        return "direct map disagrees with the lists";
    }
  }
  return "";
}

Result<std::unique_ptr<IndexImpl>> load_ivf(Reader& r, int64_t dim, Metric metric, IdMap ids) {
  return IvfIndex::load(r, dim, metric, std::move(ids));
}

}  // namespace vecperf::internal
