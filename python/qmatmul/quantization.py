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
    if g <= 0 or g > 2**63 - 1:
        raise ValueError(f"group_size must be a positive divisor of K or -1, got {g}")
    if K % g != 0:
        raise ValueError(f"group_size={g} does not divide K={K}")
    return g


def _as_array(a, name: str) -> np.ndarray:
    if a is None:
        raise TypeError(f"{name} must be an array, got None")
    arr = np.asarray(a)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__} of objects")
    return arr


def pack_int4(q: np.ndarray) -> np.ndarray:
    """int8 values in [-8, 7], shape [N, K] (K even) -> uint8 [N, K/2]; element 2j goes to the
    low nibble of byte j, element 2j+1 to its high nibble."""
    q = _as_array(q, "q")
    if q.dtype.kind not in "iu":
        raise TypeError(f"q must be an integer array, got dtype {q.dtype}")
    if q.ndim != 2:
        raise ValueError(f"q must be 2-D [N, K], got shape {q.shape}")
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
    packed = _as_array(packed, "packed")
    if packed.dtype not in (np.uint8, np.int8):
        raise TypeError(f"packed must be uint8 or int8, got dtype {packed.dtype}")
    if packed.ndim != 2:
        raise ValueError(f"packed must be 2-D [N, K/2], got shape {packed.shape}")
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
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"symmetric must be a bool, got {type(symmetric).__name__}")
    w = _as_array(w_float, "w_float")
    if w.dtype.kind != "f" and w.dtype.name != "bfloat16":
        raise TypeError(f"w_float must be a floating-point array, got dtype {w.dtype}")
    if w.ndim != 2:
        raise ValueError(f"w_float must be 2-D [N, K], got shape {w.shape}")
    N, K = w.shape
    if bits == 4 and K % 2:
        raise ValueError(f"K must be even for bits=4, got K={K}")
    g = _check_group_size(group_size, K)
    if K == 0:
        g = 0  # no groups, whatever group_size is
    G = K // g if g else 0
    wf = w.astype(np.float64).reshape(N, G, g)
    if not np.all(np.isfinite(wf)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(w.astype(np.float64)))[0])
        raise ValueError(f"w_float must be finite, got {w[bad]} at index {bad}")
    qmin, qmax = (-8, 7) if bits == 4 else (-128, 127)
    f32 = np.finfo(np.float32)
    if symmetric:
        amax = np.max(np.abs(wf), axis=2) if g else np.zeros((N, G))
        scale64 = np.where(amax > 0, amax / (qmax if bits == 8 else 7), 1.0)
    else:
        lo = np.minimum(np.min(wf, axis=2), 0.0) if g else np.zeros((N, G))
        hi = np.maximum(np.max(wf, axis=2), 0.0) if g else np.zeros((N, G))
        rng = hi - lo
        scale64 = np.where(rng > 0, rng / (qmax - qmin), 1.0)
    if np.any(scale64 > f32.max):
        raise ValueError("w_float is too large: a group's float32 scale would overflow "
                         f"(max |w_float| = {np.max(np.abs(wf)):.6g})")
    # a scale below float32's smallest subnormal would round to 0; the smallest one instead
    # quantizes such a group to within a step of it (|w| < 1e-43 there)
    scale = np.maximum(scale64, float(f32.smallest_subnormal)).astype(np.float32)
    s64 = scale.astype(np.float64)
    with np.errstate(over="ignore"):  # w / tiny scale may overflow to +-inf; clip handles it
        if symmetric:
            q = np.clip(np.rint(wf / s64[:, :, None]), -qmax, qmax)
            zps = None
        else:
            zp = np.clip(np.rint(qmin - lo / s64), qmin, qmax)
            q = np.clip(np.rint(wf / s64[:, :, None]) + zp[:, :, None], qmin, qmax)
            zps = zp.astype(np.int8)
    q = q.reshape(N, K).astype(np.int8)
    wq = pack_int4(q) if bits == 4 else q
    return wq, scale.reshape(N, G), zps


def dequantize(w, scales, zps, group_size: int, bits: int) -> np.ndarray:
    """Canonical quantized weights -> float32 [N, K]: scales[n, g] * (Wq[n, k] - zp[n, g])."""
    bits = _check_bits(bits)
    w = _as_array(w, "w")
    if w.ndim != 2:
        raise ValueError(f"w must be 2-D ([N, K] for 8 bits, [N, K/2] for 4 bits), got shape "
                         f"{w.shape}")
    if bits == 8 and w.dtype != np.int8:
        raise TypeError(f"w must be int8 for bits=8, got dtype {w.dtype}")
    if bits == 4 and w.dtype not in (np.uint8, np.int8):
        raise TypeError(f"w must be uint8 (or int8) packed int4 for bits=4, got dtype {w.dtype}")
    N = w.shape[0]
    K = w.shape[1] * (2 if bits == 4 else 1)
    g = _check_group_size(group_size, K)
    G = K // g if g else 0
    scales = _as_array(scales, "scales")
    if scales.dtype != np.float32:
        raise TypeError(f"scales must be float32, got dtype {scales.dtype}")
    if scales.shape != (N, G):
        raise ValueError(f"scales must have shape (N, K/group_size) = ({N}, {G}), got "
                         f"{scales.shape}")
    if zps is not None:
        zps = _as_array(zps, "zps")
        if zps.dtype != np.int8:
            raise TypeError(f"zps must be int8 or None, got dtype {zps.dtype}")
        if zps.shape != (N, G):
            raise ValueError(f"zps must have shape (N, K/group_size) = ({N}, {G}), got "
                             f"{zps.shape}")
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf scales propagate
        return reference.dequantize(w, scales, zps, group_size, bits).astype(np.float32)
