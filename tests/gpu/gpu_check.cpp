// GPU driver for the cuda backend, through the public C API only.
//   gpu_check check [quick]  : cuda (device buffers) vs scalar (host buffers) over many shapes,
//                              both modes, bits, dtypes, zp/no zp, group sizes, strides; NaN-
//                              poisoned outputs (the ldy padding must stay poisoned); run twice
//                              for bit-identical results; K == 0; packed weights; error paths.
//   gpu_check graph          : CUDA-graph capture of qmm_matmul (float + int8) on a stream.
//   gpu_check bench          : timings (CUDA events, weights rotated past L2) + copy bandwidth.
//   gpu_check sanitize       : a few small cases (for compute-sanitizer).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qmatmul/qmatmul.h"

#define CK(x)                                                                         \
  do {                                                                                \
    cudaError_t e_ = (x);                                                             \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x,                  \
                   cudaGetErrorString(e_));                                           \
      std::exit(2);                                                                   \
    }                                                                                 \
  } while (0)

namespace {

float h2f(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0x1f) u = sign | 0x7f800000u | (man << 13);
  else if (exp == 0) {
    float v = float(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  } else u = sign | ((exp + 112) << 23) | (man << 13);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t f2h(float f) {  // round to nearest even (normal range is enough for test data)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);
  if (a < 0x38800000u) {
    float v = std::fabs(f) * 16777216.0f;
    return uint16_t(sign | uint32_t(std::nearbyint(v)));
  }
  uint32_t r = a - 0x38000000u;
  r = (r + 0xfffu + ((r >> 13) & 1u)) >> 13;
  return uint16_t(sign | r);
}
float b2f(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t f2b(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
size_t dsize(qmm_dtype t) { return t == QMM_DTYPE_F32 ? 4 : 2; }
float get(const std::vector<uint8_t>& buf, size_t i, qmm_dtype t) {
  if (t == QMM_DTYPE_F32) {
    float f;
    std::memcpy(&f, buf.data() + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, buf.data() + 2 * i, 2);
  return t == QMM_DTYPE_F16 ? h2f(h) : b2f(h);
}
void put(std::vector<uint8_t>& buf, size_t i, qmm_dtype t, float v) {
  if (t == QMM_DTYPE_F32) {
    std::memcpy(buf.data() + 4 * i, &v, 4);
    return;
  }
  uint16_t h = t == QMM_DTYPE_F16 ? f2h(v) : f2b(v);
  std::memcpy(buf.data() + 2 * i, &h, 2);
}
const char* dname(qmm_dtype t) { return t == QMM_DTYPE_F16 ? "f16" : t == QMM_DTYPE_BF16 ? "bf16" : "f32"; }

struct Case {
  int64_t M, N, K, gs;
  int bits;
  bool zp;
  qmm_dtype xt, yt;
  qmm_compute mode;
  int64_t ldx_pad = 0, ldy_pad = 0;
  bool packed = false;
  bool decode_layout = false;  // packed with QMM_CUDA_PACK=decode (else a canonical copy)
  // int8 mode's largest exact group sums: X rows of one constant +-1 (q = +-127 everywhere),
  // each weight row one extreme value (int4 -8 / 7, int8 -128 / 127) and zero points at the
  // opposite extreme (127 / -128), so |sum_k q (w - zp)| = 128 * 127 * 135 (int4) or * 255.
  bool extreme = false;
};

std::mt19937_64 rng(12345);

struct Stats {
  int run = 0, failed = 0;
};

// int8 mode, SPEC section 4: the fp32 epilogue may sum the group terms in any order, so an
// output may differ from the scalar backend's by that rounding: (G + 3) * 2^-24 * sum_g |term|
// per output (term = sx[m, g] * scale[n, g] * sum_k q * (w - zp), q and sx as the SPEC makes them).
std::vector<double> int8_epilogue_bound(const Case& c, const std::vector<uint8_t>& x, int64_t ldx,
                                        const std::vector<uint8_t>& w, const std::vector<float>& s,
                                        const std::vector<int8_t>& z, int64_t G) {
  const int64_t gs = c.K / G, rb = c.bits == 8 ? c.K : c.K / 2;
  std::vector<int> q(static_cast<size_t>(c.K));
  std::vector<float> sx(static_cast<size_t>(G));
  std::vector<double> bound(size_t(c.M) * c.N, 0.0);
  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t g = 0; g < G; ++g) {
      float a = 0.0f;
      for (int64_t k = g * gs; k < (g + 1) * gs; ++k) a = std::max(a, std::fabs(get(x, m * ldx + k, c.xt)));
      const float inv = a == 0.0f ? 0.0f : 127.0f / a;
      for (int64_t k = g * gs; k < (g + 1) * gs; ++k) {
        const float v = std::nearbyint(get(x, m * ldx + k, c.xt) * inv);
        q[k] = int(std::max(-127.0f, std::min(127.0f, v)));
      }
      sx[g] = a / 127.0f;
    }
    for (int64_t n = 0; n < c.N; ++n) {
      double tot = 0;
      for (int64_t g = 0; g < G; ++g) {
        const int zp = c.zp ? z[n * G + g] : 0;
        int64_t isum = 0;
        for (int64_t k = g * gs; k < (g + 1) * gs; ++k) {
          int wv;
          if (c.bits == 8) {
            wv = int8_t(w[n * rb + k]);
          } else {
            const int nib = (w[n * rb + k / 2] >> (4 * (k & 1))) & 15;
            wv = nib >= 8 ? nib - 16 : nib;
          }
          isum += int64_t(q[k]) * (wv - zp);
        }
        tot += std::fabs(double(sx[g]) * double(s[n * G + g]) * double(isum));
      }
      bound[m * c.N + n] = double(G + 3) * std::ldexp(1.0, -24) * tot;
    }
  }
  return bound;
}

const char* g_tag = "";  // appended to each case's line (the forced decode kernel)

bool run_case_once(const Case& c, Stats& st, bool verbose) {
  const int64_t ldx = c.K + c.ldx_pad, ldy = c.N + c.ldy_pad;
  const int64_t G = c.gs == -1 ? 1 : c.K / c.gs;
  const size_t rb = c.bits == 8 ? size_t(c.K) : size_t(c.K) / 2;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> bd(0, 255), zd(-8, 8), zd8(-20, 20);
  std::uniform_real_distribution<float> sd(0.01f, 0.05f);
  std::vector<uint8_t> x(size_t(c.M) * ldx * dsize(c.xt));
  for (size_t i = 0; i < size_t(c.M) * ldx; ++i) put(x, i, c.xt, nd(rng));
  std::vector<uint8_t> w(size_t(c.N) * rb);
  for (auto& b : w) b = uint8_t(bd(rng));
  std::vector<float> s(size_t(c.N) * G);
  for (auto& v : s) v = sd(rng);
  std::vector<int8_t> z(size_t(c.N) * G);
  for (auto& v : z) v = int8_t(c.bits == 4 ? zd(rng) : zd8(rng));
  if (c.extreme) {
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t k = 0; k < ldx; ++k) put(x, size_t(m * ldx + k), c.xt, (m % 3) ? 1.0f : -1.0f);
    for (int64_t n = 0; n < c.N; ++n) {
      const bool lo = (n % 2) != 0;  // lowest weights, highest zero points
      for (size_t b = 0; b < rb; ++b) w[n * rb + b] = c.bits == 8 ? (lo ? 0x80 : 0x7f) : (lo ? 0x88 : 0x77);
      for (int64_t gi = 0; gi < G; ++gi) z[n * G + gi] = lo ? 127 : -128;
    }
  }
  const size_t ybytes = size_t(c.M) * ldy * dsize(c.yt);
  std::vector<uint8_t> yref(ybytes, 0xff), ygpu(ybytes), ygpu2(ybytes);

  qmm_problem p;
  qmm_problem_init(&p);
  p.M = c.M; p.N = c.N; p.K = c.K; p.ldx = ldx; p.ldy = ldy; p.x_dtype = c.xt; p.y_dtype = c.yt;
  p.group_size = c.gs; p.bits = c.bits;
  p.x = x.data(); p.w = w.data(); p.scales = s.data(); p.zero_points = c.zp ? z.data() : nullptr;
  qmm_options o;
  qmm_options_init(&o);
  o.compute = c.mode;
  o.backend = "scalar";
  // The scalar reference: float mode in fp32 (closer to SPEC's float64 evaluation than one
  // rounded to a 16-bit Y, whose rounding would count twice), int8 mode in Y's dtype (compared
  // within ulps of it).
  std::vector<float> yref32;
  if (c.mode == QMM_COMPUTE_FLOAT) {
    yref32.assign(size_t(c.M) * ldy, 0.0f);
    p.y = yref32.data();
    p.y_dtype = QMM_DTYPE_F32;
  } else {
    p.y = yref.data();
  }
  if (qmm_matmul(&p, &o) != QMM_OK) {
    std::printf("scalar failed: %s\n", qmm_last_error());
    return false;
  }
  p.y_dtype = c.yt;
  void *dx, *dw, *ds, *dz, *dy;
  CK(cudaMalloc(&dx, std::max<size_t>(x.size(), 1)));
  CK(cudaMalloc(&dw, std::max<size_t>(w.size(), 1)));
  CK(cudaMalloc(&ds, std::max<size_t>(s.size() * 4, 4)));
  CK(cudaMalloc(&dz, std::max<size_t>(z.size(), 1)));
  CK(cudaMalloc(&dy, std::max<size_t>(ybytes, 1)));
  CK(cudaMemcpy(dx, x.data(), x.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dw, w.data(), w.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(ds, s.data(), s.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dz, z.data(), z.size(), cudaMemcpyHostToDevice));
  p.x = dx; p.w = dw; p.scales = static_cast<float*>(ds);
  p.zero_points = c.zp ? static_cast<int8_t*>(dz) : nullptr;
  p.y = dy;
  o.backend = "cuda";
  qmm_packed* pk = nullptr;
  bool ok = true;
  for (int rep = 0; rep < 2 && ok; ++rep) {
    CK(cudaMemset(dy, 0xff, ybytes));
    qmm_status stt;
    if (c.packed) {
      const char* prev = std::getenv("QMM_CUDA_PACK");
      const std::string saved = prev ? prev : "";
      if (c.decode_layout) setenv("QMM_CUDA_PACK", "decode", 1);
      else unsetenv("QMM_CUDA_PACK");
      const qmm_status pst = pk ? QMM_OK : qmm_pack(&p, &o, &pk);
      if (prev) setenv("QMM_CUDA_PACK", saved.c_str(), 1);
      else unsetenv("QMM_CUDA_PACK");
      if (pst != QMM_OK) {
        std::printf("pack failed: %s\n", qmm_last_error());
        ok = false;
        break;
      }
      stt = qmm_matmul_packed(pk, &p, &o);
    } else {
      stt = qmm_matmul(&p, &o);
    }
    if (stt != QMM_OK) {
      std::printf("cuda failed: %s\n", qmm_last_error());
      ok = false;
      break;
    }
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(rep == 0 ? ygpu.data() : ygpu2.data(), dy, ybytes, cudaMemcpyDeviceToHost));
  }
  if (pk) qmm_packed_free(pk);
  double err2 = 0, ref2 = 0;
  int64_t bad_pad = 0, nonfinite = 0, max_ulp = 0;
  std::vector<double> epi;  // int8 mode: the epilogue bound, computed when first needed
  if (ok) {
    if (std::memcmp(ygpu.data(), ygpu2.data(), ybytes) != 0) {
      std::printf("  non-deterministic output\n");
      ok = false;
    }
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < ldy; ++n) {
        const size_t i = size_t(m) * ldy + n;
        const float a = get(ygpu, i, c.yt);
        const float r = yref32.empty() ? get(yref, i, c.yt) : yref32[i];
        if (n >= c.N) {
          if (!(a != a)) ++bad_pad;
          continue;
        }
        if (!std::isfinite(a)) { ++nonfinite; continue; }
        err2 += double(a - r) * double(a - r);
        ref2 += double(r) * double(r);
        if (c.mode == QMM_COMPUTE_INT8) {
          if (epi.empty()) epi = int8_epilogue_bound(c, x, ldx, w, s, z, G);
          // within 1 ulp of the output dtype, or of the scalar result plus both epilogues' rounding
          const int mant = c.yt == QMM_DTYPE_F32 ? 23 : c.yt == QMM_DTYPE_F16 ? 10 : 7;
          int ex = 0;
          std::frexp(double(r), &ex);  // r = f * 2^ex, 0.5 <= |f| < 1: one ulp is 2^(ex-1-mant)
          const double ulp = r == 0.0f ? 0.0 : std::ldexp(1.0, ex - 1 - mant);
          if (std::fabs(double(a) - r) <= ulp + 2 * epi[m * c.N + n]) continue;
          // ulp distance in the output dtype
          int64_t ua, ur;
          if (c.yt == QMM_DTYPE_F32) {
            int32_t ia, ir; std::memcpy(&ia, &a, 4); std::memcpy(&ir, &r, 4);
            ua = ia < 0 ? int64_t(INT32_MIN) - ia : ia; ur = ir < 0 ? int64_t(INT32_MIN) - ir : ir;
          } else {
            int16_t ha, hr; std::memcpy(&ha, ygpu.data() + 2 * i, 2); std::memcpy(&hr, yref.data() + 2 * i, 2);
            ua = ha < 0 ? -32768 - ha : ha; ur = hr < 0 ? -32768 - hr : hr;
          }
          max_ulp = std::max<int64_t>(max_ulp, std::llabs(ua - ur));
        }
      }
  }
  const double rel = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  // SPEC's float-mode bounds: 8e-3 for bf16 activations, else 2e-3, plus (16-bit Y) what
  // rounding the fp32 reference itself to Y's dtype costs (bf16: ~1.8e-3 RMS relative), which
  // no kernel can avoid.
  double tol = c.xt == QMM_DTYPE_BF16 ? 8e-3 : 2e-3;
  if (c.mode == QMM_COMPUTE_FLOAT && c.yt != QMM_DTYPE_F32 && ref2 > 0) {
    double ro2 = 0;
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n) {
        const float r = yref32[size_t(m) * ldy + n];
        const float q = c.yt == QMM_DTYPE_F16 ? h2f(f2h(r)) : b2f(f2b(r));
        ro2 += double(q - r) * double(q - r);
      }
    tol += std::sqrt(ro2 / ref2);
  }
  if (c.mode == QMM_COMPUTE_INT8) tol = 1e-3;
  if (ok && (bad_pad || nonfinite || rel > tol || (c.mode == QMM_COMPUTE_INT8 && max_ulp > 1))) ok = false;
  st.run++;
  if (!ok) st.failed++;
  if (!ok || verbose)
    std::printf("%s M=%lld N=%lld K=%lld gs=%lld bits=%d zp=%d x=%s y=%s %s ldx+%lld ldy+%lld%s%s: rel=%.3g "
                "ulp=%lld nonfinite=%lld pad_overwritten=%lld\n",
                ok ? "ok  " : "FAIL", (long long)c.M, (long long)c.N, (long long)c.K, (long long)c.gs,
                c.bits, int(c.zp), dname(c.xt), dname(c.yt), c.mode == QMM_COMPUTE_INT8 ? "int8" : "float",
                (long long)c.ldx_pad, (long long)c.ldy_pad,
                c.packed ? (c.decode_layout ? " packed (decode layout)" : " packed") : "", g_tag, rel,
                (long long)max_ulp, (long long)nonfinite, (long long)bad_pad);
  cudaFree(dx); cudaFree(dw); cudaFree(ds); cudaFree(dz); cudaFree(dy);
  return ok;
}

