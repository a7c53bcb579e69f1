// vecperf::Span as the library and the tests (C++20) use it: its own accessors, what converts to
// it and what does not (const-correctness), and the round trip with std::span. The C++17 side is
// compiled by tests/headers and tests/package.
#include "vecperf/span.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vecperf/types.h"

namespace vecperf {
namespace {

// Const-correctness: mutable views only of mutable elements; never between element types.
static_assert(std::is_convertible_v<std::vector<int64_t>&, Span<int64_t>>);
static_assert(std::is_convertible_v<std::vector<int64_t>&, IdSpan>);
static_assert(std::is_convertible_v<const std::vector<int64_t>&, IdSpan>);
static_assert(std::is_convertible_v<std::vector<int64_t>&&, IdSpan>);
static_assert(!std::is_convertible_v<const std::vector<int64_t>&, Span<int64_t>>);
static_assert(!std::is_convertible_v<std::vector<int64_t>&&, Span<int64_t>>);
static_assert(!std::is_convertible_v<std::vector<int32_t>&, IdSpan>);
static_assert(std::is_convertible_v<Span<int64_t>, IdSpan>);
static_assert(!std::is_convertible_v<IdSpan, Span<int64_t>>);
static_assert(std::is_convertible_v<int64_t (&)[3], Span<int64_t>>);
static_assert(!std::is_convertible_v<const int64_t (&)[3], Span<int64_t>>);
static_assert(std::is_convertible_v<std::array<float, 4>&, Span<float>>);
// std::span, both ways, rvalues included (both are views).
static_assert(std::is_convertible_v<std::span<int64_t>, Span<int64_t>>);
static_assert(std::is_convertible_v<std::span<const int64_t>, IdSpan>);
static_assert(!std::is_convertible_v<std::span<const int64_t>, Span<int64_t>>);
static_assert(std::is_convertible_v<Span<int64_t>, std::span<int64_t>>);
static_assert(std::is_convertible_v<IdSpan, std::span<const int64_t>>);
static_assert(!std::is_convertible_v<IdSpan, std::span<int64_t>>);
static_assert(std::ranges::contiguous_range<IdSpan> && std::ranges::borrowed_range<IdSpan> &&
              std::ranges::view<IdSpan>);
// The layout C++17 consumers share with the library.
static_assert(sizeof(IdSpan) == sizeof(std::span<const int64_t>));
static_assert(std::is_trivially_copyable_v<IdSpan>);

int64_t sum(IdSpan ids) { return std::accumulate(ids.begin(), ids.end(), int64_t{0}); }
size_t count(std::span<const int64_t> ids) { return ids.size(); }

TEST(SpanTest, EmptyByDefault) {
  IdSpan s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.data(), nullptr);
  EXPECT_EQ(s.begin(), s.end());
}

TEST(SpanTest, ViewsWhatItWasMadeFrom) {
  std::vector<int64_t> v{1, 2, 3, 4, 5};
  const std::array<int64_t, 2> a{10, 20};
  int64_t c[3] = {100, 200, 300};
  EXPECT_EQ(sum(v), 15);
  EXPECT_EQ(sum(a), 30);
  EXPECT_EQ(sum(c), 600);
  EXPECT_EQ(sum({v.data() + 1, 2}), 5);
  EXPECT_EQ(sum(IdSpan(v).subspan(1, 2)), 5);

  Span<int64_t> m(v);
  m[0] = 7;  // writes through to the vector
  m.back() = 9;
  EXPECT_EQ(v.front(), 7);
  EXPECT_EQ(v.back(), 9);
  const IdSpan s = m;
  EXPECT_EQ(s.data(), v.data());
  EXPECT_EQ(s.size(), 5u);
  EXPECT_EQ(s.front(), 7);
  EXPECT_EQ(s[2], 3);
}

TEST(SpanTest, FirstLastSubspan) {
  const std::vector<int64_t> v{1, 2, 3, 4, 5};
  const IdSpan s(v);
  EXPECT_EQ(sum(s.first(2)), 3);
  EXPECT_EQ(sum(s.last(2)), 9);
  EXPECT_EQ(sum(s.subspan(3)), 9);
  EXPECT_EQ(sum(s.subspan(1, 3)), 9);
  EXPECT_TRUE(s.subspan(5).empty());
  EXPECT_EQ(s.subspan(5).data(), v.data() + 5);
  EXPECT_TRUE(s.first(0).empty());
  EXPECT_EQ(s.subspan(2, std::dynamic_extent).size(), 3u);
}

TEST(SpanTest, RoundTripsWithStdSpan) {
  std::vector<int64_t> v{4, 5, 6};
  EXPECT_EQ(sum(std::span(v).subspan(1)), 11);  // std::span -> Span
  EXPECT_EQ(count(IdSpan(v).first(2)), 2u);     // Span -> std::span
  std::span<const int64_t> back = IdSpan(v);
  EXPECT_EQ(back.data(), v.data());
  EXPECT_EQ(back.size(), 3u);
  const auto deduced = std::span(IdSpan(v));
  static_assert(std::is_same_v<decltype(deduced), const std::span<const int64_t>>);
  EXPECT_EQ(deduced.size(), 3u);
}

TEST(SpanTest, ViewsStringViews) {
  const std::vector<std::string_view> texts{"a", "bc"};
  const Span<const std::string_view> s = texts;
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1], "bc");
}

}  // namespace
}  // namespace vecperf
