// qmatmul microbenchmarks: qmm_matmul through the C API, for every available backend (or those
// named) x compute mode x the shape suite of python/qmatmul/suite.json (compiled in as
// bench_suite.h), and the measured ceilings they are compared against, in one binary.
//
// Protocol (docs in /work/shared/PERFORMANCE.md, summarised in bench/RESULTS.md):
// - random data, never zeros: weight bytes, scales in [0.005, 0.015], zero points in the bit
//   width's range, activations with |x| in [2^-5, 2);
// - weights come from memory: each case rotates among enough copies of (w, scales, zp) that
//   together they exceed twice the last-level cache (sum of the distinct L3 caches in sysfs; the
//   GPU's L2 for device backends); X and Y are not rotated (they are reused by real layers too);
// - one untimed warm-up call per case, then Google Benchmark's repetitions (default here: 5
//   repetitions of at least 0.5 s, median/min/max reported); CPU cases use wall time, CUDA cases
//   cudaEvent time around a batch of back-to-back calls (one full weight rotation, >= 8 calls),
//   reported per call (manual time);
// - counters: bytes_per_second with PERFORMANCE.md's byte formula
//   (N*K*bits/8 + N*(K/g)*(4 + zp) + M*K*in_size + M*N*out_size), FLOP/s = 2*M*N*K / time, and
//   pct_bw = that byte rate as a percentage of the ceiling measured at start-up: a multi-threaded
//   wide-load streaming read over a buffer of max(1 GiB, 8 x LLC) with the same thread count
//   (CPU backends), a device-to-device copy counting bytes read + written (CUDA backends).
//
// Own flags (the rest are Google Benchmark's, e.g. --benchmark_filter=REGEX):
//   --qmm_suite=quick|full|groups|all   (default quick; all = full + groups)
//   --qmm_backends=a,b                   (default: every available backend)
//   --qmm_compute=float,int8             (default both)
//   --qmm_threads=N                      (default: the library's default)
//   --qmm_max_gflop=X                    (skip cases above X GFLOP; default: none)
//   --qmm_dtype=f16|bf16|f32             (activation and output dtype; default f16)
//   --qmm_probe_mib=N                    (streaming-read buffer size)
#include "qmatmul/qmatmul.h"
#include "bench_suite.h"

#ifdef QMM_BENCH_MINIBENCH
#include "minibench.h"
#else
#include <benchmark/benchmark.h>
#endif

#include <omp.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#ifdef QMM_BENCH_CUDA
#include <cuda_runtime.h>
#endif

namespace {

// ---------------------------------------------------------------- configuration

struct Config {
  std::string suite = "quick";
  std::vector<std::string> backends;  // empty: all available
  std::vector<std::string> computes = {"float", "int8"};
  int threads = 0;
  double max_gflop = 0.0;
  qmm_dtype dtype = QMM_DTYPE_F16;
  size_t probe_bytes = 0;
};
Config g_cfg;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

size_t dtype_size(qmm_dtype d) { return d == QMM_DTYPE_F32 ? 4 : 2; }
const char* dtype_name(qmm_dtype d) {
  return d == QMM_DTYPE_F32 ? "f32" : d == QMM_DTYPE_BF16 ? "bf16" : "f16";
}

// PERFORMANCE.md's byte count, the same function as qmatmul.bench.problem_bytes.
double problem_bytes(int64_t M, int64_t N, int64_t K, int bits, int64_t group_size, bool zp,
                     size_t in_size, size_t out_size) {
  const int64_t g = group_size == -1 ? K : group_size;
  return double(N) * double(K) * bits / 8.0 + double(N) * double(K / g) * (4.0 + (zp ? 1.0 : 0.0)) +
         double(M) * double(K) * double(in_size) + double(M) * double(N) * double(out_size);
}
double problem_flops(int64_t M, int64_t N, int64_t K) { return 2.0 * double(M) * double(N) * double(K); }

// ---------------------------------------------------------------- machine facts

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

size_t parse_size(const std::string& s) {  // "32768K", "1M", "512"
  if (s.empty()) return 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end && (*end == 'K' || *end == 'k')) v *= 1024;
  else if (end && (*end == 'M' || *end == 'm')) v *= 1024 * 1024;
  else if (end && (*end == 'G' || *end == 'g')) v *= 1024.0 * 1024 * 1024;
  return size_t(v);
}

