// Run-time selection of the distance kernels (see distance.h).
//
// CPUID says what the core implements; XGETBV says what the operating system saves on a
// context switch. Both are needed: a kernel using ZMM registers on an OS that does not save
// them would silently corrupt other threads' state. The choice is made once, on first use, and
// cached in a function-local static (thread-safe initialisation).
#include <cpuid.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "distance/distance.h"

namespace vecperf::internal {
namespace {

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C, YMM state enabled
  bool avx512 = false;  // AVX-512 F/BW/DQ/VL, ZMM and opmask state enabled
};

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  // Inline asm rather than _xgetbv() so that this file needs no -mxsave flag.
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx & bit_OSXSAVE) != 0;
  const bool fma = (ecx & bit_FMA) != 0;
  const bool f16c = (ecx & bit_F16C) != 0;
  if (!osxsave) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  const bool avx2 = (ebx & bit_AVX2) != 0;
  const bool avx512 =
      (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ebx & bit_AVX512DQ) && (ebx & bit_AVX512VL);
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512;
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa isa_cap_from_env() {
  const char* env = std::getenv("VECPERF_ISA");
  if (env == nullptr) return Isa::kAvx512;
  if (std::strcmp(env, "scalar") == 0) return Isa::kScalar;
  if (std::strcmp(env, "avx2") == 0) return Isa::kAvx2;
  return Isa::kAvx512;
}

const DistanceKernels* select() {
  Isa cap = isa_cap_from_env();
  for (int isa = static_cast<int>(cap); isa > 0; --isa) {
    if (const DistanceKernels* k = kernels_for(static_cast<Isa>(isa))) return k;
  }
  return &kScalarKernels;
}

}  // namespace

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return features().avx2;
    case Isa::kAvx512: return features().avx512;
  }
  return false;
}

const DistanceKernels* kernels_for(Isa isa) {
  if (!cpu_supports(isa)) return nullptr;
  switch (isa) {
    case Isa::kScalar: return &kScalarKernels;
    case Isa::kAvx2: return &kAvx2Kernels;
    case Isa::kAvx512: return &kAvx512Kernels;
  }
  return nullptr;
}

const DistanceKernels& kernels() {
  static const DistanceKernels* chosen = select();
  return *chosen;
}

}  // namespace vecperf::internal
