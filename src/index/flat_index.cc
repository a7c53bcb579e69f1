// Flat (exact) index: vectors stored densely in slot order; every query scans all of them.
// Removal keeps the storage dense by moving the last vector into the hole.
#include <algorithm>
#include <sstream>

#include "common/parallel.h"
#include "distance/distance.h"
#include "index/index_base.h"
#include "index/topk.h"

namespace vecperf::internal {
namespace {

class FlatIndex final : public IndexBase {
 public:
  FlatIndex(int64_t dim, Metric metric, IdMap ids = {})
      : IndexBase(IndexKind::kFlat, dim, metric, std::move(ids)) {}

  std::vector<float>& data() { return data_; }

 protected:
  Status add_locked(int64_t first_slot, MatrixView v) override {
    data_.resize(static_cast<size_t>((first_slot + v.rows) * dim()));
    std::copy(v.data, v.data + v.rows * dim(), data_.begin() + first_slot * dim());
    return Status::OK();
  }

  Status search_locked(MatrixView q, const SearchOptions& o, int64_t k_eff, int64_t stride,
                       float* dists, int64_t* labels) const override {
    const int64_t n = ids().slots();
    const size_t d = static_cast<size_t>(dim());
    const DistanceKernels& kern = kernels();
    const bool l2 = metric() == Metric::kL2;
    int threads = resolve_threads(o.num_threads, q.rows);
    parallel_chunks(q.rows, threads, [&](int64_t begin, int64_t end, int) {
      constexpr int64_t kBlock = 1024;
      std::vector<float> buf(kBlock);
      TopK top(k_eff);
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t b = 0; b < n; b += kBlock) {
          int64_t m = std::min(kBlock, n - b);
          if (l2) {
            kern.l2sqr_many(q.row(i), data_.data() + b * d, m, d, buf.data());
          } else {
            kern.dot_many(q.row(i), data_.data() + b * d, m, d, buf.data());
            for (int64_t j = 0; j < m; ++j) buf[j] = 1.0f - buf[j];
          }
          top.push_block(buf.data(), m, b);
        }
        top.extract(dists + i * stride, labels + i * stride);
      }
    });
    return Status::OK();
  }

  Status remove_locked(std::span<const int64_t> slots) override {
    std::vector<int64_t> holes(slots.begin(), slots.end());
    std::sort(holes.begin(), holes.end(), std::greater<>());
    const size_t d = static_cast<size_t>(dim());
    // Highest hole first: the last slot is then either the hole itself or a live vector.
    for (int64_t hole : holes) {
      int64_t last = ids().slots() - 1;
      if (hole != last)
        std::copy_n(data_.begin() + last * d, d, data_.begin() + hole * d);
      ids().move_last_into(hole);
    }
    data_.resize(static_cast<size_t>(ids().slots()) * d);
    return Status::OK();
  }

  void vector_locked(int64_t slot, float* out) const override {
    std::copy_n(data_.begin() + slot * dim(), dim(), out);
  }
  void save_locked(Writer& w) const override { w.vec(data_); }
  size_t memory_locked() const override { return data_.capacity() * sizeof(float); }
  std::string describe_locked() const override {
    std::ostringstream s;
    s << "flat(dim=" << dim() << ", metric=" << metric_name(metric()) << ", size=" << ids().live()
      << ", kernels=" << kernels().name << ")";
    return s.str();
  }

 private:
  std::vector<float> data_;  // slots() x dim, row-major
};

}  // namespace

Result<std::unique_ptr<IndexImpl>> new_flat(int64_t dim, Metric metric, const FlatOptions&) {
  return std::unique_ptr<IndexImpl>(std::make_unique<FlatIndex>(dim, metric));
}

Result<std::unique_ptr<IndexImpl>> load_flat(Reader& r, int64_t dim, Metric metric, IdMap ids) {
  if (ids.live() != ids.slots()) {
    r.corrupt("flat index with dead slots");
    return r.status();
  }
  auto index = std::make_unique<FlatIndex>(dim, metric, std::move(ids));
  if (!r.vec(&index->data(), "flat vectors")) return r.status();
  if (index->data().size() != static_cast<size_t>(index->size() * dim)) {
    r.corrupt("flat vector count does not match the id map");
    return r.status();
  }
  return std::unique_ptr<IndexImpl>(std::move(index));
}

}  // namespace vecperf::internal
