"""qmatmul's Python API: argument checks that name the offending argument, then one C call."""
from __future__ import annotations

import platform
from typing import Any, Dict, List, Optional

import numpy as np

from . import _core
from ._arrays import ACT_DTYPES, View, current_stream, empty_like_kind, is_c_contiguous, \
    row_stride_2d, view

__all__ = ["quantized_matmul", "PackedWeights", "backends", "info", "set_num_threads",
           "get_num_threads"]

_COMPUTE = {"float": _core.COMPUTE_FLOAT, "int8": _core.COMPUTE_INT8}


def _check_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _check_bits(bits) -> int:
    bits = _check_int(bits, "bits")
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    return bits


_INT32_MAX = 2**31 - 1


def _check_compute(compute) -> int:
    if not isinstance(compute, str):
        raise TypeError(f"compute must be 'float' or 'int8', got {type(compute).__name__}")
    if compute not in _COMPUTE:
        raise ValueError(f"compute must be 'float' or 'int8', got {compute!r}")
    return _COMPUTE[compute]


def _check_backend(backend) -> str:
    if backend is None:
        return ""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str or None, got {type(backend).__name__}")
    if "\0" in backend:
        # the C API takes a NUL-terminated name: "scalar\0x" would silently become "scalar"
        raise ValueError(f"backend must not contain NUL characters, got {backend!r}")
    return backend


def _check_group_size(group_size, K: int) -> int:
    g = _check_int(group_size, "group_size")
    if (g != -1 and g <= 0) or g > 2**63 - 1:
        raise ValueError(f"group_size must be a positive divisor of K or -1, got {g}")
    if g > 0 and K % g != 0:
        raise ValueError(f"group_size={g} does not divide K={K}")
    return g


def _weights(w, scales, zps, group_size, bits):
    """Check the weight triple; returns views, N, K, resolved group count."""
    bits = _check_bits(bits)
    if w is None:
        raise TypeError("w must be an array, got None")
    if scales is None:
        raise TypeError("scales must be an array, got None")
    wv = view(w, "w")
    if len(wv.shape) != 2:
        raise ValueError(f"w must be 2-D ([N, K] for 8 bits, [N, K/2] for 4 bits), got shape {wv.shape}")
    if bits == 8 and wv.dtype != "int8":
        raise TypeError(f"w must be int8 for bits=8, got dtype {wv.dtype}")
    if bits == 4 and wv.dtype not in ("uint8", "int8"):
        raise TypeError(f"w must be uint8 (or int8) packed int4 for bits=4, got dtype {wv.dtype}")
    if not is_c_contiguous(wv):
        raise ValueError("w must be C-contiguous")
    N = wv.shape[0]
    K = wv.shape[1] * (2 if bits == 4 else 1)
    g = _check_group_size(group_size, K)
    G = (1 if K else 0) if g == -1 else K // g
    sv = view(scales, "scales")
    if sv.dtype != "float32":
        raise TypeError(f"scales must be float32, got dtype {sv.dtype}")
    if tuple(sv.shape) != (N, G):
        raise ValueError(f"scales must have shape (N, K/group_size) = ({N}, {G}), got {tuple(sv.shape)}")
    if not is_c_contiguous(sv):
        raise ValueError("scales must be C-contiguous")
    zv = None
    if zps is not None:
        zv = view(zps, "zps")
        if zv.dtype != "int8":
            raise TypeError(f"zps must be int8 or None, got dtype {zv.dtype}")
        if tuple(zv.shape) != (N, G):
            raise ValueError(f"zps must have shape (N, K/group_size) = ({N}, {G}), got {tuple(zv.shape)}")
        if not is_c_contiguous(zv):
            raise ValueError("zps must be C-contiguous")
    for v, name in ((sv, "scales"), (zv, "zps")):
        if v is not None and v.device != wv.device:
            raise ValueError(f"w and {name} must both be host (NumPy) or both CUDA arrays")
    return wv, sv, zv, N, K, g, bits


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))
    except Exception:  # numpy's TooHardError: cannot prove them disjoint
        return True


def _check_out_overlap(yv: View, inputs) -> None:
    """out must not share memory with an input: the kernels read x (and the weights) while they
    write y, in an order that differs by backend, so an overlap would give undefined results."""
    if yv.kind != "numpy":
        return
    for v, name in inputs:
        if v is not None and v.kind == "numpy" and _overlaps(yv.obj, v.obj):
            raise ValueError(f"out must not overlap {name} (in-place matmul is not supported)")


