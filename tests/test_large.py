"""64-bit element indexing: arrays past 2**31 elements, rrelu indices past 2**32.

The kernels run without bounds checks, so a 32-bit index anywhere would
write outside the array or skip part of it. The tests on arrays of more than
2**31 float32 elements (8.6 GB) are marked slow and deselected by default:

    python -m pytest -m slow tests/test_large.py

They skip when less than 12 GB of memory is available. rrelu's noise is keyed
on a 64-bit element index; an array of 2**32 elements would need 17 GB, so
the index past 2**32 is reached through the kernels' ``offset`` argument
instead, on small arrays, in the default run.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import reference as R
from cases import assert_same_bits

import leakyrelu as lr
from leakyrelu import _dispatch

N = 2**31 + 17          # one past the int32 range, and not a multiple of any vector width
CHUNK = 2**26           # elements checked at a time, to keep the check's temporaries small


def available_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@pytest.fixture(scope="module")
def huge():
    """A float32 array of N elements, -1.0 except for marked values near 0, 2**31 and the end."""
    if available_bytes() < 12 * 2**30:
        pytest.skip("needs 12 GB of available memory")
    x = np.full(N, -1.0, np.float32)
    yield x
    del x


def marks():
    """Indices and values of the elements that are not -1.0: distinct, both signs."""
    idx = np.concatenate([np.arange(0, 40), np.arange(2**31 - 40, 2**31 + 17),
                          np.arange(N - 40, N)])
    idx = np.unique(idx)
    values = (np.arange(idx.size) % 7 + 2).astype(np.float32)
    values[::2] *= -1
    return idx, values


def check_everywhere(x, background, idx, expected):
    """x[idx] == expected, and every other element equals background, bit for bit."""
    got = x[idx]
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), (
        idx[got != expected][:10], got[got != expected][:10], expected[got != expected][:10])
    saved = x[idx].copy()
    x[idx] = background
    try:
        want = np.float32(background).view(np.uint32)
        for start in range(0, x.size, CHUNK):
            chunk = x[start:start + CHUNK].view(np.uint32)
            bad = np.flatnonzero(chunk != want)
            assert bad.size == 0, f"{bad.size} wrong elements from index {start + bad[0]}"
    finally:
        x[idx] = saved


@pytest.mark.slow
def test_in_place_past_2_to_the_31(huge):
    x = huge
    idx, values = marks()
    x[idx] = values
    # Each pass must touch every element exactly once: a skipped element
    # keeps its old value, one processed twice is scaled twice.
    # The fast entry point, serial and parallel:
    assert lr.leaky_relu(x, 0.5, out=x, num_threads=1) is x
    assert lr.leaky_relu(x, 0.5, out=x, num_threads=2) is x
    expected = np.where(values > 0, values, values * np.float32(0.25))
    check_everywhere(x, np.float32(-0.25), idx, expected)
    # The memoryview entry point (a NumPy float alpha takes the general path).
    assert lr.leaky_relu(x, np.float64(0.5), out=x) is x
    expected = np.where(values > 0, values, values * np.float32(0.125))
    check_everywhere(x, np.float32(-0.125), idx, expected)
    assert lr.relu(x, out=x) is x
    check_everywhere(x, np.float32(0.0), idx, np.where(values > 0, values, np.float32(0)))


@pytest.mark.slow
def test_rrelu_in_place_past_2_to_the_31(huge):
    # The same check for a kernel that also hashes the element index.
    x = huge
    x[:] = -1.0
    idx = np.array([0, 1, 2**31 - 1, 2**31, 2**31 + 1, N - 1])
    assert lr.rrelu(x, 0.25, 0.75, training=True, seed=11, out=x) is x
    expected = -R.rrelu_slopes(idx, *R.rrelu_keys(11), 0.25, 0.75, np.float32)
    assert np.array_equal(x[idx], expected), (x[idx], expected)
    rng = np.random.default_rng(5)
    sample = np.sort(rng.integers(0, N, 10**6))
    assert np.array_equal(x[sample], -R.rrelu_slopes(sample, *R.rrelu_keys(11), 0.25, 0.75,
                                                      np.float32))


# ------------------------------------------------- rrelu: element indices past 2**32

OFFSETS = [0, 2**31 - 5000, 2**32 - 5000, 2**32 + 3, 2**33 - 70000, 2**64 - 100000]


def run_kernel(name, out, a0, a1, lower, upper, key0, key1, offset, threads):
    """The general loop of the active build on 1-D arrays, with an index offset."""
    kernels = _dispatch.kernels
    views = [a.reshape(1, 1, -1) for a in (out, a0, a1)]
    kernels.LOOPS[out.dtype.char](kernels.KERNEL_IDS[name], *views, lower, upper, 0.0,
                                  key0, key1, offset, threads)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_rrelu_kernel_index_is_64_bit(isa, dtype, offset):
    # 10**5 elements: parallel, and across the 2**32 boundary for most offsets.
    rng = np.random.default_rng(offset % 1000)
    n = 10**5
    x = (rng.standard_normal(n) * 3).astype(dtype)
    x[:50] = -np.abs(x[:50])         # slopes on both sides of every boundary
    g = rng.standard_normal(n).astype(dtype)
    lower, upper = 0.1, 0.3
    key0, key1 = R.rrelu_keys(2**40 + 9)
    slopes = R.rrelu_slopes(offset + np.arange(n, dtype=np.uint64), key0, key1,
                            lower, upper, dtype)
    for threads in (1, 2):
        out = np.empty_like(x)
        run_kernel("rrelu_train", out, x, x, lower, upper, key0, key1, offset, threads)
        np.testing.assert_array_equal(out, R.leaky_relu_slopes(x, slopes))
        grad = np.empty_like(x)
        run_kernel("rrelu_train_grad", grad, g, x, lower, upper, key0, key1, offset, threads)
        np.testing.assert_array_equal(grad, np.where(x > 0, g, g * slopes))


def test_rrelu_index_high_word_changes_the_slopes():
    # Indices 2**32 apart must not share slopes: the high 32 bits are hashed too.
    key0, key1 = R.rrelu_keys(3)
    n = 4096
    x = -np.ones(n, np.float32)
    low, high = np.empty_like(x), np.empty_like(x)
    run_kernel("rrelu_train", low, x, x, 0.0, 1.0, key0, key1, 0, 1)
    run_kernel("rrelu_train", high, x, x, 0.0, 1.0, key0, key1, 2**32, 1)
    assert np.mean(low == high) < 0.01


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_rrelu_matches_the_numpy_hash(isa, dtype, seed):
    # The public call numbers elements from 0 in C order, whatever the layout.
    assert R.rrelu_keys(seed) == tuple(_dispatch.kernels.rrelu_keys(seed))
    rng = np.random.default_rng(seed % 2**32)
    x = (rng.standard_normal((50, 41)) * 3).astype(dtype)
    for view in (x, np.asfortranarray(x), x[:, ::-1].copy()[:, ::-1]):
        y = lr.rrelu(view, 1 / 8, 1 / 3, training=True, seed=seed, num_threads=2)
        np.testing.assert_array_equal(y, R.rrelu_train(np.ascontiguousarray(view), 1 / 8, 1 / 3,
                                                       seed))


# ---------------------------------------------------- streaming stores past the caches

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memory_bound_kernels_on_runs_other_builds_may_run(isa, dtype):
    # Runs of 64 KiB and more, out of place, are the ones the AVX-512 build
    # hands to the AVX2 build's loops where it borrows them: every element
    # must land, at any start of out, for 1 and 2 threads; in place too.
    n = 3 * (65536 // np.dtype(dtype).itemsize) + 5
    rng = np.random.default_rng(7)
    x = rng.standard_normal(n).astype(dtype)
    x[::97] = [0.0, -0.0, np.inf, -np.inf, np.nan][0]
    x[1::101] = -0.0
    x[2::103] = np.nan
    g = rng.standard_normal(n).astype(dtype)
    weight = np.array([0.25, -2.0, 3.0], dtype)
    x3 = x[: 3 * (n // 3)].reshape(1, 3, -1)
    calls = {
        "relu": (lambda out, t: lr.relu(x, out=out, num_threads=t), R.relu(x)),
        "leaky_relu": (lambda out, t: lr.leaky_relu(x, 0.1, out=out, num_threads=t),
                       R.leaky_relu(x, 0.1)),
        "relu_grad": (lambda out, t: lr.relu_grad(g, x, out=out, num_threads=t),
                      R.relu_grad(g, x)),
        "leaky_relu_grad": (lambda out, t: lr.leaky_relu_grad(g, x, 0.1, out=out, num_threads=t),
                            R.leaky_relu_grad(g, x, 0.1)),
    }
    itemsize = np.dtype(dtype).itemsize
    for name, (call, want) in calls.items():
        for threads in (1, 2):
            for offset in (0, 1):
                buffer = np.full(n + 16, 7.0, dtype)
                start = (-buffer.ctypes.data % 64) // itemsize + offset
                out = buffer[start:start + n]
                assert call(out, threads) is out
                assert_same_bits(out, want)
            assert_same_bits(call(None, threads), want)
    for threads in (1, 2):
        out = np.full_like(x3, 7.0)
        lr.prelu(x3, weight, out=out, num_threads=threads)
        assert_same_bits(out, R.prelu(x3, weight))
        inplace = x.copy()
        lr.leaky_relu(inplace, 0.1, out=inplace, num_threads=threads)
        assert_same_bits(inplace, calls["leaky_relu"][1])


def test_memory_bound_loops_follow_the_cpu_and_the_environment():
    # By default the AVX-512 build borrows the AVX2 build's loops exactly on
    # AMD family 19h (Zen 4), read here from /proc/cpuinfo.
    code = ("import leakyrelu._dispatch as d; k = d.kernels; "
            "print(k.INSTRUCTION_SET, k.memory_bound_loops(), int(k.SPLITS_512BIT), "
            "leakyrelu._config.config()['memory_bound_loops'])")
    plain = {k: v for k, v in os.environ.items()
             if k not in ("LEAKYRELU_CPU", "LEAKYRELU_MEMORY_BOUND_CPU")}

    def run(**env):
        done = subprocess.run([sys.executable, "-c", "import leakyrelu; " + code],
                              capture_output=True, text=True, env={**plain, **env})
        return done.returncode, done.stdout.split(), done.stderr
    _, (build, loops, splits, reported), _ = run()
    assert reported == loops
    zen4 = False
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            info = f.read()
        zen4 = ("AuthenticAMD" in info and re.search(r"^cpu family\s*:\s*25$", info, re.M)
                is not None and " avx512f" in info)
    assert splits == str(int(zen4))
    assert loops == ("avx2" if build == "avx512" and zen4 else build)
    if build == "avx512":
        assert run(LEAKYRELU_MEMORY_BOUND_CPU="avx512")[1][1] == "avx512"
        assert run(LEAKYRELU_MEMORY_BOUND_CPU="avx2")[1][1] == "avx2"
    assert run(LEAKYRELU_CPU="baseline")[1][:2] == ["baseline", "baseline"]
    code, _, err = run(LEAKYRELU_MEMORY_BOUND_CPU="sse9")
    assert code != 0 and "LEAKYRELU_MEMORY_BOUND_CPU='sse9': unknown instruction set" in err

@pytest.mark.parametrize("layout", ["contiguous", "offset", "strided-input", "fortran"])
def test_outputs_beyond_the_stream_threshold(isa, layout):
    # Out-of-place outputs of STREAM_CAP_BYTES and more are written with
    # non-temporal stores at any thread count (from a 64-byte boundary on, in
    # blocks): every element must still land, at any start address, for 1
    # and 2 threads.
    kernels = _dispatch.kernels
    n = kernels.STREAM_CAP_BYTES // 8 + 1037
    assert kernels.streams(n * 8, 1) and kernels.streams(n * 8, 2)
    rng = np.random.default_rng(3)
    base = rng.standard_normal(2 * n + 8)
    x = {"contiguous": base[:n], "offset": base[1:n + 1], "strided-input": base[: 2 * n : 2],
         "fortran": np.asfortranarray(base[: n - n % 7].reshape(-1, 7))}[layout]
    want = np.where(x > 0, x, x * 0.1)
    g = np.ones_like(x)
    for threads in (1, 2):
        out = np.full_like(x, np.nan)
        if layout == "offset":   # an out that starts 8 bytes past a 64-byte boundary
            buffer = np.full(x.size + 16, np.nan)
            start = (-buffer.ctypes.data % 64) // 8 + 1
            out = buffer[start:start + x.size].reshape(x.shape)
        assert np.array_equal(lr.leaky_relu(x, 0.1, out=out, num_threads=threads), want)
        assert np.array_equal(out, want)
        assert np.array_equal(lr.leaky_relu(x, 0.1, num_threads=threads), want)
        assert np.array_equal(lr.leaky_relu_grad(g, x, 0.1, num_threads=threads),
                              np.where(x > 0, 1.0, 0.1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0, 1])
def test_rrelu_grad_beyond_the_stream_threshold(isa, dtype, offset):
    # rrelu's training gradient streams its blocks where out is 32-byte
    # aligned (offset 0) and stores them normally where not: either way its
    # slopes must be the forward's, element for element, for 1 and 2 threads.
    kernels = _dispatch.kernels
    itemsize = np.dtype(dtype).itemsize
    n = kernels.STREAM_CAP_BYTES // itemsize + 1037
    assert kernels.streams(n * itemsize, 1, 2) and kernels.streams(n * itemsize, 2, 2)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(n).astype(dtype)
    x[::97] = 0.0
    x[5::101] = np.nan
    g = rng.standard_normal(n).astype(dtype)
    y = lr.rrelu(x, training=True, seed=11)
    sloped = ~(x > 0) & ~np.isnan(x)
    for threads in (1, 2):
        buffer = np.full(n + 16, np.nan, dtype)
        start = (-buffer.ctypes.data % 64) // itemsize + offset
        out = buffer[start:start + n]
        slopes = lr.rrelu_grad(np.ones_like(x), x, training=True, seed=11, out=out,
                               num_threads=threads).copy()
        assert np.array_equal(x[sloped] * slopes[sloped], y[sloped])
        assert np.all((slopes[sloped] >= 0.125) & (slopes[sloped] <= 1 / 3))
        assert np.all(slopes[x > 0] == 1) and np.all(np.isnan(slopes[np.isnan(x)]))
        want = np.where(x > 0, g, g * slopes)
        assert lr.rrelu_grad(g, x, training=True, seed=11, out=out, num_threads=threads) is out
        assert np.array_equal(out, want, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "offset", "strided"])
def test_in_place_beyond_the_stream_threshold(isa, dtype, layout):
    # In place, as far beyond the caches as streamed outputs, one-input
    # loops go a cache line at a time with a prefetch ahead: every element
    # must come out right, the last partial line included, at any start
    # address, for 1 and 2 threads.
    kernels = _dispatch.kernels
    itemsize = np.dtype(dtype).itemsize
    n = kernels.STREAM_CAP_BYTES // itemsize + 1037
    assert kernels.streams(n * itemsize, 1) and kernels.streams(n * itemsize, 2)
    base = np.random.default_rng(5).standard_normal(2 * n + 2).astype(dtype)
    base[::97] = 0.0
    base[1::101] = -0.0
    base[2::103] = np.nan
    calls = [("relu", {}, lambda x: np.where(x < 0, 0, x)),
             ("leaky_relu", {"alpha": 0.1}, lambda x: np.where(x > 0, x, x * dtype(0.1))),
             ("leaky_relu", {"alpha": -0.5},
              lambda x: np.where(x > 0, x, x * dtype(-0.5)))]
    for threads in (1, 2):
        for name, kwargs, formula in calls:
            data = base.copy()
            x = {"contiguous": data[:n], "offset": data[1:n + 1], "strided": data[::2]}[layout]
            want = formula(x.copy())
            assert getattr(lr, name)(x, out=x, num_threads=threads, **kwargs) is x
            np.testing.assert_array_equal(x, want, err_msg=f"{name} {kwargs} {threads}")
            assert np.array_equal(np.signbit(x), np.signbit(want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("rows", ["long", "short"])
def test_prelu_beyond_the_stream_threshold(isa, dtype, offset, rows):
    # prelu's rows stream too, long ones and short ones (which the AVX-512
    # build may hand to another build's loops when they stream): every
    # element of every channel must land, whatever out's alignment, for 1
    # and 2 threads.
    kernels = _dispatch.kernels
    itemsize = np.dtype(dtype).itemsize
    if rows == "long":
        outer, channels = 2, 3
        inner = kernels.STREAM_CAP_BYTES // (outer * channels * itemsize) + 1037
    else:   # rows of 1021 elements, far below 64 KiB, starting anywhere in a cache line
        channels, inner = 3, 1021
        outer = kernels.STREAM_CAP_BYTES // (channels * inner * itemsize) + 1
    assert kernels.streams(outer * channels * inner * itemsize, 2)
    x = np.random.default_rng(4).standard_normal((outer, channels, inner)).astype(dtype)
    weight = np.array([0.1, -0.5, 2.0], dtype)
    want = np.where(x > 0, x, weight[:, None] * x)
    for threads in (1, 2):
        buffer = np.full(x.size + 16, np.nan, dtype)
        start = (-buffer.ctypes.data % 64) // itemsize + offset
        out = buffer[start:start + x.size].reshape(x.shape)
        assert lr.prelu(x, weight, out=out, num_threads=threads) is out
        assert np.array_equal(out, want)
        assert np.array_equal(lr.prelu(x, weight, num_threads=threads), want)


@pytest.mark.parametrize("value, expected", [("12345", 12345), ("", None), ("-5", None),
                                             ("8MiB", None)])
def test_stream_threshold_can_be_set_from_the_environment(value, expected):
    code = ("import leakyrelu, leakyrelu._dispatch as d; "
            "print(d.kernels.STREAM_THRESHOLD_BYTES, leakyrelu._config.config()"
            "['stream_threshold_bytes'], d.kernels.STREAM_CAP_BYTES)")
    def threshold(env):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=env)
        return [int(v) for v in run.stdout.split()]
    plain = {k: v for k, v in os.environ.items() if k != "LEAKYRELU_STREAM_BYTES"}
    default = threshold(plain)
    assert default[0] == default[1] >= 4 << 20
    got = threshold({**plain, "LEAKYRELU_STREAM_BYTES": value})
    if expected is None:
        assert got == default
    else:   # set, it holds at every thread count
        assert got == [expected] * 3


def _sysfs_cache_bytes(level):
    # The size of the level-`level` cache CPU 0 sees, read independently of the kernels.
    base = "/sys/devices/system/cpu/cpu0/cache"
    for index in sorted(os.listdir(base)):
        if not index.startswith("index"):
            continue
        with open(os.path.join(base, index, "level")) as f:
            if int(f.read()) != level:
                continue
        with open(os.path.join(base, index, "size")) as f:
            text = f.read().strip()
        return int(text[:-1]) * {"K": 2**10, "M": 2**20}[text[-1]] if text[-1] in "KM" else int(text)
    return None


@pytest.mark.skipif(not os.path.isdir("/sys/devices/system/cpu/cpu0/cache"),
                    reason="no cache sizes in sysfs")
def test_stream_threshold_follows_the_caches():
    # Half the L3 on AMD, where the L3 holds an input and an output at copy
    # speed; a quarter of it, at most four L2s, elsewhere; never below 4 MiB.
    l2, l3 = _sysfs_cache_bytes(2), _sysfs_cache_bytes(3)
    if not l2 or not l3:
        pytest.skip("sysfs lists no L2 or L3")
    with open("/proc/cpuinfo") as f:
        amd = "AuthenticAMD" in f.read()
    expected = max(4 << 20, l3 // 2 if amd else min(l3 // 4, 4 * l2))
    # More threads stream from more bytes, up to the whole L3 on AMD; a
    # two-input kernel streams from the threshold at any thread count.
    cap = max(expected, l3) if amd else expected
    code = ("import leakyrelu._dispatch as d; k = d.kernels; "
            "print(k.STREAM_THRESHOLD_BYTES, k.STREAM_CAP_BYTES, "
            "*(int(k.streams(n, t)) for n, t in "
            f"[({expected - 1}, 1), ({expected}, 1), ({min(2 * expected, cap) - 1}, 2), "
            f"({min(2 * expected, cap)}, 2), ({cap}, 64)]), "
            f"int(k.streams({expected}, 2, 2)))")
    plain = {k: v for k, v in os.environ.items() if k != "LEAKYRELU_STREAM_BYTES"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=plain)
    assert [int(v) for v in run.stdout.split()] == [expected, cap, 0, 1, 0, 1, 1, 1]