// Decode cases (M = 2..16, both modes) run twice: as the library picks, then with the
// stream-K kernel forced (QMM_CUDA_DECODE=stream-k), which the library gives only to shapes
// with 8+ chunks per block, so that the small shapes here test its tile sharing as well;
// float-mode cases in groups of 128 (int4 and int8) a third time on the TMA decode kernel
// (QMM_CUDA_DECODE=tma; the library gives it shapes with 4+ units of 512 k per block for int4,
// 32+ units of 256 k per block for int8).
// Decode cases (M <= 16) also run on packed weights in the decode layout (qmm_pack with
// QMM_CUDA_PACK=decode: the decode kernel on it for group sizes that are multiples of 32, a
// canonical copy otherwise).
// Float-mode cases with M > 16 run twice too: as picked (on Hopper the producer-warpgroup
// GEMM), then on the cp.async GEMM it falls back to (QMM_CUDA_GEMM=cp-async).
bool run_case(const Case& c, Stats& st, bool verbose) {
  bool ok = run_case_once(c, st, verbose);
  auto again = [&](const char* var, const char* value, const char* tag) {
    setenv(var, value, 1);
    g_tag = tag;
    ok = run_case_once(c, st, verbose) && ok;
    unsetenv(var);
    g_tag = "";
  };
  if (c.M >= 2 && c.M <= 16) again("QMM_CUDA_DECODE", "stream-k", " [stream-k forced]");
  if (c.M >= 2 && c.M <= 16 && c.mode == QMM_COMPUTE_FLOAT && c.gs == 128 &&
      !c.packed)  // the TMA decode kernel's shapes (K % 512 == 0 and sm_90; else as picked)
    again("QMM_CUDA_DECODE", "tma", " [tma forced]");
  if (c.M <= 16 && !c.packed) {  // the decode layout's kernels (or a canonical copy)
    Case d = c;
    d.packed = true;
    d.decode_layout = true;
    ok = run_case_once(d, st, verbose) && ok;
  }
  if (c.M > 16 && c.mode == QMM_COMPUTE_FLOAT)
    again("QMM_CUDA_GEMM", "cp-async", " [cp-async gemm]");
  if (c.M > 16 && c.mode == QMM_COMPUTE_INT8 && c.gs == 128)  // the s8 GEMM, then the fp16 one
    again("QMM_CUDA_INT8", "fp16", " [fp16 int8 gemm]");
  return ok;
}

