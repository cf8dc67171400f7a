// The pybind11 module qmatmul._core: argument plumbing between python/qmatmul and the C API.
// Arrays arrive as raw addresses (NumPy's or a CUDA array's), already checked by the Python
// layer; the C API validates again and its status becomes a Python exception. No math here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qmatmul/qmatmul.h"

namespace py = pybind11;

namespace {

[[noreturn]] void raise_status(qmm_status s) {
  const std::string msg = qmm_last_error();
  switch (s) {
    case QMM_INVALID_ARGUMENT:
    case QMM_UNSUPPORTED: throw py::value_error(msg);
    case QMM_OUT_OF_MEMORY: throw std::bad_alloc();
    default: throw std::runtime_error(std::string(qmm_status_string(s)) + ": " + msg);
  }
}

void* as_ptr(uintptr_t a) { return reinterpret_cast<void*>(a); }

qmm_problem make_problem(int64_t M, int64_t N, int64_t K, uintptr_t x, int64_t ldx, int x_dtype,
                         uintptr_t w, uintptr_t scales, uintptr_t zp, int64_t group_size, int bits,
                         uintptr_t y, int64_t ldy, int y_dtype) {
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = M;
  p.N = N;
  p.K = K;
  p.x = as_ptr(x);
  p.ldx = ldx;
  p.x_dtype = static_cast<qmm_dtype>(x_dtype);
  p.w = as_ptr(w);
  p.scales = static_cast<const float*>(as_ptr(scales));
  p.zero_points = static_cast<const int8_t*>(as_ptr(zp));
  p.group_size = group_size;
  p.bits = bits;
  p.y = as_ptr(y);
  p.ldy = ldy;
  p.y_dtype = static_cast<qmm_dtype>(y_dtype);
  return p;
}

struct OptionsHolder {
  std::string backend;
  qmm_options o;
  OptionsHolder(int compute, const std::string& b, uintptr_t stream, int threads) : backend(b) {
    qmm_options_init(&o);
    o.compute = static_cast<qmm_compute>(compute);
    o.backend = backend.empty() ? nullptr : backend.c_str();
    o.cuda_stream = as_ptr(stream);
    o.num_threads = threads;
  }
};

class Packed {
 public:
  explicit Packed(qmm_packed* h) : h_(h) {}
  ~Packed() { qmm_packed_free(h_); }
  Packed(const Packed&) = delete;
  Packed& operator=(const Packed&) = delete;
  qmm_packed* get() const { return h_; }

 private:
  qmm_packed* h_;
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "qmatmul C API binding (internal; use the qmatmul package)";

  m.def(
      "matmul",
      [](int64_t M, int64_t N, int64_t K, uintptr_t x, int64_t ldx, int x_dtype, uintptr_t w,
         uintptr_t scales, uintptr_t zp, int64_t group_size, int bits, uintptr_t y, int64_t ldy,
         int y_dtype, int compute, const std::string& backend, uintptr_t stream, int threads) {
        qmm_problem p = make_problem(M, N, K, x, ldx, x_dtype, w, scales, zp, group_size, bits, y,
                                     ldy, y_dtype);
        OptionsHolder o(compute, backend, stream, threads);
        qmm_status s;
        {
          py::gil_scoped_release release;
          s = qmm_matmul(&p, &o.o);
        }
        if (s != QMM_OK) raise_status(s);
      });

  py::class_<Packed>(m, "Packed")
      .def_property_readonly("backend", [](const Packed& p) { return std::string(qmm_packed_backend(p.get())); })
      .def_property_readonly("nbytes", [](const Packed& p) { return qmm_packed_nbytes(p.get()); });

  m.def("pack", [](int64_t N, int64_t K, uintptr_t w, uintptr_t scales, uintptr_t zp,
                   int64_t group_size, int bits, int compute, const std::string& backend,
                   uintptr_t stream, int threads) {
    qmm_problem p = make_problem(0, N, K, 0, 0, 0, w, scales, zp, group_size, bits, 0, 0, 0);
    OptionsHolder o(compute, backend, stream, threads);
    qmm_packed* h = nullptr;
    qmm_status s;
    {
      py::gil_scoped_release release;
      s = qmm_pack(&p, &o.o, &h);
    }
    if (s != QMM_OK) raise_status(s);
    return std::make_unique<Packed>(h);
  });

  m.def("matmul_packed",
        [](const Packed& packed, int64_t M, int64_t N, int64_t K, uintptr_t x, int64_t ldx,
           int x_dtype, int64_t group_size, int bits, uintptr_t y, int64_t ldy, int y_dtype,
           int compute, const std::string& backend, uintptr_t stream, int threads) {
          qmm_problem p = make_problem(M, N, K, x, ldx, x_dtype, 0, 0, 0, group_size, bits, y,
                                       ldy, y_dtype);
          OptionsHolder o(compute, backend, stream, threads);
          qmm_status s;
          {
            py::gil_scoped_release release;
            s = qmm_matmul_packed(packed.get(), &p, &o.o);
          }
          if (s != QMM_OK) raise_status(s);
        });

  m.def("select_backend",
        [](int64_t M, int64_t N, int64_t K, uintptr_t x, int x_dtype, uintptr_t w,
           uintptr_t scales, uintptr_t zp, int64_t group_size, int bits, uintptr_t y, int y_dtype,
           int compute, const std::string& backend) {
          qmm_problem p = make_problem(M, N, K, x, 0, x_dtype, w, scales, zp, group_size, bits, y,
                                       0, y_dtype);
          OptionsHolder o(compute, backend, 0, 0);
          const char* name = qmm_select_backend(&p, &o.o);
          if (!name) raise_status(qmm_last_status());
          return std::string(name);
        });

  m.def("data_address", [](const py::array& a) {
    return reinterpret_cast<uintptr_t>(a.data());
  }, "address of a NumPy array's first element");

  m.def("backends", []() {
    std::vector<py::dict> out;
    for (int i = 0; i < qmm_backend_count(); ++i) {
      py::dict d;
      d["name"] = std::string(qmm_backend_name(i));
      d["available"] = qmm_backend_available(i) != 0;
      d["device"] = qmm_backend_is_device(i) != 0;
      out.push_back(d);
    }
    return out;
  });
  m.def("cpu_features", []() { return std::string(qmm_cpu_features()); });
  m.def("gpu_features", []() { return std::string(qmm_gpu_features()); });
  m.def("version", []() { return std::string(qmm_version()); });
  m.def("set_num_threads", [](int n) { qmm_set_num_threads(n); });
  m.def("get_num_threads", []() { return qmm_get_num_threads(); });
  m.attr("DTYPE_F16") = int(QMM_DTYPE_F16);
  m.attr("DTYPE_BF16") = int(QMM_DTYPE_BF16);
  m.attr("DTYPE_F32") = int(QMM_DTYPE_F32);
  m.attr("COMPUTE_FLOAT") = int(QMM_COMPUTE_FLOAT);
  m.attr("COMPUTE_INT8") = int(QMM_COMPUTE_INT8);
#if defined(__clang__)
  m.attr("COMPILER") = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  m.attr("COMPILER") = std::string("gcc ") + __VERSION__;
#else
  m.attr("COMPILER") = std::string("unknown");
#endif
}
