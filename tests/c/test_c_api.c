/* The C API from C: the planned quantizedMatMul signature, the extended call, packing, status
 * codes and last-error messages, backend listing. Exits non-zero on the first failed check.
 * Build: part of the plain CMake build (qmm_c_api_test); links only libqmatmul. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmatmul/qmatmul.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    ++checks;                                              \
    if (!(cond)) {                                         \
      ++failures;                                          \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      printf(__VA_ARGS__);                                 \
      printf("\n");                                        \
    }                                                      \
  } while (0)

static uint16_t f32_to_f16(float f) { /* round-to-nearest-even, normal range only (test data) */
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a < 0x38800000u) return (uint16_t)sign; /* tiny: flush (not used by the test data) */
  uint32_t r = a - 0x38000000u;
  r = (r + 0xfffu + ((r >> 13) & 1u)) >> 13;
  return (uint16_t)(sign | r);
}
static float f16_to_f32(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float s = (h & 0x8000) ? -1.0f : 1.0f;
  if (e == 31) return m ? NAN : s * INFINITY;
  if (e == 0) return s * ldexpf((float)m, -24);
  return s * ldexpf((float)(m | 0x400), e - 25);
}

static int contains(const char* hay, const char* needle) { return strstr(hay, needle) != NULL; }

int main(void) {
  enum { M = 3, N = 5, K = 64, G = 32 };
  uint16_t x[M * K], y[M * N];
  int8_t w8[N * K], zp[N * (K / G)];
  uint8_t w4[N * K / 2];
  float scales[N * (K / G)];
  double ref8[M * N], ref4[M * N];
  srand(1234);
  for (int i = 0; i < M * K; ++i) x[i] = f32_to_f16(((float)(rand() % 2001) - 1000.0f) / 500.0f);
  for (int i = 0; i < N * K; ++i) w8[i] = (int8_t)(rand() % 256 - 128);
  for (int i = 0; i < N * K / 2; ++i) w4[i] = (uint8_t)(rand() % 256);
  for (int i = 0; i < N * (K / G); ++i) {
    scales[i] = 0.001f * (float)(1 + rand() % 100);
    zp[i] = (int8_t)(rand() % 16 - 8);
  }
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double a8 = 0, a4 = 0;
      for (int k = 0; k < K; ++k) {
        int g = k / G;
        double xv = f16_to_f32(x[m * K + k]);
        int q4 = (k & 1) ? (w4[n * K / 2 + k / 2] >> 4) : (w4[n * K / 2 + k / 2] & 0xf);
        q4 = (q4 ^ 8) - 8;
        a8 += xv * scales[n * (K / G) + g] * (w8[n * K + k] - zp[n * (K / G) + g]);
        a4 += xv * scales[n * (K / G) + g] * (q4 - zp[n * (K / G) + g]);
      }
      ref8[m * N + n] = a8;
      ref4[m * N + n] = a4;
    }

  /* planned signature, both bit widths */
  for (int bits = 4; bits <= 8; bits += 4) {
    for (int i = 0; i < M * N; ++i) y[i] = 0x7e00; /* NaN poison */
    quantizedMatMul(x, bits == 8 ? w8 : (const int8_t*)w4, scales, zp, y, M, N, K, G, bits);
    CHECK(qmm_last_status() == QMM_OK, "status %d: %s", qmm_last_status(), qmm_last_error());
    CHECK(strcmp(qmm_last_error(), "") == 0, "message after success: %s", qmm_last_error());
    double num = 0, den = 0;
    for (int i = 0; i < M * N; ++i) {
      double r = bits == 8 ? ref8[i] : ref4[i];
      double d = f16_to_f32(y[i]) - r;
      num += d * d;
      den += r * r;
    }
    CHECK(sqrt(num / den) <= 2e-3, "bits=%d rel err %g", bits, sqrt(num / den));
  }

  /* errors: status, a message naming the argument, output untouched */
  struct {
    const char* what;
    const void* x;
    int m, n, k, g, bits;
    const char* expect;
  } bad[] = {
      {"NULL x", NULL, M, N, K, G, 8, "x is NULL"},
      {"negative M", x, -1, N, K, G, 8, "M must be >= 0, got -1"},
      {"negative N", x, M, -3, K, G, 8, "N must be >= 0, got -3"},
      {"bits", x, M, N, K, G, 3, "bits must be 4 or 8, got 3"},
      {"group size", x, M, N, K, 48, 8, "group_size=48 does not divide K=64"},
      {"zero group", x, M, N, K, 0, 8, "group_size must be a positive divisor of K or -1, got 0"},
      {"odd K int4", x, M, N, 63, -1, 4, "K must be even for bits=4, got K=63"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    for (int j = 0; j < M * N; ++j) y[j] = 0x7e00;
    quantizedMatMul(bad[i].x, w8, scales, zp, y, bad[i].m, bad[i].n, bad[i].k, bad[i].g, bad[i].bits);
    CHECK(qmm_last_status() == QMM_INVALID_ARGUMENT, "%s: status %d", bad[i].what, qmm_last_status());
    CHECK(contains(qmm_last_error(), bad[i].expect), "%s: message '%s'", bad[i].what, qmm_last_error());
    int untouched = 1;
    for (int j = 0; j < M * N; ++j) untouched &= y[j] == 0x7e00;
    CHECK(untouched, "%s: output written on error", bad[i].what);
  }
  quantizedMatMul(x, NULL, scales, zp, y, M, N, K, G, 8);
  CHECK(contains(qmm_last_error(), "w is NULL"), "message '%s'", qmm_last_error());
  quantizedMatMul(x, w8, NULL, zp, y, M, N, K, G, 8);
  CHECK(contains(qmm_last_error(), "scales is NULL"), "message '%s'", qmm_last_error());
  quantizedMatMul(x, w8, scales, zp, NULL, M, N, K, G, 8);
  CHECK(contains(qmm_last_error(), "y is NULL"), "message '%s'", qmm_last_error());
  /* empty problems: success, nothing written; NULL allowed where the array is empty */
  quantizedMatMul(NULL, w8, scales, zp, NULL, 0, N, K, G, 8);
  CHECK(qmm_last_status() == QMM_OK, "M=0: %s", qmm_last_error());

  /* the extended API: huge dimensions, K == 0, strides, options */
  qmm_problem p;
  qmm_options o;
  qmm_problem_init(&p);
  qmm_options_init(&o);
  p.M = (int64_t)1 << 40;
  p.N = (int64_t)1 << 40;
  p.K = 64;
  p.x = x, p.w = w8, p.scales = scales, p.y = y, p.bits = 8, p.group_size = 32;
  CHECK(qmm_matmul(&p, &o) == QMM_INVALID_ARGUMENT, "huge dims accepted");
  CHECK(contains(qmm_last_error(), "too large"), "message '%s'", qmm_last_error());
  CHECK(qmm_matmul(NULL, &o) == QMM_INVALID_ARGUMENT, "NULL problem");
  qmm_problem_init(&p);
  float yf[M * N];
  for (int i = 0; i < M * N; ++i) yf[i] = NAN;
  p.M = M, p.N = N, p.K = 0, p.x = x, p.w = w8, p.scales = scales, p.y = yf, p.bits = 8;
  p.y_dtype = QMM_DTYPE_F32;
  CHECK(qmm_matmul(&p, NULL) == QMM_OK, "K=0: %s", qmm_last_error());
  int zeros = 1;
  for (int i = 0; i < M * N; ++i) zeros &= yf[i] == 0.0f;
  CHECK(zeros, "K=0 must give zeros");
  p.K = K, p.group_size = G, p.ldx = K - 1;
  CHECK(qmm_matmul(&p, NULL) == QMM_INVALID_ARGUMENT && contains(qmm_last_error(), "ldx"),
        "ldx < K: '%s'", qmm_last_error());
  p.ldx = 0;
  o.backend = "no_such_backend";
  CHECK(qmm_matmul(&p, &o) == QMM_INVALID_ARGUMENT && contains(qmm_last_error(), "no_such_backend"),
        "unknown backend: '%s'", qmm_last_error());
  o.backend = "scalar";
  o.compute = (qmm_compute)7;
  CHECK(qmm_matmul(&p, &o) == QMM_INVALID_ARGUMENT && contains(qmm_last_error(), "compute"),
        "bad compute: '%s'", qmm_last_error());
  o.compute = QMM_COMPUTE_INT8;
  CHECK(qmm_matmul(&p, &o) == QMM_OK, "int8 mode on scalar: %s", qmm_last_error());

  /* prepacking */
  qmm_packed* packed = NULL;
  qmm_options_init(&o);
  CHECK(qmm_pack(&p, &o, &packed) == QMM_OK && packed != NULL, "pack: %s", qmm_last_error());
  if (packed) {
    CHECK(qmm_packed_backend(packed) != NULL && qmm_packed_nbytes(packed) > 0, "packed info");
    float y2[M * N];
    CHECK(qmm_matmul_packed(packed, &p, &o) == QMM_OK, "packed matmul: %s", qmm_last_error());
    memcpy(y2, yf, sizeof y2);
    CHECK(qmm_matmul(&p, &o) == QMM_OK, "matmul: %s", qmm_last_error());
    int same = 1;
    for (int i = 0; i < M * N; ++i) same &= fabsf(y2[i] - yf[i]) <= 1e-5f * (1.0f + fabsf(yf[i]));
    CHECK(same, "packed and canonical results differ");
    p.K = 32;
    CHECK(qmm_matmul_packed(packed, &p, &o) == QMM_INVALID_ARGUMENT &&
          contains(qmm_last_error(), "K=32 does not match"), "'%s'", qmm_last_error());
    qmm_packed_free(packed);
  }
  CHECK(qmm_pack(&p, &o, NULL) == QMM_INVALID_ARGUMENT, "NULL handle pointer");
  qmm_packed_free(NULL);

  /* introspection */
  CHECK(qmm_backend_count() >= 1, "no backends");
  int has_scalar = 0;
  for (int i = 0; i < qmm_backend_count(); ++i) {
    has_scalar |= strcmp(qmm_backend_name(i), "scalar") == 0 && qmm_backend_available(i);
    printf("backend %-10s available=%d device=%d\n", qmm_backend_name(i), qmm_backend_available(i),
           qmm_backend_is_device(i));
  }
  CHECK(has_scalar, "scalar backend missing");
  CHECK(qmm_backend_name(-1) == NULL && qmm_backend_name(1000) == NULL, "out-of-range name");
  CHECK(qmm_version_number() == QMM_VERSION_MAJOR * 10000 + QMM_VERSION_MINOR * 100 + QMM_VERSION_PATCH,
        "version number");
  CHECK(strlen(qmm_version()) >= 5, "version string");
  CHECK(strcmp(qmm_status_string(QMM_CUDA_ERROR), "CUDA_ERROR") == 0, "status string");
  printf("cpu features: %s\n", qmm_cpu_features());
  qmm_set_num_threads(3);
  CHECK(qmm_get_num_threads() == 3, "threads");
  qmm_set_num_threads(0);

  printf("C API test: %d checks, %d failed\n", checks, failures);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
