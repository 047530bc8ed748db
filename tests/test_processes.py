"""Processes and threads: fork, thread caps, the caller's FP mode (issue 11).

- A child forked after a parallel call computes correctly and never hangs
  (multiprocessing fork, os.fork, a fork-context process pool, Dask's
  multiprocessing scheduler); each runs in a subprocess with a timeout.
- No num_threads, OMP_NUM_THREADS or number of Python threads makes thread
  creation fail: teams are capped by the usable CPUs.
- Results are identical for 1 and 2 threads in each FTZ/DAZ mode.
- A parallel region really runs the team asked for.
"""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from cases import assert_same_bits, requires_parallel

import leakyrelu as lr
from leakyrelu import _config, _dispatch, _threads

TIMEOUT = 120


def run_script(body, env=None):
    """Run ``body`` in a fresh interpreter; its output, failing on a hang or an error."""
    # In a session of its own, so that a hang kills the forked children too.
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(body)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"hung for {TIMEOUT} s: {stdout!r} {stderr!r}")
    finally:
        try:   # whatever is left of the group: a hung grandchild, say
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert process.returncode == 0, (process.returncode, stdout, stderr)
    assert "libgomp" not in stderr, stderr
    return stdout


# The parent's parallel call, then a check run in the child (prints "ok").
PARENT = """
import numpy as np
import leakyrelu as lr
from leakyrelu import _dispatch

x = np.random.default_rng(1).standard_normal(4 * 2**20).astype(np.float32)
want = np.where(x > 0, x, x * np.float32(0.1))
assert (lr.leaky_relu(x, 0.1, num_threads=2) == want).all()
assert _dispatch.kernels.last_team_size() == 2

def child(_=None):
    y = lr.leaky_relu(x, 0.1, num_threads=2)
    assert (y == want).all()
    return _dispatch.kernels.forked_serial()
"""

FORKS = {
    "multiprocessing": """
import multiprocessing as mp
with mp.get_context("fork").Pool(1) as pool:
    assert pool.apply(child) is True
""",
    "os.fork": """
import os
pid = os.fork()
if pid == 0:
    os._exit(0 if child() is True else 3)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
""",
    "process-pool": """
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
    assert list(pool.map(child, range(4))) == [True] * 4
""",
    "dask": """
import dask, dask.array as da
import dask.multiprocessing
with dask.config.set({"multiprocessing.context": "fork"}):
    d = da.from_array(x.reshape(4, -1), chunks=(1, -1))
    y = d.map_blocks(lambda b: lr.leaky_relu(b, 0.1, num_threads=2), dtype=np.float32)
    got = y.compute(scheduler="processes", num_workers=2)
assert (got.reshape(-1) == want).all()
""",
}


@requires_parallel
@pytest.mark.parametrize("how", FORKS)
def test_forked_child_computes_and_does_not_hang(how):
    if how == "dask":
        pytest.importorskip("dask.array")
    run_script(PARENT + FORKS[how] + "\nprint('ok')\n")


def test_a_child_forked_before_any_team_stays_parallel():
    # Serial only where it must be: no team ran in the parent.
    out = run_script("""
        import os
        from leakyrelu import _dispatch
        pid = os.fork()
        if pid == 0:
            os._exit(3 if _dispatch.kernels.forked_serial() else 0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        print("ok")
    """)
    assert out.strip() == "ok"


# ---------------------------------------------------------------- thread caps

@requires_parallel
def test_cap_follows_an_affinity_mask_narrowed_after_import():
    out = run_script("""
        import os
        import numpy as np
        import leakyrelu as lr
        from leakyrelu import _dispatch, _threads
        x = np.ones(2**22, np.float32)
        lr.leaky_relu(x, out=x, num_threads=2)
        before = _dispatch.kernels.last_team_size()
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        lr.leaky_relu(x, out=x, num_threads=2)
        print(before, _dispatch.kernels.last_team_size(), _threads.thread_cap()[0],
              lr._config.config()["usable_cpus"])
    """)
    assert out.split() == ["2", "1", "1", "1"]


def test_usable_cpus_follow_affinity():
    count, why = _threads.usable_cpus()
    if hasattr(os, "sched_getaffinity"):
        assert count <= len(os.sched_getaffinity(0))
    assert count >= 1 and why
    assert int(_threads.STATE[_threads.CAP]) == count


