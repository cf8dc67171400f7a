"""Every bad-input path raises ValueError/TypeError naming the argument, never crashes."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import qmatmul
from conftest import make_weights, make_x

N, K, G = 12, 128, 32


@pytest.fixture
def args(rng):
    w, s, z = make_weights(rng, N, K, G, 4, True)
    x = make_x(rng, (3, K), np.float16)
    return x, w, s, z


def call(x, w, s, z, g=G, bits=4, **kw):
    return qmatmul.quantized_matmul(x, w, s, z, g, bits, **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int8, np.complex64])
def test_x_wrong_dtype(args, dtype):
    x, w, s, z = args
    with pytest.raises(TypeError, match="x must be float16, float32 or bfloat16"):
        call(x.astype(dtype), w, s, z)


def test_weight_dtypes(args):
    x, w, s, z = args
    with pytest.raises(TypeError, match="w must be"):
        call(x, w.astype(np.int16), s, z)
    w8, s8, z8 = make_weights(np.random.default_rng(), N, K, G, 8, True)
    with pytest.raises(TypeError, match="w must be int8 for bits=8"):
        call(x, w8.view(np.uint8), s8, z8, bits=8)
    with pytest.raises(TypeError, match="scales must be float32"):
        call(x, w, s.astype(np.float64), z)
    with pytest.raises(TypeError, match="zps must be int8"):
        call(x, w, s, z.astype(np.int32))


def test_shapes(args):
    x, w, s, z = args
    with pytest.raises(ValueError, match=r"x.shape\[-1\] must equal K=128"):
        call(x[:, :64], w, s, z)
    with pytest.raises(ValueError, match="w must be 2-D"):
        call(x, w.reshape(-1), s, z)
    with pytest.raises(ValueError, match="scales must have shape"):
        call(x, w, s[:, :2], z)
    with pytest.raises(ValueError, match="zps must have shape"):
        call(x, w, s, z[:-1])
    with pytest.raises(ValueError, match="x must have at least 1 dimension"):
        call(np.float16(1.0) * np.ones((), np.float16), w, s, z)
    with pytest.raises(ValueError, match="out must have shape"):
        call(x, w, s, z, out=np.empty((3, N + 1), np.float16))
    with pytest.raises(TypeError, match="out must be float16"):
        call(x, w, s, z, out=np.empty((3, N), np.float64))


def test_odd_k_for_int4(args):
    x, w, s, z = args
    # K from packed int4 weights is always even; an odd-length x cannot match it
    with pytest.raises(ValueError, match="K=128"):
        call(make_x(np.random.default_rng(), (3, K - 1), np.float16), w, s, z)


@pytest.mark.parametrize("g", [5, 48, 256, 0, -2])
def test_group_size(args, g):
    x, w, s, z = args
    with pytest.raises(ValueError, match="group_size"):
        call(x, w, s, z, g=g)


def test_group_size_type(args):
    x, w, s, z = args
    with pytest.raises(TypeError, match="group_size must be an int"):
        call(x, w, s, z, g=32.0)


@pytest.mark.parametrize("bits", [0, 2, 3, 16])
def test_bits(args, bits):
    x, w, s, z = args
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        call(x, w, s, z, bits=bits)
    with pytest.raises(TypeError, match="bits must be an int"):
        call(x, w, s, z, bits="4")


def test_none_arrays(args):
    x, w, s, z = args
    with pytest.raises(TypeError, match="x must be an array"):
        call(None, w, s, z)
    with pytest.raises(TypeError, match="w must be an array"):
        call(x, None, s, z)
    with pytest.raises(TypeError, match="scales must be an array"):
        call(x, w, None, z)


def test_non_contiguous(args):
    x, w, s, z = args
    xw = make_x(np.random.default_rng(), (3, 2 * K), np.float16)
    with pytest.raises(ValueError, match="x must have a contiguous last dimension"):
        call(xw[:, ::2], w, s, z)
    with pytest.raises(ValueError, match="x must have a contiguous last dimension"):
        call(np.asfortranarray(x), w, s, z)
    with pytest.raises(ValueError, match="w must be C-contiguous"):
        call(x, np.asfortranarray(w), s, z)
    with pytest.raises(ValueError, match="scales must be C-contiguous"):
        call(x, w, np.asfortranarray(s), z)
    x3 = make_x(np.random.default_rng(), (2, 3, K), np.float16).transpose(1, 0, 2)
    with pytest.raises(ValueError, match="x with 3 dimensions must be C-contiguous"):
        call(x3, w, s, z)


def test_read_only_out(args):
    x, w, s, z = args
    out = np.empty((3, N), np.float16)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        call(x, w, s, z, out=out)


def test_options(args):
    x, w, s, z = args
    with pytest.raises(ValueError, match="compute must be 'float' or 'int8'"):
        call(x, w, s, z, compute="fp8")
    with pytest.raises(ValueError, match="backend 'nope' is not a backend of this build"):
        call(x, w, s, z, backend="nope")
    with pytest.raises(TypeError, match="backend must be a str"):
        call(x, w, s, z, backend=3)
    with pytest.raises(ValueError, match="threads must be >= 0"):
        call(x, w, s, z, threads=-1)


def test_unavailable_backend_is_an_error(args):
    x, w, s, z = args
    missing = [b["name"] for b in qmatmul.backends() if not b["available"]]
    for name in missing:
        with pytest.raises(ValueError, match=f"backend '{name}' is not available"):
            call(x, w, s, z, backend=name)


def test_env_backend(args, monkeypatch):
    x, w, s, z = args
    monkeypatch.setenv("QMM_BACKEND", "scalar")
    y = call(x, w, s, z)
    monkeypatch.setenv("QMM_BACKEND", "bogus")
    with pytest.raises(ValueError, match="QMM_BACKEND 'bogus'"):
        call(x, w, s, z)
    # an explicit option wins over the environment
    np.testing.assert_array_equal(call(x, w, s, z, backend="scalar"), y)


class FakeCudaArray:
    """Claims to be CUDA memory; must never reach the kernels without a CUDA backend."""

    def __init__(self, shape, typestr):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr,
                                         "data": (0xDEAD0000, False), "version": 3,
                                         "strides": None}


def test_mismatched_devices(args):
    x, w, s, z = args
    fx = FakeCudaArray(x.shape, "<f2")
    with pytest.raises(ValueError, match="x and w must be on the same device"):
        call(fx, w, s, z)
    fw = FakeCudaArray(w.shape, "|u1")
    with pytest.raises(ValueError, match="w and scales must both be"):
        call(x, fw, s, z)


def test_cuda_array_without_cuda_backend(args):
    if any(b["device"] and b["available"] for b in qmatmul.backends()):
        pytest.skip("a CUDA backend is available here; see tests/test_cuda.py")
    x, w, s, z = args
    f = lambda a, t: FakeCudaArray(a.shape, t)  # noqa: E731
    with pytest.raises(ValueError, match="w is a CUDA array but the CUDA backend is not available"):
        call(f(x, "<f2"), f(w, "|u1"), f(s, "<f4"), f(z, "|i1"))


def test_packed_errors(args):
    x, w, s, z = args
    with pytest.raises(ValueError, match="group_size"):
        qmatmul.PackedWeights(w, s, z, 7, 4)
    pw = qmatmul.PackedWeights(w, s, z, G, 4)
    with pytest.raises(TypeError, match="x must be float16"):
        pw.matmul(x.astype(np.float64))


# --- regressions found by QA -------------------------------------------------------------------

def test_non_native_byte_order_is_refused(args):
    """Byte-swapped arrays used to reach the kernels as if native: garbage, no error."""
    x, w, s, z = args
    with pytest.raises(TypeError, match="x must have native byte order, got dtype '>f2'"):
        call(x.astype(">f2"), w, s, z)
    with pytest.raises(TypeError, match="x must have native byte order"):
        call(x.astype(">f4"), w, s, z)
    with pytest.raises(TypeError, match="scales must have native byte order"):
        call(x, w, s.astype(">f4"), z)
    with pytest.raises(TypeError, match="out must have native byte order"):
        call(x, w, s, z, out=np.empty((3, N), ">f2"))
    pw = qmatmul.PackedWeights(w, s, z, G, 4)
    with pytest.raises(TypeError, match="x must have native byte order"):
        pw.matmul(x.astype(">f2"))


def test_strides_not_a_multiple_of_the_item_size(args):
    x, w, s, z = args
    rec = np.zeros(3, dtype=[("pad", "u1"), ("x", "<f2", (K,))])
    rec["x"] = x
    with pytest.raises(ValueError, match=r"x has byte strides \(257, 2\), not multiples of its "
                                         r"item size \(2 bytes\)"):
        call(rec["x"], w, s, z)
    orec = np.zeros(3, dtype=[("pad", "u1"), ("y", "<f2", (N,))])
    with pytest.raises(ValueError, match="out has byte strides"):
        call(x, w, s, z, out=orec["y"])


def test_out_overlapping_an_input_is_refused(args):
    x, w, s, z = args
    buf = np.zeros((3, K + N), np.float16)
    buf[:, :K] = x
    with pytest.raises(ValueError, match="out must not overlap x"):
        call(buf[:, :K], w, s, z, out=buf[:, :N])
    with pytest.raises(ValueError, match="out must not overlap x"):
        call(buf[:, :K], w, s, z, out=buf[:, K - 1:K - 1 + N])
    sbuf = np.zeros(3 * N + s.size, np.float32)
    sbuf[:s.size] = s.ravel()
    with pytest.raises(ValueError, match="out must not overlap scales"):
        call(x, w, sbuf[:s.size].reshape(s.shape), z, out=sbuf[:3 * N].reshape(3, N))
    pw = qmatmul.PackedWeights(w, s, z, G, 4)
    with pytest.raises(ValueError, match="out must not overlap x"):
        pw.matmul(buf[:, :K], out=buf[:, :N])
    # disjoint column slices of one buffer are fine
    y = call(buf[:, :K], w, s, z, out=buf[:, K:])
    assert y.base is buf
    np.testing.assert_array_equal(buf[:, K:], call(x, w, s, z))


def test_out_must_be_an_array(args):
    """A list that np.asarray turns into float16 used to be accepted: the result went to a
    temporary and the caller's list came back unchanged."""
    x, w, s, z = args
    out = [[np.float16(0)] * N for _ in range(3)]
    with pytest.raises(TypeError, match="out must be an array"):
        call(x, w, s, z, out=out)


