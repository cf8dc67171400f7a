"""Round-to-nearest weight quantization into qmatmul's canonical layout, and its inverse."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import reference

__all__ = ["quantize", "dequantize", "pack_int4", "unpack_int4"]


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits must be an int (4 or 8), got {type(bits).__name__}")
    if int(bits) not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    return int(bits)


def _check_group_size(group_size, K: int) -> int:
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise TypeError(f"group_size must be an int, got {type(group_size).__name__}")
    g = int(group_size)
    if g == -1:
        return K
    if g <= 0:
        raise ValueError(f"group_size must be a positive divisor of K or -1, got {g}")
    if K % g != 0:
        raise ValueError(f"group_size={g} does not divide K={K}")
    return g


def pack_int4(q: np.ndarray) -> np.ndarray:
    """int8 values in [-8, 7], shape [N, K] (K even) -> uint8 [N, K/2]; element 2j goes to the
    low nibble of byte j, element 2j+1 to its high nibble."""
    q = np.asarray(q)
    if q.ndim != 2:
        raise ValueError(f"q must be 2-D [N, K], got shape {q.shape}")
    if q.dtype.kind not in "iu":
        raise TypeError(f"q must be an integer array, got dtype {q.dtype}")
    if q.shape[1] % 2:
        raise ValueError(f"K (q.shape[1]) must be even for int4 packing, got {q.shape[1]}")
    if q.size and (q.min() < -8 or q.max() > 7):
        raise ValueError("q values must lie in [-8, 7] for int4 packing")
    qi = q.astype(np.int16)
    low = (qi[:, 0::2] & 0x0F).astype(np.uint8)
    high = (qi[:, 1::2] & 0x0F).astype(np.uint8)
    return (low | (high << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray) -> np.ndarray:
    """uint8/int8 [N, K/2] packed int4 -> int8 [N, K] in [-8, 7]."""
    packed = np.asarray(packed)
    if packed.ndim != 2:
        raise ValueError(f"packed must be 2-D [N, K/2], got shape {packed.shape}")
    if packed.dtype not in (np.uint8, np.int8):
        raise TypeError(f"packed must be uint8 or int8, got dtype {packed.dtype}")
    return reference.unpack_int4(packed)


def quantize(
    w_float: np.ndarray, bits: int = 4, group_size: int = 128, symmetric: bool = False
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Quantize float weights [N, K] (nn.Linear's weight) with round-to-nearest per group.

    symmetric: scale = max|w| / qmax (qmax = 7 or 127), q = clip(rint(w / scale)), no zero
    points. Asymmetric: the group's range, widened to include 0, maps onto [qmin, qmax]
    ([-8, 7] or [-128, 127]) with scale = (max - min) / (qmax - qmin) and an int8 zero point
    zp = rint(qmin - min / scale); q = clip(rint(w / scale) + zp, qmin, qmax).
    A group of zeros gets scale 1 (and zero point 0).

    Returns (w, scales, zero_points): w int8 [N, K] for 8 bits, uint8 [N, K/2] for 4 bits;
    scales float32 [N, K/group_size]; zero_points int8 [N, K/group_size] or None if symmetric.
    """
    bits = _check_bits(bits)
    w = np.asarray(w_float)
    if w.ndim != 2:
        raise ValueError(f"w_float must be 2-D [N, K], got shape {w.shape}")
    if w.dtype.kind != "f" and w.dtype.name != "bfloat16":
        raise TypeError(f"w_float must be a floating-point array, got dtype {w.dtype}")
    N, K = w.shape
    if bits == 4 and K % 2:
        raise ValueError(f"K must be even for bits=4, got K={K}")
    g = _check_group_size(group_size, K)
    G = K // g if g else 0
    wf = w.astype(np.float64).reshape(N, G, g)
    qmin, qmax = (-8, 7) if bits == 4 else (-128, 127)
    if symmetric:
        amax = np.max(np.abs(wf), axis=2) if g else np.zeros((N, G))
        scale = np.where(amax > 0, amax / (qmax if bits == 8 else 7), 1.0).astype(np.float32)
        q = np.clip(np.rint(wf / scale.astype(np.float64)[:, :, None]), -qmax, qmax)
        zps = None
    else:
        lo = np.minimum(np.min(wf, axis=2), 0.0) if g else np.zeros((N, G))
        hi = np.maximum(np.max(wf, axis=2), 0.0) if g else np.zeros((N, G))
        rng = hi - lo
        scale = np.where(rng > 0, rng / (qmax - qmin), 1.0).astype(np.float32)
        s64 = scale.astype(np.float64)
        zp = np.clip(np.rint(qmin - lo / s64), qmin, qmax)
        q = np.clip(np.rint(wf / s64[:, :, None]) + zp[:, :, None], qmin, qmax)
        zps = zp.astype(np.int8)
    q = q.reshape(N, K).astype(np.int8)
    wq = pack_int4(q) if bits == 4 else q
    return wq, scale.reshape(N, G), zps


def dequantize(w, scales, zps, group_size: int, bits: int) -> np.ndarray:
    """Canonical quantized weights -> float32 [N, K]: scales[n, g] * (Wq[n, k] - zp[n, g])."""
    bits = _check_bits(bits)
    return reference.dequantize(w, scales, zps, group_size, bits).astype(np.float32)
