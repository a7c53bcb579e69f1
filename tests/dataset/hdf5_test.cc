// ann-benchmarks HDF5 files. The fixtures are written with the HDF5 C library, in the layout
// ann-benchmarks (h5py) produces: 2-D data sets train/test/neighbors/distances and a string
// attribute "distance" on the root group.
#include "dataset_test_util.h"

#if defined(VECPERF_WITH_HDF5)
#include <hdf5.h>
#endif

#include <vector>

namespace vecperf::dataset_test {
namespace {

class Hdf5Test : public DatasetTest {};

#if defined(VECPERF_WITH_HDF5)

void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t mem_type, const void* data,
                   hsize_t rows, hsize_t cols) {
  const hsize_t dims[2] = {rows, cols};
  hid_t space = H5Screate_simple(2, dims, nullptr);
  hid_t ds = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0) << name;
  ASSERT_GE(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << name;
  H5Dclose(ds);
  H5Sclose(space);
}

// h5py stores a Python str attribute as a variable-length string; fixed-length ones exist too.
void write_string_attribute(hid_t file, const char* name, const std::string& value, bool variable) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, variable ? H5T_VARIABLE : value.size());
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* text = value.c_str();
  if (variable) {
    H5Awrite(attr, type, &text);
  } else {
    H5Awrite(attr, type, text);
  }
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

struct Fixture {
  std::vector<float> train, test, distances;
  std::vector<int64_t> neighbors;
  int64_t n = 30, nq = 4, dim = 5, k = 3;
};

Fixture make_fixture() {
  Fixture f;
  for (int64_t i = 0; i < f.n * f.dim; ++i) f.train.push_back(0.25f * static_cast<float>(i));
  for (int64_t i = 0; i < f.nq * f.dim; ++i) f.test.push_back(-0.5f * static_cast<float>(i));
  for (int64_t i = 0; i < f.nq * f.k; ++i) {
    f.neighbors.push_back((i * 7) % f.n);
    f.distances.push_back(static_cast<float>(i) / 8.0f);
  }
  return f;
}

// Writes the fixture; `parts` chooses what to include.
void write_file(const std::string& path, const Fixture& f, bool neighbors_int64,
                bool with_neighbors = true, bool train_as_double = false,
                const char* distance = "euclidean", bool variable_string = true) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  if (train_as_double) {
    std::vector<double> wide(f.train.begin(), f.train.end());
    write_dataset(file, "train", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, wide.data(), f.n, f.dim);
  } else {
    write_dataset(file, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, f.train.data(), f.n, f.dim);
  }
  write_dataset(file, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, f.test.data(), f.nq, f.dim);
  if (with_neighbors) {
    if (neighbors_int64) {
      write_dataset(file, "neighbors", H5T_STD_I64LE, H5T_NATIVE_INT64, f.neighbors.data(), f.nq,
                    f.k);
    } else {
      std::vector<int32_t> narrow(f.neighbors.begin(), f.neighbors.end());
      write_dataset(file, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, narrow.data(), f.nq, f.k);
    }
  }
  write_dataset(file, "distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, f.distances.data(), f.nq, f.k);
  if (distance != nullptr) write_string_attribute(file, "distance", distance, variable_string);
  H5Fclose(file);
}

TEST_F(Hdf5Test, ReadsTheAnnBenchmarksLayout) {
  ASSERT_TRUE(hdf5_supported());
  const Fixture f = make_fixture();
  for (bool wide : {false, true}) {
    SCOPED_TRACE(wide ? "int64 neighbors" : "int32 neighbors");
    write_file(path("set.hdf5"), f, wide);
    Result<AnnBenchmarksDataset> d = read_ann_benchmarks(path("set.hdf5"));
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d->distance, "euclidean");
    EXPECT_EQ(*metric_for_ann_distance(d->distance), Metric::kL2);
    ASSERT_EQ(d->train.rows(), f.n);
    ASSERT_EQ(d->train.dim(), f.dim);
    EXPECT_EQ(std::vector<float>(d->train.data(), d->train.data() + f.n * f.dim), f.train);
    ASSERT_EQ(d->test.rows(), f.nq);
    EXPECT_EQ(std::vector<float>(d->test.data(), d->test.data() + f.nq * f.dim), f.test);
    EXPECT_EQ(d->neighbors.type(), wide ? IntType::kInt64 : IntType::kInt32);
    EXPECT_EQ(d->neighbors.to_int64(), f.neighbors);
    ASSERT_EQ(d->distances.rows(), f.nq);
    EXPECT_EQ(d->distances.row(1)[2], f.distances[5]);
  }
}

