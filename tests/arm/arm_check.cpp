// Arm backend checks through the public C API, run under qemu-aarch64 by .ci/arm.sh:
//   arm_check dispatch            print cpu features, available backends and the automatic
//                                 choice for float/int8 problems (one "key: value" per line)
//   arm_check compare [quick]     every available backend other than scalar, forced, against
//                                 the scalar backend on random problems over remainders of
//                                 M/N/K tiles, group sizes, bits, zero points, dtypes, strides,
//                                 both compute modes, canonical and prepacked weights, special
//                                 values, thread counts; outputs poisoned with NaN first.
// int8 mode must match scalar bit for bit (same quantizer, same epilogue order); float mode
// within a relative Frobenius error of 1e-5 of scalar's fp32 result (the dtype rounding of the
// output added). Group sizes the kernels do not cover run the slow path and must match too. Exit status 0 = all passed.
#include <qmatmul/qmatmul.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

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
uint16_t f2h(float f) {  // round to nearest even, normal range only (test data is tame)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);
  if (a < 0x38800000u) return uint16_t(sign);  // flush tiny values to zero
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
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

size_t dsize(qmm_dtype t) { return t == QMM_DTYPE_F32 ? 4 : 2; }
float load(const std::vector<uint8_t>& b, size_t i, qmm_dtype t) {
  if (t == QMM_DTYPE_F32) {
    float f;
    std::memcpy(&f, b.data() + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, b.data() + 2 * i, 2);
  return t == QMM_DTYPE_F16 ? h2f(h) : b2f(h);
}
void store(std::vector<uint8_t>& b, size_t i, qmm_dtype t, float v) {
  if (t == QMM_DTYPE_F32) {
    std::memcpy(b.data() + 4 * i, &v, 4);
    return;
  }
  const uint16_t h = t == QMM_DTYPE_F16 ? f2h(v) : f2b(v);
  std::memcpy(b.data() + 2 * i, &h, 2);
}
const char* dname(qmm_dtype t) { return t == QMM_DTYPE_F16 ? "f16" : t == QMM_DTYPE_BF16 ? "bf16" : "f32"; }

struct Case {
  int64_t M, N, K, gs;
  int bits;
  bool zp;
  qmm_dtype xt, yt;
  qmm_compute mode;
  int64_t ldx_pad, ldy_pad;
  int special;  // 0 none, 1 a zero row, 2 NaN in X, 3 Inf in X, 4 large zp values
  int threads;
};

std::mt19937_64 rng(12345);
int failures = 0, checks = 0;

struct Data {
  std::vector<uint8_t> x, w, y_ref;
  std::vector<float> scales;
  std::vector<int8_t> zp;
};

Data make(const Case& c) {
  Data d;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  const int64_t ldx = c.K + c.ldx_pad, G = c.K / c.gs;
  d.x.assign(size_t(c.M * ldx) * dsize(c.xt), 0);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t k = 0; k < ldx; ++k) {
      float v = k < c.K ? nd(rng) : 1e30f;  // padding must never be read
      if (c.special == 1 && m == c.M / 2 && k < c.K) v = 0.0f;
      if (c.special == 2 && m == c.M - 1 && k == c.K / 3) v = NAN;
      if (c.special == 3 && m == 0 && k == c.K - 1) v = INFINITY;
      if (c.xt != QMM_DTYPE_F32 && k >= c.K) v = 1e4f;
      store(d.x, size_t(m * ldx + k), c.xt, v);
    }
  const int64_t rb = c.bits == 8 ? c.K : c.K / 2;
  d.w.resize(size_t(c.N * rb));
  for (auto& b : d.w) b = uint8_t(byte(rng));
  d.scales.resize(size_t(c.N * G));
  std::uniform_real_distribution<float> ud(0.001f, 0.05f);
  for (auto& s : d.scales) s = ud(rng);
  if (c.zp) {
    d.zp.resize(size_t(c.N * G));
    for (auto& z : d.zp) {
      int v = c.special == 4 ? byte(rng) - 128 : (c.bits == 4 ? byte(rng) % 16 - 8 : byte(rng) % 64 - 32);
      z = int8_t(v);
    }
  }
  return d;
}

qmm_problem problem(const Case& c, Data& d, void* y) {
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = c.M; p.N = c.N; p.K = c.K;
  p.x = d.x.data(); p.ldx = c.K + c.ldx_pad; p.x_dtype = c.xt;
  p.w = d.w.data(); p.scales = d.scales.data(); p.zero_points = c.zp ? d.zp.data() : nullptr;
  p.group_size = c.gs == c.K && (rng() & 1) ? -1 : c.gs;
  p.bits = c.bits;
  p.y = y; p.ldy = c.N + c.ldy_pad; p.y_dtype = c.yt;
  return p;
}

std::string describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "M=%lld N=%lld K=%lld gs=%lld bits=%d zp=%d x=%s y=%s %s ldx+%lld ldy+%lld special=%d thr=%d",
                (long long)c.M, (long long)c.N, (long long)c.K, (long long)c.gs, c.bits, int(c.zp),
                dname(c.xt), dname(c.yt), c.mode == QMM_COMPUTE_INT8 ? "int8" : "float",
                (long long)c.ldx_pad, (long long)c.ldy_pad, c.special, c.threads);
  return buf;
}

