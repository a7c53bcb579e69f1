// Plans, builds, searches, saves and reloads an index through the installed headers only, and
// finds it in the metrics exposition. Built as C++17 and as C++20: ids go in as vecperf::Span
// views of a std::vector, a std::array and a C array (and, in C++20, of a std::span).
#include <vecperf/cache.h>
#include <vecperf/factory.h>
#include <vecperf/index.h>
#include <vecperf/metrics.h>
#include <vecperf/span.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>
#if __cplusplus >= 202002L
#include <span>
#endif

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: package_check <scratch file>\n");
    return 2;
  }
  vecperf::Workload w;
  w.expected_size = 1000;
  w.dim = 8;
  auto plan = vecperf::plan(w);
  if (!plan.ok()) return std::fprintf(stderr, "%s\n", plan.status().to_string().c_str()), 1;
  auto index = vecperf::make_index(*plan);
  if (!index.ok()) return std::fprintf(stderr, "%s\n", index.status().to_string().c_str()), 1;

  std::vector<float> data(1000 * 8);
  std::vector<int64_t> ids(1000);
  for (int i = 0; i < 1000; ++i) {
    ids[i] = 10 * i;
    data[i * 8] = float(i);  // makes every row distinct
    for (int j = 1; j < 8; ++j) data[i * 8 + j] = float((i * 31 + j * 7) % 97);
  }
  // The first half through first(), the rest through subspan() of a Span of the vector.
  const vecperf::IdSpan all = ids;
  if (!(*index)->add(all.first(500), {data.data(), 500, 8}).ok()) return 1;
  if (!(*index)->add(all.subspan(500), {data.data() + 500 * 8, 500, 8}).ok()) return 1;
  if (!(*index)->save(argv[1]).ok()) return 1;
  auto loaded = vecperf::load(argv[1]);
  if (!loaded.ok()) return 1;

  // Removal from the original index (the loaded one is checked in the metrics below).
  const std::array<int64_t, 2> gone_array{0, 10};
  const int64_t gone_c_array[] = {20};
  if (!(*index)->remove(gone_array).ok() || !(*index)->remove(gone_c_array).ok()) return 1;
  if ((*index)->size() != 997 || (*index)->contains(10)) return 1;
#if __cplusplus >= 202002L
  std::span<const int64_t> std_span = all.last(2);  // Span -> std::span
  const vecperf::IdSpan back = std_span;            // std::span -> Span
  if (!(*index)->remove(back).ok() || (*index)->size() != 995) return 1;
#endif

  vecperf::SearchOptions opts;
  opts.k = 1;
  float dist = -1;
  int64_t found = -1;
  if (!(*loaded)->search({data.data() + 123 * 8, 1, 8}, opts, {&dist, &found}).ok()) return 1;
  // The loaded index is in the process-wide metrics under the name given here.
  vecperf::set_metrics_name(**loaded, "package");
  const bool exposed = vecperf::prometheus_text().find(
                           "vecperf_index_vectors{index=\"package\"} 1000\n") != std::string::npos;
  const auto key = vecperf::cache_key("model", "text");
  std::printf("cplusplus=%ld plan=%s found=%lld dist=%g key=%s\n", static_cast<long>(__cplusplus),
              vecperf::index_kind_name(plan->options.kind), static_cast<long long>(found), dist,
              key.to_hex().c_str());
  return found == 1230 && dist == 0.0f && exposed ? 0 : 1;
}
