"""qmatmul: quantized (int4/int8 weight) matrix multiply for LLM inference.

    y = qmatmul.quantized_matmul(x, w, scales, zps, group_size, bits)

computes y = x @ dequant(w).T with dequant(w)[n, k] = scales[n, g] * (w[n, k] - zps[n, g]),
g = k // group_size. See docs/semantics.md for layouts and compute modes.
"""
from . import reference
from ._api import (PackedWeights, backends, get_num_threads, info, quantized_matmul,
                   set_num_threads)
from .quantization import dequantize, pack_int4, quantize, unpack_int4

__version__ = "0.1.0"

__all__ = [
    "quantized_matmul",
    "PackedWeights",
    "quantize",
    "dequantize",
    "pack_int4",
    "unpack_int4",
    "backends",
    "info",
    "set_num_threads",
    "get_num_threads",
    "reference",
]
