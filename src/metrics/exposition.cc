// See exposition.h: families are buffered and printed once each, in order of first appearance.
#include "metrics/exposition.h"

#include <charconv>
#include <cmath>

namespace vecperf::internal {
namespace {

bool is_name_char(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         (allow_colon && c == ':');
}

std::string sanitize(std::string_view name, bool allow_colon) {
  if (name.empty()) return "_";
  std::string out(name);
  for (char& c : out) {
    if (!is_name_char(c, allow_colon)) c = '_';
  }
  if (out[0] >= '0' && out[0] <= '9') out[0] = '_';
  return out;
}

// HELP text escapes only backslash and newline (quotes are literal there).
std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* type_name(Exposition::Type type) {
  switch (type) {
    case Exposition::Type::kCounter: return "counter";
    case Exposition::Type::kGauge: return "gauge";
    case Exposition::Type::kHistogram: return "histogram";
  }
  return "untyped";
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += ',';
  out += sanitize_label_name(name);
  out += "=\"";
  out += escape_label_value(value);
  out += '"';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string sanitize_metric_name(std::string_view name) { return sanitize(name, true); }
std::string sanitize_label_name(std::string_view name) { return sanitize(name, false); }

std::string format_labels(std::initializer_list<std::pair<std::string_view, std::string_view>> l) {
  std::string out;
  for (const auto& [name, value] : l) append_label(out, name, value);
  return out;
}

std::string format_labels(const MetricLabels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) append_label(out, name, value);
  return out;
}

std::string join_labels(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!a.empty() && !b.empty()) out += ',';
  out += b;
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, r.ptr);
}

Exposition::Family& Exposition::find_or_add(std::string_view name, Type type,
                                            std::string_view help) {
  std::string key(name);
  auto it = by_name_.find(key);
  if (it != by_name_.end()) return families_[it->second];
  by_name_.emplace(key, families_.size());
  families_.push_back(Family{std::move(key), type, std::string(help), {}});
  return families_.back();
}

void Exposition::family(std::string_view name, Type type, std::string_view help) {
  find_or_add(name, type, help);
}

void Exposition::sample(std::string_view name, Type type, std::string_view help,
                        std::string_view labels, std::string_view value) {
  std::string& out = find_or_add(name, type, help).samples;
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(value).append("\n");
}

void Exposition::counter(std::string_view name, std::string_view help, std::string_view labels,
                         uint64_t value) {
  sample(name, Type::kCounter, help, labels, std::to_string(value));
}

void Exposition::gauge(std::string_view name, std::string_view help, std::string_view labels,
                       double value) {
  sample(name, Type::kGauge, help, labels, format_value(value));
}

void Exposition::histogram_ns(std::string_view name, std::string_view help, std::string_view labels,
                              const Histogram& histogram) {
  histogram.append_prometheus_samples_ns(find_or_add(name, Type::kHistogram, help).samples, name,
                                         labels);
}

std::string Exposition::text() const {
  std::string out;
  for (const Family& f : families_) {
    out.append("# HELP ").append(f.name).append(" ").append(escape_help(f.help)).append("\n");
    out.append("# TYPE ").append(f.name).append(" ").append(type_name(f.type)).append("\n");
    out.append(f.samples);
  }
  return out;
}

}  // namespace vecperf::internal
