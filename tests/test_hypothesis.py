"""Random shapes, group sizes and options (hypothesis), against the reference."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qmatmul
from conftest import ACT_DTYPES, HOST_BACKENDS, check_result, make_weights, make_x, poisoned


@st.composite
def problems(draw):
    bits = draw(st.sampled_from([4, 8]))
    groups = draw(st.integers(1, 6))
    group_size = draw(st.sampled_from([2, 6, 32, 64, 128, 96, 10]))
    K = groups * group_size
    g = -1 if (groups == 1 and draw(st.booleans())) else group_size
    M = draw(st.integers(1, 40))
    N = draw(st.integers(1, 80))
    return dict(M=M, N=N, K=K, g=g, bits=bits, zp=draw(st.booleans()),
                dtype=draw(st.sampled_from(ACT_DTYPES)),
                compute=draw(st.sampled_from(["float", "int8"])),
                seed=draw(st.integers(0, 2**32 - 1)))


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=problems())
def test_random_problems(backend, p):
    rng = np.random.default_rng(p["seed"])
    w, s, z = make_weights(rng, p["N"], p["K"], p["g"], p["bits"], p["zp"])
    x = make_x(rng, (p["M"], p["K"]), p["dtype"])
    y = poisoned((p["M"], p["N"]), p["dtype"])
    qmatmul.quantized_matmul(x, w, s, z, p["g"], p["bits"], compute=p["compute"],
                             backend=backend, out=y)
    check_result(y, x, w, s, z, p["g"], p["bits"], p["compute"])
