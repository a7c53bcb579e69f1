// The option tables: specs, options by name, validation and the file codec all agree, for every
// field of every options struct.
#include "vecperf/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/serialize.h"
#include "index/option_table.h"
#include "vecperf/factory.h"

namespace vecperf {
namespace {

constexpr IndexKind kKinds[] = {IndexKind::kFlat, IndexKind::kIvf, IndexKind::kHnsw,
                                IndexKind::kAuto, IndexKind::kGpuFlat};

// A value of the field other than its default that validate() accepts (for the dimension 64).
std::string other_value(const OptionInfo& f) {
  switch (f.type) {
    case OptionType::kBool: return f.default_value == "true" ? "false" : "true";
    case OptionType::kFloat: return f.default_value == "0.5" ? "0.25" : "0.5";
    case OptionType::kName: return f.name.ends_with("encoding") ? "sq8" : "float16";
    case OptionType::kInt: {
      const int64_t d = std::stoll(f.default_value);
      if (f.name.ends_with("pq_m")) return "16";  // divides 64
      return std::to_string(d == 7 ? 9 : 7);
    }
  }
  return "";
}

TEST(OptionsTest, EveryFieldRoundTripsThroughASpec) {
  for (IndexKind kind : kKinds) {
    IndexOptions o;
    o.kind = kind;
    o.dim = 64;
    o.metric = Metric::kCosine;
    const std::vector<OptionInfo> fields = index_option_fields(kind);
    for (const OptionInfo& f : fields) {
      ASSERT_TRUE(set_index_option(o, f.name, other_value(f)).ok()) << f.name;
    }
    ASSERT_TRUE(o.validate().ok()) << o.validate().to_string();
    const std::string spec = index_spec(o);
    auto back = parse_index_spec(spec);
    ASSERT_TRUE(back.ok()) << spec << ": " << back.status().to_string();
    EXPECT_EQ(index_spec(*back), spec);
    EXPECT_EQ(back->dim, 64);
    EXPECT_EQ(back->metric, Metric::kCosine);
    EXPECT_EQ(index_option_values(*back), index_option_values(o)) << spec;
    // Every changed field appears in the spec, by name.
    for (const OptionInfo& f : fields)
      EXPECT_NE(spec.find("," + f.name + "="), std::string::npos) << spec << " lacks " << f.name;
  }
}

TEST(OptionsTest, DefaultsGiveTheShortestSpec) {
  IndexOptions o;
  o.kind = IndexKind::kHnsw;
  EXPECT_EQ(index_spec(o), "hnsw");
  o.dim = 128;
  o.hnsw.M = 32;
  EXPECT_EQ(index_spec(o), "hnsw,dim=128,M=32");
  for (const OptionInfo& f : index_option_fields(IndexKind::kIvf)) EXPECT_FALSE(f.allowed.empty());
  EXPECT_TRUE(index_option_fields(IndexKind::kFlat).empty());
}

TEST(OptionsTest, SpecsAcceptTheDocumentedForms) {
  auto a = parse_index_spec("ivf:nlist=1024, encoding=sq8 ,rerank=100");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->ivf.nlist, 1024);
  EXPECT_EQ(a->ivf.encoding, IvfEncoding::kSQ8);
  EXPECT_EQ(a->ivf.rerank, 100);
  auto g = parse_index_spec("gpu_flat,dtype=float16,prefer_gpu=true,memory_fraction=0.5");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->gpu_flat.dtype, GpuDtype::kFloat16);
  EXPECT_TRUE(g->gpu_flat.prefer_gpu);
  EXPECT_DOUBLE_EQ(g->gpu_flat.memory_fraction, 0.5);
  // Auto: a bare name sets every stage that has it, a prefixed one only that stage.
  auto u = parse_index_spec("auto,flat_max=500,nlist=16,seed=3,hnsw.seed=4");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(u->auto_index.flat_max, 500);
  EXPECT_EQ(u->auto_index.ivf.nlist, 16);
  EXPECT_EQ(u->auto_index.ivf.seed, 3u);
  EXPECT_EQ(u->auto_index.hnsw.seed, 4u);
  auto f = parse_index_spec("flat,dim=768,metric=ip");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->dim, 768);
  EXPECT_EQ(f->metric, Metric::kInnerProduct);
  // A spec makes the index it describes.
  auto made = make_index(*parse_index_spec("hnsw,dim=8,M=12,ef_search=40"));
  ASSERT_TRUE(made.ok());
  EXPECT_NE((*made)->describe().find("M=12, ef_construction=200, ef_search=40"), std::string::npos)
      << (*made)->describe();
}

