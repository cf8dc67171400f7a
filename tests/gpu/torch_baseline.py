"""cuBLAS fp16 baseline (torch `x @ W.T`) for the shapes gpu_check bench times.

Weights are rotated among enough copies to exceed the 50 MB L2; median of CUDA-event timings.
Prints lines `TORCH N K M time_us TFLOPs`.
"""
import sys

try:
    import torch
except Exception as e:  # noqa: BLE001
    print(f"torch unavailable: {e}")
    sys.exit(0)

dev = torch.device("cuda")
for N, K in [(8192, 8192), (28672, 8192)]:
    copies = max(2, (120 << 20) // (N * K * 2) + 1)
    ws = [torch.randn(N, K, device=dev, dtype=torch.float16) for _ in range(copies)]
    for M in [1, 16, 256, 4096]:
        x = torch.randn(M, K, device=dev, dtype=torch.float16)
        iters = 6 if M >= 4096 else 30
        ts = []
        for i in range(iters + 3):
            w = ws[i % copies]
            e0 = torch.cuda.Event(enable_timing=True)
            e1 = torch.cuda.Event(enable_timing=True)
            e0.record()
            y = x @ w.T
            e1.record()
            e1.synchronize()
            if i >= 3:
                ts.append(e0.elapsed_time(e1))
        ts.sort()
        us = ts[len(ts) // 2] * 1e3
        print(f"TORCH {N} {K} {M} {us:.1f} {2 * M * N * K / (us * 1e-6) / 1e12:.1f}")
    del ws
    torch.cuda.empty_cache()