@pytest.mark.parametrize("files, want", [
    ({"cpu.max": "150000 100000"}, 1.5),
    ({"cpu.max": "max 100000"}, None),
    ({"cpu.max": "50000 100000", "sub/cpu.max": "300000 100000"}, 0.5),
], ids=["quota", "none", "parent-tighter"])
def test_cgroup_v2_quota(tmp_path, files, want):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/sub\n")
    assert _threads.cgroup_cpu_quota(str(tmp_path), str(proc)) == want


def test_cgroup_v1_quota(tmp_path):
    d = tmp_path / "cpu,cpuacct" / "docker" / "abc"
    d.mkdir(parents=True)
    (d / "cpu.cfs_quota_us").write_text("250000\n")
    (d / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text("12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    assert _threads.cgroup_cpu_quota(str(tmp_path), str(proc)) == 2.5
    (d / "cpu.cfs_quota_us").write_text("-1\n")
    assert _threads.cgroup_cpu_quota(str(tmp_path), str(proc)) is None


@pytest.mark.parametrize("omp", ["50000", "100000"])
def test_huge_omp_num_threads_is_capped(omp):
    out = run_script("""
        import numpy as np
        import leakyrelu as lr
        from leakyrelu import _dispatch, _threads
        x = np.random.default_rng(2).standard_normal(2**22).astype(np.float32)
        want = np.where(x > 0, x, x * np.float32(0.01))
        for threads in (None, 1024):
            assert (lr.leaky_relu(x, num_threads=threads) == want).all()
            assert 1 <= _dispatch.kernels.last_team_size() <= _threads.STATE[_threads.CAP]
        lr.show_config()
    """, env={"OMP_NUM_THREADS": omp})
    # show_config names what set the count: the cap over OMP_NUM_THREADS.
    if _dispatch.kernels.OPENMP:
        assert f"OMP_NUM_THREADS={omp}" in out
    else:
        assert "built without OpenMP" in out


def test_forty_python_threads_asking_for_1024_each():
    out = run_script("""
        import threading
        import numpy as np
        import leakyrelu as lr
        x = np.random.default_rng(3).standard_normal(2**20).astype(np.float32)
        want = np.where(x > 0, x, x * np.float32(0.01))
        bad = []
        def work():
            for _ in range(5):
                if not (lr.leaky_relu(x, num_threads=1024) == want).all():
                    bad.append(1)
        threads = [threading.Thread(target=work) for _ in range(40)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert not bad
        print("ok")
    """)
    assert out.strip() == "ok"


def test_show_config_says_where_the_thread_count_comes_from(capsys):
    lr.show_config()
    out = capsys.readouterr().out
    count, why = _threads.effective_threads(_dispatch.kernels)
    assert f"default threads:    {count} ({why})" in out


def test_show_config_names_the_borrowed_loops_and_their_kernels(capsys):
    lr.show_config()
    out = capsys.readouterr().out
    kernels = _dispatch.kernels
    line = next(l for l in out.splitlines() if "memory-bound loops:" in l)
    assert line.split(":", 1)[1].split()[0] == str(kernels.memory_bound_loops())
    assert line.endswith("(" + ", ".join(kernels.MEMORY_BOUND_KERNELS) + ")")
    # The exp family keeps its own loops.
    assert "relu_grad" in kernels.MEMORY_BOUND_KERNELS
    assert "elu_grad" not in kernels.MEMORY_BOUND_KERNELS


def test_show_config_says_how_bfloat16_is_rounded(capsys):
    kernels = _dispatch.kernels
    previous = kernels.use_native_bfloat16(False)
    try:
        lr.show_config()
        assert "bfloat16 rounding:  integer operations" in capsys.readouterr().out
        if kernels.NATIVE_BFLOAT16_AVAILABLE:
            kernels.use_native_bfloat16(True)
            lr.show_config()
            assert "bfloat16 rounding:  avx512_bf16 instruction" in capsys.readouterr().out
        else:
            with pytest.raises(RuntimeError, match="AVX512-BF16"):
                kernels.use_native_bfloat16(True)
    finally:
        kernels.use_native_bfloat16(previous)


@requires_parallel
def test_a_region_runs_the_team_asked_for():
    kernels = _dispatch.kernels
    x = np.ones(2**22, np.float32)
    cap = int(_threads.STATE[_threads.CAP])
    # Any positive int is taken, and capped at the CPUs this process may use.
    for threads, team in ((1, 1), (2, 2), (1024, cap), (10**9, cap), (np.int64(4096), cap)):
        lr.leaky_relu(x, num_threads=threads)
        assert kernels.last_team_size() == team, threads
        lr.prelu(x.reshape(4, 4, -1), np.ones(4, np.float32), num_threads=threads)
        assert kernels.last_team_size() == team, threads
        lr.prelu_grad(x.reshape(4, 4, -1), x.reshape(4, 4, -1), np.ones(4, np.float32),
                      num_threads=threads)
        assert kernels.last_team_size() == team, threads
    lr.leaky_relu(x[:100], num_threads=2)   # small: serial
    assert kernels.last_team_size() == 1


@requires_parallel
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_the_serial_threshold_counts_the_bytes_a_call_moves(dtype):
    # A call runs serially below SERIAL_THRESHOLD_BYTES read and written (each
    # distinct array once, in the compute dtype: float32 for halves), or, for
    # the exp family, below 1/exp_cost of it written.
    kernels = _dispatch.kernels
    threshold = kernels.SERIAL_THRESHOLD_BYTES
    width = max(np.dtype(dtype).itemsize, 4)
    rng = np.random.default_rng(3)

    def team(call, elements):
        x, g, o = (rng.standard_normal(elements).astype(dtype) for _ in range(3))
        call(x, g, o)
        return kernels.last_team_size()

    def in_place(x, g, o):
        lr.relu(x, out=x, num_threads=2)

    def out_of_place(x, g, o):
        lr.relu(x, out=o, num_threads=2)

    def grad_out(x, g, o):
        lr.leaky_relu_grad(g, x, out=o, num_threads=2)

    def grad_in_place(x, g, o):
        lr.leaky_relu_grad(g, x, out=g, num_threads=2)

    def prelu_in_place(x, g, o):
        lr.prelu(x.reshape(2, 4, -1), np.full(4, 0.1, dtype), out=x.reshape(2, 4, -1),
                 num_threads=2)

    def prelu_out(x, g, o):
        lr.prelu(x.reshape(2, 4, -1), np.full(4, 0.1, dtype), out=o.reshape(2, 4, -1),
                 num_threads=2)

    def elu_out(x, g, o):
        lr.elu(x, out=o, num_threads=2)

    for call, arrays in ((in_place, 1), (out_of_place, 2), (grad_out, 3), (grad_in_place, 2),
                         (prelu_in_place, 1), (prelu_out, 2)):
        at = threshold // width // arrays
        assert team(call, at + 8 - at % 8) == 2, call.__name__
        assert team(call, at - 8 - at % 8) == 1, call.__name__
    def elu_grad_out(x, g, o):
        lr.elu_grad(g, x, out=o, num_threads=2)

    for call, kernel in ((elu_out, kernels.ELU), (elu_grad_out, kernels.ELU_GRAD)):
        at = threshold // kernels.exp_cost(kernel) // width
        assert team(call, at + 8) == 2, call.__name__
        assert team(call, at - 8) == 1, call.__name__


@requires_parallel
def test_threadpoolctl_changes_the_team():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    x = np.ones(2**22, np.float32)
    for limit in (2, 1, 2):
        with threadpoolctl.threadpool_limits(limits=limit, user_api="openmp"):
            assert _config.config()["default_threads"] == limit
            lr.leaky_relu(x)
            assert _dispatch.kernels.last_team_size() == limit


# ---------------------------------------------------------------- FP mode

MODES = [(0, 0), (1, 0), (0, 1), (1, 1)]
F32 = np.float32
TINY = np.finfo(F32).smallest_normal


def subnormal_inputs(n=2**21):
    """Values around and below the smallest normal float32, both signs."""
    rng = np.random.default_rng(4)
    x = (rng.uniform(-4, 4, n) * TINY).astype(F32)
    g = (rng.uniform(-4, 4, n)).astype(F32)
    return x, g


FP_CALLS = {
    "leaky_relu": lambda x, g, t: lr.leaky_relu(x, 0.3, num_threads=t),
    "elu": lambda x, g, t: lr.elu(x, num_threads=t),
    "leaky_relu_grad": lambda x, g, t: lr.leaky_relu_grad(g * TINY, x, 0.3, num_threads=t),
    "prelu": lambda x, g, t: lr.prelu(x.reshape(8, 4, -1), np.linspace(0.1, 0.9, 4, dtype=F32),
                                      num_threads=t),
    "prelu_grad": lambda x, g, t: np.concatenate([r.reshape(-1) for r in lr.prelu_grad(
        g.reshape(8, 4, -1), x.reshape(8, 4, -1), np.linspace(0.1, 0.9, 4, dtype=F32),
        num_threads=t)]),
    "rrelu-training": lambda x, g, t: lr.rrelu(x, training=True, seed=5, num_threads=t),
}


@pytest.fixture
def fp_mode():
    """Set the calling thread's (ftz, daz); the mode is restored after the test."""
    kernels = _dispatch.kernels
    before = kernels.set_flush_denormals(True, True)
    if kernels.flush_denormals() == (False, False):
        kernels.set_flush_denormals(*before)
        pytest.skip("no flush-to-zero mode on this CPU")
    kernels.set_flush_denormals(*before)
    yield lambda ftz, daz: kernels.set_flush_denormals(ftz, daz)
    kernels.set_flush_denormals(*before)


@requires_parallel
@pytest.mark.parametrize("name", FP_CALLS)
def test_same_bits_for_every_thread_count_in_every_fp_mode(name, fp_mode):
    x, g = subnormal_inputs()
    call = FP_CALLS[name]
    results = {}
    for ftz, daz in MODES:
        fp_mode(ftz, daz)
        serial = call(x, g, 1)
        assert_same_bits(call(x, g, 2), serial)
        assert _dispatch.kernels.flush_denormals() == (bool(ftz), bool(daz))
        results[ftz, daz] = serial
    fp_mode(0, 0)
    # The mode matters to these inputs, so the comparison above could fail.
    assert not np.array_equal(results[0, 0], results[1, 1], equal_nan=True)
    # And the workers went back to their own mode: a default-mode call
    # gives the default-mode bits with 2 threads.
    assert_same_bits(call(x, g, 2), results[0, 0])


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_half_relu_in_each_fp_mode_matches_the_float_path(half, fp_mode):
    # Contiguous float16 and bfloat16 runs may take relu and relu_grad in
    # the integers of their bits; strided ones widen each element and
    # compare it as a float, which a bfloat16 subnormal's DAZ changes.
    # Both must give the same bits in every mode.
    dtype = np.dtype(half) if half == "float16" else np.dtype(pytest.importorskip("ml_dtypes").bfloat16)
    bits = np.arange(2**16, dtype=np.uint16)
    x = np.random.default_rng(9).permutation(bits).view(dtype)
    g = bits.view(dtype)
    strided = [np.repeat(a, 2)[::2] for a in (g, x)]
    for ftz, daz in MODES:
        fp_mode(ftz, daz)
        assert_same_bits(lr.relu(x).view(np.uint16), lr.relu(strided[1]).view(np.uint16))
        assert_same_bits(lr.relu_grad(g, x).view(np.uint16),
                         lr.relu_grad(*strided).view(np.uint16))


@pytest.mark.parametrize("ftz, daz", MODES)
def test_rectifiers_in_each_fp_mode_match_numpy(ftz, daz, fp_mode):
    # NumPy, run in the same thread, sees the same mode: the reference.
    x, _ = subnormal_inputs()
    fp_mode(ftz, daz)
    want = np.where(x > 0, x, x * F32(0.3))
    weight = np.full(4, 0.3, F32)
    for threads in (1, 2):
        assert_same_bits(lr.leaky_relu(x, 0.3, num_threads=threads), want)
        assert_same_bits(lr.prelu(x.reshape(8, 4, -1), weight, num_threads=threads),
                         want.reshape(8, 4, -1))
        assert_same_bits(lr.relu(x, num_threads=threads), np.where(x < 0, F32(0), x))
