// Tests of tuning profiles: TuningResult -> JSON -> TuningResult is the identity, malformed or
// inconsistent profiles are rejected with a clear status, and a profile applies only to an index
// of its own kind.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/testing.h"
#include "tuning/tuning_test_util.h"
#include "vecperf/tuning.h"

namespace vecperf {
namespace {

using testing::build;

void expect_equal(const TuningResult& a, const TuningResult& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.knob, b.knob);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.min_value, b.min_value);
  EXPECT_EQ(a.max_value, b.max_value);
  EXPECT_EQ(a.search_options.nprobe, b.search_options.nprobe);
  EXPECT_EQ(a.search_options.ef_search, b.search_options.ef_search);
  EXPECT_EQ(a.search_options.rerank, b.search_options.rerank);
  EXPECT_EQ(a.search_options.k, b.search_options.k);
  EXPECT_EQ(a.target_recall, b.target_recall);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.recall, b.recall);
  EXPECT_EQ(a.met_target, b.met_target);
  EXPECT_EQ(a.complete, b.complete);
  EXPECT_EQ(a.applied, b.applied);
  EXPECT_EQ(a.held_out, b.held_out);
  EXPECT_EQ(a.sample_size, b.sample_size);
  EXPECT_EQ(a.evaluations, b.evaluations);
  EXPECT_EQ(a.latency_queries, b.latency_queries);
  EXPECT_EQ(a.latency_p50_ms, b.latency_p50_ms);
  EXPECT_EQ(a.latency_p99_ms, b.latency_p99_ms);
  EXPECT_EQ(a.batch_qps, b.batch_qps);
  EXPECT_EQ(a.seconds, b.seconds);
  EXPECT_EQ(a.message, b.message);
}

TEST(ProfileTest, TunedResultRoundTripsThroughJson) {
  const auto base = testing::tune_data(3000, 1);
  for (const IndexOptions& o : {testing::ivf_options(32), testing::hnsw_options()}) {
    auto index = build(o, base);
    ASSERT_NE(index, nullptr);
    TuningOptions t;
    t.sample_size = 100;
    auto r = tune_held_out(*index, 0.9, 10, t);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    const std::string json = r->to_json();
    EXPECT_NE(json.find("\"format\": \"vecperf-tuning-profile\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"" + r->knob + "\": " + std::to_string(r->value)), std::string::npos)
        << json;
    auto back = parse_tuning_profile(json);
    ASSERT_TRUE(back.ok()) << back.status().to_string() << "\n" << json;
    expect_equal(*r, *back);
    EXPECT_EQ(back->to_json(), json);
  }
}

TEST(ProfileTest, HandEditedFieldsRoundTripIncludingMessageEscapes) {
  TuningResult r;
  r.kind = IndexKind::kIvf;
  r.knob = "nprobe";
  r.value = r.search_options.nprobe = 17;
  r.search_options.rerank = 40;
  r.min_value = 1;
  r.max_value = 1789;
  r.target_recall = 0.95;
  r.recall = 0.9512345678901234;
  r.met_target = true;
  r.complete = false;
  r.message = "line one\n\"quoted\" \\ tab\t unicode \xc3\xa9 control \x01";
  r.latency_p50_ms = 1e-7;
  r.batch_qps = 123456789.125;
  auto back = parse_tuning_profile(r.to_json());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  expect_equal(r, *back);
}

TEST(ProfileTest, MinimalProfileNeedsOnlyFormatVersionKindAndKnobs) {
  auto p = parse_tuning_profile(
      R"({"format": "vecperf-tuning-profile", "version": 1, "index_kind": "hnsw",
          "knobs": {"ef_search": 64}})");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->kind, IndexKind::kHnsw);
  EXPECT_EQ(p->knob, "ef_search");
  EXPECT_EQ(p->value, 64);
  EXPECT_EQ(p->search_options.ef_search, 64);
  // Members from a later minor revision are ignored.
  EXPECT_TRUE(parse_tuning_profile(
                  R"({"format": "vecperf-tuning-profile", "version": 1, "index_kind": "flat",
                      "knobs": {}, "future_member": [1, {"x": null}]})")
                  .ok());
}