def _activations(x, K: int, N: int, out, w_device: bool):
    """Check x (and out); returns x view, M, ldx, the output object, its view, ldy, and whether
    the output was the caller's (else allocated here)."""
    if x is None:
        raise TypeError("x must be an array, got None")
    xv = view(x, "x")
    if xv.dtype not in ACT_DTYPES:
        raise TypeError(f"x must be float16, float32 or bfloat16, got dtype {xv.dtype}")
    if len(xv.shape) == 0:
        raise ValueError("x must have at least 1 dimension ([..., K]), got a scalar")
    if xv.shape[-1] != K:
        raise ValueError(f"x.shape[-1] must equal K={K} (from w), got x.shape={tuple(xv.shape)}")
    if xv.device != w_device:
        raise ValueError("x and w must be on the same device: x is "
                         f"{'CUDA' if xv.device else 'host'} memory, w is "
                         f"{'CUDA' if w_device else 'host'} memory")
    lead = tuple(xv.shape[:-1])
    M = 1
    for d in lead:
        M *= int(d)
    if len(xv.shape) <= 2:
        ldx = row_stride_2d(xv, M, K, "x") if len(xv.shape) == 2 else K
        if len(xv.shape) == 1 and K > 1 and xv.strides[0] != 1:
            raise ValueError("x must be contiguous (stride 1)")
    else:
        if not is_c_contiguous(xv):
            raise ValueError(f"x with {len(xv.shape)} dimensions must be C-contiguous, "
                             f"got element strides {xv.strides}")
        ldx = K
    out_shape = lead + (N,)
    user_out = out is not None
    if out is None:
        out = empty_like_kind(xv, out_shape, xv.dtype)
    yv = view(out, "out")
    if user_out and yv.obj is not out:
        raise TypeError(f"out must be an array (NumPy or CUDA), got {type(out).__name__}")
    if yv.dtype not in ACT_DTYPES:
        raise TypeError(f"out must be float16, float32 or bfloat16, got dtype {yv.dtype}")
    if tuple(yv.shape) != out_shape:
        raise ValueError(f"out must have shape {out_shape}, got {tuple(yv.shape)}")
    if yv.device != xv.device:
        raise ValueError("out and x must be on the same device")
    if yv.kind == "numpy" and not yv.obj.flags.writeable:
        raise ValueError("out must be writeable")
    if len(yv.shape) <= 2:
        ldy = row_stride_2d(yv, M, N, "out") if len(yv.shape) == 2 else N
        if len(yv.shape) == 1 and N > 1 and yv.strides[0] != 1:
            raise ValueError("out must be contiguous (stride 1)")
    else:
        if not is_c_contiguous(yv):
            raise ValueError("out with more than 2 dimensions must be C-contiguous")
        ldy = N
    if user_out:
        _check_out_overlap(yv, [(xv, "x")])
    return xv, M, max(ldx, 1), out, yv, max(ldy, 1), user_out


_CUDA_OK = False  # set once a CUDA backend was found available (it stays so for the process)


def _require_cuda(name: str) -> None:
    """CUDA arrays need an available CUDA backend; without one their addresses must never reach
    the C library (it could not tell them from host memory)."""
    global _CUDA_OK
    if _CUDA_OK:
        return
    if not any(b["device"] and b["available"] for b in _core.backends()):
        built = any(b["device"] for b in _core.backends())
        why = "no CUDA device is available" if built else "this build has no CUDA backend"
        raise ValueError(f"{name} is a CUDA array but the CUDA backend is not available ({why})")
    _CUDA_OK = True


def _check_threads(threads) -> int:
    if threads is None:
        return 0
    t = _check_int(threads, "threads")
    if t < 0:
        raise ValueError(f"threads must be >= 0, got {t}")
    if t > _INT32_MAX:
        raise ValueError(f"threads must be <= {_INT32_MAX}, got {t}")
    return t


