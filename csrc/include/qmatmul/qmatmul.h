/* qmatmul — weight-only quantized matrix multiply (W4A16 / W8A16 and an int8 mode).
 *
 *   Y[m, n] = sum_k X[m, k] * scales[n, k / group_size] * (Wq[n, k] - zp[n, k / group_size])
 *
 * Layouts, compute modes and tolerances: docs/semantics.md in the source tree.
 * Every function here is C-callable, never aborts, never throws and never prints.
 * Functions that return nothing report through qmm_last_status() / qmm_last_error(),
 * which are thread-local and describe the most recent call on the calling thread.
 */
#ifndef QMATMUL_QMATMUL_H_
#define QMATMUL_QMATMUL_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(QMM_BUILDING_LIBRARY)
#    define QMM_API __declspec(dllexport)
#  else
#    define QMM_API __declspec(dllimport)
#  endif
#else
#  define QMM_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define QMM_VERSION_MAJOR 0
#define QMM_VERSION_MINOR 1
#define QMM_VERSION_PATCH 0

typedef enum qmm_status {
  QMM_OK = 0,
  QMM_INVALID_ARGUMENT = 1,
  QMM_UNSUPPORTED = 2,
  QMM_OUT_OF_MEMORY = 3,
  QMM_CUDA_ERROR = 4,
  QMM_INTERNAL = 5
} qmm_status;

typedef enum qmm_dtype {
  QMM_DTYPE_F16 = 0,  /* IEEE binary16 */
  QMM_DTYPE_BF16 = 1, /* bfloat16 */
  QMM_DTYPE_F32 = 2   /* IEEE binary32 */
} qmm_dtype;

typedef enum qmm_compute {
  QMM_COMPUTE_FLOAT = 0, /* dequantize weights, multiply in floating point */
  QMM_COMPUTE_INT8 = 1   /* quantize X per row and weight group to int8, integer dot products */
} qmm_compute;

/* One matmul. Sizes and strides are in elements; the weight row stride is implied
 * (K bytes for bits=8, K/2 bytes for bits=4). */
typedef struct qmm_problem {
  int64_t M, N, K;
  const void* x;             /* [M, K], row stride ldx >= K, dtype x_dtype */
  int64_t ldx;               /* 0 means K */
  qmm_dtype x_dtype;
  const void* w;             /* [N, K] int8, or [N, K/2] bytes of packed int4 (low nibble = even k) */
  const float* scales;       /* [N, K/group_size] */
  const int8_t* zero_points; /* [N, K/group_size], or NULL for symmetric */
  int64_t group_size;        /* positive divisor of K, or -1 for K (per channel) */
  int32_t bits;              /* 4 or 8 */
  void* y;                   /* [M, N], row stride ldy >= N, dtype y_dtype */
  int64_t ldy;               /* 0 means N */
  qmm_dtype y_dtype;
} qmm_problem;

typedef struct qmm_options {
  qmm_compute compute; /* QMM_COMPUTE_FLOAT by default */
  const char* backend; /* NULL or "auto": automatic (or $QMM_BACKEND); else a name from qmm_backend_name() */
  void* cuda_stream;   /* cudaStream_t for device pointers; NULL = default stream */
  int32_t num_threads; /* CPU threads; 0 = qmm_get_num_threads() */
} qmm_options;

/* Fill with defaults: zero sizes, NULL pointers, ld = 0, F16 dtypes, group_size -1, bits 4. */
QMM_API void qmm_problem_init(qmm_problem* problem);
QMM_API void qmm_options_init(qmm_options* options);

/* The extended call. On any error the output is left untouched. */
QMM_API qmm_status qmm_matmul(const qmm_problem* problem, const qmm_options* options);

/* The planned call: fp16 in and out, canonical layouts, float mode, automatic backend.
 * Host pointers run on the CPU, CUDA device pointers on the CUDA backend (default stream). */
QMM_API void quantizedMatMul(const void* input, const int8_t* weights, const float* scales,
                             const int8_t* zeroPoints, void* output, int M, int N, int K,
                             int groupSize, int bits);

/* Status of the last call made on this thread, and its message ("" after success). */
QMM_API qmm_status qmm_last_status(void);
QMM_API const char* qmm_last_error(void);
QMM_API const char* qmm_status_string(qmm_status status);

/* Prepacked weights: a backend-specific copy of (w, scales, zero_points) made once.
 * The problem's x/y/M/dtypes are ignored by qmm_pack; its w/scales/zero_points are copied,
 * so the caller may free them after packing. options->backend chooses the backend (auto: the
 * one qmm_matmul would choose for the options' compute mode on this memory; where automatic
 * dispatch sends M = 1 elsewhere, e.g. int8 avx512 -> avx2 on AMD CPUs, packing keeps the
 * first). */
typedef struct qmm_packed qmm_packed;
QMM_API qmm_status qmm_pack(const qmm_problem* weights, const qmm_options* options,
                            qmm_packed** packed);
/* Matmul on packed weights: the problem's w/scales/zero_points are ignored; its N, K,
 * group_size and bits must equal the packed ones. Runs on the backend that packed. */
QMM_API qmm_status qmm_matmul_packed(const qmm_packed* packed, const qmm_problem* problem,
                                     const qmm_options* options);
QMM_API void qmm_packed_free(qmm_packed* packed);
/* Name of the backend that owns the packed weights, and their size in bytes. */
QMM_API const char* qmm_packed_backend(const qmm_packed* packed);
QMM_API size_t qmm_packed_nbytes(const qmm_packed* packed);

/* Backends compiled in, in priority order (index 0 .. qmm_backend_count()-1). */
QMM_API int qmm_backend_count(void);
QMM_API const char* qmm_backend_name(int index);
QMM_API int qmm_backend_available(int index);  /* 1 if it can run on this machine */
QMM_API int qmm_backend_is_device(int index);  /* 1 for backends that take device pointers */
/* The backend automatic dispatch would use for a problem, or NULL (status set) if none. */
QMM_API const char* qmm_select_backend(const qmm_problem* problem, const qmm_options* options);

/* Features detected on this machine, space separated, e.g. "x86_64 avx2 fma f16c avx512f ..."
 * (CPU), and "sm_90 NVIDIA H100 80GB HBM3" style text for each CUDA device (or ""). */
QMM_API const char* qmm_cpu_features(void);
QMM_API const char* qmm_gpu_features(void);

/* Library-wide CPU thread count (default: OpenMP's default, i.e. OMP_NUM_THREADS or cores).
 * n <= 0 restores the default. */
QMM_API void qmm_set_num_threads(int n);
QMM_API int qmm_get_num_threads(void);

QMM_API const char* qmm_version(void);   /* "0.1.0" */
QMM_API int qmm_version_number(void);    /* major * 10000 + minor * 100 + patch */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QMATMUL_QMATMUL_H_ */
