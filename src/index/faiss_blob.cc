// The FAISS 1.7.3 layout accepted here (faiss/impl/index_write.cpp; little-endian, no padding):
//
//   index     := fourcc ivf_header body invlists
//   fourcc    := "IwFl" (IndexIVFFlat) | "IwSq" (IndexIVFScalarQuantizer) | "IwPQ" (IndexIVFPQ)
//   ivf_header:= header(d, ntotal) u64 nlist, u64 nprobe, quantizer, direct_map
//   header    := i32 d, i64 ntotal, i64 dummy, i64 dummy, u8 is_trained, i32 metric_type
//                (metric_arg f32 would follow for metrics > 1, which vecperf never uses)
//   quantizer := "IxF2" | "IxFI", header, u64 n, n x f32   (n == ntotal * d)
//   direct_map:= u8 type (2 = hash table), u64 n, n x i64 (array, empty), u64 m, m x (i64, i64)
//   body      := flat: nothing
//                sq:   i32 qtype, i32 rangestat, f32 rangestat_arg, u64 d, u64 code_size,
//                      u64 n, n x f32 (trained ranges), u64 code_size, u8 by_residual
//                pq:   u8 by_residual, u64 code_size, u64 d, u64 M, u64 nbits, u64 n, n x f32
//   invlists  := "ilar", u64 nlist, u64 code_size, sizes, then per non-empty list l:
//                size_l * code_size bytes of codes, size_l x i64 ids
//   sizes     := "full" u64 nlist, nlist x u64 | "sprs" u64 2k, k x (u64 list, u64 size)
#include "index/faiss_blob.h"

#include <faiss/MetricType.h>
#include <faiss/impl/ScalarQuantizer.h>
#include <faiss/invlists/DirectMap.h>

#include <string>
#include <vector>

namespace vecperf::internal {
namespace {

constexpr uint32_t fourcc(const char (&s)[5]) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[0])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}

constexpr uint64_t kPqCentroids = 256;  // 8-bit codes: the only PQ vecperf builds

bool expect(Reader& r, bool condition, const std::string& problem) {
  return condition || r.corrupt("faiss index: " + problem);
}

bool expect_tag(Reader& r, uint32_t want, const char* field) {
  uint32_t tag = 0;
  if (!r.pod(&tag, field)) return false;
  std::string got(reinterpret_cast<const char*>(&tag), 4);
  for (char& c : got) c = (c >= 0x20 && c < 0x7f) ? c : '?';
  std::string wanted(reinterpret_cast<const char*>(&want), 4);
  return expect(r, tag == want,
                std::string(field) + " is \"" + got + "\", expected \"" + wanted + "\"");
}

// A bool stored as one byte: anything but 0 or 1 would be undefined behaviour once FAISS loads it.
bool read_bool(Reader& r, const char* field, uint8_t* out) {
  if (!r.pod(out, field)) return false;
  return expect(r, *out <= 1, std::string(field) + " is not a bool");
}

template <typename T>
bool read_equal(Reader& r, const char* field, T want) {
  T got{};
  if (!r.pod(&got, field)) return false;
  return expect(
      r, got == want,
      std::string(field) + " is " + std::to_string(got) + ", expected " + std::to_string(want));
}

// Skips `count` elements of `size` bytes, checked against the bytes left first.
bool skip(Reader& r, uint64_t count, size_t size, const char* field) {
  if (!expect(r, count <= r.remaining() / size, std::string(field) + " is truncated")) return false;
  return r.view(count * size, field) != nullptr;
}

// u64 element count (must equal `want`) followed by the elements.
bool skip_vector(Reader& r, uint64_t want, size_t size, const char* field) {
  if (!read_equal<uint64_t>(r, field, want)) return false;
  return skip(r, want, size, field);
}

