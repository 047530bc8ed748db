"""The output arena: large outputs of allocating calls reuse freed blocks.

An allocating call whose output is ARENA_MIN_BYTES or more gets it from a
NumPy memory handler that keeps freed blocks mapped (up to arena_limit()
bytes) and hands them to the next output that fits, so beyond the caches
an allocating call takes no page faults. These tests check the reuse, that
a reused block never shows its old contents, the limits, realloc, and that
LEAKYRELU_ARENA_BYTES=0 turns it off.
"""
import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import reference as R
from cases import assert_same_bits

import leakyrelu as lr
from leakyrelu import _dispatch

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import get_handler_name

ARENA = "leakyrelu_output_arena"


@pytest.fixture
def kernels():
    kernels = _dispatch.kernels
    limit = kernels.arena_limit()
    kernels.arena_limit(0)      # empty the arena: each test starts from nothing kept
    kernels.arena_limit(max(limit, 4 * kernels.ARENA_MIN_BYTES))
    yield kernels
    kernels.arena_limit(0)
    kernels.arena_limit(limit)


def large(kernels, dtype=np.float32, extra=0, seed=0):
    n = kernels.ARENA_MIN_BYTES // np.dtype(dtype).itemsize + extra
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


def test_a_freed_output_is_reused_and_shows_none_of_its_old_values(kernels):
    x = large(kernels, seed=1)
    first = lr.leaky_relu(x, 0.1)
    assert get_handler_name(first) == ARENA
    address = first.ctypes.data
    del first
    gc.collect()
    blocks, kept, reused = kernels.arena_state()
    assert blocks == 1 and kept >= x.nbytes
    x2 = large(kernels, seed=2)
    second = lr.leaky_relu(x2, 0.1)
    assert second.ctypes.data == address
    assert kernels.arena_state() == (0, 0, reused + 1)
    assert_same_bits(second, R.leaky_relu(x2, 0.1))


@pytest.mark.parametrize("call", [
    lambda x: lr.relu(x),
    lambda x: lr.elu_grad(x, x),
    lambda x: lr.prelu(x.reshape(4, 4, -1), np.full(4, 0.2, x.dtype)),
    lambda x: lr.leaky_relu(x[::-1]),                     # the general path: strided
    lambda x: lr.leaky_relu_grad(x[::-1], x.astype(np.float32)[::-1])],   # and promoting
    ids=["relu", "elu_grad", "prelu", "reversed", "promoted"])
def test_every_allocating_path_takes_large_results_from_the_arena(kernels, call):
    assert get_handler_name(call(large(kernels, np.float64))) == ARENA


def test_small_outputs_come_from_numpy(kernels):
    x = large(kernels, extra=-1024)
    assert get_handler_name(lr.leaky_relu(x)) != ARENA
    assert kernels.arena_state()[0] == 0


def test_the_arena_keeps_no_more_than_its_limit(kernels):
    kernels.arena_limit(3 * kernels.ARENA_MIN_BYTES)
    outputs = [lr.relu(large(kernels, extra=64 * k)) for k in range(6)]
    assert all(get_handler_name(y) == ARENA for y in outputs)
    del outputs
    gc.collect()
    blocks, kept, _ = kernels.arena_state()
    assert 1 <= blocks <= 2 and kept <= 3 * kernels.ARENA_MIN_BYTES
    kernels.arena_limit(0)
    assert kernels.arena_state()[:2] == (0, 0)


def test_a_result_of_exactly_the_limit_is_kept(kernels):
    # The limit counts results' bytes, not the blocks' headers: with the
    # default 256 MiB, 64M float32 elements are kept.
    kernels.arena_limit(0)
    kernels.arena_limit(kernels.ARENA_MIN_BYTES)
    y = lr.relu(large(kernels))
    del y
    gc.collect()
    assert kernels.arena_state()[:2] == (1, kernels.ARENA_MIN_BYTES)
    y = lr.relu(large(kernels, extra=16))     # 64 bytes more: beyond the limit
    del y
    gc.collect()
    assert kernels.arena_state()[:2] == (1, kernels.ARENA_MIN_BYTES)


def test_a_block_too_large_for_the_request_is_not_used(kernels):
    big = lr.relu(large(kernels, extra=kernels.ARENA_MIN_BYTES))   # 5x the minimum
    del big
    gc.collect()
    assert kernels.arena_state()[0] == 1
    small = lr.relu(large(kernels, np.float32, extra=-8 + kernels.ARENA_MIN_BYTES // 8))
    assert kernels.arena_state()[0] == 1 and get_handler_name(small) == ARENA


def test_an_arena_array_resizes(kernels):
    x = large(kernels)
    y = lr.relu(x)
    want = R.relu(x)
    y.resize(y.size + 1_000_000, refcheck=False)
    assert_same_bits(y[:x.size], want)
    assert (y[x.size:] == 0).all()     # ndarray.resize zero-fills what it adds
    y.resize(10, refcheck=False)
    assert_same_bits(y, want[:10])


def test_a_negative_limit_is_refused(kernels):
    with pytest.raises(ValueError, match="arena"):
        kernels.arena_limit(-1)


def test_the_environment_turns_the_arena_off():
    script = textwrap.dedent("""
        import gc
        import numpy as np
        import leakyrelu as lr
        from leakyrelu import _dispatch
        x = np.ones(_dispatch.kernels.ARENA_MIN_BYTES // 4, np.float32)
        y = lr.relu(x)
        del y
        gc.collect()
        print(_dispatch.kernels.arena_limit(), _dispatch.kernels.arena_state())
        lr.show_config()
    """)
    for value, limit in (("0", "0"), ("33554432", "33554432")):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env={**os.environ, "LEAKYRELU_ARENA_BYTES": value}, check=True).stdout
        first = out.splitlines()[0]
        assert first.split()[0] == limit
        if value == "0":
            assert first.endswith("(0, 0, 0)") and "output arena:       off" in out
        else:
            assert "(1, " in first and "keeps up to 32 MiB" in out
