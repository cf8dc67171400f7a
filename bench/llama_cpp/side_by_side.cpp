// qmatmul beside llama.cpp's ggml Q4_0 matmul, in one process, on the same activations.
//
//   side_by_side THREADS [M,M,...] [BACKEND,...]     (bench/llama_cpp/build.sh builds it)
//
// For (N, K) = (28672, 8192) and (8192, 8192) and each M (default 1, 16, 256):
//   - ggml: W = Q4_0 [N, K] (blocks of 32, fp16 scale, symmetric), X f32 [M, K],
//     Y = ggml_mul_mat(W, X) on the CPU backend with THREADS threads, W in each buffer type the
//     CPU backend offers for it (its "extra" types first: AMX, then the repacked Q4_0 layouts
//     llama.cpp uses for AVX2 / AVX-512; then the plain CPU buffer), as llama.cpp places weights;
//   - qmatmul: int4, group 128, zero points, X f32 [M, K], Y f32, qmm_matmul with each BACKEND
//     (default "auto": the automatic choice), float and int8 modes, THREADS threads.
// SBS_AMX_MAX_M=m skips ggml's AMX buffer above M = m. Progress goes to stderr.
// Weights: random (never zeros), rotated among enough copies to exceed 2x a 300 MB L3 (the
// Xeon's), so every call streams its weights from memory. Times: median over >= 7 calls after
// one call per copy. GB/s counts the weight bytes (Q4_0: 18 bytes per 32 weights; qmatmul:
// 0.5 byte per weight + 5 bytes per group of 128).
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qmatmul/qmatmul.h"

