// Tests and timings for the `avx2` backend, through the C API.
//
//   avx2_test            correctness: quantizer bit-identity, avx2 vs scalar vs a float64
//                        reference over many shapes, packed vs canonical, thread-count identity
//   avx2_test bench      streaming-read bandwidth and timings of the shape suite
//
// Build: tests/x86/build.sh (links build-avx2/libqmatmul.so).
#include <omp.h>

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <ctime>
#include <utility>
#include <vector>

#include "core/numeric.h"
#include "qmatmul/qmatmul.h"
#include "x86_amx/avx2_kernels.h"

namespace {

int g_fail = 0;
#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) {                            \
      ++g_fail;                               \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);               \
      std::printf("\n");                      \
    }                                         \
  } while (0)

std::mt19937_64 rng(12345);

float randn() {
  static std::normal_distribution<float> d(0.0f, 1.0f);
  return d(rng);
}

// ---------------------------------------------------------------- quantizer bit-identity
void test_quantizer() {
  int groups_checked = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const int64_t gs = 8 * (1 + int64_t(rng() % 40));
    const int64_t G = 1 + int64_t(rng() % 4);
    const int64_t K = gs * G;
    std::vector<float> x(K);
    const int kind = trial % 8;
    for (int64_t k = 0; k < K; ++k) {
      float v = randn();
      switch (kind) {
        case 0: break;
        case 1: v = float(int(v * 40)) + 0.5f; break;  // ties once a == 127
        case 2: v = v * 1e-30f; break;
        case 3: v = v * 1e-42f; break;                  // subnormals, 127/a may overflow
        case 4: v = (rng() % 16 == 0) ? NAN : v; break;
        case 5: v = (rng() % 16 == 0) ? (rng() % 2 ? INFINITY : -INFINITY) : v; break;
        case 6: v = (rng() % 3 == 0) ? 0.0f : float(int(v * 100)) * 0.25f; break;
        case 7: v = (rng() % 64 == 0) ? v : 0.0f; break;
      }
      x[k] = v;
    }
    if (kind == 1)  // make a == 127 in every group so x*inv = x: exact .5 ties
      for (int64_t g = 0; g < G; ++g) x[g * gs + int64_t(rng() % gs)] = (rng() % 2) ? 127.0f : -127.0f;
    if (kind == 6 && trial % 16 == 6)
      for (int64_t k = 0; k < gs; ++k) x[k] = (k % 2) ? -0.0f : 0.0f;  // an all-zero group
    std::vector<int8_t> q1(K), q2(K);
    std::vector<float> s1(G), s2(G);
    std::vector<int32_t> z1(G), z2(G);
    for (int64_t g = 0; g < G; ++g)
      s1[g] = qmm::quantize_group_int8(x.data() + g * gs, gs, q1.data() + g * gs, &z1[g]);
    qmm::avx2::avx2_quantize_row_int8(x.data(), K, gs, q2.data(), s2.data(), z2.data());
    for (int64_t g = 0; g < G; ++g) {
      ++groups_checked;
      CHECK(std::memcmp(&s1[g], &s2[g], 4) == 0, "quantizer sx kind %d g %lld: %g vs %g", kind,
            (long long)g, s1[g], s2[g]);
      CHECK(z1[g] == z2[g], "quantizer sum_q kind %d: %d vs %d", kind, z1[g], z2[g]);
    }
    CHECK(std::memcmp(q1.data(), q2.data(), K) == 0, "quantizer q differs, kind %d gs %lld", kind,
          (long long)gs);
  }
  std::printf("quantizer: %d groups compared bit for bit\n", groups_checked);
}

// ---------------------------------------------------------------- problems
struct Data {
  int64_t M, N, K, gs, ldx, ldy;
  int bits;
  bool zp;
  qmm_dtype xt, yt;
  std::vector<uint8_t> x, w;
  std::vector<float> s;
  std::vector<int8_t> z;
  size_t ysz;
};

