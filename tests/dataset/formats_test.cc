// Round trips through every writer and reader, row ranges, memory mapping and format selection.
#include "dataset/formats.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>

#include "dataset/byte_source.h"
#include "dataset/npy_header.h"
#include "dataset_test_util.h"

namespace vecperf::dataset_test {
namespace {

FloatMatrix sample(int64_t rows, int64_t dim, uint64_t seed) {
  ClusteredOptions o;
  o.rows = rows;
  o.dim = dim;
  o.clusters = 5;
  o.seed = seed;
  Result<FloatMatrix> m = make_clustered(o);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return std::move(*m);
}

// Integer-valued floats in 0..255, as .bvecs/.u8bin hold.
FloatMatrix bytes_sample(int64_t rows, int64_t dim) {
  std::vector<float> v(static_cast<size_t>(rows * dim));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37 + 11) % 256);
  return std::move(*FloatMatrix::from_vector(std::move(v), rows, dim));
}

IntMatrix id_sample(int64_t rows, int64_t cols, bool wide) {
  std::vector<int64_t> v(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i * 7919 % 100003) - 1;
  if (wide) return std::move(*IntMatrix::from_vector(std::move(v), rows, cols));
  std::vector<int32_t> narrow(v.begin(), v.end());
  return std::move(*IntMatrix::from_vector(std::move(narrow), rows, cols));
}

int64_t width(const FloatMatrix& m) { return m.dim(); }
int64_t width(const IntMatrix& m) { return m.cols(); }
double value(const FloatMatrix& m, int64_t i, int64_t j) { return m.row(i)[j]; }
double value(const IntMatrix& m, int64_t i, int64_t j) { return static_cast<double>(m.at(i, j)); }

// `got` must equal rows [first_row, first_row + got.rows()) of `want`.
template <typename M>
void expect_same(const M& got, const M& want, int64_t first_row = 0) {
  ASSERT_EQ(width(got), width(want));
  ASSERT_LE(first_row + got.rows(), want.rows());
  for (int64_t i = 0; i < got.rows(); ++i)
    for (int64_t j = 0; j < width(got); ++j)
      ASSERT_EQ(value(got, i, j), value(want, first_row + i, j)) << "row " << i << " col " << j;
}

class FormatsTest : public DatasetTest {};

TEST_F(FormatsTest, FloatFormatsRoundTripBitExactly) {
  const FloatMatrix m = sample(57, 13, 1);
  struct Case {
    const char* name;
    bool mapped;
  } cases[] = {{"a.fvecs", false}, {"a.fbin", true}, {"a.npy", true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(write_vectors(path(c.name), m.view()).ok());
    Result<FloatMatrix> r = read_vectors(path(c.name));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->rows(), 57);
    EXPECT_EQ(r->mapped(), c.mapped) << "fbin and npy rows are contiguous: read in place";
    expect_same(*r, m);
  }
  EXPECT_EQ(files_containing(".tmp-"), 0u);
}

TEST_F(FormatsTest, ByteFormatsRoundTripThroughFloat) {
  const FloatMatrix m = bytes_sample(20, 9);
  for (const char* name : {"b.bvecs", "b.u8bin"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(write_vectors(path(name), m.view()).ok());
    Result<FloatMatrix> r = read_vectors(path(name));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->mapped());
    expect_same(*r, m);
  }
  EXPECT_EQ(slurp(path("b.bvecs")).size(), 20u * (4 + 9));
  EXPECT_EQ(slurp(path("b.u8bin")).size(), 8u + 20 * 9);
}

TEST_F(FormatsTest, ByteFormatsRejectValuesThatAreNotBytesAndWriteNothing) {
  for (float bad : {256.0f, -1.0f, 2.5f, NAN}) {
    std::vector<float> v(12, 3.0f);
    v[7] = bad;
    const FloatMatrix m = std::move(*FloatMatrix::from_vector(v, 3, 4));
    expect_error(write_vectors(path("x.bvecs"), m.view()), StatusCode::kInvalidArgument,
                 {"row 1, column 3", "0..255"});
  }
  EXPECT_FALSE(std::filesystem::exists(path("x.bvecs")));
}

TEST_F(FormatsTest, IdFormatsRoundTrip) {
  for (bool wide : {false, true}) {
    const IntMatrix ids = id_sample(31, 10, wide);
    for (const char* name : {"g.ivecs", "g.ibin", "g.npy"}) {
      SCOPED_TRACE(std::string(name) + (wide ? " int64" : " int32"));
      ASSERT_TRUE(write_neighbors(path(name), ids).ok());
      Result<IntMatrix> r = read_neighbors(path(name));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      // .npy keeps the matrix's own type; the TEXMEX and big-ann formats hold int32.
      const bool npy = std::string(name) == "g.npy";
      EXPECT_EQ(r->type(), npy && wide ? IntType::kInt64 : IntType::kInt32);
      EXPECT_EQ(r->mapped(), std::string(name) != "g.ivecs");
      expect_same(*r, ids);
      EXPECT_EQ(r->to_int64(), ids.to_int64());
    }
  }
}

