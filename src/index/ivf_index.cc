// IVF backend, lifecycle: removal and the compaction of tombstones, stored vectors, memory,
// default knobs and describe() (ivf_index.h has the data structure).
#include "index/ivf_index.h"

#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/invlists/DirectMap.h>
#include <faiss/invlists/InvertedLists.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "common/guarded.h"
#include "common/test_points.h"
#include "distance/distance.h"
#include "index/option_table.h"

namespace vecperf::internal {

int derive_pq_m(int64_t dim) {
  const double target = std::max<double>(1.0, double(dim) / 4.0);
  int best = 1;
  for (int64_t m = 1; m <= dim; ++m) {
    if (dim % m != 0) continue;
    if (std::abs(double(m) - target) <= std::abs(double(best) - target)) best = static_cast<int>(m);
  }
  return best;
}

Status IvfIndex::remove_locked(std::span<const int64_t> slots) {
  if (!ivf_) {
    remove_dense(slots, ids(), buffer_);  // untrained: dense like the Flat backend
    return Status::OK();
  }
  // The hash-table direct map finds each entry, and the list's last entry moves into its place:
  // the cost is per removed vector, not per list. Nothing here allocates, so it cannot fail
  // half-way (a missing entry is a broken invariant, reported before anything changes).
  auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivf_->invlists);
  if (lists == nullptr) return Status::Internal("IVF lists are not array lists");
  auto& direct = ivf_->direct_map.hashtable;
  for (int64_t s : slots)
    if (direct.count(s) == 0)
      return Status::Internal("IVF slot " + std::to_string(s) + " is missing from the lists");
  const size_t code_size = ivf_->code_size;
  for (int64_t s : slots) {
    auto it = direct.find(s);
    const size_t list = faiss::lo_listno(it->second), at = faiss::lo_offset(it->second);
    direct.erase(it);
    std::vector<uint8_t>& codes = lists->codes[list];
    std::vector<faiss::Index::idx_t>& labels = lists->ids[list];
    const size_t last = labels.size() - 1;
    if (at != last) {
      std::memcpy(codes.data() + at * code_size, codes.data() + last * code_size, code_size);
      labels[at] = labels[last];
      direct[labels[at]] = static_cast<faiss::Index::idx_t>(faiss::lo_build(list, at));
    }
    codes.resize(last * code_size);
    labels.resize(last);
  }
  ivf_->ntotal -= static_cast<faiss::Index::idx_t>(slots.size());
  if (originals_.rows() > 0)
    for (int64_t s : slots) originals_.clear_row(s);
  return Status::OK();
}

void IvfIndex::after_remove_unlocked() {
  // A tombstone costs 8 bytes in the id map and, with re-ranking, a row of the re-rank store,
  // so under churn they would grow without bound. Renumbering costs one pass over the lists;
  // doing it when tombstones reach half the slots keeps that O(1) per removal.
  if (ivf_ && 2 * (ids().slots() - ids().live()) >= ids().slots()) compact();
}

void IvfIndex::vector_locked(int64_t slot, float* out) const {
  const size_t d = static_cast<size_t>(dim());
  if (!ivf_) {
    std::copy_n(buffer_.row(slot), d, out);
  } else if (originals_.rows() > 0) {
    std::copy_n(originals_.row(slot), d, out);
  } else {
    // Cannot fail for a live slot (the direct map holds every one); the hook has no status, so
    // an impossible failure reads as a recognisable vector rather than garbage.
    if (!guarded_void("decoding a stored vector", [&] { ivf_->reconstruct(slot, out); }).ok())
      std::fill_n(out, d, std::numeric_limits<float>::quiet_NaN());
  }
}

size_t IvfIndex::memory_locked() const {
  size_t bytes =
      buffer_.memory_bytes() + originals_.memory_bytes() + centroids_.capacity() * sizeof(float);
  if (!ivf_) return bytes;
  const faiss::InvertedLists* il = ivf_->invlists;
  for (size_t l = 0; l < il->nlist; ++l)
    bytes += il->list_size(l) * (il->code_size + sizeof(faiss::Index::idx_t));
  bytes += il->nlist * sizeof(std::vector<uint8_t>) * 2;
  // FAISS's quantizer keeps its own copy of the centroids; the hash-table direct map costs a
  // node (key, value, next, hash) plus a bucket per vector.
  bytes += static_cast<size_t>(nlist()) * static_cast<size_t>(dim()) * sizeof(float);
  bytes += ivf_->direct_map.hashtable.size() * 4 * sizeof(int64_t) +
           ivf_->direct_map.hashtable.bucket_count() * sizeof(void*);
  if (auto* pq = dynamic_cast<const faiss::IndexIVFPQ*>(ivf_.get()))
    bytes += (pq->pq.centroids.capacity() + pq->precomputed_table.size()) * sizeof(float);
  if (auto* sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer*>(ivf_.get()))
    bytes += sq->sq.trained.capacity() * sizeof(float);
  return bytes;
}