void make(Data& d) {
  const size_t xs = qmm::dtype_size(d.xt);
  d.x.assign(size_t(d.M) * d.ldx * xs, 0);
  for (int64_t m = 0; m < d.M; ++m)
    for (int64_t k = 0; k < d.ldx; ++k) {
      // stride padding holds NaN: a kernel reading it would poison its outputs
      const float v = k < d.K ? randn() : NAN;
      const int64_t i = m * d.ldx + k;
      if (d.xt == QMM_DTYPE_F32) std::memcpy(&d.x[i * 4], &v, 4);
      else {
        const uint16_t h = d.xt == QMM_DTYPE_F16 ? qmm::f32_to_f16(v) : qmm::f32_to_bf16(v);
        std::memcpy(&d.x[i * 2], &h, 2);
      }
    }
  const int64_t rb = d.bits == 8 ? d.K : d.K / 2;
  d.w.resize(size_t(d.N) * rb);
  for (auto& b : d.w) b = uint8_t(rng());
  const int64_t G = d.K / d.gs;
  d.s.resize(size_t(d.N) * G);
  for (auto& v : d.s) v = 0.01f * (0.5f + float(rng() % 1000) / 1000.0f);
  d.z.clear();
  if (d.zp) {
    d.z.resize(size_t(d.N) * G);
    for (auto& v : d.z) v = int8_t(rng());
  }
  d.ysz = qmm::dtype_size(d.yt);
}

qmm_problem problem_of(const Data& d, void* y) {
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = d.M; p.N = d.N; p.K = d.K;
  p.x = d.x.data(); p.ldx = d.ldx; p.x_dtype = d.xt;
  p.w = d.w.data(); p.scales = d.s.data(); p.zero_points = d.zp ? d.z.data() : nullptr;
  p.group_size = d.gs; p.bits = d.bits;
  p.y = y; p.ldy = d.ldy; p.y_dtype = d.yt;
  return p;
}

std::vector<uint8_t> poisoned_y(const Data& d) {
  std::vector<uint8_t> y(size_t(d.M) * d.ldy * d.ysz);
  if (d.yt == QMM_DTYPE_F32) {
    const float nan = NAN;
    for (size_t i = 0; i < y.size() / 4; ++i) std::memcpy(&y[i * 4], &nan, 4);
  } else {
    for (size_t i = 0; i < y.size() / 2; ++i) { y[i * 2] = 0xff; y[i * 2 + 1] = 0x7f; }
  }
  return y;
}

qmm_status run(const Data& d, const char* backend, qmm_compute c, int threads,
               std::vector<uint8_t>& y, const qmm_packed* packed = nullptr) {
  y = poisoned_y(d);
  qmm_problem p = problem_of(d, y.data());
  qmm_options o;
  qmm_options_init(&o);
  o.backend = backend;
  o.compute = c;
  o.num_threads = threads;
  return packed ? qmm_matmul_packed(packed, &p, &o) : qmm_matmul(&p, &o);
}

double yval(const Data& d, const std::vector<uint8_t>& y, int64_t m, int64_t n) {
  return qmm::load_as_f32(y.data(), m * d.ldy + n, d.yt);
}

// float64 reference of the float mode
std::vector<double> reference(const Data& d) {
  const int64_t G = d.K / d.gs;
  std::vector<double> xr(size_t(d.M) * d.K), wr(size_t(d.K)), out(size_t(d.M) * d.N);
  for (int64_t m = 0; m < d.M; ++m)
    for (int64_t k = 0; k < d.K; ++k) xr[m * d.K + k] = qmm::load_as_f32(d.x.data(), m * d.ldx + k, d.xt);
  const int64_t rb = d.bits == 8 ? d.K : d.K / 2;
  for (int64_t n = 0; n < d.N; ++n) {
    const uint8_t* row = d.w.data() + n * rb;
    for (int64_t k = 0; k < d.K; ++k) {
      const int q = d.bits == 8 ? int(int8_t(row[k])) : qmm::int4_at(row, k);
      const int64_t g = k / d.gs;
      wr[k] = double(d.s[n * G + g]) * double(q - (d.zp ? d.z[n * G + g] : 0));
    }
    for (int64_t m = 0; m < d.M; ++m) {
      double t = 0;
      for (int64_t k = 0; k < d.K; ++k) t += xr[m * d.K + k] * wr[k];
      out[m * d.N + n] = t;
    }
  }
  return out;
}