TEST_F(FormatsTest, Int32FormatsRejectIdsBeyondInt32) {
  const IntMatrix big =
      std::move(*IntMatrix::from_vector(std::vector<int64_t>{1, int64_t{1} << 40}, 1, 2));
  for (const char* name : {"big.ivecs", "big.ibin"})
    expect_error(write_neighbors(path(name), big), StatusCode::kInvalidArgument,
                 {"row 0, column 1", "int32"});
  ASSERT_TRUE(write_neighbors(path("big.npy"), big).ok());
  EXPECT_EQ(read_neighbors(path("big.npy"))->at(0, 1), int64_t{1} << 40);
}

TEST_F(FormatsTest, RowRangesReadExactlyTheSelectedRows) {
  const FloatMatrix m = sample(40, 6, 2);
  const FloatMatrix b = bytes_sample(40, 6);
  const IntMatrix ids = id_sample(40, 6, false);
  ASSERT_TRUE(write_vectors(path("r.fvecs"), m.view()).ok());
  ASSERT_TRUE(write_vectors(path("r.fbin"), m.view()).ok());
  ASSERT_TRUE(write_vectors(path("r.npy"), m.view()).ok());
  ASSERT_TRUE(write_vectors(path("r.bvecs"), b.view()).ok());
  ASSERT_TRUE(write_vectors(path("r.u8bin"), b.view()).ok());
  ASSERT_TRUE(write_neighbors(path("r.ivecs"), ids).ok());
  ASSERT_TRUE(write_neighbors(path("r.ibin"), ids).ok());

  struct Range {
    int64_t first, max, expect_rows;
  } ranges[] = {{0, 5, 5}, {7, 4, 4}, {35, 100, 5}, {40, 0, 0}, {12, 0, 28}};
  for (const Range& rg : ranges) {
    ReadOptions o;
    o.first_row = rg.first;
    o.max_rows = rg.max;
    SCOPED_TRACE("first_row=" + std::to_string(rg.first) + " max_rows=" + std::to_string(rg.max));
    for (const char* name : {"r.fvecs", "r.fbin", "r.npy"}) {
      Result<FloatMatrix> r = read_vectors(path(name), o);
      ASSERT_TRUE(r.ok()) << name << ": " << r.status().to_string();
      EXPECT_EQ(r->rows(), rg.expect_rows) << name;
      expect_same(*r, m, rg.first);
    }
    for (const char* name : {"r.bvecs", "r.u8bin"}) {
      Result<FloatMatrix> r = read_vectors(path(name), o);
      ASSERT_TRUE(r.ok()) << name << ": " << r.status().to_string();
      EXPECT_EQ(r->rows(), rg.expect_rows) << name;
      expect_same(*r, b, rg.first);
    }
    for (const char* name : {"r.ivecs", "r.ibin"}) {
      Result<IntMatrix> r = read_neighbors(path(name), o);
      ASSERT_TRUE(r.ok()) << name << ": " << r.status().to_string();
      EXPECT_EQ(r->rows(), rg.expect_rows) << name;
      expect_same(*r, ids, rg.first);
    }
  }
  ReadOptions past;
  past.first_row = 41;
  expect_error(read_vectors(path("r.fbin"), past).status(), StatusCode::kInvalidArgument,
               {"first_row 41", "40 rows"});
  ReadOptions negative;
  negative.max_rows = -1;
  EXPECT_EQ(read_vectors(path("r.fbin"), negative).status().code(), StatusCode::kInvalidArgument);
}

// Records outside the selected range are not read, so damage there goes unnoticed until read.
TEST_F(FormatsTest, MaxRowsLeavesTheRestOfTheFileUntouched) {
  const FloatMatrix m = sample(10, 4, 3);
  ASSERT_TRUE(write_vectors(path("d.fvecs"), m.view()).ok());
  std::string bytes = slurp(path("d.fvecs"));
  const size_t record = 4 + 4 * 4;
  std::memcpy(bytes.data() + 7 * record, le<int32_t>(5).data(), 4);
  spit(path("d.fvecs"), bytes);

  ReadOptions first5;
  first5.max_rows = 5;
  Result<FloatMatrix> head = read_vectors(path("d.fvecs"), first5);
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  expect_same(*head, m);
  expect_error(read_vectors(path("d.fvecs")).status(), StatusCode::kCorruption,
               {"record 7", "byte offset " + std::to_string(7 * record)});
}

