// Damaged and hostile files: every reader must answer with the documented code and a message
// that names the file and the byte offset of the problem, and never crash or over-allocate.
#include "dataset_test_util.h"

namespace vecperf::dataset_test {
namespace {

class MalformedTest : public DatasetTest {
 protected:
  // Writes `bytes` to `name` and reads it as vectors (or ids for the integer formats).
  Status read(const std::string& name, const std::string& bytes) {
    spit(path(name), bytes);
    const bool ids =
        name.find(".ivecs") != std::string::npos || name.find(".ibin") != std::string::npos;
    return ids ? read_neighbors(path(name)).status() : read_vectors(path(name)).status();
  }
  // Expects kCorruption naming the file and `offset`, plus any further message parts.
  void expect_corrupt(const std::string& name, const std::string& bytes, uint64_t offset,
                      std::initializer_list<std::string> parts = {}) {
    SCOPED_TRACE(name);
    const Status s = read(name, bytes);
    std::string quoted(1, '\'');  // built piecewise: g++ 12 warns falsely on "'" + string
    quoted += path(name);
    quoted += '\'';
    expect_error(s, StatusCode::kCorruption,
                 {quoted, "byte offset " + std::to_string(offset) + ")"});
    for (const std::string& part : parts) expect_error(s, StatusCode::kCorruption, {part});
  }
};

std::string npy(const std::string& dict, const std::string& data, char major = 1) {
  std::string out = std::string("\x93NUMPY", 6) + major + '\0';
  out += major == 1 ? le<uint16_t>(static_cast<uint16_t>(dict.size()))
                    : le<uint32_t>(static_cast<uint32_t>(dict.size()));
  return out + dict + data;
}

std::string floats(int n) { return std::string(static_cast<size_t>(n) * 4, '\0'); }

TEST_F(MalformedTest, RecordFormatsRejectBadHeadersAndRecords) {
  for (const std::string ext : {".fvecs", ".ivecs", ".bvecs"}) {
    const int width = ext == ".bvecs" ? 1 : 4;
    auto rec = [&](int32_t dim, int values) {
      return le(dim) + std::string(static_cast<size_t>(values * width), '\x01');
    };
    expect_corrupt("empty" + ext, "", 0, {"too short"});
    expect_corrupt("short" + ext, "\x03\x00", 0, {"too short"});
    expect_corrupt("dim0" + ext, rec(0, 0) + rec(0, 0), 0, {"dimension 0"});
    expect_corrupt("negative" + ext, rec(-4, 4), 0, {"dimension -4"});
    expect_corrupt("huge" + ext, le<int32_t>(1 << 30) + std::string(64, '\0'), 0,
                   {"dimension 1073741824"});
    const uint64_t stride = 4 + 3 * width;
    // Two whole records and a third cut short: the offset is where the third begins.
    expect_corrupt("truncated" + ext, rec(3, 3) + rec(3, 3) + rec(3, 1), 2 * stride, {"truncated"});
    // The fourth record claims dim 2 but the file size still divides: caught record by record.
    std::string changed = rec(3, 3) + rec(3, 3) + rec(3, 3) + rec(2, 3);
    expect_corrupt("changed" + ext, changed, 3 * stride, {"record 3 has dimension 2"});
  }
}

TEST_F(MalformedTest, BigAnnFormatsRejectHeadersThatDisagreeWithTheFile) {
  for (const std::string ext : {".fbin", ".ibin", ".u8bin"}) {
    const int width = ext == ".u8bin" ? 1 : 4;
    auto header = [](uint32_t rows, uint32_t dim) { return le(rows) + le(dim); };
    auto data = [&](int values) { return std::string(static_cast<size_t>(values * width), '\0'); };
    expect_corrupt("short" + ext, "\x01\x00\x00\x00\x02", 0, {"8-byte header"});
    expect_corrupt("dim0" + ext, header(3, 0), 4, {"dimension 0"});
    expect_corrupt("hugedim" + ext, header(1, 1u << 31) + data(16), 4, {"dimension 2147483648"});
    // A row count far beyond the file: rejected from the sizes, nothing is allocated.
    expect_corrupt("rows" + ext, header(4000000000u, 64) + data(64), 0,
                   {"4000000000 rows", "truncated"});
    expect_corrupt("cut" + ext, header(3, 4) + data(11), 0, {"3 rows x 4 dims"});
    expect_corrupt("trailing" + ext, header(3, 4) + data(13), 0);
  }
  // ids + distances is a valid .ibin (big-ann ground truth); ids + half the distances is not.
  expect_corrupt("half.ibin", le<uint32_t>(2) + le<uint32_t>(2) + floats(6), 0);
}

TEST_F(MalformedTest, NpyRejectsDamagedHeadersWithCorruption) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  expect_corrupt("tiny.npy", "\x93NUM", 0, {"shorter"});
  expect_corrupt("magic.npy", "\x93NUMPX\x01\x00" + le<uint16_t>(4) + "{}  ", 0, {"bad magic"});
  std::string long_header = npy(ok, floats(6));
  long_header[8] = '\xff';
  long_header[9] = '\x7f';
  expect_corrupt("hlen.npy", long_header, 8, {"runs past the end"});
  expect_corrupt("absurd.npy",
                 std::string("\x93NUMPY\x02\x00", 8) + le<uint32_t>(1u << 30) + ok + floats(6), 8,
                 {"absurd"});
  // Offsets inside the header count from the start of the file (the dict starts at 10).
  expect_corrupt("unterminated.npy", npy("{'descr", ""), 11, {"unterminated"});
  expect_corrupt("nobrace.npy", npy("'descr': '<f4'", floats(1)), 10, {"expected '{'"});
  expect_corrupt("missing.npy", npy("{'descr': '<f4', 'shape': (2, 3)}", floats(6)), 43,
                 {"'fortran_order'"});
  expect_corrupt(
      "unknown.npy",
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", floats(6)), 68,
      {"unexpected key 'x'"});
  expect_corrupt(
      "twice.npy",
      npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", floats(1)), 27,
      {"twice"});
  expect_corrupt("badshape.npy",
                 npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x)}", floats(6)), 64,
                 {"integer"});
  expect_corrupt("bigshape.npy",
                 npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 3)}",
                     floats(6)),
                 61, {"absurdly large"});
  // Shape vs size: the offset is that of the shape tuple.
  const std::string prefix = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  const uint64_t shape_at = 10 + prefix.size();
  expect_corrupt("size.npy", npy(prefix + "(5, 3)}", floats(6)), shape_at,
                 {"shape (5, 3)", "24 bytes after the header"});
  expect_corrupt("rows.npy", npy(prefix + "(281474976710655, 3)}", floats(6)), shape_at);
  expect_corrupt("dim0.npy", npy(prefix + "(5, 0)}", ""), shape_at, {"dimension 0"});
  expect_corrupt("bigdim.npy", npy(prefix + "(1, 70000)}", floats(70000)), shape_at,
                 {"dimension 70000"});
}

TEST_F(MalformedTest, NpyReportsValidButUnreadableArraysAsNotSupported) {
  const std::string data = floats(6);
  struct Case {
    const char* name;
    std::string bytes;
    const char* hint;
  } cases[] = {
      {"f8.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}", data + data),
       "astype('float32')"},
      {"u1.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}", "123456"),
       "dtype '|u1'"},
      {"be.npy", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3)}", data),
       "big-endian"},
      {"fortran.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", data),
       "ascontiguousarray"},
      {"3d.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3)}", data),
       "3-dimensional"},
      {"scalar.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", floats(1)),
       "0-dimensional"},
      {"v4.npy", npy("{}", "", '\4'), "version 4.0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    expect_error(read(c.name, c.bytes), StatusCode::kNotSupported, {path(c.name), c.hint});
  }
}

}  // namespace
}  // namespace vecperf::dataset_test