bool same_bits(const Data& d, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// The stride gap of y must still hold the poison, every element inside must be written.
bool layout_ok(const Data& d, const std::vector<uint8_t>& y) {
  const std::vector<uint8_t> poison = poisoned_y(d);
  for (int64_t m = 0; m < d.M; ++m)
    for (int64_t n = 0; n < d.ldy; ++n) {
      const size_t i = size_t(m * d.ldy + n) * d.ysz;
      const bool untouched = std::memcmp(&y[i], &poison[i], d.ysz) == 0;
      if (n >= d.N && !untouched) return false;
      if (n < d.N && std::isnan(yval(d, y, m, n))) return false;
    }
  return true;
}

const char* dn(qmm_dtype t) { return t == QMM_DTYPE_F16 ? "f16" : t == QMM_DTYPE_BF16 ? "bf16" : "f32"; }

double worst_float_err[3] = {0, 0, 0};
int cases_run = 0;

void check_case(Data& d) {
  make(d);
  char tag[256];
  std::snprintf(tag, sizeof tag, "M=%lld N=%lld K=%lld gs=%lld bits=%d zp=%d x=%s y=%s ldx=%lld ldy=%lld",
                (long long)d.M, (long long)d.N, (long long)d.K, (long long)d.gs, d.bits, int(d.zp),
                dn(d.xt), dn(d.yt), (long long)d.ldx, (long long)d.ldy);
  const bool fast = d.gs % 32 == 0;
  std::vector<double> ref;
  for (qmm_compute c : {QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8}) {
    std::vector<uint8_t> ys, y1, y2, yp;
    qmm_status st = run(d, "avx2", c, 2, y2);
    if (!fast) {  // the scalar slow path: identical to the scalar backend
      CHECK(st == QMM_OK, "%s: avx2 status %d %s", tag, int(st), qmm_last_error());
      CHECK(run(d, "scalar", c, 2, ys) == QMM_OK, "%s scalar", tag);
      CHECK(same_bits(d, ys, y2), "%s compute=%d: slow path differs from scalar", tag, int(c));
      qmm_problem p = problem_of(d, nullptr);
      qmm_options o;
      qmm_options_init(&o);
      o.backend = "avx2";
      o.compute = c;
      qmm_packed* pk = nullptr;
      CHECK(qmm_pack(&p, &o, &pk) == QMM_OK, "%s pack: %s", tag, qmm_last_error());
      if (pk) {
        CHECK(run(d, "avx2", c, 2, yp, pk) == QMM_OK, "%s run packed: %s", tag, qmm_last_error());
        CHECK(same_bits(d, yp, y2), "%s compute=%d: packed slow path differs", tag, int(c));
        qmm_packed_free(pk);
      }
      continue;
    }
    ++cases_run;
    CHECK(st == QMM_OK, "%s: avx2 status %d %s", tag, int(st), qmm_last_error());
    CHECK(run(d, "scalar", c, 2, ys) == QMM_OK, "%s scalar", tag);
    CHECK(run(d, "avx2", c, 1, y1) == QMM_OK, "%s avx2 1 thread", tag);
    CHECK(same_bits(d, y1, y2), "%s compute=%d: 1 vs 2 threads differ", tag, int(c));
    CHECK(layout_ok(d, y2), "%s compute=%d: NaN left in y or stride gap written", tag, int(c));
    // packed path: bit-identical to the canonical path
    {
      qmm_problem p = problem_of(d, nullptr);
      qmm_options o;
      qmm_options_init(&o);
      o.backend = "avx2";
      o.compute = c;
      qmm_packed* pk = nullptr;
      CHECK(qmm_pack(&p, &o, &pk) == QMM_OK, "%s pack: %s", tag, qmm_last_error());
      if (pk) {
        CHECK(std::strcmp(qmm_packed_backend(pk), "avx2") == 0, "%s packed by %s", tag, qmm_packed_backend(pk));
        CHECK(run(d, "avx2", c, 2, yp, pk) == QMM_OK, "%s run packed: %s", tag, qmm_last_error());
        CHECK(same_bits(d, yp, y2), "%s compute=%d: packed differs from canonical", tag, int(c));
        qmm_packed_free(pk);
      }
    }
    if (c == QMM_COMPUTE_INT8) {
      // same quantizer and epilogue order as scalar: identical outputs
      bool eq = true;
      for (int64_t m = 0; m < d.M && eq; ++m)
        for (int64_t n = 0; n < d.N; ++n) {
          const size_t i = size_t(m * d.ldy + n) * d.ysz;
          if (std::memcmp(&ys[i], &y2[i], d.ysz) != 0) {
            CHECK(false, "%s int8: y[%lld,%lld] avx2 %g scalar %g", tag, (long long)m, (long long)n,
                  yval(d, y2, m, n), yval(d, ys, m, n));
            eq = false;
            break;
          }
        }
    } else {
      if (ref.empty()) ref = reference(d);
      double num = 0, den = 0, nums = 0;
      for (int64_t m = 0; m < d.M; ++m)
        for (int64_t n = 0; n < d.N; ++n) {
          const double r = ref[m * d.N + n];
          const double e = yval(d, y2, m, n) - r, es = yval(d, ys, m, n) - r;
          num += e * e; nums += es * es; den += r * r;
        }
      const double rel = std::sqrt(num / den), rels = std::sqrt(nums / den);
      // output rounding dominates for 16-bit outputs; allow 1.5x the scalar backend's error
      // plus a small absolute slack, and never beyond the contract
      const double cap = (d.xt == QMM_DTYPE_BF16 || d.yt == QMM_DTYPE_BF16) ? 8e-3 : 2e-3;
      const double bound = std::min(cap, 1.5 * rels + 2e-6);
      worst_float_err[d.yt] = std::max(worst_float_err[d.yt], rel);
      CHECK(rel <= bound, "%s float: rel err %.3g (scalar %.3g, bound %.3g)", tag, rel, rels, bound);
    }
  }
}

void test_shapes() {
  const int64_t Ms[] = {1, 2, 3, 5, 7, 16, 33, 128};
  const int64_t NKs[][2] = {{1, 64}, {3, 96}, {5, 160}, {13, 256}, {37, 192}, {64, 320}, {67, 512},
                            {129, 1024}, {30, 2112}};
  int idx = 0;
  for (auto& nk : NKs)
    for (int64_t M : Ms) {
      const int64_t N = nk[0], K = nk[1];
      std::vector<int64_t> gss = {32, 64, K, 2, 6};
      if (K % 128 == 0) gss.push_back(128);
      if (K % 96 == 0) gss.push_back(96);
      for (int64_t gs : gss) {
        if (K % gs) continue;
        for (int bits : {4, 8})
          for (int zp = 0; zp < 2; ++zp) {
            ++idx;
            if (M >= 33 && idx % 3) continue;  // keep the big-M part quicker
            Data d;
            d.M = M; d.N = N; d.K = K; d.gs = gs; d.bits = bits; d.zp = zp;
            d.xt = qmm_dtype(idx % 3);
            d.yt = qmm_dtype((idx / 3) % 3);
            d.ldx = K + ((idx % 4 == 0) ? 24 : 0);
            d.ldy = N + ((idx % 5 == 0) ? 3 : 0);
            check_case(d);
          }
      }
    }
  std::printf("shapes: %d (problem, mode) cases; worst float-mode rel err vs float64: y f16 %.3g, "
              "bf16 %.3g, f32 %.3g\n", cases_run, worst_float_err[0], worst_float_err[1],
              worst_float_err[2]);
}

void test_special() {
  // K large and group_size = K (per channel), int8 mode sums across long groups
  {
    Data d;
    d.M = 3; d.N = 9; d.K = 8192; d.gs = 8192; d.bits = 4; d.zp = true;
    d.xt = QMM_DTYPE_F32; d.yt = QMM_DTYPE_F32; d.ldx = d.K; d.ldy = d.N;
    check_case(d);
    d.bits = 8; d.zp = true; d.M = 1;
    check_case(d);
  }
  // NaN / Inf in X propagate
  {
    Data d;
    d.M = 2; d.N = 8; d.K = 128; d.gs = 64; d.bits = 4; d.zp = false;
    d.xt = QMM_DTYPE_F32; d.yt = QMM_DTYPE_F32; d.ldx = d.K; d.ldy = d.N;
    make(d);
    const float nan = NAN;
    std::memcpy(&d.x[5 * 4], &nan, 4);  // row 0
    for (qmm_compute c : {QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8}) {
      std::vector<uint8_t> y, ys;
      CHECK(run(d, "avx2", c, 2, y) == QMM_OK, "nan run");
      CHECK(run(d, "scalar", c, 2, ys) == QMM_OK, "nan run scalar");
      for (int64_t n = 0; n < d.N; ++n) {
        CHECK(std::isnan(yval(d, y, 0, n)), "NaN in X row 0 should give NaN, compute %d", int(c));
        CHECK(!std::isnan(yval(d, y, 1, n)), "row 1 must stay finite");
      }
    }
  }
  // odd group sizes: auto dispatch stays on the best x86 backend (avx2, or avx512/amx where
  // present), which runs the scalar slow path itself
  {
    Data d;
    d.M = 2; d.N = 5; d.K = 12; d.gs = 6; d.bits = 4; d.zp = true;
    d.xt = QMM_DTYPE_F16; d.yt = QMM_DTYPE_F16; d.ldx = d.K; d.ldy = d.N;
    make(d);
    std::vector<uint8_t> y;
    CHECK(run(d, nullptr, QMM_COMPUTE_FLOAT, 2, y) == QMM_OK, "auto with gs=6");
    qmm_problem p = problem_of(d, y.data());
    qmm_options o;
    qmm_options_init(&o);
    CHECK(std::strcmp(qmm_select_backend(&p, &o), "scalar") != 0, "gs=6 should stay on an x86 backend");
    d.gs = -1;  // K = 12: per channel is not a multiple of 32 either
  }
}

// ---------------------------------------------------------------- benchmark
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Multi-threaded wide-load streaming read over `bytes`, best of `reps` passes (GB/s).
double stream_read_bw(size_t bytes, int threads, int reps) {
  const size_t n = bytes / 32;
  __m256i* buf = static_cast<__m256i*>(std::aligned_alloc(64, n * 32));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = _mm256_set1_epi32(int(i));
  double best = 0;
  volatile int sink = 0;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    int acc_all = 0;
#pragma omp parallel num_threads(threads) reduction(^ : acc_all)
    {
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
#pragma omp for schedule(static)
      for (size_t i = 0; i < n; i += 8) {
        a0 = _mm256_xor_si256(a0, _mm256_load_si256(buf + i));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256(buf + i + 2));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256(buf + i + 4));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256(buf + i + 6));
        a0 = _mm256_xor_si256(a0, _mm256_load_si256(buf + i + 1));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256(buf + i + 3));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256(buf + i + 5));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256(buf + i + 7));
      }
      a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
      acc_all ^= _mm256_extract_epi32(a0, 0);
    }
    const double t = now() - t0;
    sink = sink ^ acc_all;
    best = std::max(best, double(n) * 32 / t / 1e9);
  }
  std::free(buf);
  return best;
}

