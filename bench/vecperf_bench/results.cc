// Pareto marking and recommendation. Sweeps hold tens of points, so the quadratic dominance
// check is simpler than a sort-based frontier and fast enough.
#include "vecperf_bench/results.h"

#include <cstdio>

namespace vecperf::bench {
namespace {

// True when `a` dominates `b` in (recall, qps).
bool dominates(double recall_a, double qps_a, double recall_b, double qps_b) {
  return recall_a >= recall_b && qps_a >= qps_b && (recall_a > recall_b || qps_a > qps_b);
}

bool qualifies(const RunPoint& p, double target_recall, double max_p99_ms) {
  return p.recall >= target_recall && (max_p99_ms <= 0 || p.p99_ms <= max_p99_ms);
}

// Index of the cheapest qualifying point among those `pick` accepts.
template <typename Pick>
std::optional<size_t> cheapest(const std::vector<RunPoint>& points, double target_recall,
                               double max_p99_ms, Pick pick) {
  std::optional<size_t> best;
  for (size_t i = 0; i < points.size(); ++i) {
    const RunPoint& p = points[i];
    if (!pick(p) || !qualifies(p, target_recall, max_p99_ms)) continue;
    if (!best || p.single_qps > points[*best].single_qps ||
        (p.single_qps == points[*best].single_qps && p.value < points[*best].value))
      best = i;
  }
  return best;
}

}  // namespace

std::string RunPoint::label() const {
  return engine + " " + index + (defaults ? " (defaults)" : "");
}

void mark_pareto(std::vector<RunPoint>& points) {
  for (RunPoint& p : points) {
    p.pareto_single = p.pareto_batch = true;
    for (const RunPoint& q : points) {
      if (dominates(q.recall, q.single_qps, p.recall, p.single_qps)) p.pareto_single = false;
      if (dominates(q.recall, q.batch_qps, p.recall, p.batch_qps)) p.pareto_batch = false;
    }
  }
}

Recommendation recommend(const std::vector<RunPoint>& points, const std::string& engine,
                         double target_recall, double max_p99_ms) {
  Recommendation r;
  auto mine = [&](const RunPoint& p) { return p.engine == engine && !p.defaults; };
  r.choice = cheapest(points, target_recall, max_p99_ms, mine);
  char buf[512];
  if (r.choice) {
    const RunPoint& p = points[*r.choice];
    if (p.knob.empty()) {
      std::snprintf(buf, sizeof buf,
                    "exact search: recall@k %.4f, %.0f QPS single-query, p99 %.3f ms", p.recall,
                    p.single_qps, p.p99_ms);
    } else {
      std::snprintf(buf, sizeof buf,
                    "%s=%d: the highest single-query QPS (%.0f) with recall@k %.4f >= %.4f%s",
                    p.knob.c_str(), p.value, p.single_qps, p.recall, target_recall,
                    max_p99_ms > 0 ? " and p99 within the limit" : "");
    }
    r.message = buf;
    return r;
  }
  // Say why nothing qualified: recall, latency, or no points at all.
  const RunPoint* best_recall = nullptr;
  bool recall_met = false;
  for (const RunPoint& p : points) {
    if (!mine(p)) continue;
    if (!best_recall || p.recall > best_recall->recall) best_recall = &p;
    recall_met = recall_met || p.recall >= target_recall;
  }
  if (!best_recall) {
    r.message = "no " + engine + " runs to choose from";
  } else if (!recall_met) {
    std::snprintf(buf, sizeof buf,
                  "no setting reaches recall@k %.4f: the best was %.4f at %s=%d; sweep larger "
                  "values or use a finer index (larger nlist, M or ef_construction)",
                  target_recall, best_recall->recall,
                  best_recall->knob.empty() ? "exact" : best_recall->knob.c_str(),
                  best_recall->value);
    r.message = buf;
  } else {
    std::snprintf(buf, sizeof buf,
                  "settings reach recall@k %.4f, but none with p99 <= %.3f ms; relax "
                  "--max-p99-ms or use a faster index",
                  target_recall, max_p99_ms);
    r.message = buf;
  }
  return r;
}

std::vector<size_t> best_per_label(const std::vector<RunPoint>& points, double target_recall,
                                   double max_p99_ms) {
  std::vector<std::string> labels;
  for (const RunPoint& p : points) {
    const std::string l = p.label();
    bool seen = false;
    for (const std::string& x : labels) seen = seen || x == l;
    if (!seen) labels.push_back(l);
  }
  std::vector<size_t> out;
  for (const std::string& l : labels) {
    auto best = cheapest(points, target_recall, max_p99_ms,
                         [&](const RunPoint& p) { return p.label() == l; });
    if (best) out.push_back(*best);
  }
  return out;
}

}  // namespace vecperf::bench
