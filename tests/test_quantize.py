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