namespace {

constexpr size_t kRotateBytes = size_t(600) << 20;  // > 2x the Xeon's 300 MB L3

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Random bytes, fast (xorshift64*): weights need not be high-quality random, only not zeros.
void fill_bytes(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    const uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = uint8_t(i * 131 + seed);
}

int copies_for(size_t bytes) {
  return int(std::max<size_t>(2, kRotateBytes / bytes + 1));
}

struct Row {
  std::string what;
  double s;
  double wbytes;
};

// Times `call(copy)` rotating over `copies`: one warm-up call per copy, then >= 7 calls and
// >= 0.3 s; the median.
template <class F>
double time_calls(int copies, F call) {
  for (int c = 0; c < copies; ++c) call(c);
  std::vector<double> t;
  const double t_end = now_s() + 0.3;
  for (int i = 0; i < 7 || (now_s() < t_end && i < 200); ++i) {
    const double t0 = now_s();
    call(i % copies);
    t.push_back(now_s() - t0);
  }
  return median(t);
}

// ggml: the weights of one (N, K) in one buffer type, Y = W X for each M.
void run_ggml(ggml_backend_t be, ggml_backend_buffer_type_t buft, int64_t N, int64_t K,
              const std::vector<int64_t>& Ms, const std::vector<std::vector<float>>& xs,
              const std::vector<uint8_t>& host, std::vector<std::vector<Row>>* rows) {
  const size_t wbytes = host.size();
  const int copies = copies_for(wbytes);
  ggml_init_params wp = {ggml_tensor_overhead() * size_t(copies + 8), nullptr, true};
  ggml_context* cw = ggml_init(wp);
  std::vector<ggml_tensor*> w(copies);
  for (int c = 0; c < copies; ++c) w[c] = ggml_new_tensor_2d(cw, GGML_TYPE_Q4_0, K, N);
  ggml_backend_buffer_t bw = ggml_backend_alloc_ctx_tensors_from_buft(cw, buft);
  if (!bw) {
    std::printf("  ggml %s: cannot allocate the weights\n", ggml_backend_buft_name(buft));
    ggml_free(cw);
    return;
  }
  for (int c = 0; c < copies; ++c) ggml_backend_tensor_set(w[c], host.data(), 0, wbytes);
  // SBS_AMX_MAX_M=m: no AMX-buffer runs above M = m (on the GPU machine's Xeon, 2026-12-02,
  // ggml's AMX tile path died of SIGILL at M = 16 and 256 while its M = 1 path ran).
  const char* amx_max = std::getenv("SBS_AMX_MAX_M");
  const bool is_amx = std::strcmp(ggml_backend_buft_name(buft), "AMX") == 0;
  for (size_t mi = 0; mi < Ms.size(); ++mi) {
    const int64_t M = Ms[mi];
    if (is_amx && amx_max && M > std::atoll(amx_max)) {
      std::printf("  ggml AMX M=%lld: skipped (SBS_AMX_MAX_M=%s)\n", (long long)M, amx_max);
      continue;
    }
    std::fprintf(stderr, "  ggml %s M=%lld\n", ggml_backend_buft_name(buft), (long long)M);
    // the activations in the plain CPU buffer; one graph per weight copy
    ggml_init_params ip = {ggml_tensor_overhead() * 2, nullptr, true};
    ggml_context* cx = ggml_init(ip);
    ggml_tensor* xt = ggml_new_tensor_2d(cx, GGML_TYPE_F32, K, M);
    ggml_backend_buffer_t bx = ggml_backend_alloc_ctx_tensors_from_buft(cx, ggml_backend_cpu_buffer_type());
    ggml_backend_tensor_set(xt, xs[mi].data(), 0, size_t(K * M) * 4);
    std::vector<ggml_cgraph*> graphs(copies);
    std::vector<ggml_gallocr_t> allocs(copies);
    std::vector<ggml_context*> cgs(copies);
    bool ok = true;
    for (int c = 0; c < copies; ++c) {
      ggml_init_params gp = {ggml_tensor_overhead() * 8 + ggml_graph_overhead(), nullptr, true};
      cgs[c] = ggml_init(gp);
      ggml_tensor* y = ggml_mul_mat(cgs[c], w[c], xt);
      graphs[c] = ggml_new_graph(cgs[c]);
      ggml_build_forward_expand(graphs[c], y);
      allocs[c] = ggml_gallocr_new(ggml_backend_cpu_buffer_type());
      ok = ok && ggml_gallocr_alloc_graph(allocs[c], graphs[c]);
    }
    const double t = !ok ? 0.0 : time_calls(copies, [&](int c) {
      if (ggml_backend_graph_compute(be, graphs[c]) != GGML_STATUS_SUCCESS) ok = false;
    });
    if (ok)
      (*rows)[mi].push_back({std::string("llama.cpp ggml Q4_0, ") + ggml_backend_buft_name(buft), t,
                             double(wbytes)});
    else
      std::printf("  ggml %s: M=%lld failed\n", ggml_backend_buft_name(buft), (long long)M);
    for (int c = 0; c < copies; ++c) {
      ggml_gallocr_free(allocs[c]);
      ggml_free(cgs[c]);
    }
    ggml_backend_buffer_free(bx);
    ggml_free(cx);
  }
  ggml_backend_buffer_free(bw);
  ggml_free(cw);
}

// qmatmul: int4 g128 + zero points, both modes, each backend of `backends` ("auto": the
// automatic choice), Y = W X for each M.
void run_qmm(int threads, int64_t N, int64_t K, const std::vector<int64_t>& Ms,
             const std::vector<std::vector<float>>& xs, const std::vector<std::string>& backends,
             std::vector<std::vector<Row>>* rows) {
  const int64_t gs = 128, G = K / gs;
  const size_t wbytes = size_t(N) * size_t(K) / 2;
  const int copies = copies_for(wbytes);
  std::vector<std::vector<uint8_t>> w(copies, std::vector<uint8_t>(wbytes));
  std::vector<std::vector<float>> s(copies, std::vector<float>(size_t(N * G)));
  std::vector<std::vector<int8_t>> z(copies, std::vector<int8_t>(size_t(N * G)));
  for (int c = 0; c < copies; ++c) {
    fill_bytes(w[c].data(), wbytes, uint64_t(c) + 11);
    fill_bytes(reinterpret_cast<uint8_t*>(z[c].data()), z[c].size(), uint64_t(c) + 101);
    for (size_t i = 0; i < s[c].size(); ++i) {
      s[c][i] = 0.002f + 0.001f * float((i * 7 + c) % 16);
      z[c][i] = int8_t(int(uint8_t(z[c][i]) % 5) - 2);
    }
  }
  for (size_t mi = 0; mi < Ms.size(); ++mi) {
    const int64_t M = Ms[mi];
    std::vector<float> y(size_t(M * N));
    for (const std::string& b : backends)
      for (int mode = 0; mode < 2; ++mode) {
        qmm_problem p;
        qmm_problem_init(&p);
        p.M = M; p.N = N; p.K = K; p.group_size = gs; p.bits = 4;
        p.x = xs[mi].data(); p.x_dtype = QMM_DTYPE_F32;
        p.y = y.data(); p.y_dtype = QMM_DTYPE_F32;
        p.w = reinterpret_cast<const int8_t*>(w[0].data());
        p.scales = s[0].data();
        p.zero_points = z[0].data();
        qmm_options o;
        qmm_options_init(&o);
        o.num_threads = threads;
        o.compute = mode ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
        if (b != "auto") o.backend = b.c_str();
        std::fprintf(stderr, "  qmatmul %s %s M=%lld\n", b.c_str(), mode ? "int8" : "float",
                     (long long)M);
        const char* chosen = qmm_select_backend(&p, &o);
        if (!chosen) {
          std::printf("  qmatmul %s: %s\n", b.c_str(), qmm_last_error());
          continue;
        }
        bool ok = true;
        const double t = time_calls(copies, [&](int c) {
          p.w = reinterpret_cast<const int8_t*>(w[c].data());
          p.scales = s[c].data();
          p.zero_points = z[c].data();
          if (qmm_matmul(&p, &o) != QMM_OK) ok = false;
        });
        if (!ok) {
          std::printf("  qmatmul call failed: %s\n", qmm_last_error());
          continue;
        }
        (*rows)[mi].push_back({std::string("qmatmul int4 g128+zp, ") + chosen +
                                   (mode ? " int8 mode" : " float mode"),
                               t, double(wbytes) + double(N * G) * 5});
      }
  }
}

void quiet_log(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s THREADS [M,M,...] [BACKEND,...]\n", argv[0]);
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  std::vector<int64_t> Ms = {1, 16, 256};
  if (argc > 2) {
    Ms.clear();
    for (const char* c = argv[2]; *c;) {
      char* e = nullptr;
      const long long v = std::strtoll(c, &e, 10);
      if (e == c) break;
      if (v > 0) Ms.push_back(v);
      c = *e == ',' ? e + 1 : e;
    }
  }
  std::vector<std::string> backends = {"auto"};
  if (argc > 3) {
    backends.clear();
    std::string all = argv[3];
    for (size_t a = 0; a <= all.size();) {
      const size_t e = std::min(all.find(',', a), all.size());
      if (e > a) backends.push_back(all.substr(a, e - a));
      a = e + 1;
    }
  }
  ggml_log_set(quiet_log, nullptr);
  qmm_set_num_threads(threads);
  ggml_backend_t be = ggml_backend_cpu_init();
  ggml_backend_cpu_set_n_threads(be, threads);
  ggml_backend_dev_t dev = ggml_backend_get_device(be);
  auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev),
                                        "ggml_backend_dev_get_extra_bufts"));
  std::vector<ggml_backend_buffer_type_t> bufts;
  if (get_extra)
    for (ggml_backend_buffer_type_t* b = get_extra(dev); b && *b; ++b) bufts.push_back(*b);
  bufts.push_back(ggml_backend_cpu_buffer_type());
  std::printf("threads %d; qmatmul %s, CPU features: %s\nggml %s (%s); weight buffer types:",
              threads, qmm_version(), qmm_cpu_features(), ggml_version(), ggml_commit());
  for (auto* b : bufts) std::printf(" %s", ggml_backend_buft_name(b));
  std::printf("\ncolumns: N K M | kernel | median_us | weight_GB/s | TFLOP/s\n");
  struct NK { int64_t N, K; };
  for (const NK nk : {NK{28672, 8192}, NK{8192, 8192}}) {
    std::vector<std::vector<float>> xs;
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    for (int64_t M : Ms) {
      xs.emplace_back(size_t(M * nk.K));
      for (auto& v : xs.back()) v = nd(rng);
    }
    // Q4_0 blocks: an fp16 scale in [0.002, 0.02), then 16 bytes of nibbles.
    std::vector<uint8_t> host(size_t(nk.N) * size_t(nk.K / 32) * 18);
    fill_bytes(host.data(), host.size(), 5);
    std::uniform_real_distribution<float> ud(0.002f, 0.02f);
    for (size_t b = 0; b < host.size(); b += 18) {
      const ggml_fp16_t d = ggml_fp32_to_fp16(ud(rng));
      std::memcpy(&host[b], &d, 2);
    }
    std::vector<std::vector<Row>> rows(Ms.size());
    for (auto* b : bufts) run_ggml(be, b, nk.N, nk.K, Ms, xs, host, &rows);
    run_qmm(threads, nk.N, nk.K, Ms, xs, backends, &rows);
    for (size_t mi = 0; mi < Ms.size(); ++mi) {
      const double flop = 2.0 * double(Ms[mi]) * double(nk.N) * double(nk.K);
      for (const Row& r : rows[mi])
        std::printf("SBS %lld %lld %lld | %-44s | %10.1f | %7.1f | %7.3f\n", (long long)nk.N,
                    (long long)nk.K, (long long)Ms[mi], r.what.c_str(), r.s * 1e6,
                    r.wbytes / r.s / 1e9, flop / r.s / 1e12);
    }
    std::fflush(stdout);
  }
  ggml_backend_free(be);
  return 0;
}
