"""The installed C library through ctypes: the planned quantizedMatMul signature, status codes and
last-error text, as another runtime would call it (no pybind11 in between)."""
from __future__ import annotations

import ctypes
import glob
import os
import subprocess
import sys
import textwrap

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


# --- the extended API through ctypes ----------------------------------------------------------

class Problem(ctypes.Structure):
    _fields_ = [("M", ctypes.c_int64), ("N", ctypes.c_int64), ("K", ctypes.c_int64),
                ("x", ctypes.c_void_p), ("ldx", ctypes.c_int64), ("x_dtype", ctypes.c_int),
                ("w", ctypes.c_void_p), ("scales", ctypes.c_void_p),
                ("zero_points", ctypes.c_void_p), ("group_size", ctypes.c_int64),
                ("bits", ctypes.c_int32), ("y", ctypes.c_void_p), ("ldy", ctypes.c_int64),
                ("y_dtype", ctypes.c_int)]


class Options(ctypes.Structure):
    _fields_ = [("compute", ctypes.c_int), ("backend", ctypes.c_char_p),
                ("cuda_stream", ctypes.c_void_p), ("num_threads", ctypes.c_int32)]


P_PROBLEM, P_OPTIONS = ctypes.POINTER(Problem), ctypes.POINTER(Options)
LIB.qmm_problem_init.argtypes = [P_PROBLEM]
LIB.qmm_options_init.argtypes = [P_OPTIONS]
LIB.qmm_matmul.argtypes = [P_PROBLEM, P_OPTIONS]
LIB.qmm_matmul.restype = ctypes.c_int
LIB.qmm_pack.argtypes = [P_PROBLEM, P_OPTIONS, ctypes.POINTER(ctypes.c_void_p)]
LIB.qmm_pack.restype = ctypes.c_int
LIB.qmm_matmul_packed.argtypes = [ctypes.c_void_p, P_PROBLEM, P_OPTIONS]
LIB.qmm_matmul_packed.restype = ctypes.c_int
LIB.qmm_packed_free.argtypes = [ctypes.c_void_p]
LIB.qmm_packed_free.restype = None
LIB.qmm_packed_backend.argtypes = [ctypes.c_void_p]
LIB.qmm_packed_backend.restype = ctypes.c_char_p
LIB.qmm_select_backend.argtypes = [P_PROBLEM, P_OPTIONS]
LIB.qmm_select_backend.restype = ctypes.c_char_p
LIB.qmm_backend_available.argtypes = [ctypes.c_int]
LIB.qmm_backend_is_device.argtypes = [ctypes.c_int]
LIB.qmm_status_string.restype = ctypes.c_char_p
LIB.qmm_status_string.argtypes = [ctypes.c_int]
UNSUPPORTED = 2


def _problem(x, w, s, z, y, M, N, K, g, bits, **fields):
    p = Problem()
    LIB.qmm_problem_init(ctypes.byref(p))
    p.M, p.N, p.K, p.group_size, p.bits = M, N, K, g, bits
    p.x, p.w, p.scales, p.zero_points, p.y = (_ptr(a) for a in (x, w, s, z, y))
    for k, v in fields.items():
        setattr(p, k, v)
    return p


def _options(**fields):
    o = Options()
    LIB.qmm_options_init(ctypes.byref(o))
    for k, v in fields.items():
        setattr(o, k, v)
    return o


@pytest.fixture
def ext(rng):
    M, N, K, g = 3, 9, 128, 32
    w, s, z = make_weights(rng, N, K, g, 8, True)
    x = make_x(rng, (M, K), np.float16)
    y = np.full((M, N), np.nan, np.float16)
    return dict(x=x, w=w, s=s, z=z, y=y, M=M, N=N, K=K, g=g, bits=8)


BIG = 2**40  # sizes where only validation may run: nothing is allocated or touched


