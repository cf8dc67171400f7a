"""quantize / dequantize / pack_int4 / unpack_int4 and the reference's own invariants."""
from __future__ import annotations

import numpy as np
import pytest

import qmatmul
from qmatmul import reference


def test_pack_unpack_roundtrip(rng):
    q = rng.integers(-8, 8, size=(7, 40)).astype(np.int8)
    p = qmatmul.pack_int4(q)
    assert p.dtype == np.uint8 and p.shape == (7, 20)
    assert int(p[0, 0]) == ((int(q[0, 0]) & 0xF) | ((int(q[0, 1]) & 0xF) << 4))
    np.testing.assert_array_equal(qmatmul.unpack_int4(p), q)
    np.testing.assert_array_equal(qmatmul.unpack_int4(p.view(np.int8)), q)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        qmatmul.pack_int4(q + 8)
    with pytest.raises(ValueError, match="even"):
        qmatmul.pack_int4(q[:, :5])


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("g", [32, 128, -1])
def test_quantize_error_is_within_half_a_step(rng, bits, symmetric, g):
    wf = rng.standard_normal((9, 256))
    w, s, z = qmatmul.quantize(wf, bits=bits, group_size=g, symmetric=symmetric)
    G = 1 if g == -1 else 256 // g
    assert s.shape == (9, G) and s.dtype == np.float32
    assert (z is None) == symmetric
    if z is not None:
        assert z.dtype == np.int8 and z.shape == (9, G)
    assert w.shape == ((9, 128) if bits == 4 else (9, 256))
    wdq = qmatmul.dequantize(w, s, z, g, bits)
    step = np.repeat(s.astype(np.float64), 256 // G, axis=1)
    assert np.all(np.abs(wdq - wf) <= 0.5 * step * (1 + 1e-5) + 1e-7)


def test_quantize_zero_group():
    w, s, z = qmatmul.quantize(np.zeros((2, 64)), bits=4, group_size=32)
    assert np.all(qmatmul.dequantize(w, s, z, 32, 4) == 0)


def test_quantize_bad_args():
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        qmatmul.quantize(np.zeros((2, 64)), bits=3)
    with pytest.raises(ValueError, match="group_size=48 does not divide K=64"):
        qmatmul.quantize(np.zeros((2, 64)), bits=4, group_size=48)
    with pytest.raises(ValueError, match="K must be even"):
        qmatmul.quantize(np.zeros((2, 63)), bits=4, group_size=-1)
    with pytest.raises(TypeError, match="w_float must be a floating-point"):
        qmatmul.quantize(np.zeros((2, 64), np.int32), bits=4)


def test_reference_int8_quantizer_rules():
    x = np.array([[0.0, 0.0, 0.0, 0.0],
                  [1.0, -0.5, 0.25, 0.0],
                  [np.nan, 1.0, 2.0, 3.0]], np.float32)
    q, sx = reference.quantize_activations_int8(x, 4)
    assert np.all(q[0] == 0) and sx[0, 0] == 0
    # 127 * 0.5 = 63.5 -> 64 (half to even), 127 * 0.25 = 31.75 -> 32
    np.testing.assert_array_equal(q[1], [127, -64, 32, 0])
    assert sx[1, 0] == np.float32(1.0) / np.float32(127)
    assert np.isnan(sx[2, 0]) and np.all(q[2] == 0)


def test_reference_matches_direct_formula(rng):
    N, K, g = 5, 64, 16
    w, s, z = qmatmul.quantize(rng.standard_normal((N, K)), bits=8, group_size=g)
    x = rng.standard_normal((3, K)).astype(np.float32)
    direct = np.zeros((3, N))
    for m in range(3):
        for n in range(N):
            for k in range(K):
                direct[m, n] += float(x[m, k]) * float(s[n, k // g]) * (int(w[n, k]) - int(z[n, k // g]))
    np.testing.assert_allclose(reference.matmul_float(x, w, s, z, g, 8), direct, rtol=1e-12,
                               atol=1e-12)


# --- regressions found by QA -------------------------------------------------------------------

def test_quantize_rejects_non_finite_and_overflowing_weights():
    """NaN/Inf used to be cast to int8 (garbage, RuntimeWarning); |w| > float32 max gave an
    infinite scale and a NaN dequantization."""
    wf = np.ones((3, 64))
    for bad in (np.nan, np.inf, -np.inf):
        wb = wf.copy()
        wb[1, 7] = bad
        for symmetric in (True, False):
            with pytest.raises(ValueError, match=r"w_float must be finite, got .* at index \(1, 7\)"):
                qmatmul.quantize(wb, bits=4, group_size=32, symmetric=symmetric)
    for symmetric in (True, False):
        with pytest.raises(ValueError, match="w_float is too large"):
            qmatmul.quantize(np.full((1, 32), 1e300), bits=8, group_size=32, symmetric=symmetric)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_quantize_tiny_and_huge_groups(bits, symmetric):
    """A group whose float32 scale underflows to 0 used to divide by zero (RuntimeWarning) and
    dequantize to 0 or garbage; it now gets the smallest subnormal scale."""
    wf = np.array([[1e-45] * 32, [-1e-44] * 16 + [3e-45] * 16, [3e38, -3e38] * 16])
    w, s, z = qmatmul.quantize(wf, bits=bits, group_size=32, symmetric=symmetric)
    assert np.all(np.isfinite(s)) and np.all(s > 0)
    wdq = qmatmul.dequantize(w, s, z, 32, bits)
    assert np.all(np.isfinite(wdq))
    step = np.repeat(s.astype(np.float64), 32, axis=1)
    assert np.all(np.abs(wdq - wf) <= 0.5 * step * (1 + 1e-5) + 1e-44)
    assert wdq[0, 0] > 0


def test_quantize_argument_types():
    with pytest.raises(TypeError, match="w_float must be an array, got None"):
        qmatmul.quantize(None)
    with pytest.raises(TypeError, match="w_float must be a floating-point array"):
        qmatmul.quantize("abc")
    with pytest.raises(TypeError, match="symmetric must be a bool, got str"):
        qmatmul.quantize(np.zeros((2, 64)), 4, 32, "no")
    with pytest.raises(TypeError, match="q must be an array, got None"):
        qmatmul.pack_int4(None)
    with pytest.raises(TypeError, match="packed must be an array, got None"):
        qmatmul.unpack_int4(None)


def test_dequantize_validates_its_arguments(rng):
    """dequantize used to pass anything to NumPy: scales=None gave NaNs, a bad group size a
    reshape error, None weights 'Cannot change data-type for array of references'."""
    w, s, z = qmatmul.quantize(rng.standard_normal((4, 64)), bits=8, group_size=32)
    D = qmatmul.dequantize
    with pytest.raises(TypeError, match="scales must be an array, got None"):
        D(w, None, z, 32, 8)
    with pytest.raises(TypeError, match="w must be an array, got None"):
        D(None, s, z, 32, 8)
    with pytest.raises(ValueError, match="group_size=5 does not divide K=64"):
        D(w, s, z, 5, 8)
    with pytest.raises(ValueError, match="group_size must be a positive divisor of K or -1, got 0"):
        D(w, s, z, 0, 8)
    with pytest.raises(ValueError, match=r"scales must have shape \(N, K/group_size\) = \(4, 2\)"):
        D(w, s[:, :1], z, 32, 8)
    with pytest.raises(ValueError, match="zps must have shape"):
        D(w, s, z[:2], 32, 8)
    with pytest.raises(TypeError, match="zps must be int8"):
        D(w, s, z.astype(np.float32), 32, 8)
    with pytest.raises(TypeError, match="w must be int8 for bits=8"):
        D(w.astype(np.int64), s, z, 32, 8)
    with pytest.raises(ValueError, match="w must be 2-D"):
        D(w[0], s, z, 32, 8)
    with pytest.raises(TypeError, match="scales must be float32"):
        D(w, s.astype(np.float64), z, 32, 8)
    np.testing.assert_array_equal(D(w, s, z, 32, 8), reference.dequantize(w, s, z, 32, 8).astype(np.float32))
