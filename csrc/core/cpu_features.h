// What the CPU can do, detected once per process. x86 fields are filled by
// csrc/x86_amx/cpu_features_x86.cpp, Arm fields by csrc/arm_neon/cpu_features_arm.cpp,
// anything else by csrc/core/cpu_features_generic.cpp.
#pragma once

#include <string>

namespace qmm {

struct CpuFeatures {
  // x86-64
  bool avx2 = false, fma = false, f16c = false;
  bool avxvnni = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avx512fp16 = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;  // CPU + OS (XCR0) support
  bool amd = false;  // vendor "AuthenticAMD": kernel choices that depend on the core design
  // aarch64
  bool neon = false, asimdhp = false, dotprod = false, i8mm = false, bf16 = false;
  std::string text;  // space-separated names of the features above that are present
};

const CpuFeatures& cpu_features();

// x86: ask Linux for permission to use AMX tile data (once); true if granted.
bool request_amx_permission();

}  // namespace qmm
