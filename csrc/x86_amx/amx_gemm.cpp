// The amx backend's kernels and driver. Reads the 32-row panels of avx512_kernels.h (prepacked,
// or packed per thread from canonical weights) and hands problems with fewer than
// kAmxMinRows rows of X to the avx512 kernels.
//
// Tiles (palette 1): C0..C3 = tmm0..3 (2 row tiles x 2 column halves of a 32x32 output block,
// 16x16 fp32/int32 each), A0/A1 = tmm4/5 (16 rows of activations), B0/B1 = tmm6/7 (the two
// 16-column halves of a panel). Per k-step 4 tile loads and 4 dot products; per group the four
// C tiles are stored and folded into fp32 accumulators with AVX-512.
// Blocking: a thread takes a chunk of up to 8 panels (256 columns) and walks group by group:
// the chunk's B data for the group is built once (a few KB per panel), then every 32-row tile
// of X runs against every panel of the chunk. Activations are stored group-major
// ([group][row][group_size]), so a group's A data for all rows is a small contiguous block
// reused by the 8 panels, and tile rows are group_size (not K) bytes apart.
//
// int8 mode: TDPBSUD, signed q (A, quantized per row and group exactly as the scalar backend)
// times the unsigned stored weights u = w + off (B, read in place for bits=8; bits=4 nibbles
// are expanded per group to the same byte layout). k-step 64 (32 when group_size is an odd
// multiple of 32). Epilogue, exactly the scalar backend's arithmetic (bit-identical):
//   isum = C - (off + zp) * sum_q;  acc += (sx * scale) * float(isum)
// float mode: TDPBF16PS. B = (w - zp) as bf16, exact (|w - zp| <= 255), built per group;
// A = X rounded to bf16; for fp16/fp32 X also the remainder X - bf16(X) rounded to bf16, a
// second product into the same C (X enters with ~16 significant bits, not 8); bf16 X is exact
// with one product. Epilogue per group: acc += scale * C (FMA).
// Rows of X are padded to a multiple of 32 with zeros; padded rows are never stored.
// Each output element is computed by one thread in a fixed order: bit-identical for any
// thread count.
// Measured (16-core Xeon, AMX, 2026-11-23, tests/x86_xeon/RESULTS.md), (28672, 8192) g128 bits=4:
// int8 3.1 TMAC/s at M=256, 3.6 at M=1024 (2.0x / 2.5x the bf16 float mode here); the per-group
// tile store + AVX-512 epilogue, not TDPBSUD, bounds it (AMX int8 peak is ~9x higher).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/numeric.h"  // convert_to_f32 (out of line, baseline)
#include "core/threading.h"
#include "x86_amx/avx512_simd.h"
#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

void load_tile_config(int a_colsb, int b_rows) {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette = 1;
  for (int t = 0; t < 4; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  for (int t = 4; t < 6; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = uint16_t(a_colsb);
  }
  for (int t = 6; t < 8; ++t) {
    cfg.rows[t] = uint8_t(b_rows);
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}


constexpr int64_t kAmxRowBlock = 512;
constexpr int kChunkPanels = 8;

// TILELOADD is an asm statement without a memory clobber: make sure the buffers it reads
// were stored before it runs.
inline void compiler_barrier() { __asm__ __volatile__("" ::: "memory"); }

// u8 data of group g of a panel (k-quad kq of the group at kq * 128, half h at + 64), u = w + off:
// bits=8 in place, bits=4 expanded from the nibbles into `tmp` (gs * 32 bytes).
const uint8_t* group_u8(const Panel& pan, int bits, int64_t g, int64_t gs, uint8_t* tmp) {
  if (bits == 8) return pan.w + g * gs * 32;
  const uint8_t* w = pan.w + g * gs * 16;
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  for (int64_t o = 0; o < gs / 8; ++o)
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_loadu_si512(w + o * 128 + h * 64);
      _mm512_storeu_si512(tmp + (2 * o) * 128 + h * 64, _mm512_and_si512(v, m0f));
      _mm512_storeu_si512(tmp + (2 * o + 1) * 128 + h * 64,
                          _mm512_and_si512(_mm512_srli_epi32(v, 4), m0f));
    }
  return tmp;
}

// u8 data of one group -> bf16 pairs of (w - zp): k-pair kp of the group at kp * 128, half h
// at + 64.
void group_bf16(const uint8_t* u, const Panel& pan, int off, int64_t g, int64_t gs, uint8_t* out) {
  const __m512i mff = _mm512_set1_epi32(0xff);
  const __m512i mhi = _mm512_set1_epi32(int32_t(0xffff0000u));
  __m512i z[2];
  for (int h = 0; h < 2; ++h) {
    z[h] = _mm512_set1_epi32(off);
    if (pan.z)
      z[h] = _mm512_add_epi32(z[h], _mm512_cvtepi8_epi32(_mm_loadu_si128(
                                        reinterpret_cast<const __m128i*>(pan.z + g * kPanelN + 16 * h))));
  }
  for (int64_t kq = 0; kq < gs / 4; ++kq)
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_loadu_si512(u + kq * 128 + h * 64);
      for (int pp = 0; pp < 2; ++pp) {
        const __m512i b0 = _mm512_and_si512(_mm512_srli_epi32(v, 16 * pp), mff);
        const __m512i b1 = _mm512_and_si512(_mm512_srli_epi32(v, 16 * pp + 8), mff);
        const __m512i f0 = _mm512_castps_si512(_mm512_cvtepi32_ps(_mm512_sub_epi32(b0, z[h])));
        const __m512i f1 = _mm512_castps_si512(_mm512_cvtepi32_ps(_mm512_sub_epi32(b1, z[h])));
        const __m512i d = _mm512_or_si512(_mm512_srli_epi32(f0, 16), _mm512_and_si512(f1, mhi));
        _mm512_storeu_si512(out + (2 * kq + pp) * 128 + h * 64, d);
      }
    }
}