// Sum of the distinct last-level caches (the highest cache level sysfs lists), so a machine
// with several L3 slices (AMD CCXs, two sockets) counts them all.
size_t total_llc_bytes() {
  std::set<std::string> seen;
  size_t total = 0;
  int best_level = 0;
  long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  for (int pass = 0; pass < 2; ++pass) {
    for (long c = 0; c < std::max(1L, ncpu); ++c) {
      for (int idx = 0; idx < 8; ++idx) {
        std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/cache/index" + std::to_string(idx) + "/";
        std::string level = read_text(base + "level");
        if (level.empty()) continue;
        int lv = std::atoi(level.c_str());
        if (pass == 0) { best_level = std::max(best_level, lv); continue; }
        if (lv != best_level) continue;
        std::string key = read_text(base + "shared_cpu_list") + "/" + level;
        if (seen.insert(key).second) total += parse_size(read_text(base + "size"));
      }
    }
  }
  if (total == 0) {
#ifdef _SC_LEVEL3_CACHE_SIZE
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0) total = size_t(l3);
#endif
  }
  if (total == 0) total = size_t(32) << 20;
  return total;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown";
}

std::string git_commit() {  // $QMM_COMMIT if set (copies of the tree without .git), else git
  if (const char* env = std::getenv("QMM_COMMIT"))
    if (*env) return env;
#ifdef QMM_SOURCE_DIR
  std::string cmd = std::string("git -C '") + QMM_SOURCE_DIR + "' rev-parse --short=12 HEAD 2>/dev/null";
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[64] = {0};
    size_t n = std::fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    std::string s(buf, n);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (!s.empty()) return s;
  }
#endif
  return "unknown";
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

// ---------------------------------------------------------------- buffers and random data

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using HostBuf = std::unique_ptr<uint8_t, FreeDeleter>;

// Large buffers are 2 MiB aligned and offered to transparent huge pages, as a model loader's
// weights usually are; the same for the probe, so neither pays TLB misses the other does not.
HostBuf host_alloc(size_t bytes) {
  void* p = nullptr;
  const size_t align = bytes >= (size_t(4) << 20) ? (size_t(2) << 20) : 4096;
  if (posix_memalign(&p, align, std::max<size_t>(bytes, 64)) != 0) return HostBuf();
#ifdef MADV_HUGEPAGE
  if (align > 4096) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return HostBuf(static_cast<uint8_t*>(p));
}

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Random 64-bit words, generated in parallel (and so first-touched by the threads that will
// read them), a fixed function of (seed, position).
template <class F>
void fill_parallel(uint8_t* dst, size_t bytes, uint64_t seed, F&& word_to_bytes) {
  const size_t chunk = size_t(1) << 20;
  const int64_t nchunks = int64_t((bytes + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < nchunks; ++c) {
    uint64_t s = seed * 0x2545F4914F6CDD1Dull + uint64_t(c);
    const size_t begin = size_t(c) * chunk, end = std::min(bytes, begin + chunk);
    for (size_t i = begin; i < end; i += 8) {
      uint64_t w = word_to_bytes(splitmix64(s));
      std::memcpy(dst + i, &w, std::min<size_t>(8, end - i));
    }
  }
}

void fill_bytes(uint8_t* p, size_t n, uint64_t seed) {
  fill_parallel(p, n, seed, [](uint64_t w) { return w; });
}

// zero points in the bit width's range: [-8, 7] for 4 bits, any int8 for 8 bits.
void fill_zero_points(uint8_t* p, size_t n, uint64_t seed, int bits) {
  if (bits == 8) return fill_bytes(p, n, seed);
  fill_parallel(p, n, seed, [](uint64_t w) {
    uint64_t lanes = w & 0x0F0F0F0F0F0F0F0Full;  // 0..15 per byte
    return lanes + 0xF8F8F8F8F8F8F8F8ull;        // -8 per byte (no carries: 15 + 0xF8 < 0x108)
  });
}

void fill_scales(float* p, size_t n, uint64_t seed) {
  fill_parallel(reinterpret_cast<uint8_t*>(p), n * 4, seed, [](uint64_t w) {
    uint64_t out = 0;
    for (int h = 0; h < 2; ++h) {
      float f = 0.005f + 0.01f * float((w >> (32 * h)) & 0xFFFFFF) / float(1 << 24);
      uint32_t b;
      std::memcpy(&b, &f, 4);
      out |= uint64_t(b) << (32 * h);
    }
    return out;
  });
}

// Activations with |x| in [2^-5, 2), random sign and mantissa, built from bits directly.
void fill_activations(uint8_t* p, size_t elems, qmm_dtype dt, uint64_t seed) {
  if (dt == QMM_DTYPE_F32) {
    fill_parallel(p, elems * 4, seed, [](uint64_t w) {
      uint64_t out = 0;
      for (int h = 0; h < 2; ++h) {
        uint32_t r = uint32_t(w >> (32 * h));
        uint32_t b = (r & 0x80000000u) | ((122u + (r >> 23) % 5u) << 23) | (r & 0x7FFFFFu);
        out |= uint64_t(b) << (32 * h);
      }
      return out;
    });
    return;
  }
  const bool half = dt == QMM_DTYPE_F16;
  fill_parallel(p, elems * 2, seed, [half](uint64_t w) {
    uint64_t out = 0;
    for (int q = 0; q < 4; ++q) {
      uint32_t r = uint32_t((w >> (16 * q)) & 0xFFFF);
      uint32_t e = (r >> 10) % 5u;
      uint32_t b = half ? ((r & 0x8000u) | ((10u + e) << 10) | (r & 0x3FFu))
                        : ((r & 0x8000u) | ((122u + e) << 7) | (r & 0x7Fu));
      out |= uint64_t(b) << (16 * q);
    }
    return out;
  });
}

// ---------------------------------------------------------------- streaming-read probe

// Eight independent accumulators, so the loads and not the adds limit the loop. On x86 the
// AVX2 version (explicit intrinsics: GCC's generic 64-byte vectors spill to the stack in an AVX2
// clone and read ~25% slower) is used whenever the CPU has AVX2, AVX-512 machines included;
// 32-byte loads from 16 threads saturate the Xeon's memory as well.
uint64_t read_chunk_generic(const uint8_t* p, size_t bytes) {
  const uint64_t* v = reinterpret_cast<const uint64_t*>(p);
  const size_t n = bytes / 64;
  uint64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < n; ++i)
    for (int j = 0; j < 8; ++j) a[j] += v[8 * i + j];
  uint64_t s = 0;
  for (int j = 0; j < 8; ++j) s += a[j];
  return s;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"), noinline)) uint64_t read_chunk_avx2(const uint8_t* p, size_t bytes) {
  const __m256i* v = reinterpret_cast<const __m256i*>(p);
  const size_t n = bytes / 256;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (size_t i = 0; i < n; ++i, v += 8) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(v + 0));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + 1));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + 2));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + 3));
    a4 = _mm256_add_epi64(a4, _mm256_load_si256(v + 4));
    a5 = _mm256_add_epi64(a5, _mm256_load_si256(v + 5));
    a6 = _mm256_add_epi64(a6, _mm256_load_si256(v + 6));
    a7 = _mm256_add_epi64(a7, _mm256_load_si256(v + 7));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)),
                               _mm256_add_epi64(_mm256_add_epi64(a4, a5), _mm256_add_epi64(a6, a7)));
  alignas(32) uint64_t r[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(r), s);
  return r[0] + r[1] + r[2] + r[3];
}
#endif

