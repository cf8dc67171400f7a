// The avx512 backend's driver: rows of X are taken in blocks (256 rows); a block is converted
// to fp32 (float mode, with per-group sums) or quantized per row and group (int8 mode) once,
// row-parallel; then threads split the 32-row weight panels (static schedule) and each panel
// runs against the whole block (avx512_float.cpp / avx512_int8.cpp, 4 rows at a time).
// Canonical weights are gathered one panel at a time into a per-thread buffer (an L2-resident
// 16 or 32 bytes per k) just before its kernel call, while the kernel prefetches the next
// panel's canonical rows (Panel::pf); prepacked weights are read in place. Float mode bits=4
// gathers raw panels (no nibble reorder, no offset; the kernels read them with bit-identical
// results) and runs the VDPBF16PS kernel (avx512_bf16.cpp) on AMD CPUs with AVX512_BF16, the
// FMA kernel (avx512_float.cpp) elsewhere (see dpbf16_fast). On canonical weights, float mode
// with M <= kRowsMaxM (bits=8) or kRowsMaxM4 (bits=4), and int8 mode where rows_int8_covers,
// skip the panels: avx512_rows.cpp reads the weight rows in place.
// Every output element is computed by one thread in a fixed order: bit-identical for any
// thread count.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/cpu_features.h"
#include "core/threading.h"
#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {

namespace {

constexpr int64_t kRowBlock = 256;

}  // namespace

// VDPBF16PS is as fast as VFMADD231PS on AMD Zen 4 (one per cycle per pipe, measured on an EPYC
// VM: the bf16 kernel 1.9x faster than the FMA one at M=1, 1.55x at M=16, one thread) but takes
// both vector ports for two cycles on the Xeon (Sapphire Rapids class: 0.74 ns per instruction vs
// 0.18 ns per FMA, 2026-12-01), where the bf16 kernel was slower than the FMA one. So the bf16
// kernel runs only on AMD CPUs with AVX512_BF16.
bool dpbf16_fast() { return cpu_features().amd && cpu_features().avx512bf16; }

