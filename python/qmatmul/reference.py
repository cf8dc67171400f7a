"""Pure-NumPy reference implementations of qmatmul's semantics (docs/semantics.md).

Straight float64 NumPy, readable line by line against the specification, never optimized.
The tests and the conformance vectors trust these functions.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "resolve_group_size",
    "unpack_int4",
    "unpack_weights",
    "dequantize",
    "matmul_float",
    "quantize_activations_int8",
    "matmul_int8",
    "int8_tolerance",
]


def resolve_group_size(group_size: int, K: int) -> int:
    """-1 means K (one group per row)."""
    return K if group_size == -1 else group_size


def unpack_int4(packed: np.ndarray) -> np.ndarray:
    """[N, K/2] bytes -> int8 [N, K]: byte j holds element 2j (low nibble) and 2j+1 (high)."""
    b = np.asarray(packed).view(np.uint8)
    low = (b & 0x0F).astype(np.int16)
    high = (b >> 4).astype(np.int16)
    low = np.where(low >= 8, low - 16, low)
    high = np.where(high >= 8, high - 16, high)
    out = np.empty((b.shape[0], b.shape[1] * 2), dtype=np.int8)
    out[:, 0::2] = low
    out[:, 1::2] = high
    return out


def unpack_weights(w: np.ndarray, bits: int) -> np.ndarray:
    """Canonical weights -> int8 [N, K] quantized values."""
    if bits == 4:
        return unpack_int4(w)
    return np.asarray(w).view(np.int8)


def dequantize(w, scales, zps, group_size: int, bits: int) -> np.ndarray:
    """Wdq[n, k] = scales[n, g] * (Wq[n, k] - zp[n, g]), g = k // group_size, in float64."""
    q = unpack_weights(w, bits).astype(np.float64)
    N, K = q.shape
    g = resolve_group_size(group_size, K)
    G = K // g if g else 0
    s = np.asarray(scales, dtype=np.float64).reshape(N, G)
    z = np.zeros((N, G)) if zps is None else np.asarray(zps, dtype=np.float64).reshape(N, G)
    s_full = np.repeat(s, g, axis=1) if G else np.zeros((N, 0))
    z_full = np.repeat(z, g, axis=1) if G else np.zeros((N, 0))
    return s_full * (q - z_full)


def matmul_float(x, w, scales, zps, group_size: int, bits: int) -> np.ndarray:
    """Section 1 in float64: Y[m, n] = sum_k X[m, k] * Wdq[n, k]. x is [..., K]."""
    xf = np.asarray(x).astype(np.float64)
    wdq = dequantize(w, scales, zps, group_size, bits)
    return xf @ wdq.T


def quantize_activations_int8(x, group_size: int):
    """The int8 mode's activation quantizer, per row and weight group, in float32 arithmetic.

        a   = max |x| over the group (NaN if any element is NaN)
        inv = float32(127) / a                       (a == 0: q = 0, sx = 0)
        q   = clip(rint(x * inv), -127, 127)         (float32 product, half to even;
                                                      a NaN product gives q = 0)
        sx  = a / float32(127)

    x: [M, K] (any float dtype; converted to float32 exactly). Returns q int8 [M, K] and
    sx float32 [M, K/group_size].
    """
    x32 = np.asarray(x).astype(np.float32)
    M, K = x32.shape
    g = resolve_group_size(group_size, K)
    G = K // g if g else 0
    xg = x32.reshape(M, G, g)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a = np.max(np.abs(xg), axis=2) if g else np.zeros((M, G), np.float32)  # NaN propagates
        zero = a == np.float32(0)
        inv = np.float32(127) / np.where(zero, np.float32(1), a)
        prod = xg * inv[:, :, None]
        r = np.rint(prod)
        r = np.where(np.isnan(r), np.float32(0), r)
        r = np.clip(r, -127, 127)
        q = np.where(zero[:, :, None], 0, r).astype(np.int8)
        sx = np.where(zero, np.float32(0), a / np.float32(127)).astype(np.float32)
    return q.reshape(M, K), sx


def _int8_terms(x, w, scales, zps, group_size: int, bits: int):
    """Per-group terms sx[m,g] * scales[n,g] * isum[m,n,g] (float64), shape [M, N, G]."""
    x2 = np.asarray(x).reshape(-1, np.asarray(x).shape[-1])
    q, sx = quantize_activations_int8(x2, group_size)
    wq = unpack_weights(w, bits).astype(np.int64)
    N, K = wq.shape
    M = q.shape[0]
    g = resolve_group_size(group_size, K)
    G = K // g if g else 0
    qg = q.astype(np.int64).reshape(M, G, g)
    wg = wq.reshape(N, G, g)
    isum = np.einsum("mgk,ngk->mng", qg, wg)  # exact in int64
    if zps is not None:
        z = np.asarray(zps, dtype=np.int64).reshape(N, G)
        isum = isum - z[None, :, :] * qg.sum(axis=2)[:, None, :]
    s = np.asarray(scales, dtype=np.float64).reshape(N, G)
    with np.errstate(invalid="ignore", over="ignore"):
        return sx.astype(np.float64)[:, None, :] * s[None, :, :] * isum.astype(np.float64)


def matmul_int8(x, w, scales, zps, group_size: int, bits: int) -> np.ndarray:
    """Section 4 (int8 mode) in float64: Y[m,n] = sum_g sx[m,g]*scales[n,g]*isum[m,n,g]."""
    xa = np.asarray(x)
    terms = _int8_terms(xa, w, scales, zps, group_size, bits)
    N = terms.shape[1]
    return terms.sum(axis=2).reshape(xa.shape[:-1] + (N,))


def int8_tolerance(x, w, scales, zps, group_size: int, bits: int, out_dtype) -> np.ndarray:
    """Per-element bound for int8 mode: 1 ulp of the output dtype at the reference value plus the
    rounding of an fp32 epilogue, (G + 3) * 2^-24 * sum_g |term| (each term's product and
    conversion, and the running sum, round once each)."""
    xa = np.asarray(x)
    terms = _int8_terms(xa, w, scales, zps, group_size, bits)
    G = terms.shape[2]
    ref = terms.sum(axis=2)
    out_dtype = np.dtype(out_dtype)
    finfo_eps = {"float16": 2.0**-10, "float32": 2.0**-23, "bfloat16": 2.0**-7}[out_dtype.name]
    tiny = {"float16": 2.0**-24, "float32": 2.0**-149, "bfloat16": 2.0**-133}[out_dtype.name]
    ulp = np.maximum(np.abs(ref), 0) * finfo_eps + tiny
    epi = (G + 3) * 2.0**-24 * np.abs(terms).sum(axis=2)
    return (ulp + epi).reshape(xa.shape[:-1] + (terms.shape[1],))
