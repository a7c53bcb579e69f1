// Runs the vecperf-bench program on tiny synthetic sets and checks its reports, and that bad
// command lines fail with a message saying what is wrong.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/json.h"
#include "vecperf/dataset.h"

#ifndef VECPERF_BENCH_BIN
#error "VECPERF_BENCH_BIN must name the vecperf-bench program"
#endif

namespace vecperf::bench {
namespace {

using internal::JsonValue;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Outcome run_tool(const std::string& args) {
  Outcome o;
  const std::string command = std::string(VECPERF_BENCH_BIN) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return o;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) o.output.append(buf.data(), n);
  const int status = pclose(pipe);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

std::string temp_dir() {
  std::string pattern = ::testing::TempDir() + "vecperf_bench_XXXXXX";
  return mkdtemp(pattern.data()) ? pattern : ::testing::TempDir();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The member at a dotted path, failing the test when it is missing.
const JsonValue& at(const JsonValue& v, const std::string& path) {
  static const JsonValue kNull;
  const JsonValue* cur = &v;
  std::stringstream in(path);
  std::string part;
  while (std::getline(in, part, '.')) {
    cur = cur->find(part);
    if (!cur) {
      ADD_FAILURE() << "missing member " << path;
      return kNull;
    }
  }
  return *cur;
}

void expect_type(const JsonValue& doc, const std::string& path, JsonValue::Type type) {
  EXPECT_EQ(at(doc, path).type(), type) << path;
}

// Every documented member of a report (docs/tuning.md, "The report").
void check_documented_fields(const JsonValue& doc) {
  using T = JsonValue::Type;
  EXPECT_EQ(at(doc, "format").as_string(), "vecperf-bench");
  EXPECT_EQ(at(doc, "version").as_number(), 1);
  for (const char* p : {"started_at", "finished_at", "machine.cpu_model", "machine.kernel_isa",
                        "machine.git_commit", "machine.hostname", "parameters.metric",
                        "parameters.index", "parameters.sweep", "dataset.source",
                        "dataset.gt_source", "recommendation.message", "recommendation.knob"})
    expect_type(doc, p, T::kString);
  for (const char* p :
       {"machine.hardware_threads", "parameters.k", "parameters.threads", "parameters.repeats",
        "parameters.target_recall", "parameters.max_p99_ms", "dataset.base_rows", "dataset.dim",
        "dataset.queries_rows", "dataset.gt_cols", "recommendation.value"})
    expect_type(doc, p, T::kNumber);
  for (const char* p : {"parameters.nprobe", "parameters.ef_search", "parameters.peers",
                        "parameters.command_line", "engines", "runs", "best_per_engine", "notes"})
    expect_type(doc, p, T::kArray);
  expect_type(doc, "recommendation.found", T::kBool);
  EXPECT_FALSE(at(doc, "machine.kernel_isa").as_string().empty());
  for (const JsonValue& e : at(doc, "engines").items()) {
    for (const char* p : {"label", "describe"}) expect_type(e, p, T::kString);
    for (const char* p : {"build_seconds", "memory_bytes"}) expect_type(e, p, T::kNumber);
    EXPECT_GT(at(e, "memory_bytes").as_number(), 0);
  }
  ASSERT_FALSE(at(doc, "runs").items().empty());
  for (const JsonValue& r : at(doc, "runs").items()) {
    for (const char* p : {"label", "engine", "index", "knob"}) expect_type(r, p, T::kString);
    for (const char* p :
         {"value", "recall", "batch_qps", "single_qps", "latency_ms.p50", "latency_ms.p95",
          "latency_ms.p99", "latency_ms.p999", "build_seconds", "memory_bytes"})
      expect_type(r, p, T::kNumber);
    for (const char* p : {"defaults", "tuned", "index_default", "pareto_single", "pareto_batch",
                          "memory_estimated"})
      expect_type(r, p, T::kBool);
    EXPECT_GE(at(r, "recall").as_number(), 0);
    EXPECT_LE(at(r, "recall").as_number(), 1);
    EXPECT_GT(at(r, "batch_qps").as_number(), 0);
    EXPECT_GT(at(r, "single_qps").as_number(), 0);
    EXPECT_LE(at(r, "latency_ms.p50").as_number(), at(r, "latency_ms.p99").as_number());
  }
}

// (value, recall) of one engine's runs, by value.
std::vector<std::pair<double, double>> sweep_of(const JsonValue& doc, const std::string& label) {
  std::vector<std::pair<double, double>> s;
  for (const JsonValue& r : at(doc, "runs").items())
    if (r.find("label")->as_string() == label)
      s.emplace_back(r.find("value")->as_number(), r.find("recall")->as_number());
  std::sort(s.begin(), s.end());
  return s;
}

// Recall may dip a little between neighbouring settings (HNSW, sampling noise) but must rise
// over the sweep.
void expect_monotone_enough(const std::vector<std::pair<double, double>>& s) {
  ASSERT_GE(s.size(), 3u);
  for (size_t i = 1; i < s.size(); ++i)
    EXPECT_GE(s[i].second, s[i - 1].second - 0.02) << "at value " << s[i].first;
  EXPECT_GT(s.back().second, s.front().second);
}

TEST(VecperfBenchSmokeTest, IvfSweepWithFaissPeerWritesCompleteReports) {
  const std::string dir = temp_dir();
  const std::string json = dir + "/run.json", csv = dir + "/run.csv";
  Outcome o = run_tool(
      "--synthetic 2000,16,8 --nq 100 --index ivf:nlist=32 --nprobe 1,2,4,8,32 "
      "--threads 2 --repeats 1 --tune --tune-queries 100 --target-recall 0.9 "
      "--peers faiss --json " +
      json + " --csv " + csv);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("recommendation: nprobe="), std::string::npos) << o.output;

  auto doc = internal::parse_json(read_file(json));
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  check_documented_fields(*doc);
  EXPECT_EQ(at(*doc, "dataset.base_rows").as_number(), 2000);
  EXPECT_EQ(at(*doc, "dataset.dim").as_number(), 16);
  EXPECT_EQ(at(*doc, "dataset.queries_rows").as_number(), 100);
  EXPECT_EQ(at(*doc, "tuning.knob").as_string(), "nprobe");
  EXPECT_GT(at(*doc, "tuning.seconds").as_number(), 0);

  const auto ours = sweep_of(*doc, "vecperf ivf");
  expect_monotone_enough(ours);
  EXPECT_GT(ours.back().second, 0.99);  // nprobe = nlist scans every list
  const auto faiss = sweep_of(*doc, "faiss ivf");
  ASSERT_EQ(faiss.size(), ours.size());  // the same sweep, tune()'s choice included
  EXPECT_GT(faiss.back().second, 0.99);

  // A recommendation that meets the target, and is the fastest such vecperf run.
  ASSERT_TRUE(at(*doc, "recommendation.found").as_bool());
  const auto& runs = at(*doc, "runs").items();
  const size_t chosen = static_cast<size_t>(at(*doc, "recommendation.run").as_number());
  ASSERT_LT(chosen, runs.size());
  EXPECT_GE(at(runs[chosen], "recall").as_number(), 0.9);
  for (const JsonValue& r : runs) {
    if (at(r, "engine").as_string() == "vecperf" && at(r, "recall").as_number() >= 0.9) {
      EXPECT_LE(at(r, "single_qps").as_number(), at(runs[chosen], "single_qps").as_number());
    }
  }
  // The best-recall run is always on the frontier.
  bool top_marked = false;
  double top = 0;
  for (const JsonValue& r : runs) top = std::max(top, at(r, "recall").as_number());
  for (const JsonValue& r : runs)
    top_marked =
        top_marked || (at(r, "recall").as_number() == top && at(r, "pareto_single").as_bool());
  EXPECT_TRUE(top_marked);

  // CSV: a header and one line per run.
  std::stringstream lines(read_file(csv));
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("label,engine,index,defaults,knob,value,", 0), 0u) << header;
  for (const char* col : {"recall", "batch_qps", "single_qps", "p999_ms", "cpu_model", "kernel_isa",
                          "git_commit", "pareto_single", "recommended"})
    EXPECT_NE(header.find(col), std::string::npos) << col;
  size_t rows = 0;
  while (std::getline(lines, line)) rows += line.empty() ? 0 : 1;
  EXPECT_EQ(rows, runs.size());
}

TEST(VecperfBenchSmokeTest, HnswAutoSweepWithHnswlibPeer) {
  const std::string json = temp_dir() + "/hnsw.json";
  Outcome o = run_tool(
      "--synthetic 2000,16,8 --nq 100 --index hnsw:M=8,ef_construction=40 "
      "--sweep auto --latency-queries 20 --repeats 1 --peers hnswlib "
      "--target-recall 0.8 --json " +
      json);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  auto doc = internal::parse_json(read_file(json));
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  check_documented_fields(*doc);
  const auto ours = sweep_of(*doc, "vecperf hnsw");
  expect_monotone_enough(ours);
  EXPECT_EQ(ours.front().first, 10);  // the automatic sweep starts at k
  EXPECT_EQ(sweep_of(*doc, "hnswlib hnsw").size(), ours.size());
}

TEST(VecperfBenchSmokeTest, UnknownIndexKindIsAUsageError) {
  Outcome o = run_tool("--synthetic 200,4 --index lsh");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find("unknown index kind 'lsh'"), std::string::npos) << o.output;
}

TEST(VecperfBenchSmokeTest, MissingFileNamesIt) {
  Outcome o = run_tool("--base /nonexistent/base.fvecs --queries /nonexistent/q.fvecs");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.output.find("/nonexistent/base.fvecs"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("NotFound"), std::string::npos) << o.output;
}

TEST(VecperfBenchSmokeTest, DimensionMismatchBetweenBaseAndQueries) {
  const std::string dir = temp_dir();
  std::vector<float> values(40 * 16, 0.5f);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(i % 7);
  ASSERT_TRUE(write_vectors(dir + "/base.fvecs", MatrixView{values.data(), 40, 16}).ok());
  ASSERT_TRUE(write_vectors(dir + "/q.fvecs", MatrixView{values.data(), 10, 8}).ok());
  Outcome o = run_tool("--base " + dir + "/base.fvecs --queries " + dir + "/q.fvecs --index flat");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.output.find("has dimension 8 but --base"), std::string::npos) << o.output;
}

}  // namespace
}  // namespace vecperf::bench
