"""`qmatmul bench`: the shape suite, timed against the machine's measured ceilings and a baseline.

    qmatmul bench                              the quick suite (the default): (4096, 4096) at
                                               M = 1, 16, 4-bit g128, < 1 min
    qmatmul bench [--suite quick|full|groups|all] [--backend a,b] [--bits 4,8] [--compute float,int8]
                  [--threads N] [--json PATH] [--markdown PATH] [--plot PATH.png]

Protocol (PERFORMANCE.md): random data, weights rotated among enough copies that together they
exceed twice the last-level cache (the GPU's L2 for CUDA runs), one warm-up call, then repeated
calls: median (min/max). Both ceilings are measured in the same run:

- CPU bandwidth: a streaming read of a large buffer (max(1 GiB, 8 x LLC)) by as many Python
  threads as the kernel uses, each reducing its slice with NumPy (which releases the GIL),
  re-measured before every shape, the best reading kept. It agrees with bench/qmm_bench's
  wide-load C loop (stream_read) within a few percent: 32-34 vs 33-35 GB/s on the 2-core CI VM,
  115.7 vs 117.4 GB/s on the 16-core Xeon (2026-11-23).
- CPU matrix rate: NumPy's BLAS fp32 GEMM (square, 2048); GPU: torch fp16 GEMM (8192^3).
- GPU bandwidth: a device-to-device copy, bytes read + written.
- Baseline: NumPy dequantize-to-fp32 then `x @ W.T` (CPU); torch fp16 `x @ W.T` (GPU).

Byte count per call: N*K*bits/8 + N*(K/group_size)*(4 + (1 if zero points)) + M*K*in + M*N*out.
FLOP count: 2*M*N*K. The shape suite lives in suite.json beside this file (read by the C++
benchmarks too).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

SUITE_PATH = Path(__file__).with_name("suite.json")

# ----------------------------------------------------------------------------- pure arithmetic


def resolve_group_size(group_size: int, K: int) -> int:
    """-1 means one group per row (group_size = K)."""
    return K if group_size == -1 else int(group_size)


def problem_bytes(M: int, N: int, K: int, bits: int, group_size: int, zero_points: bool = True,
                  in_size: int = 2, out_size: int = 2) -> int:
    """Bytes a call must move at least (PERFORMANCE.md): the weights, scales (fp32) and zero points
    (int8) once, the activations read once and the output written once."""
    g = resolve_group_size(group_size, K)
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    if g <= 0 or K % g:
        raise ValueError(f"group_size={group_size} does not divide K={K}")
    groups = K // g
    return (N * K * bits // 8 + N * groups * (4 + (1 if zero_points else 0))
            + M * K * in_size + M * N * out_size)


def problem_flops(M: int, N: int, K: int) -> int:
    return 2 * M * N * K


def arithmetic_intensity(M: int, N: int, K: int, bits: int, group_size: int,
                         zero_points: bool = True, in_size: int = 2, out_size: int = 2) -> float:
    """FLOP per byte of the minimum traffic."""
    return problem_flops(M, N, K) / problem_bytes(M, N, K, bits, group_size, zero_points,
                                                  in_size, out_size)


def pct_of(value: float, ceiling: float) -> float:
    """value as a percentage of ceiling (NaN when the ceiling is unknown)."""
    if not ceiling or ceiling <= 0 or not math.isfinite(ceiling):
        return float("nan")
    return 100.0 * value / ceiling


def roofline_attainable(intensity: float, bandwidth: float, peak: float) -> float:
    """Attainable FLOP/s at an arithmetic intensity under both ceilings."""
    return min(peak, intensity * bandwidth)


def roofline_floor_time(nbytes: float, flops: float, bandwidth: float, peak: float) -> float:
    """The shortest possible time: the larger of the memory time and the arithmetic time."""
    return max(nbytes / bandwidth, flops / peak)


def ridge_point(bandwidth: float, peak: float) -> float:
    """Arithmetic intensity (FLOP/byte) where the two ceilings meet."""
    return peak / bandwidth


def copies_needed(bytes_per_copy: int, cache_bytes: int, factor: int = 2) -> int:
    """Weight copies to rotate among so their total exceeds factor x the cache (at least two, so
    consecutive calls never see the same addresses). Same rule as bench/qmm_bench.cpp."""
    return max(2, (factor * cache_bytes) // max(bytes_per_copy, 1) + 1)


def parse_cache_size(text: str) -> int:
    """sysfs cache size text ("32768K", "1M", "512") -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"cannot parse a cache size from {text!r}")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    return int(float(m.group(1)) * mult)


def summarize(times: Sequence[float]) -> Tuple[float, float, float]:
    """(median, min, max) of a list of times."""
    if not times:
        raise ValueError("no times to summarize")
    return float(np.median(times)), float(min(times)), float(max(times))


def speedup(baseline_s: float, time_s: float) -> float:
    if not baseline_s or not time_s or not math.isfinite(baseline_s):
        return float("nan")
    return baseline_s / time_s


# ----------------------------------------------------------------------------- the suite


@dataclass(frozen=True)
class Case:
    shape: str
    N: int
    K: int
    M: int
    bits: int
    group_size: int
    zero_points: bool

    @property
    def flops(self) -> int:
        return problem_flops(self.M, self.N, self.K)


def load_suite(path: Optional[os.PathLike] = None) -> dict:
    with open(path or SUITE_PATH, encoding="utf-8") as f:
        return json.load(f)


def suite_cases(suite: dict, name: str) -> List[Case]:
    """Cases of one suite (or "all": every suite except quick), ordered shape, bits, group, M."""
    names = [n for n in suite["suites"] if n != "quick"] if name == "all" else [name]
    shapes = {s["name"]: s for s in suite["shapes"]}
    out: List[Case] = []
    for n in names:
        if n not in suite["suites"]:
            raise ValueError(f"unknown suite {n!r}; suites: {', '.join(suite['suites'])}, all")
        s = suite["suites"][n]
        for sh in s["shapes"]:
            N, K = shapes[sh]["N"], shapes[sh]["K"]
            for bits in s["bits"]:
                for g in s["group_size"]:
                    for M in s["M"]:
                        c = Case(sh, N, K, M, bits, g, bool(s["zero_points"]))
                        if c not in out:
                            out.append(c)
    return out


# ----------------------------------------------------------------------------- machine facts


