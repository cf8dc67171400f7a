"""quantized_matmul against the reference: every available host backend forced in turn, both
compute modes, both bit widths, with and without zero points, every activation dtype, over
shapes that hit tile remainders and every kind of group size."""
from __future__ import annotations

import numpy as np
import pytest

import qmatmul
from conftest import ACT_DTYPES, BF16, HOST_BACKENDS, check_result, make_weights, make_x, poisoned

# (M, N, K, group_size): M covers {1, 2, 3, 4, 7, 16, 33, 128}; N and K avoid tile multiples;
# group sizes: multiples of 32, -1 (= K, including K not a multiple of 32) and odd ones.
# M <= 4 with groups of 128k reach the avx512 row kernels (float and int8 mode).
SHAPES = [
    (1, 67, 768, 128),
    (1, 203, 2048, 256),
    (1, 45, 384, 64),
    (1, 29, 576, 192),
    (2, 33, 256, 32),
    (2, 70, 1024, 128),
    (4, 37, 512, 128),
    (3, 130, 512, 64),
    (7, 45, 768, 256),
    (16, 67, 768, -1),
    (33, 17, 384, 128),
    (128, 29, 256, 64),
    (5, 19, 90, 6),
    (4, 23, 96, 48),
    (16, 9, 64, 2),
    (3, 11, 250, -1),
    (1, 1, 2, -1),
]


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("compute", ["float", "int8"])
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("zp", [True, False], ids=["zp", "sym"])
@pytest.mark.parametrize("dtype", ACT_DTYPES, ids=lambda d: d.name)
def test_matches_reference(rng, backend, compute, bits, zp, dtype):
    for M, N, K, g in SHAPES:
        w, s, z = make_weights(rng, N, K, g, bits, zp)
        x = make_x(rng, (M, K), dtype)
        y = poisoned((M, N), dtype)
        r = qmatmul.quantized_matmul(x, w, s, z, g, bits, compute=compute, backend=backend, out=y)
        assert r is y
        check_result(y, x, w, s, z, g, bits, compute)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("compute", ["float", "int8"])
