// .npy header parsing: a recursive-descent reader for the one dict literal NumPy writes. Every
// error names the byte offset (in the file) where parsing stopped.
#include "dataset/npy_header.h"

#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace vecperf::internal {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// A real header is a few hundred bytes; anything larger is damage, not data.
constexpr uint32_t kMaxHeaderLength = 1 << 20;
constexpr int64_t kMaxShapeValue = int64_t{1} << 48;

const char* descr_of(Elem e) {
  switch (e) {
    case Elem::kF32: return "<f4";
    case Elem::kI32: return "<i4";
    case Elem::kI64: return "<i8";
    case Elem::kU8: return "|u1";
  }
  return "";
}

// Parser over the header text; `base` is the file offset of text[0].
class DictParser {
 public:
  DictParser(std::string_view text, uint64_t base, const std::string& name)
      : text_(text), base_(base), name_(name) {}

  Status error(const std::string& problem) const { return error_at(base_ + pos_, problem); }
  Status error_at(uint64_t offset, const std::string& problem) const {
    return corrupt_at(DatasetFormat::kNpy, name_, offset,
                      "malformed header: " + problem + " (not an .npy file, or damaged)");
  }
  uint64_t offset() const { return base_ + pos_; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }

  Result<std::string> string_literal() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      return error("expected a quoted string");
    const char quote = text_[pos_++];
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') return error("escape sequences are not expected here");
      ++pos_;
    }
    if (pos_ >= text_.size()) return error_at(base_ + start - 1, "unterminated string");
    std::string s(text_.substr(start, pos_ - start));
    ++pos_;
    return s;
  }

  Result<bool> boolean() {
    skip_space();
    for (auto [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const size_t n = std::strlen(word);
      if (text_.substr(pos_, n) == word) {
        pos_ += n;
        return value;
      }
    }
    return error("expected True or False");
  }

  Result<std::vector<int64_t>> int_tuple() {
    if (!consume('(')) return error("expected '(' to start the shape");
    std::vector<int64_t> values;
    while (!consume(')')) {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
        return error("expected a non-negative integer in the shape");
      const uint64_t start = offset();
      int64_t v = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        v = v * 10 + (text_[pos_++] - '0');
        if (v > kMaxShapeValue) return error_at(start, "shape value is absurdly large");
      }
      if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 long literal
      values.push_back(v);
      if (values.size() > 32) return error("shape has too many dimensions");
      if (!consume(',') && !peek(')')) return error("expected ',' or ')' in the shape");
    }
    return values;
  }

 private:
  std::string_view text_;
  uint64_t base_;
  size_t pos_ = 0;
  const std::string& name_;
};

struct NpyDict {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  uint64_t shape_offset = 0;
};

Result<NpyDict> parse_dict(DictParser& p) {
  NpyDict d;
  bool seen_descr = false, seen_order = false, seen_shape = false;
  if (!p.consume('{')) return p.error("expected '{'");
  while (!p.consume('}')) {
    const uint64_t key_offset = p.offset();
    Result<std::string> key = p.string_literal();
    if (!key.ok()) return key.status();
    if (!p.consume(':')) return p.error("expected ':' after '" + *key + "'");
    bool* seen = nullptr;
    if (*key == "descr") {
      Result<std::string> v = p.string_literal();
      if (!v.ok()) return v.status();
      d.descr = *v;
      seen = &seen_descr;
    } else if (*key == "fortran_order") {
      Result<bool> v = p.boolean();
      if (!v.ok()) return v.status();
      d.fortran_order = *v;
      seen = &seen_order;
    } else if (*key == "shape") {
      p.skip_space();
      d.shape_offset = p.offset();
      Result<std::vector<int64_t>> v = p.int_tuple();
      if (!v.ok()) return v.status();
      d.shape = std::move(*v);
      seen = &seen_shape;
    } else {
      return p.error_at(key_offset, "unexpected key '" + *key + "'");
    }
    if (*seen) return p.error_at(key_offset, "key '" + *key + "' appears twice");
    *seen = true;
    if (!p.consume(',') && !p.peek('}')) return p.error("expected ',' or '}'");
  }
  if (!p.at_end()) return p.error("unexpected text after the dict");
  if (!seen_descr || !seen_order || !seen_shape)
    return p.error("the dict must have the keys 'descr', 'fortran_order' and 'shape'");
  return d;
}

}  // namespace

