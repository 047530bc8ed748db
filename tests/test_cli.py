"""``python -m leakyrelu``: the command line, and the benchmark table behind ``bench``.

No test here asserts a speed: only what is printed, refused and computed.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

import leakyrelu
from leakyrelu import _bench, _benchcases


def cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "leakyrelu", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_version():
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"leakyrelu {leakyrelu.__version__}"


def test_bare_command_prints_help():
    result = cli()
    assert result.returncode == 0
    assert "usage: python -m leakyrelu" in result.stdout
    for command in ("bench", "config", "demo"):
        assert command in result.stdout


def test_bench_help_states_defaults_and_time():
    out = " ".join(cli("bench", "--help").stdout.split())
    assert "65536 and 2097152 elements" in out and "1 and 2 threads" in out
    assert "10-30 s" in out and "5-25 minutes" in out


@pytest.mark.parametrize("args", [
    ("bench", "--functions", "relu", "nope"),
    ("bench", "--sizes", "0"),
    ("bench", "--sizes", "ten"),
    ("bench", "--threads", "-1"),
    ("demo", "--plot", "missing-folder-xyz/x.png"),
    ("demo", "--epochs", "0"),
    ("nope",),
])
def test_bad_arguments_are_refused_in_one_line(args, tmp_path):
    result = subprocess.run([sys.executable, "-m", "leakyrelu", *args], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stdout == ""                         # no work done, nothing printed
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and ": error: " in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def relu_json():
    result = cli("bench", "--functions", "relu", "--sizes", "4096", "--threads", "1", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_shape(relu_json):
    assert {"config", "rows", "tiny", "scaling", "below_threshold"} <= set(relu_json)
    for row in relu_json["rows"]:
        for key in ("function", "dtype", "size", "threads", "mode", "leakyrelu_us",
                    "memory_us", "memory_ratio", "torch_us", "torch_ratio", "numpy_us",
                    "status"):
            assert key in row


def test_functions_filter_prints_only_those_rows(relu_json):
    assert {r["function"] for r in relu_json["rows"]} == {"relu"}
    assert relu_json["tiny"] == [] and relu_json["below_threshold"] == []
    result = cli("bench", "--functions", "relu", "--sizes", "4096", "--threads", "1")
    assert result.returncode == 0, result.stderr
    body = [line for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in _bench.FUNCTIONS]
    assert body and all(line.split()[0] == "relu" for line in body)
    assert "leaky_relu" not in result.stdout.replace("leakyrelu", "")


# --- verdicts ---------------------------------------------------------------------

@pytest.mark.parametrize("checks, expected", [
    ([("mem", 1.01, 1.05, False), ("torch", 0.9, 1.0, False)], "ok"),
    ([("mem", 1.20, 1.05, False), ("torch", 0.9, 1.0, False)], "behind mem"),
    ([("mem", 1.20, 1.05, False), ("torch", 1.2, 1.0, False)], "behind mem,torch"),
    ([("mem", 1.20, 1.05, True), ("torch", 0.9, 1.0, False)], "noisy"),
    ([("mem", 1.00, 1.05, True)], "ok (noisy)"),                # met, but unsettled
    ([("mem", 1.00, 1.05, False), ("torch", None, 1.0, True)], "ok"),   # absent: no say
    ([("mem", 8.53, None, False), ("torch", None, 0.1, False)], "no target"),
    ([("mem", 8.53, None, False), ("torch", 0.05, 0.1, False)], "ok"),
    ([], "no target"),
])
def test_verdict(checks, expected):
    assert _bench.verdict(checks) == expected


def test_scaling_verdicts(monkeypatch):
    monkeypatch.setattr(_bench, "in_cache_bytes", lambda: 8 << 20)

    def pair(function, one_us, two_us, noisy=False, size=1 << 20):
        base = {"function": function, "dtype": "float32", "size": size, "mode": "out"}
        # Only our own timings count: a peer's noise does not touch the speed-up.
        return [dict(base, threads=1, leakyrelu_us=one_us, noisy=True, leakyrelu_noisy=False),
                dict(base, threads=2, leakyrelu_us=two_us, noisy=True, leakyrelu_noisy=noisy)]
    rows = (pair("relu", 180, 100) + pair("elu", 180, 100, noisy=True)
            + pair("selu", 150, 100) + pair("celu", 150, 100, noisy=True)
            # 16 MB: beyond that cache, memory-bound at 2 threads, not judged
            + pair("leaky_relu", 150, 100, size=1 << 22))
    statuses = {r["function"]: r["status"] for r in _bench.scaling(rows)}
    assert statuses == {"relu": "ok", "elu": "ok (noisy)", "selu": "behind speed-up",
                        "celu": "noisy"}


def test_in_cache_is_half_the_l3(monkeypatch):
    monkeypatch.setattr(_bench._dispatch.kernels, "L3_BYTES", 32 << 20, raising=False)
    assert _bench.in_cache_bytes() == 16 << 20
    monkeypatch.setattr(_bench._dispatch.kernels, "L3_BYTES", 0, raising=False)
    assert _bench.in_cache_bytes() == 16 << 20   # unknown: the common L3 of 32 MB
    monkeypatch.setattr(_bench._dispatch.kernels, "L3_BYTES", 8 << 20, raising=False)
    assert _bench.in_cache_bytes() == 4 << 20


def test_missing_peer_prints_a_dash():
    row = {"function": "relu", "dtype": "float32", "size": 100, "threads": 1, "mode": "out",
           "leakyrelu_us": 1.0, "memory_us": 1.0, "memory_ratio": 1.0, "torch_us": None,
           "torch_ratio": None, "numpy_us": None, "status": "ok", "peers_us": {}}
    line = _bench.format_table([row], peers=["numba"]).splitlines()[-1]
    assert "-us" not in line
    assert line.split()[-6:-1] == ["1.00", "-", "-", "-", "ok"][-5:] or " - " in line


def _timing(seconds, noisy=False):
    return _benchcases.Timing(seconds, noisy)


def test_measure_row_with_synthetic_timings():
    case = _benchcases.cases()["rrelu_train"]
    x = np.ones(64, np.float32)
    fake = {"leakyrelu": _timing(8.53e-6), "memory": _timing(1e-6)}
    row = _bench.measure_row(case, "alloc", x, 1, fake)
    assert row.status == "no target"          # not memory-bound, and no torch timing
    fake["torch"] = _timing(1e-4)
    assert _bench.measure_row(case, "alloc", x, 1, fake).status == "ok"
    case = _benchcases.cases()["leaky_relu"]
    fake.clear()
    fake.update({"leakyrelu": _timing(2e-6), "memory": _timing(1e-6, noisy=True),
                 "torch": _timing(3e-6)})
    row = _bench.measure_row(case, "out", x, 1, fake)
    assert row.status == "noisy" and row.noisy


def test_passes_settle_a_call_on_its_two_best(monkeypatch):
    # A call is timed in passes; its time is its best pass, and it is noisy
    # only when its two best passes disagree by more than STABLE.
    times = {"steady": iter([1.00, 1.02, 9.0]), "jumpy": iter([1.0, 1.5, 2.0, 1.3])}
    passes = {label: [] for label in times}

    def fake_measure(calls, budget, **options):
        return {label: _timing(next(times[label])) for label in calls}

    monkeypatch.setattr(_benchcases, "measure", fake_measure)
    rows = [(label, lambda label=label: {label: None}, {}) for label in times]
    steady, jumpy = _benchcases.measure_apart(rows, passes=2, extra_passes=2,
                                              step=lambda label: passes[label].append(1))
    assert steady["steady"] == _timing(1.00) and len(passes["steady"]) == 2
    assert jumpy["jumpy"].seconds == 1.0 and jumpy["jumpy"].noisy
    assert len(passes["jumpy"]) == 4           # two more passes, still unsettled


def test_later_passes_hold_memory_so_they_time_other_pages(monkeypatch):
    # Pass k runs while k * displace_bytes are held (Linux reuses the pages
    # freed last first, so the pass's arrays land elsewhere).
    held_during = []
    holding = []

    def fake_displacement(nbytes):
        holding.append(nbytes)
        return nbytes

    def fake_measure(calls, budget, **options):
        held_during.append(holding[-1])
        return {label: _timing(1.0 + 0.5 * len(held_during)) for label in calls}

    monkeypatch.setattr(_benchcases, "measure", fake_measure)
    monkeypatch.setattr(_benchcases, "_displacement", fake_displacement)
    rows = [("row", lambda: {"call": None}, {})]
    (row,) = _benchcases.measure_apart(rows, passes=2, extra_passes=1, displace_bytes=100)
    assert held_during == [0, 100, 200]        # the third pass: the first two disagreed
    assert row["call"].noisy


def test_displacement_is_real_memory_capped_by_what_is_free(monkeypatch):
    held = _benchcases._displacement(1 << 20)
    assert held.nbytes == 1 << 20 and (held == 1).all()     # written: backed by pages
    assert _benchcases._displacement(0) is None
    free = {"SC_AVPHYS_PAGES": 1024, "SC_PAGE_SIZE": 4096}   # 4 MiB free
    monkeypatch.setattr(_benchcases.os, "sysconf", lambda name: free[name])
    assert _benchcases._displacement(1 << 30).nbytes == 1 << 20


@pytest.mark.parametrize("shape, dtype", [((100,), np.float32), ((3, 1 << 18), np.float64),
                                          ((1 << 20,), np.float16)])
def test_placed_arrays_start_in_64_kib_steps_past_a_huge_page_boundary(shape, dtype):
    # Sixteen consecutive copies: each k * 64 KiB past a 2 MiB boundary, k
    # all different, so no two lie a multiple of 256 MiB apart.
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    arrays = [_benchcases.placed(x) for _ in range(15)] + [_benchcases.placed(x, 0.5)]
    steps = {a.ctypes.data % (2 << 20) for a in arrays}
    assert steps == {k * (64 << 10) for k in range(16)}
    for a in arrays:
        assert a.shape == x.shape and a.dtype == x.dtype and not np.shares_memory(a, x)
        assert a.flags.c_contiguous and a.flags.writeable
    assert all(np.array_equal(a, x) for a in arrays[:-1])
    assert np.all(arrays[-1] == 0.5)
    assert all((a.ctypes.data - b.ctypes.data) % (256 << 20)
               for i, a in enumerate(arrays) for b in arrays[:i])


def test_timer_marks_unsettled_calls_noisy():
    import itertools
    durations = itertools.cycle([0.0, 0.0, 0.0, 0.0])
    state = {"n": 0}

    def unsteady():   # the first rounds are fast, later ones slow
        state["n"] += 1
        if state["n"] > 40:
            t = 0
            for _ in range(20000):
                t += 1
    timings = _benchcases.measure({"a": (lambda: None, lambda: next(durations), "x"),
                                   "b": (lambda: None, unsteady, "x")},
                                  budget=0.05, min_rounds=4, max_rounds=8)
    assert set(timings) == {"a", "b"}
    assert timings["b"].noisy


# --- every call of the table runs and computes the formula ------------------------

def _reference(name, g, x):
    a, lo, hi = _benchcases.ALPHA, _benchcases.LOWER, _benchcases.UPPER
    w = _benchcases._weight(x.dtype)[:, None] if x.ndim == 3 else None
    return {
        "leaky_relu": lambda: np.where(x > 0, x, a * x),
        "relu": lambda: np.maximum(x, 0),
        "prelu": lambda: np.where(x > 0, x, w * x),
        "rrelu": lambda: np.where(x > 0, x, (lo + hi) / 2 * x),
        "elu": lambda: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        "celu": lambda: np.where(x > 0, x, 2.0 * np.expm1(np.minimum(x, 0) / 2.0)),
        "selu": lambda: leakyrelu.SELU_SCALE * np.where(
            x > 0, x, leakyrelu.SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        "leaky_relu_grad": lambda: np.where(x > 0, g, a * g),
        "relu_grad": lambda: np.where(x > 0, g, 0),
        "prelu_grad": lambda: np.where(x > 0, g, w * g),
        "elu_grad": lambda: np.where(x > 0, g, g * np.exp(np.minimum(x, 0))),
        "celu_grad": lambda: np.where(x > 0, g, g * np.exp(np.minimum(x, 0) / 2.0)),
        "selu_grad": lambda: leakyrelu.SELU_SCALE * np.where(
            x > 0, g, g * leakyrelu.SELU_ALPHA * np.exp(np.minimum(x, 0))),
    }.get(name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", _benchcases.MODES)
@pytest.mark.parametrize("name", _benchcases.FUNCTIONS)
def test_every_call_in_the_table_computes_the_formula(name, mode, dtype):
    case = _benchcases.cases()[name]
    x0, g0 = _benchcases.inputs(np.dtype(dtype), 1 << 14, np.random.default_rng(3))
    calls = _benchcases.row_calls(case, mode, x0, g0, 1)
    shape = _benchcases._prelu_shape(x0.size) if name.startswith("prelu") else x0.shape
    x, g = x0.reshape(shape), g0.reshape(shape)
    expected = _reference(name, g, x)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for label, (prepare, call, _) in calls.items():
        prepare()
        result = call()
        if label == "memory" or expected is None:
            continue
        if label in ("leakyrelu", "torch", "numpy") and result is None:
            continue   # out= and in-place peers that return nothing
        if isinstance(result, (list, tuple)):
            result = result[0]
        result = np.asarray(result.numpy() if hasattr(result, "numpy") else result)
        # ONNX stores LeakyRelu's alpha as a float32 attribute, even for double data
        tol = max(rtol, 1e-7) if label == "onnxruntime" else rtol
        np.testing.assert_allclose(result.reshape(shape), expected(), rtol=tol, atol=1e-30,
                                   err_msg=f"{name} {mode} {label}")


@pytest.mark.parametrize("peer", ["numba", "numexpr", "jax", "onnxruntime"])
@pytest.mark.parametrize("name", ["leaky_relu", "relu"])
def test_peers_compute_the_same(peer, name):
    if _benchcases.optional(peer) is None:
        pytest.skip(f"{peer} is not installed")
    case = _benchcases.cases()[name]
    x = _benchcases.inputs(np.dtype("float32"), 4096, np.random.default_rng(4))[0]
    out = np.full_like(x, 0.5)
    threads = 2 if peer == "jax" else 1
    mode = "out" if peer in ("numba", "numexpr") else "alloc"
    import os
    if peer == "jax" and (os.cpu_count() or 1) != 2:
        threads = os.cpu_count() or 1
    call = _benchcases.peer_call(peer, case, mode, [x], out, threads)
    assert call is not None
    result = call()
    result = out if mode == "out" else np.asarray(result[0] if isinstance(result, list)
                                                  else result)
    np.testing.assert_allclose(result, np.where(x > 0, x, case.slope * x), rtol=1e-6)


def test_input_rows_compute_the_formula():
    for spec in _benchcases.input_row_specs(size=4096):
        calls = spec["calls"]()
        for label, (prepare, call, _) in calls.items():
            prepare()
            call()
        assert set(spec["targets"]) <= set(calls) | {"torch"}


def test_nn_namespace():
    from leakyrelu import nn
    assert sorted(dir(nn)) == sorted(nn.__all__)
    assert "np" not in dir(nn) and "check_branch_visible" not in dir(nn)
