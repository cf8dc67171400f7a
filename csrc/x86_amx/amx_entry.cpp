// The `amx` backend's table entry (compiled for the baseline ISA: it runs before the CPU is
// known to have AMX). Kernels live in amx_gemm.cpp, called only after available() said yes
// (which includes Linux's permission to use tile data, asked for once per process).
//
// Accepted: what the avx512 backend accepts (bits 4 and 8, zero points or not, fp16/bf16/fp32
// X and Y, any M, N, K and strides, both compute modes). The tile kernels cover group_size
// multiples of 32 up to 65536; anything else runs the avx512 backend's entry (which hands it to
// the avx2 code), so forcing `amx` never fails. Problems with fewer than 16 rows of X also go
// through the avx512 entry (AMX tiles are 16 rows tall; a decode step is bandwidth-bound
// anyway), so weights packed by this backend serve every M: they are the avx512 panels.
// Float mode: rows of X holding Inf, NaN or |x| >= 2^64 run the scalar code
// (x512::float_with_exact_rows): the tiles see X as bf16 hi + lo, and Inf - Inf = NaN.
#include "core/backend.h"
#include "core/cpu_features.h"
#include "x86_amx/avx512_kernels.h"

namespace qmm {

extern const Backend kAvx512Backend;

namespace {

bool amx_available() {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
        f.avx512vnni && f.amx_tile && f.amx_int8 && f.amx_bf16))
    return false;
  return request_amx_permission();
}

bool amx_supports(const Problem& p, const Options&) {
  return !p.device && (p.bits == 4 || p.bits == 8);
}

qmm_status run_tiles(const Problem& p, const Options& o, const PackedWeights* pw) {
  if (o.compute == QMM_COMPUTE_INT8) return x512::amx_run(p, o, pw);
  return x512::float_with_exact_rows(p, o, pw, x512::amx_run);
}

qmm_status amx_run(const Problem& p, const Options& o) {
  if (!x512::kernels_cover(p) || p.M < x512::kAmxMinRows) return kAvx512Backend.run(p, o);
  return run_tiles(p, o, nullptr);
}
qmm_status amx_pack(const Problem& p, const Options& o, PackedWeights* out) {
  return kAvx512Backend.pack(p, o, out);
}
qmm_status amx_run_packed(const PackedWeights& pw, const Problem& p, const Options& o) {
  // a canonical copy (not tile-covered), or too few rows for tiles
  if (pw.w || p.M < x512::kAmxMinRows) return kAvx512Backend.run_packed(pw, p, o);
  return run_tiles(p, o, &pw);
}

}  // namespace

extern const Backend kAmxBackend = {
    "amx", false, amx_available, amx_supports, amx_run, amx_pack, amx_run_packed, nullptr, nullptr,
    nullptr,
};

}  // namespace qmm