bool check_header(Reader& r, const FaissIvfShape& shape, int64_t* ntotal) {
  int64_t dummy = 0;
  uint8_t trained = 0;
  if (!read_equal<int32_t>(r, "dimension", static_cast<int32_t>(shape.dim))) return false;
  if (!r.pod(ntotal, "vector count")) return false;
  if (!expect(r, *ntotal >= 0, "negative vector count")) return false;
  r.pod(&dummy, "reserved field");
  r.pod(&dummy, "reserved field");
  if (!read_bool(r, "trained flag", &trained)) return false;
  if (!expect(r, trained == 1, "index is not trained")) return false;
  return read_equal<int32_t>(r, "metric",
                             shape.l2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT);
}

bool check_quantizer(Reader& r, const FaissIvfShape& shape, uint64_t nlist) {
  int64_t ntotal = 0;
  if (!expect_tag(r, fourcc(shape.l2 ? "IxF2" : "IxFI"), "coarse quantizer type")) return false;
  if (!check_header(r, shape, &ntotal)) return false;
  if (!expect(r, static_cast<uint64_t>(ntotal) == nlist,
              "quantizer holds " + std::to_string(ntotal) + " centroids for " +
                  std::to_string(nlist) + " lists"))
    return false;
  const uint64_t d = static_cast<uint64_t>(shape.dim);
  if (!expect(r, nlist <= r.remaining() / (d * sizeof(float)), "centroids are truncated"))
    return false;
  return skip_vector(r, nlist * d, sizeof(float), "centroids");
}

bool check_direct_map(Reader& r, int64_t ntotal) {
  if (!read_equal<uint8_t>(r, "direct map type", faiss::DirectMap::Hashtable)) return false;
  if (!skip_vector(r, 0, sizeof(int64_t), "direct map array")) return false;
  return skip_vector(r, static_cast<uint64_t>(ntotal), 2 * sizeof(int64_t), "direct map entries");
}

// Returns the code size in *code_size.
bool check_body(Reader& r, const FaissIvfShape& shape, uint64_t* code_size) {
  const uint64_t d = static_cast<uint64_t>(shape.dim);
  uint8_t by_residual = 0;
  switch (shape.encoding) {
    case IvfEncoding::kFlat: *code_size = d * sizeof(float); return true;
    case IvfEncoding::kSQ8:
    case IvfEncoding::kSQ4: {
      const bool eight = shape.encoding == IvfEncoding::kSQ8;
      *code_size = eight ? d : (d + 1) / 2;
      int32_t rangestat = 0;
      float rangestat_arg = 0;
      if (!read_equal<int32_t>(
              r, "scalar quantizer type",
              eight ? faiss::ScalarQuantizer::QT_8bit : faiss::ScalarQuantizer::QT_4bit))
        return false;
      if (!r.pod(&rangestat, "scalar quantizer range statistic")) return false;
      if (!expect(r,
                  rangestat >= faiss::ScalarQuantizer::RS_minmax &&
                      rangestat <= faiss::ScalarQuantizer::RS_optim,
                  "unknown scalar quantizer range statistic"))
        return false;
      r.pod(&rangestat_arg, "scalar quantizer range argument");
      if (!read_equal<uint64_t>(r, "scalar quantizer dimension", d)) return false;
      if (!read_equal<uint64_t>(r, "scalar quantizer code size", *code_size)) return false;
      // Non-uniform quantizers train a (min, range) pair per dimension.
      if (!skip_vector(r, 2 * d, sizeof(float), "scalar quantizer ranges")) return false;
      if (!read_equal<uint64_t>(r, "code size", *code_size)) return false;
      return read_bool(r, "residual flag", &by_residual);
    }
    case IvfEncoding::kPQ: {
      const uint64_t m = static_cast<uint64_t>(shape.pq_m);
      if (!expect(r, m >= 1 && d % m == 0, "sub-quantiser count does not divide the dimension"))
        return false;
      *code_size = m;
      if (!read_bool(r, "residual flag", &by_residual)) return false;
      if (!read_equal<uint64_t>(r, "code size", m)) return false;
      if (!read_equal<uint64_t>(r, "product quantizer dimension", d)) return false;
      if (!read_equal<uint64_t>(r, "sub-quantiser count", m)) return false;
      if (!read_equal<uint64_t>(r, "bits per sub-quantiser", 8)) return false;
      return skip_vector(r, d * kPqCentroids, sizeof(float), "product quantizer centroids");
    }
  }
  return expect(r, false, "unknown encoding");
}

