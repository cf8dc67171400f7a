// The C entry points. Each one clears the thread's status, validates once, dispatches, and
// turns any C++ exception into a status: nothing crosses the C boundary.
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "core/backend.h"
#include "core/backends.h"
#include "core/cpu_features.h"
#include "core/numeric.h"
#include "core/threading.h"
#include "core/validate.h"
#include "qmatmul/qmatmul.h"

struct qmm_packed {
  const qmm::Backend* backend;
  qmm::PackedWeights weights;
};

namespace qmm {
namespace {

thread_local qmm_status t_status = QMM_OK;
thread_local char t_message[512] = "";

void clear_status() {
  t_status = QMM_OK;
  t_message[0] = '\0';
}

template <class F>
qmm_status guarded(F&& body) {
  clear_status();
  try {
    qmm_status s = body();
    if (s != QMM_OK && t_status == QMM_OK) t_status = s;  // a path that forgot a message
    return s;
  } catch (const std::bad_alloc&) {
    return set_error(QMM_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return set_error(QMM_INTERNAL, "internal error: %s", e.what());
  } catch (...) {
    return set_error(QMM_INTERNAL, "internal error (unknown exception)");
  }
}

// Y = 0 on the host for K == 0.
void write_zeros(const Problem& p) {
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n) store_from_f32(p.y, m * p.ldy + n, p.y_dtype, 0.0f);
}

qmm_status run_problem(const Problem& p, const Options& o, const char* requested) {
  const Backend* b = select_backend(p, o, requested);
  if (!b) return t_status;
  if (p.M == 0 || p.N == 0) return QMM_OK;
  if (p.K == 0 && !p.device) {
    write_zeros(p);
    return QMM_OK;
  }
  return b->run(p, o);
}

}  // namespace

qmm_status set_error(qmm_status status, const char* fmt, ...) {
  t_status = status;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(t_message, sizeof(t_message), fmt, ap);
  va_end(ap);
  return status;
}

}  // namespace qmm

using namespace qmm;

extern "C" {

void qmm_problem_init(qmm_problem* p) {
  if (!p) return;
  std::memset(p, 0, sizeof(*p));
  p->x_dtype = QMM_DTYPE_F16;
  p->y_dtype = QMM_DTYPE_F16;
  p->group_size = -1;
  p->bits = 4;
}

void qmm_options_init(qmm_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof(*o));
  o->compute = QMM_COMPUTE_FLOAT;
}

qmm_status qmm_matmul(const qmm_problem* problem, const qmm_options* options) {
  return guarded([&]() -> qmm_status {
    Problem p;
    Options o;
    qmm_status s = validate_problem(problem, kNeedWeights | kNeedActivations, &p);
    if (s != QMM_OK) return s;
    if ((s = validate_options(options, &o)) != QMM_OK) return s;
    return run_problem(p, o, options ? options->backend : nullptr);
  });
}

void quantizedMatMul(const void* input, const int8_t* weights, const float* scales,
                     const int8_t* zeroPoints, void* output, int M, int N, int K, int groupSize,
                     int bits) {
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = M;
  p.N = N;
  p.K = K;
  p.x = input;
  p.w = weights;
  p.scales = scales;
  p.zero_points = zeroPoints;
  p.y = output;
  p.group_size = groupSize;
  p.bits = bits;
  qmm_matmul(&p, nullptr);
}

qmm_status qmm_last_status(void) { return t_status; }
const char* qmm_last_error(void) { return t_message; }