struct Timing { double med, mn, mx; };

// This machine is shared: before a measurement, wait (up to 60 s) for a 300 ms window in which
// the CPUs were at least 90% idle, so that 2 OpenMP threads do not time-share a core.
void wait_for_quiet() {
  auto idle = []() {
    unsigned long long v[10] = {0};
    FILE* f = std::fopen("/proc/stat", "r");
    if (!f) return std::pair<double, double>(0, 0);
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) != 8) v[3] = 0;
    std::fclose(f);
    double tot = 0;
    for (int i = 0; i < 8; ++i) tot += double(v[i]);
    return std::pair<double, double>(double(v[3] + v[4]), tot);
  };
  const double t0 = now();
  while (now() - t0 < 60) {
    auto a = idle();
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, nullptr);
    auto b = idle();
    if (b.second > a.second && (b.first - a.first) / (b.second - a.second) > 0.9) return;
  }
  std::printf("(machine busy: measuring anyway)\n");
}

// Times one problem with enough weight copies rotated that they exceed 2x the LLC (32 MiB).
Timing time_problem(int64_t M, int64_t N, int64_t K, int bits, qmm_compute c, const char* backend,
                    int threads, bool packed, int reps) {
  const int64_t gs = 128, G = K / gs;
  const int64_t rb = bits == 8 ? K : K / 2;
  const size_t wbytes = size_t(N) * rb;
  const int copies = int(std::max<size_t>(1, (size_t(80) << 20) / wbytes + 1));
  std::vector<std::vector<uint8_t>> ws(copies, std::vector<uint8_t>(wbytes));
  std::vector<std::vector<float>> ss(copies, std::vector<float>(size_t(N) * G));
  std::vector<std::vector<int8_t>> zs(copies, std::vector<int8_t>(size_t(N) * G));
  for (int i = 0; i < copies; ++i) {
    for (auto& b : ws[i]) b = uint8_t(rng());
    for (auto& v : ss[i]) v = 0.01f + float(rng() % 100) * 1e-4f;
    for (auto& v : zs[i]) v = int8_t(rng() % 16 - 8);
  }
  std::vector<uint16_t> x(size_t(M) * K), y(size_t(M) * N);
  for (auto& v : x) v = qmm::f32_to_f16(randn());
  qmm_options o;
  qmm_options_init(&o);
  o.backend = backend;
  o.compute = c;
  o.num_threads = threads;
  std::vector<qmm_packed*> pks(copies, nullptr);
  auto prob = [&](int i) {
    qmm_problem p;
    qmm_problem_init(&p);
    p.M = M; p.N = N; p.K = K; p.x = x.data(); p.w = ws[i].data(); p.scales = ss[i].data();
    p.zero_points = zs[i].data(); p.group_size = gs; p.bits = bits; p.y = y.data();
    return p;
  };
  if (packed)
    for (int i = 0; i < copies; ++i) {
      qmm_problem p = prob(i);
      qmm_pack(&p, &o, &pks[i]);
    }
  std::vector<double> ts;
  wait_for_quiet();
  for (int r = 0; r < reps + 2; ++r) {
    const int i = r % copies;
    qmm_problem p = prob(i);
    const double t0 = now();
    const qmm_status st = packed ? qmm_matmul_packed(pks[i], &p, &o) : qmm_matmul(&p, &o);
    const double t = now() - t0;
    if (st != QMM_OK) { std::printf("bench error: %s\n", qmm_last_error()); break; }
    if (r >= 2) ts.push_back(t);
  }
  for (auto* pk : pks) qmm_packed_free(pk);
  std::sort(ts.begin(), ts.end());
  return {ts[ts.size() / 2], ts.front(), ts.back()};
}