@pytest.mark.parametrize("fields, status, expect", [
    (dict(ldx=5), INVALID_ARGUMENT, b"ldx must be 0 or >= K=128, got 5"),
    (dict(ldx=-1), INVALID_ARGUMENT, b"ldx must be 0 or >= K=128, got -1"),
    (dict(ldy=8), INVALID_ARGUMENT, b"ldy must be 0 or >= N=9, got 8"),
    (dict(x_dtype=3), INVALID_ARGUMENT, b"x_dtype must be QMM_DTYPE_F16, _BF16 or _F32, got 3"),
    (dict(y_dtype=-1), INVALID_ARGUMENT, b"y_dtype must be QMM_DTYPE_F16, _BF16 or _F32, got -1"),
    (dict(bits=5), INVALID_ARGUMENT, b"bits must be 4 or 8, got 5"),
    (dict(group_size=0), INVALID_ARGUMENT, b"group_size must be a positive divisor of K or -1, got 0"),
    (dict(group_size=-2), INVALID_ARGUMENT, b"got -2"),
    (dict(group_size=48), INVALID_ARGUMENT, b"group_size=48 does not divide K=128"),
    (dict(N=-3), INVALID_ARGUMENT, b"N must be >= 0, got -3"),
    (dict(M=BIG, x=None), INVALID_ARGUMENT, b"x is NULL but M=1099511627776"),
    (dict(M=2**20, K=2**12, group_size=-1, x=None), INVALID_ARGUMENT, b"x is NULL but M=1048576, K=4096"),
    (dict(N=BIG, K=BIG, group_size=-1), INVALID_ARGUMENT, b"w (N*K) is too large"),
    (dict(M=2**62, ldx=2**62), INVALID_ARGUMENT, b"x (M*ldx) is too large"),
    (dict(ldy=2**62, M=4), INVALID_ARGUMENT, b"y (M*ldy) is too large"),
    (dict(N=2**61, K=2, bits=4, group_size=-1), INVALID_ARGUMENT, b"scales is too large"),
    (dict(K=2**63 - 1, bits=4, group_size=-1), INVALID_ARGUMENT, b"K must be even for bits=4"),
    (dict(zero_points=None), OK, b""),
])
def test_extended_validation(ext, fields, status, expect):
    a = ext
    p = _problem(a["x"], a["w"], a["s"], a["z"], a["y"], a["M"], a["N"], a["K"], a["g"], 8)
    for k, v in fields.items():
        setattr(p, k, v)
    assert LIB.qmm_matmul(ctypes.byref(p), None) == status
    assert LIB.qmm_last_status() == status
    assert expect in LIB.qmm_last_error()
    if status != OK:
        assert np.all(np.isnan(a["y"].astype(np.float32)))


def test_extended_null_and_options(ext):
    a = ext
    p = _problem(a["x"], a["w"], a["s"], a["z"], a["y"], a["M"], a["N"], a["K"], a["g"], 8)
    assert LIB.qmm_matmul(None, None) == INVALID_ARGUMENT
    assert b"problem is NULL" in LIB.qmm_last_error()
    for o, status, expect in [
        (_options(compute=7), INVALID_ARGUMENT, b"compute must be QMM_COMPUTE_FLOAT or QMM_COMPUTE_INT8, got 7"),
        (_options(num_threads=-2), INVALID_ARGUMENT, b"num_threads must be >= 0, got -2"),
        (_options(backend=b"nonexistent"), INVALID_ARGUMENT, b"backend 'nonexistent' is not a backend"),
    ]:
        assert LIB.qmm_matmul(ctypes.byref(p), ctypes.byref(o)) == status
        assert expect in LIB.qmm_last_error()
    assert np.all(np.isnan(a["y"].astype(np.float32)))
    for i in range(LIB.qmm_backend_count()):
        if not LIB.qmm_backend_available(i):
            o = _options(backend=LIB.qmm_backend_name(i))
            assert LIB.qmm_matmul(ctypes.byref(p), ctypes.byref(o)) == UNSUPPORTED
            assert b"is not available" in LIB.qmm_last_error()
    assert np.all(np.isnan(a["y"].astype(np.float32)))
    assert LIB.qmm_matmul(ctypes.byref(p), ctypes.byref(_options(backend=b"auto"))) == OK
    check_result(a["y"], a["x"], a["w"], a["s"], a["z"], a["g"], 8, "float")


