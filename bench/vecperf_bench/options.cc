// Flag parsing for vecperf-bench. Every error names the flag, the value and what is accepted, so
// that a typo in a long benchmark command fails at once instead of after the build.
#include "vecperf_bench/options.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

namespace vecperf::bench {
namespace {

Result<int64_t> parse_int(const std::string& what, const std::string& s, int64_t lo, int64_t hi) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    return Status::InvalidArgument(what + ": '" + s + "' is not an integer");
  if (v < lo || v > hi)
    return Status::InvalidArgument(what + ": " + s + " is out of range [" + std::to_string(lo) +
                                   ", " + std::to_string(hi) + "]");
  return v;
}

Result<double> parse_double(const std::string& what, const std::string& s, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
    return Status::InvalidArgument(what + ": '" + s + "' is not a number");
  if (v < lo || v > hi) {
    std::ostringstream m;
    m << what << ": " << s << " is out of range [" << lo << ", " << hi << "]";
    return Status::InvalidArgument(m.str());
  }
  return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

// Flags that take no value.
bool is_switch(const std::string& name) {
  return name == "tune" || name == "peer-defaults" || name == "help";
}

Status set_data_flags(const std::map<std::string, std::string>& f, BenchOptions* o) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = f.find(name);
    return it == f.end() ? nullptr : &it->second;
  };
  if (const auto* v = get("base")) o->base_path = *v;
  if (const auto* v = get("queries")) o->queries_path = *v;
  if (const auto* v = get("gt")) o->gt_path = *v;
  if (const auto* v = get("gt-cache")) o->gt_cache_dir = *v;
  if (const auto* v = get("synthetic")) {
    const std::vector<std::string> parts = split(*v, ',');
    if (parts.size() < 2 || parts.size() > 3)
      return Status::InvalidArgument("--synthetic: expected N,DIM[,CLUSTERS], got '" + *v + "'");
    auto rows = parse_int("--synthetic N", parts[0], 1, int64_t{1} << 34);
    if (!rows.ok()) return rows.status();
    auto dim = parse_int("--synthetic DIM", parts[1], 1, 65536);
    if (!dim.ok()) return dim.status();
    o->synthetic_rows = *rows;
    o->synthetic_dim = *dim;
    if (parts.size() == 3) {
      auto c = parse_int("--synthetic CLUSTERS", parts[2], 1, 1 << 20);
      if (!c.ok()) return c.status();
      o->synthetic_clusters = static_cast<int>(*c);
    }
  }
  if (const auto* v = get("nq")) {
    auto n = parse_int("--nq", *v, 1, int64_t{1} << 30);
    if (!n.ok()) return n.status();
    o->synthetic_queries = *n;
  }
  const bool files = !o->base_path.empty() || !o->queries_path.empty();
  if (o->synthetic_rows > 0 && files)
    return Status::InvalidArgument("--synthetic cannot be combined with --base/--queries");
  if (o->synthetic_rows > 0 && !o->gt_path.empty())
    return Status::InvalidArgument(
        "--gt needs --base/--queries (synthetic ground truth is computed)");
  if (o->synthetic_rows == 0 && (o->base_path.empty() || o->queries_path.empty()))
    return Status::InvalidArgument(
        "no data: give --base FILE and --queries FILE, or --synthetic N,DIM[,CLUSTERS]");
  if (get("nq") && o->synthetic_rows == 0)
    return Status::InvalidArgument("--nq applies to --synthetic only (the query file sets it)");
  return Status::OK();
}

