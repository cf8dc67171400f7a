"""The benchmark harness's arithmetic (qmatmul.bench): byte and FLOP counts per PERFORMANCE.md,
the ceilings, copy rotation, the shape suite, the Markdown writer, and one tiny end-to-end run."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import qmatmul
from qmatmul import bench, reference


def test_bytes_formula_by_hand():
    # (N, K) = (4096, 4096), M = 1, 4-bit, g128, zero points, fp16 in/out:
    # weights 4096*4096/2, scales+zp 4096*32*(4+1), x 4096*2, y 4096*2
    assert bench.problem_bytes(1, 4096, 4096, 4, 128, True) == 8388608 + 655360 + 8192 + 8192
    # 8-bit, symmetric, per-row group (-1 = K), fp32 activations and output
    assert bench.problem_bytes(3, 10, 64, 8, -1, False, 4, 4) == 10 * 64 + 10 * 1 * 4 + 3 * 64 * 4 + 3 * 10 * 4


@pytest.mark.parametrize("M,N,K,bits,g,zp", [(1, 28672, 8192, 4, 128, True), (4096, 8192, 28672, 8, 32, False),
                                             (16, 14336, 4096, 4, -1, True)])
def test_bytes_formula_general(M, N, K, bits, g, zp):
    gg = K if g == -1 else g
    want = N * K * bits / 8 + N * (K / gg) * (4 + (1 if zp else 0)) + M * K * 2 + M * N * 2
    assert bench.problem_bytes(M, N, K, bits, g, zp) == want
    assert bench.problem_flops(M, N, K) == 2 * M * N * K
    assert bench.arithmetic_intensity(M, N, K, bits, g, zp) == pytest.approx(2 * M * N * K / want)


def test_bytes_rejects_bad_arguments():
    with pytest.raises(ValueError):
        bench.problem_bytes(1, 16, 100, 4, 32, True)  # 32 does not divide 100
    with pytest.raises(ValueError):
        bench.problem_bytes(1, 16, 64, 3, 32, True)


def test_int4_weight_bytes_are_half_of_int8():
    b4 = bench.problem_bytes(1, 4096, 4096, 4, 128, True)
    b8 = bench.problem_bytes(1, 4096, 4096, 8, 128, True)
    assert b8 - b4 == 4096 * 4096 // 2


def test_ceiling_arithmetic():
    assert bench.pct_of(27.0e9, 30.0e9) == pytest.approx(90.0)
    assert math.isnan(bench.pct_of(1.0, 0.0))
    assert math.isnan(bench.pct_of(1.0, float("nan")))
    bw, peak = 100e9, 1e12
    assert bench.ridge_point(bw, peak) == pytest.approx(10.0)
    assert bench.roofline_attainable(1.0, bw, peak) == pytest.approx(100e9)  # memory bound
    assert bench.roofline_attainable(100.0, bw, peak) == pytest.approx(1e12)  # compute bound
    assert bench.roofline_floor_time(1e9, 1e9, bw, peak) == pytest.approx(0.01)
    assert bench.roofline_floor_time(1e6, 1e12, bw, peak) == pytest.approx(1.0)
    assert bench.speedup(10.0, 2.0) == pytest.approx(5.0)
    assert math.isnan(bench.speedup(float("nan"), 2.0))


def test_make_result_percentages():
    case = bench.Case("t", 4096, 4096, 1, 4, 128, True)
    ceil = bench.Ceilings(bandwidth=20e9, peak=1e12)
    nbytes = bench.problem_bytes(1, 4096, 4096, 4, 128, True)
    t = nbytes / 10e9  # exactly half the bandwidth ceiling
    r = bench.make_result(case, "scalar", "float", "f16", 8, [t, 2 * t, t / 2], ceil, 2, 2, baseline_s=10 * t)
    assert r.median_s == pytest.approx(t) and r.min_s == pytest.approx(t / 2) and r.max_s == pytest.approx(2 * t)
    assert r.gbps == pytest.approx(10.0)
    assert r.pct_bandwidth == pytest.approx(50.0)
    assert r.pct_peak == pytest.approx(100.0 * case.flops / t / 1e12)
    assert r.speedup == pytest.approx(10.0)


def test_copies_cover_twice_the_cache():
    for per_copy, cache in [(8 << 20, 32 << 20), (117 << 20, 32 << 20), (1, 1), (9_060_352, 300 << 20)]:
        n = bench.copies_needed(per_copy, cache)
        assert n >= 2
        assert n * per_copy > 2 * cache
        assert (n - 2) * per_copy <= 2 * cache  # not wastefully many


def test_parse_cache_size():
    assert bench.parse_cache_size("32768K") == 32 << 20
    assert bench.parse_cache_size("1M") == 1 << 20
    assert bench.parse_cache_size("512") == 512
    with pytest.raises(ValueError):
        bench.parse_cache_size("lots")
    assert bench.llc_bytes() > 0


def test_summarize():
    assert bench.summarize([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    assert bench.summarize([4.0, 1.0, 2.0, 3.0]) == (2.5, 1.0, 4.0)
    with pytest.raises(ValueError):
        bench.summarize([])


def test_suite_is_the_performance_md_suite():
    suite = bench.load_suite()
    shapes = {(s["N"], s["K"]) for s in suite["shapes"]}
    assert shapes == {(4096, 4096), (14336, 4096), (4096, 14336), (8192, 8192), (28672, 8192), (8192, 28672)}
    full = bench.suite_cases(suite, "full")
    assert len(full) == 6 * 7 * 2
    assert {c.M for c in full} == {1, 4, 16, 64, 256, 1024, 4096}
    assert {c.group_size for c in full} == {128} and all(c.zero_points for c in full)
    groups = bench.suite_cases(suite, "groups")
    assert {c.group_size for c in groups} == {-1, 32}
    quick = bench.suite_cases(suite, "quick")
    assert [(c.N, c.K, c.M, c.bits, c.group_size) for c in quick] == [(4096, 4096, 1, 4, 128), (4096, 4096, 16, 4, 128)]
    assert len(bench.suite_cases(suite, "all")) == len(full) + len(groups)
    with pytest.raises(ValueError):
        bench.suite_cases(suite, "nope")


def test_suite_json_is_package_data():
    assert bench.SUITE_PATH.is_file()
    assert bench.SUITE_PATH.parent.resolve() == bench.Path(qmatmul.__file__).parent.resolve()


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("zp", [True, False])
@pytest.mark.parametrize("g", [2, 32, -1])
def test_numpy_baseline_dequantize_matches_reference(bits, zp, g):
    rng = np.random.default_rng()
    w, s, z = bench.random_weights(rng, 5, 64, bits, g, zp)
    got = bench.numpy_dequantize_f32(w, s, z, g, bits)
    want = reference.dequantize(w, s, z, g, bits)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def test_random_weights_are_random_and_in_range():
    rng = np.random.default_rng()
    w, s, z = bench.random_weights(rng, 64, 256, 4, 32, True)
    assert w.dtype == np.uint8 and w.shape == (64, 128) and len(np.unique(w)) > 200
    assert s.dtype == np.float32 and s.min() >= 0.005 and s.max() <= 0.015
    assert z.dtype == np.int8 and z.min() >= -8 and z.max() <= 7


def test_markdown_sections_are_replaced_in_place(tmp_path):
    p = tmp_path / "RESULTS.md"
    p.write_text("# Results\n\nintro\n\n<!-- BEGIN gpu -->\nGPU text\n<!-- END gpu -->\n\ntail\n")
    bench.write_markdown_section(p, "cpu-avx2", "cpu v1\n")
    bench.write_markdown_section(p, "cpu-avx2", "cpu v2\n")
    text = p.read_text()
    assert "cpu v1" not in text and text.count("cpu v2") == 1
    assert "GPU text" in text and text.startswith("# Results\n\nintro") and "tail" in text
    bench.write_markdown_section(p, "gpu", "GPU new\n")
    text = p.read_text()
    assert "GPU text" not in text and "GPU new" in text and "cpu v2" in text


def test_end_to_end_tiny_run(tmp_path, capsys):
    out = tmp_path / "r.json"
    md = tmp_path / "r.md"
    rc = bench.main(["--quick", "--M", "1", "--no-baseline", "--min-reps", "2", "--min-time", "0",
                     "--probe-mib", "64", "--quiet", "--json", str(out), "--markdown", str(md)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["machine"]["cpu_model"] and data["machine"]["date"] and data["machine"]["commit"]
    assert data["ceilings"]["CPU"]["bandwidth"] > 0 and data["ceilings"]["CPU"]["peak"] > 0
    (r,) = data["results"]
    assert r["M"] == 1 and r["N"] == 4096 and r["reps"] >= 2 and r["copies"] >= 2 and not r["error"]
    assert r["gbps"] == pytest.approx(r["bytes"] / r["median_s"] / 1e9)
    assert "% BW" in capsys.readouterr().out
    assert "<!-- BEGIN cpu -->" in md.read_text()


def test_packed_run_times_prepacked_weights(tmp_path):
    out = tmp_path / "r.json"
    rc = bench.main(["--quick", "--M", "1", "--packed", "--backend", "scalar", "--compute", "float,int8",
                     "--no-baseline", "--min-reps", "2", "--min-time", "0", "--probe-mib", "64",
                     "--quiet", "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["results"]
    assert [(r["backend"], r["compute"]) for r in rows] == [("scalar+packed", "float"),
                                                            ("scalar+packed", "int8")]
    assert all(not r["error"] and r["median_s"] > 0 for r in rows)


def test_bad_backend_is_an_error(capsys):
    assert bench.main(["--quick", "--backend", "no_such_backend", "--quiet"]) == 2
    assert "unknown backend" in capsys.readouterr().err


def test_ceiling_is_the_best_measurement_and_percentages_follow():
    ceil = bench.Ceilings()
    ceil.add(20e9, 1e11)
    ceil.add(float("nan"), 3e11)
    ceil.add(30e9, 2e11)
    assert ceil.bandwidth == 30e9 and ceil.peak == 3e11
    assert ceil.bandwidth_samples == [20e9, 30e9] and len(ceil.peak_samples) == 3
    case = bench.Case("t", 64, 64, 1, 8, 32, True)
    nbytes = bench.problem_bytes(1, 64, 64, 8, 32, True)
    r = bench.make_result(case, "b", "float", "f16", 2, [nbytes / 15e9], bench.Ceilings(bandwidth=10e9, peak=1.0), 2, 2)
    assert r.pct_bandwidth == pytest.approx(150.0)
    bench.apply_ceilings([r], ceil)
    assert r.pct_bandwidth == pytest.approx(50.0)
    assert r.pct_peak == pytest.approx(100.0 * r.flops / r.median_s / 3e11)
