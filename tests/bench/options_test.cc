// vecperf-bench flag parsing and the index spec syntax.
#include "vecperf_bench/options.h"

#include <gtest/gtest.h>

#include <vector>

namespace vecperf::bench {
namespace {

Result<BenchOptions> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "vecperf-bench");
  return parse_options(static_cast<int>(args.size()), args.data());
}

TEST(IndexSpecTest, ParsesKindAndParameters) {
  auto s = parse_index_spec("ivf:nlist=1024,encoding=sq8,rerank=100");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->options.kind, IndexKind::kIvf);
  EXPECT_EQ(s->options.ivf.nlist, 1024);
  EXPECT_EQ(s->options.ivf.encoding, IvfEncoding::kSQ8);
  EXPECT_EQ(s->options.ivf.rerank, 100);

  auto h = parse_index_spec("hnsw:M=32,ef_construction=100");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->options.hnsw.M, 32);
  EXPECT_EQ(h->options.hnsw.ef_construction, 100);

  auto p = parse_index_spec("plan:budget_mb=64");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->plan);
  EXPECT_DOUBLE_EQ(p->budget_mb, 64);
  EXPECT_TRUE(parse_index_spec("flat").ok());
  EXPECT_TRUE(parse_index_spec("auto:flat_max=10").ok());
}

TEST(IndexSpecTest, RejectsUnknownKindsKeysAndValues) {
  struct Case {
    const char* spec;
    const char* expected;
  };
  const Case cases[] = {
      {"lsh", "unknown index kind 'lsh'"},
      {"ivf:nlsit=4", "unknown option 'nlsit'"},
      {"hnsw:M=1", "must be in [2, 256]"},
      {"ivf:nlist=ten", "not an integer"},
      {"ivf:encoding=sq3", "unknown ivf.encoding 'sq3'"},
      {"hnsw:M", "expected name=value"},
      {"flat:nlist=3", "has no options of its own"},
      {"plan:budget_mb=-1", "out of range"},
  };
  for (const Case& c : cases) {
    auto s = parse_index_spec(c.spec);
    ASSERT_FALSE(s.ok()) << c.spec;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.expected), std::string::npos)
        << c.spec << ": " << s.status().to_string();
  }
}

TEST(OptionsTest, ParsesBothFlagForms) {
  auto o = parse({"--synthetic", "2000,16,8", "--nq=50", "--k", "5", "--nprobe", "1,2,4",
                  "--peers=faiss", "--tune", "--target-recall", "0.9", "--max-p99-ms=3"});
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->synthetic_rows, 2000);
  EXPECT_EQ(o->synthetic_dim, 16);
  EXPECT_EQ(o->synthetic_clusters, 8);
  EXPECT_EQ(o->synthetic_queries, 50);
  EXPECT_EQ(o->k, 5);
  EXPECT_EQ(o->nprobe, (std::vector<int>{1, 2, 4}));
  EXPECT_TRUE(o->peer_faiss);
  EXPECT_FALSE(o->peer_hnswlib);
  EXPECT_TRUE(o->tune);
  EXPECT_DOUBLE_EQ(o->target_recall, 0.9);
  EXPECT_DOUBLE_EQ(o->max_p99_ms, 3);
  EXPECT_EQ(o->index.options.kind, IndexKind::kIvf);  // the default
}

TEST(OptionsTest, PeerDefaultsAloneSelectsBothPeers) {
  auto o = parse({"--synthetic", "100,4", "--peer-defaults"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->peer_faiss && o->peer_hnswlib && o->peer_defaults);
}

TEST(OptionsTest, RejectsBadCommandLines) {
  const std::vector<std::pair<std::vector<const char*>, const char*>> cases = {
      {{}, "no data"},
      {{"--synthetic", "100,4", "--bogus", "1"}, "unknown flag '--bogus'"},
      {{"--synthetic", "100"}, "expected N,DIM"},
      {{"--synthetic", "100,4", "--base", "b.fvecs"}, "cannot be combined"},
      {{"--base", "b.fvecs"}, "no data"},
      {{"--synthetic", "100,4", "--metric", "hamming"}, "unknown metric 'hamming'"},
      {{"--synthetic", "100,4", "--k", "0"}, "--k: 0 is out of range"},
      {{"--synthetic", "100,4", "--nprobe", "1,,4"}, "not an integer"},
      {{"--synthetic", "100,4", "--sweep", "linear"}, "only 'auto'"},
      {{"--synthetic", "100,4", "--peers", "annoy"}, "unknown peer 'annoy'"},
      {{"--synthetic", "100,4", "--k"}, "needs a value"},
      {{"--synthetic", "100,4", "--tune=yes"}, "takes no value"},
      {{"--synthetic", "100,4", "--k", "3", "--k", "4"}, "given twice"},
      {{"--synthetic", "100,4", "--index", "ivf", "--load", "x.idx"}, "exclude each other"},
  };
  for (const auto& [args, expected] : cases) {
    auto o = parse(args);
    ASSERT_FALSE(o.ok()) << expected;
    EXPECT_NE(o.status().message().find(expected), std::string::npos)
        << "expected '" << expected << "' in: " << o.status().to_string();
  }
}

TEST(OptionsTest, HelpNeedsNothingElse) {
  auto o = parse({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(std::string(usage()).find("--synthetic"), std::string::npos);
}

}  // namespace
}  // namespace vecperf::bench