def quantized_matmul(
    x,
    w,
    scales,
    zps,
    group_size: int,
    bits: int,
    *,
    compute: str = "float",
    backend: Optional[str] = None,
    out=None,
    stream=None,
    threads: Optional[int] = None,
):
    """Y = X @ dequant(W).T for group-quantized weights.

    Args:
        x: activations [..., K]: a NumPy float16/float32/bfloat16 array (runs on the CPU), or a
            CUDA array (torch tensor, CuPy array; runs on the CUDA backend, result of the same kind).
            Leading dimensions are flattened and restored; the last dimension must be contiguous,
            a 2-D x may have a row stride.
        w: canonical quantized weights: int8 [N, K] (bits=8) or uint8/int8 [N, K/2] packed int4.
        scales: float32 [N, K/group_size].
        zps: int8 [N, K/group_size] zero points, or None (symmetric).
        group_size: a positive divisor of K, or -1 for one group per row.
        bits: 4 or 8.
        compute: "float" (dequantize, multiply in floating point) or "int8" (activations
            quantized per row and group, integer dot products).
        backend: None/"auto", or a backend name from backends() (an unavailable one is an error).
        out: optional output array [..., N] (float16/float32/bfloat16, same device as x).
        stream: CUDA stream (int handle or torch/CuPy stream); default: the array library's
            current stream.
        threads: CPU threads for this call (default: the library setting).

    Returns:
        y [..., N] with x's dtype (or `out`).
    """
    c = _check_compute(compute)
    b = _check_backend(backend)
    t = _check_threads(threads)
    wv, sv, zv, N, K, g, bits = _weights(w, scales, zps, group_size, bits)
    if wv.device:
        _require_cuda("w")
    xv, M, ldx, out, yv, ldy, user_out = _activations(x, K, N, out, wv.device)
    if user_out:  # an array allocated here cannot overlap anything
        _check_out_overlap(yv, [(wv, "w"), (sv, "scales"), (zv, "zps")])
    s = current_stream(xv, stream)
    _core.matmul(M, N, K, xv.ptr, ldx, ACT_DTYPES[xv.dtype], wv.ptr, sv.ptr,
                 zv.ptr if zv is not None else 0, g, bits, yv.ptr, ldy, ACT_DTYPES[yv.dtype],
                 c, b, s, t)
    return out


class PackedWeights:
    """Weights prepacked once into a backend's own layout, for repeated matmuls.

    The arrays are copied: the originals may be freed. `backend` picks the backend (default: the
    one automatic dispatch chooses for this memory and compute mode, before any deferral by row
    count: see docs/semantics.md).
    """

    def __init__(self, w, scales, zps, group_size: int, bits: int, *, backend: Optional[str] = None,
                 compute: str = "float"):
        c = _check_compute(compute)
        b = _check_backend(backend)
        wv, sv, zv, N, K, g, bits = _weights(w, scales, zps, group_size, bits)
        self.N, self.K, self.group_size, self.bits = N, K, g, bits
        self.device = wv.device
        if wv.device:
            _require_cuda("w")
        self._kind_view = wv
        self._handle = _core.pack(N, K, wv.ptr, sv.ptr, zv.ptr if zv is not None else 0, g, bits,
                                  c, b, current_stream(wv, None), 0)

    @property
    def backend(self) -> str:
        """Name of the backend that owns the packed layout."""
        return self._handle.backend

    @property
    def nbytes(self) -> int:
        return self._handle.nbytes

    def matmul(self, x, *, compute: str = "float", out=None, stream=None,
               threads: Optional[int] = None):
        """y = x @ dequant(W).T on the packed weights (same conventions as quantized_matmul)."""
        c = _check_compute(compute)
        t = _check_threads(threads)
        xv, M, ldx, out, yv, ldy, _ = _activations(x, self.K, self.N, out, self.device)
        s = current_stream(xv, stream)
        _core.matmul_packed(self._handle, M, self.N, self.K, xv.ptr, ldx, ACT_DTYPES[xv.dtype],
                            self.group_size, self.bits, yv.ptr, ldy, ACT_DTYPES[yv.dtype], c, "",
                            s, t)
        return out

    __call__ = matmul

    def __repr__(self) -> str:
        return (f"PackedWeights(N={self.N}, K={self.K}, group_size={self.group_size}, "
                f"bits={self.bits}, backend={self.backend!r})")


def backends() -> List[Dict[str, Any]]:
    """Backends compiled in, in dispatch priority order: [{"name", "available", "device"}]."""
    return _core.backends()


def set_num_threads(n: int) -> None:
    """Library-wide CPU thread count; n <= 0 restores the default (OMP_NUM_THREADS or all cores)."""
    n = _check_int(n, "n")
    if not -_INT32_MAX - 1 <= n <= _INT32_MAX:
        raise ValueError(f"n must fit in a C int (|n| < 2**31), got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    return _core.get_num_threads()


def info() -> Dict[str, Any]:
    """Version, detected CPU/GPU features, backends and thread count."""
    return {
        "version": _core.version(),
        "cpu_features": _core.cpu_features(),
        "gpu_features": _core.gpu_features(),
        "backends": backends(),
        "num_threads": get_num_threads(),
        "compiler": _core.COMPILER,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
