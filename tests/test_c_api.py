"""The installed C library through ctypes: the planned quantizedMatMul signature, status codes and
last-error text, as another runtime would call it (no pybind11 in between)."""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
import pytest

import qmatmul
from conftest import check_result, make_weights, make_x


def _load():
    pkg = os.path.dirname(qmatmul.__file__)
    libs = sorted(glob.glob(os.path.join(pkg, "lib*", "libqmatmul.so*")))
    assert libs, f"libqmatmul.so not installed under {pkg}"
    lib = ctypes.CDLL(libs[0])
    lib.quantizedMatMul.restype = None
    lib.quantizedMatMul.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int] * 5
    lib.qmm_last_status.restype = ctypes.c_int
    lib.qmm_last_error.restype = ctypes.c_char_p
    lib.qmm_version.restype = ctypes.c_char_p
    lib.qmm_backend_name.restype = ctypes.c_char_p
    lib.qmm_backend_name.argtypes = [ctypes.c_int]
    return lib


LIB = _load()
OK, INVALID_ARGUMENT = 0, 1


def _ptr(a):
    return None if a is None else a.ctypes.data


def test_install_layout():
    pkg = os.path.dirname(qmatmul.__file__)
    assert glob.glob(os.path.join(pkg, "include", "qmatmul", "qmatmul.h"))
    assert glob.glob(os.path.join(pkg, "lib*", "cmake", "qmatmul", "qmatmulConfig.cmake"))
    assert LIB.qmm_version().decode() == qmatmul.__version__


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("zp", [True, False])
def test_planned_signature(rng, bits, zp):
    M, N, K, g = 5, 37, 256, 64
    w, s, z = make_weights(rng, N, K, g, bits, zp)
    x = make_x(rng, (M, K), np.float16)
    y = np.full((M, N), np.nan, np.float16)
    LIB.quantizedMatMul(_ptr(x), _ptr(w), _ptr(s), _ptr(z), _ptr(y), M, N, K, g, bits)
    assert LIB.qmm_last_status() == OK, LIB.qmm_last_error()
    assert LIB.qmm_last_error() == b""
    check_result(y, x, w, s, z, g, bits, "float")


@pytest.mark.parametrize("case, expect", [
    (dict(M=-1), b"M must be >= 0, got -1"),
    (dict(K=-4), b"K must be >= 0, got -4"),
    (dict(bits=5), b"bits must be 4 or 8, got 5"),
    (dict(g=48), b"group_size=48 does not divide K=128"),
    (dict(g=-7), b"group_size must be a positive divisor of K or -1, got -7"),
    (dict(K=127, g=-1, bits=4), b"K must be even for bits=4, got K=127"),
    (dict(x=None), b"x is NULL"),
    (dict(w=None), b"w is NULL"),
    (dict(s=None), b"scales is NULL"),
    (dict(y=None), b"y is NULL"),
])
def test_errors_leave_output_untouched(rng, case, expect):
    M, N, K, g, bits = 3, 9, 128, 32, 8
    w, s, z = make_weights(rng, N, K, g, bits, True)
    x = make_x(rng, (M, K), np.float16)
    y = np.full((M, N), np.nan, np.float16)
    a = dict(x=x, w=w, s=s, z=z, y=y, M=M, N=N, K=K, g=g, bits=bits)
    a.update(case)
    LIB.quantizedMatMul(_ptr(a["x"]), _ptr(a["w"]), _ptr(a["s"]), _ptr(a["z"]), _ptr(a["y"]),
                        a["M"], a["N"], a["K"], a["g"], a["bits"])
    assert LIB.qmm_last_status() == INVALID_ARGUMENT
    assert expect in LIB.qmm_last_error()
    assert np.all(np.isnan(y.astype(np.float32)))
    # the status is per call: a good call clears it
    LIB.quantizedMatMul(_ptr(x), _ptr(w), _ptr(s), _ptr(z), _ptr(y), M, N, K, g, bits)
    assert LIB.qmm_last_status() == OK


def test_null_zero_points_and_empty(rng):
    M, N, K, g = 2, 4, 64, -1
    w, s, _ = make_weights(rng, N, K, g, 8, False)
    x = make_x(rng, (M, K), np.float16)
    y = np.full((M, N), np.nan, np.float16)
    LIB.quantizedMatMul(_ptr(x), _ptr(w), _ptr(s), None, _ptr(y), M, N, K, g, 8)
    assert LIB.qmm_last_status() == OK
    check_result(y, x, w, s, None, g, 8, "float")
    LIB.quantizedMatMul(None, _ptr(w), _ptr(s), None, None, 0, N, K, g, 8)
    assert LIB.qmm_last_status() == OK


def test_backend_listing():
    names = [LIB.qmm_backend_name(i).decode() for i in range(LIB.qmm_backend_count())]
    assert names == [b["name"] for b in qmatmul.backends()]
    assert names[-1] == "scalar"
