// The default pack: one 64-byte-aligned block holding a canonical copy of w, scales and zero
// points, for backends whose kernels read the canonical layout.
#include <cstdlib>
#include <cstring>

#include "core/backend.h"

namespace qmm {

void* aligned_alloc64(size_t bytes) {
  if (bytes == 0) bytes = 64;
  void* p = nullptr;
  if (posix_memalign(&p, 64, bytes) != 0) return nullptr;
  return p;
}

void aligned_free64(void* p) { std::free(p); }

namespace {
size_t round64(size_t n) { return (n + 63) & ~size_t(63); }
void release_default(PackedWeights& pw) {
  aligned_free64(pw.data);
  pw.data = nullptr;
}
}  // namespace

qmm_status default_pack(const Problem& p, const Options&, PackedWeights* out) {
  const size_t wbytes = size_t(p.N) * size_t(p.row_bytes());
  const size_t sbytes = size_t(p.N) * size_t(p.groups) * sizeof(float);
  const size_t zbytes = p.zp ? size_t(p.N) * size_t(p.groups) : 0;
  const size_t total = round64(wbytes) + round64(sbytes) + round64(zbytes);
  auto* base = static_cast<uint8_t*>(aligned_alloc64(total));
  if (!base) return set_error(QMM_OUT_OF_MEMORY, "could not allocate %zu bytes for packed weights", total);
  uint8_t* w = base;
  auto* s = reinterpret_cast<float*>(base + round64(wbytes));
  int8_t* z = zbytes ? reinterpret_cast<int8_t*>(base + round64(wbytes) + round64(sbytes)) : nullptr;
  if (wbytes) std::memcpy(w, p.w, wbytes);
  if (sbytes) std::memcpy(s, p.scales, sbytes);
  if (zbytes) std::memcpy(z, p.zp, zbytes);
  out->data = base;
  out->nbytes = total;
  out->release = release_default;
  out->w = w;
  out->scales = s;
  out->zp = z;
  return QMM_OK;
}

Problem with_packed_weights(const PackedWeights& pw, const Problem& p) {
  Problem q = p;
  q.w = pw.w;
  q.scales = pw.scales;
  q.zp = pw.zp;
  return q;
}

qmm_status default_run_packed(const Backend& b, const PackedWeights& pw, const Problem& p,
                              const Options& o) {
  return b.run(with_packed_weights(pw, p), o);
}

}  // namespace qmm