// A 1 GiB .fbin that is a hole after its first rows: reading the head must not read the rest.
TEST_F(FormatsTest, HeadOfAHugeSparseFileIsReadInPlace) {
  const int64_t rows = int64_t{1} << 20, dim = 256;
  const FloatMatrix head = sample(8, dim, 4);
  std::string bytes = le<uint32_t>(static_cast<uint32_t>(rows)) + le<uint32_t>(dim);
  bytes.append(reinterpret_cast<const char*>(head.data()), 8 * dim * sizeof(float));
  spit(path("huge.fbin"), bytes);
  ASSERT_EQ(::truncate(path("huge.fbin").c_str(), 8 + rows * dim * 4), 0);

  ReadOptions o;
  o.max_rows = 8;
  Result<FloatMatrix> r = read_vectors(path("huge.fbin"), o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->mapped());
  expect_same(*r, head);
  o.first_row = rows - 2;  // the last rows of the hole read as zeros
  r = read_vectors(path("huge.fbin"), o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows(), 2);
  EXPECT_EQ(r->row(1)[dim - 1], 0.0f);
}

TEST_F(FormatsTest, FormatComesFromTheExtensionOrAnExplicitChoice) {
  EXPECT_EQ(*format_from_path("/data/sift_base.fvecs"), DatasetFormat::kFvecs);
  EXPECT_EQ(*format_from_path("gt.IVECS"), DatasetFormat::kIvecs);
  EXPECT_EQ(*format_from_path("x.u8bin"), DatasetFormat::kU8bin);
  EXPECT_EQ(*format_from_path("glove-100-angular.hdf5"), DatasetFormat::kHdf5);
  EXPECT_EQ(*format_from_path("a.h5"), DatasetFormat::kHdf5);
  for (const char* bad : {"data.bin", "noext", "dir.fvecs/file", "x.auto"})
    EXPECT_EQ(format_from_path(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  EXPECT_EQ(*parse_dataset_format("npy"), DatasetFormat::kNpy);
  EXPECT_STREQ(dataset_format_name(DatasetFormat::kFbin), "fbin");

  const FloatMatrix m = sample(3, 5, 5);
  EXPECT_EQ(write_vectors(path("v.dat"), m.view()).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(write_vectors(path("v.dat"), m.view(), DatasetFormat::kFbin).ok());
  ReadOptions o;
  o.format = DatasetFormat::kFbin;
  Result<FloatMatrix> r = read_vectors(path("v.dat"), o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_same(*r, m);
}

TEST_F(FormatsTest, ReadsOfTheWrongKindAndMissingFilesAreRejected) {
  ASSERT_TRUE(write_neighbors(path("ids.ivecs"), id_sample(2, 3, false)).ok());
  ASSERT_TRUE(write_vectors(path("v.fvecs"), sample(2, 3, 6).view()).ok());
  expect_error(read_vectors(path("ids.ivecs")).status(), StatusCode::kInvalidArgument,
               {"read_neighbors"});
  expect_error(read_neighbors(path("v.fvecs")).status(), StatusCode::kInvalidArgument,
               {"read_vectors"});
  expect_error(write_vectors(path("v.ivecs"), sample(2, 3, 6).view()), StatusCode::kInvalidArgument,
               {"write_neighbors"});
  expect_error(read_vectors(path("none.fbin")).status(), StatusCode::kNotFound, {"none.fbin"});
  std::filesystem::create_directories(path("dir.fbin"));
  EXPECT_EQ(read_vectors(path("dir.fbin")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(write_vectors(path("no/such/dir/v.fbin"), sample(2, 3, 6).view()).code(),
            StatusCode::kIOError);
}

TEST_F(FormatsTest, WritersRejectShapesTheReadersCannotRepresent) {
  expect_error(write_vectors(path("e.fvecs"), MatrixView{nullptr, 0, 4}),
               StatusCode::kInvalidArgument, {"zero rows"});
  ASSERT_TRUE(write_vectors(path("e.fbin"), MatrixView{nullptr, 0, 4}).ok());
  Result<FloatMatrix> r = read_vectors(path("e.fbin"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->rows(), 0);
  EXPECT_EQ(r->dim(), 4);
  std::vector<float> wide(70000, 1.0f);
  expect_error(write_vectors(path("w.fbin"), MatrixView{wide.data(), 1, 70000}),
               StatusCode::kInvalidArgument, {"65536"});
  EXPECT_EQ(write_vectors(path("n.fbin"), MatrixView{nullptr, 2, 4}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(FormatsTest, WritingReplacesAnExistingFileAtomically) {
  ASSERT_TRUE(write_vectors(path("a.fbin"), sample(5, 3, 7).view()).ok());
  const FloatMatrix second = sample(9, 3, 8);
  ASSERT_TRUE(write_vectors(path("a.fbin"), second.view()).ok());
  Result<FloatMatrix> r = read_vectors(path("a.fbin"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows(), 9);
  expect_same(*r, second);
  EXPECT_EQ(files_containing(".tmp-"), 0u);
}

TEST_F(FormatsTest, NpyHeaderIsNumpyCompatible) {
  const std::string h = internal::encode_npy_header(internal::Elem::kF32, 1000, 128);
  EXPECT_EQ(h.size() % 64, 0u) << "NumPy aligns the data to 64 bytes";
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(h.find("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 128), }"),
            std::string::npos);
  EXPECT_EQ(h.back(), '\n');
}

// Headers as other NumPy versions (and Python 2) wrote them.
TEST_F(FormatsTest, NpyReaderAcceptsEveryVersionAndHeaderSpelling) {
  const std::string data = le(1.5f) + le(-2.0f) + le(3.25f);
  auto file = [&](char major, const std::string& dict) {
    std::string out = std::string("\x93NUMPY", 6) + major + '\0';
    out += major == 1 ? le<uint16_t>(static_cast<uint16_t>(dict.size()))
                      : le<uint32_t>(static_cast<uint32_t>(dict.size()));
    return out + dict + data;
  };
  const std::string dicts[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n",
      "{\"shape\": (1, 3), \"fortran_order\": False, \"descr\": \"<f4\"}   \n",
      "{'descr':'<f4','fortran_order':True,'shape':(3L,)}",
      "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3)}\n",
  };
  for (char major : {'\1', '\2', '\3'})
    for (const std::string& dict : dicts) {
      SCOPED_TRACE("version " + std::to_string(int(major)) + ": " + dict);
      spit(path("h.npy"), file(major, dict));
      Result<FloatMatrix> r = read_vectors(path("h.npy"));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      ASSERT_EQ(r->rows(), 1);
      ASSERT_EQ(r->dim(), 3);
      EXPECT_EQ(r->row(0)[2], 3.25f);
    }
}

TEST_F(FormatsTest, BigAnnGroundTruthCarriesDistances) {
  // rows=2, k=2: ids then distances, as big-ann-benchmarks ships them.
  std::string bytes = le<uint32_t>(2) + le<uint32_t>(2);
  for (int32_t id : {4, 9, 1, 0}) bytes += le(id);
  for (float d : {0.5f, 0.75f, 0.25f, 2.0f}) bytes += le(d);
  spit(path("gt.ibin"), bytes);
  Result<GroundTruth> gt = read_ground_truth(path("gt.ibin"));
  ASSERT_TRUE(gt.ok()) << gt.status().to_string();
  ASSERT_EQ(gt->ids.rows(), 2);
  EXPECT_EQ(gt->ids.at(1, 0), 1);
  ASSERT_EQ(gt->distances.rows(), 2);
  EXPECT_EQ(gt->distances.row(1)[1], 2.0f);
  ReadOptions second;
  second.first_row = 1;
  gt = read_ground_truth(path("gt.ibin"), second);
  ASSERT_TRUE(gt.ok());
  EXPECT_EQ(gt->ids.at(0, 1), 0);
  EXPECT_EQ(gt->distances.row(0)[0], 0.25f);

  ASSERT_TRUE(write_neighbors(path("gt.ivecs"), id_sample(3, 4, false)).ok());
  gt = read_ground_truth(path("gt.ivecs"));
  ASSERT_TRUE(gt.ok());
  EXPECT_EQ(gt->ids.rows(), 3);
  EXPECT_EQ(gt->distances.rows(), 0) << ".ivecs ground truth has no distances";
}

// The fuzzers' entry point (a memory source) parses exactly as a file does.
TEST_F(FormatsTest, MemorySourceReadsLikeAFile) {
  const FloatMatrix m = sample(6, 7, 9);
  ASSERT_TRUE(write_vectors(path("m.fvecs"), m.view()).ok());
  auto src = internal::memory_source(slurp(path("m.fvecs")), "memory");
  ReadOptions o;
  o.format = DatasetFormat::kFvecs;
  Result<FloatMatrix> r = internal::read_vectors_from(*src, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_same(*r, m);
  o.format = DatasetFormat::kNpy;
  expect_error(internal::read_vectors_from(*src, o).status(), StatusCode::kCorruption,
               {"'memory'", "byte offset 0"});
}

}  // namespace
}  // namespace vecperf::dataset_test