// bench [threads] [quick] [filter: bits M mode, e.g. "4 1 float"]
void bench(int argc, char** argv) {
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  wait_for_quiet();
  const int fbits = argc > 4 ? std::atoi(argv[4]) : 0;
  const int64_t fM = argc > 5 ? std::atoll(argv[5]) : 0;
  const char* fmode = argc > 6 ? argv[6] : nullptr;
  const double bw = stream_read_bw(size_t(2) << 30, threads, 5);
  const double bw1 = stream_read_bw(size_t(1) << 30, 1, 3);
  std::printf("streaming read (wide loads, 2 GiB): %.1f GB/s with %d threads, %.1f GB/s with 1\n", bw,
              threads, bw1);
  const bool quick = argc > 3 && std::strcmp(argv[3], "quick") == 0;
  const int64_t shapes[][2] = {{4096, 4096}, {14336, 4096}, {8192, 8192}};
  std::printf("%-14s %4s %3s %5s | %9s %9s %9s %7s | %6s | %9s %7s\n", "N x K", "bits", "M", "mode",
              "avx2 ms", "(min)", "packed ms", "GB/s", "%bw", "scalar ms", "speedup");
  for (auto& sh : shapes)
    for (int bits : {4, 8})
      for (int64_t M : {1, 16})
        for (qmm_compute c : {QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8}) {
          const int64_t N = sh[0], K = sh[1];
          if ((fbits && bits != fbits) || (fM && M != fM)) continue;
          if (fmode && std::strcmp(fmode, c == QMM_COMPUTE_INT8 ? "int8" : "float") != 0) continue;
          const int reps = M == 1 ? 30 : 10;
          const Timing t = time_problem(M, N, K, bits, c, "avx2", threads, false, reps);
          const Timing tp = time_problem(M, N, K, bits, c, "avx2", threads, true, reps);
          const double bytes = double(N) * K * bits / 8 + double(N) * (K / 128) * 5 +
                               double(M) * K * 2 + double(M) * N * 2;
          const double best = std::min(t.med, tp.med);
          double ts = NAN;
          if (!quick) ts = time_problem(M, N, K, bits, c, "scalar", threads, false, M == 1 ? 3 : 1).med;
          std::printf("%5lld x %-6lld %4d %3lld %5s | %9.3f %9.3f %9.3f %7.1f | %5.0f%% | %9.2f %6.1fx\n",
                      (long long)N, (long long)K, bits, (long long)M,
                      c == QMM_COMPUTE_INT8 ? "int8" : "float", t.med * 1e3, t.mn * 1e3, tp.med * 1e3,
                      bytes / best / 1e9, 100.0 * bytes / best / 1e9 / bw, ts * 1e3, ts / t.med);
          std::fflush(stdout);
        }
}