uint64_t read_chunk(const uint8_t* p, size_t bytes) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return read_chunk_avx2(p, bytes);
#endif
  return read_chunk_generic(p, bytes);
}

struct ProbeBuffer {
  HostBuf buf;
  size_t bytes = 0;
};
ProbeBuffer& probe_buffer() {
  static ProbeBuffer pb;
  if (!pb.buf) {
    pb.bytes = g_cfg.probe_bytes;
    pb.bytes &= ~size_t(256 * 64 - 1);
    pb.buf = host_alloc(pb.bytes);
    if (pb.buf) fill_bytes(pb.buf.get(), pb.bytes, 7);
  }
  return pb;
}

int bench_threads() { return g_cfg.threads > 0 ? g_cfg.threads : qmm_get_num_threads(); }

// One pass over the buffer with T threads, each reading a contiguous slice; seconds.
double stream_read_pass(const ProbeBuffer& pb, int threads, uint64_t* sink) {
  const size_t slice = (pb.bytes / size_t(threads)) & ~size_t(255);
  uint64_t total = 0;
  double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    const int t = omp_get_thread_num();
    total += read_chunk(pb.buf.get() + size_t(t) * slice, slice);
  }
  double t1 = omp_get_wtime();
  *sink += total;
  return t1 - t0;
}

// The ceiling: best of several passes after one warm-up pass; bytes/s.
double measure_stream_read(int threads) {
  ProbeBuffer& pb = probe_buffer();
  if (!pb.buf) return 0.0;
  uint64_t sink = 0;
  stream_read_pass(pb, threads, &sink);
  double best = 1e30;
  for (int r = 0; r < 7; ++r) best = std::min(best, stream_read_pass(pb, threads, &sink));
  benchmark::DoNotOptimize(sink);
  const size_t slice = (pb.bytes / size_t(threads)) & ~size_t(255);
  return double(slice) * threads / best;
}

double g_host_bw = 0.0;    // bytes/s, streaming read
double g_device_bw = 0.0;  // bytes/s, device copy (read + write)
size_t g_llc = 0;