def test_extended_empty_dimensions(ext):
    a = ext
    y = np.full((3, 4), np.nan, np.float32)
    # K == 0: zeros, with NULL x, w and scales (they are empty)
    p = _problem(None, None, None, None, y, 3, 4, 0, -1, 8, y_dtype=2)
    assert LIB.qmm_matmul(ctypes.byref(p), None) == OK
    np.testing.assert_array_equal(y, 0)
    # M == 0 / N == 0: success, nothing written
    y[...] = np.nan
    for M, N in ((0, 4), (3, 0)):
        p = _problem(a["x"] if M else None, a["w"] if N else None, a["s"] if N else None, None,
                     None, M, N, a["K"], a["g"], 8)
        assert LIB.qmm_matmul(ctypes.byref(p), None) == OK, LIB.qmm_last_error()
    p = _problem(a["x"], a["w"], a["s"], None, y, 0, 4, a["K"], a["g"], 8, y_dtype=2)
    assert LIB.qmm_matmul(ctypes.byref(p), None) == OK
    assert np.all(np.isnan(y))


def test_backend_queries_out_of_range():
    n = LIB.qmm_backend_count()
    for i in (-1, n, 2**31 - 1):
        assert LIB.qmm_backend_name(i) is None
        assert LIB.qmm_backend_available(i) == 0
        assert LIB.qmm_backend_is_device(i) == 0
    assert LIB.qmm_status_string(99) == b"UNKNOWN_STATUS"
    LIB.qmm_packed_free(None)
    assert LIB.qmm_packed_backend(None) is None
    assert LIB.qmm_select_backend(None, None) is None
    assert LIB.qmm_last_status() == INVALID_ARGUMENT


def test_packed_mismatch(ext):
    a = ext
    wp = _problem(None, a["w"], a["s"], a["z"], None, 0, a["N"], a["K"], a["g"], 8)
    h = ctypes.c_void_p()
    assert LIB.qmm_pack(ctypes.byref(wp), None, None) == INVALID_ARGUMENT
    assert LIB.qmm_pack(None, None, ctypes.byref(h)) == INVALID_ARGUMENT and not h
    assert LIB.qmm_pack(ctypes.byref(wp), None, ctypes.byref(h)) == OK
    try:
        name = LIB.qmm_packed_backend(h)
        other = b"scalar" if name != b"scalar" else b"avx2"
        for fields, expect in [
            (dict(K=64, group_size=32), b"K=64 does not match the packed weights' K=128"),
            (dict(N=5), b"N=5 does not match the packed weights' N=9"),
            (dict(bits=4), b"bits=4 does not match the packed weights' bits=8"),
            (dict(group_size=64), b"group_size=64 does not match the packed weights' group_size=32"),
        ]:
            p = _problem(a["x"], None, None, None, a["y"], a["M"], a["N"], a["K"], a["g"], 8)
            for k, v in fields.items():
                setattr(p, k, v)
            assert LIB.qmm_matmul_packed(h, ctypes.byref(p), None) == INVALID_ARGUMENT
            assert expect in LIB.qmm_last_error()
        p = _problem(a["x"], None, None, None, a["y"], a["M"], a["N"], a["K"], a["g"], 8)
        assert LIB.qmm_matmul_packed(None, ctypes.byref(p), None) == INVALID_ARGUMENT
        assert LIB.qmm_matmul_packed(h, None, None) == INVALID_ARGUMENT
        o = _options(backend=other)
        assert LIB.qmm_matmul_packed(h, ctypes.byref(p), ctypes.byref(o)) == INVALID_ARGUMENT
        assert b"packed by '" + name + b"'" in LIB.qmm_last_error()
        assert np.all(np.isnan(a["y"].astype(np.float32)))
        # after all the mismatches, a good call still works
        assert LIB.qmm_matmul_packed(h, ctypes.byref(p), None) == OK
        check_result(a["y"], a["x"], a["w"], a["s"], a["z"], a["g"], 8, "float")
    finally:
        LIB.qmm_packed_free(h)


def test_env_backend_unknown_or_unavailable(ext):
    """QMM_BACKEND is read per call; an unknown or unavailable name is an error, not a fallback."""
    a = ext
    names = [LIB.qmm_backend_name(i).decode() for i in range(LIB.qmm_backend_count())]
    unavailable = [n for i, n in enumerate(names) if not LIB.qmm_backend_available(i)]
    code = textwrap.dedent(f"""
        import ctypes, sys
        lib = ctypes.CDLL({LIB._name!r})
        lib.qmm_last_error.restype = ctypes.c_char_p
        lib.quantizedMatMul.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int] * 5
        import numpy as np
        x = np.ones((2, 64), np.float16); w = np.ones((3, 64), np.int8)
        s = np.ones((3, 1), np.float32); y = np.full((2, 3), np.nan, np.float16)
        lib.quantizedMatMul(x.ctypes.data, w.ctypes.data, s.ctypes.data, None, y.ctypes.data,
                            2, 3, 64, -1, 8)
        print(lib.qmm_last_status(), np.isnan(y.astype(np.float32)).all(),
              lib.qmm_last_error().decode())
    """)
    for name, status, expect in [("bogus", INVALID_ARGUMENT, "QMM_BACKEND 'bogus' is not a backend"),
                                 *[(n, UNSUPPORTED, f"QMM_BACKEND '{n}' is not available")
                                   for n in unavailable],
                                 ("scalar", OK, "")]:
        env = dict(os.environ, QMM_BACKEND=name)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        st, untouched, msg = r.stdout.rstrip("\n").split(" ", 2)
        assert int(st) == status and expect in msg, r.stdout
        assert untouched == ("True" if status else "False")


