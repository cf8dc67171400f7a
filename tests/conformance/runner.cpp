// Conformance runner: reads the vectors written by `python -m qmatmul.conformance DIR` (format in
// FORMAT.md) and checks every compiled-and-available backend through the C API, one line per
// case and backend, then a summary. Builds for any target without Python.
//
//   qmm_conformance DIR [--backend NAME] [--quiet]
#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "qmatmul/qmatmul.h"

#if defined(QMM_RUNNER_CUDA)
#include <cuda_runtime.h>
#endif

namespace {

struct Case {
  std::string file, name;
  int64_t M, N, K, group_size, ldx, ldy;
  int32_t bits, has_zp, x_dtype, y_dtype, compute, check;
  double bound;
  std::vector<uint8_t> x, w, zp;
  std::vector<float> scales;
  std::vector<double> ref, tol;
};

size_t esize(int32_t dt) { return dt == 2 ? 4 : 2; }

bool read_exact(FILE* f, void* dst, size_t n) { return n == 0 || std::fread(dst, 1, n, f) == n; }

bool load(const std::string& path, Case* c) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[8];
  int64_t dims[6];
  int32_t ints[6];
  int32_t name_len = 0;
  bool ok = read_exact(f, magic, 8) && std::memcmp(magic, "QMMCONF1", 8) == 0 &&
            read_exact(f, dims, sizeof dims) && read_exact(f, ints, sizeof ints) &&
            read_exact(f, &c->bound, 8) && read_exact(f, &name_len, 4) && name_len >= 0 &&
            name_len < 4096;
  if (ok) {
    c->file = path;
    c->M = dims[0], c->N = dims[1], c->K = dims[2], c->group_size = dims[3];
    c->ldx = dims[4], c->ldy = dims[5];
    c->bits = ints[0], c->has_zp = ints[1], c->x_dtype = ints[2], c->y_dtype = ints[3];
    c->compute = ints[4], c->check = ints[5];
    c->name.resize(size_t(name_len));
    ok = read_exact(f, &c->name[0], size_t(name_len));
  }
  if (ok) {
    const int64_t g = c->group_size == -1 ? c->K : c->group_size;
    const int64_t G = (c->K > 0 && g > 0) ? c->K / g : 0;
    c->x.resize(size_t(c->M * c->ldx) * esize(c->x_dtype));
    c->w.resize(size_t(c->N * (c->bits == 8 ? c->K : c->K / 2)));
    c->scales.resize(size_t(c->N * G));
    c->zp.resize(c->has_zp ? size_t(c->N * G) : 0);
    c->ref.resize(size_t(c->M * c->N));
    c->tol.resize(c->check == 1 ? size_t(c->M * c->N) : 0);
    ok = read_exact(f, c->x.data(), c->x.size()) && read_exact(f, c->w.data(), c->w.size()) &&
         read_exact(f, c->scales.data(), c->scales.size() * 4) &&
         read_exact(f, c->zp.data(), c->zp.size()) &&
         read_exact(f, c->ref.data(), c->ref.size() * 8) &&
         read_exact(f, c->tol.data(), c->tol.size() * 8);
  }
  std::fclose(f);
  return ok;
}

double to_double(const std::vector<uint8_t>& y, size_t i, int32_t dt) {
  if (dt == 2) {
    float v;
    std::memcpy(&v, &y[i * 4], 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, &y[i * 2], 2);
  if (dt == 1) {
    uint32_t u = uint32_t(h) << 16;
    float v;
    std::memcpy(&v, &u, 4);
    return v;
  }
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 31) return m ? NAN : s * INFINITY;
  if (e == 0) return s * std::ldexp(double(m), -24);
  return s * std::ldexp(double(m | 0x400), e - 25);
}

void poison(std::vector<uint8_t>& y, int32_t dt) {
  const size_t n = y.size() / esize(dt);
  for (size_t i = 0; i < n; ++i) {
    if (dt == 2) {
      const float v = NAN;
      std::memcpy(&y[i * 4], &v, 4);
    } else {
      const uint16_t v = dt == 1 ? 0x7fc0 : 0x7e00;
      std::memcpy(&y[i * 2], &v, 2);
    }
  }
}

#if defined(QMM_RUNNER_CUDA)
// Device copies of a case's arrays for device backends.
struct DeviceCopy {
  void *x = nullptr, *w = nullptr, *s = nullptr, *z = nullptr, *y = nullptr;
  ~DeviceCopy() {
    for (void* p : {x, w, s, z, y}) cudaFree(p);
  }
  static void* put(const void* src, size_t n) {
    void* d = nullptr;
    if (cudaMalloc(&d, n ? n : 1) != cudaSuccess) return nullptr;
    if (n) cudaMemcpy(d, src, n, cudaMemcpyHostToDevice);
    return d;
  }
};
#endif

