"""Write conformance test vectors for the C++ runner (tests/conformance/), from qmatmul.reference.

    python -m qmatmul.conformance DIR [--seed S] [--quick]

Each case is one file DIR/case_NNNN.qmv in the format of tests/conformance/FORMAT.md: the
problem, its inputs, the reference's float64 answer, and how to compare (relative Frobenius
bound for float mode, per-element bounds for int8 mode). Fresh random data unless --seed is given.
"""
from __future__ import annotations

import argparse
import os
import secrets
import struct
import sys
from typing import List, Optional

import numpy as np

from . import quantization, reference
from ._arrays import BFLOAT16

MAGIC = b"QMMCONF1"
_DTYPE_CODES = {"float16": 0, "bfloat16": 1, "float32": 2}
_DTYPES = {"float16": np.dtype(np.float16), "bfloat16": BFLOAT16, "float32": np.dtype(np.float32)}
FLOAT_BOUND = {"float16": 2e-3, "float32": 2e-3, "bfloat16": 8e-3}

# (M, N, K, group_size): every M of SPEC section 6, N/K off tile multiples, every kind of group
SHAPES = [
    (1, 67, 768, 128), (2, 33, 256, 32), (3, 130, 512, 64), (7, 45, 768, 256),
    (16, 67, 768, -1), (33, 17, 384, 128), (128, 29, 256, 64), (5, 19, 90, 6),
    (4, 23, 96, 48), (16, 9, 64, 2), (3, 11, 250, -1), (1, 1, 2, -1), (1, 300, 1024, 128),
]
QUICK_SHAPES = [(1, 67, 256, 128), (3, 33, 256, 32), (7, 45, 192, 64), (16, 17, 128, -1),
                (5, 19, 90, 6), (33, 9, 64, 32), (128, 5, 64, 32)]


def write_case(path: str, name: str, x, ldx: int, w, scales, zps, group_size: int, bits: int,
               y_dtype: str, compute: str, ldy: int) -> None:
    M, K = x.shape
    N = w.shape[0]
    if compute == "float":
        ref = reference.matmul_float(x, w, scales, zps, group_size, bits)
        check, bound, tol = 0, FLOAT_BOUND[x.dtype.name], None
    else:
        ref = reference.matmul_int8(x, w, scales, zps, group_size, bits)
        tol = reference.int8_tolerance(x, w, scales, zps, group_size, bits, _DTYPES[y_dtype])
        check, bound = 1, 0.0
    xpad = np.zeros((M, ldx), dtype=x.dtype)
    xpad[:, :K] = x
    if ldx > K:  # padding that must never be read into the answer
        xpad[:, K:] = np.asarray(np.nan, dtype=np.float32).astype(x.dtype)
    nameb = name.encode()
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<6q", M, N, K, group_size, ldx, ldy))
        f.write(struct.pack("<6i", bits, zps is not None, _DTYPE_CODES[x.dtype.name],
                            _DTYPE_CODES[y_dtype], 1 if compute == "int8" else 0, check))
        f.write(struct.pack("<d", bound))
        f.write(struct.pack("<i", len(nameb)))
        f.write(nameb)
        f.write(xpad.tobytes())
        f.write(np.ascontiguousarray(w).tobytes())
        f.write(np.ascontiguousarray(scales, dtype=np.float32).tobytes())
        if zps is not None:
            f.write(np.ascontiguousarray(zps, dtype=np.int8).tobytes())
        f.write(np.ascontiguousarray(ref, dtype=np.float64).tobytes())
        if tol is not None:
            f.write(np.ascontiguousarray(tol, dtype=np.float64).tobytes())


def write_all(directory: str, seed: Optional[int] = None, quick: bool = False) -> int:
    os.makedirs(directory, exist_ok=True)
    for old in os.listdir(directory):
        if old.endswith(".qmv"):
            os.remove(os.path.join(directory, old))
    seed = secrets.randbits(32) if seed is None else seed
    rng = np.random.default_rng(seed)
    shapes = QUICK_SHAPES if quick else SHAPES
    n = 0
    for si, (M, N, K, g) in enumerate(shapes):
        for bits in (4, 8):
            for zp in (True, False):
                w, s, z = quantization.quantize(rng.standard_normal((N, K)), bits=bits,
                                                group_size=g, symmetric=not zp)
                if zp:
                    lo, hi = (-8, 8) if bits == 4 else (-128, 128)
                    z = rng.integers(lo, hi, size=z.shape).astype(np.int8)
                for xd in ("float16", "bfloat16", "float32"):
                    for compute in ("float", "int8"):
                        # output dtype and strides vary with the case number
                        yd = (xd, "float32", xd, "float16")[n % 4]
                        ldx = K + (3 if n % 3 == 1 else 0)
                        ldy = N + (5 if n % 5 == 2 else 0)
                        x = rng.standard_normal((M, K)).astype(np.float32).astype(_DTYPES[xd])
                        name = (f"M={M} N={N} K={K} g={g} bits={bits} zp={int(zp)} x={xd} "
                                f"y={yd} ldx={ldx} ldy={ldy} mode={compute}")
                        write_case(os.path.join(directory, f"case_{n:04d}.qmv"), name, x, ldx, w,
                                   s, z, g, bits, yd, compute, ldy)
                        n += 1
    print(f"wrote {n} conformance cases to {directory} (seed {seed})")
    return n


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qmatmul.conformance", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("directory")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="fewer, smaller cases (for emulators)")
    args = ap.parse_args(argv)
    write_all(args.directory, args.seed, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
