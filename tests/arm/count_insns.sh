#!/usr/bin/env bash
# Executed-instruction counts of the Arm kernels under QEMU (no Arm hardware needed):
#   tests/arm/count_insns.sh [BUILD_DIR]   (a cross build, e.g. the one .ci/arm.sh makes)
# Builds the counting plugin (tests/arm/qemu_count_plugin.c, for the host) and arm_count, runs
# one packed matmul per configuration single-threaded, and prints a Markdown table: the kernel
# function's instructions per useful MAC (whole kernel: inner loop + group epilogue + stores),
# its hottest loop (length, MACs, instructions per MAC, mix) and the library's total per MAC.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${1:-$ROOT/build-arm-ci}
OUTDIR=${QMM_COUNT_OUT:-$BUILD/insn_counts}
mkdir -p "$OUTDIR"
gcc -O2 -shared -fPIC -fvisibility=hidden tests/arm/qemu_count_plugin.c -o "$BUILD/qemu_count_plugin.so"
aarch64-linux-gnu-g++ -O2 -std=c++17 -I"$ROOT/csrc/include" tests/arm/arm_count.cpp -L"$BUILD" \
  -lqmatmul -ldl -Wl,-rpath,'$ORIGIN' -o "$BUILD/arm_count"
N=${QMM_COUNT_N:-256}
K=${QMM_COUNT_K:-1024}
echo "| backend (path) | -cpu | mode | bits | M | gs | kernel insns/MAC | hot loop: insns, MACs, insns/MAC (best) | hot loop mix | library insns/MAC (call, packing excluded) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
run() {  # backend cpu mode bits M gs label best
  local b=$1 cpu=$2 mode=$3 bits=$4 M=$5 gs=$6 label=$7 best=$8
  local tag="$b-$cpu-$mode-w$bits-m$M-g$gs"
  local info
  info=$(OMP_NUM_THREADS=1 qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$cpu" \
    -plugin "$BUILD/qemu_count_plugin.so,out=$OUTDIR/$tag.txt" \
    "$BUILD/arm_count" "$b" "$mode" "$bits" "$M" "$N" "$K" "$gs" packed)
  local base macs
  base=$(sed -n 's/^lib_base: 0x//p' <<<"$info")
  macs=$(sed -n 's/^macs: //p' <<<"$info")
  python3 tests/arm/insn_report.py "$OUTDIR/$tag.txt" "$BUILD/libqmatmul.so" "$base" "$macs" \
    > "$OUTDIR/$tag.json"
  python3 - "$OUTDIR/$tag.json" "$b ($label)" "$cpu" "$mode" "$bits" "$M" "$gs" "$best" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
label, cpu, mode, bits, M, gs, best = sys.argv[2:]
k = next(f for f in r["functions"]
         if any(t in f["function"] for t in ("_tile<", "int8_panel_", "float_panel")))
mix = ", ".join(f"{n} {c}" for n, c in k["hot_loop_mix"].items())
print(f"| {label} | {cpu} | {mode} | {bits} | {M} | {gs} | {k['insns_per_mac']:.3f} | "
      f"{k['hot_loop_len']}, {k['hot_loop_macs']}, {k['hot_loop_insns_per_mac']:.4f} ({best}) | "
      f"{mix} | {r['insns_library_excluding_pack_per_mac']:.3f} |")
PY
}
for bits in 4 8; do
  for M in ${QMM_COUNT_MS:-1 16 64}; do
    for gs in 32 128; do
      run neon_i8mm max int8 $bits $M $gs SMMLA 0.0313
      run neon neoverse-n1 int8 $bits $M $gs SDOT 0.0625
      run neon cortex-a72 int8 $bits $M $gs SMULL 0.125
      run neon cortex-a72 float $bits $M $gs FMLA 0.25
    done
  done
done
