/* A QEMU TCG plugin that counts executed guest instructions per address (built for the host,
 * loaded with `qemu-aarch64 -plugin ./qemu_count_plugin.so,out=FILE`). At exit it writes one line
 * per translated instruction, "vaddr count disassembly", which tests/arm/insn_report.py maps to
 * the library's functions. Written against the stable plugin C API (API version 1, QEMU 7.x);
 * the few declarations it needs are spelled out here because Debian's qemu-user does not ship
 * qemu-plugin.h. Counting uses inline adds (no callbacks): run the guest single-threaded
 * (OMP_NUM_THREADS=1) so the counters are exact. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                                  qemu_plugin_vcpu_tb_trans_cb_t cb);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
extern struct qemu_plugin_insn* qemu_plugin_tb_get_insn(const struct qemu_plugin_tb* tb, size_t idx);
extern uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn* insn);
extern char* qemu_plugin_insn_disas(const struct qemu_plugin_insn* insn);
extern void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn* insn,
                                                       enum qemu_plugin_op op, void* ptr,
                                                       uint64_t imm);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                           void* userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

enum { kChunk = 1 << 16 };
typedef struct Rec {
  uint64_t vaddr;
  uint64_t* counter;
  char* disas;
} Rec;

static Rec* recs;
static size_t n_recs, cap_recs;
static uint64_t* chunk;
static size_t chunk_used = kChunk;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char out_path[1024] = "qemu_insn_counts.txt";

static uint64_t* new_counter(void) {
  if (chunk_used == kChunk) {
    chunk = calloc(kChunk, sizeof(uint64_t));
    chunk_used = 0;
  }
  return &chunk[chunk_used++];
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    if (n_recs == cap_recs) {
      cap_recs = cap_recs ? 2 * cap_recs : 4096;
      recs = realloc(recs, cap_recs * sizeof(Rec));
    }
    Rec* r = &recs[n_recs++];
    r->vaddr = qemu_plugin_insn_vaddr(insn);
    r->counter = new_counter();
    r->disas = qemu_plugin_insn_disas(insn);
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, r->counter, 1);
  }
  pthread_mutex_unlock(&lock);
}

static void at_exit(qemu_plugin_id_t id, void* p) {
  (void)id;
  (void)p;
  FILE* f = fopen(out_path, "w");
  if (!f) return;
  for (size_t i = 0; i < n_recs; ++i)
    if (*recs[i].counter)
      fprintf(f, "%llx %llu %s\n", (unsigned long long)recs[i].vaddr,
              (unsigned long long)*recs[i].counter, recs[i].disas ? recs[i].disas : "?");
  fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t* info, int argc,
                                                               char** argv) {
  (void)info;
  for (int i = 0; i < argc; ++i)
    if (strncmp(argv[i], "out=", 4) == 0) snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
  qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
  qemu_plugin_register_atexit_cb(id, at_exit, NULL);
  return 0;
}
