"""Array plumbing: NumPy arrays (host) and CUDA arrays (torch tensors, CuPy arrays, anything with
``__cuda_array_interface__``) reduced to an address, a shape, element strides and a dtype."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

try:  # bfloat16 in NumPy
    import ml_dtypes

    BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    BFLOAT16 = None

from . import _core

# NumPy dtype name -> C API dtype code, for activations and outputs.
ACT_DTYPES = {"float16": _core.DTYPE_F16, "float32": _core.DTYPE_F32, "bfloat16": _core.DTYPE_BF16}


# dtype -> name without numpy's (slow) dtype.name property on the hot path
_NP_NAMES = {np.dtype(t): np.dtype(t).name for t in
             (np.float16, np.float32, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64)}
if BFLOAT16 is not None:
    _NP_NAMES[BFLOAT16] = "bfloat16"


class View:
    """What the C API needs to know about one array (a plain class with slots: it is built for
    every array of every call, and a dataclass costs a few microseconds more per call)."""

    __slots__ = ("ptr", "shape", "strides", "dtype", "device", "kind", "obj")

    def __init__(self, ptr: int, shape: Tuple[int, ...], strides: Tuple[int, ...], dtype: str,
                 device: bool, kind: str, obj: Any):
        self.ptr = ptr
        self.shape = shape
        self.strides = strides  # in elements
        self.dtype = dtype  # NumPy-style name: float16, bfloat16, float32, int8, uint8, ...
        self.device = device  # CUDA memory
        self.kind = kind  # "numpy", "torch", "cupy", "cai"
        self.obj = obj


_TORCH_NAMES = {
    "torch.float16": "float16",
    "torch.bfloat16": "bfloat16",
    "torch.float32": "float32",
    "torch.int8": "int8",
    "torch.uint8": "uint8",
    "torch.float64": "float64",
    "torch.int32": "int32",
    "torch.int64": "int64",
}


def is_torch(obj) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "data_ptr")


def is_cuda_array(obj) -> bool:
    if is_torch(obj):
        return bool(getattr(obj, "is_cuda", False))
    return hasattr(obj, "__cuda_array_interface__")


def view(obj, name: str) -> View:
    """Describe `obj` (argument `name`) without copying it."""
    if isinstance(obj, np.ndarray):
        dt = obj.dtype
        name_ = _NP_NAMES.get(dt)
        if name_ is None:
            if not dt.isnative:
                # the kernels read native-endian numbers; a byte-swapped array would be garbage
                raise TypeError(f"{name} must have native byte order, got dtype {dt.str!r} "
                                f"({dt.name}, byte-swapped)")
            name_ = dt.name
        itemsize = dt.itemsize
        bstrides = obj.strides
        if itemsize == 1:
            strides = bstrides
        else:
            for d, s in zip(obj.shape, bstrides):
                if d > 1 and s % itemsize:
                    raise ValueError(f"{name} has byte strides {bstrides}, not multiples of its "
                                     f"item size ({itemsize} bytes)")
            strides = tuple(s // itemsize for s in bstrides)
        return View(_core.data_address(obj), obj.shape, strides, name_, False, "numpy", obj)
    if is_torch(obj):
        dt = _TORCH_NAMES.get(str(obj.dtype), str(obj.dtype))
        return View(obj.data_ptr(), tuple(obj.shape), tuple(obj.stride()), dt,
                    bool(obj.is_cuda), "torch", obj)
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        dt = np.dtype(cai["typestr"])
        shape = tuple(cai["shape"])
        if cai.get("strides") is None:
            strides = []
            acc = 1
            for d in reversed(shape):
                strides.append(acc)
                acc *= d
            strides = tuple(reversed(strides))
        else:
            strides = tuple(s // dt.itemsize for s in cai["strides"])
        kind = "cupy" if type(obj).__module__.startswith("cupy") else "cai"
        return View(int(cai["data"][0]), shape, strides, dt.name, True, kind, obj)
    if hasattr(obj, "__array__") or isinstance(obj, (list, tuple)):
        arr = np.asarray(obj)
        if arr.dtype == object:
            raise TypeError(f"{name} must be an array, got {type(obj).__name__}")
        return view(arr, name)
    raise TypeError(f"{name} must be a NumPy array or a CUDA array, got {type(obj).__name__}")


def is_c_contiguous(v: View) -> bool:
    if v.kind == "numpy":
        return bool(v.obj.flags.c_contiguous)
    if 0 in v.shape:
        return True
    expected = 1
    for d, s in zip(reversed(v.shape), reversed(v.strides)):
        if d != 1 and s != expected:
            return False
        expected *= d
    return True


def row_stride_2d(v: View, rows: int, cols: int, name: str) -> int:
    """For a [rows, cols] view with unit inner stride, the row stride in elements."""
    if rows == 0 or cols == 0:
        return max(cols, 1)
    if cols > 1 and v.strides[-1] != 1:
        raise ValueError(f"{name} must have a contiguous last dimension (stride 1), got element "
                         f"strides {v.strides}")
    if rows <= 1:
        return cols
    rs = v.strides[0]
    if rs < cols:
        raise ValueError(f"{name} has a row stride of {rs} elements, less than its row length "
                         f"{cols} (negative or overlapping rows are not supported)")
    return rs


def empty_like_kind(v: View, shape, dtype: str):
    """Allocate an output of the same kind (library, device) as the view's array."""
    if v.kind == "numpy":
        return np.empty(shape, dtype=BFLOAT16 if dtype == "bfloat16" else np.dtype(dtype))
    if v.kind == "torch":
        import torch

        tdt = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
        return torch.empty(shape, dtype=tdt, device=v.obj.device)
    if v.kind == "cupy":
        import cupy

        if dtype == "bfloat16":
            raise TypeError("CuPy has no bfloat16 arrays; pass out= or use torch")
        return cupy.empty(shape, dtype=dtype)
    raise TypeError("cannot allocate the result for a CUDA array of unknown kind "
                    f"{type(v.obj).__name__}; pass out=")


def _stream_handle(h: int) -> int:
    if not 0 <= h < 2**64:
        raise ValueError(f"stream must be a handle in [0, 2**64), got {h}")
    return h


def current_stream(v: View, stream) -> int:
    """The CUDA stream handle to run on: explicit `stream`, else the array library's current one."""
    if stream is not None:
        if isinstance(stream, bool):
            raise TypeError("stream must be an int handle or a torch/CuPy stream, got bool")
        if isinstance(stream, (int, np.integer)):
            return _stream_handle(int(stream))
        for attr in ("cuda_stream", "ptr", "handle"):
            h = getattr(stream, attr, None)
            if isinstance(h, (int, np.integer)) and not isinstance(h, bool):
                return _stream_handle(int(h))
        raise TypeError(f"stream must be an int handle or a torch/CuPy stream, got {type(stream).__name__}")
    if not v.device:
        return 0
    if v.kind == "torch":
        import torch

        return int(torch.cuda.current_stream(v.obj.device).cuda_stream)
    if v.kind == "cupy":
        import cupy

        return int(cupy.cuda.get_current_stream().ptr)
    return 0


def reshape_like(obj, shape):
    return obj.reshape(shape)


def optional_view(obj, name: str) -> Optional[View]:
    return None if obj is None else view(obj, name)