@pytest.mark.parametrize("out_dtype", ACT_DTYPES, ids=lambda d: d.name)
def test_output_dtypes_and_row_strides(rng, backend, compute, out_dtype):
    """x and y with row strides (views into wider arrays); padding columns stay untouched."""
    M, N, K, g, bits = 7, 37, 320, 64, 4
    w, s, z = make_weights(rng, N, K, g, bits, True)
    xwide = make_x(rng, (M, K + 13), np.float16)
    x = xwide[:, 5:5 + K]
    ywide = poisoned((M, N + 9), out_dtype)
    y = ywide[:, 2:2 + N]
    qmatmul.quantized_matmul(x, w, s, z, g, bits, compute=compute, backend=backend, out=y)
    check_result(y, np.ascontiguousarray(x), w, s, z, g, bits, compute)
    assert np.all(np.isnan(ywide[:, :2].astype(np.float32)))
    assert np.all(np.isnan(ywide[:, 2 + N:].astype(np.float32)))


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_batch_dims_and_1d(rng, backend):
    N, K, g, bits = 21, 128, 32, 8
    w, s, z = make_weights(rng, N, K, g, bits, True)
    x3 = make_x(rng, (2, 3, K), np.float16)
    y3 = qmatmul.quantized_matmul(x3, w, s, z, g, bits, backend=backend)
    assert y3.shape == (2, 3, N) and y3.dtype == np.float16
    y2 = qmatmul.quantized_matmul(x3.reshape(6, K), w, s, z, g, bits, backend=backend)
    np.testing.assert_array_equal(y3.reshape(6, N), y2)
    x1 = x3[1, 2]
    y1 = qmatmul.quantized_matmul(x1, w, s, z, g, bits, backend=backend)
    assert y1.shape == (N,)
    check_result(y1[None], x1[None], w, s, z, g, bits, "float")


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_empty_dimensions(rng, backend):
    w, s, z = make_weights(rng, 5, 64, 32, 4, True)
    y = qmatmul.quantized_matmul(np.zeros((0, 64), np.float16), w, s, z, 32, 4, backend=backend)
    assert y.shape == (0, 5)
    # N == 0
    w0, s0, z0 = (np.zeros((0, 32), np.uint8), np.zeros((0, 2), np.float32), None)
    y = qmatmul.quantized_matmul(make_x(rng, (3, 64), np.float16), w0, s0, z0, 32, 4, backend=backend)
    assert y.shape == (3, 0)
    # K == 0: Y is all zeros
    wk = np.zeros((4, 0), np.int8)
    sk = np.zeros((4, 0), np.float32)  # K == 0: no groups
    out = poisoned((3, 4), np.float32)
    qmatmul.quantized_matmul(np.zeros((3, 0), np.float32), wk, sk, None, -1, 8, backend=backend,
                             out=out)
    np.testing.assert_array_equal(out, np.zeros((3, 4), np.float32))


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("compute", ["float", "int8"])
def test_nan_inf_propagate(rng, backend, compute):
    M, N, K, g, bits = 4, 19, 128, 32, 4
    w, s, z = make_weights(rng, N, K, g, bits, False)
    x = make_x(rng, (M, K), np.float32)
    x[1, 5] = np.nan
    x[2, 70] = np.inf
    y = qmatmul.quantized_matmul(x, w, s, z, g, bits, compute=compute, backend=backend)
    assert np.all(np.isnan(y[1]))
    assert not np.any(np.isfinite(y[2]))  # Inf * weights: +-Inf, or NaN where signs meet
    good = np.asarray([0, 3])
    check_result(y[good], x[good], w, s, z, g, bits, compute)
    s2 = s.copy()
    s2[3, 1] = np.nan
    y = qmatmul.quantized_matmul(x[[0]], w, s2, z, g, bits, compute=compute, backend=backend)
    assert np.isnan(y[0, 3]) and np.isfinite(np.delete(y[0], 3)).all()


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_fp16_overflow_is_inf(rng, backend):
    N, K, g = 3, 64, 64
    q = np.full((N, K), 7, np.int8)
    w = qmatmul.pack_int4(q)
    s = np.full((N, 1), 1000.0, np.float32)
    x = np.full((1, K), 100.0, np.float16)  # 64 * 100 * 7000 = 4.5e7 > 65504
    y = qmatmul.quantized_matmul(x, w, s, None, g, 4, backend=backend)
    assert np.all(np.isposinf(y))


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("compute", ["float", "int8"])
def test_deterministic_across_threads_and_runs(rng, backend, compute):
    M, N, K, g, bits = 33, 301, 1024, 128, 4
    w, s, z = make_weights(rng, N, K, g, bits, True)
    x = make_x(rng, (M, K), np.float16)
    first = qmatmul.quantized_matmul(x, w, s, z, g, bits, compute=compute, backend=backend,
                                     threads=1)
    for t in (2, 3, 4, 7):
        y = qmatmul.quantized_matmul(x, w, s, z, g, bits, compute=compute, backend=backend,
                                     threads=t)
        np.testing.assert_array_equal(y.view(np.uint16), first.view(np.uint16))
    old = qmatmul.get_num_threads()
    try:
        qmatmul.set_num_threads(3)
        assert qmatmul.get_num_threads() == 3
        y = qmatmul.quantized_matmul(x, w, s, z, g, bits, compute=compute, backend=backend)
        np.testing.assert_array_equal(y.view(np.uint16), first.view(np.uint16))
    finally:
        qmatmul.set_num_threads(0)
    assert qmatmul.get_num_threads() == old


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("compute", ["float", "int8"])
@pytest.mark.parametrize("g", [64, 6, -1])
def test_packed_weights(rng, backend, compute, g):
    # g=6: no backend's kernels cover it (each backend's slow path, on its own packed copy);
    # g=-1 with K=516: per channel, not a multiple of 32 either
    M, N, K, bits = 9, 45, 512 if g == 64 else 516, 4
    w, s, z = make_weights(rng, N, K, g, bits, True)
    pw = qmatmul.PackedWeights(w.copy(), s.copy(), z.copy(), g, bits, backend=backend,
                               compute=compute)
    assert pw.backend == backend and pw.nbytes > 0
    x = make_x(rng, (M, K), np.float16)
    y = pw.matmul(x, compute=compute)
    check_result(y, x, w, s, z, g, bits, compute)
    y1 = pw.matmul(x[0], compute=compute)
    assert y1.shape == (N,)
    with pytest.raises(ValueError, match="x"):
        pw.matmul(make_x(rng, (M, K + 2), np.float16))