TEST_F(Hdf5Test, ReadsOneDataSetAndRowRanges) {
  const Fixture f = make_fixture();
  write_file(path("set.h5"), f, false, true, /*train_as_double=*/true, "angular",
             /*variable_string=*/false);
  ReadOptions o;
  o.first_row = 10;
  o.max_rows = 3;
  Result<FloatMatrix> train = read_vectors(path("set.h5"), o);  // "train" by default
  ASSERT_TRUE(train.ok()) << train.status().to_string();
  ASSERT_EQ(train->rows(), 3);
  EXPECT_EQ(train->row(0)[0], f.train[10 * f.dim]) << "float64 converted to float32";
  EXPECT_EQ(train->row(2)[4], f.train[12 * f.dim + 4]);

  o = ReadOptions{};
  o.hdf5_dataset = "test";
  Result<FloatMatrix> test = read_vectors(path("set.h5"), o);
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->rows(), f.nq);

  Result<GroundTruth> gt = read_ground_truth(path("set.h5"));
  ASSERT_TRUE(gt.ok()) << gt.status().to_string();
  EXPECT_EQ(gt->ids.to_int64(), f.neighbors);
  EXPECT_EQ(gt->distances.rows(), f.nq);

  Result<AnnBenchmarksDataset> d = read_ann_benchmarks(path("set.h5"));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->distance, "angular") << "fixed-length string attribute";
  EXPECT_EQ(*metric_for_ann_distance(d->distance), Metric::kCosine);
}

TEST_F(Hdf5Test, MissingDataSetsAndWrongRequestsAreReported) {
  const Fixture f = make_fixture();
  write_file(path("noneighbors.hdf5"), f, false, /*with_neighbors=*/false, false, nullptr);
  expect_error(read_ann_benchmarks(path("noneighbors.hdf5")).status(), StatusCode::kNotFound,
               {"no data set 'neighbors'", "distances, test, train"});
  ReadOptions o;
  o.hdf5_dataset = "learn";
  expect_error(read_vectors(path("noneighbors.hdf5"), o).status(), StatusCode::kNotFound,
               {"'learn'"});
  o.hdf5_dataset = "distances";
  EXPECT_EQ(read_neighbors(path("noneighbors.hdf5"), o).status().code(),
            StatusCode::kInvalidArgument);
  o = ReadOptions{};
  o.first_row = 31;
  EXPECT_EQ(read_vectors(path("noneighbors.hdf5"), o).status().code(),
            StatusCode::kInvalidArgument);
  Result<AnnBenchmarksDataset> none = read_ann_benchmarks(path("absent.hdf5"));
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(metric_for_ann_distance("jaccard").status().code(), StatusCode::kNotSupported);
}

TEST_F(Hdf5Test, AFileThatIsNotHdf5IsCorruption) {
  spit(path("fake.hdf5"), std::string(4096, 'x'));
  expect_error(read_vectors(path("fake.hdf5")).status(), StatusCode::kCorruption,
               {path("fake.hdf5"), "byte offset 0"});
  // A real file cut in half: the signature is there but the library cannot make sense of it.
  write_file(path("cut.hdf5"), make_fixture(), false);
  const std::string bytes = slurp(path("cut.hdf5"));
  spit(path("cut.hdf5"), bytes.substr(0, bytes.size() / 2));
  const Status s = read_ann_benchmarks(path("cut.hdf5")).status();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path("cut.hdf5")), std::string_view::npos) << s.to_string();
}

#else  // built without HDF5

TEST_F(Hdf5Test, ReadingHdf5IsNotSupportedAndSaysWhy) {
  EXPECT_FALSE(hdf5_supported());
  expect_error(read_vectors(path("glove.hdf5")).status(), StatusCode::kNotSupported,
               {"without HDF5", "libhdf5-dev"});
}

#endif

}  // namespace
}  // namespace vecperf::dataset_test