SearchOptions IvfIndex::defaults_locked() const {
  SearchOptions o;
  o.nprobe = opt_.nprobe;
  o.rerank = opt_.rerank;
  return o;
}

Status IvfIndex::set_defaults_locked(const SearchOptions& o) {
  // rerank needs the float32 originals, which are kept (from the first add) only when the
  // index was created with rerank > 0 on compressed codes; so it can change, not appear.
  if (o.rerank > 0 && !keeps_originals())
    return Status::InvalidArgument(
        "rerank needs the float32 vectors, which this IVF index does not keep (" +
        std::string(opt_.encoding == IvfEncoding::kFlat
                        ? "its lists are float32 already"
                        : "it was created with rerank 0; create it with rerank > 0") +
        ")");
  if (o.nprobe > 0) opt_.nprobe = o.nprobe;
  if (o.rerank > 0) opt_.rerank = o.rerank;
  return Status::OK();
}

IndexCapabilities IvfIndex::capabilities_locked() const {
  if (!ivf_) return IndexCapabilities{IndexKind::kIvf};  // buffering: searches are exact
  return IndexCapabilities{IndexKind::kIvf, SearchKnob::kNprobe, nlist()};
}

std::string IvfIndex::describe_locked() const {
  std::ostringstream s;
  s << "ivf(dim=" << dim() << ", metric=" << metric_name(metric()) << ", " << describe_options(opt_)
    << ", trained=" << (ivf_ ? "yes" : "no") << ", size=" << ids().live();
  if (ivf_) {
    s << ", lists=" << nlist() << ", tombstones=" << ids().slots() - ids().live();
    const faiss::InvertedLists* il = ivf_->invlists;
    size_t lo = std::numeric_limits<size_t>::max(), hi = 0, total = 0;
    for (size_t l = 0; l < il->nlist; ++l) {
      const size_t n = il->list_size(l);
      lo = std::min(lo, n);
      hi = std::max(hi, n);
      total += n;
    }
    s << ", list_size min/mean/max=" << lo << "/" << (total / std::max<size_t>(1, il->nlist)) << "/"
      << hi;
  } else {
    s << ", train_at=" << train_threshold();
  }
  s << ", kernels=" << kernels().name << ")";
  return s.str();
}

void IvfIndex::compact() {
  // Runs with the lock released (after_remove_unlocked: the only writer, so nothing it reads
  // changes); searches go on with the old labels until the swap.
  auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivf_->invlists);
  if (lists == nullptr) return;  // every index we build or load has array lists
  using Label = faiss::Index::idx_t;
  std::vector<std::vector<Label>> labels(lists->nlist);
  std::unordered_map<Label, Label> direct;
  std::vector<int64_t> src;
  // Whatever fails (only allocation can) does so before anything changed: the tombstones stay.
  Status built = guarded_void("compacting the IVF lists", [&] {
    src = ids().compaction_sources();
    std::vector<Label> relabel(static_cast<size_t>(ids().slots()), -1);
    for (size_t s = 0; s < src.size(); ++s)
      relabel[static_cast<size_t>(src[s])] = static_cast<Label>(s);
    direct.reserve(src.size());
    for (size_t l = 0; l < lists->nlist; ++l) {
      labels[l].reserve(lists->ids[l].size());
      for (size_t j = 0; j < lists->ids[l].size(); ++j) {
        const Label label = relabel[static_cast<size_t>(lists->ids[l][j])];
        labels[l].push_back(label);
        direct.emplace(label, faiss::lo_build(l, j));
      }
    }
  });
  if (!built.ok()) return;
  RowStore::Buffer originals;
  if (originals_.rows() > 0 && !originals_.gather(src, &originals).ok()) return;
  reach(TestPoint::kCompactionBuilt);
  RowStore::Buffer replaced;  // freed on return, after the exclusive lock
  exclusive([&] {
    for (size_t l = 0; l < lists->nlist; ++l) lists->ids[l].swap(labels[l]);
    ivf_->direct_map.hashtable.swap(direct);
    if (originals_.rows() > 0)
      replaced = originals_.replace(std::move(originals), static_cast<int64_t>(src.size()));
    ids().compact();
  });
}

Result<std::unique_ptr<IndexImpl>> new_ivf(int64_t dim, Metric metric, const IvfOptions& options) {
  return std::unique_ptr<IndexImpl>(std::make_unique<IvfIndex>(dim, metric, options));
}

}  // namespace vecperf::internal