def _ieee_reference(x, q, s, z, g):
    """Section 1 evaluated elementwise in float64 (no BLAS: it may skip zero weights)."""
    gi = np.arange(q.shape[1]) // g
    wdq = s[:, gi].astype(np.float64) * (q.astype(np.float64) - z[:, gi].astype(np.float64))
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sum(x.astype(np.float64)[:, None, :] * wdq[None, :, :], axis=-1)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("packed", [False, True])
def test_inf_in_x_propagates_as_ieee(rng, backend, bits, packed):
    # Rows with +Inf, -Inf, both (NaN), an Inf where the weight is exactly zero (Inf*0 = NaN),
    # and finite rows between them, which must still match the reference. M = 23 so tile
    # kernels (16 rows and up) see the Inf rows too.
    M, N, K, g = 23, 40, 256, 64
    q = rng.integers(-8 if bits == 4 else -128, 8 if bits == 4 else 128, (N, K)).astype(np.int8)
    z = rng.integers(-3, 4, (N, K // g)).astype(np.int8)
    s = rng.uniform(0.01, 0.1, (N, K // g)).astype(np.float32)
    q[:5, 10] = z[:5, 0]  # zero weights at k = 10 for rows n < 5
    w = q if bits == 8 else qmatmul.pack_int4(q)
    x = rng.standard_normal((M, K)).astype(np.float16)
    x[0, 3] = np.inf
    x[2, 100] = -np.inf
    x[3, 7], x[3, 200] = np.inf, -np.inf
    x[5, 10] = np.inf
    x[21, 0] = -np.inf
    ref = _ieee_reference(x, q, s, z, g)
    if packed:
        y = qmatmul.PackedWeights(w, s, z, g, bits, backend=backend).matmul(x)
    else:
        y = qmatmul.quantized_matmul(x, w, s, z, g, bits, backend=backend)
    y = y.astype(np.float64)
    fin = np.isfinite(ref)
    assert np.array_equal(np.isnan(y), np.isnan(ref)), (backend, np.argwhere(np.isnan(y) != np.isnan(ref)))
    assert np.array_equal(np.isposinf(y), np.isposinf(ref)) and np.array_equal(np.isneginf(y), np.isneginf(ref))
    err = np.linalg.norm(y[fin] - ref[fin]) / np.linalg.norm(ref[fin])
    assert err <= 2e-3, err


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_huge_finite_x_stays_finite(rng, backend, bits, dtype):
    # |x| near FLT_MAX with small scales: the true outputs are finite (~1e35); kernels that fold
    # the zero point (x * (q + c)) or split X into bf16 hi + lo would overflow on such rows.
    if dtype == "bfloat16" and BF16 is None:
        pytest.skip("ml_dtypes is not installed")
    M, N, K, g = 3, 40, 128, 32
    q = rng.integers(1, 7, (N, K)).astype(np.int8)
    z = np.zeros((N, K // g), np.int8)
    s = np.full((N, K // g), 1e-3, np.float32)
    w = q if bits == 8 else qmatmul.pack_int4(q)
    x = (rng.standard_normal((M, K)) * 0.1).astype(np.float32)
    x[0, 0] = 3e38
    x[1, 5], x[1, 6] = 2e38, 2e38
    x = x.astype(BF16 if dtype == "bfloat16" else np.float32)
    ref = _ieee_reference(x, q, s, z, g)
    y = qmatmul.quantized_matmul(x, w, s, z, g, bits, backend=backend,
                                 out=np.empty((M, N), np.float32)).astype(np.float64)
    assert np.all(np.isfinite(y)), (backend, y[:2, :3])
    assert np.linalg.norm(y - ref) <= 1e-5 * np.linalg.norm(ref)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("M", [1, 20])
def test_tiny_x_rows_accurate(rng, backend, bits, dtype, M):
    # Rows of X far below 1 (down to bf16/fp32 subnormals): the bf16 kernels (VDPBF16PS, AMX)
    # read bf16 subnormals as zero, which once wiped such rows out while the zero-point sums
    # of X did not (errors of 4e-2 .. 10x). Each row must be as accurate as an ordinary one,
    # measured against its own norm. M = 1 (decode kernels) and 20 (tile kernels).
    if dtype == "bfloat16" and BF16 is None:
        pytest.skip("ml_dtypes is not installed")
    N, K, g = 40, 256, 128
    q = rng.integers(-8 if bits == 4 else -128, 8 if bits == 4 else 128, (N, K)).astype(np.int8)
    z = rng.integers(-3, 4, (N, K // g)).astype(np.int8)
    s = rng.uniform(0.01, 0.1, (N, K // g)).astype(np.float32)
    w = q if bits == 8 else qmatmul.pack_int4(q)
    mags = np.array([1e-39, 1e-36, 1e-30, 1.0, 3e-33])[np.arange(M) % 5].reshape(M, 1)
    x = (rng.uniform(1.0, 2.0, (M, K)) * rng.choice([-1.0, 1.0], (M, K)) * mags)
    x = x.astype(np.float32).astype(BF16 if dtype == "bfloat16" else np.float32)
    ref = _ieee_reference(x, q, s, z, g)
    y = qmatmul.quantized_matmul(x, w, s, z, g, bits, backend=backend,
                                 out=np.full((M, N), np.nan, np.float32)).astype(np.float64)
    for m in range(M):
        err = np.linalg.norm(y[m] - ref[m]) / np.linalg.norm(ref[m])
        assert err <= 1e-4, (backend, m, mags[m, 0], err)