std::vector<uint8_t> poisoned(const Case& c) {
  std::vector<uint8_t> y(size_t(c.M * (c.N + c.ldy_pad)) * dsize(c.yt));
  for (size_t i = 0; i < y.size() / dsize(c.yt); ++i) store(y, i, c.yt, NAN);
  return y;
}

// Compare y against the scalar result; also that the ldy padding stayed NaN.
void compare(const Case& c, const std::vector<uint8_t>& ref, const std::vector<uint8_t>& y,
             const char* backend, const char* how) {
  ++checks;
  const int64_t ldy = c.N + c.ldy_pad;
  double num = 0, den = 0;
  int64_t bad_exact = 0, nan_mismatch = 0, pad_written = 0;
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < ldy; ++n) {
      const size_t i = size_t(m * ldy + n);
      const float a = load(y, i, c.yt), r = load(ref, i, c.yt);
      if (n >= c.N) {
        if (a == a) ++pad_written;
        continue;
      }
      if ((a != a) != (r != r) || (std::isinf(a) != std::isinf(r))) { ++nan_mismatch; continue; }
      if (a != a || std::isinf(a)) continue;
      if (std::memcmp(y.data() + i * dsize(c.yt), ref.data() + i * dsize(c.yt), dsize(c.yt)) != 0)
        ++bad_exact;
      num += double(a - r) * double(a - r);
      den += double(r) * double(r);
    }
  const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  bool ok = nan_mismatch == 0 && pad_written == 0;
  if (c.mode == QMM_COMPUTE_INT8) ok = ok && bad_exact == 0;
  else {
    // fp32 accumulation order differs from scalar; the output dtype's rounding may flip.
    const double tol = c.yt == QMM_DTYPE_F32 ? 1e-5 : c.yt == QMM_DTYPE_F16 ? 1e-3 : 8e-3;
    ok = ok && rel <= tol;
  }
  if (!ok) {
    ++failures;
    std::printf("FAIL %s %s %s: rel=%.3g inexact=%lld nan_mismatch=%lld pad_written=%lld\n",
                backend, how, describe(c).c_str(), rel, (long long)bad_exact,
                (long long)nan_mismatch, (long long)pad_written);
  }
}

void run_case(const Case& c, const std::vector<std::string>& backends) {
  Data d = make(c);
  std::vector<uint8_t> ref = poisoned(c);
  qmm_options o;
  qmm_options_init(&o);
  o.compute = c.mode;
  o.backend = "scalar";
  o.num_threads = 1;
  qmm_problem p = problem(c, d, ref.data());
  if (qmm_matmul(&p, &o) != QMM_OK) {
    ++failures;
    std::printf("FAIL scalar %s: %s\n", describe(c).c_str(), qmm_last_error());
    return;
  }
  for (const std::string& b : backends) {
    o.backend = b.c_str();
    o.num_threads = c.threads;
    std::vector<uint8_t> y = poisoned(c);
    p = problem(c, d, y.data());
    const qmm_status s = qmm_matmul(&p, &o);
    if (s != QMM_OK) {
      ++failures;
      std::printf("FAIL %s %s: %s\n", b.c_str(), describe(c).c_str(), qmm_last_error());
      continue;
    }
    compare(c, ref, y, b.c_str(), "canonical");
    // Same call with another thread count must be bit-identical.
    std::vector<uint8_t> y2 = poisoned(c);
    p = problem(c, d, y2.data());
    o.num_threads = c.threads == 1 ? 3 : 1;
    ++checks;
    if (qmm_matmul(&p, &o) != QMM_OK || std::memcmp(y.data(), y2.data(), y.size()) != 0) {
      // NaN padding compares equal bytewise too: any difference is a real one.
      ++failures;
      std::printf("FAIL %s not deterministic across thread counts: %s\n", b.c_str(), describe(c).c_str());
    }
    o.num_threads = c.threads;
    // Prepacked weights.
    qmm_packed* pk = nullptr;
    p = problem(c, d, nullptr);
    if (qmm_pack(&p, &o, &pk) != QMM_OK) {
      ++failures;
      std::printf("FAIL %s pack %s: %s\n", b.c_str(), describe(c).c_str(), qmm_last_error());
      continue;
    }
    std::vector<uint8_t> y3 = poisoned(c);
    p = problem(c, d, y3.data());
    p.group_size = c.gs;
    const qmm_status s3 = qmm_matmul_packed(pk, &p, &o);
    qmm_packed_free(pk);
    if (s3 != QMM_OK) {
      ++failures;
      std::printf("FAIL %s packed %s: %s\n", b.c_str(), describe(c).c_str(), qmm_last_error());
      continue;
    }
    compare(c, ref, y3, b.c_str(), "packed");
  }
}