// Rows of X -> bf16 hi (and lo = bf16(x - hi) when `split`), group-major [G][mpad][gs].
void prepare_bf16_rows(const void* x, int64_t ldx, qmm_dtype xt, int rows, int mpad, int64_t K,
                       int64_t gs, bool split, uint16_t* xh, uint16_t* xl, int nthreads) {
  const size_t xsz = xt == QMM_DTYPE_F32 ? 4 : 2;
#pragma omp parallel num_threads(nthreads)
  {
    float* xr = nullptr;  // allocated by the threads that get a row (the team may be larger)
#pragma omp for schedule(static)
    for (int m = 0; m < rows; ++m) {
      if (!xr) xr = static_cast<float*>(aligned_alloc64(size_t(K) * sizeof(float)));
      convert_to_f32(static_cast<const char*>(x) + size_t(m) * size_t(ldx) * xsz, xt, K, xr);
      for (int64_t k = 0; k < K; k += 16) {
        const size_t at = size_t(k / gs) * size_t(mpad) * size_t(gs) + size_t(m) * size_t(gs) +
                          size_t(k % gs);
        const __m512 v = _mm512_loadu_ps(xr + k);
        const __m256i hb = cvt_f32_bf16_rne(v);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(xh + at), hb);
        if (split) {
          const __m512 hv = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(hb), 16));
          __m512 r = _mm512_sub_ps(v, hv);
          r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r);  // Inf - Inf -> 0
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(xl + at), cvt_f32_bf16_rne(r));
        }
      }
    }
    aligned_free64(xr);
  }
}

struct Acts {
  const int8_t* q = nullptr;  // int8: [G][mpad][gs]
  const float* sx = nullptr;  // [mpad][G]
  const int32_t* sq = nullptr;
  const uint16_t* xh = nullptr;  // float: [G][mpad][gs] bf16
  const uint16_t* xl = nullptr;  // remainder, or nullptr
  int64_t K = 0, G = 0, gs = 0;
  int mpad = 0;  // rows, a multiple of 32
};

