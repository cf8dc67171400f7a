"""Shared fixtures: fresh random inputs every run (seed printed on failure), the host backends
available on this machine, and checks of a result against qmatmul.reference."""
from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

import qmatmul
from qmatmul import reference

try:
    import ml_dtypes

    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover
    BF16 = None

ACT_DTYPES = [np.dtype(np.float16), np.dtype(np.float32)] + ([BF16] if BF16 is not None else [])
HOST_BACKENDS = [b["name"] for b in qmatmul.backends() if b["available"] and not b["device"]]
FLOAT_BOUND = {"float16": 2e-3, "float32": 2e-3, "bfloat16": 8e-3}

SEED = int(os.environ.get("QMM_TEST_SEED", secrets.randbits(32)))


def pytest_report_header(config):
    return [f"qmatmul seed: QMM_TEST_SEED={SEED}", f"host backends: {', '.join(HOST_BACKENDS)}",
            f"cpu features: {qmatmul.info()['cpu_features']}"]


@pytest.fixture
def rng(request):
    # a distinct, reproducible stream per test, fresh each run unless QMM_TEST_SEED is set
    digest = abs(hash(request.node.nodeid)) % (2**32)
    return np.random.default_rng([SEED, digest])


def make_weights(rng, N: int, K: int, group_size: int, bits: int, zp: bool):
    """Canonical weights from random normal data, plus random (not RTN-fitted) zero points so
    every int8 value of zp is exercised."""
    w, scales, zps = qmatmul.quantize(rng.standard_normal((N, K)), bits=bits,
                                      group_size=group_size, symmetric=not zp)
    if zp:
        lo, hi = (-8, 8) if bits == 4 else (-128, 128)
        zps = rng.integers(lo, hi, size=zps.shape).astype(np.int8)
    return w, scales, zps


def make_x(rng, shape, dtype):
    return rng.standard_normal(shape).astype(np.float32).astype(dtype)


def poisoned(shape, dtype):
    y = np.empty(shape, dtype=dtype)
    y[...] = np.nan
    return y


def check_result(y, x, w, scales, zps, group_size, bits, compute):
    """Float mode: relative Frobenius error within SPEC's bound. int8 mode: every element within
    1 ulp of the output dtype plus fp32 epilogue rounding of the reference emulation."""
    y64 = np.asarray(y).astype(np.float64)
    assert np.all(np.isfinite(y64)), "output has NaN/Inf (unwritten or wrong elements)"
    if compute == "float":
        ref = reference.matmul_float(x, w, scales, zps, group_size, bits)
        den = np.linalg.norm(ref)
        err = np.linalg.norm(y64 - ref) / den if den > 0 else np.linalg.norm(y64)
        assert err <= FLOAT_BOUND[np.dtype(x.dtype).name], f"relative Frobenius error {err:.3e}"
    else:
        ref = reference.matmul_int8(x, w, scales, zps, group_size, bits)
        tol = reference.int8_tolerance(x, w, scales, zps, group_size, bits, np.asarray(y).dtype)
        bad = np.abs(y64 - ref) > tol
        assert not bad.any(), (f"{bad.sum()} of {bad.size} elements outside the int8 bound; "
                               f"worst excess {np.max(np.abs(y64 - ref) - tol):.3e}")