qmm_status avx512_run(const Problem& p, const Options& o, const PackedWeights* pw) {
  const int64_t M = p.M, N = p.N, K = p.K, G = p.groups, gs = p.group_size;
  const bool int8 = o.compute == QMM_COMPUTE_INT8;
  // float decode on canonical weights: read the rows in place (avx512_rows.cpp)
  if (!pw && !int8 && rows_float_covers(p)) return rows_float_run(p, o);
  if (!pw && int8 && rows_int8_covers(p)) return rows_int8_run(p, o);
  // float mode bits=4: the VDPBF16PS kernel (avx512_bf16.cpp) where it is fast, else the FMA
  // one; canonical weights are gathered without the nibble reorder (raw panels, same results)
  const bool bf16 = !int8 && p.bits == 4 && dpbf16_fast();
  const bool raw = !int8 && p.bits == 4 && !pw;
  const bool has_lo = p.x_dtype != QMM_DTYPE_BF16;
  const bool has_zp = pw ? pw->has_zp : p.zp != nullptr;
  const PanelLayout L = panel_layout(N, K, G, p.bits, has_zp);
  const int64_t mb_max = std::min(kRowBlock, M);
  const size_t xsz = p.x_dtype == QMM_DTYPE_F32 ? 4 : 2;
  const size_t ysz = p.y_dtype == QMM_DTYPE_F32 ? 4 : 2;
  ScratchBuffer xbuf(size_t(mb_max) * size_t(K) * (int8 ? 1 : 4));
  ScratchBuffer sbuf(size_t(mb_max) * size_t(G) * 4);
  ScratchBuffer qsum(int8 ? size_t(mb_max) * size_t(G) * 4 : 64);
  if (!xbuf.p || !sbuf.p || !qsum.p)
    return set_error(QMM_OUT_OF_MEMORY, "avx512: could not allocate activation buffers");
  const uint8_t* pbase = pw ? static_cast<const uint8_t*>(pw->data) : nullptr;
  const int nt = threads_for_work(o.num_threads, (long long)mb_max * N * K);
  bool oom = false;
  for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
    const int mb = int(std::min(kRowBlock, M - m0));
    const char* xm = static_cast<const char*>(p.x) + size_t(m0) * size_t(p.ldx) * xsz;
    // X preparation on the kernel's own team size (or the calling thread for one row): a
    // team of min(nt, mb) threads between nt-thread regions makes libgomp re-form its pool
    // on every call (2-then-16-thread region pairs: ~10x a 16-then-16 pair; the Xeon's packed
    // M = 2, 4 decode rows ran 2.5-15 ms against 0.13 ms at M = 1).
    const int ntp = mb == 1 ? 1 : nt;
    if (bf16)
      prepare_bf16_rows(xm, p.ldx, p.x_dtype, mb, K, gs, xbuf.as<uint32_t>(), sbuf.as<float>(), ntp);
    else if (int8)
      prepare_int8_rows(xm, p.ldx, p.x_dtype, mb, K, gs, xbuf.as<int8_t>(), K, gs, sbuf.as<float>(),
                        qsum.as<int32_t>(), ntp);
    else
      prepare_float_rows(xm, p.ldx, p.x_dtype, mb, K, gs, xbuf.as<float>(), sbuf.as<float>(), ntp);
#pragma omp parallel num_threads(nt)
    {
      uint8_t* tw = nullptr;
      float* ts = nullptr;
      int8_t* tz = nullptr;
      bool ok = true;
      if (!pw) {
        tw = static_cast<uint8_t*>(aligned_alloc64(size_t(L.wbytes)));
        ts = static_cast<float*>(aligned_alloc64(size_t(L.gcount) * 4));
        tz = has_zp ? static_cast<int8_t*>(aligned_alloc64(size_t(L.gcount))) : nullptr;
        ok = tw && ts && (tz || !has_zp);
        if (!ok) {
#pragma omp atomic write
          oom = true;
        }
      }
#pragma omp for schedule(static)
      for (int64_t pi = 0; pi < L.panels; ++pi) {
        if (!ok) continue;
        Panel pan;
        if (pw) {
          pan.w = pbase + L.w_off + size_t(pi) * size_t(L.wbytes);
          pan.s = reinterpret_cast<const float*>(pbase + L.s_off) + pi * L.gcount;
          pan.z = has_zp ? reinterpret_cast<const int8_t*>(pbase + L.z_off) + pi * L.gcount
                         : nullptr;
        } else {
          if (raw)
            pack_panel_raw4_x512(p, pi, bf16, tw, ts, tz);
          else
            pack_panel_x512(p, pi, tw, ts, tz);
          pan.w = tw;
          pan.s = ts;
          pan.z = tz;
          // up to 4 rows of X (one kernel pass): the kernel prefetches the next panel's
          // canonical rows (tw when none). Canonical M=1 on (28672, 8192), Xeon, 4 rounds:
          // bits=4 2.23-3.13 ms with it, 2.74-2.93 ms without; with more rows (one pass per 4
          // rows) it varied more (bits=8 M=16 12.7-31.0 ms vs 13.7-16.0 ms), so it is not used.
          const int64_t n1 = (pi + 1) * kPanelN;
          if (mb <= 4) pan.pf = n1 < N ? p.w + size_t(n1) * size_t(p.row_bytes()) : tw;
        }
        OutRows out;
        out.y = static_cast<char*>(p.y) + (size_t(m0) * size_t(p.ldy) + size_t(pi * kPanelN)) * ysz;
        out.ldy = p.ldy;
        out.yt = p.y_dtype;
        out.ncols = int(std::min<int64_t>(kPanelN, N - pi * kPanelN));
        if (bf16)
          bf16_panel_rows(pan, raw, has_lo, xbuf.as<uint32_t>(), K, sbuf.as<float>(), G, gs, mb,
                          out);
        else if (int8)
          int8_panel_rows(pan, p.bits, xbuf.as<int8_t>(), K, sbuf.as<float>(), qsum.as<int32_t>(),
                          G, gs, mb, out);
        else
          float_panel_rows(pan, p.bits, raw, xbuf.as<float>(), K, sbuf.as<float>(), G, gs, mb, out);
      }
      aligned_free64(tw);
      aligned_free64(ts);
      aligned_free64(tz);
    }
    if (oom) return set_error(QMM_OUT_OF_MEMORY, "avx512: could not allocate panel buffers");
  }
  return QMM_OK;
}

}  // namespace x512
}  // namespace qmm
