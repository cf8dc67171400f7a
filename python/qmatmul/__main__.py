"""`qmatmul` / `python -m qmatmul`: the demo on built-in defaults, or a subcommand.

    qmatmul                 machine features, backends, and a 70B-class layer (N=K=8192, 4-bit,
                            g128) at M=1 and M=16 through the best backend, checked against the
                            reference, timed against NumPy dequantize-then-matmul
    qmatmul bench [...]     the benchmark suite (qmatmul bench --help)
    qmatmul info            features and backends only
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

import numpy as np

from . import _api, quantization as _quantize, reference


def _print_info() -> None:
    inf = _api.info()
    print(f"qmatmul {inf['version']} ({inf['compiler']})")
    print(f"CPU features: {inf['cpu_features']}")
    print(f"GPU: {inf['gpu_features'] or 'none'}")
    print(f"threads: {inf['num_threads']}")
    names = []
    for b in inf["backends"]:
        names.append(f"{b['name']}{'' if b['available'] else ' (unavailable)'}")
    print("backends (priority order): " + ", ".join(names))


def _median_time(fn, min_reps: int = 3, budget_s: float = 1.5) -> float:
    fn()  # warm up
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < budget_s and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def demo(N: int = 8192, K: int = 8192, bits: int = 4, group_size: int = 128,
         ms=(1, 16)) -> int:
    _print_info()
    rng = np.random.default_rng()
    print(f"\nquantizing a {N}x{K} layer of random weights to {bits} bits, group_size={group_size} ...")
    w_float = rng.standard_normal((N, K), dtype=np.float32)
    w, scales, zps = _quantize.quantize(w_float, bits=bits, group_size=group_size)
    del w_float
    nbytes_w = w.nbytes + scales.nbytes + zps.nbytes
    ok = True
    for M in ms:
        x = rng.standard_normal((M, K), dtype=np.float32).astype(np.float16)
        from ._core import select_backend

        name = select_backend(M, N, K, x.ctypes.data, 0, w.ctypes.data, scales.ctypes.data,
                              zps.ctypes.data, group_size, bits, 1, 0, 0, "")
        y = _api.quantized_matmul(x, w, scales, zps, group_size, bits)
        ref = reference.matmul_float(x, w, scales, zps, group_size, bits)
        err = float(np.linalg.norm(y.astype(np.float64) - ref) / max(np.linalg.norm(ref), 1e-300))
        good = err <= 2e-3
        ok &= good
        t = _median_time(lambda: _api.quantized_matmul(x, w, scales, zps, group_size, bits, out=y))
        bytes_moved = nbytes_w + x.nbytes + y.nbytes
        wdq_holder = {}

        def baseline():
            wdq = _quantize.dequantize(w, scales, zps, group_size, bits)
            wdq_holder["y"] = x.astype(np.float32) @ wdq.T

        tb = _median_time(baseline, min_reps=1, budget_s=0.5)
        print(f"M={M:<3d} backend={name:<8s} {t * 1e3:8.3f} ms  {bytes_moved / t / 1e9:7.2f} GB/s  "
              f"{2.0 * M * N * K / t / 1e9:8.1f} GFLOP/s  rel.err {err:.2e} "
              f"[{'ok' if good else 'FAIL'}]  NumPy dequant+matmul {tb * 1e3:8.1f} ms "
              f"-> {tb / t:6.1f}x faster")
    return 0 if ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from . import bench

        return bench.main(argv[1:])
    if argv and argv[0] == "info":
        _print_info()
        return 0
    parser = argparse.ArgumentParser(prog="qmatmul", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--N", type=int, default=8192)
    parser.add_argument("--K", type=int, default=8192)
    parser.add_argument("--bits", type=int, default=4, choices=(4, 8))
    parser.add_argument("--group-size", type=int, default=128)
    args = parser.parse_args(argv)
    return demo(args.N, args.K, args.bits, args.group_size)


if __name__ == "__main__":
    sys.exit(main())
