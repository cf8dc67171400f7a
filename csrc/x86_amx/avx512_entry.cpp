// The `avx512` backend's table entry (compiled for the baseline ISA: it runs before the CPU is
// known to have AVX-512). Kernels live in avx512_*.cpp, called only after available() said yes.
//
// Accepted: bits 4 and 8, zero points or not, fp16/bf16/fp32 X and Y, any M, N, K and strides,
// both compute modes. The AVX-512 kernels cover group_size multiples of 32 (int8 mode: at most
// 65536, so the group sums stay exact in int32); any other problem runs the avx2 backend's code
// (which has its own slow path for odd group sizes), so forcing `avx512` never fails.
// Prepacked weights (qmm_pack) are the 32-row panels of avx512_kernels.h (a canonical copy
// when the kernels do not cover the problem); the amx backend reads the same panels.
#include "core/backend.h"
#include "core/cpu_features.h"
#include "x86_amx/avx512_kernels.h"

namespace qmm {
namespace x512 {

PanelLayout panel_layout(int64_t N, int64_t K, int64_t G, int bits, bool has_zp) {
  auto round64 = [](size_t n) { return (n + 63) & ~size_t(63); };
  PanelLayout L;
  L.panels = (N + kPanelN - 1) / kPanelN;
  L.wbytes = bits == 8 ? K * 32 : K * 16;
  L.gcount = G * kPanelN;
  L.w_off = 0;
  L.s_off = round64(size_t(L.panels) * size_t(L.wbytes));
  L.z_off = L.s_off + round64(size_t(L.panels) * size_t(L.gcount) * sizeof(float));
  L.total = L.z_off + (has_zp ? round64(size_t(L.panels) * size_t(L.gcount)) : 0);
  return L;
}

bool kernels_cover(const Problem& p) {
  // groups above 65536 are left out in both modes, so packed panels serve either mode
  if (p.group_size <= 0 || p.group_size % 32 != 0 || p.group_size > 65536) return false;
  // the panel gather indexes 32 canonical rows with int32 dword offsets
  return p.row_bytes() <= (int64_t(1) << 30) / 32;
}

}  // namespace x512

extern const Backend kAvx2Backend;

namespace {

bool avx512_available() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
         f.avx512vnni;
}

bool avx512_supports(const Problem& p, const Options&) {
  return !p.device && (p.bits == 4 || p.bits == 8);
}

qmm_status avx512_run(const Problem& p, const Options& o) {
  if (!x512::kernels_cover(p)) return kAvx2Backend.run(p, o);
  return x512::avx512_run(p, o, nullptr);
}
qmm_status avx512_pack(const Problem& p, const Options& o, PackedWeights* out) {
  if (!x512::kernels_cover(p)) return default_pack(p, o, out);
  return x512::avx512_pack(p, o, out);
}
qmm_status avx512_run_packed(const PackedWeights& pw, const Problem& p, const Options& o) {
  // a canonical copy (default_pack) keeps w; the panels do not
  if (pw.w) return avx512_run(with_packed_weights(pw, p), o);
  return x512::avx512_run(p, o, &pw);
}

}  // namespace

extern const Backend kAvx512Backend = {
    "avx512", false, avx512_available, avx512_supports, avx512_run, avx512_pack,
    avx512_run_packed, nullptr, nullptr,
};

}  // namespace qmm
