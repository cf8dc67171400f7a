"""CUDA inputs (torch tensors, CuPy arrays): zero-copy in and out, on the caller's stream, checked
against the reference; CUDA-graph capture. Skipped, with the reason shown, where no CUDA backend
and GPU are available."""
from __future__ import annotations

import numpy as np
import pytest

import qmatmul
from conftest import check_result, make_weights, make_x

CUDA_OK = any(b["device"] and b["available"] for b in qmatmul.backends())
if not CUDA_OK:
    built = any(b["device"] for b in qmatmul.backends())
    pytest.skip("CUDA backend " + ("built but no usable GPU" if built else "not built") +
                ": CUDA tests run on the GPU machine (tests/gpu/)", allow_module_level=True)

torch = pytest.importorskip("torch")


def _t(a, dev="cuda"):
    if a is None:
        return None
    if a.dtype.name == "bfloat16":
        return torch.from_numpy(np.ascontiguousarray(a).view(np.int16)).to(dev).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(a)).to(dev)


def _np(t):
    if t.dtype == torch.bfloat16:
        import ml_dtypes
        return t.view(torch.int16).cpu().numpy().view(ml_dtypes.bfloat16)
    return t.cpu().numpy()


SHAPES = [(1, 67, 768, 128), (9, 50, 1024, 128), (3, 130, 512, 64), (16, 45, 768, -1), (33, 17, 384, 32),
          (128, 29, 256, 64), (5, 19, 90, 6), (300, 257, 1024, 128)]