bool check_lists(Reader& r, uint64_t nlist, uint64_t code_size, int64_t ntotal) {
  if (!expect_tag(r, fourcc("ilar"), "inverted list type")) return false;
  if (!read_equal<uint64_t>(r, "inverted list count", nlist)) return false;
  if (!read_equal<uint64_t>(r, "inverted list code size", code_size)) return false;
  uint32_t layout = 0;
  if (!r.pod(&layout, "list size table type")) return false;
  std::vector<uint64_t> table;  // bounded by the bytes left (Reader::vec)
  if (!r.vec(&table, "list sizes")) return false;
  std::vector<uint64_t> sizes;
  if (layout == fourcc("full")) {
    if (!expect(r, table.size() == nlist, "list size table does not cover every list"))
      return false;
    sizes = std::move(table);
  } else if (layout == fourcc("sprs")) {
    // (list, size) pairs in increasing list order, as FAISS writes them; FAISS itself reads
    // one element past the table when its length is odd.
    if (!expect(r, table.size() % 2 == 0, "sparse list size table has odd length")) return false;
    for (size_t j = 0; j < table.size(); j += 2) {
      if (!expect(r, table[j] < nlist && (j == 0 || table[j] > table[j - 2]),
                  "sparse list size table names list " + std::to_string(table[j]) +
                      " out of order or out of range"))
        return false;
      sizes.push_back(table[j + 1]);
    }
  } else {
    return expect(r, false, "unknown list size table type");
  }
  // Codes and ids follow in list order: their total must be exactly what is left.
  const uint64_t entry = code_size + sizeof(int64_t);
  uint64_t total = 0;
  for (uint64_t size : sizes) {
    if (!expect(r, size <= r.remaining() / entry - total, "inverted lists are truncated"))
      return false;
    total += size;
  }
  if (!expect(r, total == static_cast<uint64_t>(ntotal),
              "inverted lists hold " + std::to_string(total) + " vectors, the index says " +
                  std::to_string(ntotal)))
    return false;
  if (!expect(r, total * entry == r.remaining(), "unexpected bytes after the inverted lists"))
    return false;
  return r.view(total * entry, "inverted lists") != nullptr;
}

}  // namespace

bool check_faiss_ivf_blob(Reader& r, const FaissIvfShape& shape) {
  if (!expect(r, shape.dim >= 1, "invalid dimension")) return false;
  uint32_t tag = 0;
  switch (shape.encoding) {
    case IvfEncoding::kFlat: tag = fourcc("IwFl"); break;
    case IvfEncoding::kSQ8:
    case IvfEncoding::kSQ4: tag = fourcc("IwSq"); break;
    case IvfEncoding::kPQ: tag = fourcc("IwPQ"); break;
  }
  if (!expect_tag(r, tag, "index type")) return false;
  int64_t ntotal = 0;
  uint64_t nlist = 0, nprobe = 0, code_size = 0;
  if (!check_header(r, shape, &ntotal)) return false;
  r.pod(&nlist, "list count");
  r.pod(&nprobe, "nprobe");
  if (!r.status().ok()) return false;
  if (!expect(r, nlist >= 1, "no inverted lists")) return false;
  if (!check_quantizer(r, shape, nlist)) return false;
  if (!check_direct_map(r, ntotal)) return false;
  if (!check_body(r, shape, &code_size)) return false;
  return check_lists(r, nlist, code_size, ntotal);
}

}  // namespace vecperf::internal
