// The `avx512` backend's table entry (compiled for the baseline ISA: it runs before the CPU is
// known to have AVX-512). Kernels live in avx512_*.cpp, called only after available() said yes.
//
// Accepted: bits 4 and 8, zero points or not, fp16/bf16/fp32 X and Y, any M, N, K and strides,
// both compute modes. The AVX-512 kernels cover group_size multiples of 32 (int8 mode: at most
// 65536, so the group sums stay exact in int32); any other problem runs the avx2 backend's code
// (which has its own slow path for odd group sizes), so forcing `avx512` never fails.
// Prepacked weights (qmm_pack) are the 32-row panels of avx512_kernels.h (a canonical copy
// when the kernels do not cover the problem); the amx backend reads the same panels.
// Float mode: rows of X holding Inf, NaN or |x| >= 2^64 run the scalar code
// (float_with_exact_rows below).
#include <new>
#include <vector>

#include "core/backend.h"
#include "core/cpu_features.h"
#include "core/scalar.h"
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

// Automatic dispatch: the int8 mode with one row of X on AMD CPUs goes to avx2. On Zen 4 (512-bit
// operations in two 256-bit halves) the avx2 int8 M = 1 kernel ran faster than these (EPYC VM,
// 2 threads, 2026-12-02, 8B/70B shapes: 4-bit 0.91-1.70x, 1.15x on average in one interleaved C
// driver run; 8-bit 1.22-1.70x), while from M = 16 on these are 2-3x faster (VNNI). Float mode
// stays: at 4 bits this backend's VDPBF16PS row kernel (AMD with AVX512_BF16) beat avx2's float
// kernel (avx2 0.60-0.92x).
bool avx512_defer(const Problem& p, const Options& o) {
  return p.M == 1 && o.compute == QMM_COMPUTE_INT8 && cpu_features().amd;
}

// Panels (avx512_kernels.h) back to canonical weights, scales and zero points: for the rows of
// X that hold Inf, which the scalar code computes from canonical data.
struct CanonicalCopy {
  std::vector<uint8_t> w;
  std::vector<float> s;
  std::vector<int8_t> z;
};

void unpack_panels(const PackedWeights& pw, CanonicalCopy* c) {
  const int64_t N = pw.N, K = pw.K, G = pw.groups, rb = pw.bits == 8 ? K : K / 2;
  const x512::PanelLayout L = x512::panel_layout(N, K, G, pw.bits, pw.has_zp);
  const auto* base = static_cast<const uint8_t*>(pw.data);
  const auto* ps = reinterpret_cast<const float*>(base + L.s_off);
  const auto* pz = reinterpret_cast<const int8_t*>(base + L.z_off);
  c->w.assign(size_t(N) * size_t(rb), 0);
  c->s.resize(size_t(N) * size_t(G));
  c->z.resize(pw.has_zp ? size_t(N) * size_t(G) : 0);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t pi = n / x512::kPanelN, r = n % x512::kPanelN;
    const uint8_t* panel = base + L.w_off + size_t(pi) * size_t(L.wbytes);
    const int64_t lane = (r / 16) * 64 + (r % 16) * 4;  // [h][c][4] inside each 128-byte step
    uint8_t* row = c->w.data() + n * rb;
    for (int64_t k = 0; k < K; ++k) {
      if (pw.bits == 8) {
        row[k] = uint8_t(panel[(k / 4) * 128 + lane + k % 4] - 128);  // u = w + 128
      } else {
        const int j = int(k % 8);
        const uint8_t b = panel[(k / 8) * 128 + lane + j % 4];
        const uint8_t q = uint8_t(((j < 4 ? b : b >> 4) - 8) & 0x0F);  // u = w + 8, a nibble
        row[k / 2] |= uint8_t(k % 2 ? q << 4 : q);
      }
    }
    for (int64_t g = 0; g < G; ++g) {
      c->s[n * G + g] = ps[pi * L.gcount + g * x512::kPanelN + r];
      if (pw.has_zp) c->z[n * G + g] = pz[pi * L.gcount + g * x512::kPanelN + r];
    }
  }
}

}  // namespace

// Rows of X with Inf, NaN or |x| >= 2^64 run on the scalar code (core/exact_rows.cpp): the
// avx512 float kernels fold the zero point (sum x*u - (zp + offset) * sum x), the amx ones split
// X into bf16 hi + lo, and both turn an Inf into NaN (Inf - Inf) or overflow on huge x.
qmm_status x512::float_with_exact_rows(const Problem& p, const Options& o, const PackedWeights* pw,
                                       Kernels kernels) {
  CanonicalCopy copy;
  return float_gemm_with_exact_rows(
      p, o, [&](const Problem& rows) { return kernels(rows, o, pw); },
      [&](Problem* q) {
        if (!pw) return QMM_OK;
        try {
          unpack_panels(*pw, &copy);
        } catch (const std::bad_alloc&) {
          return set_error(QMM_OUT_OF_MEMORY,
                           "no memory to unpack the panels for the exactly computed rows");
        }
        q->w = copy.w.data();
        q->scales = copy.s.data();
        q->zp = pw->has_zp ? copy.z.data() : nullptr;
        return QMM_OK;
      });
}

namespace {

qmm_status run_kernels(const Problem& p, const Options& o, const PackedWeights* pw) {
  if (o.compute == QMM_COMPUTE_INT8) return x512::avx512_run(p, o, pw);
  return x512::float_with_exact_rows(p, o, pw, x512::avx512_run);
}

qmm_status avx512_run(const Problem& p, const Options& o) {
  if (!x512::kernels_cover(p)) return kAvx2Backend.run(p, o);
  return run_kernels(p, o, nullptr);
}
qmm_status avx512_pack(const Problem& p, const Options& o, PackedWeights* out) {
  if (!x512::kernels_cover(p)) return default_pack(p, o, out);
  return x512::avx512_pack(p, o, out);
}
qmm_status avx512_run_packed(const PackedWeights& pw, const Problem& p, const Options& o) {
  // a canonical copy (default_pack) keeps w; the panels do not
  if (pw.w) return avx512_run(with_packed_weights(pw, p), o);
  return run_kernels(p, o, &pw);
}

}  // namespace

extern const Backend kAvx512Backend = {
    "avx512", false, avx512_available, avx512_supports, avx512_run, avx512_pack,
    avx512_run_packed, nullptr, nullptr, avx512_defer,
};

}  // namespace qmm
