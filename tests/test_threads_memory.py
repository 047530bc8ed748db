"""Threads and memory: concurrent calls, the GIL, leaks, allocations.

- Eight Python threads call every function and gradient at once, with
  different thread counts and outputs, and every result must equal, bit for
  bit, the single-threaded result computed beforehand.
- Kernel calls from two Python threads overlap: the GIL is released.
- Many small calls of every function leave the process's memory flat.
- In-place and ``out=`` calls allocate nothing the size of the array.
- The kernels, which read and write through typed pointers, are only ever
  handed aligned arrays.
"""
import gc
import itertools
import os
import sys
import threading

import numpy as np
import pytest
from cases import (BY_NAME, F16, F32, F64, SPECS, KernelProxy, allocated_peak, assert_same_bits,
                   inputs, unaligned_copy)

from leakyrelu import _dispatch

SPEC_IDS = [s.name for s in SPECS]


def first(result):
    """The array result: prelu_grad returns (grad_x, grad_weight)."""
    return result[0] if isinstance(result, tuple) else result


def call_variants(spec, shape, dtype, rng):
    """(label, arrays, params) for the ways of calling ``spec`` worth covering.

    The default parameters, plus channels last for prelu and the gradient
    from the forward's output where the math allows it.
    """
    arrays = inputs(spec, shape, dtype, rng)
    params = spec.default(shape, dtype)
    variants = [("default", arrays, params)]
    if spec.name.startswith("prelu"):
        weight = np.linspace(-0.5, 1.5, shape[-1]).astype(dtype)
        variants.append(("channels-last", arrays, {"weight": weight, "axis": -1}))
    if spec.grad and spec.name != "prelu_grad":
        g, x = arrays
        y = BY_NAME[spec.name.replace("_grad", "")]([x], params)
        variants.append(("from-output", [g, y], {**params, "from_output": True}))
    return variants


# ---------------------------------------------------------------- concurrency

N_PYTHON_THREADS = 8
ROUNDS = 2


def concurrent_jobs(rng):
    """Every function in every variant, on ~2*10**5 elements, in three layouts.

    C-contiguous float32 and float64 take the fast entry points or the flat
    kernels; strided float16 is staged through working copies.
    """
    shape = (20, 100, 100)
    jobs = []
    for spec in SPECS:
        for dtype in (F32, F64, F16):
            for label, arrays, params in call_variants(spec, shape, dtype, rng):
                if dtype == F16:
                    # Every other element of arrays twice as long: strided views.
                    arrays = [np.repeat(a, 2, axis=-1)[..., ::2] for a in arrays]
                for a in arrays:
                    a.setflags(write=False)   # a call that wrote here would be a bug
                for threads in (1, 2, None):
                    jobs.append((f"{spec.name}-{label}-{dtype}-{threads}", spec, arrays, params,
                                 threads))
    return jobs


