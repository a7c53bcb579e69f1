// The index enums' names, IndexOptions::validate(), options by name and index specs, all read
// from the tables of option_table.h; and the dispatch of a backend's payload to its loader.
// make_index(), load() and from_bytes() are one layer up (src/build), where the auto backend and
// the metrics wrapper live.
#include "vecperf/options.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "common/guarded.h"
#include "index/index_base.h"
#include "index/index_format.h"
#include "index/option_table.h"
#include "vecperf/index.h"

namespace vecperf {

using internal::enum_name;
using internal::parse_enum;

const char* metric_name(Metric metric) { return enum_name<Metric>(internal::kMetricNames, metric); }

Result<Metric> parse_metric(const std::string& name) {
  // "inner_product" is the long form FAISS users write.
  if (name == "inner_product") return Metric::kInnerProduct;
  return parse_enum<Metric>(internal::kMetricNames, name, "metric");
}

const char* index_kind_name(IndexKind kind) {
  return enum_name<IndexKind>(internal::kIndexKindNames, kind);
}

Result<IndexKind> parse_index_kind(const std::string& name) {
  return parse_enum<IndexKind>(internal::kIndexKindNames, name, "index kind");
}

const char* ivf_encoding_name(IvfEncoding encoding) {
  return enum_name<IvfEncoding>(internal::kIvfEncodingNames, encoding);
}

Result<IvfEncoding> parse_ivf_encoding(const std::string& name) {
  return parse_enum<IvfEncoding>(internal::kIvfEncodingNames, name, "IVF encoding");
}

const char* gpu_dtype_name(GpuDtype dtype) {
  return enum_name<GpuDtype>(internal::kGpuDtypeNames, dtype);
}

Result<GpuDtype> parse_gpu_dtype(const std::string& name) {
  return parse_enum<GpuDtype>(internal::kGpuDtypeNames, name, "GPU dtype");
}

const char* search_knob_name(SearchKnob knob) {
  return enum_name<SearchKnob>(internal::kSearchKnobNames, knob);
}

namespace {

using internal::fields_of;

// The relations between fields that one field's range cannot say.
Status check_ivf(const IvfOptions& o, int64_t dim, const char* prefix) {
  VECPERF_RETURN_IF_ERROR(internal::check_options(o, prefix));
  if (o.encoding == IvfEncoding::kPQ && o.pq_m != 0 && dim % o.pq_m != 0)
    return Status::InvalidArgument(std::string(prefix) + ".pq_m = " + std::to_string(o.pq_m) +
                                   " must divide the dimension " + std::to_string(dim));
  return Status::OK();
}

// Messages name the fields as set_index_option() and specs do ("auto.ivf.nlist"; see
// option_path()).
Status check_auto(const AutoOptions& a, int64_t dim) {
  VECPERF_RETURN_IF_ERROR(internal::check_options(a, "auto"));
  if (a.ivf_max < a.flat_max)
    return Status::InvalidArgument("auto needs flat_max <= ivf_max, got flat_max " +
                                   std::to_string(a.flat_max) + " and ivf_max " +
                                   std::to_string(a.ivf_max));
  VECPERF_RETURN_IF_ERROR(check_ivf(a.ivf, dim, "auto.ivf"));
  return internal::check_options(a.hnsw, "auto.hnsw");
}

// The sections of `kind`, in file and table order; calls fn(prefix, fields, options struct).
template <typename Options, typename Fn>
void for_each_section(IndexKind kind, Options& o, Fn&& fn) {
  switch (kind) {
    case IndexKind::kFlat: break;
    case IndexKind::kIvf: fn("", fields_of<IvfOptions>(), o.ivf); break;
    case IndexKind::kHnsw: fn("", fields_of<HnswOptions>(), o.hnsw); break;
    case IndexKind::kGpuFlat: fn("", fields_of<GpuFlatOptions>(), o.gpu_flat); break;
    case IndexKind::kAuto:
      fn("", fields_of<AutoOptions>(), o.auto_index);
      fn("ivf.", fields_of<IvfOptions>(), o.auto_index.ivf);
      fn("hnsw.", fields_of<HnswOptions>(), o.auto_index.hnsw);
      break;
  }
}

std::string known_names(IndexKind kind) {
  std::string out;
  const IndexOptions defaults;
  for_each_section(kind, defaults, [&](const char* prefix, auto fields, const auto&) {
    for (const auto& f : fields) out += (out.empty() ? "" : ", ") + std::string(prefix) + f.name;
  });
  return "dim, metric" +
         (out.empty() ? std::string(" (") + index_kind_name(kind) + " has no options of its own)"
                      : ", " + out);
}

Status unknown_name(IndexKind kind, std::string_view name) {
  return Status::InvalidArgument("unknown option '" + std::string(name) + "' for kind " +
                                 index_kind_name(kind) + "; it accepts " + known_names(kind));
}

// Calls fn(field, struct, full name) for every field `name` refers to (see set_index_option)
// and returns how many it found.
template <typename Options, typename Fn>
int for_each_named(IndexKind kind, Options& o, std::string_view name, Fn&& fn) {
  int found = 0;
  for_each_section(kind, o, [&](const char* prefix, auto fields, auto& section) {
    const std::string_view p(prefix);
    std::string_view rest = name;
    if (!p.empty() && name.substr(0, p.size()) == p) {
      rest = name.substr(p.size());
    } else if (!p.empty() && name.find('.') != std::string_view::npos) {
      return;  // prefixed for another section
    }
    for (const auto& f : fields) {
      if (rest == f.name) {
        ++found;
        fn(f, section, std::string(prefix) + f.name);
      }
    }
  });
  return found;
}

// What messages call option `full` of an index of `kind`, e.g. "hnsw.M", "auto.ivf.nlist".
std::string option_path(IndexKind kind, const std::string& full) {
  return std::string(index_kind_name(kind)) + "." + full;
}

// The fields every kind has.
Status set_dim(IndexOptions& o, std::string_view value) {
  int64_t dim = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), dim);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || dim < 1 ||
      dim > internal::kMaxDim)
    return Status::InvalidArgument("dim: '" + std::string(value) + "' is not in [1, " +
                                   std::to_string(internal::kMaxDim) + "]");
  o.dim = dim;
  return Status::OK();
}

