// Tuning profiles: a TuningResult as a small JSON document, read back with every member checked
// (the reader is meant for files a user may have edited or damaged), and applied to an index.
#include <cmath>
#include <limits>

#include "common/json.h"
#include "vecperf/tuning.h"

namespace vecperf {
namespace {

using internal::JsonValue;
using internal::JsonWriter;

constexpr const char* kFormatName = "vecperf-tuning-profile";
constexpr double kIntMax = std::numeric_limits<int>::max();
constexpr double kInt64Max = 9007199254740992.0;  // 2^53: larger integers lose precision

Status bad(const std::string& problem) {
  return Status::InvalidArgument("tuning profile: " + problem);
}

// Typed access to the members of the profile object; a missing optional member leaves the
// output unchanged.
class Fields {
 public:
  explicit Fields(const JsonValue& object) : object_(object) {}

  Status get(const JsonValue& v, const std::string& name, JsonValue::Type type) const {
    if (v.type() != type)
      return bad("member \"" + name + "\" must be a " + internal::json_type_name(type) +
                 ", not a " + internal::json_type_name(v.type()));
    return Status::OK();
  }

  const JsonValue* find(const std::string& name, bool required, Status* missing) const {
    const JsonValue* v = object_.find(name);
    if (v == nullptr && required) *missing = bad("member \"" + name + "\" is missing");
    return v;
  }