def test_eight_threads_match_the_serial_results():
    rng = np.random.default_rng(2024)
    jobs = concurrent_jobs(rng)
    # The reference: each call alone, serial, computed before any thread starts.
    expected = {name: spec(arrays, params, num_threads=1)
                for name, spec, arrays, params, _ in jobs}
    failures = []
    barrier = threading.Barrier(N_PYTHON_THREADS)

    def worker(seed):
        order = np.random.default_rng(seed)
        scratch = {}
        barrier.wait()
        for round_ in range(ROUNDS):
            for k in order.permutation(len(jobs)):
                name, spec, arrays, params, threads = jobs[k]
                # Each thread writes only into its own arrays: a fresh result,
                # a buffer of its own, or its own copy of an input (in place).
                mode = (k + round_ + seed) % 3
                try:
                    if mode == 0:
                        result = spec(arrays, params, num_threads=threads)
                    elif mode == 1:
                        out = scratch.setdefault(name, np.empty_like(arrays[-1]))
                        result = spec(arrays, params, out=out, num_threads=threads)
                        assert first(result) is out
                    else:
                        target = (k + round_) % len(arrays)
                        mine = [a.copy() if i == target else a for i, a in enumerate(arrays)]
                        result = spec(mine, params, out=mine[target], num_threads=threads)
                        assert first(result) is mine[target]
                    want = expected[name]
                    assert_same_bits(first(result), first(want))
                    if isinstance(want, tuple):
                        assert_same_bits(result[1], want[1])
                except Exception as exc:  # reported below, with the call that failed
                    failures.append(f"{name} (mode {mode}): {exc!r}"[:500])

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(N_PYTHON_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, f"{len(failures)} failures, first: " + "\n".join(failures[:5])


# ---------------------------------------------------------------- the GIL

@pytest.fixture
def kernel_entries(monkeypatch):
    """Count, at every kernel entry point, how many Python threads are inside one.

    Every fast entry point and every loop is wrapped; the largest count seen
    is recorded. Python code runs in one thread at a time, so two threads
    can both be inside a kernel call only if the first released the GIL.
    """
    state = {"inside": 0, "most": 0}
    lock = threading.Lock()

    def wrap(entry):
        def wrapped(*args):
            with lock:
                state["inside"] += 1
                state["most"] = max(state["most"], state["inside"])
            try:
                return entry(*args)
            finally:
                with lock:
                    state["inside"] -= 1
        return wrapped

    monkeypatch.setattr(_dispatch, "kernels", KernelProxy(_dispatch.kernels, wrap))
    return state


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_two_threads_run_kernels_at_once(spec, kernel_entries):
    # Two threads each make serial calls on 10**7 float32 elements, until
    # both have been inside a kernel at once (or 300 calls each). With a
    # switch interval far longer than the test, a thread holding the GIL is
    # never made to give it up, and these loops never block: the second
    # thread can enter a kernel while the first is in one only if the first
    # released the GIL. Repeating the calls absorbs a busy machine, where a
    # thread may wait milliseconds to be scheduled; a GIL held during the
    # call fails however long it runs.
    n = 10**7
    params = spec.default((n,), F32)
    if spec.name.startswith("prelu"):
        params = {"weight": 0.25}
    arrays = {who: [np.full(n, -1.5, F32) for _ in range(spec.n_arrays)] for who in (0, 1)}
    outs = {who: np.empty(n, F32) for who in (0, 1)}
    barrier = threading.Barrier(2)
    errors = []

    def worker(who):
        try:
            barrier.wait()
            for _ in range(300):
                spec(arrays[who], params, out=outs[who], num_threads=1)
                if kernel_entries["most"] == 2:
                    break
        except Exception as exc:   # reported by the main thread
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        threads = [threading.Thread(target=worker, args=(who,)) for who in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    assert kernel_entries["most"] == 2


# ---------------------------------------------------------------- memory

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


CALLS_PER_FUNCTION = 100_000
WARM_UP = 5_000


def small_calls(spec, rng):
    """Closures that call ``spec`` on 64 elements in the ways a program might.

    out=None, out=buffer, in place, float64, float16 and a strided view: the
    fast entry points and the general path both run.
    """
    calls = []
    for label, arrays, params in call_variants(spec, (4, 16), F32, rng):
        buffer = np.empty_like(arrays[-1])
        scratch = [a.copy() for a in arrays]
        wide = [a.astype(F64) for a in arrays]
        wide_params = spec.default((4, 16), F64) if label == "default" else dict(params)
        if "weight" in wide_params and isinstance(wide_params["weight"], np.ndarray):
            wide_params["weight"] = wide_params["weight"].astype(F64)
        half = [a.astype(F16) for a in arrays]
        half_params = dict(wide_params)
        if "weight" in half_params and isinstance(half_params["weight"], np.ndarray):
            half_params["weight"] = half_params["weight"].astype(F16)
        strided = [np.repeat(a, 2, axis=-1)[:, ::2] for a in arrays]

        def in_place(arrays=arrays, scratch=scratch, params=params):
            # The same values every time, so nothing drifts to inf or subnormals.
            for a, s in zip(arrays, scratch):
                np.copyto(s, a)
            spec(scratch, params, out=scratch[0])

        calls += [
            lambda arrays=arrays, params=params: spec(arrays, params),
            lambda arrays=arrays, params=params, buffer=buffer: spec(arrays, params, out=buffer),
            in_place,
            lambda wide=wide, p=wide_params: spec(wide, p, num_threads=2),
            lambda half=half, p=half_params: spec(half, p),
            lambda strided=strided, params=params: spec(strided, params, num_threads=1),
        ]
    return calls


def arrays_in(obj):
    """Every ndarray in nested lists, tuples and dict values."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [a for item in obj for a in arrays_in(item)]
    return []


def by_function():
    """The rows of SPECS grouped by public function (rrelu has two modes)."""
    groups = {}
    for spec in SPECS:
        groups.setdefault(spec.function.__name__, []).append(spec)
    return groups


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="under AddressSanitizer, RSS holds its quarantine of freed memory")
def test_many_small_calls_leave_memory_flat():
    rng = np.random.default_rng(3)
    plans = {name: list(itertools.chain.from_iterable(small_calls(s, rng) for s in specs))
             for name, specs in by_function().items()}
    objects = arrays_in([c.__defaults__ or () for calls in plans.values() for c in calls])
    for calls in plans.values():
        for i in range(WARM_UP):
            calls[i % len(calls)]()
    refcounts = [sys.getrefcount(o) for o in objects]
    gc.collect()   # blocks held by garbage awaiting the collector are no leak
    rss, blocks = rss_bytes(), sys.getallocatedblocks()
    for calls in plans.values():
        for i in range(CALLS_PER_FUNCTION - WARM_UP):
            calls[i % len(calls)]()
    grown = rss_bytes() - rss
    gc.collect()
    # A leaked result array (64 elements) per call would be tens of MB; a
    # leaked Python object per call, 95 000 blocks; a leaked reference, a
    # changed reference count.
    assert grown < 8 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"
    assert sys.getallocatedblocks() - blocks < 1000
    assert [sys.getrefcount(o) for o in objects] == refcounts


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_out_and_in_place_allocate_nothing_large(spec, dtype):
    # 10**6 elements: a copy would be 4 or 8 MB. 64 KiB allows for
    # bookkeeping: prelu_grad's float64 partial sums (32 KB here, with 1000
    # channels last), which the kernel adds up in place, so nothing else.
    rng = np.random.default_rng(11)
    for label, arrays, params in call_variants(spec, (1000, 1000), dtype, rng):
        out = np.empty_like(arrays[-1])
        for threads in (1, None):
            peak = allocated_peak(spec, arrays, params, out=out, num_threads=threads)
            assert peak < 64 * 1024, (label, threads, "out=", peak)
            for target in range(len(arrays)):
                peak = allocated_peak(spec, arrays, params, out=arrays[target],
                                      num_threads=threads)
                assert peak < 64 * 1024, (label, threads, "in place", target, peak)


# ---------------------------------------------------------------- alignment

@pytest.fixture
def loop_arguments(monkeypatch):
    """The arrays handed to every loop of the kernel module, call by call."""
    seen = []

    def wrap(entry):
        def wrapped(*args):
            seen.append([a for a in args if isinstance(a, np.ndarray)])
            return entry(*args)
        return wrapped

    monkeypatch.setattr(_dispatch, "kernels",
                        KernelProxy(_dispatch.kernels, wrap, lambda entry: entry))
    return seen


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_kernels_get_only_aligned_arrays(spec, dtype, loop_arguments):
    # The kernels read and write floats through typed pointers: a float at
    # an address that is not a multiple of its size is undefined behaviour in
    # C (UBSan reports it; some compilers and CPUs fault). Unaligned arrays
    # must be staged through aligned copies, as the fast entry points refuse them.
    rng = np.random.default_rng(5)
    arrays = [unaligned_copy(a) for a in inputs(spec, (5, 7), dtype, rng)]
    params = spec.default((5, 7), dtype)
    out = unaligned_copy(np.zeros((5, 7), dtype))
    spec(arrays, params)
    spec(arrays, params, out=out)
    spec(arrays, params, out=arrays[0])
    misaligned = [[a.ctypes.data % a.itemsize for a in args] for args in loop_arguments
                  if not all(a.flags.aligned for a in args)]
    assert not misaligned, f"{len(misaligned)} loop calls with unaligned arrays"