@pytest.mark.parametrize("compute", ["float", "int8"])
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("zp", [True, False], ids=["zp", "sym"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_torch_matches_reference(rng, compute, bits, zp, dtype):
    import ml_dtypes
    npdt = {"float16": np.float16, "float32": np.float32, "bfloat16": ml_dtypes.bfloat16}[dtype]
    for M, N, K, g in SHAPES:
        w, s, z = make_weights(rng, N, K, g, bits, zp)
        x = make_x(rng, (M, K), npdt)
        out = _t(np.full((M, N), np.nan, np.float32).astype(npdt))
        y = qmatmul.quantized_matmul(_t(x), _t(w), _t(s), _t(z), g, bits, compute=compute,
                                     out=out)
        assert y is out
        torch.cuda.synchronize()
        check_result(_np(y), x, w, s, z, g, bits, compute)


@pytest.mark.parametrize("layout", ["canonical", "decode"])
@pytest.mark.parametrize("compute", ["float", "int8"])
@pytest.mark.parametrize("bits", [4, 8])
def test_torch_packed_weights(rng, monkeypatch, layout, compute, bits):
    # Packed weights: a canonical copy by default; with QMM_CUDA_PACK=decode the decode layout
    # (groups that are multiples of 32: M <= 16 on the decode kernel, M > 16 unpacked per call;
    # other group sizes keep a canonical copy). Each call's output starts as NaN.
    if layout == "decode":
        monkeypatch.setenv("QMM_CUDA_PACK", "decode")
    else:
        monkeypatch.delenv("QMM_CUDA_PACK", raising=False)
    for M, N, K, g in [(1, 67, 768, 128), (7, 300, 1280, 128), (16, 45, 768, 64),
                       (33, 17, 384, 32), (4, 19, 90, 6), (2, 129, 4096, -1)]:
        for zp in (True, False):
            w, s, z = make_weights(rng, N, K, g, bits, zp)
            pw = qmatmul.PackedWeights(_t(w), _t(s), _t(z), g, bits)
            assert pw.backend == "cuda"
            for dtype in (np.float16, np.float32):
                x = make_x(rng, (M, K), dtype)
                out = torch.full((M, N), float("nan"), dtype=torch.float32, device="cuda")
                y = pw.matmul(_t(x), compute=compute, out=out)
                assert y is out
                torch.cuda.synchronize()
                check_result(_np(y), x, w, s, z, g, bits, compute)


def test_torch_result_kind_and_batch(rng):
    w, s, z = make_weights(rng, 64, 256, 128, 4, True)
    x = make_x(rng, (2, 3, 256), np.float16)
    y = qmatmul.quantized_matmul(_t(x), _t(w), _t(s), _t(z), 128, 4)
    assert isinstance(y, torch.Tensor) and y.is_cuda and tuple(y.shape) == (2, 3, 64)
    check_result(_np(y).reshape(6, 64), x.reshape(6, 256), w, s, z, 128, 4, "float")


def test_torch_stream_and_graph_capture(rng):
    M, N, K, g = 4, 512, 1024, 128
    w, s, z = make_weights(rng, N, K, g, 4, True)
    x = make_x(rng, (M, K), np.float16)
    tw, ts, tz, tx = _t(w), _t(s), _t(z), _t(x)
    pw = qmatmul.PackedWeights(tw, ts, tz, g, 4)
    out = torch.empty((M, N), dtype=torch.float16, device="cuda")
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        pw.matmul(tx, out=out)  # warm-up on the side stream (any lazy setup happens here)
    stream.synchronize()
    graph = torch.cuda.CUDAGraph()
    out.fill_(float("nan"))
    with torch.cuda.graph(graph):
        qmatmul.quantized_matmul(tx, tw, ts, tz, g, 4, out=out)
    graph.replay()
    torch.cuda.synchronize()
    check_result(_np(out), x, w, s, z, g, 4, "float")


def test_mixed_devices_rejected(rng):
    w, s, z = make_weights(rng, 8, 64, 32, 4, True)
    x = make_x(rng, (2, 64), np.float16)
    with pytest.raises(ValueError, match="same device"):
        qmatmul.quantized_matmul(_t(x), w, s, z, 32, 4)
    with pytest.raises(ValueError, match="must both be"):
        qmatmul.quantized_matmul(_t(x), _t(w), s, _t(z), 32, 4)


def test_cupy_arrays(rng):
    cupy = pytest.importorskip("cupy")
    w, s, z = make_weights(rng, 33, 256, 64, 8, True)
    x = make_x(rng, (5, 256), np.float16)
    y = qmatmul.quantized_matmul(cupy.asarray(x), cupy.asarray(w), cupy.asarray(s),
                                 cupy.asarray(z), 64, 8)
    assert isinstance(y, cupy.ndarray)
    check_result(cupy.asnumpy(y), x, w, s, z, 64, 8, "float")


@pytest.mark.parametrize("M", [3, 40], ids=["decode", "gemm"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16-unaligned"])
def test_rows_beyond_fp16_range(rng, M, dtype):
    """The fp16 kernels see fp32 (and unaligned bf16) X through a copy scaled per row by a power
    of two: rows far beyond fp16's range (1e6, 1e30) or far below it (1e-7) must come out as
    accurate as ordinary rows, each row measured against its own norm."""
    import ml_dtypes
    N, K, g, bits = 72, 256, 128, 4
    w, s, z = make_weights(rng, N, K, g, bits, True)
    big = 1e6 if dtype == "float32" else 1e30
    mags = np.array([big, 1e-7, 1.0] * M)[:M].reshape(M, 1)
    x32 = (make_x(rng, (M, K), np.float32) * mags).astype(np.float32)
    if dtype == "float32":
        x, xt = x32, _t(x32)
    else:
        x = x32.astype(ml_dtypes.bfloat16)
        wide = np.zeros((M, K + 1), ml_dtypes.bfloat16)
        wide[:, 1:] = x
        xt = _t(wide)[:, 1:]  # row stride K + 1: not 16-byte aligned
    y = _np(qmatmul.quantized_matmul(xt, _t(w), _t(s), _t(z), g, bits,
                                     out=_t(np.full((M, N), np.nan, np.float32))))
    ref = qmatmul.reference.matmul_float(x, w, s, z, g, bits)
    assert np.all(np.isfinite(y))
    bound = 2e-3 if dtype == "float32" else 8e-3
    for m in range(M):
        err = np.linalg.norm(y[m] - ref[m]) / np.linalg.norm(ref[m])
        assert err <= bound, (m, mags[m, 0], err)
