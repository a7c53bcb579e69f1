// vecperf::Span<T>: the non-owning array view of the public API, so that the headers compile as
// C++17 as well as C++20.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#if __cplusplus >= 202002L && defined(__has_include)
#if __has_include(<span>)
#include <span>
#endif
#endif

namespace vecperf {

template <typename T>
class Span;

namespace internal {

// A Span of a view type points into memory the view does not own, so it stays valid after the
// view itself is gone: such a view may be an rvalue even when the elements are mutable.
template <typename C>
struct SpanBorrowsElements : std::false_type {};
template <typename U>
struct SpanBorrowsElements<Span<U>> : std::true_type {};

template <typename C, typename T, typename = void>
struct SpanSource : std::false_type {};
// `C` (a reference type, as a forwarding reference deduces it) has data() returning a pointer to
// elements usable as T (the same type, or T adds const) and size(). Rvalues only for const T or a
// view, as std::span allows.
template <typename C, typename T>
struct SpanSource<
    C, T, std::void_t<decltype(std::declval<C&>().data()), decltype(std::declval<C&>().size())>> {
  using Bare = std::remove_cv_t<std::remove_reference_t<C>>;
  using Data = decltype(std::declval<C&>().data());
  static constexpr bool value =
      !std::is_same_v<Bare, Span<T>> && std::is_pointer_v<Data> &&
      std::is_convertible_v<std::remove_pointer_t<Data> (*)[], T (*)[]> &&
      std::is_convertible_v<decltype(std::declval<C&>().size()), std::size_t> &&
      (std::is_lvalue_reference_v<C> || std::is_const_v<T> || SpanBorrowsElements<Bare>::value);
};

}  // namespace internal

/// Non-owning view of `size()` contiguous objects of type T: a pointer and a count, the subset of
/// C++20's std::span<T> (dynamic extent) that the API needs, available from C++17 on. A function
/// taking Span<const T> accepts a std::vector<T>, a std::array<T, N>, a T[N], another Span, or
/// (pointer, count); Span<T> (mutable elements) accepts only non-const ones. In C++20 a std::span
/// converts to a Span and a Span to a std::span, both implicitly, so code written against
/// std::span keeps compiling. The memory must stay valid while the Span is used (as for
/// std::span, a Span<const T> made from a temporary container dangles after the full expression).
///
/// Layout: a T* then a std::size_t, identical in C++17 and C++20 (it is passed between a consumer
/// built with either standard and the library). Thread-safety: a value; the elements are not
/// synchronised.
template <typename T>
class Span {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using pointer = T*;
  using reference = T&;
  using iterator = T*;

  /// Empty: data() is nullptr.
  constexpr Span() noexcept = default;
  /// `size` objects from `data`. Requires: [data, data + size) is valid (data may be null when
  /// size is 0).
  constexpr Span(T* data, size_type size) noexcept : data_(data), size_(size) {}
  /// A whole C array.
  template <std::size_t N>
  constexpr Span(T (&array)[N]) noexcept : data_(array), size_(N) {}  // NOLINT: implicit
  /// Any contiguous container or view with data() and size(): std::vector, std::array,
  /// std::string(_view), Span<U> where U* converts to T* by adding const, std::span in C++20.
  template <typename C, typename = std::enable_if_t<internal::SpanSource<C&&, T>::value>>
  constexpr Span(C&& container)  // NOLINT: implicit, as std::span's
      : data_(container.data()), size_(static_cast<size_type>(container.size())) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr size_type size() const noexcept { return size_; }
  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }

  /// Requires: i < size().
  constexpr T& operator[](size_type i) const noexcept { return data_[i]; }
  /// Requires: !empty().
  constexpr T& front() const noexcept { return data_[0]; }
  constexpr T& back() const noexcept { return data_[size_ - 1]; }

  /// The first / last `count` objects. Requires: count <= size().
  constexpr Span first(size_type count) const noexcept { return Span(data_, count); }
  constexpr Span last(size_type count) const noexcept {
    return Span(data_ + (size_ - count), count);
  }
  /// `count` objects from `offset`; the default count (size_type(-1), std::dynamic_extent's value)
  /// means up to the end. Requires: offset <= size(), and offset + count <= size() otherwise.
  constexpr Span subspan(size_type offset,
                         size_type count = static_cast<size_type>(-1)) const noexcept {
    return Span(data_ + offset, count == static_cast<size_type>(-1) ? size_ - offset : count);
  }

 private:
  T* data_ = nullptr;
  size_type size_ = 0;
};

static_assert(sizeof(Span<const int>) == sizeof(const int*) + sizeof(std::size_t) &&
                  std::is_standard_layout_v<Span<const int>> &&
                  std::is_trivially_copyable_v<Span<const int>>,
              "Span is a pointer and a size in every standard");

}  // namespace vecperf

#if defined(__cpp_lib_span)
// C++20: a std::span is a view (an rvalue one converts to a Span<T> of mutable T), and a Span is
// a borrowed view like std::span, so std::span's range constructor accepts it, rvalue or not.
namespace vecperf::internal {
template <typename U, std::size_t N>
struct SpanBorrowsElements<std::span<U, N>> : std::true_type {};
}  // namespace vecperf::internal

namespace std::ranges {
template <typename T>
inline constexpr bool enable_borrowed_range<vecperf::Span<T>> = true;
template <typename T>
inline constexpr bool enable_view<vecperf::Span<T>> = true;
}  // namespace std::ranges
#endif