int dispatch() {
  std::printf("cpu_features: %s\n", qmm_cpu_features());
  std::string avail;
  for (int i = 0; i < qmm_backend_count(); ++i)
    if (qmm_backend_available(i)) avail += std::string(avail.empty() ? "" : ",") + qmm_backend_name(i);
  std::printf("available: %s\n", avail.c_str());
  std::vector<int8_t> w(64 * 64);
  std::vector<float> s(64 * 2, 1.0f);
  std::vector<uint16_t> x(64), y(64);
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = 1; p.N = 64; p.K = 64; p.x = x.data(); p.w = w.data(); p.scales = s.data();
  p.group_size = 32; p.bits = 4; p.y = y.data();
  qmm_options o;
  qmm_options_init(&o);
  const char* f = qmm_select_backend(&p, &o);
  o.compute = QMM_COMPUTE_INT8;
  const char* i = qmm_select_backend(&p, &o);
  std::printf("auto_float: %s\nauto_int8: %s\n", f ? f : "(none)", i ? i : "(none)");
  p.group_size = 2;
  const char* d = qmm_select_backend(&p, &o);
  std::printf("auto_group_size_2: %s\n", d ? d : "(none)");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "dispatch") == 0) return dispatch();
  const bool quick = argc >= 3 && std::strcmp(argv[2], "quick") == 0;
  std::vector<std::string> backends;
  for (int i = 0; i < qmm_backend_count(); ++i)
    if (qmm_backend_available(i) && !qmm_backend_is_device(i) &&
        std::strcmp(qmm_backend_name(i), "scalar") != 0)
      backends.push_back(qmm_backend_name(i));
  std::printf("cpu_features: %s\nbackends under test:", qmm_cpu_features());
  for (auto& b : backends) std::printf(" %s", b.c_str());
  std::printf("\n");

  const qmm_dtype dts[3] = {QMM_DTYPE_F16, QMM_DTYPE_BF16, QMM_DTYPE_F32};
  const int64_t Ms[] = {1, 2, 3, 7, 16, 33, 65, 128};
  const int64_t Ns[] = {1, 5, 8, 13, 31, 40};
  const int64_t Ks[] = {32, 64, 96, 192, 256, 384};
  std::uniform_int_distribution<int> pick(0, 1 << 30);
  // 1) every (M, bits, zp, mode) with random N, K, group size, dtypes, strides.
  for (int64_t M : Ms)
    for (int bits : {4, 8})
      for (bool zp : {false, true})
        for (qmm_compute mode : {QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8}) {
          if (quick && M > 33 && (pick(rng) & 1)) continue;
          Case c;
          c.M = M;
          c.N = Ns[pick(rng) % 6];
          c.K = Ks[pick(rng) % 6];
          const int64_t gss[4] = {32, 64, 128, c.K};
          do c.gs = gss[pick(rng) % 4]; while (c.K % c.gs);
          c.bits = bits; c.zp = zp;
          c.xt = dts[pick(rng) % 3]; c.yt = dts[pick(rng) % 3];
          c.mode = mode;
          c.ldx_pad = pick(rng) % 3 == 0 ? 5 : 0;
          c.ldy_pad = pick(rng) % 3 == 0 ? 3 : 0;
          c.special = 0;
          c.threads = 1 + pick(rng) % 3;
          run_case(c, backends);
        }
  // 2) special values, long groups, per-channel, group sizes the kernels do not cover.
  for (int special = 1; special <= 4; ++special)
    for (qmm_compute mode : {QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8})
      for (int bits : {4, 8}) {
        Case c{5, 11, 128, 32, bits, true, QMM_DTYPE_F32, QMM_DTYPE_F32, mode, 0, 0, special, 2};
        run_case(c, backends);
      }
  for (qmm_compute mode : {QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8})
    for (int bits : {4, 8}) {
      Case c{3, 9, quick ? 1024 : 2048, quick ? 1024 : 2048, bits, true, QMM_DTYPE_F16,
             QMM_DTYPE_F16, mode, 0, 0, 0, 2};
      run_case(c, backends);
      Case d{2, 7, 48, 6, bits, false, QMM_DTYPE_F16, QMM_DTYPE_F32, mode, 0, 0, 0, 1};
      run_case(d, backends);
      Case e{2, 7, 40, 2, bits, true, QMM_DTYPE_F16, QMM_DTYPE_F32, mode, 0, 0, 0, 1};
      run_case(e, backends);
      Case f{2, 7, 80, 40, bits, true, QMM_DTYPE_BF16, QMM_DTYPE_F32, mode, 0, 0, 0, 1};
      run_case(f, backends);
    }
  std::printf("arm_check: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