// One group g, one 32-row tile (rows mt..mt+31), one panel: C = A_g x B_g in the tiles, then
// facc (32 x 32 fp32, row stride 32) += the group's scaled contribution.
template <bool ZP>
void int8_group_tile(const uint8_t* b, const Panel& pan, int off, const Acts& a, int64_t g, int mt,
                     int kstep, int32_t* cbuf, float* facc) {
  const int64_t gs = a.gs, G = a.G;
  const int8_t* q0 = a.q + (size_t(g) * size_t(a.mpad) + size_t(mt)) * size_t(gs);
  const int8_t* q1 = q0 + 16 * size_t(gs);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t k = 0; k < gs; k += kstep) {
    _tile_loadd(4, q0 + k, gs);
    _tile_loadd(5, q1 + k, gs);
    _tile_loadd(6, b + (k / 4) * 128, 128);
    _tile_loadd(7, b + (k / 4) * 128 + 64, 128);
    _tile_dpbsud(0, 4, 6);
    _tile_dpbsud(1, 4, 7);
    _tile_dpbsud(2, 5, 6);
    _tile_dpbsud(3, 5, 7);
  }
  _tile_stored(0, cbuf, 64);
  _tile_stored(1, cbuf + 256, 64);
  _tile_stored(2, cbuf + 512, 64);
  _tile_stored(3, cbuf + 768, 64);
  __m512i z[2];
  __m512 s[2];
  for (int h = 0; h < 2; ++h) {
    z[h] = _mm512_set1_epi32(off);
    if (ZP)
      z[h] = _mm512_add_epi32(z[h], _mm512_cvtepi8_epi32(_mm_loadu_si128(
                                        reinterpret_cast<const __m128i*>(pan.z + g * kPanelN + 16 * h))));
    s[h] = _mm512_loadu_ps(pan.s + g * kPanelN + 16 * h);
  }
  for (int r = 0; r < 32; ++r) {
    const int m = mt + r;
    const __m512 sxv = _mm512_set1_ps(a.sx[m * G + g]);
    const __m512i sqv = _mm512_set1_epi32(a.sq[m * G + g]);
    const int32_t* crow = cbuf + (r / 16) * 512 + (r % 16) * 16;
    for (int h = 0; h < 2; ++h) {
      const __m512i c = _mm512_loadu_si512(crow + h * 256);
      const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(c, _mm512_mullo_epi32(z[h], sqv)));
      float* fa = facc + r * 32 + h * 16;
      _mm512_storeu_ps(fa, _mm512_add_ps(_mm512_loadu_ps(fa), _mm512_mul_ps(_mm512_mul_ps(sxv, s[h]), f)));
    }
  }
}

void bf16_group_tile(const uint8_t* b, const Panel& pan, const Acts& a, int64_t g, int mt,
                     float* cbuf, float* facc) {
  const int64_t gs = a.gs;
  const size_t at = (size_t(g) * size_t(a.mpad) + size_t(mt)) * size_t(gs);
  const uint16_t* h0 = a.xh + at;
  const uint16_t* h1 = h0 + 16 * size_t(gs);
  const uint16_t* l0 = a.xl ? a.xl + at : nullptr;
  const uint16_t* l1 = l0 ? l0 + 16 * size_t(gs) : nullptr;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t k = 0; k < gs; k += 32) {
    _tile_loadd(6, b + (k / 2) * 128, 128);
    _tile_loadd(7, b + (k / 2) * 128 + 64, 128);
    _tile_loadd(4, h0 + k, gs * 2);
    _tile_loadd(5, h1 + k, gs * 2);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    if (l0) {
      _tile_loadd(4, l0 + k, gs * 2);
      _tile_loadd(5, l1 + k, gs * 2);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, cbuf, 64);
  _tile_stored(1, cbuf + 256, 64);
  _tile_stored(2, cbuf + 512, 64);
  _tile_stored(3, cbuf + 768, 64);
  const __m512 s0 = _mm512_loadu_ps(pan.s + g * kPanelN);
  const __m512 s1 = _mm512_loadu_ps(pan.s + g * kPanelN + 16);
  for (int r = 0; r < 32; ++r) {
    const float* crow = cbuf + (r / 16) * 512 + (r % 16) * 16;
    float* fa = facc + r * 32;
    _mm512_storeu_ps(fa, _mm512_fmadd_ps(_mm512_loadu_ps(crow), s0, _mm512_loadu_ps(fa)));
    _mm512_storeu_ps(fa + 16, _mm512_fmadd_ps(_mm512_loadu_ps(crow + 256), s1, _mm512_loadu_ps(fa + 16)));
  }
}

}  // namespace