void BM_stream_read(benchmark::State& st, int threads) {
  ProbeBuffer& pb = probe_buffer();
  if (!pb.buf) {
    st.SkipWithError("could not allocate the probe buffer");
    return;
  }
  uint64_t sink = 0;
  const size_t slice = (pb.bytes / size_t(threads)) & ~size_t(255);
  for (auto _ : st) stream_read_pass(pb, threads, &sink);
  benchmark::DoNotOptimize(sink);
  st.counters["bytes_per_second"] = benchmark::Counter(double(slice) * threads, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------- cases

struct Case {
  std::string shape;
  int64_t M, N, K;
  int bits;
  int64_t group_size;
  bool zp;
  std::string backend;
  bool device;
  qmm_compute compute;
  bool warmed = false;
};

struct WeightKey {
  int64_t N, K;
  int bits;
  int64_t group_size;
  bool zp;
  bool operator==(const WeightKey& o) const {
    return N == o.N && K == o.K && bits == o.bits && group_size == o.group_size && zp == o.zp;
  }
};

size_t copies_for(size_t bytes_per_copy, size_t cache_bytes) {
  // total > 2 x cache, and at least two copies so consecutive calls never share an address
  return std::max<size_t>(2, (2 * cache_bytes) / std::max<size_t>(bytes_per_copy, 1) + 1);
}

struct HostPool {
  WeightKey key{0, 0, 0, 0, false};
  size_t w_bytes = 0, g = 0;
  std::vector<HostBuf> w, scales, zp;
};

HostPool& host_pool(const Case& c) {
  static HostPool pool;
  WeightKey key{c.N, c.K, c.bits, c.group_size, c.zp};
  if (pool.w.empty() || !(pool.key == key)) {
    pool = HostPool();
    pool.key = key;
    const int64_t g = c.group_size == -1 ? c.K : c.group_size;
    pool.g = size_t(c.K / g);
    pool.w_bytes = size_t(c.N) * size_t(c.K) * size_t(c.bits) / 8;
    const size_t per_copy = pool.w_bytes + size_t(c.N) * pool.g * (4 + (c.zp ? 1 : 0));
    const size_t n = copies_for(per_copy, g_llc);
    for (size_t i = 0; i < n; ++i) {
      pool.w.push_back(host_alloc(pool.w_bytes));
      pool.scales.push_back(host_alloc(size_t(c.N) * pool.g * 4));
      if (c.zp) pool.zp.push_back(host_alloc(size_t(c.N) * pool.g));
      if (!pool.w.back() || !pool.scales.back() || (c.zp && !pool.zp.back())) {
        pool = HostPool();
        return pool;
      }
      fill_bytes(pool.w.back().get(), pool.w_bytes, 1000 + i);
      fill_scales(reinterpret_cast<float*>(pool.scales.back().get()), size_t(c.N) * pool.g, 2000 + i);
      if (c.zp) fill_zero_points(pool.zp.back().get(), size_t(c.N) * pool.g, 3000 + i, c.bits);
    }
  }
  return pool;
}

struct HostIO {
  int64_t M = 0, N = 0, K = 0;
  qmm_dtype dt = QMM_DTYPE_F16;
  HostBuf x, y;
};
HostIO& host_io(const Case& c) {
  static HostIO io;
  if (!io.x || io.M != c.M || io.N != c.N || io.K != c.K || io.dt != g_cfg.dtype) {
    io = HostIO();
    io.M = c.M, io.N = c.N, io.K = c.K, io.dt = g_cfg.dtype;
    io.x = host_alloc(size_t(c.M) * size_t(c.K) * dtype_size(io.dt));
    io.y = host_alloc(size_t(c.M) * size_t(c.N) * dtype_size(io.dt));
    if (io.x) fill_activations(io.x.get(), size_t(c.M) * size_t(c.K), io.dt, 42);
    if (io.y) std::memset(io.y.get(), 0xFF, size_t(c.M) * size_t(c.N) * dtype_size(io.dt));
  }
  return io;
}

void set_counters(benchmark::State& st, const Case& c, double ceiling_bw, size_t copies) {
  const size_t io = dtype_size(g_cfg.dtype);
  const double bytes = problem_bytes(c.M, c.N, c.K, c.bits, c.group_size, c.zp, io, io);
  using benchmark::Counter;
  st.counters["bytes_per_second"] = Counter(bytes, Counter::kIsIterationInvariantRate);
  st.counters["FLOP/s"] = Counter(problem_flops(c.M, c.N, c.K), Counter::kIsIterationInvariantRate);
  if (ceiling_bw > 0)
    st.counters["pct_bw"] = Counter(100.0 * bytes / ceiling_bw, Counter::kIsIterationInvariantRate);
  st.SetLabel("copies=" + std::to_string(copies));
}

void fill_problem(qmm_problem& p, const Case& c, const void* x, void* y) {
  qmm_problem_init(&p);
  p.M = c.M, p.N = c.N, p.K = c.K;
  p.x = x, p.x_dtype = g_cfg.dtype;
  p.y = y, p.y_dtype = g_cfg.dtype;
  p.group_size = c.group_size;
  p.bits = c.bits;
}

void BM_host(benchmark::State& st, Case* c) {
  HostPool& pool = host_pool(*c);
  HostIO& io = host_io(*c);
  if (pool.w.empty() || !io.x || !io.y) {
    st.SkipWithError("out of host memory for this case");
    return;
  }
  qmm_problem p;
  fill_problem(p, *c, io.x.get(), io.y.get());
  qmm_options o;
  qmm_options_init(&o);
  o.compute = c->compute;
  o.backend = c->backend.c_str();
  o.num_threads = g_cfg.threads;
  const size_t n = pool.w.size();
  auto point = [&](size_t i) {
    p.w = pool.w[i].get();
    p.scales = reinterpret_cast<const float*>(pool.scales[i].get());
    p.zero_points = c->zp ? reinterpret_cast<const int8_t*>(pool.zp[i].get()) : nullptr;
  };
  static size_t next = 0;
  if (!c->warmed) {
    point(next++ % n);
    if (qmm_matmul(&p, &o) != QMM_OK) {
      st.SkipWithError(qmm_last_error());
      return;
    }
    c->warmed = true;
  }
  for (auto _ : st) {
    point(next++ % n);
    if (qmm_matmul(&p, &o) != QMM_OK) {
      st.SkipWithError(qmm_last_error());
      break;
    }
  }
  set_counters(st, *c, g_host_bw, n);
}

#ifdef QMM_BENCH_CUDA
bool cuda_ok(cudaError_t e, benchmark::State& st) {
  if (e == cudaSuccess) return true;
  st.SkipWithError(cudaGetErrorString(e));
  return false;
}

struct DevBuf {
  void* p = nullptr;
  DevBuf() = default;
  explicit DevBuf(size_t n) { if (cudaMalloc(&p, std::max<size_t>(n, 256)) != cudaSuccess) p = nullptr; }
  DevBuf(DevBuf&& o) noexcept : p(o.p) { o.p = nullptr; }
  DevBuf& operator=(DevBuf&& o) noexcept { std::swap(p, o.p); return *this; }
  ~DevBuf() { if (p) cudaFree(p); }
};

size_t g_l2 = 0;
cudaStream_t g_stream = nullptr;

struct DevicePool {
  WeightKey key{0, 0, 0, 0, false};
  std::vector<DevBuf> w, scales, zp;
  int64_t M = 0;
  qmm_dtype dt = QMM_DTYPE_F16;
  DevBuf x, y;
};

DevicePool& device_pool(const Case& c) {
  static DevicePool pool;
  WeightKey key{c.N, c.K, c.bits, c.group_size, c.zp};
  if (pool.w.empty() || !(pool.key == key)) {
    pool = DevicePool();
    HostPool& hp = host_pool(c);  // random contents, copied to every device copy
    if (hp.w.empty()) return pool;
    pool.key = key;
    const size_t sbytes = size_t(c.N) * hp.g * 4, zbytes = size_t(c.N) * hp.g;
    const size_t n = copies_for(hp.w_bytes + sbytes + (c.zp ? zbytes : 0), g_l2);
    for (size_t i = 0; i < n; ++i) {
      const size_t h = i % hp.w.size();
      pool.w.emplace_back(hp.w_bytes);
      pool.scales.emplace_back(sbytes);
      if (c.zp) pool.zp.emplace_back(zbytes);
      if (!pool.w.back().p || !pool.scales.back().p || (c.zp && !pool.zp.back().p)) {
        pool = DevicePool();
        return pool;
      }
      cudaMemcpy(pool.w.back().p, hp.w[h].get(), hp.w_bytes, cudaMemcpyHostToDevice);
      cudaMemcpy(pool.scales.back().p, hp.scales[h].get(), sbytes, cudaMemcpyHostToDevice);
      if (c.zp) cudaMemcpy(pool.zp.back().p, hp.zp[h].get(), zbytes, cudaMemcpyHostToDevice);
    }
  }
  if (!pool.x.p || pool.M != c.M || pool.dt != g_cfg.dtype) {
    HostIO& io = host_io(c);
    pool.M = c.M, pool.dt = g_cfg.dtype;
    const size_t xb = size_t(c.M) * size_t(c.K) * dtype_size(pool.dt);
    pool.x = DevBuf(xb);
    pool.y = DevBuf(size_t(c.M) * size_t(c.N) * dtype_size(pool.dt));
    if (pool.x.p && io.x) cudaMemcpy(pool.x.p, io.x.get(), xb, cudaMemcpyHostToDevice);
  } else if (pool.y.p == nullptr) {
    pool.y = DevBuf(size_t(c.M) * size_t(c.N) * dtype_size(pool.dt));
  }
  return pool;
}

void BM_device(benchmark::State& st, Case* c) {
  DevicePool& pool = device_pool(*c);
  if (pool.w.empty() || !pool.x.p || !pool.y.p) {
    st.SkipWithError("out of device memory for this case");
    return;
  }
  qmm_problem p;
  fill_problem(p, *c, pool.x.p, pool.y.p);
  qmm_options o;
  qmm_options_init(&o);
  o.compute = c->compute;
  o.backend = c->backend.c_str();
  o.cuda_stream = g_stream;
  const size_t n = pool.w.size();
  auto point = [&](size_t i) {
    p.w = pool.w[i].p;
    p.scales = static_cast<const float*>(pool.scales[i].p);
    p.zero_points = c->zp ? static_cast<const int8_t*>(pool.zp[i].p) : nullptr;
  };
  static size_t next = 0;
  if (!c->warmed) {
    for (int r = 0; r < 3; ++r) {
      point(next++ % n);
      if (qmm_matmul(&p, &o) != QMM_OK) {
        st.SkipWithError(qmm_last_error());
        return;
      }
    }
    if (!cuda_ok(cudaStreamSynchronize(g_stream), st)) return;
    c->warmed = true;
  }
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  // One iteration = a batch of back-to-back calls, one full rotation (at least 8 calls), between
  // two events; its time is reported per call, so launch latency hides behind queued work as it
  // does in a model's forward pass.
  const size_t batch = std::max<size_t>(n, 8);
  for (auto _ : st) {
    cudaEventRecord(e0, g_stream);
    qmm_status s = QMM_OK;
    for (size_t b = 0; b < batch && s == QMM_OK; ++b) {
      point(next++ % n);
      s = qmm_matmul(&p, &o);
    }
    cudaEventRecord(e1, g_stream);
    if (s != QMM_OK) {
      st.SkipWithError(qmm_last_error());
      break;
    }
    if (!cuda_ok(cudaEventSynchronize(e1), st)) break;
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    st.SetIterationTime(double(ms) * 1e-3 / double(batch));
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  set_counters(st, *c, g_device_bw, n);
}

// Device-to-device copy of max(1 GiB, 16 x L2); bytes read + written, best of 10 (bytes/s).
struct CopyProbe {
  DevBuf a, b;
  size_t bytes = 0;
};
CopyProbe& copy_probe() {
  static CopyProbe cp;
  if (!cp.a.p) {
    cp.bytes = std::max<size_t>(size_t(1) << 30, 16 * g_l2);
    cp.a = DevBuf(cp.bytes);
    cp.b = DevBuf(cp.bytes);
    if (cp.a.p) cudaMemset(cp.a.p, 0x5A, cp.bytes);
  }
  return cp;
}
double copy_once(CopyProbe& cp, cudaEvent_t e0, cudaEvent_t e1) {
  cudaEventRecord(e0, g_stream);
  cudaMemcpyAsync(cp.b.p, cp.a.p, cp.bytes, cudaMemcpyDeviceToDevice, g_stream);
  cudaEventRecord(e1, g_stream);
  cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  return double(ms) * 1e-3;
}
double measure_device_copy() {
  CopyProbe& cp = copy_probe();
  if (!cp.a.p || !cp.b.p) return 0.0;
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  copy_once(cp, e0, e1);
  double best = 1e30;
  for (int r = 0; r < 10; ++r) best = std::min(best, copy_once(cp, e0, e1));
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 2.0 * double(cp.bytes) / best;
}
void BM_device_copy(benchmark::State& st) {
  CopyProbe& cp = copy_probe();
  if (!cp.a.p || !cp.b.p) {
    st.SkipWithError("could not allocate the copy buffers");
    return;
  }
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (auto _ : st) st.SetIterationTime(copy_once(cp, e0, e1));
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  st.counters["bytes_per_second"] = benchmark::Counter(2.0 * double(cp.bytes), benchmark::Counter::kIsIterationInvariantRate);
}
#endif  // QMM_BENCH_CUDA

std::vector<std::unique_ptr<Case>> g_cases;

void usage() {
  std::printf(
      "qmm_bench [Google Benchmark flags] [--qmm_suite=quick|full|groups|all] [--qmm_backends=a,b]\n"
      "          [--qmm_compute=float,int8] [--qmm_threads=N] [--qmm_max_gflop=X]\n"
      "          [--qmm_dtype=f16|bf16|f32] [--qmm_probe_mib=N]\n");
}

bool parse_own_flags(int* argc, char** argv) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* flag, std::string* v) {
      size_t n = std::strlen(flag);
      if (a.compare(0, n, flag) != 0) return false;
      *v = a.substr(n);
      return true;
    };
    std::string v;
    if (a == "--qmm_help") { usage(); std::exit(0); }
    else if (val("--qmm_suite=", &v)) g_cfg.suite = v;
    else if (val("--qmm_backends=", &v)) g_cfg.backends = split(v, ',');
    else if (val("--qmm_compute=", &v)) g_cfg.computes = split(v, ',');
    else if (val("--qmm_threads=", &v)) g_cfg.threads = std::atoi(v.c_str());
    else if (val("--qmm_max_gflop=", &v)) g_cfg.max_gflop = std::atof(v.c_str());
    else if (val("--qmm_probe_mib=", &v)) g_cfg.probe_bytes = size_t(std::atof(v.c_str()) * 1048576.0);
    else if (val("--qmm_dtype=", &v)) {
      if (v == "f16") g_cfg.dtype = QMM_DTYPE_F16;
      else if (v == "bf16") g_cfg.dtype = QMM_DTYPE_BF16;
      else if (v == "f32") g_cfg.dtype = QMM_DTYPE_F32;
      else { std::fprintf(stderr, "qmm_bench: bad --qmm_dtype=%s\n", v.c_str()); return false; }
    } else if (a.rfind("--qmm_", 0) == 0) {
      std::fprintf(stderr, "qmm_bench: unknown flag %s\n", a.c_str());
      usage();
      return false;
    } else argv[out++] = argv[i];
  }
  *argc = out;
  for (auto& c : g_cfg.computes)
    if (c != "float" && c != "int8") { std::fprintf(stderr, "qmm_bench: bad compute mode %s\n", c.c_str()); return false; }
  return true;
}