TEST(OptionsTest, BadSpecsAndValuesSayWhatIsWrong) {
  struct Case {
    const char* spec;
    const char* expected;
  };
  const Case cases[] = {
      {"lsh", "unknown index kind 'lsh'"},
      {"", "unknown index kind ''"},
      {"hnsw,M", "expected name=value"},
      {"hnsw,=3", "expected name=value"},
      {"hnsw,M=32,", "expected name=value"},
      {"hnsw,m=32", "unknown option 'm' for kind hnsw; it accepts dim, metric, M,"},
      {"hnsw,M=1", "hnsw.M must be in [2, 256], got 1"},
      {"hnsw,M=3.5", "'3.5' is not an integer"},
      {"hnsw,M=99999999999999999999", "not in the range"},
      {"ivf,nprobe=0", "ivf.nprobe must be >= 1, got 0"},
      {"ivf,encoding=sq3", "unknown ivf.encoding 'sq3'; expected flat, sq8, sq4 or pq"},
      {"gpu_flat,memory_fraction=0", "must be in (0, 1]"},
      {"gpu_flat,memory_fraction=nan", "not a finite number"},
      {"gpu_flat,prefer_gpu=yes", "not a boolean"},
      {"auto,target_recall=1.5", "auto.target_recall must be in (0, 1]"},
      {"auto,ivf.M=4", "unknown option 'ivf.M'"},
      {"flat,nlist=3", "flat has no options of its own"},
      {"flat,dim=0", "dim: '0' is not in [1, 65536]"},
      {"flat,metric=hamming", "unknown metric 'hamming'"},
  };
  for (const Case& c : cases) {
    auto s = parse_index_spec(c.spec);
    ASSERT_FALSE(s.ok()) << c.spec;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << c.spec;
    EXPECT_NE(s.status().message().find(c.expected), std::string::npos)
        << c.spec << ": " << s.status().to_string();
  }
  // A failed set leaves the options as they were.
  IndexOptions o;
  o.kind = IndexKind::kAuto;
  EXPECT_FALSE(set_index_option(o, "seed", "-1").ok());
  EXPECT_EQ(o.auto_index.ivf.seed, IvfOptions{}.seed);
  EXPECT_EQ(index_option_type(IndexKind::kAuto, "encoding").value(), OptionType::kName);
  EXPECT_FALSE(index_option_type(IndexKind::kHnsw, "nlist").ok());
}

TEST(OptionsTest, ValidateNamesTheField) {
  IndexOptions o;
  o.kind = IndexKind::kIvf;
  o.dim = 10;
  o.ivf.encoding = IvfEncoding::kPQ;
  o.ivf.pq_m = 4;
  EXPECT_NE(o.validate().message().find("ivf.pq_m = 4 must divide the dimension 10"),
            std::string_view::npos);
  o.ivf.encoding = static_cast<IvfEncoding>(9);
  EXPECT_NE(o.validate().message().find("ivf.encoding must be flat, sq8, sq4 or pq"),
            std::string_view::npos)
      << o.validate().to_string();
  o.kind = IndexKind::kAuto;
  o.auto_index.flat_max = 10;
  o.auto_index.ivf_max = 5;
  EXPECT_NE(o.validate().message().find("flat_max <= ivf_max"), std::string_view::npos);
}

TEST(OptionsTest, TheFileCodecFollowsTheTable) {
  IvfOptions o;
  o.nlist = 77;
  o.encoding = IvfEncoding::kPQ;
  o.seed = ~uint64_t{0};
  internal::StringSink sink;
  internal::Writer w(&sink);
  internal::write_options(w, o);
  // int32 x 5, int64 x 2, uint64: the version-1 layout.
  EXPECT_EQ(sink.bytes().size(), 5 * 4 + 2 * 8 + 8u);
  IvfOptions back;
  internal::Reader r(sink.bytes().data(), sink.bytes().size(), "test");
  ASSERT_TRUE(internal::read_options(r, &back, "ivf"));
  EXPECT_EQ(back.nlist, 77);
  EXPECT_EQ(back.encoding, IvfEncoding::kPQ);
  EXPECT_EQ(back.seed, ~uint64_t{0});

  std::string damaged = sink.bytes();
  damaged[8] = 9;  // the encoding
  internal::Reader bad(damaged.data(), damaged.size(), "test");
  EXPECT_FALSE(internal::read_options(bad, &back, "ivf"));
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("unknown ivf encoding 9"), std::string_view::npos);
}

}  // namespace
}  // namespace vecperf