Status set_run_flags(const std::map<std::string, std::string>& f, BenchOptions* o) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = f.find(name);
    return it == f.end() ? nullptr : &it->second;
  };
  if (const auto* v = get("metric")) {
    auto m = parse_metric(*v);
    if (!m.ok())
      return Status::InvalidArgument("--metric: unknown metric '" + *v + "' (l2, ip, cosine)");
    o->metric = *m;
  }
  struct IntFlag {
    const char* name;
    int64_t lo, hi;
    std::function<void(int64_t)> store;
  };
  const IntFlag ints[] = {
      {"k", 1, 4096, [o](int64_t v) { o->k = static_cast<int>(v); }},
      {"threads", 0, 4096, [o](int64_t v) { o->threads = static_cast<int>(v); }},
      {"repeats", 1, 1000, [o](int64_t v) { o->repeats = static_cast<int>(v); }},
      {"latency-queries", 0, int64_t{1} << 30, [o](int64_t v) { o->latency_queries = v; }},
      {"tune-queries", 1, int64_t{1} << 30, [o](int64_t v) { o->tune_queries = v; }},
  };
  for (const IntFlag& flag : ints) {
    if (const auto* v = get(flag.name)) {
      auto n = parse_int(std::string("--") + flag.name, *v, flag.lo, flag.hi);
      if (!n.ok()) return n.status();
      flag.store(*n);
    }
  }
  if (const auto* v = get("target-recall")) {
    auto r = parse_double("--target-recall", *v, 1e-9, 1.0);
    if (!r.ok()) return r.status();
    o->target_recall = *r;
  }
  if (const auto* v = get("max-p99-ms")) {
    auto r = parse_double("--max-p99-ms", *v, 1e-9, 1e9);
    if (!r.ok()) return r.status();
    o->max_p99_ms = *r;
  }
  if (const auto* v = get("index")) {
    auto spec = parse_index_spec(*v);
    if (!spec.ok()) return spec.status();
    o->index = *spec;
  } else {
    o->index = *parse_index_spec("ivf");
  }
  if (const auto* v = get("load")) o->load_path = *v;
  if (const auto* v = get("save")) o->save_path = *v;
  if (!o->load_path.empty() && get("index"))
    return Status::InvalidArgument(
        "--load and --index exclude each other: the file sets the index");
  if (const auto* v = get("nprobe")) {
    auto l = parse_int_list("--nprobe", *v);
    if (!l.ok()) return l.status();
    o->nprobe = *l;
  }
  if (const auto* v = get("ef-search")) {
    auto l = parse_int_list("--ef-search", *v);
    if (!l.ok()) return l.status();
    o->ef_search = *l;
  }
  if (const auto* v = get("sweep")) {
    if (*v != "auto")
      return Status::InvalidArgument(
          "--sweep: only 'auto' is accepted (or give --nprobe / --ef-search lists)");
    if (!o->nprobe.empty() || !o->ef_search.empty())
      return Status::InvalidArgument("--sweep auto cannot be combined with --nprobe / --ef-search");
  }
  if (const auto* v = get("peers")) {
    for (const std::string& p : split(*v, ',')) {
      if (p == "faiss") {
        o->peer_faiss = true;
      } else if (p == "hnswlib") {
        o->peer_hnswlib = true;
      } else {
        return Status::InvalidArgument("--peers: unknown peer '" + p + "' (faiss, hnswlib)");
      }
    }
  }
  o->tune = f.count("tune") > 0;
  o->peer_defaults = f.count("peer-defaults") > 0;
  if (o->peer_defaults && !o->peer_faiss && !o->peer_hnswlib)
    o->peer_faiss = o->peer_hnswlib = true;
  if (const auto* v = get("json")) o->json_path = *v;
  if (const auto* v = get("csv")) o->csv_path = *v;
  return Status::OK();
}

}  // namespace

Result<std::vector<int>> parse_int_list(const std::string& flag, const std::string& text) {
  std::vector<int> out;
  for (const std::string& item : split(text, ',')) {
    auto v = parse_int(flag, item, 1, 1 << 30);
    if (!v.ok()) return v.status();
    out.push_back(static_cast<int>(*v));
  }
  if (out.empty()) return Status::InvalidArgument(flag + ": empty list");
  return out;
}

Result<IndexSpec> parse_index_spec(const std::string& text) {
  IndexSpec spec;
  spec.text = text;
  const size_t cut = text.find_first_of(",:");
  if (text.substr(0, cut) != "plan") {
    auto options = vecperf::parse_index_spec(text);
    if (!options.ok())
      return Status::InvalidArgument("--index: " + std::string(options.status().message()));
    spec.options = *options;
    return spec;
  }
  spec.plan = true;
  if (cut == std::string::npos) return spec;
  for (const std::string& item : split(text.substr(cut + 1), ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || item.substr(0, eq) != "budget_mb")
      return Status::InvalidArgument("--index plan: expected budget_mb=MIB, got '" + item + "'");
    auto mb = parse_double("--index plan:budget_mb", item.substr(eq + 1), 0, 1e9);
    if (!mb.ok()) return mb.status();
    spec.budget_mb = *mb;
  }
  return spec;
}