// Google Benchmark defaults of this protocol, unless given on the command line.
std::vector<char*> with_default_flags(int argc, char** argv, std::vector<std::string>& storage) {
  std::vector<char*> out(argv, argv + argc);
  auto given = [&](const char* flag) {
    for (int i = 1; i < argc; ++i)
      if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) return true;
    return false;
  };
  if (!given("--benchmark_repetitions")) storage.push_back("--benchmark_repetitions=5");
  if (!given("--benchmark_min_time")) storage.push_back("--benchmark_min_time=0.5");
  if (!given("--benchmark_report_aggregates_only") && !given("--benchmark_display_aggregates_only"))
    storage.push_back("--benchmark_report_aggregates_only=true");
  for (auto& s : storage) out.push_back(&s[0]);
  return out;
}

double stat_min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double stat_max(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  if (!parse_own_flags(&argc, argv)) return 2;
  std::vector<std::string> storage;
  storage.reserve(8);
  std::vector<char*> args = with_default_flags(argc, argv, storage);
  int nargs = int(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&nargs, args.data());
  if (benchmark::ReportUnrecognizedArguments(nargs, args.data())) return 2;

  std::vector<const qmm_bench::Suite*> suites;
  for (int i = 0; i < qmm_bench::kNumSuites; ++i) {
    const auto& s = qmm_bench::kSuites[i];
    if (g_cfg.suite == s.name || (g_cfg.suite == "all" && std::string(s.name) != "quick")) suites.push_back(&s);
  }
  if (suites.empty()) {
    std::fprintf(stderr, "qmm_bench: unknown suite '%s' (suites:", g_cfg.suite.c_str());
    for (int i = 0; i < qmm_bench::kNumSuites; ++i) std::fprintf(stderr, " %s", qmm_bench::kSuites[i].name);
    std::fprintf(stderr, ", all)\n");
    return 2;
  }

  // Backends: every available one, or those named (an unknown or unavailable name is an error).
  struct B { std::string name; bool device; };
  std::vector<B> backends;
  for (int i = 0; i < qmm_backend_count(); ++i) {
    std::string name = qmm_backend_name(i);
    bool named = g_cfg.backends.empty() ||
                 std::find(g_cfg.backends.begin(), g_cfg.backends.end(), name) != g_cfg.backends.end();
    if (!named) continue;
    if (!qmm_backend_available(i)) {
      if (!g_cfg.backends.empty()) {
        std::fprintf(stderr, "qmm_bench: backend %s is not available on this machine\n", name.c_str());
        return 2;
      }
      continue;
    }
    bool device = qmm_backend_is_device(i) != 0;
#ifndef QMM_BENCH_CUDA
    if (device) {
      std::fprintf(stderr, "qmm_bench: skipping device backend %s (built without the CUDA runtime)\n", name.c_str());
      continue;
    }
#endif
    backends.push_back({name, device});
  }
  for (auto& n : g_cfg.backends) {
    bool found = false;
    for (int i = 0; i < qmm_backend_count(); ++i) found |= n == qmm_backend_name(i);
    if (!found) {
      std::fprintf(stderr, "qmm_bench: unknown backend %s\n", n.c_str());
      return 2;
    }
  }

  const int threads = bench_threads();
  g_llc = total_llc_bytes();
  if (g_cfg.probe_bytes == 0) g_cfg.probe_bytes = std::max<size_t>(size_t(1) << 30, 8 * g_llc);
  bool any_host = false, any_device = false;
  for (auto& b : backends) (b.device ? any_device : any_host) = true;

  benchmark::AddCustomContext("qmm_version", qmm_version());
  benchmark::AddCustomContext("qmm_commit", git_commit());
  benchmark::AddCustomContext("qmm_compiler", compiler());
  benchmark::AddCustomContext("qmm_cpu_model", cpu_model());
  benchmark::AddCustomContext("qmm_cpu_features", qmm_cpu_features());
  benchmark::AddCustomContext("qmm_gpu_features", qmm_gpu_features());
  benchmark::AddCustomContext("qmm_threads", std::to_string(threads));
  benchmark::AddCustomContext("qmm_llc_bytes", std::to_string(g_llc));
  benchmark::AddCustomContext("qmm_suite", g_cfg.suite);
  benchmark::AddCustomContext("qmm_dtype", dtype_name(g_cfg.dtype));

  if (any_host || backends.empty()) {
    g_host_bw = measure_stream_read(threads);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", g_host_bw / 1e9);
    benchmark::AddCustomContext("qmm_stream_read_GBps", buf);
    std::string name = "stream_read/threads:" + std::to_string(threads) + "/MiB:" + std::to_string(g_cfg.probe_bytes >> 20);
    benchmark::RegisterBenchmark(name.c_str(), [threads](benchmark::State& st) { BM_stream_read(st, threads); })
        ->UseRealTime()->Unit(benchmark::kMillisecond)
        ->ComputeStatistics("min", stat_min)->ComputeStatistics("max", stat_max);
  }
#ifdef QMM_BENCH_CUDA
  if (any_device) {
    int l2 = 0, dev = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
    g_l2 = size_t(std::max(l2, 1 << 20));
    cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking);
    g_device_bw = measure_device_copy();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", g_device_bw / 1e9);
    benchmark::AddCustomContext("qmm_device_copy_GBps", buf);
    benchmark::AddCustomContext("qmm_gpu_l2_bytes", std::to_string(g_l2));
    benchmark::RegisterBenchmark("device_copy", [](benchmark::State& st) { BM_device_copy(st); })
        ->UseManualTime()->Unit(benchmark::kMillisecond)
        ->ComputeStatistics("min", stat_min)->ComputeStatistics("max", stat_max);
  }