def test_option_types_and_ranges(args):
    """Values that fell through to pybind11 ("incompatible function arguments") or to a dict
    lookup ("unhashable type") now raise errors that name the argument."""
    x, w, s, z = args
    with pytest.raises(TypeError, match="compute must be 'float' or 'int8', got list"):
        call(x, w, s, z, compute=[])
    with pytest.raises(TypeError, match="compute must be 'float' or 'int8', got NoneType"):
        call(x, w, s, z, compute=None)
    with pytest.raises(ValueError, match="backend must not contain NUL"):
        call(x, w, s, z, backend="scalar\0junk")
    for t in (2**31, 2**40):
        with pytest.raises(ValueError, match=f"threads must be <= 2147483647, got {t}"):
            call(x, w, s, z, threads=t)
    pw = qmatmul.PackedWeights(w, s, z, G, 4)
    with pytest.raises(ValueError, match="threads must be <= 2147483647"):
        pw.matmul(x, threads=2**40)
    with pytest.raises(TypeError, match="compute must be"):
        pw.matmul(x, compute=1)
    for st in (-1, 2**64):
        with pytest.raises(ValueError, match=f"stream must be a handle in \\[0, 2\\*\\*64\\), got {st}"):
            call(x, w, s, z, stream=st)
    with pytest.raises(TypeError, match="stream must be"):
        call(x, w, s, z, stream=True)
    with pytest.raises(ValueError, match="n must fit in a C int"):
        qmatmul.set_num_threads(2**40)
    with pytest.raises(TypeError, match="n must be an int"):
        qmatmul.set_num_threads(None)
    with pytest.raises(TypeError, match="group_size must be an int"):
        call(x, w, s, z, g=None)
    with pytest.raises(TypeError, match="bits must be an int"):
        call(x, w, s, z, bits=4.0)
    # NumPy integers are ints
    call(x, w, s, z, g=np.int64(G), bits=np.int32(4), threads=np.int8(2))


