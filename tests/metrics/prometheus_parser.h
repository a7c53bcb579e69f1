// A strict parser of the Prometheus text exposition format (0.0.4) for tests: it checks the
// grammar of every line and the rules a scraper relies on, and gives the parsed samples back so
// that tests can look values up by name and labels.
//
// Checked: metric and label names; label values escaped (only \\, \" and \n); numeric values;
// at most one HELP and one TYPE per family, TYPE before the family's samples; a family's lines
// contiguous; no duplicate series; histogram series (_bucket with le, _sum, _count) with
// cumulative bucket counts ending at le="+Inf" equal to _count.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vecperf::testing {

using Labels = std::map<std::string, std::string>;

struct PromSample {
  std::string name;  // as written, e.g. x_bucket
  Labels labels;     // unescaped values
  double value = 0;
};

struct PromFamily {
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::string help;
  bool has_help = false;
  std::vector<PromSample> samples;
};

struct PromDocument {
  std::map<std::string, PromFamily> families;
  std::vector<PromSample> samples;  // in order

  /// Value of the sample `name` whose labels equal `labels`, if present.
  std::optional<double> value(const std::string& name, const Labels& labels = {}) const {
    for (const PromSample& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }
  /// Samples named `name` whose labels include every pair of `subset`.
  std::vector<PromSample> find(const std::string& name, const Labels& subset = {}) const {
    std::vector<PromSample> out;
    for (const PromSample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : subset) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) match = false;
      }
      if (match) out.push_back(s);
    }
    return out;
  }
};

namespace prom_detail {

inline bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
inline bool name_char(char c, bool colon) { return name_start(c, colon) || (c >= '0' && c <= '9'); }

// Reads a name at `pos`; empty on failure.
inline std::string read_name(std::string_view line, size_t& pos, bool colon) {
  const size_t start = pos;
  if (pos >= line.size() || !name_start(line[pos], colon)) return {};
  while (pos < line.size() && name_char(line[pos], colon)) ++pos;
  return std::string(line.substr(start, pos - start));
}

inline bool parse_value(std::string_view text, double* out) {
  if (text == "+Inf" || text == "Inf") return *out = INFINITY, true;
  if (text == "-Inf") return *out = -INFINITY, true;
  if (text == "NaN") return *out = NAN, true;
  if (text.empty()) return false;
  std::string s(text);
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*out);
}

// The family a sample belongs to: histogram suffixes map to their base when it is declared.
inline std::string family_of(const std::string& name, const std::map<std::string, PromFamily>& f) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto it = f.find(base);
      if (it != f.end() && it->second.type == "histogram") return base;
    }
  }
  return name;
}

}  // namespace prom_detail

