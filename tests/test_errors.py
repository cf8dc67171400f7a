"""Every bad-input path raises ValueError/TypeError naming the argument, never crashes."""
from __future__ import annotations

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
