// Symbol visibility for the vecperf library. The library is compiled with hidden visibility;
// VECPERF_EXPORT marks the public API. It is written as a standard attribute so that it can
// follow other standard attributes, as in `class [[nodiscard]] VECPERF_EXPORT Status`.
#pragma once

#if defined(VECPERF_STATIC_DEFINE)
#define VECPERF_EXPORT
#elif defined(__GNUC__)
#define VECPERF_EXPORT [[gnu::visibility("default")]]
#else
#define VECPERF_EXPORT
#endif