qmm_status amx_run(const Problem& p, const Options& o, const PackedWeights* pw) {
  if (p.M < kAmxMinRows) return avx512_run(p, o, pw);
  const int64_t M = p.M, N = p.N, K = p.K, G = p.groups, gs = p.group_size;
  const bool int8 = o.compute == QMM_COMPUTE_INT8;
  const bool has_zp = pw ? pw->has_zp : p.zp != nullptr;
  const bool split = !int8 && p.x_dtype != QMM_DTYPE_BF16;
  const int off = p.bits == 8 ? 128 : 8;
  const int kstep = gs % 64 == 0 ? 64 : 32;
  const PanelLayout L = panel_layout(N, K, G, p.bits, has_zp);
  const int64_t mb_max = std::min(kAmxRowBlock, M);
  const int64_t mpad_max = (mb_max + 31) / 32 * 32;
  const size_t xsz = p.x_dtype == QMM_DTYPE_F32 ? 4 : 2;
  const size_t ysz = p.y_dtype == QMM_DTYPE_F32 ? 4 : 2;
  const size_t act_elems = size_t(mpad_max) * size_t(K);
  ScratchBuffer a0(int8 ? act_elems : act_elems * 2);
  ScratchBuffer a1(split ? act_elems * 2 : 64);
  ScratchBuffer sxb(int8 ? size_t(mpad_max) * size_t(G) * 4 : 64);
  ScratchBuffer sqb(int8 ? size_t(mpad_max) * size_t(G) * 4 : 64);
  if (!a0.p || !a1.p || !sxb.p || !sqb.p)
    return set_error(QMM_OUT_OF_MEMORY, "amx: could not allocate activation buffers");
  const uint8_t* pbase = pw ? static_cast<const uint8_t*>(pw->data) : nullptr;
  const int nt = threads_for_work(o.num_threads, (long long)mb_max * N * K);
  // panels per chunk: up to 8, fewer when there would be fewer chunks than threads
  const int nb = int(std::max<int64_t>(1, std::min<int64_t>(kChunkPanels, L.panels / nt)));
  const int64_t nchunks = (L.panels + nb - 1) / nb;
  bool oom = false;
  for (int64_t m0 = 0; m0 < M; m0 += kAmxRowBlock) {
    const int mb = int(std::min(kAmxRowBlock, M - m0));
    const int mpad = (mb + 31) / 32 * 32;
    const char* xm = static_cast<const char*>(p.x) + size_t(m0) * size_t(p.ldx) * xsz;
    // X preparation on the kernel's own team size (or the calling thread for one row): a
    // team of min(nt, mb) threads between nt-thread regions makes libgomp re-form its pool
    // on every call (2-then-16-thread region pairs: ~10x a 16-then-16 pair; the Xeon's packed
    // M = 2, 4 decode rows ran 2.5-15 ms against 0.13 ms at M = 1).
    const int ntp = mb == 1 ? 1 : nt;
    Acts acts;
    acts.K = K;
    acts.G = G;
    acts.gs = gs;
    acts.mpad = mpad;
    if (int8) {
      // padded rows: q = 0, sx = 0, sq = 0 (their outputs are never stored)
      std::memset(a0.p, 0, size_t(mpad) * size_t(K));
      prepare_int8_rows(xm, p.ldx, p.x_dtype, mb, K, gs, a0.as<int8_t>(), gs, int64_t(mpad) * gs,
                        sxb.as<float>(), sqb.as<int32_t>(), ntp);
      std::memset(sxb.as<float>() + size_t(mb) * size_t(G), 0, size_t(mpad - mb) * size_t(G) * 4);
      std::memset(sqb.as<int32_t>() + size_t(mb) * size_t(G), 0, size_t(mpad - mb) * size_t(G) * 4);
      acts.q = a0.as<int8_t>();
      acts.sx = sxb.as<float>();
      acts.sq = sqb.as<int32_t>();
    } else {
      std::memset(a0.p, 0, size_t(mpad) * size_t(K) * 2);
      if (split) std::memset(a1.p, 0, size_t(mpad) * size_t(K) * 2);
      prepare_bf16_rows(xm, p.ldx, p.x_dtype, mb, mpad, K, gs, split, a0.as<uint16_t>(),
                        split ? a1.as<uint16_t>() : nullptr, ntp);
      acts.xh = a0.as<uint16_t>();
      acts.xl = split ? a1.as<uint16_t>() : nullptr;
    }
#pragma omp parallel num_threads(nt)
    {
      const size_t gbytes = int8 ? size_t(gs) * 32 : size_t(gs) * 64;  // B data per panel+group
      uint8_t* tw = pw ? nullptr : static_cast<uint8_t*>(aligned_alloc64(size_t(nb) * size_t(L.wbytes)));
      float* ts = pw ? nullptr : static_cast<float*>(aligned_alloc64(size_t(nb) * size_t(L.gcount) * 4));
      int8_t* tz = pw || !has_zp ? nullptr : static_cast<int8_t*>(aligned_alloc64(size_t(nb) * size_t(L.gcount)));
      auto* bb = static_cast<uint8_t*>(aligned_alloc64(size_t(nb) * gbytes));
      auto* ut = static_cast<uint8_t*>(aligned_alloc64(size_t(gs) * 32));
      auto* cbuf = static_cast<int32_t*>(aligned_alloc64(4096));
      auto* facc = static_cast<float*>(aligned_alloc64(size_t(nb) * size_t(mpad) * 32 * 4));
      bool ok = bb && ut && cbuf && facc && (pw || (tw && ts && (tz || !has_zp)));
      if (!ok) {
#pragma omp atomic write
        oom = true;
      }
      if (ok) {
        if (int8)
          load_tile_config(kstep, kstep / 4);
        else
          load_tile_config(64, 16);
      }
#pragma omp for schedule(static)
      for (int64_t c = 0; c < nchunks; ++c) {
        if (!ok) continue;
        const int64_t p0 = c * nb;
        const int np = int(std::min<int64_t>(nb, L.panels - p0));
        Panel pan[kChunkPanels];
        for (int i = 0; i < np; ++i) {
          const int64_t pi = p0 + i;
          if (pw) {
            pan[i].w = pbase + L.w_off + size_t(pi) * size_t(L.wbytes);
            pan[i].s = reinterpret_cast<const float*>(pbase + L.s_off) + pi * L.gcount;
            pan[i].z = has_zp ? reinterpret_cast<const int8_t*>(pbase + L.z_off) + pi * L.gcount
                              : nullptr;
          } else {
            uint8_t* w = tw + size_t(i) * size_t(L.wbytes);
            float* s = ts + size_t(i) * size_t(L.gcount);
            int8_t* z = has_zp ? tz + size_t(i) * size_t(L.gcount) : nullptr;
            pack_panel_x512(p, pi, w, s, z);
            pan[i].w = w;
            pan[i].s = s;
            pan[i].z = z;
          }
        }
        std::memset(facc, 0, size_t(np) * size_t(mpad) * 32 * 4);
        for (int64_t g = 0; g < G; ++g) {
          const uint8_t* bsrc[kChunkPanels];
          for (int i = 0; i < np; ++i) {
            uint8_t* dst = bb + size_t(i) * gbytes;
            if (int8) {
              bsrc[i] = group_u8(pan[i], p.bits, g, gs, dst);
            } else {
              group_bf16(group_u8(pan[i], p.bits, g, gs, ut), pan[i], off, g, gs, dst);
              bsrc[i] = dst;
            }
          }
          compiler_barrier();
          for (int mt = 0; mt < mpad; mt += 32)
            for (int i = 0; i < np; ++i) {
              float* fa = facc + (size_t(i) * size_t(mpad) + size_t(mt)) * 32;
              if (!int8)
                bf16_group_tile(bsrc[i], pan[i], acts, g, mt, reinterpret_cast<float*>(cbuf), fa);
              else if (has_zp)
                int8_group_tile<true>(bsrc[i], pan[i], off, acts, g, mt, kstep, cbuf, fa);
              else
                int8_group_tile<false>(bsrc[i], pan[i], off, acts, g, mt, kstep, cbuf, fa);
            }
        }
        for (int i = 0; i < np; ++i) {
          const int64_t n0 = (p0 + i) * kPanelN;
          const int ncols = int(std::min<int64_t>(kPanelN, N - n0));
          char* yb = static_cast<char*>(p.y) + (size_t(m0) * size_t(p.ldy) + size_t(n0)) * ysz;
          const float* fa = facc + size_t(i) * size_t(mpad) * 32;
          for (int r = 0; r < mb; ++r)
            store_row32(yb + size_t(r) * size_t(p.ldy) * ysz, p.y_dtype, _mm512_loadu_ps(fa + r * 32),
                        _mm512_loadu_ps(fa + r * 32 + 16), ncols);
        }
      }
      if (ok) _tile_release();
      aligned_free64(tw);
      aligned_free64(ts);
      aligned_free64(tz);
      aligned_free64(bb);
      aligned_free64(ut);
      aligned_free64(cbuf);
      aligned_free64(facc);
    }
    if (oom) return set_error(QMM_OUT_OF_MEMORY, "amx: could not allocate panel buffers");
  }
  return QMM_OK;
}

}  // namespace x512
}  // namespace qmm