// Kernel throughput with cache-resident weights (1 thread, best of many): is the kernel fast
// enough to be memory-bound? hot [M] [N] [K]
void hot(int argc, char** argv) {
  const int64_t M = argc > 2 ? std::atoll(argv[2]) : 1;
  const int64_t N = argc > 3 ? std::atoll(argv[3]) : 256;
  const int64_t K = argc > 4 ? std::atoll(argv[4]) : 2048;
  for (int bits : {4, 8})
    for (qmm_compute c : {QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8})
      for (int packed = 0; packed < 2; ++packed) {
        Data d;
        d.M = M; d.N = N; d.K = K; d.gs = 128; d.bits = bits; d.zp = true;
        d.xt = QMM_DTYPE_F16; d.yt = QMM_DTYPE_F16; d.ldx = K; d.ldy = N;
        make(d);
        std::vector<uint8_t> y = poisoned_y(d);
        qmm_problem p = problem_of(d, y.data());
        qmm_options o;
        qmm_options_init(&o);
        o.backend = "avx2"; o.compute = c; o.num_threads = 1;
        qmm_packed* pk = nullptr;
        if (packed) qmm_pack(&p, &o, &pk);
        double best = 1e9;
        for (int r = 0; r < 300; ++r) {
          const double t0 = now();
          if (packed) qmm_matmul_packed(pk, &p, &o); else qmm_matmul(&p, &o);
          best = std::min(best, now() - t0);
        }
        qmm_packed_free(pk);
        const double wb = double(N) * K * bits / 8;
        std::printf("hot M=%lld N=%lld K=%lld bits=%d %5s %s: %8.1f us  %6.1f GB/s of weights  %6.1f GMAC/s\n",
                    (long long)M, (long long)N, (long long)K, bits, c == QMM_COMPUTE_INT8 ? "int8" : "float",
                    packed ? "packed" : "canon ", best * 1e6, wb / best / 1e9, double(M) * N * K / best / 1e9);
      }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "hot") == 0) {
    hot(argc, argv);
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "bench") == 0) {
    bench(argc, argv);
    return 0;
  }
  test_quantizer();
  test_special();
  test_shapes();
  std::printf("%s (%d failures)\n", g_fail ? "FAILED" : "OK", g_fail);
  return g_fail ? 1 : 0;
}