const char* qmm_status_string(qmm_status s) {
  switch (s) {
    case QMM_OK: return "OK";
    case QMM_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case QMM_UNSUPPORTED: return "UNSUPPORTED";
    case QMM_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case QMM_CUDA_ERROR: return "CUDA_ERROR";
    case QMM_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN_STATUS";
}

qmm_status qmm_pack(const qmm_problem* weights, const qmm_options* options, qmm_packed** packed) {
  return guarded([&]() -> qmm_status {
    if (!packed) return set_error(QMM_INVALID_ARGUMENT, "packed (the output handle pointer) is NULL");
    *packed = nullptr;
    Problem p;
    Options o;
    qmm_status s = validate_problem(weights, kNeedWeights, &p);
    if (s != QMM_OK) return s;
    if ((s = validate_options(options, &o)) != QMM_OK) return s;
    // Choose for the weights on this memory: without Backend::defer, which passes single calls
    // on by their row count, while the layout serves calls of every row count.
    const Backend* b = select_backend(p, o, options ? options->backend : nullptr,
                                      /*allow_defer=*/false);
    if (!b) return qmm_last_status();
    auto* h = new qmm_packed{b, PackedWeights{}};
    h->weights.N = p.N;
    h->weights.K = p.K;
    h->weights.group_size = p.group_size;
    h->weights.groups = p.groups;
    h->weights.bits = p.bits;
    h->weights.has_zp = p.zp != nullptr;
    h->weights.device = p.device;
    s = b->pack ? b->pack(p, o, &h->weights) : default_pack(p, o, &h->weights);
    if (s != QMM_OK) {
      if (h->weights.release) h->weights.release(h->weights);
      delete h;
      return s;
    }
    *packed = h;
    return QMM_OK;
  });
}

qmm_status qmm_matmul_packed(const qmm_packed* packed, const qmm_problem* problem,
                             const qmm_options* options) {
  return guarded([&]() -> qmm_status {
    if (!packed) return set_error(QMM_INVALID_ARGUMENT, "packed is NULL");
    Problem p;
    Options o;
    qmm_status s = validate_problem(problem, kNeedActivations, &p);
    if (s != QMM_OK) return s;
    if ((s = validate_options(options, &o)) != QMM_OK) return s;
    const PackedWeights& pw = packed->weights;
    if (p.N != pw.N)
      return set_error(QMM_INVALID_ARGUMENT, "N=%lld does not match the packed weights' N=%lld",
                       (long long)p.N, (long long)pw.N);
    if (p.K != pw.K)
      return set_error(QMM_INVALID_ARGUMENT, "K=%lld does not match the packed weights' K=%lld",
                       (long long)p.K, (long long)pw.K);
    if (p.bits != pw.bits)
      return set_error(QMM_INVALID_ARGUMENT, "bits=%d does not match the packed weights' bits=%d",
                       p.bits, pw.bits);
    if (p.group_size != pw.group_size)
      return set_error(QMM_INVALID_ARGUMENT,
                       "group_size=%lld does not match the packed weights' group_size=%lld",
                       (long long)problem->group_size, (long long)pw.group_size);
    const char* req = options ? options->backend : nullptr;
    if (req && *req && std::strcmp(req, "auto") != 0 && std::strcmp(req, packed->backend->name) != 0)
      return set_error(QMM_INVALID_ARGUMENT,
                       "backend '%s' was requested but the weights were packed by '%s'", req,
                       packed->backend->name);
    if (p.device != pw.device && p.M > 0 && p.N > 0)
      return set_error(QMM_INVALID_ARGUMENT,
                       "x/y are %s memory but the packed weights live in %s memory",
                       p.device ? "CUDA device" : "host", pw.device ? "CUDA device" : "host");
    p.device = pw.device;
    p.group_size = pw.group_size;
    p.groups = pw.groups;
    if (!packed->backend->supports(with_packed_weights(pw, p), o))
      return set_error(QMM_UNSUPPORTED, "backend '%s' (which packed the weights) does not support "
                       "compute=%s for this problem", packed->backend->name,
                       o.compute == QMM_COMPUTE_INT8 ? "int8" : "float");
    if (p.M == 0 || p.N == 0) return QMM_OK;
    if (p.K == 0 && !p.device) {
      write_zeros(p);
      return QMM_OK;
    }
    return packed->backend->run_packed ? packed->backend->run_packed(pw, p, o)
                                       : default_run_packed(*packed->backend, pw, p, o);
  });
}

void qmm_packed_free(qmm_packed* packed) {
  if (!packed) return;
  try {
    if (packed->weights.release) packed->weights.release(packed->weights);
  } catch (...) {
  }
  delete packed;
}

const char* qmm_packed_backend(const qmm_packed* packed) {
  return packed ? packed->backend->name : nullptr;
}
size_t qmm_packed_nbytes(const qmm_packed* packed) { return packed ? packed->weights.nbytes : 0; }

int qmm_backend_count(void) { return backend_count(); }
const char* qmm_backend_name(int i) {
  return (i >= 0 && i < backend_count()) ? backend_at(i).name : nullptr;
}
int qmm_backend_available(int i) {
  if (i < 0 || i >= backend_count()) return 0;
  try {
    return backend_available(i) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}
int qmm_backend_is_device(int i) {
  return (i >= 0 && i < backend_count() && backend_at(i).device) ? 1 : 0;
}

const char* qmm_select_backend(const qmm_problem* problem, const qmm_options* options) {
  const Backend* chosen = nullptr;
  guarded([&]() -> qmm_status {
    Problem p;
    Options o;
    qmm_status s = validate_problem(problem, kNeedWeights | kNeedActivations, &p);
    if (s != QMM_OK) return s;
    if ((s = validate_options(options, &o)) != QMM_OK) return s;
    chosen = select_backend(p, o, options ? options->backend : nullptr);
    return chosen ? QMM_OK : qmm_last_status();
  });
  return chosen ? chosen->name : nullptr;
}

const char* qmm_cpu_features(void) {
  try {
    return cpu_features().text.c_str();
  } catch (...) {
    return "";
  }
}

const char* qmm_gpu_features(void) {
  for (int i = 0; i < backend_count(); ++i) {
    const Backend& b = backend_at(i);
    if (b.device_features) {
      try {
        return b.device_features();
      } catch (...) {
        return "";
      }
    }
  }
  return "";
}

void qmm_set_num_threads(int n) { set_num_threads(n); }
int qmm_get_num_threads(void) { return get_num_threads(); }

#define QMM_STR2(x) #x
#define QMM_STR(x) QMM_STR2(x)
const char* qmm_version(void) {
  return QMM_STR(QMM_VERSION_MAJOR) "." QMM_STR(QMM_VERSION_MINOR) "." QMM_STR(QMM_VERSION_PATCH);
}
int qmm_version_number(void) {
  return QMM_VERSION_MAJOR * 10000 + QMM_VERSION_MINOR * 100 + QMM_VERSION_PATCH;
}

}  // extern "C"