  Status number(const std::string& name, bool required, double lo, double hi, double* out) const {
    Status s;
    const JsonValue* v = find(name, required, &s);
    if (v == nullptr) return s;
    VECPERF_RETURN_IF_ERROR(get(*v, name, JsonValue::Type::kNumber));
    const double x = v->as_number();
    if (!(x >= lo && x <= hi))
      return bad("member \"" + name + "\" = " + std::to_string(x) + " is outside [" +
                 std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = x;
    return Status::OK();
  }

  template <typename Int>
  Status integer(const std::string& name, bool required, double lo, double hi, Int* out) const {
    double x = static_cast<double>(*out);
    Status s = number(name, required, lo, hi, &x);
    if (!s.ok()) return s;
    if (std::floor(x) != x) return bad("member \"" + name + "\" must be an integer");
    *out = static_cast<Int>(x);
    return Status::OK();
  }

  Status boolean(const std::string& name, bool* out) const {
    const JsonValue* v = object_.find(name);
    if (v == nullptr) return Status::OK();
    VECPERF_RETURN_IF_ERROR(get(*v, name, JsonValue::Type::kBool));
    *out = v->as_bool();
    return Status::OK();
  }

  Status string(const std::string& name, bool required, std::string* out) const {
    Status s;
    const JsonValue* v = find(name, required, &s);
    if (v == nullptr) return s;
    VECPERF_RETURN_IF_ERROR(get(*v, name, JsonValue::Type::kString));
    *out = v->as_string();
    return Status::OK();
  }

 private:
  const JsonValue& object_;
};

// The knobs each kind of backend has, and which of them tuning searches.
struct KindKnobs {
  const char* tuned;     // the knob tune() searches, or nullptr
  const char* optional;  // another knob the profile may carry, or nullptr
};

KindKnobs knobs_of(IndexKind kind) {
  switch (kind) {
    case IndexKind::kIvf: return {"nprobe", "rerank"};
    case IndexKind::kHnsw: return {"ef_search", nullptr};
    default: return {nullptr, nullptr};
  }
}

int* knob_field(SearchOptions& o, const std::string& name) {
  if (name == "nprobe") return &o.nprobe;
  if (name == "ef_search") return &o.ef_search;
  if (name == "rerank") return &o.rerank;
  return nullptr;
}

Status parse_knobs(const JsonValue& knobs, IndexKind kind, TuningResult* r) {
  if (knobs.type() != JsonValue::Type::kObject)
    return bad("member \"knobs\" must be an object of knob names and values");
  const KindKnobs allowed = knobs_of(kind);
  r->search_options.nprobe = r->search_options.ef_search = r->search_options.rerank = 0;
  for (const JsonValue::Member& m : knobs.members()) {
    const bool known = (allowed.tuned != nullptr && m.key == allowed.tuned) ||
                       (allowed.optional != nullptr && m.key == allowed.optional);
    if (!known) {
      std::string expected = " (they have no knobs)";
      if (allowed.tuned != nullptr)
        expected = " (expected \"" + std::string(allowed.tuned) + "\"" +
                   (allowed.optional ? ", \"" + std::string(allowed.optional) + "\"" : "") + ")";
      return bad("knob \"" + m.key + "\" does not exist on " + index_kind_name(kind) + " indexes" +
                 expected);
    }
    const bool tuned = m.key == allowed.tuned;
    const double x = m.value.as_number();
    if (m.value.type() != JsonValue::Type::kNumber || std::floor(x) != x || x < (tuned ? 1 : 0) ||
        x > kIntMax)
      return bad("knob \"" + m.key + "\" must be an integer in [" + (tuned ? "1" : "0") + ", " +
                 std::to_string(std::numeric_limits<int>::max()) + "]");
    *knob_field(r->search_options, m.key) = static_cast<int>(x);
  }
  if (allowed.tuned != nullptr && *knob_field(r->search_options, allowed.tuned) == 0)
    return bad(std::string(index_kind_name(kind)) + " profile needs the knob \"" + allowed.tuned +
               "\"");
  return Status::OK();
}

}  // namespace

std::string TuningResult::to_json() const {
  JsonWriter w;
  w.begin_object();
  w.key("format").string(kFormatName);
  w.key("version").integer(kTuningProfileVersion);
  w.key("index_kind").string(index_kind_name(kind));
  w.key("knobs").begin_object();
  const KindKnobs kk = knobs_of(kind);
  SearchOptions o = search_options;
  if (kk.tuned != nullptr) w.key(kk.tuned).integer(*knob_field(o, kk.tuned));
  if (kk.optional != nullptr && *knob_field(o, kk.optional) > 0)
    w.key(kk.optional).integer(*knob_field(o, kk.optional));
  w.end_object();
  w.key("tuned_knob").string(knob);
  w.key("knob_range").begin_array().integer(min_value).integer(max_value).end_array();
  w.key("k").integer(k);
  w.key("target_recall").number(target_recall);
  w.key("recall").number(recall);
  w.key("met_target").boolean(met_target);
  w.key("complete").boolean(complete);
  w.key("applied").boolean(applied);
  w.key("held_out").boolean(held_out);
  w.key("sample_size").integer(sample_size);
  w.key("evaluations").integer(evaluations);
  w.key("latency_queries").integer(latency_queries);
  w.key("latency_p50_ms").number(latency_p50_ms);
  w.key("latency_p99_ms").number(latency_p99_ms);
  w.key("batch_qps").number(batch_qps);
  w.key("tuning_seconds").number(seconds);
  w.key("message").string(message);
  w.end_object();
  return w.str() + "\n";
}

Result<TuningResult> parse_tuning_profile(std::string_view json) {
  auto doc = internal::parse_json(json);
  if (!doc.ok()) return doc.status().with_context("tuning profile");
  if (doc->type() != JsonValue::Type::kObject)
    return bad("the document must be a JSON object, not a " +
               std::string(internal::json_type_name(doc->type())));
  const Fields f(*doc);
  std::string format, kind_name;
  VECPERF_RETURN_IF_ERROR(f.string("format", true, &format));
  if (format != kFormatName)
    return bad("member \"format\" is \"" + format + "\", expected \"" + kFormatName + "\"");
  int version = 0;
  VECPERF_RETURN_IF_ERROR(f.integer("version", true, 1, kIntMax, &version));
  if (version > kTuningProfileVersion)
    return Status::NotSupported("tuning profile has format version " + std::to_string(version) +
                                "; this vecperf reads version " +
                                std::to_string(kTuningProfileVersion) + " (upgrade vecperf)");

  TuningResult r;
  VECPERF_RETURN_IF_ERROR(f.string("index_kind", true, &kind_name));
  auto kind = parse_index_kind(kind_name);
  if (!kind.ok() || *kind == IndexKind::kAuto)
    return bad("member \"index_kind\" is \"" + kind_name + "\"; expected flat, ivf or hnsw");
  r.kind = *kind;
  Status missing;
  const JsonValue* knobs = f.find("knobs", true, &missing);
  if (knobs == nullptr) return missing;
  VECPERF_RETURN_IF_ERROR(parse_knobs(*knobs, r.kind, &r));

  const KindKnobs kk = knobs_of(r.kind);
  r.knob = kk.tuned != nullptr ? kk.tuned : "";
  VECPERF_RETURN_IF_ERROR(f.string("tuned_knob", false, &r.knob));
  if (!r.knob.empty() && (kk.tuned == nullptr || r.knob != kk.tuned))
    return bad("member \"tuned_knob\" is \"" + r.knob + "\", which " + index_kind_name(r.kind) +
               " indexes do not tune");
  r.value = r.knob.empty() ? 0 : *knob_field(r.search_options, r.knob);

  if (const JsonValue* range = doc->find("knob_range")) {
    if (range->type() != JsonValue::Type::kArray || range->items().size() != 2)
      return bad("member \"knob_range\" must be an array of two integers [min, max]");
    double bounds[2];
    for (int i = 0; i < 2; ++i) {
      const JsonValue& b = range->items()[i];
      bounds[i] = b.as_number();
      if (b.type() != JsonValue::Type::kNumber || std::floor(bounds[i]) != bounds[i] ||
          bounds[i] < 0 || bounds[i] > kIntMax)
        return bad("member \"knob_range\" must hold integers in [0, " +
                   std::to_string(std::numeric_limits<int>::max()) + "]");
    }
    if (bounds[0] > bounds[1]) return bad("member \"knob_range\" has min > max");
    r.min_value = static_cast<int>(bounds[0]);
    r.max_value = static_cast<int>(bounds[1]);
  }
  VECPERF_RETURN_IF_ERROR(f.integer("k", false, 1, kIntMax, &r.k));
  r.search_options.k = r.k;
  r.target_recall = 0;
  VECPERF_RETURN_IF_ERROR(f.number("target_recall", false, 0, 1, &r.target_recall));
  VECPERF_RETURN_IF_ERROR(f.number("recall", false, 0, 1, &r.recall));
  r.met_target = r.recall >= r.target_recall;
  VECPERF_RETURN_IF_ERROR(f.boolean("met_target", &r.met_target));
  VECPERF_RETURN_IF_ERROR(f.boolean("complete", &r.complete));
  VECPERF_RETURN_IF_ERROR(f.boolean("applied", &r.applied));
  VECPERF_RETURN_IF_ERROR(f.boolean("held_out", &r.held_out));
  VECPERF_RETURN_IF_ERROR(f.integer("sample_size", false, 0, kInt64Max, &r.sample_size));
  VECPERF_RETURN_IF_ERROR(f.integer("evaluations", false, 0, kIntMax, &r.evaluations));
  VECPERF_RETURN_IF_ERROR(f.integer("latency_queries", false, 0, kInt64Max, &r.latency_queries));
  const double inf = std::numeric_limits<double>::max();
  VECPERF_RETURN_IF_ERROR(f.number("latency_p50_ms", false, 0, inf, &r.latency_p50_ms));
  VECPERF_RETURN_IF_ERROR(f.number("latency_p99_ms", false, 0, inf, &r.latency_p99_ms));
  VECPERF_RETURN_IF_ERROR(f.number("batch_qps", false, 0, inf, &r.batch_qps));
  VECPERF_RETURN_IF_ERROR(f.number("tuning_seconds", false, 0, inf, &r.seconds));
  VECPERF_RETURN_IF_ERROR(f.string("message", false, &r.message));
  return r;
}

Status apply_tuning_profile(Index& index, const TuningResult& profile) {
  const IndexKind serving = index.capabilities().serving_kind;
  if (serving != profile.kind)
    return Status::InvalidArgument(
        std::string("the profile holds knobs of the ") + index_kind_name(profile.kind) +
        " backend, but this index " +
        (index.kind() == IndexKind::kAuto ? "is an auto index in its " : "is of kind ") +
        index_kind_name(serving) + (index.kind() == IndexKind::kAuto ? " stage" : "") +
        "; tune this index instead");
  return index.set_default_search_options(profile.search_options);
}

}  // namespace vecperf