TEST(ProfileTest, MalformedOrInconsistentProfilesAreRejected) {
  const std::string head = R"({"format": "vecperf-tuning-profile", "version": 1, )";
  struct Case {
    std::string json;
    StatusCode code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", StatusCode::kInvalidArgument, "line 1, column 1"},
      {"{", StatusCode::kInvalidArgument, "expected a string key"},
      {"[1, 2]", StatusCode::kInvalidArgument, "must be a JSON object"},
      {head + R"("index_kind": "ivf", "knobs": {"nprobe": 4},})", StatusCode::kInvalidArgument,
       "expected a string key"},
      {R"({"format": "something-else", "version": 1, "index_kind": "ivf", "knobs": {}})",
       StatusCode::kInvalidArgument, "format"},
      {R"({"version": 1, "index_kind": "ivf", "knobs": {"nprobe": 4}})",
       StatusCode::kInvalidArgument, "\"format\" is missing"},
      {R"({"format": "vecperf-tuning-profile", "version": 2, "index_kind": "ivf",
           "knobs": {"nprobe": 4}})",
       StatusCode::kNotSupported, "version 2"},
      {R"({"format": "vecperf-tuning-profile", "version": "1", "index_kind": "ivf",
           "knobs": {"nprobe": 4}})",
       StatusCode::kInvalidArgument, "must be a number"},
      {R"({"format": "vecperf-tuning-profile", "version": 0.5, "index_kind": "ivf",
           "knobs": {"nprobe": 4}})",
       StatusCode::kInvalidArgument, "version"},
      {head + R"("index_kind": "annoy", "knobs": {}})", StatusCode::kInvalidArgument, "index_kind"},
      {head + R"("index_kind": "auto", "knobs": {}})", StatusCode::kInvalidArgument, "index_kind"},
      {head + R"("index_kind": "ivf"})", StatusCode::kInvalidArgument, "\"knobs\" is missing"},
      {head + R"("index_kind": "ivf", "knobs": [4]})", StatusCode::kInvalidArgument,
       "must be an object"},
      {head + R"("index_kind": "ivf", "knobs": {}})", StatusCode::kInvalidArgument,
       "needs the knob \"nprobe\""},
      {head + R"("index_kind": "ivf", "knobs": {"ef_search": 4}})", StatusCode::kInvalidArgument,
       "does not exist on ivf"},
      {head + R"("index_kind": "flat", "knobs": {"nprobe": 4}})", StatusCode::kInvalidArgument,
       "no knobs"},
      {head + R"("index_kind": "ivf", "knobs": {"nprobe": 0}})", StatusCode::kInvalidArgument,
       "integer in [1"},
      {head + R"("index_kind": "ivf", "knobs": {"nprobe": 2.5}})", StatusCode::kInvalidArgument,
       "integer"},
      {head + R"("index_kind": "ivf", "knobs": {"nprobe": 1e300}})", StatusCode::kInvalidArgument,
       "integer"},
      {head + R"("index_kind": "ivf", "knobs": {"nprobe": "4"}})", StatusCode::kInvalidArgument,
       "integer"},
      {head + R"("index_kind": "hnsw", "knobs": {"ef_search": 4}, "tuned_knob": "nprobe"})",
       StatusCode::kInvalidArgument, "tuned_knob"},
      {head + R"("index_kind": "hnsw", "knobs": {"ef_search": 4}, "recall": 1.5})",
       StatusCode::kInvalidArgument, "\"recall\""},
      {head + R"("index_kind": "hnsw", "knobs": {"ef_search": 4}, "k": 0})",
       StatusCode::kInvalidArgument, "\"k\""},
      {head + R"("index_kind": "hnsw", "knobs": {"ef_search": 4}, "met_target": 1})",
       StatusCode::kInvalidArgument, "must be a boolean"},
      {head + R"("index_kind": "hnsw", "knobs": {"ef_search": 4}, "knob_range": [9, 2]})",
       StatusCode::kInvalidArgument, "min > max"},
      {head + R"("index_kind": "hnsw", "knobs": {"ef_search": 4}, "knob_range": [1]})",
       StatusCode::kInvalidArgument, "two integers"},
      {head + R"("index_kind": "hnsw", "index_kind": "ivf", "knobs": {"ef_search": 4}})",
       StatusCode::kInvalidArgument, "duplicate key"},
  };
  for (const Case& c : cases) {
    auto p = parse_tuning_profile(c.json);
    ASSERT_FALSE(p.ok()) << c.json;
    EXPECT_EQ(p.status().code(), c.code) << c.json << "\n" << p.status().to_string();
    EXPECT_NE(p.status().message().find(c.says), std::string_view::npos) << c.json << "\n"
                                                                         << p.status().to_string();
  }
}

TEST(ProfileTest, ApplyingToTheWrongKindIsInvalidArgument) {
  const auto base = testing::tune_data(3000, 2);
  auto ivf = build(testing::ivf_options(32), base);
  auto hnsw = build(testing::hnsw_options(), base);
  ASSERT_NE(ivf, nullptr);
  ASSERT_NE(hnsw, nullptr);
  auto p = parse_tuning_profile(
      R"({"format": "vecperf-tuning-profile", "version": 1, "index_kind": "ivf",
          "knobs": {"nprobe": 5}})");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  Status wrong = apply_tuning_profile(*hnsw, *p);
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("hnsw"), std::string_view::npos) << wrong.to_string();
  EXPECT_EQ(hnsw->default_search_options().ef_search, 200);

  ASSERT_TRUE(apply_tuning_profile(*ivf, *p).ok());
  EXPECT_EQ(ivf->default_search_options().nprobe, 5);

  // An auto index accepts the profile of the stage it is in.
  IndexOptions a;
  a.kind = IndexKind::kAuto;
  a.dim = testing::kTuneDim;
  a.auto_index.flat_max = 1000;
  auto auto_index = build(a, base);
  ASSERT_NE(auto_index, nullptr);
  ASSERT_TRUE(apply_tuning_profile(*auto_index, *p).ok());
  EXPECT_EQ(auto_index->default_search_options().nprobe, 5);
  p->kind = IndexKind::kHnsw;
  EXPECT_NE(apply_tuning_profile(*auto_index, *p).message().find("ivf stage"),
            std::string_view::npos);
}

}  // namespace
}  // namespace vecperf