/// Parses `text`; on any violation returns false and sets `*error` to "line N: problem".
inline bool parse_prometheus(const std::string& text, PromDocument* doc, std::string* error) {
  using namespace prom_detail;
  *doc = PromDocument{};
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  std::string current;           // family of the previous line
  std::set<std::string> closed;  // families whose lines ended
  std::set<std::string> series;
  auto fail = [&](const std::string& what) {
    *error = "line " + std::to_string(line_no) + ": " + what + ": '" + line + "'";
    return false;
  };
  auto enter = [&](const std::string& family) {
    if (family == current) return true;
    if (closed.count(family)) return false;  // family lines not contiguous
    if (!current.empty()) closed.insert(current);
    current = family;
    return true;
  };
  if (!text.empty() && text.back() != '\n')
    return *error = "text does not end with a newline", false;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name;
      words >> hash >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // a plain comment
      size_t p = 0;
      if (read_name(name, p, true).size() != name.size() || name.empty())
        return fail("bad metric name in " + kind);
      if (!enter(name)) return fail("family " + name + " is not contiguous");
      PromFamily& f = doc->families[name];
      if (kind == "HELP") {
        if (f.has_help) return fail("second HELP for " + name);
        f.has_help = true;
        const size_t at = line.find(name) + name.size();
        f.help = at < line.size() ? line.substr(at + 1) : "";
      } else {
        std::string type;
        words >> type;
        if (!f.type.empty()) return fail("second TYPE for " + name);
        if (!f.samples.empty()) return fail("TYPE after samples of " + name);
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped")
          return fail("unknown type " + type);
        f.type = type;
      }
      continue;
    }
    PromSample s;
    size_t pos = 0;
    s.name = read_name(line, pos, true);
    if (s.name.empty()) return fail("bad metric name");
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (true) {
        if (pos < line.size() && line[pos] == '}') {
          ++pos;
          break;
        }
        const std::string label = read_name(line, pos, false);
        if (label.empty()) return fail("bad label name");
        if (pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"')
          return fail("expected =\" after label " + label);
        pos += 2;
        std::string value;
        bool closed_quote = false;
        while (pos < line.size()) {
          const char c = line[pos++];
          if (c == '"') {
            closed_quote = true;
            break;
          }
          if (c == '\\') {
            if (pos >= line.size()) return fail("dangling backslash");
            const char e = line[pos++];
            if (e == '\\')
              value += '\\';
            else if (e == '"')
              value += '"';
            else if (e == 'n')
              value += '\n';
            else
              return fail(std::string("bad escape \\") + e);
          } else {
            value += c;
          }
        }
        if (!closed_quote) return fail("unterminated label value");
        if (!s.labels.emplace(label, value).second) return fail("label " + label + " repeated");
        if (pos < line.size() && line[pos] == ',')
          ++pos;
        else if (pos >= line.size() || line[pos] != '}')
          return fail("expected , or }");
      }
    }
    if (pos >= line.size() || line[pos] != ' ') return fail("expected a space before the value");
    ++pos;
    std::string_view rest = std::string_view(line).substr(pos);
    const size_t space = rest.find(' ');  // an optional timestamp follows
    if (!parse_value(rest.substr(0, space), &s.value)) return fail("bad value");
    const std::string family = family_of(s.name, doc->families);
    if (!enter(family)) return fail("family " + family + " is not contiguous");
    auto it = doc->families.find(family);
    if (it == doc->families.end() || it->second.type.empty())
      return fail("sample of " + family + " without a TYPE");
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    if (!series.insert(key).second) return fail("duplicate series");
    it->second.samples.push_back(s);
    doc->samples.push_back(s);
  }
  // Histograms: per label set (without le), buckets cumulative and +Inf == _count.
  for (const auto& [name, f] : doc->families) {
    if (f.type != "histogram") continue;
    std::map<Labels, std::vector<std::pair<double, double>>> buckets;
    std::map<Labels, double> counts;
    std::map<Labels, bool> sums;
    for (const PromSample& s : f.samples) {
      Labels base = s.labels;
      if (s.name == name + "_bucket") {
        auto le = base.find("le");
        if (le == base.end()) return *error = name + "_bucket without le", false;
        double bound = 0;
        if (!parse_value(le->second, &bound))
          return *error = name + ": bad le " + le->second, false;
        base.erase(le);
        buckets[base].emplace_back(bound, s.value);
      } else if (s.name == name + "_count") {
        counts[base] = s.value;
      } else if (s.name == name + "_sum") {
        sums[base] = true;
      } else {
        return *error = "sample " + s.name + " in histogram " + name, false;
      }
    }
    for (const auto& [labels, list] : buckets) {
      for (size_t i = 1; i < list.size(); ++i) {
        if (!(list[i].first > list[i - 1].first))
          return *error = name + ": le not increasing", false;
        if (list[i].second < list[i - 1].second)
          return *error = name + ": bucket counts not cumulative", false;
      }
      if (list.empty() || !std::isinf(list.back().first))
        return *error = name + ": last bucket is not +Inf", false;
      if (!counts.count(labels) || counts.at(labels) != list.back().second)
        return *error = name + ": +Inf bucket differs from _count", false;
      if (!sums.count(labels)) return *error = name + ": no _sum", false;
    }
    if (buckets.size() != counts.size()) return *error = name + ": _count without buckets", false;
  }
  return true;
}

}  // namespace vecperf::testing