def llc_bytes() -> int:
    """Sum of the distinct highest-level caches in sysfs (several L3 slices count together)."""
    base = Path("/sys/devices/system/cpu")
    seen, total, best = set(), 0, 0
    entries = []
    for d in base.glob("cpu[0-9]*/cache/index[0-9]*"):
        try:
            level = int((d / "level").read_text().strip())
            size = parse_cache_size((d / "size").read_text().strip())
            shared = (d / "shared_cpu_list").read_text().strip()
        except (OSError, ValueError):
            continue
        entries.append((level, size, shared))
        best = max(best, level)
    for level, size, shared in entries:
        if level == best and (shared, level) not in seen:
            seen.add((shared, level))
            total += size
    if not total:
        try:
            total = int(os.sysconf("SC_LEVEL3_CACHE_SIZE"))
        except (ValueError, OSError, AttributeError):
            total = 0
    return total if total > 0 else 32 << 20


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") or line.startswith("Model"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    """$QMM_COMMIT if set (for copies of the tree without .git), else git rev-parse."""
    if os.environ.get("QMM_COMMIT"):
        return os.environ["QMM_COMMIT"]
    here = Path(__file__).resolve().parent
    for cwd in (here, Path.cwd()):
        try:
            # only a checkout of qmatmul itself counts (an installed package may sit inside some
            # other repository, e.g. a pyenv checkout)
            top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd,
                                 capture_output=True, text=True, timeout=5)
            if top.returncode != 0 or not (Path(top.stdout.strip()) / "csrc" / "include" / "qmatmul"
                                           / "qmatmul.h").is_file():
                continue
            r = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
            if r.returncode == 0 and r.stdout.strip():
                dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                       cwd=cwd, capture_output=True, text=True, timeout=5)
                return r.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
        except (OSError, subprocess.SubprocessError):
            continue
    return "unknown"


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except (OSError, AttributeError):
        return "unknown"


def _blas_limiter(threads: int):
    """A context that limits the BLAS pool to `threads` if threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore
    except ImportError:
        import contextlib

        return contextlib.nullcontext(), "BLAS threads: its default, no threadpoolctl"
    return threadpool_limits(limits=threads, user_api="blas"), f"BLAS threads: {threads}"


# ----------------------------------------------------------------------------- timing


def time_calls(fn: Callable[[int], None], *, min_reps: int, min_time: float, max_reps: int,
               sync: Optional[Callable[[], None]] = None,
               timer: Optional[Callable[[Callable[[], None]], float]] = None) -> List[float]:
    """One warm-up call, then calls until min_reps and min_time are both reached (at most
    max_reps). fn(i) makes call i (i picks the weight copy). Returns seconds per call."""
    fn(0)
    if sync:
        sync()
    times: List[float] = []
    start = time.perf_counter()
    i = 1
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - start < min_time):
        if timer is not None:
            times.append(timer(lambda: fn(i)))
        else:
            t0 = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t0)
        i += 1
    return times


# OpenBLAS's threads keep spinning for a while after a BLAS call; let them go to sleep before
# timing a kernel that needs every core.
_BLAS_SETTLE_S = 0.25


def _probe_threads_read(buf: np.ndarray, threads: int, passes: int = 5) -> float:
    """Bytes/s of the best pass of `threads` threads each reducing its contiguous slice."""
    slices = np.array_split(buf, threads)
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(np.max, slices))  # warm-up (and page faults, if any remain)
        best = float("inf")
        for _ in range(passes):
            t0 = time.perf_counter()
            list(ex.map(np.max, slices))
            best = min(best, time.perf_counter() - t0)
    return buf.nbytes / best


def probe_buffer(threads: int, nbytes: Optional[int] = None) -> np.ndarray:
    """The streaming-read buffer: max(1 GiB, 8 x LLC), first touched by `threads` threads."""
    nbytes = nbytes or max(1 << 30, 8 * llc_bytes())
    buf = np.empty(nbytes // 8, dtype=np.float64)
    parts = np.array_split(buf, threads)
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda a: a.__setitem__(slice(None), np.random.default_rng(a.size).random(a.size)), parts))
    return buf


def cpu_stream_read_bandwidth(threads: int, nbytes: Optional[int] = None,
                              buf: Optional[np.ndarray] = None) -> Tuple[float, str]:
    if buf is None:
        buf = probe_buffer(threads, nbytes)
    bw = _probe_threads_read(buf, threads)
    return bw, f"NumPy max-reduce streaming read, {threads} threads, {buf.nbytes >> 20} MiB"


def cpu_matrix_rate(threads: int, n: int = 2048) -> Tuple[float, str]:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    limiter, note = _blas_limiter(threads)
    with limiter:
        a @ b
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best, f"NumPy BLAS fp32 GEMM {n}^3, {note}"


# ----------------------------------------------------------------------------- data


_X_DTYPES = {"f16": np.float16, "f32": np.float32}


def _act_dtype(name: str):
    if name == "bf16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return _X_DTYPES[name]


def _packer(qm, pool, group_size: int, bits: int):
    """--packed: a function (backend, compute) -> every weight copy of `pool` as
    qmatmul.PackedWeights for that backend and compute mode, packed on first use."""
    cache: dict = {}

    def packed_for(b, comp):
        if (b, comp) not in cache:
            cache[(b, comp)] = [qm.PackedWeights(w, s, z, group_size, bits, backend=b,
                                                 compute=comp) for w, s, z in pool]
        return cache[(b, comp)]
    return packed_for


def random_weights(rng: np.random.Generator, N: int, K: int, bits: int, group_size: int,
                   zero_points: bool):
    """Random canonical weights (any byte is a valid packed pair / int8), scales in
    [0.005, 0.015], zero points in the bit width's range."""
    g = resolve_group_size(group_size, K)
    G = K // g
    cols = K // 2 if bits == 4 else K
    w = rng.integers(0, 256, size=(N, cols), dtype=np.uint8)
    if bits == 8:
        w = w.view(np.int8)
    scales = (0.005 + 0.01 * rng.random((N, G), dtype=np.float32)).astype(np.float32)
    zps = None
    if zero_points:
        lo, hi = (-8, 8) if bits == 4 else (-128, 128)
        zps = rng.integers(lo, hi, size=(N, G), dtype=np.int8)
    return w, scales, zps


