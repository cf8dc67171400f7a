// One matmul for instruction counting under QEMU (tests/arm/count_insns.sh):
//   arm_count BACKEND float|int8 BITS M N K GROUP_SIZE packed|canonical
// Random fp16 X, random weights with zero points, fp16 Y. Prints the library's load address
// (so insn_report.py can map executed addresses to functions) and M*N*K.
#include <dlfcn.h>
#include <qmatmul/qmatmul.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: arm_count BACKEND float|int8 BITS M N K GROUP_SIZE packed|canonical\n");
    return 2;
  }
  const char* backend = argv[1];
  const bool int8 = std::strcmp(argv[2], "int8") == 0;
  const int bits = std::atoi(argv[3]);
  const int64_t M = std::atoll(argv[4]), N = std::atoll(argv[5]), K = std::atoll(argv[6]);
  const int64_t gs = std::atoll(argv[7]);
  const bool packed = std::strcmp(argv[8], "packed") == 0;
  std::mt19937 rng(7);
  std::vector<uint16_t> x(size_t(M * K)), y(size_t(M * N));
  for (auto& v : x) v = uint16_t(0x3000 + rng() % 0x0c00) | uint16_t((rng() & 1) << 15);
  std::vector<uint8_t> w(size_t(N * (bits == 8 ? K : K / 2)));
  for (auto& v : w) v = uint8_t(rng());
  std::vector<float> s(size_t(N * (K / gs)), 0.01f);
  std::vector<int8_t> z(size_t(N * (K / gs)), 3);
  qmm_problem p;
  qmm_problem_init(&p);
  p.M = M; p.N = N; p.K = K; p.x = x.data(); p.w = w.data(); p.scales = s.data();
  p.zero_points = z.data(); p.group_size = gs; p.bits = bits; p.y = y.data();
  qmm_options o;
  qmm_options_init(&o);
  o.backend = backend;
  o.compute = int8 ? QMM_COMPUTE_INT8 : QMM_COMPUTE_FLOAT;
  o.num_threads = 1;
  Dl_info info;
  dladdr(reinterpret_cast<void*>(&qmm_matmul), &info);
  std::printf("lib_base: %p\nlib_path: %s\nmacs: %lld\n", info.dli_fbase, info.dli_fname,
              (long long)(M * N * K));
  qmm_status st;
  if (packed) {
    qmm_packed* pk = nullptr;
    st = qmm_pack(&p, &o, &pk);
    if (st == QMM_OK) st = qmm_matmul_packed(pk, &p, &o);
    qmm_packed_free(pk);
  } else {
    st = qmm_matmul(&p, &o);
  }
  if (st != QMM_OK) std::printf("error: %s\n", qmm_last_error());
  return st == QMM_OK ? 0 : 1;
}
