"""Join gpu_check bench lines with the torch (cuBLAS fp16) baseline: one summary table."""
import sys

bench, torch_t, copy = [], {}, None
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for ln in lines:
        f = ln.split()
        if ln.startswith("BENCH ") and len(f) == 10:
            bench.append(f[1:])
        elif ln.startswith("TORCH ") and len(f) == 6:
            torch_t[(f[1], f[2], f[3])] = float(f[4])
        elif ln.startswith("COPY_GBS"):
            copy = float(f[1])
print(f"copy bandwidth (read+write): {copy} GB/s")
print(f"{'mode':5} {'bits':>4} {'N':>6} {'K':>5} {'M':>5} {'us':>9} {'GB/s':>7} {'%copy':>6} "
      f"{'TFLOP/s':>8} {'cuBLAS us':>9} {'speedup':>7}")
for mode, bits, N, K, M, us, gbs, pct, tf in bench:
    t = torch_t.get((N, K, M))
    sp = f"{t / float(us):.2f}x" if t else "-"
    print(f"{mode:5} {bits:>4} {N:>6} {K:>5} {M:>5} {float(us):9.1f} {float(gbs):7.0f} {pct:>6} "
          f"{float(tf):8.1f} {t if t else '-':>9} {sp:>7}")
