// get_or_compute: deduplication, chunking, input order, bad embed output, and single-flight
// across threads (each distinct text computed once; errors reach every waiter).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "cache/cache_test_util.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace {

using testing::disk_options;
using testing::make_texts;
using testing::ram_options;
using testing::TempDir;
using testing::vector_for;
using testing::views;

// Embeds with vector_for and records every text and batch it is asked for.
struct CountingEmbed {
  int64_t dim = 8;
  std::chrono::milliseconds delay{0};
  std::mutex mu;
  std::map<std::string, int> calls;
  std::vector<size_t> batch_sizes;

  EmbedFn fn() {
    return [this](std::span<const std::string_view> texts, std::vector<float>* out) {
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      {
        std::lock_guard<std::mutex> lock(mu);
        batch_sizes.push_back(texts.size());
        for (auto t : texts) ++calls[std::string(t)];
      }
      out->clear();
      for (auto t : texts) {
        const auto v = vector_for(t, dim);
        out->insert(out->end(), v.begin(), v.end());
      }
      return Status::OK();
    };
  }
};

void expect_rows(const std::vector<std::string_view>& texts, const std::vector<float>& out,
                 int64_t dim) {
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto want = vector_for(texts[i], dim);
    ASSERT_TRUE(std::equal(want.begin(), want.end(), out.begin() + i * dim)) << texts[i];
  }
}

TEST(GetOrComputeTest, DeduplicatesChunksAndKeepsInputOrder) {
  TempDir dir;
  auto c = std::move(EmbeddingCache::open(disk_options(dir.path()))).value();
  ASSERT_TRUE(c->put("cached", vector_for("cached", 8)).ok());
  std::vector<std::string> owned = make_texts(10);
  std::vector<std::string_view> texts;
  for (int r = 0; r < 3; ++r)
    for (const auto& t : owned) texts.push_back(t);
  texts.push_back("cached");
  texts.push_back("");
  CountingEmbed embed;
  std::vector<float> out(texts.size() * 8);
  ASSERT_TRUE(c->get_or_compute(texts, embed.fn(), 4, out.data()).ok());
  expect_rows(texts, out, 8);
  EXPECT_EQ(embed.calls.size(), 11u);  // 10 texts + "" (not "cached")
  for (const auto& [t, n] : embed.calls) EXPECT_EQ(n, 1) << t;
  EXPECT_EQ(embed.batch_sizes, (std::vector<size_t>{4, 4, 3}));
  EXPECT_EQ(c->stats().computed, 11u);
  // Everything is now cached, on disk too.
  std::vector<float> again(texts.size() * 8);
  ASSERT_TRUE(c->get_or_compute(texts, embed.fn(), 4, again.data()).ok());
  EXPECT_EQ(again, out);
  EXPECT_EQ(embed.batch_sizes.size(), 3u);
}

TEST(GetOrComputeTest, BadEmbedOutputIsAnErrorAndNothingIsCached) {
  auto c = std::move(EmbeddingCache::open(ram_options())).value();
  const auto owned = make_texts(6);
  const auto texts = views(owned);
  std::vector<float> out(texts.size() * 8);
  auto wrong_count = [](std::span<const std::string_view> t, std::vector<float>* o) {
    o->assign((t.size() - 1) * 8, 1.0f);
    return Status::OK();
  };
  auto wrong_dim = [](std::span<const std::string_view> t, std::vector<float>* o) {
    o->assign(t.size() * 9, 1.0f);
    return Status::OK();
  };
  auto non_finite = [](std::span<const std::string_view> t, std::vector<float>* o) {
    o->assign(t.size() * 8, 1.0f);
    (*o)[3] = std::numeric_limits<float>::infinity();
    return Status::OK();
  };
  auto failing = [](std::span<const std::string_view>, std::vector<float>*) {
    return Status::Unavailable("model server down");
  };
  auto throwing = [](std::span<const std::string_view>, std::vector<float>*) -> Status {
    throw std::runtime_error("boom");
  };
  EXPECT_EQ(c->get_or_compute(texts, wrong_count, 100, out.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->get_or_compute(texts, wrong_dim, 100, out.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->get_or_compute(texts, non_finite, 100, out.data()).code(),
            StatusCode::kInvalidArgument);
  Status s = c->get_or_compute(texts, failing, 100, out.data());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "model server down");
  EXPECT_EQ(c->get_or_compute(texts, throwing, 100, out.data()).code(), StatusCode::kInternal);
  EXPECT_EQ(c->stats().ram.entries, 0u);
  // No flight was left behind: a working embed function now computes everything.
  CountingEmbed embed;
  ASSERT_TRUE(c->get_or_compute(texts, embed.fn(), 100, out.data()).ok());
  expect_rows(texts, out, 8);
  EXPECT_EQ(embed.calls.size(), 6u);
}

TEST(GetOrComputeTest, ConcurrentCallersComputeEachTextOnce) {
  for (bool with_disk : {false, true}) {
    TempDir dir;
    auto c = std::move(EmbeddingCache::open(with_disk ? disk_options(dir.path()) : ram_options()))
                 .value();
    CountingEmbed embed;
    embed.delay = std::chrono::milliseconds(2);  // widens the windows where callers overlap
    const auto all = make_texts(300);
    constexpr int kThreads = 8;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Overlapping windows of 100 texts, in a thread-specific order, 3 rounds.
        for (int round = 0; round < 3; ++round) {
          std::vector<std::string_view> texts;
          for (int i = 0; i < 100; ++i) texts.push_back(all[(t * 25 + round * 40 + i * 7) % 300]);
          std::vector<float> out(texts.size() * 8);
          if (!c->get_or_compute(texts, embed.fn(), 16, out.data()).ok()) ++failures;
          for (size_t i = 0; i < texts.size(); ++i) {
            const auto want = vector_for(texts[i], 8);
            if (!std::equal(want.begin(), want.end(), out.begin() + i * 8)) ++failures;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    for (const auto& [text, n] : embed.calls) EXPECT_EQ(n, 1) << text;
    EXPECT_EQ(c->stats().computed, embed.calls.size());
  }
}

TEST(GetOrComputeTest, FailureReachesEveryWaiter) {
  auto c = std::move(EmbeddingCache::open(ram_options())).value();
  std::atomic<int> embed_calls{0};
  auto failing = [&](std::span<const std::string_view>, std::vector<float>*) {
    ++embed_calls;
    // Long enough for the other threads to find the flight and wait on it.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return Status::Unavailable("model server down");
  };
  const auto owned = make_texts(20);
  const auto texts = views(owned);
  constexpr int kThreads = 8;
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out(texts.size() * 8);
      results[t] = c->get_or_compute(texts, failing, 100, out.data());
    });
  }
  for (auto& th : threads) th.join();  // a lost wake-up would hang here
  for (const Status& s : results) {
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_EQ(s.message(), "model server down");
  }
  EXPECT_GE(embed_calls.load(), 1);
  EXPECT_LE(embed_calls.load(), kThreads);
  EXPECT_EQ(c->stats().ram.entries, 0u);
}

}  // namespace
}  // namespace vecperf