int cmd_check(bool quick) {
  Stats st;
  std::printf("gpu features: %s\n", qmm_gpu_features());
  const int64_t Ms_full[] = {1, 2, 3, 7, 16, 24, 33, 128, 1024};
  const int64_t Ms_quick[] = {1, 3, 16, 33, 128};
  struct NK { int64_t N, K; };
  const NK nks[] = {{72, 96}, {200, 384}, {1000, 576}, {263, 1280}};
  const qmm_dtype dts[] = {QMM_DTYPE_F16, QMM_DTYPE_BF16, QMM_DTYPE_F32};
  int idx = 0;
  for (int64_t M : (quick ? std::vector<int64_t>(Ms_quick, Ms_quick + 5)
                          : std::vector<int64_t>(Ms_full, Ms_full + 9)))
    for (const NK& nk : nks)
      for (int bits : {4, 8})
        for (int mode = 0; mode < 2; ++mode) {
          const int64_t gss[] = {32, 64, 128, -1, 6};
          for (int64_t gs : gss) {
            if (gs > 0 && nk.K % gs) continue;
            ++idx;
            Case c;
            c.M = M; c.N = nk.N; c.K = nk.K; c.gs = gs; c.bits = bits;
            c.zp = (idx % 2) == 0;
            c.xt = dts[idx % 3];
            c.yt = dts[(idx / 3) % 3];
            c.mode = mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
            c.ldx_pad = (idx % 5 == 0) ? 8 : (idx % 7 == 0 ? 3 : 0);
            c.ldy_pad = (idx % 4 == 0) ? 5 : 0;
            c.packed = (idx % 11 == 0);
            if (M >= 1024 && (idx % 3)) continue;  // keep the scalar reference time bounded
            run_case(c, st, false);
          }
        }
  // Every dtype combination on one decode and one GEMM shape, with and without zp.
  for (int64_t M : {5, 70})
    for (qmm_dtype xt : dts)
      for (qmm_dtype yt : dts)
        for (int mode = 0; mode < 2; ++mode)
          for (int bits : {4, 8}) {
            Case c{M, 136, 256, 64, bits, bits == 4, xt, yt,
                   mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT};
            run_case(c, st, false);
          }
  // Large-tile paths and odd group sizes on bigger shapes.
  {
    Case c{512, 4096, 4096, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(c, st, true);
    c.bits = 8; run_case(c, st, true);
    c.mode = QMM_COMPUTE_INT8; run_case(c, st, true);
    c.bits = 4; run_case(c, st, true);
    c.xt = QMM_DTYPE_BF16; c.mode = QMM_COMPUTE_FLOAT; run_case(c, st, true);
    // Packed weights in the decode layout at M > 16: unpacked to canonical order per call, then
    // the GEMMs.
    Case pk{512, 4096, 4096, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    pk.packed = true; pk.decode_layout = true; run_case(pk, st, true);
    pk.mode = QMM_COMPUTE_INT8; run_case(pk, st, true);
    pk.M = 40; pk.N = 1000; pk.K = 2112; pk.gs = 64; pk.bits = 8; pk.xt = QMM_DTYPE_BF16;
    run_case(pk, st, true);
    pk.mode = QMM_COMPUTE_FLOAT; pk.zp = false; run_case(pk, st, true);
    // M = 1 on packed weights with X too long to stay in shared memory (the block-ring kernel)
    pk.M = 1; pk.N = 300; pk.K = 65536; pk.gs = 128; pk.bits = 4; pk.zp = true; run_case(pk, st, true);
    pk.mode = QMM_COMPUTE_INT8; run_case(pk, st, true);
    Case d{16, 5000, 4096, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(d, st, true);
    d.M = 9; d.gs = -1; run_case(d, st, true);
    d.gs = 2; run_case(d, st, true);
    d.M = 40; d.gs = 96; run_case(d, st, true);
    // Float mode M = 2 (both widths) and 3 (8-bit weights) on the persistent M = 1 kernel
    // (groups of 128, K % 1024 == 0, aligned X rows): a partial last row pair, warps over
    // several row pairs (N = 5001, 4500: more pairs than the grid's warps), zp or none, fp16 /
    // bf16 / fp32 X (the row-scaled copy), padded X and Y rows, the longest K whose copies of X
    // fit (M = 2, int4: 27 windows); run_case repeats them on the stream-K kernel and on packed
    // weights.
    {
      Case r{2, 37, 1024, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
      run_case(r, st, true);
      r.N = 5001; r.K = 2048; r.zp = false; r.xt = QMM_DTYPE_BF16; r.yt = QMM_DTYPE_F32;
      r.ldx_pad = 8; r.ldy_pad = 5; run_case(r, st, true);
      r.M = 3; r.N = 263; r.K = 8192; r.bits = 8; r.zp = true; r.xt = QMM_DTYPE_F16;
      r.yt = QMM_DTYPE_BF16; r.ldx_pad = 0; r.ldy_pad = 0; run_case(r, st, true);
      r.M = 2; r.N = 200; r.K = 3072; r.bits = 4; r.xt = QMM_DTYPE_F32; r.yt = QMM_DTYPE_F16;
      run_case(r, st, true);
      r.N = 1000; r.K = 27648; r.xt = QMM_DTYPE_F16; run_case(r, st, true);
      r.M = 3; r.bits = 8; r.K = 4096; r.N = 4500; r.zp = false; run_case(r, st, true);
    }
    // Hopper wgmma GEMM: tile rows 32 and 64 with K split over the SMs (few tiles).
    Case e{24, 4096, 4096, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(e, st, true);
    e.bits = 8; e.xt = QMM_DTYPE_BF16; e.zp = false; run_case(e, st, true);
    e.M = 64; e.N = 1000; e.K = 8192; e.bits = 4; e.xt = QMM_DTYPE_F32; run_case(e, st, true);
    d.bits = 8; d.mode = QMM_COMPUTE_INT8; d.gs = 160; run_case(d, st, true);
    // Hopper float GEMM at M > 128 (the producer-warpgroup kernel, and the cp.async one by
    // run_case): K split over 2 weight tiles (M = 200, K = 16384), K % 64 == 32 (the last
    // stage's upper half zero-filled by the copy engine) with groups of 32, M and N past the
    // tile edges, a padded 16-byte aligned X row stride, bf16 and fp32 X, groups of 160.
    Case h{200, 256, 16384, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(h, st, true);
    h.M = 400; h.N = 600; h.K = 4128; h.gs = 32; h.bits = 8; h.xt = QMM_DTYPE_BF16;
    h.ldx_pad = 8; run_case(h, st, true);
    h.M = 257; h.N = 130; h.K = 2080; h.gs = 160; h.bits = 4; h.xt = QMM_DTYPE_F32;
    h.yt = QMM_DTYPE_BF16; h.ldx_pad = 0; h.zp = false; run_case(h, st, true);
    // Hopper int8 GEMM (wgmma on the exact fp16 q): K split on group boundaries (groups of
    // 128, of 96 = 1.5 stages, of 32 with K % 64 == 32 in the last split), a fold per step.
    Case f{64, 1000, 8192, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_INT8};
    run_case(f, st, true);
    f.M = 40; f.N = 5000; f.K = 4608; f.gs = 96; f.bits = 8; f.zp = false;
    f.xt = QMM_DTYPE_BF16; f.yt = QMM_DTYPE_F32; run_case(f, st, true);
    f.M = 64; f.N = 512; f.K = 4192; f.gs = 32; f.bits = 4; f.zp = true; run_case(f, st, true);
    f.M = 300; f.N = 4096; f.K = 4096; f.xt = QMM_DTYPE_F16; f.yt = QMM_DTYPE_F16;
    run_case(f, st, true);
    // ... the zero step past K after a 3-step group (gs 96, K % 64 == 32), 16-row X tiles
    // (M <= 16 with groups the decode kernel does not take), and groups of 512 (the 2^24 edge
    // of the exact fp32 group sums) with 8-bit weights and zero points.
    f.M = 40; f.N = 300; f.K = 288; f.gs = 96; run_case(f, st, true);
    f.M = 9; f.N = 500; f.K = 1024; f.gs = 64; run_case(f, st, true);
    f.M = 64; f.N = 512; f.K = 4096; f.gs = 512; f.bits = 8; run_case(f, st, true);
    // Hopper int8 tensor-core GEMM (groups of 128): one stage (K = 128) with M and N past the
    // tile edges; K split over few tiles (M = 129) with bf16 X and fp32 Y; fp32 X with padded
    // row strides, no zero points; the largest exact group sums (extreme data) for both widths
    // and both signs, with K split.
    Case q{300, 333, 128, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_INT8};
    run_case(q, st, true);
    q.M = 129; q.N = 4096; q.K = 4096; q.bits = 8; q.xt = QMM_DTYPE_BF16; q.yt = QMM_DTYPE_F32;
    run_case(q, st, true);
    q.M = 1000; q.N = 200; q.K = 1280; q.bits = 4; q.zp = false; q.xt = QMM_DTYPE_F32;
    q.ldx_pad = 8; q.ldy_pad = 5; run_case(q, st, true);
    q.M = 256; q.N = 256; q.K = 2048; q.zp = true; q.xt = QMM_DTYPE_F16; q.ldx_pad = 0;
    q.ldy_pad = 0; q.extreme = true; run_case(q, st, true);
    q.bits = 8; run_case(q, st, true);
    // Decode shapes (M = 2..16) beyond the grid above: long K (16384), both modes; groups of
    // 32 with a partial last 128-k chunk (K = 8224); many row tiles with a partial last one
    // (N = 20000); a padded 16-byte aligned X row stride; 16896 rows over K = 8192.
    Case w{9, 300, 16384, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(w, st, true);
    w.bits = 8; run_case(w, st, true);
    w.mode = QMM_COMPUTE_INT8; run_case(w, st, true);
    w.bits = 4; w.zp = false; run_case(w, st, true);
    w.M = 2; w.mode = QMM_COMPUTE_FLOAT; w.K = 8224; w.gs = 32; w.xt = QMM_DTYPE_BF16;
    run_case(w, st, true);
    w.M = 16; w.N = 20000; w.K = 512; w.gs = 128; w.xt = QMM_DTYPE_F16; w.yt = QMM_DTYPE_F32;
    w.zp = true; run_case(w, st, true);
    w.mode = QMM_COMPUTE_INT8; w.bits = 8; w.M = 13; run_case(w, st, true);
    w.M = 16; w.N = 777; w.K = 3200; w.gs = 64; w.mode = QMM_COMPUTE_FLOAT; w.ldx_pad = 8;
    run_case(w, st, true);
    w.M = 3; w.N = 16896; w.K = 8192; w.bits = 4; w.xt = QMM_DTYPE_BF16; w.ldx_pad = 0;
    run_case(w, st, true);
    // The stream-K kernel (M = 2..16, float mode, 16-byte aligned X): block ranges that start
    // and end inside row tiles at many places (K = 28672: 224 chunks per tile, 12 tiles over
    // 264 blocks; K = 4096 / 12288: a few chunks per block), groups of 64 (scale folded in),
    // 8-bit weights, bf16 X, fp32 X (the converted copy with row scales), N past the last
    // 128-row tile.
    Case k{5, 1500, 28672, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(k, st, true);
    k.bits = 8; k.M = 16; k.N = 700; k.xt = QMM_DTYPE_BF16; run_case(k, st, true);
    k.M = 8; k.N = 4096; k.K = 4096; k.bits = 4; k.xt = QMM_DTYPE_F16; k.zp = false;
    run_case(k, st, true);
    k.M = 11; k.N = 1100; k.K = 12288; k.gs = 64; k.zp = true; k.xt = QMM_DTYPE_F32;
    run_case(k, st, true);
    k.M = 2; k.N = 9000; k.K = 2048; k.gs = 128; k.bits = 8; k.xt = QMM_DTYPE_F16;
    k.yt = QMM_DTYPE_BF16; run_case(k, st, true);
    // The TMA decode kernel (M = 2..16, int4, groups of 128, K % 512 == 0, with zero points
    // K % 2048 == 0; run_case forces it on each): one unit (K = 512, no zero points, rows past
    // N inside the 128-row tile), many row tiles with a partial last one split between blocks (N = 5000), a
    // long K over few tiles (28672: each tile over many blocks), bf16 X with a padded row stride
    // and fp32 Y, fp32 X (the row-scaled copy), both X tiles (M = 9..16) and one (M <= 8).
    Case t{2, 37, 512, 128, 4, false, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(t, st, true);
    t.zp = true;
    t.M = 4; t.N = 5000; t.K = 8192; run_case(t, st, true);
    t.M = 16; t.N = 1000; t.K = 4096; t.xt = QMM_DTYPE_BF16; t.yt = QMM_DTYPE_F32;
    t.ldx_pad = 8; t.zp = false; run_case(t, st, true);
    t.M = 9; t.N = 300; t.K = 28672; t.xt = QMM_DTYPE_F32; t.yt = QMM_DTYPE_F16; t.ldx_pad = 0;
    t.zp = true; run_case(t, st, true);
    t.M = 7; t.N = 8192; t.K = 2048; t.xt = QMM_DTYPE_F16; t.ldy_pad = 5; run_case(t, st, true);
    // ... and more 128-row tiles than SMs (blocks over several tiles, as on 70B.up).
    t.M = 16; t.N = 20000; t.K = 2048; t.ldy_pad = 0; run_case(t, st, true);
    t.M = 3; t.N = 33000; t.K = 1024; t.zp = false; run_case(t, st, true);
    // M = 1 with groups of 128 and int4 weights (decode_m1_g128_kernel and its persistent
    // grid): full windows only (K = 8192, 4096, 28672: persistent), a partial last window
    // (K = 11008, 10.75 windows of 1024), both modes, no zero points, bf16 / fp32 X, N odd and
    // not a multiple of the 16 rows per block.
    Case m{1, 1001, 8192, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(m, st, true);
    m.mode = QMM_COMPUTE_INT8; run_case(m, st, true);  // K = 8192: the persistent grid
    m.K = 4096; m.N = 70000; m.zp = false; run_case(m, st, true);  // > 2 blocks per SM of rows
    m.K = 11008; m.N = 1001; m.zp = true; m.mode = QMM_COMPUTE_FLOAT; run_case(m, st, true);
    m.mode = QMM_COMPUTE_INT8; run_case(m, st, true);
    m.zp = false; run_case(m, st, true);
    m.mode = QMM_COMPUTE_FLOAT; m.xt = QMM_DTYPE_BF16; m.N = 4099; run_case(m, st, true);
    m.K = 28672; m.N = 515; m.xt = QMM_DTYPE_F32; m.zp = true; run_case(m, st, true);
    // persistent with zero windows to the turns' end (14 and 2 windows in turns of 4)
    m.K = 14336; m.N = 4097; m.xt = QMM_DTYPE_F16; run_case(m, st, true);
    m.K = 2048; m.mode = QMM_COMPUTE_INT8; run_case(m, st, true);
    // K just below the M = 1 kernels' limit with a partial window: the most shared memory
    m.K = 49024; m.N = 300; run_case(m, st, true);
    m.mode = QMM_COMPUTE_FLOAT; run_case(m, st, true);
    // 8-bit weights (fp16 X: the g128 kernels, two pieces per window): persistent with and
    // without zero windows, a partial window; bf16 X (the general M = 1 kernel)
    m.mode = QMM_COMPUTE_FLOAT; m.bits = 8; m.K = 8192; m.N = 1001; run_case(m, st, true);
    m.K = 14336; m.zp = false; run_case(m, st, true);
    m.K = 11008; run_case(m, st, true);
    m.K = 8192; m.xt = QMM_DTYPE_BF16; m.zp = true; run_case(m, st, true);
  }
  // K == 0 zeros Y; M == 0 / N == 0 no-ops.
  {
    void* dy;
    CK(cudaMalloc(&dy, 64 * 2));
    CK(cudaMemset(dy, 0xff, 128));
    qmm_problem p;
    qmm_problem_init(&p);
    p.M = 4; p.N = 16; p.K = 0; p.y = dy; p.bits = 4;
    qmm_options o;
    qmm_options_init(&o);
    qmm_status s = qmm_matmul(&p, &o);
    std::vector<uint16_t> h(64);
    CK(cudaMemcpy(h.data(), dy, 128, cudaMemcpyDeviceToHost));
    bool zeros = true;
    for (auto v : h) zeros &= v == 0;
    st.run++;
    if (s != QMM_OK || !zeros) {
      st.failed++;
      std::printf("FAIL K=0: status %d (%s) zeros=%d\n", int(s), qmm_last_error(), int(zeros));
    }
    // Mixed host/device pointers must be rejected.
    std::vector<uint16_t> hx(64);
    p.K = 4; p.x = hx.data(); p.w = dy; p.scales = static_cast<float*>(dy);
    s = qmm_matmul(&p, &o);
    st.run++;
    if (s != QMM_INVALID_ARGUMENT) {
      st.failed++;
      std::printf("FAIL mixed pointers: status %d\n", int(s));
    } else {
      std::printf("ok   mixed pointers rejected: %s\n", qmm_last_error());
    }
    cudaFree(dy);
  }
  std::printf("CHECK SUMMARY: %d cases, %d failed\n", st.run, st.failed);
  return st.failed ? 1 : 0;
}

int cmd_sanitize() {
  Stats st;
  const qmm_dtype dts[] = {QMM_DTYPE_F16, QMM_DTYPE_BF16, QMM_DTYPE_F32};
  int i = 0;
  for (int64_t M : {1, 9, 33})
    for (int bits : {4, 8})
      for (int mode = 0; mode < 2; ++mode)
        for (int64_t gs : {32, 6}) {
          ++i;
          Case c{M, 72, 192, gs, bits, (i & 1) != 0, dts[i % 3], dts[(i + 1) % 3],
                 mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT, (i % 3 == 0) ? 8 : 0, 3};
          run_case(c, st, false);
        }
  // Packed weights in the decode layout at M > 16 (unpacked per call), both modes.
  for (int mode = 0; mode < 2; ++mode) {
    Case c{33, 72, 192, 32, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16,
           mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT};
    c.packed = true;
    c.decode_layout = true;
    run_case(c, st, false);
  }
  // Decode kernels over a long K (256 chunks of 128 k per 16-row tile), both modes.
  for (int bits : {4, 8})
    for (int mode = 0; mode < 2; ++mode) {
      Case c{mode ? 5 : 16, 200, 32768, 128, bits, bits == 4, mode ? QMM_DTYPE_F16 : dts[bits / 4],
             QMM_DTYPE_F16, mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT};
      run_case(c, st, false);
    }
  // The stream-K kernel (M = 2..16): tiles split between blocks with a partial last tile
  // (N = 1000), groups of 64, bf16 X; 8-bit weights with fp32 X (the converted copy).
  {
    Case c{4, 1000, 1280, 64, 4, true, QMM_DTYPE_BF16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(c, st, false);
    c.M = 12; c.bits = 8; c.gs = 128; c.xt = QMM_DTYPE_F32; c.zp = false; run_case(c, st, false);
  }
  // The TMA decode kernel (forced by run_case): one unit per block (12 units, all tiles split),
  // a partial last tile, both X tiles.
  {
    Case c{5, 300, 2048, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(c, st, false);
    c.M = 16; c.xt = QMM_DTYPE_BF16; c.zp = false; run_case(c, st, false);
  }
  // The M = 1 kernels for groups of 128: a partial last window (K = 1280) on an odd N (its
  // clamped loads on the last row), full windows over a long K and 5 windows (3 zero windows
  // in the persistent grid's turns of 4), both modes, zp or none.
  {  // 8-bit weights, fp16 X: the g128 kernels, a partial window and the persistent grid
    Case c{1, 37, 1280, 128, 8, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(c, st, false);
    c.K = 5120; c.N = 200; c.zp = false; run_case(c, st, false);
  }
  {  // float mode M = 2 / 3 (8-bit) on the persistent M = 1 kernel: a partial row pair
    Case c{2, 37, 2048, 128, 4, true, QMM_DTYPE_BF16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(c, st, false);
    c.M = 3; c.bits = 8; c.xt = QMM_DTYPE_F16; c.zp = false; run_case(c, st, false);
  }
  for (int mode = 0; mode < 2; ++mode)
    for (int64_t K : {1280, 32768, 5120}) {
      Case c{1, K == 1280 ? 37 : 200, K, 128, 4, (mode == 0) != (K == 5120), QMM_DTYPE_F16, QMM_DTYPE_F16,
             mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT};
      run_case(c, st, false);
    }
  // The Hopper GEMM at M > 128 (producer warpgroup + TMA, then the cp.async kernel by
  // run_case): M and N past the tile edges, K % 64 == 32, split K over 2 weight tiles.
  {
    Case c{140, 200, 1056, 32, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_FLOAT};
    run_case(c, st, false);
    c.N = 256; c.K = 8192; c.gs = 128; c.bits = 8; c.xt = QMM_DTYPE_BF16; run_case(c, st, false);
  }
  // The int8 tensor-core GEMM (groups of 128): M and N past the tile edges, K split (few
  // tiles), both widths, both tile heights (128 X rows; 64 for M <= 64).
  {
    Case c{140, 200, 2048, 128, 4, true, QMM_DTYPE_F16, QMM_DTYPE_F16, QMM_COMPUTE_INT8};
    run_case(c, st, false);
    c.bits = 8; c.xt = QMM_DTYPE_BF16; c.zp = false; run_case(c, st, false);
    c.M = 40; run_case(c, st, false);
    c.bits = 4; c.zp = true; run_case(c, st, false);
  }
  std::printf("SANITIZE CASES: %d run, %d failed\n", st.run, st.failed);
  return st.failed ? 1 : 0;
}

// Packed weights (the decode layout) under capture: M = 1 and 16 (the decode kernel on the packed layout, M = 16
// with its partial sums) and M = 64 (unpacked into the stream's buffer, then the GEMM), each
// called once outside capture first; the replays must equal the direct calls bit for bit.
int graph_packed() {
  int failed = 0;
  const int64_t N = 1000, K = 2048, Ms[3] = {1, 16, 64};
  std::mt19937 r(11);
  std::normal_distribution<float> nd;
  std::vector<uint16_t> hx(64 * K);
  for (auto& v : hx) v = f2h(nd(r));
  std::vector<uint8_t> hw(N * K / 2);
  for (auto& v : hw) v = uint8_t(r());
  std::vector<float> hs(N * (K / 128));
  for (auto& v : hs) v = 0.01f + 0.01f * float(r() % 100) / 100.0f;
  std::vector<int8_t> hz(N * (K / 128));
  for (auto& v : hz) v = int8_t(int(r() % 16) - 8);
  void *dx, *dw, *ds, *dz, *dy[6];
  CK(cudaMalloc(&dx, hx.size() * 2)); CK(cudaMalloc(&dw, hw.size()));
  CK(cudaMalloc(&ds, hs.size() * 4)); CK(cudaMalloc(&dz, hz.size()));
  for (auto& p : dy) CK(cudaMalloc(&p, 64 * N * 4));
  CK(cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dw, hw.data(), hw.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(ds, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dz, hz.data(), hz.size(), cudaMemcpyHostToDevice));
  for (int mode = 0; mode < 2; ++mode) {
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    qmm_problem p;
    qmm_problem_init(&p);
    p.N = N; p.K = K; p.x = dx; p.w = dw; p.scales = static_cast<float*>(ds);
    p.zero_points = static_cast<int8_t*>(dz); p.group_size = 128; p.bits = 4;
    p.y_dtype = QMM_DTYPE_F32;
    qmm_options o;
    qmm_options_init(&o);
    o.compute = mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
    o.cuda_stream = s;
    o.backend = "cuda";
    qmm_packed* pk = nullptr;
    setenv("QMM_CUDA_PACK", "decode", 1);
    bool ok = qmm_pack(&p, &o, &pk) == QMM_OK;
    unsetenv("QMM_CUDA_PACK");
    for (int i = 0; i < 3 && ok; ++i) {  // direct calls into dy[0..2]
      p.M = Ms[i]; p.y = dy[i];
      ok = qmm_matmul_packed(pk, &p, &o) == QMM_OK;
    }
    for (int i = 3; i < 6; ++i) CK(cudaMemset(dy[i], 0xff, 64 * N * 4));
    CK(cudaStreamSynchronize(s));
    cudaGraph_t g;
    cudaGraphExec_t ge;
    if (ok) {
      CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
      for (int i = 0; i < 3; ++i) {
        p.M = Ms[i]; p.y = dy[3 + i];
        if (qmm_matmul_packed(pk, &p, &o) != QMM_OK) ok = false;
      }
      CK(cudaStreamEndCapture(s, &g));
      CK(cudaGraphInstantiate(&ge, g, 0));
      for (int i = 0; i < 2; ++i) CK(cudaGraphLaunch(ge, s));
      CK(cudaStreamSynchronize(s));
      for (int i = 0; i < 3 && ok; ++i) {
        std::vector<float> a(Ms[i] * N), b(Ms[i] * N);
        CK(cudaMemcpy(a.data(), dy[i], a.size() * 4, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(b.data(), dy[3 + i], b.size() * 4, cudaMemcpyDeviceToHost));
        ok = std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
      }
      cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
    }
    std::printf("%s graph capture of packed-weight calls M = 1, 16, 64 (%s mode)\n",
                ok ? "ok  " : "FAIL", mode ? "int8" : "float");
    if (!ok) failed++;
    qmm_packed_free(pk);
    cudaStreamDestroy(s);
  }
  cudaFree(dx); cudaFree(dw); cudaFree(ds); cudaFree(dz);
  for (auto& p : dy) cudaFree(p);
  return failed;
}

int cmd_graph() {
  int failed = 0;
  // the M = 16 calls on the stream-K kernel, then on the TMA decode kernel (this shape would
  // get the tile kernel): their partial sums live in the workspace, which a cold capture does
  // not have
  for (const char* dk : {"stream-k", "tma"}) {
  setenv("QMM_CUDA_DECODE", dk, 1);
  for (int mode = 0; mode < 2; ++mode) {
    const int64_t M = 64, N = 512, K = 1024;
    std::vector<uint16_t> hx(M * K);
    std::mt19937 r(7);
    std::normal_distribution<float> nd;
    for (auto& v : hx) v = f2h(nd(r));
    std::vector<uint8_t> hw(N * K / 2);
    for (auto& v : hw) v = uint8_t(r());
    std::vector<float> hs(N * (K / 128), 0.02f);
    void *dx, *dw, *ds, *dy1, *dy2, *dy3, *dy4, *dy5, *dy6;
    const int64_t MD = 16;  // a decode M above 1: the stream-K kernel and its partial sums
    CK(cudaMalloc(&dx, hx.size() * 2)); CK(cudaMalloc(&dw, hw.size()));
    CK(cudaMalloc(&ds, hs.size() * 4)); CK(cudaMalloc(&dy1, M * N * 4)); CK(cudaMalloc(&dy2, M * N * 4));
    CK(cudaMalloc(&dy3, N * 4)); CK(cudaMalloc(&dy4, N * 4));
    CK(cudaMalloc(&dy5, MD * N * 4)); CK(cudaMalloc(&dy6, MD * N * 4));
    CK(cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dw, hw.data(), hw.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(ds, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    qmm_problem p;
    qmm_problem_init(&p);
    p.M = M; p.N = N; p.K = K; p.x = dx; p.w = dw; p.scales = static_cast<float*>(ds);
    p.group_size = 128; p.bits = 4; p.y = dy1; p.y_dtype = QMM_DTYPE_F32;
    qmm_options o;
    qmm_options_init(&o);
    o.compute = mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
    o.cuda_stream = s;
    // One call outside capture (grows the workspace), then capture M=64, M=1 and M=16 calls.
    if (qmm_matmul(&p, &o) != QMM_OK) { std::printf("FAIL graph warm: %s\n", qmm_last_error()); failed++; }
    p.M = 1; p.y = dy4;
    if (qmm_matmul(&p, &o) != QMM_OK) { std::printf("FAIL graph warm: %s\n", qmm_last_error()); failed++; }
    p.M = MD; p.y = dy6;
    if (qmm_matmul(&p, &o) != QMM_OK) { std::printf("FAIL graph warm: %s\n", qmm_last_error()); failed++; }
    p.M = M;
    CK(cudaMemset(dy5, 0xff, MD * N * 4));
    CK(cudaStreamSynchronize(s));
    CK(cudaMemset(dy3, 0xff, N * 4));
    CK(cudaMemset(dy2, 0xff, M * N * 4));
    cudaGraph_t g;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    p.y = dy2;
    qmm_status st1 = qmm_matmul(&p, &o);
    p.M = 1; p.y = dy3;
    qmm_status st2 = qmm_matmul(&p, &o);
    p.M = MD; p.y = dy5;
    if (qmm_matmul(&p, &o) != QMM_OK) st2 = QMM_CUDA_ERROR;
    p.M = M;
    CK(cudaStreamEndCapture(s, &g));
    cudaGraphExec_t ge;
    CK(cudaGraphInstantiate(&ge, g, 0));
    for (int i = 0; i < 3; ++i) CK(cudaGraphLaunch(ge, s));
    CK(cudaStreamSynchronize(s));
    std::vector<float> a(M * N), b(M * N);
    CK(cudaMemcpy(a.data(), dy1, M * N * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b.data(), dy2, M * N * 4, cudaMemcpyDeviceToHost));
    std::vector<float> c1(N), c2(N);
    CK(cudaMemcpy(c1.data(), dy3, N * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(c2.data(), dy4, N * 4, cudaMemcpyDeviceToHost));
    std::vector<float> d1(MD * N), d2(MD * N);
    CK(cudaMemcpy(d1.data(), dy5, MD * N * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(d2.data(), dy6, MD * N * 4, cudaMemcpyDeviceToHost));
    const bool same = std::memcmp(a.data(), b.data(), a.size() * 4) == 0 &&
                      std::memcmp(c1.data(), c2.data(), N * 4) == 0 &&
                      std::memcmp(d1.data(), d2.data(), MD * N * 4) == 0;
    const bool ok = st1 == QMM_OK && st2 == QMM_OK && same;
    // (the int8 mode has no TMA decode kernel: forced to it, M = 16 runs the tile kernel)
    const char* kern = mode && std::strcmp(dk, "tma") == 0 ? "tile" : dk;
    std::printf("%s graph capture (%s mode, M = 16 on %s): statuses %d %d, replay bit-identical=%d\n",
                ok ? "ok  " : "FAIL", mode ? "int8" : "float", kern, int(st1), int(st2), int(same));
    if (!ok) failed++;
    if (mode == 0) {
      // Cold capture: a fresh stream has no cached workspace, so the float GEMM cannot split
      // over K there (the warm call above did), nor the M = 16 decode kernel share tiles
      // between blocks; both must still capture and run, unsplit (the summation order differs
      // from the split direct calls: compared within 1e-5).
      cudaStream_t s2;
      CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
      o.cuda_stream = s2;
      CK(cudaMemset(dy2, 0xff, M * N * 4));
      cudaGraph_t g2;
      CK(cudaStreamBeginCapture(s2, cudaStreamCaptureModeGlobal));
      p.y = dy2;
      qmm_status st3 = qmm_matmul(&p, &o);
      CK(cudaMemset(dy5, 0xff, MD * N * 4));
      p.M = MD; p.y = dy5;
      if (qmm_matmul(&p, &o) != QMM_OK) st3 = QMM_CUDA_ERROR;
      p.M = M;
      CK(cudaStreamEndCapture(s2, &g2));
      cudaGraphExec_t ge2;
      CK(cudaGraphInstantiate(&ge2, g2, 0));
      CK(cudaGraphLaunch(ge2, s2));
      CK(cudaStreamSynchronize(s2));
      CK(cudaMemcpy(b.data(), dy2, M * N * 4, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(d1.data(), dy5, MD * N * 4, cudaMemcpyDeviceToHost));
      double num = 0, den = 0;
      for (int64_t i = 0; i < M * N; ++i) {
        num += double(a[i] - b[i]) * (a[i] - b[i]);
        den += double(a[i]) * a[i];
      }
      for (int64_t i = 0; i < MD * N; ++i) {
        num += double(d1[i] - d2[i]) * (d1[i] - d2[i]);
        den += double(d2[i]) * d2[i];
      }
      const double rel = std::sqrt(num / (den > 0 ? den : 1));
      const bool ok2 = st3 == QMM_OK && rel < 1e-5;  // NaN poison left anywhere fails too
      std::printf("%s graph capture on a fresh stream (float mode, M = 16 on %s): status %d, rel diff %.3g\n",
                  ok2 ? "ok  " : "FAIL", dk, int(st3), rel);
      if (!ok2) failed++;
      cudaGraphExecDestroy(ge2); cudaGraphDestroy(g2); cudaStreamDestroy(s2);
    }
    cudaGraphExecDestroy(ge); cudaGraphDestroy(g); cudaStreamDestroy(s);
    cudaFree(dx); cudaFree(dw); cudaFree(ds); cudaFree(dy1); cudaFree(dy2); cudaFree(dy3); cudaFree(dy4);
    cudaFree(dy5); cudaFree(dy6);
  }
  }
  unsetenv("QMM_CUDA_DECODE");
  failed += graph_packed();
  std::printf("GRAPH SUMMARY: %d failed\n", failed);
  return failed ? 1 : 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int cmd_bench() {
  // Copy bandwidth: 2 GiB device-to-device, bytes read + written.
  double copy_gbs = 0;
  {
    const size_t bytes = size_t(1) << 31;
    void *a, *b;
    CK(cudaMalloc(&a, bytes)); CK(cudaMalloc(&b, bytes));
    CK(cudaMemset(a, 1, bytes));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    std::vector<double> t;
    for (int i = 0; i < 12; ++i) {
      CK(cudaEventRecord(e0));
      CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
      CK(cudaEventRecord(e1));
      CK(cudaEventSynchronize(e1));
      float ms; CK(cudaEventElapsedTime(&ms, e0, e1));
      if (i >= 2) t.push_back(ms);
    }
    copy_gbs = 2.0 * bytes / (median(t) * 1e-3) / 1e9;
    std::printf("copy bandwidth (D2D, read+write): %.1f GB/s\n", copy_gbs);
    cudaFree(a); cudaFree(b);
  }
  struct NK { int64_t N, K; };
  const NK shapes[] = {{8192, 8192}, {28672, 8192}};
  // QMM_GPU_BENCH_ONLY=float|int8 and QMM_GPU_BENCH_MS=m1,m2,.. narrow the table;
  // QMM_GPU_BENCH_PACKED=1 times qmm_matmul_packed on weights packed once per copy (in the
  // decode layout with QMM_CUDA_PACK=decode).
  const char* only = std::getenv("QMM_GPU_BENCH_ONLY");
  const bool packed = std::getenv("QMM_GPU_BENCH_PACKED") &&
                      std::string(std::getenv("QMM_GPU_BENCH_PACKED")) == "1";
  std::vector<int64_t> Ms = {1, 16, 256, 4096};
  if (const char* ms = std::getenv("QMM_GPU_BENCH_MS")) {
    Ms.clear();
    for (const char* c = ms; *c;) {
      char* end = nullptr;
      const long long v = std::strtoll(c, &end, 10);
      if (end == c) break;
      if (v > 0) Ms.push_back(v);
      c = *end == ',' ? end + 1 : end;
    }
  }
  std::printf("columns: mode bits N K M time_us GB/s pct_copy TFLOPs\n");
  for (const NK& s : shapes)
    for (int bits : {4, 8})
      for (int mode = 0; mode < 2; ++mode)
        for (int64_t M : Ms) {
          if (only && std::string(only) != (mode ? "int8" : "float")) continue;
          const int64_t gs = 128, G = s.K / gs;
          const size_t wbytes = size_t(s.N) * s.K * bits / 8;
          const int copies = int(std::max<size_t>(2, (size_t(120) << 20) / wbytes + 1));
          std::vector<void*> ws(copies), ss(copies), zs(copies);
          std::vector<uint8_t> hw(wbytes);
          std::mt19937 r(1);
          for (auto& v : hw) v = uint8_t(r());
          std::vector<float> hs(s.N * G);
          for (auto& v : hs) v = 0.01f + 0.001f * float(r() % 16);
          std::vector<int8_t> hz(s.N * G);
          for (auto& v : hz) v = int8_t(int(r() % 5) - 2);
          for (int i = 0; i < copies; ++i) {
            CK(cudaMalloc(&ws[i], wbytes)); CK(cudaMalloc(&ss[i], hs.size() * 4)); CK(cudaMalloc(&zs[i], hz.size()));
            CK(cudaMemcpy(ws[i], hw.data(), wbytes, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(ss[i], hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(zs[i], hz.data(), hz.size(), cudaMemcpyHostToDevice));
          }
          std::vector<uint16_t> hx(M * s.K);
          std::normal_distribution<float> nd;
          for (auto& v : hx) v = f2h(nd(r));
          void *dx, *dy;
          CK(cudaMalloc(&dx, hx.size() * 2)); CK(cudaMalloc(&dy, M * s.N * 2));
          CK(cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
          qmm_problem p;
          qmm_problem_init(&p);
          p.M = M; p.N = s.N; p.K = s.K; p.x = dx; p.y = dy; p.group_size = gs; p.bits = bits;
          qmm_options o;
          qmm_options_init(&o);
          o.compute = mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
          o.backend = "cuda";
          std::vector<qmm_packed*> pks(copies, nullptr);
          for (int i = 0; i < copies && packed; ++i) {
            p.w = ws[i]; p.scales = static_cast<float*>(ss[i]); p.zero_points = static_cast<int8_t*>(zs[i]);
            if (qmm_pack(&p, &o, &pks[i]) != QMM_OK) { std::printf("pack failed: %s\n", qmm_last_error()); return 1; }
          }
          cudaEvent_t e0, e1;
          CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
          const int iters = M >= 4096 ? 6 : 30;
          std::vector<double> t;
          bool ok = true;
          for (int i = 0; i < iters + 3 && ok; ++i) {
            const int c = i % copies;
            p.w = ws[c]; p.scales = static_cast<float*>(ss[c]); p.zero_points = static_cast<int8_t*>(zs[c]);
            CK(cudaEventRecord(e0));
            const qmm_status stb = packed ? qmm_matmul_packed(pks[c], &p, &o) : qmm_matmul(&p, &o);
            if (stb != QMM_OK) { std::printf("bench call failed: %s\n", qmm_last_error()); ok = false; }
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms; CK(cudaEventElapsedTime(&ms, e0, e1));
            if (i >= 3) t.push_back(ms);
          }
          if (ok) {
            const double us = median(t) * 1e3;
            const double bytes = double(wbytes) + double(s.N) * G * 5 + double(M) * s.K * 2 + double(M) * s.N * 2;
            const double gbs = bytes / (us * 1e-6) / 1e9;
            const double tf = 2.0 * M * s.N * s.K / (us * 1e-6) / 1e12;
            std::printf("BENCH %s %d %lld %lld %lld %.1f %.1f %.1f%% %.1f\n", mode ? "int8" : "float", bits,
                        (long long)s.N, (long long)s.K, (long long)M, us, gbs, 100.0 * gbs / copy_gbs, tf);
          }
          for (int i = 0; i < copies; ++i) { cudaFree(ws[i]); cudaFree(ss[i]); cudaFree(zs[i]); }
          for (qmm_packed* pk : pks) qmm_packed_free(pk);
          cudaFree(dx); cudaFree(dy);
          cudaEventDestroy(e0); cudaEventDestroy(e1);
        }
  std::printf("COPY_GBS %.1f\n", copy_gbs);
  return 0;
}


// One configuration, for profilers: gpu_check one MODE(float|int8) BITS N K M [iters]
int cmd_one(int argc, char** argv) {
  if (argc < 7) return 2;
  const bool int8 = std::string(argv[2]) == "int8";
  const int bits = std::atoi(argv[3]);
  const int64_t N = std::atoll(argv[4]), K = std::atoll(argv[5]), M = std::atoll(argv[6]);
  const int iters = argc > 7 ? std::atoi(argv[7]) : 5;
  const int64_t gs = 128, G = K / gs;
  const size_t wbytes = size_t(N) * K * bits / 8;
  void *dw, *ds, *dz, *dx, *dy;
  CK(cudaMalloc(&dw, wbytes)); CK(cudaMalloc(&ds, N * G * 4)); CK(cudaMalloc(&dz, N * G));
  CK(cudaMalloc(&dx, M * K * 2)); CK(cudaMalloc(&dy, M * N * 2));
  CK(cudaMemset(dw, 0x5a, wbytes)); CK(cudaMemset(ds, 0, N * G * 4)); CK(cudaMemset(dz, 1, N * G));
  CK(cudaMemset(dx, 0x3c, M * K * 2));
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = M; p.N = N; p.K = K; p.x = dx; p.y = dy; p.w = dw; p.scales = static_cast<float*>(ds);
  p.zero_points = static_cast<int8_t*>(dz); p.group_size = gs; p.bits = bits;
  qmm_options o;
  qmm_options_init(&o);
  o.compute = int8 ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
  for (int i = 0; i < iters; ++i)
    if (qmm_matmul(&p, &o) != QMM_OK) { std::printf("failed: %s\n", qmm_last_error()); return 1; }
  CK(cudaDeviceSynchronize());
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "check";
  int cuda_index = -1;
  for (int i = 0; i < qmm_backend_count(); ++i)
    if (std::strcmp(qmm_backend_name(i), "cuda") == 0) cuda_index = i;
  if (cuda_index < 0 || !qmm_backend_available(cuda_index)) {
    std::printf("cuda backend not built or not available (gpu features: '%s')\n", qmm_gpu_features());
    return cmd == "probe" ? 0 : 3;
  }
  if (cmd == "probe") {
    std::printf("cuda available: %s\n", qmm_gpu_features());
    return 0;
  }
  if (cmd == "check") return cmd_check(argc > 2 && std::string(argv[2]) == "quick");
  if (cmd == "graph") return cmd_graph();
  if (cmd == "bench") return cmd_bench();
  if (cmd == "sanitize") return cmd_sanitize();
  if (cmd == "one") return cmd_one(argc, argv);
  std::printf("unknown command %s\n", cmd.c_str());
  return 2;
}
