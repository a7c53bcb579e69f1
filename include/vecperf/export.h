// Symbol visibility for the vecperf library.
#pragma once

#if defined(VECPERF_STATIC_DEFINE)
#define VECPERF_EXPORT
#elif defined(__GNUC__)
#define VECPERF_EXPORT __attribute__((visibility("default")))
#else
#define VECPERF_EXPORT
#endif
