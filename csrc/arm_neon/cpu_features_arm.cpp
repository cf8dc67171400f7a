// aarch64 feature detection from the kernel's hardware capability bits (Linux getauxval).
// Compiled for the baseline armv8-a: it must run on any aarch64 CPU.
#include <cstdint>

#if defined(__linux__)
#include <sys/auxv.h>
#endif

#include "core/cpu_features.h"

namespace qmm {
namespace {

// Bit positions from the Linux uapi asm/hwcap.h (stable ABI).
constexpr uint64_t kHwcapAsimd = 1ull << 1;
constexpr uint64_t kHwcapAsimdhp = 1ull << 10;
constexpr uint64_t kHwcapAsimddp = 1ull << 20;
constexpr uint64_t kHwcap2I8mm = 1ull << 13;
constexpr uint64_t kHwcap2Bf16 = 1ull << 14;

CpuFeatures detect() {
  CpuFeatures f;
  uint64_t hw = 0, hw2 = 0;
#if defined(__linux__)
  hw = getauxval(AT_HWCAP);
  hw2 = getauxval(AT_HWCAP2);
#endif
  f.neon = (hw & kHwcapAsimd) != 0;
  f.asimdhp = (hw & kHwcapAsimdhp) != 0;
  f.dotprod = (hw & kHwcapAsimddp) != 0;
  f.i8mm = (hw2 & kHwcap2I8mm) != 0;
  f.bf16 = (hw2 & kHwcap2Bf16) != 0;
  f.text = "aarch64";
  if (f.neon) f.text += " neon";
  if (f.asimdhp) f.text += " asimdhp";
  if (f.dotprod) f.text += " dotprod";
  if (f.i8mm) f.text += " i8mm";
  if (f.bf16) f.text += " bf16";
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool request_amx_permission() { return false; }

}  // namespace qmm