// Returns 0 pass, 1 fail, 2 declined. `detail` gets the measured error or the failure reason.
int run_case(const Case& c, const char* backend, bool device, std::string* detail) {
  std::vector<uint8_t> y(size_t(c.M * c.ldy) * esize(c.y_dtype));
  poison(y, c.y_dtype);
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = c.M, p.N = c.N, p.K = c.K;
  p.x = c.x.data(), p.ldx = c.ldx, p.x_dtype = qmm_dtype(c.x_dtype);
  p.w = c.w.data(), p.scales = c.scales.data(), p.zero_points = c.has_zp ? (const int8_t*)c.zp.data() : nullptr;
  p.group_size = c.group_size, p.bits = c.bits;
  p.y = y.data(), p.ldy = c.ldy, p.y_dtype = qmm_dtype(c.y_dtype);
  qmm_options o;
  qmm_options_init(&o);
  o.compute = qmm_compute(c.compute);
  o.backend = backend;
  qmm_status st;
#if defined(QMM_RUNNER_CUDA)
  DeviceCopy d;
  if (device) {
    d.x = DeviceCopy::put(c.x.data(), c.x.size());
    d.w = DeviceCopy::put(c.w.data(), c.w.size());
    d.s = DeviceCopy::put(c.scales.data(), c.scales.size() * 4);
    d.z = c.has_zp ? DeviceCopy::put(c.zp.data(), c.zp.size()) : nullptr;
    d.y = DeviceCopy::put(y.data(), y.size());
    p.x = d.x, p.w = d.w, p.scales = (const float*)d.s, p.zero_points = (const int8_t*)d.z, p.y = d.y;
  }
  st = qmm_matmul(&p, &o);
  if (device) {
    if (cudaDeviceSynchronize() != cudaSuccess) {
      *detail = "CUDA error after the call";
      return 1;
    }
    cudaMemcpy(y.data(), d.y, y.size(), cudaMemcpyDeviceToHost);
  }
#else
  (void)device;
  st = qmm_matmul(&p, &o);
#endif
  if (st == QMM_UNSUPPORTED && std::strcmp(backend, "scalar") != 0) {
    *detail = qmm_last_error();
    return 2;
  }
  if (st != QMM_OK) {
    *detail = std::string(qmm_status_string(st)) + ": " + qmm_last_error();
    return 1;
  }
  double num = 0, den = 0, worst = 0;
  char buf[256];
  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t n = 0; n < c.ldy; ++n) {
      const double v = to_double(y, size_t(m * c.ldy + n), c.y_dtype);
      if (n >= c.N) {
        if (!std::isnan(v)) {
          std::snprintf(buf, sizeof buf, "padding y[%lld, %lld] was written", (long long)m, (long long)n);
          *detail = buf;
          return 1;
        }
        continue;
      }
      const double r = c.ref[size_t(m * c.N + n)];
      if (!std::isfinite(v)) {
        std::snprintf(buf, sizeof buf, "y[%lld, %lld] = %g (ref %g)", (long long)m, (long long)n, v, r);
        *detail = buf;
        return 1;
      }
      const double e = std::fabs(v - r);
      if (c.check == 1) {
        const double t = c.tol[size_t(m * c.N + n)];
        if (e > t) {
          std::snprintf(buf, sizeof buf, "y[%lld, %lld] = %.9g, ref %.9g, |err| %.3g > bound %.3g",
                        (long long)m, (long long)n, v, r, e, t);
          *detail = buf;
          return 1;
        }
        worst = std::max(worst, t > 0 ? e / t : 0.0);
      }
      num += e * e;
      den += r * r;
    }
  }
  const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (c.check == 0 && !(rel <= c.bound)) {
    std::snprintf(buf, sizeof buf, "relative Frobenius error %.3e > bound %.1e", rel, c.bound);
    *detail = buf;
    return 1;
  }
  if (c.check == 0)
    std::snprintf(buf, sizeof buf, "rel.err %.2e", rel);
  else
    std::snprintf(buf, sizeof buf, "rel.err %.2e, worst |err|/bound %.2f", rel, worst);
  *detail = buf;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, only;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (std::strcmp(argv[i], "--quiet") == 0) {
      quiet = true;
    } else if (argv[i][0] != '-' && dir.empty()) {
      dir = argv[i];
    } else {
      std::fprintf(stderr, "usage: %s DIR [--backend NAME] [--quiet]\n", argv[0]);
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: %s DIR [--backend NAME] [--quiet]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".qmv") == 0) files.push_back(dir + "/" + n);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "no .qmv files in %s\n", dir.c_str());
    return 2;
  }
  std::printf("qmatmul %s conformance: cpu features: %s\n", qmm_version(), qmm_cpu_features());
  struct B {
    std::string name;
    bool device;
  };
  std::vector<B> backends;
  for (int i = 0; i < qmm_backend_count(); ++i) {
    const std::string name = qmm_backend_name(i);
    const bool dev = qmm_backend_is_device(i) != 0;
    if (!only.empty() && name != only) continue;
    if (!qmm_backend_available(i)) {
      std::printf("backend %-10s compiled in, not available on this machine: skipped\n", name.c_str());
      continue;
    }
#if !defined(QMM_RUNNER_CUDA)
    if (dev) {
      std::printf("backend %-10s is a device backend; this runner was built without CUDA: skipped\n",
                  name.c_str());
      continue;
    }
#endif
    backends.push_back({name, dev});
  }
  if (backends.empty()) {
    std::fprintf(stderr, "no backend to test%s%s\n", only.empty() ? "" : " named ", only.c_str());
    return 2;
  }
  int passed = 0, failed = 0, declined = 0;
  for (const std::string& path : files) {
    Case c;
    if (!load(path, &c)) {
      std::printf("FAIL     %s: unreadable or malformed vector file\n", path.c_str());
      ++failed;
      continue;
    }
    for (const B& b : backends) {
      std::string detail;
      const int r = run_case(c, b.name.c_str(), b.device, &detail);
      const char* tag = r == 0 ? "PASS" : (r == 1 ? "FAIL" : "DECLINED");
      if (r == 0) ++passed;
      if (r == 1) ++failed;
      if (r == 2) ++declined;
      if (!quiet || r != 0)
        std::printf("%-8s %-10s %s [%s]: %s\n", tag, b.name.c_str(),
                    path.substr(path.find_last_of('/') + 1).c_str(), c.name.c_str(), detail.c_str());
    }
  }
  std::printf("backends tested:");
  for (const B& b : backends) std::printf(" %s", b.name.c_str());
  std::printf("\nconformance: %d cases x %zu backends, %d declined (ran on the next backend)\n",
              int(files.size()), backends.size(), declined);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
