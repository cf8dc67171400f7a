// x86-64 feature detection: cpuid for what the CPU has, XGETBV (XCR0) for what the OS saves
// on context switch, and Linux arch_prctl for permission to use AMX tile data.
// Compiled for the baseline ISA: it must run on any x86-64.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>

#include "core/cpu_features.h"

namespace qmm {
namespace {

void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

bool bit(uint32_t v, int b) { return (v >> b) & 1u; }

CpuFeatures detect() {
  CpuFeatures f;
  uint32_t r[4];
  cpuid(0, 0, r);
  const uint32_t max_leaf = r[0];
  f.amd = r[1] == 0x68747541u && r[3] == 0x69746e65u && r[2] == 0x444d4163u;  // "AuthenticAMD"
  cpuid(1, 0, r);
  const bool osxsave = bit(r[2], 27);
  const bool has_fma = bit(r[2], 12), has_f16c = bit(r[2], 29), has_avx = bit(r[2], 28);
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;           // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;         // + opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & (3ull << 17)) == (3ull << 17);  // XTILECFG + XTILEDATA
  uint32_t l7[4] = {0, 0, 0, 0}, l7s1[4] = {0, 0, 0, 0};
  if (max_leaf >= 7) {
    cpuid(7, 0, l7);
    cpuid(7, 1, l7s1);
  }
  const bool avx_ok = has_avx && os_ymm;
  f.avx2 = avx_ok && bit(l7[1], 5);
  f.fma = avx_ok && has_fma;
  f.f16c = avx_ok && has_f16c;
  f.avxvnni = avx_ok && bit(l7s1[0], 4);
  f.avx512f = os_zmm && bit(l7[1], 16);
  f.avx512dq = f.avx512f && bit(l7[1], 17);
  f.avx512bw = f.avx512f && bit(l7[1], 30);
  f.avx512vl = f.avx512f && bit(l7[1], 31);
  f.avx512vnni = f.avx512f && bit(l7[2], 11);
  f.avx512bf16 = f.avx512f && bit(l7s1[0], 5);
  f.avx512fp16 = f.avx512f && bit(l7[3], 23);
  f.amx_bf16 = os_amx && bit(l7[3], 22);
  f.amx_tile = os_amx && bit(l7[3], 24);
  f.amx_int8 = os_amx && bit(l7[3], 25);

  f.text = "x86_64";
  const struct {
    bool on;
    const char* name;
  } names[] = {{f.avx2, "avx2"},           {f.fma, "fma"},
               {f.f16c, "f16c"},           {f.avxvnni, "avxvnni"},
               {f.avx512f, "avx512f"},     {f.avx512bw, "avx512bw"},
               {f.avx512vl, "avx512vl"},   {f.avx512dq, "avx512dq"},
               {f.avx512vnni, "avx512vnni"}, {f.avx512bf16, "avx512bf16"},
               {f.avx512fp16, "avx512fp16"}, {f.amx_tile, "amx_tile"},
               {f.amx_int8, "amx_int8"},   {f.amx_bf16, "amx_bf16"}};
  for (const auto& n : names)
    if (n.on) {
      f.text += ' ';
      f.text += n.name;
    }
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool request_amx_permission() {
  static const bool granted = [] {
    if (!cpu_features().amx_tile) return false;
#if defined(__linux__) && defined(SYS_arch_prctl)
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return granted;
}

}  // namespace qmm