Status set_metric(IndexOptions& o, std::string_view value) {
  auto m = parse_metric(std::string(value));
  if (!m.ok()) return m.status();
  o.metric = *m;
  return Status::OK();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

Status IndexOptions::validate() const {
  if (dim < 1 || dim > internal::kMaxDim)
    return Status::InvalidArgument("dim must be in [1, " + std::to_string(internal::kMaxDim) +
                                   "], got " + std::to_string(dim));
  if (!internal::enum_known<Metric>(internal::kMetricNames, metric))
    return Status::InvalidArgument("metric is not a known Metric");
  switch (kind) {
    case IndexKind::kFlat: return Status::OK();
    case IndexKind::kIvf: return check_ivf(ivf, dim, "ivf");
    case IndexKind::kHnsw: return internal::check_options(hnsw, "hnsw");
    case IndexKind::kGpuFlat: return internal::check_options(gpu_flat, "gpu_flat");
    case IndexKind::kAuto: return check_auto(auto_index, dim);
  }
  return Status::InvalidArgument("kind is not a known IndexKind");
}

std::vector<OptionInfo> index_option_fields(IndexKind kind) {
  std::vector<OptionInfo> out;
  const IndexOptions defaults;
  for_each_section(kind, defaults, [&](const char* prefix, auto fields, const auto& section) {
    for (const auto& f : fields)
      out.push_back(OptionInfo{std::string(prefix) + f.name, internal::option_type(f),
                               internal::option_text(section, f), internal::option_allowed(f)});
  });
  return out;
}

Result<OptionType> index_option_type(IndexKind kind, std::string_view name) {
  if (name == "dim") return OptionType::kInt;
  if (name == "metric") return OptionType::kName;
  IndexOptions scratch;
  OptionType type = OptionType::kInt;
  const int found = for_each_named(kind, scratch, name, [&](const auto& f, auto&, const auto&) {
    type = internal::option_type(f);
  });
  if (found == 0) return unknown_name(kind, name);
  return type;
}

Status set_index_option(IndexOptions& o, std::string_view name, std::string_view value) {
  if (name == "dim") return set_dim(o, value);
  if (name == "metric") return set_metric(o, value);
  IndexOptions updated = o;
  Status status;
  const int found =
      for_each_named(o.kind, updated, name, [&](const auto& f, auto& section, const auto& full) {
        if (status.ok())
          status = internal::set_option_text(section, f, value, option_path(o.kind, full));
      });
  if (found == 0) return unknown_name(o.kind, name);
  VECPERF_RETURN_IF_ERROR(status);
  o = std::move(updated);
  return Status::OK();
}

std::vector<std::pair<std::string, std::string>> index_option_values(const IndexOptions& o) {
  std::vector<std::pair<std::string, std::string>> out;
  for_each_section(o.kind, o, [&](const char* prefix, auto fields, const auto& section) {
    for (const auto& f : fields)
      out.emplace_back(std::string(prefix) + f.name, internal::option_text(section, f));
  });
  return out;
}

Result<IndexOptions> parse_index_spec(std::string_view spec) {
  const size_t cut = spec.find_first_of(",:");
  const std::string kind_name(trim(spec.substr(0, cut)));
  auto kind = parse_index_kind(kind_name);
  if (!kind.ok())
    return Status::InvalidArgument("index spec '" + std::string(spec) +
                                   "': " + std::string(kind.status().message()) +
                                   " (e.g. \"hnsw,M=32,ef_search=64\")");
  IndexOptions o;
  o.kind = *kind;
  if (cut == std::string_view::npos) return o;
  std::string_view rest = spec.substr(cut + 1);
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return Status::InvalidArgument("index spec '" + std::string(spec) +
                                     "': expected name=value, got '" + std::string(item) + "'");
    Status s = set_index_option(o, trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
    if (!s.ok()) return s.with_context("index spec '" + std::string(spec) + "'");
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return o;
}

std::string index_spec(const IndexOptions& o) {
  std::string out = index_kind_name(o.kind);
  if (o.dim > 0) out += ",dim=" + std::to_string(o.dim);
  if (o.metric != Metric::kL2) out += std::string(",metric=") + metric_name(o.metric);
  IndexOptions defaults;
  defaults.kind = o.kind;
  const auto values = index_option_values(o);
  const auto default_values = index_option_values(defaults);
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].second != default_values[i].second)
      out += "," + values[i].first + "=" + values[i].second;
  }
  return out;
}

}  // namespace vecperf

namespace vecperf::internal {

std::string describe_options(const IndexOptions& o) {
  std::string out;
  for (const auto& [name, value] : index_option_values(o))
    out += (out.empty() ? "" : ", ") + name + "=" + value;
  return out;
}

Result<std::unique_ptr<IndexImpl>> read_backend_payload(IndexKind kind, Reader& r) {
  // FAISS and hnswlib report malformed data by throwing; the message names the source.
  return guarded_in(
      r.what(), "decoding the index", [&] { return IndexBase::read_payload(kind, r); },
      StatusCode::kCorruption);
}

}  // namespace vecperf::internal
