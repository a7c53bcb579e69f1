// Name tables of the public enums: one array per enum gives both directions (value -> name for
// describe(), metrics and files; name -> value for specs, flags and the Python keywords), so
// each name is written once and the two can never disagree.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "vecperf/status.h"

namespace vecperf::internal {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

/// The name of `value` in `table`, or "unknown" for a value the table does not list.
template <typename E>
const char* enum_name(std::span<const EnumName<E>> table, E value) {
  for (const EnumName<E>& e : table)
    if (e.value == value) return e.name;
  return "unknown";
}

/// The names of `table` as "a, b or c".
template <typename E>
std::string enum_choices(std::span<const EnumName<E>> table) {
  std::string out;
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) out += i + 1 == table.size() ? " or " : ", ";
    out += table[i].name;
  }
  return out;
}

/// The value named `name`; kInvalidArgument "unknown <what> '<name>'; expected a, b or c".
template <typename E>
Result<E> parse_enum(std::span<const EnumName<E>> table, std::string_view name, const char* what) {
  for (const EnumName<E>& e : table)
    if (name == e.name) return e.value;
  return Status::InvalidArgument("unknown " + std::string(what) + " '" + std::string(name) +
                                 "'; expected " + enum_choices(table));
}

/// True when `value` is one the table lists (guards casts from integers read from files).
template <typename E>
bool enum_known(std::span<const EnumName<E>> table, E value) {
  for (const EnumName<E>& e : table)
    if (e.value == value) return true;
  return false;
}

}  // namespace vecperf::internal
