"""NumPy dequantize-then-matmul baseline for the avx2 backend's numbers (PERFORMANCE.md):
W4/W8 g128 with zero points, fp16 X, float32 dequantized weights, x @ W.T.

    python3 tests/x86/numpy_baseline.py [M] [N] [K] [bits]
"""
import sys
import time

import numpy as np


def dequantize(wq, scales, zps, bits, K, gs):
    if bits == 4:
        lo = (wq & 0x0F).astype(np.int8)
        hi = (wq >> 4).astype(np.int8)
        q = np.empty((wq.shape[0], K), np.int8)
        q[:, 0::2] = np.where(lo > 7, lo - 16, lo)
        q[:, 1::2] = np.where(hi > 7, hi - 16, hi)
    else:
        q = wq.view(np.int8)
    N = q.shape[0]
    g = q.reshape(N, K // gs, gs).astype(np.float32) - zps[:, :, None].astype(np.float32)
    return (g * scales[:, :, None]).reshape(N, K)


def main():
    M = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    N = int(sys.argv[2]) if len(sys.argv) > 2 else 8192
    K = int(sys.argv[3]) if len(sys.argv) > 3 else 8192
    bits = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    gs = 128
    rng = np.random.default_rng(0)
    wq = rng.integers(0, 256, size=(N, K * bits // 8), dtype=np.uint8)
    scales = rng.random((N, K // gs), dtype=np.float32) * 0.01
    zps = rng.integers(-8, 8, size=(N, K // gs), dtype=np.int8)
    x = rng.standard_normal((M, K)).astype(np.float16)
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        w = dequantize(wq, scales, zps, bits, K, gs)
        y = (x.astype(np.float32) @ w.T).astype(np.float16)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    print(f"numpy dequantize+matmul M={M} N={N} K={K} bits={bits}: median {ts[2]*1e3:.1f} ms "
          f"(min {ts[0]*1e3:.1f})  numpy {np.__version__}")


if __name__ == "__main__":
    main()
