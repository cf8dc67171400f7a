// Validation of everything a caller hands the C API. Messages name the argument and its value.
#include "core/validate.h"

#include <cinttypes>
#include <cstdint>
#include <cstring>
#include <limits>

#include <omp.h>

#include "core/backends.h"
#include "core/numeric.h"
#include "core/threading.h"

namespace qmm {
namespace {

// The raw value of an enum field a caller filled in: it may hold any int, and loading an
// out-of-range value through the enum type would be undefined behaviour.
template <class E>
int raw_enum(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized here");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

bool valid_dtype(int t) { return t == QMM_DTYPE_F16 || t == QMM_DTYPE_BF16 || t == QMM_DTYPE_F32; }

// a * b without overflow past INT64_MAX (both non-negative)
bool mul_ok(int64_t a, int64_t b, int64_t* r) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return false;
  *r = a * b;
  return true;
}

// The most CPU threads one call starts. A caller may ask for any count (options.num_threads,
// qmm_set_num_threads, OMP_NUM_THREADS); results do not depend on it, but OpenMP aborts the
// process when it cannot create the threads (2^31-1 threads: "libgomp: Out of memory"), so the
// count is capped: more threads than cores never help a compute-bound kernel.
int max_threads() {
  static const int cap = [] {
    const int procs = omp_get_num_procs();
    return procs > 64 ? procs : 64;
  }();
  return cap;
}

int cap_threads(int n) {
  const int cap = max_threads();
  return n < 1 ? 1 : (n > cap ? cap : n);
}

qmm_status too_large(const char* what) {
  return set_error(QMM_INVALID_ARGUMENT, "%s is too large: its size in bytes overflows 64 bits",
                   what);
}

}  // namespace

qmm_status validate_problem(const qmm_problem* in, unsigned what, Problem* out) {
  if (!in) return set_error(QMM_INVALID_ARGUMENT, "problem is NULL");
  const bool acts = (what & kNeedActivations) != 0;
  const bool wts = (what & kNeedWeights) != 0;
  Problem p;
  p.M = acts ? in->M : 0;
  p.N = in->N;
  p.K = in->K;
  if (acts && p.M < 0) return set_error(QMM_INVALID_ARGUMENT, "M must be >= 0, got %" PRId64, p.M);
  if (p.N < 0) return set_error(QMM_INVALID_ARGUMENT, "N must be >= 0, got %" PRId64, p.N);
  if (p.K < 0) return set_error(QMM_INVALID_ARGUMENT, "K must be >= 0, got %" PRId64, p.K);
  if (in->bits != 4 && in->bits != 8)
    return set_error(QMM_INVALID_ARGUMENT, "bits must be 4 or 8, got %d", int(in->bits));
  p.bits = in->bits;
  if (p.bits == 4 && (p.K % 2) != 0)
    return set_error(QMM_INVALID_ARGUMENT, "K must be even for bits=4, got K=%" PRId64, p.K);
  const int64_t g = in->group_size;
  if (g == -1) {
    p.group_size = p.K;
    p.groups = p.K > 0 ? 1 : 0;
  } else if (g <= 0) {
    return set_error(QMM_INVALID_ARGUMENT,
                     "group_size must be a positive divisor of K or -1, got %" PRId64, g);
  } else if (p.K % g != 0) {
    return set_error(QMM_INVALID_ARGUMENT,
                     "group_size must divide K: group_size=%" PRId64 " does not divide K=%" PRId64,
                     g, p.K);
  } else {
    p.group_size = g;
    p.groups = p.K / g;
  }

  // Sizes of every array in bytes must fit in 64 bits.
  int64_t tmp;
  if (!mul_ok(p.N, p.K, &tmp)) return too_large("w (N*K)");
  if (!mul_ok(p.N, p.groups, &tmp) || !mul_ok(tmp, 4, &tmp)) return too_large("scales");
  const int64_t w_elems = p.N * p.K;
  const int64_t s_elems = p.N * p.groups;

  if (acts) {
    if (!valid_dtype(raw_enum(in->x_dtype)))
      return set_error(QMM_INVALID_ARGUMENT, "x_dtype must be QMM_DTYPE_F16, _BF16 or _F32, got %d",
                       raw_enum(in->x_dtype));
    if (!valid_dtype(raw_enum(in->y_dtype)))
      return set_error(QMM_INVALID_ARGUMENT, "y_dtype must be QMM_DTYPE_F16, _BF16 or _F32, got %d",
                       raw_enum(in->y_dtype));
    p.x_dtype = in->x_dtype;
    p.y_dtype = in->y_dtype;
    p.ldx = in->ldx == 0 ? p.K : in->ldx;
    p.ldy = in->ldy == 0 ? p.N : in->ldy;
    if (p.ldx < p.K)
      return set_error(QMM_INVALID_ARGUMENT, "ldx must be 0 or >= K=%" PRId64 ", got %" PRId64,
                       p.K, in->ldx);
    if (p.ldy < p.N)
      return set_error(QMM_INVALID_ARGUMENT, "ldy must be 0 or >= N=%" PRId64 ", got %" PRId64,
                       p.N, in->ldy);
    if (!mul_ok(p.M, p.ldx, &tmp) || !mul_ok(tmp, 4, &tmp)) return too_large("x (M*ldx)");
    if (!mul_ok(p.M, p.ldy, &tmp) || !mul_ok(tmp, 4, &tmp)) return too_large("y (M*ldy)");
    if (p.M > 0 && p.K > 0 && !in->x)
      return set_error(QMM_INVALID_ARGUMENT, "x is NULL but M=%" PRId64 ", K=%" PRId64 " (non-empty)",
                       p.M, p.K);
    if (p.M > 0 && p.N > 0 && !in->y)
      return set_error(QMM_INVALID_ARGUMENT, "y is NULL but M=%" PRId64 ", N=%" PRId64 " (non-empty)",
                       p.M, p.N);
    p.x = in->x;
    p.y = in->y;
  }
  if (wts) {
    if (w_elems > 0 && !in->w)
      return set_error(QMM_INVALID_ARGUMENT, "w is NULL but N=%" PRId64 ", K=%" PRId64 " (non-empty)",
                       p.N, p.K);
    if (s_elems > 0 && !in->scales)
      return set_error(QMM_INVALID_ARGUMENT,
                       "scales is NULL but N=%" PRId64 ", K/group_size=%" PRId64 " (non-empty)",
                       p.N, p.groups);
    p.w = static_cast<const uint8_t*>(in->w);
    p.scales = in->scales;
    p.zp = in->zero_points;
  }

  // Host or device memory: all the pointers that will be touched must agree.
  struct Ptr {
    const char* name;
    const void* ptr;
  };
  const Ptr ptrs[] = {{"x", (acts && p.M > 0 && p.K > 0) ? p.x : nullptr},
                      {"y", (acts && p.M > 0 && p.N > 0) ? p.y : nullptr},
                      {"w", (wts && w_elems > 0) ? p.w : nullptr},
                      {"scales", (wts && s_elems > 0) ? p.scales : nullptr},
                      {"zero_points", (wts && s_elems > 0) ? p.zp : nullptr}};
  const char* first = nullptr;
  int first_kind = -1;
  for (const Ptr& q : ptrs) {
    if (!q.ptr) continue;
    const int kind = pointer_kind(q.ptr);  // 0 host, 1 device
    if (first_kind < 0) {
      first_kind = kind;
      first = q.name;
    } else if (kind != first_kind) {
      return set_error(QMM_INVALID_ARGUMENT,
                       "mixed host and device pointers: %s is %s memory but %s is %s memory",
                       first, first_kind ? "CUDA device" : "host", q.name,
                       kind ? "CUDA device" : "host");
    }
  }
  p.device = first_kind == 1;
  *out = p;
  return QMM_OK;
}

qmm_status validate_options(const qmm_options* in, Options* out) {
  Options o;
  if (in) {
    const int compute = raw_enum(in->compute);
    if (compute != QMM_COMPUTE_FLOAT && compute != QMM_COMPUTE_INT8)
      return set_error(QMM_INVALID_ARGUMENT,
                       "compute must be QMM_COMPUTE_FLOAT or QMM_COMPUTE_INT8, got %d", compute);
    if (in->num_threads < 0)
      return set_error(QMM_INVALID_ARGUMENT, "num_threads must be >= 0, got %d",
                       int(in->num_threads));
    o.compute = in->compute;
    o.stream = in->cuda_stream;
    o.num_threads = cap_threads(resolve_threads(in->num_threads));
  } else {
    o.num_threads = cap_threads(resolve_threads(0));
  }
  *out = o;
  return QMM_OK;
}

}  // namespace qmm