Result<BenchOptions> parse_options(int argc, const char* const* argv) {
  static const char* const kKnown[] = {"base",
                                       "queries",
                                       "gt",
                                       "gt-cache",
                                       "synthetic",
                                       "nq",
                                       "metric",
                                       "k",
                                       "index",
                                       "load",
                                       "save",
                                       "nprobe",
                                       "ef-search",
                                       "sweep",
                                       "threads",
                                       "repeats",
                                       "latency-queries",
                                       "target-recall",
                                       "max-p99-ms",
                                       "tune",
                                       "tune-queries",
                                       "peers",
                                       "peer-defaults",
                                       "json",
                                       "csv",
                                       "help"};
  BenchOptions o;
  for (int i = 0; i < argc; ++i) o.command_line.emplace_back(argv[i]);
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0)
      return Status::InvalidArgument("unexpected argument '" + arg + "' (flags start with --)");
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    bool known = false;
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    for (const char* k : kKnown) known = known || name == k;
    if (!known) return Status::InvalidArgument("unknown flag '--" + name + "'");
    if (eq == std::string::npos && !is_switch(name)) {
      if (i + 1 >= argc) return Status::InvalidArgument("flag '--" + name + "' needs a value");
      value = argv[++i];
    } else if (eq != std::string::npos && is_switch(name)) {
      return Status::InvalidArgument("flag '--" + name + "' takes no value");
    }
    if (!flags.emplace(name, value).second)
      return Status::InvalidArgument("flag '--" + name + "' given twice");
  }
  if (flags.count("help")) {
    o.help = true;
    return o;
  }
  VECPERF_RETURN_IF_ERROR(set_data_flags(flags, &o));
  VECPERF_RETURN_IF_ERROR(set_run_flags(flags, &o));
  return o;
}

const char* usage() {
  return R"(vecperf-bench: recall / throughput / latency sweep of a vecperf index, with peers.

Data (one of):
  --base FILE --queries FILE   vectors (.fvecs .bvecs .fbin .u8bin .npy .hdf5)
  --gt FILE                    true neighbours (.ivecs .ibin .npy .hdf5); default: computed
                               exactly and cached in --gt-cache DIR (default: the base's dir)
  --synthetic N,DIM[,CLUSTERS] seeded clustered data (default 64 clusters); --nq queries
                               (default 1000) from the same distribution
Index:
  --metric l2|ip|cosine        default l2
  --k K                        neighbours per query, recall@K (default 10)
  --index SPEC                 an index spec: flat | ivf | hnsw | auto, optionally with options
                               (the library's spec form, as `vecperf plan` prints it):
                               ivf,nlist=1024,nprobe=16,encoding=sq8,pq_m=16,rerank=100,seed=1234
                               hnsw,M=32,ef_construction=200,ef_search=128,seed=100
                               auto,flat_max=100000,ivf_max=1000000,hnsw.M=32
                               or plan[,budget_mb=512] (plan() + build_tuned(), as `vecperf demo`)
                               default: ivf
  --load FILE / --save FILE    load the index instead of building it / save the built index
Sweep:
  --nprobe 1,2,4,...           IVF settings; --ef-search 16,32,... HNSW settings
  --sweep auto                 geometric over the knob's range (the default)
  --threads N                  threads of batch mode (default 0 = all)
  --repeats N                  batch timings are the median of N runs (default 3)
  --latency-queries N          single-query mode uses the first N queries (default all)
  --target-recall R            recall@K the recommendation must reach (default 0.95)
  --max-p99-ms X               ... and the single-query p99 latency it must not exceed
  --tune                       also run vecperf::tune() (--tune-queries N, default 1000) and
                               measure its choice
Peers:
  --peers faiss,hnswlib        the same index in FAISS / hnswlib, same data and sweep
  --peer-defaults              also each peer with its library's default parameters
Output:
  --json FILE  --csv FILE      every run with machine facts, parameters and data set shapes
)";
}

}  // namespace vecperf::bench