#endif

  size_t skipped = 0;
  for (const auto* s : suites) {
    for (int si = 0; si < s->n_shapes; ++si) {
      const qmm_bench::SuiteShape* shape = nullptr;
      for (const auto& sh : qmm_bench::kShapes)
        if (std::string(sh.name) == s->shapes[si]) shape = &sh;
      if (!shape) continue;
      for (int bi = 0; bi < s->n_bits; ++bi)
        for (int gi = 0; gi < s->n_group_size; ++gi)
          for (const auto& b : backends)
            for (const auto& comp : g_cfg.computes)
              for (int mi = 0; mi < s->n_M; ++mi) {
                auto c = std::make_unique<Case>();
                c->shape = shape->name;
                c->M = s->M[mi], c->N = shape->N, c->K = shape->K;
                c->bits = s->bits[bi];
                c->group_size = s->group_size[gi];
                c->zp = s->zero_points;
                c->backend = b.name;
                c->device = b.device;
                c->compute = comp == "int8" ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
                if (g_cfg.max_gflop > 0 && problem_flops(c->M, c->N, c->K) / 1e9 > g_cfg.max_gflop) {
                  ++skipped;
                  continue;
                }
                std::string name = "qmm/" + b.name + "/" + comp + "/" + c->shape + "/N:" + std::to_string(c->N) +
                                   "/K:" + std::to_string(c->K) + "/M:" + std::to_string(c->M) +
                                   "/bits:" + std::to_string(c->bits) + "/g:" + std::to_string(c->group_size) +
                                   "/zp:" + (c->zp ? "1" : "0");
                Case* cp = c.get();
                g_cases.push_back(std::move(c));
                auto* bm = benchmark::RegisterBenchmark(name.c_str(), [cp](benchmark::State& st) {
#ifdef QMM_BENCH_CUDA
                  if (cp->device) return BM_device(st, cp);
#endif
                  BM_host(st, cp);
                });
                bm->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", stat_min)->ComputeStatistics("max", stat_max);
                if (cp->device) bm->UseManualTime();
                else bm->UseRealTime();
              }
    }
  }
  if (skipped)
    std::fprintf(stderr, "qmm_bench: %zu cases above --qmm_max_gflop=%g not registered\n", skipped, g_cfg.max_gflop);
  if (any_host || backends.empty())
    std::fprintf(stderr, "qmm_bench: streaming-read ceiling %.2f GB/s (%d threads, %zu MiB buffer), LLC %zu MiB\n",
                 g_host_bw / 1e9, threads, g_cfg.probe_bytes >> 20, g_llc >> 20);
#ifdef QMM_BENCH_CUDA
  if (any_device) std::fprintf(stderr, "qmm_bench: device copy ceiling %.2f GB/s (read + write)\n", g_device_bw / 1e9);
#endif

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
