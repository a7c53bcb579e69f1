// The operations on one option field (see option_table.h), written once for every member type
// by visiting the field's member pointer, and instantiated for the four options structs.
#include "index/option_table.h"

#include <charconv>
#include <cmath>
#include <system_error>
#include <type_traits>

namespace vecperf::internal {
namespace {

std::string format_double(double v) {
  char buf[32];
  // Shortest text that reads back as the same double.
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

template <typename T>
Status parse_int(std::string_view text, T* out, const std::string& what) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return Status::InvalidArgument(what + ": '" + std::string(text) + "' is not " +
                                   (ec == std::errc::result_out_of_range
                                        ? "in the range of the option's integer type"
                                        : "an integer"));
  *out = v;
  return Status::OK();
}

Status parse_double(std::string_view text, double* out, const std::string& what) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    return Status::InvalidArgument(what + ": '" + std::string(text) + "' is not a finite number");
  *out = v;
  return Status::OK();
}

Status parse_bool(std::string_view text, bool* out, const std::string& what) {
  if (text == "true" || text == "1") {
    *out = true;
  } else if (text == "false" || text == "0") {
    *out = false;
  } else {
    return Status::InvalidArgument(what + ": '" + std::string(text) +
                                   "' is not a boolean (true, false, 1 or 0)");
  }
  return Status::OK();
}

std::string allowed_ints(const OptionRange& r) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (r.lo == kMin && r.hi == kMax) return "an integer";
  if (r.hi == kMax || r.hi == kIntMax) return ">= " + std::to_string(r.lo);
  return "in [" + std::to_string(r.lo) + ", " + std::to_string(r.hi) + "]";
}

std::string allowed_floats(const OptionRange& r) {
  if (std::isinf(r.flo) && std::isinf(r.fhi)) return "a finite number";
  return std::string(r.flo_open ? "in (" : "in [") + format_double(r.flo) + ", " +
         format_double(r.fhi) + "]";
}

}  // namespace

template <typename O>
std::string option_allowed(const OptionField<O>& f) {
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::remove_reference_t<decltype(std::declval<O&>().*member)>;
        if constexpr (std::is_same_v<T, bool>)
          return "true or false";
        else if constexpr (std::is_same_v<T, double>)
          return allowed_floats(f.range);
        else if constexpr (std::is_enum_v<T>)
          return enum_choices(enum_table<T>());
        else if constexpr (std::is_same_v<T, uint64_t>)
          return "an integer in [0, 2^64)";
        else
          return allowed_ints(f.range);
      },
      f.member);
}

template <typename O>
std::string option_text(const O& o, const OptionField<O>& f) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = o.*member;
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>)
          return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, double>)
          return format_double(v);
        else if constexpr (std::is_enum_v<T>)
          return enum_name(enum_table<T>(), v);
        else
          return std::to_string(v);
      },
      f.member);
}

template <typename O>
Status check_option(const O& o, const OptionField<O>& f, const std::string& what) {
  const bool ok = std::visit(
      [&](auto member) {
        const auto& v = o.*member;
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, uint64_t>)
          return true;
        else if constexpr (std::is_same_v<T, double>)
          return std::isfinite(v) && (f.range.flo_open ? v > f.range.flo : v >= f.range.flo) &&
                 v <= f.range.fhi;
        else if constexpr (std::is_enum_v<T>)
          return enum_known(enum_table<T>(), v);
        else
          return int64_t{v} >= f.range.lo && int64_t{v} <= f.range.hi;
      },
      f.member);
  if (ok) return Status::OK();
  std::string msg = what + " must be " + option_allowed(f);
  if (*f.note != '\0') msg += std::string(" (") + f.note + ")";
  const std::string got = option_text(o, f);
  msg += ", got " + (got == "unknown" ? std::string("a value that is not one") : got);
  return Status::InvalidArgument(std::move(msg));
}

template <typename O>
Status set_option_text(O& o, const OptionField<O>& f, std::string_view text,
                       const std::string& what) {
  O updated = o;
  Status parsed = std::visit(
      [&](auto member) -> Status {
        auto& v = updated.*member;
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>)
          return parse_bool(text, &v, what);
        else if constexpr (std::is_same_v<T, double>)
          return parse_double(text, &v, what);
        else if constexpr (std::is_enum_v<T>) {
          auto e = parse_enum(enum_table<T>(), text, what.c_str());
          if (!e.ok()) return e.status();
          v = *e;
          return Status::OK();
        } else {
          return parse_int(text, &v, what);
        }
      },
      f.member);
  VECPERF_RETURN_IF_ERROR(parsed);
  VECPERF_RETURN_IF_ERROR(check_option(updated, f, what));
  o = std::move(updated);
  return Status::OK();
}

template <typename O>
void write_options(Writer& w, const O& o) {
  for (const OptionField<O>& f : fields_of<O>()) {
    std::visit(
        [&](auto member) {
          const auto& v = o.*member;
          using T = std::remove_cvref_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>)
            w.pod<uint8_t>(v ? 1 : 0);
          else if constexpr (std::is_enum_v<T>)
            w.pod<int32_t>(static_cast<int32_t>(v));
          else
            w.pod<T>(v);
        },
        f.member);
  }
}

template <typename O>
bool read_options(Reader& r, O* o, const char* prefix) {
  for (const OptionField<O>& f : fields_of<O>()) {
    const std::string what = std::string(prefix) + " " + f.name;
    const bool ok = std::visit(
        [&](auto member) {
          auto& v = o->*member;
          using T = std::remove_cvref_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) {
            uint8_t b = 0;
            if (!r.pod(&b, what.c_str())) return false;
            if (b > 1) return r.corrupt(what + " is " + std::to_string(b) + ", not 0 or 1");
            v = b != 0;
          } else if constexpr (std::is_enum_v<T>) {
            int32_t raw = 0;
            if (!r.pod(&raw, what.c_str())) return false;
            if (!enum_known(enum_table<T>(), static_cast<T>(raw)))
              return r.corrupt("unknown " + what + " " + std::to_string(raw));
            v = static_cast<T>(raw);
          } else {
            if (!r.pod(&v, what.c_str())) return false;
          }
          return true;
        },
        f.member);
    if (!ok) return false;
  }
  return true;
}

// O is a type name, which cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define VECPERF_OPTION_TABLE_INSTANTIATE(O)                                             \
  template std::string option_allowed<O>(const OptionField<O>&);                        \
  template std::string option_text<O>(const O&, const OptionField<O>&);                 \
  template Status check_option<O>(const O&, const OptionField<O>&, const std::string&); \
  template Status set_option_text<O>(O&, const OptionField<O>&, std::string_view,       \
                                     const std::string&);                               \
  template void write_options<O>(Writer&, const O&);                                    \
  template bool read_options<O>(Reader&, O*, const char*);
VECPERF_OPTION_TABLE_INSTANTIATE(IvfOptions)
VECPERF_OPTION_TABLE_INSTANTIATE(HnswOptions)
VECPERF_OPTION_TABLE_INSTANTIATE(GpuFlatOptions)
VECPERF_OPTION_TABLE_INSTANTIATE(AutoOptions)
#undef VECPERF_OPTION_TABLE_INSTANTIATE
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace vecperf::internal
