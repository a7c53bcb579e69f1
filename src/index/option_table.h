// One table per options struct (vecperf/options.h): each field's name, its member, the range
// validate() accepts and a note for messages. Everything that names or handles an option goes
// through these tables: IndexOptions::validate(), the file codec of the options inside index
// payloads, describe(), the text form (parse_index_spec / index_spec / set_index_option), and so
// the Python keywords and the benchmark flags built on it. Adding a field to an options struct
// means adding one row here (docs/design/options.md).
//
// The file codec follows the table order and the member's C++ type: int -> int32, int64_t ->
// int64, uint64_t -> uint64, double -> float64, bool -> uint8, an enum -> int32. A new field
// changes the payload layout, so it goes with a new payload version of its backend.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/enum_names.h"
#include "common/serialize.h"
#include "vecperf/index.h"
#include "vecperf/options.h"

namespace vecperf::internal {

inline constexpr EnumName<Metric> kMetricNames[] = {
    {Metric::kL2, "l2"}, {Metric::kInnerProduct, "ip"}, {Metric::kCosine, "cosine"}};
inline constexpr EnumName<IndexKind> kIndexKindNames[] = {{IndexKind::kFlat, "flat"},
                                                          {IndexKind::kIvf, "ivf"},
                                                          {IndexKind::kHnsw, "hnsw"},
                                                          {IndexKind::kAuto, "auto"},
                                                          {IndexKind::kGpuFlat, "gpu_flat"}};
inline constexpr EnumName<IvfEncoding> kIvfEncodingNames[] = {{IvfEncoding::kFlat, "flat"},
                                                              {IvfEncoding::kSQ8, "sq8"},
                                                              {IvfEncoding::kSQ4, "sq4"},
                                                              {IvfEncoding::kPQ, "pq"}};
inline constexpr EnumName<GpuDtype> kGpuDtypeNames[] = {{GpuDtype::kFloat32, "float32"},
                                                        {GpuDtype::kFloat16, "float16"}};
inline constexpr EnumName<SearchKnob> kSearchKnobNames[] = {
    {SearchKnob::kNone, ""}, {SearchKnob::kNprobe, "nprobe"}, {SearchKnob::kEfSearch, "ef_search"}};

/// The name table of an enum an option may hold.
template <typename E>
constexpr std::span<const EnumName<E>> enum_table();
template <>
constexpr std::span<const EnumName<IvfEncoding>> enum_table<IvfEncoding>() {
  return kIvfEncodingNames;
}
template <>
constexpr std::span<const EnumName<GpuDtype>> enum_table<GpuDtype>() {
  return kGpuDtypeNames;
}

/// Values validate() accepts: [lo, hi] for integers; for floats (flo, fhi] when flo_open, else
/// [flo, fhi]. Enums accept the names of their table; bools both values.
struct OptionRange {
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = std::numeric_limits<int64_t>::max();
  double flo = -std::numeric_limits<double>::infinity();
  double fhi = std::numeric_limits<double>::infinity();
  bool flo_open = false;
};

constexpr OptionRange at_least(int64_t lo) { return OptionRange{lo}; }
constexpr OptionRange between(int64_t lo, int64_t hi) { return OptionRange{lo, hi}; }
/// (lo, hi] for a float option.
constexpr OptionRange above_up_to(double lo, double hi) {
  OptionRange r;
  r.flo = lo;
  r.fhi = hi;
  r.flo_open = true;
  return r;
}

template <typename O>
struct OptionField {
  using Member = std::variant<int O::*, int64_t O::*, uint64_t O::*, double O::*, bool O::*,
                              IvfEncoding O::*, GpuDtype O::*>;
  const char* name;
  Member member;
  OptionRange range = {};
  /// Said after the range in messages, e.g. "0 = derived from N"; may be empty.
  const char* note = "";
};

// The tables. Order = the file layout (see the file comment) = the order of the struct.
inline constexpr int64_t kIntMax = std::numeric_limits<int>::max();

inline constexpr OptionField<IvfOptions> kIvfFields[] = {
    {"nlist", &IvfOptions::nlist, between(0, kIntMax), "0 = derived from N"},
    {"nprobe", &IvfOptions::nprobe, between(1, kIntMax)},
    {"encoding", &IvfOptions::encoding},
    {"pq_m", &IvfOptions::pq_m, between(0, 65536), "pq only; 0 = about dim/4"},
    {"rerank", &IvfOptions::rerank, between(0, kIntMax), "0 = no re-ranking"},
    {"train_threshold", &IvfOptions::train_threshold, at_least(0), "0 = max(1000, 39 * nlist)"},
    {"max_train_samples", &IvfOptions::max_train_samples, at_least(1)},
    {"seed", &IvfOptions::seed},
};

inline constexpr OptionField<HnswOptions> kHnswFields[] = {
    {"M", &HnswOptions::M, between(2, 256)},
    {"ef_construction", &HnswOptions::ef_construction, between(1, kIntMax)},
    {"ef_search", &HnswOptions::ef_search, between(1, kIntMax)},
    {"seed", &HnswOptions::seed},
};

inline constexpr OptionField<GpuFlatOptions> kGpuFlatFields[] = {
    {"dtype", &GpuFlatOptions::dtype},
    {"device", &GpuFlatOptions::device, between(0, kIntMax)},
    {"memory_fraction", &GpuFlatOptions::memory_fraction, above_up_to(0, 1)},
    {"prefer_gpu", &GpuFlatOptions::prefer_gpu},
    {"allow_tf32", &GpuFlatOptions::allow_tf32},
};

/// An auto index's own fields; its `ivf` and `hnsw` members follow, with their own tables and
/// the prefixes "ivf." and "hnsw." (on_progress is a callback, not an option).
inline constexpr OptionField<AutoOptions> kAutoFields[] = {
    {"flat_max", &AutoOptions::flat_max, at_least(1)},
    {"ivf_max", &AutoOptions::ivf_max, at_least(1), "must be >= flat_max"},
    {"target_recall", &AutoOptions::target_recall, above_up_to(0, 1)},
};

template <typename O>
constexpr std::span<const OptionField<O>> fields_of();
template <>
constexpr std::span<const OptionField<IvfOptions>> fields_of<IvfOptions>() {
  return kIvfFields;
}
template <>
constexpr std::span<const OptionField<HnswOptions>> fields_of<HnswOptions>() {
  return kHnswFields;
}
template <>
constexpr std::span<const OptionField<GpuFlatOptions>> fields_of<GpuFlatOptions>() {
  return kGpuFlatFields;
}
template <>
constexpr std::span<const OptionField<AutoOptions>> fields_of<AutoOptions>() {
  return kAutoFields;
}

// ---- one field --------------------------------------------------------------------------------

/// The type a user writes the field's value in.
template <typename O>
OptionType option_type(const OptionField<O>& f) {
  return std::visit(
      [](auto member) {
        using T = std::remove_reference_t<decltype(std::declval<O&>().*member)>;
        if constexpr (std::is_same_v<T, bool>)
          return OptionType::kBool;
        else if constexpr (std::is_same_v<T, double>)
          return OptionType::kFloat;
        else if constexpr (std::is_enum_v<T>)
          return OptionType::kName;
        else
          return OptionType::kInt;
      },
      f.member);
}

/// What validate() accepts, in words: ">= 1", "in [2, 256]", "in (0, 1]", "flat, sq8, sq4 or pq".
template <typename O>
std::string option_allowed(const OptionField<O>& f);

/// The field's value as text (as index_spec writes it).
template <typename O>
std::string option_text(const O& o, const OptionField<O>& f);

/// Sets the field from text; kInvalidArgument "<what>: ..." when the text is not a value of the
/// field's type or is out of its range.
template <typename O>
Status set_option_text(O& o, const OptionField<O>& f, std::string_view text,
                       const std::string& what);

/// kInvalidArgument "<what> must be <allowed> (<note>), got <value>" when out of range.
template <typename O>
Status check_option(const O& o, const OptionField<O>& f, const std::string& what);

// ---- whole structs ------------------------------------------------------------------------------

/// Every field of `o` in range; messages name the field as "<prefix>.<name>".
template <typename O>
Status check_options(const O& o, const char* prefix) {
  for (const OptionField<O>& f : fields_of<O>())
    VECPERF_RETURN_IF_ERROR(check_option(o, f, std::string(prefix) + "." + f.name));
  return Status::OK();
}

/// "name=value, name=value" for every field, the options part of describe().
template <typename O>
std::string describe_options(const O& o) {
  std::string out;
  for (const OptionField<O>& f : fields_of<O>()) {
    if (!out.empty()) out += ", ";
    out += f.name;
    out += '=';
    out += option_text(o, f);
  }
  return out;
}

/// describe_options() of every section of `o` (an auto index's stages as "ivf.nlist=...").
std::string describe_options(const IndexOptions& o);

/// Writes the fields in table order (see the file comment for the encoding).
template <typename O>
void write_options(Writer& w, const O& o);

/// Reads what write_options wrote; an enum value the table does not know is kCorruption. Ranges
/// are left to IndexOptions::validate(), which knows the dimension. `prefix` names the fields
/// in messages ("ivf" -> "ivf nlist").
template <typename O>
bool read_options(Reader& r, O* o, const char* prefix);

}  // namespace vecperf::internal
