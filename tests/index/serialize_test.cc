// In-memory serialization (Index::to_bytes / from_bytes) and Index::next_free_id, for every
// backend: the bytes are the saved file's, and they are checked exactly as a file is.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "index/backends.h"
#include "testing/testing.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::testing {
namespace {

constexpr int64_t kDim = 8;
constexpr int64_t kN = 400;  // past AutoBackend's ivf_max, so Auto ends as HNSW

template <typename Backend>
class SerializeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Index> make(int64_t dim = kDim) {
    auto index = make_index(Backend::options(dim, Metric::kL2));
    EXPECT_TRUE(index.ok()) << index.status().to_string();
    return index.ok() ? std::move(*index) : nullptr;
  }

  // An index with kN vectors (ids 3..) of which three are removed.
  std::unique_ptr<Index> filled() {
    auto index = make();
    Matrix base = clustered(kN, kDim, 21);
    EXPECT_TRUE(index->add(sequential_ids(kN, 3), base.view()).ok());
    EXPECT_TRUE(index->remove(std::vector<int64_t>{3, 10, 200}).ok());
    return index;
  }

  std::string bytes_of(const Index& index) {
    auto bytes = index.to_bytes();
    EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
    return bytes.ok() ? std::move(*bytes) : std::string();
  }

  std::vector<int64_t> search_ids(const Index& index) {
    Matrix q = clustered(20, kDim, 22);
    SearchOptions opts;  // the index's own defaults, which the bytes carry
    std::vector<float> dist(q.rows * opts.k);
    std::vector<int64_t> ids(q.rows * opts.k);
    EXPECT_TRUE(index.search(q.view(), opts, SearchResults{dist.data(), ids.data()}).ok());
    return ids;
  }

  std::filesystem::path temp_path(const std::string& name) {
    dir_ = std::filesystem::temp_directory_path() /
           ("vecperf_serialize_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    return dir_ / (std::string(Backend::kName) + "_" + name);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

 private:
  std::filesystem::path dir_;
};

TYPED_TEST_SUITE(SerializeTest, AllBackends, BackendNames);

TYPED_TEST(SerializeTest, BytesAreTheSavedFileAndLoadLikeIt) {
  auto index = this->filled();
  const std::string bytes = this->bytes_of(*index);
  auto path = this->temp_path("index.vpi");
  ASSERT_TRUE(index->save(path.string()).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(bytes == file) << "to_bytes() differs from the saved file";  // no hex dump

  auto from_memory = from_bytes(bytes);
  ASSERT_TRUE(from_memory.ok()) << from_memory.status().to_string();
  auto from_file = load(path.string());
  ASSERT_TRUE(from_file.ok()) << from_file.status().to_string();
  const Index& copy = **from_memory;
  EXPECT_EQ(copy.kind(), index->kind());
  EXPECT_EQ(copy.size(), (*from_file)->size());
  EXPECT_EQ(copy.describe(), (*from_file)->describe());
  EXPECT_FALSE(copy.contains(10));
  EXPECT_EQ(this->search_ids(copy), this->search_ids(**from_file));
  EXPECT_EQ(this->search_ids(copy), this->search_ids(*index));
}

TYPED_TEST(SerializeTest, EmptyIndexRoundTrips) {
  auto index = this->make();
  auto copy = from_bytes(this->bytes_of(*index));
  ASSERT_TRUE(copy.ok()) << copy.status().to_string();
  EXPECT_EQ((*copy)->size(), 0);
  EXPECT_EQ((*copy)->dim(), kDim);
}

TYPED_TEST(SerializeTest, DamagedBytesAreCorruption) {
  // Past IVF's training threshold, so the trained structure is in the bytes.
  auto index = this->make(4);
  Matrix base = clustered(100, 4, 23);
  ASSERT_TRUE(index->add(sequential_ids(100), base.view()).ok());
  const std::string bytes = this->bytes_of(*index);
  ASSERT_GT(bytes.size(), 40u);

  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = from_bytes(std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(r.ok()) << "length " << len;
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().to_string();
    ASSERT_NE(r.status().message().find("bytes in memory"), std::string_view::npos)
        << r.status().to_string();
  }
  EXPECT_EQ(from_bytes(bytes + '\0').status().code(), StatusCode::kCorruption);
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x10);
    auto r = from_bytes(flipped);
    ASSERT_FALSE(r.ok()) << "byte " << pos;
    // A flip in the version field is caught by the header checksum first.
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << "byte " << pos;
  }
}

TYPED_TEST(SerializeTest, NewerFormatVersionIsNotSupported) {
  auto index = this->filled();
  std::string bytes = this->bytes_of(*index);
  // Header (docs/file-format.md): version at offset 8, XXH64 of bytes 0..31 at offset 32.
  const uint32_t newer = 2;
  std::memcpy(bytes.data() + 8, &newer, sizeof(newer));
  const uint64_t header_hash = XXH64(bytes.data(), 32, 0);
  std::memcpy(bytes.data() + 32, &header_hash, sizeof(header_hash));
  auto r = from_bytes(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotSupported) << r.status().to_string();
  EXPECT_NE(r.status().message().find("version 2"), std::string_view::npos);
}

TYPED_TEST(SerializeTest, NextFreeIdFollowsTheLargestIdThroughSaveAndLoad) {
  auto index = this->make();
  EXPECT_EQ(index->next_free_id(), 0);
  Matrix base = clustered(11, kDim, 24);
  std::vector<int64_t> ids = sequential_ids(10);
  ids.push_back(1000);
  ASSERT_TRUE(index->add(ids, base.view()).ok());
  EXPECT_EQ(index->next_free_id(), 1001);

  // Removing a smaller id changes nothing; removing the largest lowers it.
  ASSERT_TRUE(index->remove(std::vector<int64_t>{5}).ok());
  EXPECT_EQ(index->next_free_id(), 1001);
  ASSERT_TRUE(index->remove(std::vector<int64_t>{1000, 9}).ok());
  EXPECT_EQ(index->next_free_id(), 9);
  // An add after the rescan keeps it exact.
  Matrix more = clustered(1, kDim, 25);
  ASSERT_TRUE(index->add(std::vector<int64_t>{500}, more.view()).ok());
  EXPECT_EQ(index->next_free_id(), 501);

  auto path = this->temp_path("ids.vpi");
  ASSERT_TRUE(index->save(path.string()).ok());
  auto loaded = load(path.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->next_free_id(), 501);
  auto copy = from_bytes(this->bytes_of(*index));
  ASSERT_TRUE(copy.ok()) << copy.status().to_string();
  EXPECT_EQ((*copy)->next_free_id(), 501);

  // Ids from next_free_id() on can be added to the loaded index.
  Matrix fresh = clustered(3, kDim, 26);
  const int64_t first = (*loaded)->next_free_id();
  EXPECT_TRUE((*loaded)->add(sequential_ids(3, first), fresh.view()).ok());
  EXPECT_EQ((*loaded)->next_free_id(), first + 3);

  std::vector<int64_t> all = sequential_ids(9);
  all.erase(all.begin() + 5);  // 5 is already gone
  all.push_back(500);
  ASSERT_TRUE(index->remove(all).ok());
  EXPECT_EQ(index->size(), 0);
  EXPECT_EQ(index->next_free_id(), 0);
}

}  // namespace
}  // namespace vecperf::testing