def numpy_dequantize_f32(w: np.ndarray, scales: np.ndarray, zps: Optional[np.ndarray],
                         group_size: int, bits: int) -> np.ndarray:
    """The CPU baseline's dequantization, in fp32 NumPy: float32 [N, K]."""
    N = w.shape[0]
    if bits == 4:
        b = w.view(np.int8)
        q = np.empty((N, w.shape[1] * 2), dtype=np.int8)
        q[:, 0::2] = np.left_shift(b, 4) >> 4  # sign-extended low nibble
        q[:, 1::2] = b >> 4
    else:
        q = w.view(np.int8)
    K = q.shape[1]
    g = resolve_group_size(group_size, K)
    qf = q.reshape(N, K // g, g).astype(np.float32)
    if zps is not None:
        qf -= zps[:, :, None]
    qf *= scales[:, :, None]
    return qf.reshape(N, K)


# ----------------------------------------------------------------------------- results


@dataclass
class Result:
    shape: str
    N: int
    K: int
    M: int
    bits: int
    group_size: int
    zero_points: bool
    backend: str
    compute: str
    dtype: str
    copies: int
    reps: int
    median_s: float
    min_s: float
    max_s: float
    bytes: int
    flops: int
    gbps: float
    tflops: float
    pct_bandwidth: float
    pct_peak: float
    baseline_s: float = float("nan")
    speedup: float = float("nan")
    timing: str = ""
    error: str = ""


@dataclass
class Ceilings:
    bandwidth: float = float("nan")  # bytes/s
    bandwidth_how: str = ""
    peak: float = float("nan")  # FLOP/s
    peak_how: str = ""
    baseline_how: str = ""
    # every measurement made through the run; the ceiling is the best of them (a shared machine
    # can be slow at any one moment, and a ceiling must not sit below what a kernel reached)
    bandwidth_samples: List[float] = field(default_factory=list)
    peak_samples: List[float] = field(default_factory=list)

    def add(self, bandwidth: float, peak: float) -> None:
        if math.isfinite(bandwidth):
            self.bandwidth_samples.append(bandwidth)
            self.bandwidth = max(self.bandwidth_samples)
        if math.isfinite(peak):
            self.peak_samples.append(peak)
            self.peak = max(self.peak_samples)


def apply_ceilings(results: List["Result"], ceil: Ceilings) -> None:
    """Recompute the percentages of results against (final) ceilings."""
    for r in results:
        if math.isfinite(r.median_s) and r.median_s > 0:
            r.pct_bandwidth = pct_of(r.bytes / r.median_s, ceil.bandwidth)
            r.pct_peak = pct_of(r.flops / r.median_s, ceil.peak)


@dataclass
class Run:
    machine: Dict[str, str] = field(default_factory=dict)
    config: Dict[str, object] = field(default_factory=dict)
    ceilings: Dict[str, Ceilings] = field(default_factory=dict)
    results: List[Result] = field(default_factory=list)


def make_result(case: Case, backend: str, compute: str, dtype: str, copies: int,
                times: Sequence[float], ceil: Ceilings, in_size: int, out_size: int,
                baseline_s: float = float("nan"), timing: str = "") -> Result:
    med, lo, hi = summarize(times)
    nbytes = problem_bytes(case.M, case.N, case.K, case.bits, case.group_size, case.zero_points,
                           in_size, out_size)
    gbps = nbytes / med / 1e9
    tflops = case.flops / med / 1e12
    return Result(case.shape, case.N, case.K, case.M, case.bits, case.group_size,
                  case.zero_points, backend, compute, dtype, copies, len(times), med, lo, hi,
                  nbytes, case.flops, gbps, tflops, pct_of(nbytes / med, ceil.bandwidth),
                  pct_of(case.flops / med, ceil.peak), baseline_s, speedup(baseline_s, med), timing)


# ----------------------------------------------------------------------------- progress


class Progress:
    """A plain-text progress bar on stderr (a line per step when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True, width: int = 28):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()

    def update(self, label: str) -> None:
        if not self.enabled:
            return
        frac = self.done / self.total
        fill = int(round(frac * self.width))
        bar = "#" * fill + "." * (self.width - fill)
        el = time.perf_counter() - self.start
        msg = f"[{bar}] {self.done}/{self.total} {el:6.1f}s  {label}"
        if self.tty:
            sys.stderr.write("\r" + msg[:150].ljust(150))
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    def step(self, label: str = "") -> None:
        self.done += 1
        self.update(label)

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ----------------------------------------------------------------------------- runners


def _select_backend_name(core, case: Case, x, w, scales, zps, y, dt_code: int, compute: str) -> str:
    try:
        return core.select_backend(case.M, case.N, case.K, x.ctypes.data, dt_code, w.ctypes.data,
                                   scales.ctypes.data, zps.ctypes.data if zps is not None else 0,
                                   case.group_size, case.bits, y.ctypes.data, dt_code,
                                   core.COMPUTE_INT8 if compute == "int8" else core.COMPUTE_FLOAT, "")
    except Exception:  # noqa: BLE001 - a label only
        return "auto"


class CpuRunner:
    def __init__(self, args, threads: int, progress: Progress):
        import qmatmul

        self.qm = qmatmul
        self.args = args
        self.threads = threads
        self.progress = progress
        self.llc = llc_bytes()
        self.rng = np.random.default_rng(args.seed)
        self.ceil = Ceilings()
        self._probe: Optional[np.ndarray] = None
        self._baseline_cache: Dict[Tuple, float] = {}

    def measure_ceilings(self) -> Ceilings:
        """Measure both ceilings (again): called at the start and before every shape group."""
        self.progress.update("measuring the streaming-read bandwidth")
        if self._probe is None:
            self._probe = probe_buffer(self.threads, (self.args.probe_mib << 20) if self.args.probe_mib else None)
        bw, how = cpu_stream_read_bandwidth(self.threads, buf=self._probe)
        self.progress.update("measuring the fp32 GEMM rate")
        peak, peak_how = cpu_matrix_rate(self.threads)
        self.ceil.add(bw, peak)
        n = len(self.ceil.bandwidth_samples)
        # The best reading is the ceiling (a probe cannot read faster than memory allows); on a
        # shared machine bursts can lift it well above the typical reading, so the median of the
        # readings is printed beside it.
        med = float(np.median(self.ceil.bandwidth_samples)) if n > 1 else bw
        self.ceil.bandwidth_how = how + (f", best of {n} probes through the run (median "
                                         f"{med / 1e9:.1f} GB/s)" if n > 1 else "")
        self.ceil.peak_how = peak_how + (f", best of {n} probes through the run" if n > 1 else "")
        self.ceil.baseline_how = "NumPy dequantize to fp32, then x.astype(fp32) @ W.T"
        time.sleep(_BLAS_SETTLE_S)
        return self.ceil

    def run_group(self, cases: List[Case], backends: List[Optional[str]], computes: List[str],
                  dtype: str) -> List[Result]:
        """Cases sharing (shape, bits, group_size, zp): one weight pool for all of them."""
        from . import _core

        c0 = cases[0]
        w0, s0, z0 = random_weights(self.rng, c0.N, c0.K, c0.bits, c0.group_size, c0.zero_points)
        per_copy = w0.nbytes + s0.nbytes + (z0.nbytes if z0 is not None else 0)
        ncopies = copies_needed(per_copy, self.llc)
        pool = [(w0, s0, z0)] + [tuple(None if a is None else a.copy() for a in (w0, s0, z0))
                                 for _ in range(ncopies - 1)]
        xdt = _act_dtype(dtype)
        dt_code = {"f16": _core.DTYPE_F16, "bf16": _core.DTYPE_BF16, "f32": _core.DTYPE_F32}[dtype]
        isz = np.dtype(xdt).itemsize
        out: List[Result] = []
        # --packed: the pool in each (backend, compute)'s own layout, made once for all cases
        # (every case of this group has the pool's shape, bits and group size)
        packed_for = _packer(self.qm, pool, c0.group_size, c0.bits)

        for case in cases:
            x = self.rng.uniform(-1.0, 1.0, size=(case.M, case.K)).astype(np.float32).astype(xdt)
            y = np.full((case.M, case.N), np.nan, dtype=xdt)
            base = self._baseline(case, pool, x) if not self.args.no_baseline else float("nan")
            for b in backends:
                for comp in computes:
                    name = b or _select_backend_name(_core, case, x, w0, s0, z0, y, dt_code, comp)
                    self.progress.update(f"{case.shape} M={case.M} {case.bits}b g{case.group_size} "
                                         f"{name}/{comp}")
                    label = name + ("+packed" if self.args.packed else "")
                    if self.args.packed and not b:
                        # the packing backend (chosen for the weights, not for this row count)
                        try:
                            label = packed_for(b, comp)[0].backend + "+packed"
                        except (ValueError, RuntimeError, TypeError):
                            pass  # the packing error lands in this case's row below

                    def call(i, comp=comp, b=b, packed=None):
                        if packed is not None:
                            packed[i % ncopies].matmul(x, compute=comp, out=y)
                            return
                        w, s, z = pool[i % ncopies]
                        self.qm.quantized_matmul(x, w, s, z, case.group_size, case.bits,
                                                 compute=comp, backend=b, out=y)
                    try:
                        if self.args.packed:  # packing errors land in this case's row too
                            call = functools.partial(call, packed=packed_for(b, comp))
                        times = time_calls(call, min_reps=self.args.min_reps,
                                           min_time=self.args.min_time, max_reps=self.args.max_reps)
                        out.append(make_result(case, label, comp, dtype, ncopies, times,
                                               self.ceil, isz, isz, base,
                                               "wall clock (perf_counter) per call"))
                    except (ValueError, RuntimeError, TypeError) as e:
                        r = make_result(case, label, comp, dtype, ncopies, [float("nan")],
                                        self.ceil, isz, isz, base)
                        r.error = str(e)
                        out.append(r)
                    self.progress.step(f"{case.shape} M={case.M} {name}/{comp}")
        return out

    def _baseline(self, case: Case, pool, x) -> float:
        key = (case.N, case.K, case.M, case.bits, case.group_size, case.zero_points, x.dtype.str)
        if key in self._baseline_cache:
            return self._baseline_cache[key]
        self.progress.update(f"{case.shape} M={case.M} {case.bits}b baseline (NumPy)")
        limiter, _ = _blas_limiter(self.threads)
        n = len(pool)

        def call(i):
            w, s, z = pool[i % n]
            wd = numpy_dequantize_f32(w, s, z, case.group_size, case.bits)
            x.astype(np.float32) @ wd.T

        with limiter:
            times = time_calls(call, min_reps=self.args.baseline_reps, min_time=0.0,
                               max_reps=self.args.baseline_reps)
        t = summarize(times)[0]
        self._baseline_cache[key] = t
        time.sleep(_BLAS_SETTLE_S)
        return t


class CudaRunner:
    """CUDA backends through torch tensors (zero-copy), torch fp16 baselines and ceilings."""

    def __init__(self, args, progress: Progress):
        import torch

        import qmatmul

        self.torch = torch
        self.qm = qmatmul
        self.args = args
        self.progress = progress
        self.dev = torch.device("cuda")
        props = torch.cuda.get_device_properties(0)
        self.l2 = int(getattr(props, "L2_cache_size", 50 << 20) or (50 << 20))
        self.gen = torch.Generator(device=self.dev)
        self.gen.manual_seed(args.seed)
        self.ceil = Ceilings()
        self.timing = ""
        self._baseline_cache: Dict[Tuple, float] = {}

    def _event_timer(self, fn: Callable[[], None]) -> float:
        torch = self.torch
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        return e0.elapsed_time(e1) * 1e-3

    def measure_ceilings(self) -> Ceilings:
        torch = self.torch
        self.progress.update("measuring the device copy bandwidth")
        nbytes = max(1 << 30, 16 * self.l2)
        a = torch.empty(nbytes, dtype=torch.uint8, device=self.dev).random_(generator=self.gen)
        b = torch.empty_like(a)
        times = time_calls(lambda i: b.copy_(a), min_reps=10, min_time=0.0, max_reps=10,
                           sync=torch.cuda.synchronize, timer=self._event_timer)
        self.ceil.bandwidth = 2.0 * nbytes / min(times)
        self.ceil.bandwidth_how = f"torch device-to-device copy of {nbytes >> 20} MiB, bytes read + written"
        del a, b
        self.progress.update("measuring the torch fp16 GEMM rate")
        n = 8192
        a = torch.randn(n, n, device=self.dev, dtype=torch.float16, generator=self.gen)
        b = torch.randn(n, n, device=self.dev, dtype=torch.float16, generator=self.gen)
        times = time_calls(lambda i: a @ b, min_reps=10, min_time=0.0, max_reps=10,
                           sync=torch.cuda.synchronize, timer=self._event_timer)
        self.ceil.peak = 2.0 * n ** 3 / min(times)
        self.ceil.peak_how = f"torch fp16 GEMM {n}^3 (cuBLAS)"
        self.ceil.baseline_how = "torch fp16 x @ W.T (cuBLAS), W rotated past L2 like the weights"
        del a, b
        torch.cuda.empty_cache()
        return self.ceil

    def run_group(self, cases: List[Case], backends: List[Optional[str]], computes: List[str],
                  dtype: str) -> List[Result]:
        torch = self.torch
        c0 = cases[0]
        rng = np.random.default_rng(self.args.seed)
        w0, s0, z0 = random_weights(rng, c0.N, c0.K, c0.bits, c0.group_size, c0.zero_points)
        per_copy = w0.nbytes + s0.nbytes + (z0.nbytes if z0 is not None else 0)
        ncopies = copies_needed(per_copy, self.l2)

        def dev(a):
            return None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(self.dev)
        pool = [tuple(dev(a) for a in (w0, s0, z0)) for _ in range(ncopies)]
        tdt = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}[dtype]
        isz = torch.empty((), dtype=tdt).element_size()
        out: List[Result] = []
        packed_for = _packer(self.qm, pool, c0.group_size, c0.bits)  # --packed

        for case in cases:
            x = (torch.rand(case.M, case.K, device=self.dev, generator=self.gen) * 2 - 1).to(tdt)
            y = torch.full((case.M, case.N), float("nan"), device=self.dev, dtype=tdt)
            base = float("nan") if self.args.no_baseline else self._baseline(case, x)
            for b in backends:
                for comp in computes:
                    name = (b or "cuda") + ("+packed" if self.args.packed else "")
                    self.progress.update(f"{case.shape} M={case.M} {case.bits}b g{case.group_size} "
                                         f"{name}/{comp}")

                    def call(i, comp=comp, b=b, packed=None):
                        if packed is not None:
                            packed[i % ncopies].matmul(x, compute=comp, out=y)
                            return
                        w, s, z = pool[i % ncopies]
                        self.qm.quantized_matmul(x, w, s, z, case.group_size, case.bits,
                                                 compute=comp, backend=b, out=y)
                    try:
                        if self.args.packed:  # packing errors land in this case's row too
                            call = functools.partial(call, packed=packed_for(b, comp))
                        times = self.batched_times(call, ncopies)
                        out.append(make_result(case, name, comp, dtype, ncopies, times, self.ceil,
                                               isz, isz, base, self.timing))
                    except (ValueError, RuntimeError, TypeError) as e:
                        r = make_result(case, name, comp, dtype, ncopies, [float("nan")],
                                        self.ceil, isz, isz, base)
                        r.error = str(e)
                        out.append(r)
                    self.progress.step(f"{case.shape} M={case.M} {name}/{comp}")
        del pool, packed_for
        torch.cuda.empty_cache()
        return out

    def batched_times(self, call: Callable[[int], None], ncopies: int) -> List[float]:
        """Per-call device times. A batch of back-to-back calls (each on the next weight copy;
        at least one full rotation and ~1 ms of work) is captured into a CUDA graph and replayed
        between CUDA events, so Python's per-call overhead does not starve the GPU; one sample
        per replay. If capture fails, the batch is launched eagerly between the events instead
        (self.timing says which)."""
        torch = self.torch
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the default stream, as capture wants
            for i in range(3):
                call(i)
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        one = self._event_timer(lambda: call(3))
        batch = max(ncopies, min(200, math.ceil(1e-3 / max(one, 1e-7))))
        batch = ncopies * math.ceil(batch / ncopies)

        def eager():
            for j in range(batch):
                call(j)

        run = eager
        self.timing = "CUDA events around eager batches of back-to-back calls"
        if not self.args.no_graph:
            try:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=side):  # the warmed-up stream
                    eager()
                run = graph.replay
                self.timing = ("CUDA graph replay between CUDA events, batches of back-to-back "
                               "calls (>= one weight rotation, ~1 ms), time per call")
            except Exception as e:  # noqa: BLE001 - fall back, and say so
                torch.cuda.synchronize()
                self.timing += f" (graph capture failed: {type(e).__name__}: {e})"[:200]
        run()
        torch.cuda.synchronize()
        times: List[float] = []
        start = time.perf_counter()
        while len(times) < self.args.max_reps_gpu and (
                len(times) < self.args.min_reps or time.perf_counter() - start < self.args.min_time):
            times.append(self._event_timer(run) / batch)
        return times

    def _baseline(self, case: Case, x) -> float:
        torch = self.torch
        key = (case.N, case.K, case.M, x.dtype)
        if key in self._baseline_cache:
            return self._baseline_cache[key]
        self.progress.update(f"{case.shape} M={case.M} baseline (torch fp16)")
        n = copies_needed(case.N * case.K * 2, self.l2)
        ws = [torch.randn(case.N, case.K, device=self.dev, dtype=torch.float16, generator=self.gen)
              for _ in range(n)]
        xh = x.to(torch.float16)
        yh = torch.empty(case.M, case.N, device=self.dev, dtype=torch.float16)
        times = self.batched_times(lambda i: torch.matmul(xh, ws[i % n].T, out=yh), n)
        del ws
        t = summarize(times)[0]
        self._baseline_cache[key] = t
        return t


# ----------------------------------------------------------------------------- output


def _fmt_time(s: float) -> str:
    if not math.isfinite(s):
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _fmt(v: float, spec: str) -> str:
    return "-" if not math.isfinite(v) else format(v, spec)


TABLE_HEAD = ["M", "backend", "compute", "median (min/max)", "GB/s", "% BW", "TFLOP/s",
              "% peak", "baseline", "speed-up"]


def table_rows(results: List[Result]) -> Dict[str, List[List[str]]]:
    groups: Dict[str, List[List[str]]] = {}
    for r in results:
        g = "-1 (per row)" if r.group_size == -1 else str(r.group_size)
        title = (f"{r.shape} (N={r.N}, K={r.K}), {r.bits}-bit, group {g}"
                 f"{', zero points' if r.zero_points else ''}, {r.dtype} activations")
        if r.error:
            row = [str(r.M), r.backend, r.compute, "error: " + r.error[:60], "", "", "", "", "", ""]
        else:
            row = [str(r.M), r.backend, r.compute,
                   f"{_fmt_time(r.median_s)} ({_fmt_time(r.min_s)}/{_fmt_time(r.max_s)})",
                   _fmt(r.gbps, ".1f"), _fmt(r.pct_bandwidth, ".0f"), _fmt(r.tflops, ".3f"),
                   _fmt(r.pct_peak, ".0f"), _fmt_time(r.baseline_s), _fmt(r.speedup, ".1f") +
                   ("x" if math.isfinite(r.speedup) else "")]
        groups.setdefault(title, []).append(row)
    return groups


def format_text(run: Run) -> str:
    lines = []
    for where, c in run.ceilings.items():
        lines.append(f"{where} ceilings: bandwidth {c.bandwidth / 1e9:.1f} GB/s [{c.bandwidth_how}]; "
                     f"matrix rate {c.peak / 1e12:.3f} TFLOP/s [{c.peak_how}]; baseline: {c.baseline_how}")
    for t in sorted({r.timing for r in run.results if r.timing}):
        lines.append(f"timing: {t}")
    for title, rows in table_rows(run.results).items():
        lines.append("")
        lines.append(title)
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(TABLE_HEAD)]
        lines.append("  ".join(h.rjust(w) for h, w in zip(TABLE_HEAD, widths)))
        for r in rows:
            lines.append("  ".join(v.rjust(w) for v, w in zip(r, widths)))
    return "\n".join(lines)


def format_markdown(run: Run, command: str, plot: Optional[str]) -> str:
    m = run.machine
    out = [f"Generated {m.get('date', '')} by `{command}`", "",
           f"- machine: {m.get('cpu_model', '')}, {m.get('cpus', '')} CPUs, LLC {m.get('llc_mib', '')} MiB"
           f"{'; GPU: ' + m['gpu'] if m.get('gpu') else ''}",
           f"- qmatmul {m.get('version', '')}, commit {m.get('commit', '')}, {m.get('compiler', '')}; "
           f"CPU features: {m.get('cpu_features', '')}",
           f"- threads: {run.config.get('threads', '')}; backends: {', '.join(run.config.get('backends_run', []))}; "
           f"compute: {', '.join(run.config.get('compute', []))}; load average (1/5/15 min) at start "
           f"{m.get('loadavg_at_start', '?')}, at end {m.get('loadavg_at_end', '?')}"]
    for where, c in run.ceilings.items():
        out.append(f"- {where} ceilings, measured in this run: bandwidth **{c.bandwidth / 1e9:.1f} GB/s** "
                   f"({c.bandwidth_how}); matrix rate **{c.peak / 1e12:.3f} TFLOP/s** ({c.peak_how}); "
                   f"baseline: {c.baseline_how}")
    for t in sorted({r.timing for r in run.results if r.timing}):
        out.append(f"- timing: {t}; median (min/max) over {run.config.get('min_reps')}+ samples")
    if run.config.get("skipped"):
        out.append(f"- not run (above --max-gflop {run.config.get('max_gflop')}): "
                   f"{run.config['skipped']} cases")
    if plot:
        out += ["", f"![roofline]({plot})"]
    for title, rows in table_rows(run.results).items():
        out += ["", f"**{title}**", "", "| " + " | ".join(TABLE_HEAD) + " |",
                "|" + "---|" * len(TABLE_HEAD)]
        out += ["| " + " | ".join(v.replace("|", "/") for v in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_markdown_section(path: Path, section: str, body: str) -> None:
    """Replace the text between <!-- BEGIN section --> and <!-- END section --> in path (appending
    the section if absent), so one file can hold the CPU and GPU results side by side."""
    begin, end = f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{begin}\n{body}{end}"
    if begin in text and end in text:
        pre, rest = text.split(begin, 1)
        _, post = rest.split(end, 1)
        text = pre + block + post
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + block + "\n"
    path.write_text(text, encoding="utf-8")


_LABEL_EACH_POINT_UP_TO = 16


def plot_roofline(run: Run, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise SystemExit("qmatmul bench --plot needs matplotlib (pip install 'qmatmul[bench]' "
                         f"or pip install matplotlib): {e}") from None
    ok = [r for r in run.results if not r.error and math.isfinite(r.median_s)]
    fig, ax = plt.subplots(figsize=(11, 7), dpi=110)
    ais = [r.flops / r.bytes for r in ok] or [1.0]
    ridges = [ridge_point(c.bandwidth, c.peak) for c in run.ceilings.values()
              if math.isfinite(c.bandwidth) and math.isfinite(c.peak) and c.bandwidth > 0]
    lo, hi = min(ais + ridges) / 2, max(ais + ridges) * 3
    xs = np.logspace(math.log10(lo), math.log10(hi), 200)
    styles = ["-", "--", ":"]
    bw_labels = []
    ys = [r.flops / r.median_s for r in ok] + [r.flops / r.baseline_s for r in ok
                                                 if math.isfinite(r.baseline_s)]
    peaks = [c.peak for c in run.ceilings.values() if math.isfinite(c.peak)]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    bottoms = ys + [lo * c.bandwidth for c in run.ceilings.values() if math.isfinite(c.bandwidth)]
    ax.set_ylim(min(bottoms or [1.0]) / 3, max(ys + peaks + [1.0]) * 4)
    for k, (where, c) in enumerate(run.ceilings.items()):
        if not (math.isfinite(c.bandwidth) and math.isfinite(c.peak)):
            continue
        ls = styles[k % 3]
        ax.plot(xs, np.minimum(c.peak, xs * c.bandwidth), color="black", ls=ls, lw=1.5)
        bw_labels.append((where, c))
        ax.annotate(f"{where} matrix rate {c.peak / 1e12:.3g} TFLOP/s ({c.peak_how})",
                    xy=(hi / 1.1, c.peak), xytext=(0, 4), textcoords="offset points", fontsize=8,
                    ha="right", va="bottom")
    for where, c in bw_labels:  # along the sloped ceiling, just above it
        x0, x1 = lo * 1.15, lo * 2.3
        p0, p1 = ax.transData.transform([(x0, x0 * c.bandwidth), (x1, x1 * c.bandwidth)])
        angle = math.degrees(math.atan2(p1[1] - p0[1], p1[0] - p0[0]))
        ax.annotate(f"{where} bandwidth {c.bandwidth / 1e9:.1f} GB/s", xy=(x0, x0 * c.bandwidth),
                    xytext=(0, 5), textcoords="offset points", fontsize=8, ha="left", va="bottom",
                    rotation=angle, rotation_mode="anchor")
    shapes = sorted({r.shape for r in ok}, key=lambda s: [r.shape for r in ok].index(s))
    cmap = plt.get_cmap("tab10")
    markers = {}
    mk = ["o", "s", "^", "D", "v", "P", "X", "*"]
    for r in ok:
        key = (r.backend, r.compute, r.bits)
        if key not in markers:
            markers[key] = mk[len(markers) % len(mk)]
    baselined = set()  # one baseline marker per case, whichever backend ran it first
    for r in ok:
        color = cmap(shapes.index(r.shape) % 10)
        ax.scatter(r.flops / r.bytes, r.flops / r.median_s, color=color,
                   marker=markers[(r.backend, r.compute, r.bits)], s=36, zorder=3)
        if len(ok) <= _LABEL_EACH_POINT_UP_TO:
            ax.annotate(f"{r.shape} M={r.M} {r.backend}/{r.compute}",
                        (r.flops / r.bytes, r.flops / r.median_s), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        case = (r.shape, r.M, r.bits, r.group_size)
        if math.isfinite(r.baseline_s) and case not in baselined:
            baselined.add(case)
            ax.scatter(r.flops / r.bytes, r.flops / r.baseline_s, facecolors="none",
                       edgecolors=color, marker="o", s=30, zorder=2)
    if len(ok) > _LABEL_EACH_POINT_UP_TO:  # too many for labels: mark where each M sits instead
        for M, bits in sorted({(r.M, r.bits) for r in ok}):
            xs_m = [r.flops / r.bytes for r in ok if r.M == M and r.bits == bits]
            xm = math.exp(sum(math.log(v) for v in xs_m) / len(xs_m))
            ax.annotate(f"M={M} {bits}b", (xm, 0.0), xycoords=("data", "axes fraction"),
                        xytext=(0, 4), textcoords="offset points", fontsize=7, ha="center",
                        va="bottom", rotation=90, color="dimgray")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=cmap(i % 10), marker="o", ls="", label=s) for i, s in enumerate(shapes)]
    handles += [Line2D([], [], color="gray", marker=m, ls="", label=f"{b}/{c} {bits}-bit")
                for (b, c, bits), m in markers.items()]
    if any(math.isfinite(r.baseline_s) for r in ok):
        handles.append(Line2D([], [], color="gray", marker="o", mfc="none", ls="", label="baseline"))
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_xlabel("arithmetic intensity (FLOP / byte of minimum traffic)")
    ax.set_ylabel("achieved FLOP/s")
    m = run.machine
    # name the device the points ran on: the GPU for a CUDA-only run, else the CPU and threads
    on_gpu = bool(run.ceilings) and all(k == "GPU" for k in run.ceilings)
    where = m.get("gpu", "") if on_gpu else f"{m.get('cpu_model', '')}, {run.config.get('threads', '')} threads"
    ax.set_title(f"qmatmul roofline: {where}, {m.get('date', '')[:10]}", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _json_default(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(type(o).__name__)


def _clean(o):
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def run_to_json(run: Run) -> dict:
    return _clean({"machine": run.machine, "config": run.config,
                   "ceilings": {k: asdict(v) for k, v in run.ceilings.items()},
                   "results": [asdict(r) for r in run.results]})


def run_from_json(data: dict) -> Run:
    """The inverse of run_to_json (None -> NaN), to redraw the plot or rewrite the Markdown."""
    def num(v):
        return float("nan") if v is None else v
    run = Run(machine=dict(data["machine"]), config=dict(data["config"]))
    for k, c in data["ceilings"].items():
        run.ceilings[k] = Ceilings(**{f: (num(v) if f in ("bandwidth", "peak") else v) for f, v in c.items()})
    for r in data["results"]:
        run.results.append(Result(**{f: (num(v) if f not in ("shape", "backend", "compute", "dtype",
                                                                   "timing", "error", "zero_points")
                                         else v) for f, v in r.items()}))
    return run


# ----------------------------------------------------------------------------- main


def _parse_list(text: Optional[str], conv=str) -> Optional[list]:
    if text is None:
        return None
    return [conv(t) for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qmatmul bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="quick",
                   help="quick | full | groups | all (default quick: (4096, 4096), M=1,16, 4-bit g128)")
    p.add_argument("--quick", action="store_true", help="the quick suite (the default)")
    p.add_argument("--backend", help="comma-separated backend names (default: the best, automatic)")
    p.add_argument("--bits", help="restrict to these bit widths, e.g. 4 or 4,8")
    p.add_argument("--M", dest="ms", help="restrict to these M values, e.g. 1,16")
    p.add_argument("--shapes", help="restrict to these shape names, e.g. 8B.attn,70B.up")
    p.add_argument("--compute", default="float", help="float, int8 or float,int8 (default float)")
    p.add_argument("--dtype", default="f16", choices=("f16", "bf16", "f32"), help="activation/output dtype")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: the library's)")
    p.add_argument("--max-gflop", type=float, default=0.0,
                   help="skip cases above this many GFLOP per call (default: none)")
    p.add_argument("--min-reps", type=int, default=5, help="timed calls per case at least (default 5)")
    p.add_argument("--max-reps", type=int, default=200, help="timed calls per case at most (CPU)")
    p.add_argument("--max-reps-gpu", type=int, default=1000, help="timed calls per case at most (GPU)")
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per case at least (default 0.5)")
    p.add_argument("--baseline-reps", type=int, default=3, help="timed baseline calls (CPU, default 3)")
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    p.add_argument("--packed", action="store_true",
                   help="time qmatmul.PackedWeights.matmul on weights prepacked for the backend "
                        "(rows are named backend+packed) instead of quantized_matmul on canonical ones")
    p.add_argument("--no-remeasure", action="store_true",
                   help="CPU: measure the ceilings once at the start, not again before each shape")
    p.add_argument("--no-graph", action="store_true",
                   help="GPU: time eager launches instead of CUDA graph replay")
    p.add_argument("--probe-mib", type=int, default=0,
                   help="CPU streaming-read buffer in MiB (default max(1024, 8 x LLC))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write every number, the machine and the config to this JSON file")
    p.add_argument("--markdown", help="write the tables into this Markdown file (a marked section)")
    p.add_argument("--markdown-section", default=None,
                   help="name of the marked section in the Markdown file that this run replaces "
                        "(default: cpu or gpu)")
    p.add_argument("--plot", help="write a roofline plot (PNG; needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--from-json", metavar="PATH",
                   help="measure nothing: load a --json file and redo the table, --plot, --markdown")
    p.add_argument("--list", action="store_true", help="list the cases (and their GFLOP) and exit")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    import qmatmul

    if args.plot:  # fail before the long run, not after
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("qmatmul bench: --plot needs matplotlib (pip install 'qmatmul[bench]')", file=sys.stderr)
            return 2
    if args.from_json:
        run = run_from_json(json.loads(Path(args.from_json).read_text(encoding="utf-8")))
        return _emit(run, args, host_run=any(k == "CPU" for k in run.ceilings),
                     device_run=any(k == "GPU" for k in run.ceilings))
    suite_name = "quick" if args.quick else args.suite
    try:
        cases = suite_cases(load_suite(), suite_name)
    except ValueError as e:
        print(f"qmatmul bench: {e}", file=sys.stderr)
        return 2
    bits_f, ms_f, shapes_f = _parse_list(args.bits, int), _parse_list(args.ms, int), _parse_list(args.shapes)
    cases = [c for c in cases if (not bits_f or c.bits in bits_f) and (not ms_f or c.M in ms_f)
             and (not shapes_f or c.shape in shapes_f)]
    skipped = [c for c in cases if args.max_gflop and c.flops / 1e9 > args.max_gflop]
    cases = [c for c in cases if c not in skipped]
    if args.list:
        for c in cases:
            print(f"{c.shape:10s} N={c.N:<6d} K={c.K:<6d} M={c.M:<5d} bits={c.bits} g={c.group_size:<4d} "
                  f"zp={int(c.zero_points)} {c.flops / 1e9:10.1f} GFLOP")
        print(f"{len(cases)} cases, {sum(c.flops for c in cases) / 1e9:.0f} GFLOP in all; "
              f"{len(skipped)} above --max-gflop not listed")
        return 0
    computes = _parse_list(args.compute) or ["float"]
    for c in computes:
        if c not in ("float", "int8"):
            print(f"qmatmul bench: --compute must be float and/or int8, got {c!r}", file=sys.stderr)
            return 2
    if args.threads:
        qmatmul.set_num_threads(args.threads)
    threads = qmatmul.get_num_threads()

    all_b = {b["name"]: b for b in qmatmul.backends()}
    names = _parse_list(args.backend)
    if names:
        for n in names:
            if n not in all_b:
                print(f"qmatmul bench: unknown backend {n!r}; built: {', '.join(all_b)}", file=sys.stderr)
                return 2
            if not all_b[n]["available"]:
                print(f"qmatmul bench: backend {n!r} is not available on this machine", file=sys.stderr)
                return 2
        host_b: List[Optional[str]] = [n for n in names if not all_b[n]["device"]]
        dev_b: List[Optional[str]] = [n for n in names if all_b[n]["device"]]
    else:
        host_b, dev_b = [None], []  # the best: automatic dispatch on host memory

    inf = qmatmul.info()
    run = Run()
    gpu = inf.get("gpu_features", "")
    run.machine = {
        "cpu_model": cpu_model(), "cpus": str(os.cpu_count()), "llc_mib": str(llc_bytes() >> 20),
        "gpu": gpu, "cpu_features": inf.get("cpu_features", ""), "version": inf.get("version", ""),
        "compiler": inf.get("compiler", ""), "commit": git_commit(), "python": platform.python_version(),
        "numpy": np.__version__, "hostname": platform.node(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_at_start": _loadavg(),
    }
    run.config = {"suite": suite_name, "threads": threads, "compute": computes, "dtype": args.dtype,
                  "min_reps": args.min_reps, "min_time": args.min_time, "max_gflop": args.max_gflop,
                  "skipped": len(skipped), "argv": list(argv) if argv is not None else sys.argv[1:],
                  "backends_available": [n for n, b in all_b.items() if b["available"]]}

    groups: Dict[Tuple, List[Case]] = {}
    for c in cases:
        groups.setdefault((c.shape, c.bits, c.group_size, c.zero_points), []).append(c)
    total = len(cases) * (len(host_b) + len(dev_b)) * len(computes)
    progress = Progress(total, enabled=not args.quiet)
    try:
        if host_b:
            cpu = CpuRunner(args, threads, progress)
            run.ceilings["CPU"] = cpu.measure_ceilings()
            cpu_results: List[Result] = []
            for k, g in enumerate(groups.values()):
                if k and not args.no_remeasure:
                    cpu.measure_ceilings()
                cpu_results += cpu.run_group(g, host_b, computes, args.dtype)
            cpu._probe = None
            apply_ceilings(cpu_results, cpu.ceil)
            run.results += cpu_results
        if dev_b:
            try:
                import torch  # noqa: F401
            except ImportError:
                print("qmatmul bench: CUDA backends are timed through torch tensors; torch is not "
                      "installed", file=sys.stderr)
                return 2
            gpu_r = CudaRunner(args, progress)
            run.ceilings["GPU"] = gpu_r.measure_ceilings()
            for g in groups.values():
                run.results += gpu_r.run_group(g, dev_b, computes, args.dtype)
    finally:
        progress.close()
    run.config["backends_run"] = sorted({r.backend for r in run.results})
    run.machine["loadavg_at_end"] = _loadavg()

    if skipped:
        run.config["skipped_cases"] = [asdict(c) for c in skipped]
    return _emit(run, args, host_run=bool(host_b), device_run=bool(dev_b))


def _emit(run: Run, args, host_run: bool, device_run: bool) -> int:
    """Print the tables and write --json / --plot / --markdown."""
    print(format_text(run))
    if run.config.get("skipped"):
        print(f"\n{run.config['skipped']} cases above --max-gflop {run.config.get('max_gflop')} not run")
    if args.json and not args.from_json:
        Path(args.json).write_text(json.dumps(run_to_json(run), indent=1) + "\n", encoding="utf-8")
    if args.plot:
        plot_roofline(run, args.plot)
    if args.markdown:
        md = Path(args.markdown)
        plot_rel = None
        if args.plot:
            try:
                plot_rel = os.path.relpath(args.plot, md.resolve().parent)
            except ValueError:
                plot_rel = args.plot
        cmd = "qmatmul bench " + " ".join(run.config["argv"])
        section = args.markdown_section or ("gpu" if device_run and not host_run else "cpu")
        write_markdown_section(md, section, format_markdown(run, cmd.strip(), plot_rel))
    return 1 if any(r.error for r in run.results) else 0


if __name__ == "__main__":
    sys.exit(main())