Result<Layout> parse_npy_layout(const ByteSource& src) {
  const std::string& name = src.name();
  const uint64_t size = src.size();
  if (size < 10)
    return corrupt_at(DatasetFormat::kNpy, name, 0,
                      "file is " + std::to_string(size) + " bytes, shorter than any .npy header");
  char pre[12] = {};
  VECPERF_RETURN_IF_ERROR(src.read_at(0, pre, std::min<uint64_t>(size, sizeof(pre))));
  if (std::memcmp(pre, kMagic, kMagicSize) != 0)
    return corrupt_at(DatasetFormat::kNpy, name, 0,
                      "bad magic: an .npy file starts with \\x93NUMPY (not an .npy file?)");
  const int major = static_cast<unsigned char>(pre[6]);
  const int minor = static_cast<unsigned char>(pre[7]);
  if ((major < 1 || major > 3) || minor != 0)
    return Status::NotSupported("npy file '" + name + "': format version " + std::to_string(major) +
                                "." + std::to_string(minor) +
                                " at byte offset 6; vecperf reads versions 1.0, 2.0 and 3.0");
  uint64_t preamble = 10;
  uint32_t header_length = 0;
  if (major == 1) {
    uint16_t n;
    std::memcpy(&n, pre + 8, 2);
    header_length = n;
  } else {
    if (size < 12) return corrupt_at(DatasetFormat::kNpy, name, 8, "truncated header length field");
    std::memcpy(&header_length, pre + 8, 4);
    preamble = 12;
  }
  if (header_length > kMaxHeaderLength)
    return corrupt_at(DatasetFormat::kNpy, name, 8,
                      "header length " + std::to_string(header_length) + " is absurd");
  if (header_length > size - preamble)
    return corrupt_at(DatasetFormat::kNpy, name, 8,
                      "header length " + std::to_string(header_length) +
                          " runs past the end of the " + std::to_string(size) + "-byte file");
  std::string text(header_length, '\0');
  VECPERF_RETURN_IF_ERROR(src.read_at(preamble, text.data(), header_length));

  DictParser parser(text, preamble, name);
  Result<NpyDict> dict = parse_dict(parser);
  if (!dict.ok()) return dict.status();

  Layout l;
  l.format = DatasetFormat::kNpy;
  l.data_offset = preamble + header_length;
  const std::string where = "npy file '" + name + "'";
  const std::string& descr = dict->descr;
  if (descr == "<f4") {
    l.elem = Elem::kF32;
  } else if (descr == "<i4") {
    l.elem = Elem::kI32;
  } else if (descr == "<i8") {
    l.elem = Elem::kI64;
  } else if (!descr.empty() && descr[0] == '>') {
    return Status::NotSupported(where + " is big-endian (dtype '" + descr +
                                "'); convert it with a.astype(a.dtype.newbyteorder('<'))");
  } else {
    return Status::NotSupported(where + " has dtype '" + descr +
                                "'; vecperf reads '<f4' vectors and '<i4'/'<i8' ids: convert it "
                                "with a.astype('float32') (or 'int32' for ids)");
  }
  const std::vector<int64_t>& shape = dict->shape;
  if (shape.empty() || shape.size() > 2)
    return Status::NotSupported(where + " holds a " + std::to_string(shape.size()) +
                                "-dimensional array; vecperf reads 1-D (one row) or 2-D arrays: "
                                "reshape it to (rows, dim)");
  l.rows = shape.size() == 2 ? shape[0] : 1;
  l.dim = shape.back();
  if (dict->fortran_order && l.rows > 1 && l.dim > 1)
    return Status::NotSupported(where +
                                " is in Fortran (column-major) order; save "
                                "np.ascontiguousarray(a) instead");
  if (l.dim < 1 || l.dim > kMaxDatasetDim)
    return corrupt_at(
        DatasetFormat::kNpy, name, dict->shape_offset,
        "dimension " + std::to_string(l.dim) + " is outside 1.." + std::to_string(kMaxDatasetDim));
  l.stride = static_cast<uint64_t>(l.dim) * elem_size(l.elem);
  const uint64_t available = size - l.data_offset;
  if (static_cast<uint64_t>(l.rows) > available / l.stride ||
      static_cast<uint64_t>(l.rows) * l.stride != available)
    return corrupt_at(DatasetFormat::kNpy, name, dict->shape_offset,
                      "shape (" + std::to_string(l.rows) + ", " + std::to_string(l.dim) +
                          ") needs " + std::to_string(l.rows) + " x " + std::to_string(l.stride) +
                          " bytes of data but the file has " + std::to_string(available) +
                          " bytes after the header (truncated or damaged)");
  return l;
}

std::string encode_npy_header(Elem elem, int64_t rows, int64_t dim) {
  std::string dict = std::string("{'descr': '") + descr_of(elem) +
                     "', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(dim) + "), }";
  const size_t preamble = 10;
  size_t total = preamble + dict.size() + 1;  // + the final '\n'
  total = (total + 63) / 64 * 64;
  dict.append(total - preamble - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  const uint16_t n = static_cast<uint16_t>(dict.size());
  out.append(reinterpret_cast<const char*>(&n), 2);
  out += dict;
  return out;
}

}  // namespace vecperf::internal