def test_huge_thread_counts_are_capped():
    """threads=2**31-1 made libgomp abort the whole process ("Out of memory allocating ...") on
    the avx2 backend; the C API now caps the count (results do not depend on it). Run in a child
    process so that a regression fails this test instead of killing pytest."""
    code = textwrap.dedent("""
        import numpy as np, qmatmul
        x = np.ones((64, 64), np.float16); w = np.ones((64, 64), np.int8)
        s = np.ones((64, 1), np.float32)
        for b in [b["name"] for b in qmatmul.backends() if b["available"] and not b["device"]]:
            for c in ("float", "int8"):
                y = qmatmul.quantized_matmul(x, w, s, None, -1, 8, backend=b, compute=c,
                                             threads=2**31 - 1)
                assert np.all(y == 64), (b, c)
        qmatmul.set_num_threads(2**31 - 1)
        y = qmatmul.quantized_matmul(x, w, s, None, -1, 8)
        assert np.all(y == 64)
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


@pytest.mark.parametrize("g", [2**63, 2**70])
def test_group_size_beyond_int64_with_k_zero(g):
    """With K = 0 every positive group_size divides K; one beyond int64 used to reach pybind11
    ("incompatible function arguments")."""
    x, w, s = np.zeros((3, 0), np.float16), np.zeros((4, 0), np.int8), np.zeros((4, 0), np.float32)
    with pytest.raises(ValueError, match=f"group_size must be a positive divisor of K or -1, got {g}"):
        qmatmul.quantized_matmul(x, w, s, None, g, 8)
    with pytest.raises(ValueError, match="group_size must be a positive divisor"):
        qmatmul.PackedWeights(w, s, None, g, 8)
    with pytest.raises(ValueError, match="group_size must be a positive divisor"):
        qmatmul.quantize(np.zeros((4, 0)), 8, g)
    np.testing.assert_array_equal(qmatmul.quantized_matmul(x, w, s, None, 2**62, 8), 0)
    wq, sq, zq = qmatmul.quantize(np.zeros((4, 0)), 8, 2**62)
    assert wq.shape == (4, 0) and sq.shape == (4, 0) and zq.shape == (4, 0)
    assert qmatmul.dequantize(wq, sq, zq, 2**62, 8).shape == (4, 0)