def test_huge_num_threads_option():
    """options.num_threads = INT_MAX used to abort the process inside libgomp (avx2 backend)."""
    code = textwrap.dedent(f"""
        import ctypes, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_c_api import LIB, _problem, _options
        import numpy as np
        x = np.ones((64, 64), np.float16); w = np.ones((64, 64), np.int8)
        s = np.ones((64, 1), np.float32)
        for i in range(LIB.qmm_backend_count()):
            if not LIB.qmm_backend_available(i) or LIB.qmm_backend_is_device(i):
                continue
            for compute in (0, 1):
                y = np.zeros((64, 64), np.float16)
                p = _problem(x, w, s, None, y, 64, 64, 64, -1, 8)
                o = _options(num_threads=2**31 - 1, compute=compute, backend=LIB.qmm_backend_name(i))
                assert LIB.qmm_matmul(ctypes.byref(p), ctypes.byref(o)) == 0, LIB.qmm_last_error()
                assert np.all(y == 64)
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def _amd_cpu() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("vendor_id") and "AuthenticAMD" in line for line in f)
    except OSError:
        return False


@pytest.mark.parametrize("compute", [0, 1])  # QMM_COMPUTE_FLOAT, QMM_COMPUTE_INT8
def test_auto_dispatch_by_rows(rng, monkeypatch, compute):
    """Automatic dispatch may depend on M only through Backend::defer: on an AMD CPU with the
    avx512 and avx2 backends, the int8 mode's one row of X goes to avx2 (faster there) and more
    rows (and float mode) to avx512;
    a forced avx512 still takes one row, and packing chooses for the weights (avx512). On other
    machines the choice does not depend on M. The deferred call's result is checked too."""
    monkeypatch.delenv("QMM_BACKEND", raising=False)
    N, K, g = 64, 256, 128
    w, s, z = make_weights(rng, N, K, g, 4, True)
    host = [LIB.qmm_backend_name(i) for i in range(LIB.qmm_backend_count())
            if LIB.qmm_backend_available(i) and not LIB.qmm_backend_is_device(i)]
    chosen, calls = {}, {}
    for M in (1, 2, 16):
        x = make_x(rng, (M, K), np.float16)
        y = np.full((M, N), np.nan, np.float16)
        p = _problem(x, w, s, z, y, M, N, K, g, 4)
        o = _options(compute=compute)
        chosen[M] = LIB.qmm_select_backend(ctypes.byref(p), ctypes.byref(o))
        calls[M] = (p, o, x, y)
    assert chosen[16] == host[0]
    defers = compute == 1 and _amd_cpu() and host[0] == b"avx512" and b"avx2" in host
    assert chosen[2] == chosen[16]
    assert chosen[1] == (b"avx2" if defers else chosen[16])
    p, o, x, y = calls[1]
    forced = _options(compute=compute, backend=chosen[16])
    assert LIB.qmm_select_backend(ctypes.byref(p), ctypes.byref(forced)) == chosen[16]
    assert LIB.qmm_matmul(ctypes.byref(p), ctypes.byref(o)) == OK
    check_result(y, x, w, s, z, g, 4, "int8" if compute else "float")
    wp = _problem(None, w, s, z, None, 0, N, K, g, 4)
    h = ctypes.c_void_p()
    assert LIB.qmm_pack(ctypes.byref(wp), ctypes.byref(o), ctypes.byref(h)) == OK
    try:
        assert LIB.qmm_packed_backend(h) == chosen[16]
    finally:
        LIB.qmm_packed_free(h)
