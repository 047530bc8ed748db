"""Dask arrays in, lazy Dask arrays out: the same numbers as the NumPy path.

Every function and gradient is computed on dask's threaded scheduler and on
a two-process ``dask.distributed`` cluster and compared with the NumPy call
on the whole array (or, for rrelu in training, block by block with the
documented per-block seeds).
"""
import inspect
import itertools
import pickle
import subprocess
import sys

import numpy as np
import pytest

import leakyrelu as lr
from leakyrelu import _dask, _exponential, _rectifiers

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

SHAPE, CHUNKS = (7, 10), (3, 4)  # ragged chunks on both axes

# name -> keyword arguments; every case runs forward and gradient
ELEMENTWISE = {
    "relu": {},
    "leaky_relu": {"alpha": 0.1},
    "rrelu": {"lower": 0.1, "upper": 0.3},
    "elu": {"alpha": 1.5},
    "celu": {"alpha": 2.0},
    "selu": {},
}
FROM_OUTPUT = ["relu", "leaky_relu", "rrelu", "elu", "celu", "selu"]


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module", params=["threads", "distributed"])
def compute(request):
    """Compute dask collections on the threaded scheduler or a process cluster."""
    scheduler = request.param
    if scheduler == "distributed":
        scheduler = request.getfixturevalue("cluster_client")
    return lambda *collections: dask.compute(*collections, scheduler=scheduler)


def data(rng, dtype=np.float64, shape=SHAPE):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:3] = 0.0  # the gradient's tie
    return x


def chunked(a, chunks=CHUNKS):
    return da.from_array(a, chunks=chunks)


def by_blocks(func, arrays, chunks, **kwargs):
    """Apply a NumPy function block by block; func gets the chunk location."""
    bounds = [np.cumsum((0,) + c) for c in chunks]
    result = np.empty_like(arrays[0])
    for location in itertools.product(*(range(len(c)) for c in chunks)):
        index = tuple(slice(b[i], b[i + 1]) for b, i in zip(bounds, location))
        result[index] = func(*(a[index] for a in arrays), location=location, **kwargs)
    return result


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_numpy(compute, rng, name, dtype):
    kwargs = ELEMENTWISE[name]
    x, g = data(rng, dtype), data(rng, dtype)
    forward, grad = getattr(lr, name), getattr(lr, name + "_grad")
    y = forward(chunked(x), **kwargs)
    dx = grad(chunked(g), chunked(x), **kwargs)
    assert isinstance(y, da.Array) and isinstance(dx, da.Array)
    assert y.dtype == dtype and dx.dtype == dtype
    y_value, dx_value = compute(y, dx)
    assert y_value.dtype == dtype and dx_value.dtype == dtype
    np.testing.assert_array_equal(y_value, forward(x, **kwargs))
    np.testing.assert_array_equal(dx_value, grad(g, x, **kwargs))


@pytest.mark.parametrize("name", FROM_OUTPUT)
def test_gradient_from_output(compute, rng, name):
    kwargs = ELEMENTWISE[name]
    x, g = data(rng), data(rng)
    y = getattr(lr, name)(x, **kwargs)
    dx = getattr(lr, name + "_grad")(chunked(g), chunked(y), from_output=True, **kwargs)
    expected = getattr(lr, name + "_grad")(g, y, from_output=True, **kwargs)
    np.testing.assert_array_equal(compute(dx)[0], expected)


def test_numpy_next_to_dask(compute, rng):
    # A NumPy grad_output with a Dask x is chunked like x
    x, g = data(rng), data(rng)
    dx = lr.leaky_relu_grad(g, chunked(x), 0.2)
    assert isinstance(dx, da.Array) and dx.chunks == chunked(x).chunks
    np.testing.assert_array_equal(compute(dx)[0], lr.leaky_relu_grad(g, x, 0.2))
    dx = lr.leaky_relu_grad(chunked(g), x, 0.2)
    np.testing.assert_array_equal(compute(dx)[0], lr.leaky_relu_grad(g, x, 0.2))


def test_mismatched_chunks_are_aligned(compute, rng):
    x, g = data(rng), data(rng)
    dx = lr.elu_grad(chunked(g, (2, 5)), chunked(x, (4, 3)))
    np.testing.assert_array_equal(compute(dx)[0], lr.elu_grad(g, x))


def test_block_seed_mixing():
    # SplitMix64 with state 0 first outputs 0xE220A8397B1DCDAF (the published sequence)
    assert _dask.splitmix64(0) == 0xE220A8397B1DCDAF
    assert _dask.block_seed(0, ()) == 0xE220A8397B1DCDAF
    s = _dask.splitmix64
    assert _dask.block_seed(2**64 - 1, (3, 5)) == s(s(s(2**64 - 1) ^ 3) ^ 5)
    seeds = {_dask.block_seed(42, loc) for loc in itertools.product(range(16), repeat=2)}
    assert len(seeds) == 256 and all(0 <= v < 2**64 for v in seeds)
    assert _dask.block_seed(42, (0, 1)) != _dask.block_seed(42, (1, 0))
    assert _dask.block_seed(42, (0,)) != _dask.block_seed(43, (0,))


def _rrelu_block(*arrays, location, seed, grad=False, **kwargs):
    function = lr.rrelu_grad if grad else lr.rrelu
    return function(*arrays, training=True, seed=_dask.block_seed(seed, location), **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rrelu_training_block_by_block(compute, rng, dtype):
    x, g = data(rng, dtype), data(rng, dtype)
    seed, bounds = 2**63 + 12345, {"lower": 0.1, "upper": 0.4}
    y = lr.rrelu(chunked(x), training=True, seed=seed, **bounds)
    dx = lr.rrelu_grad(chunked(g), chunked(x), training=True, seed=seed, **bounds)
    dy = lr.rrelu_grad(chunked(g), y, training=True, seed=seed, from_output=True, **bounds)
    y_value, dx_value, dy_value = compute(y, dx, dy)
    chunks = chunked(x).chunks
    np.testing.assert_array_equal(y_value, by_blocks(_rrelu_block, [x], chunks, seed=seed,
                                                     **bounds))
    np.testing.assert_array_equal(dx_value, by_blocks(_rrelu_block, [g, x], chunks, grad=True,
                                                      seed=seed, **bounds))
    np.testing.assert_array_equal(dy_value, dx_value)
    # The noise is real: slopes vary and stay in range, and the gradient is the slope
    neg = x < 0
    slopes = y_value[neg] / x[neg]
    assert slopes.min() >= 0.1 - 1e-6 and slopes.max() <= 0.4 + 1e-6 and slopes.std() > 0.03
    np.testing.assert_allclose(dx_value[neg] / g[neg], slopes, rtol=1e-5)


def test_rrelu_training_is_reproducible_and_depends_on_seed(rng):
    x = chunked(data(rng))
    a = lr.rrelu(x, training=True, seed=1).compute(scheduler="threads")
    b = lr.rrelu(x, training=True, seed=1).compute(scheduler="sync")
    c = lr.rrelu(x, training=True, seed=2).compute(scheduler="threads")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


PRELU_CASES = {
    # id: (shape, chunks, weight length (0 for a Python float), axis)
    "scalar": ((6, 9), (4, 4), 0, 1),
    "single": ((6, 9), (4, 4), 1, 1),
    "channels-axis1": ((5, 9, 4), (2, 4, 3), 9, 1),
    "channels-last": ((6, 9), (4, 2), 9, -1),
    "channels-axis0": ((9, 5), (3, 5), 9, 0),
    "channels-one-chunk": ((6, 9), (2, 9), 9, 1),
}


def _prelu_weight(rng, length, dtype):
    if length == 0:
        return 0.3
    return rng.uniform(-0.5, 0.5, length).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case,dask_weight", [
    (case, dask_weight) for case in PRELU_CASES for dask_weight in (False, True)
    if not (dask_weight and PRELU_CASES[case][2] == 0)])  # a float weight has no dask form
def test_prelu_and_gradients(compute, rng, case, dask_weight, dtype):
    shape, chunks, length, axis = PRELU_CASES[case]
    x, g = data(rng, dtype, shape), data(rng, dtype, shape)
    w = _prelu_weight(rng, length, dtype)
    wd = da.from_array(w, chunks=2) if dask_weight else w
    y = lr.prelu(chunked(x, chunks), wd, axis)
    dx, dw = lr.prelu_grad(chunked(g, chunks), chunked(x, chunks), wd, axis)
    assert all(isinstance(a, da.Array) for a in (y, dx, dw))
    assert y.dtype == dx.dtype == dw.dtype == dtype
    assert dw.shape == np.shape(w)
    y_value, dx_value, dw_value = compute(y, dx, dw)
    expected_dx, expected_dw = lr.prelu_grad(g, x, w, axis)
    np.testing.assert_array_equal(y_value, lr.prelu(x, w, axis))
    np.testing.assert_array_equal(dx_value, expected_dx)
    assert dw_value.dtype == dtype and dw_value.shape == expected_dw.shape
    # Per-block partial sums, each rounded to dtype, then summed in float64
    scale = np.sum(np.abs(g.astype(np.float64) * x))
    np.testing.assert_allclose(dw_value, expected_dw, rtol=0,
                               atol=scale * 4 * np.finfo(dtype).eps)
    # Independent reference for the weight gradient
    term = np.where(x > 0, 0.0, g.astype(np.float64) * x)
    if length > 1:
        other = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
        reference = term.sum(axis=other)
    else:
        reference = term.sum().reshape(np.shape(w))
    np.testing.assert_allclose(dw_value, reference, rtol=0,
                               atol=scale * 8 * np.finfo(dtype).eps)


def test_prelu_numpy_x_with_dask_weight(compute, rng):
    x, g = data(rng), data(rng)
    w = rng.uniform(0, 0.5, SHAPE[1])
    y = lr.prelu(x, da.from_array(w, chunks=3))
    dx, dw = lr.prelu_grad(g, x, da.from_array(w, chunks=3))
    assert all(isinstance(a, da.Array) for a in (y, dx, dw))
    y_value, dx_value, dw_value = compute(y, dx, dw)
    expected_dx, expected_dw = lr.prelu_grad(g, x, w)
    np.testing.assert_array_equal(y_value, lr.prelu(x, w))
    np.testing.assert_array_equal(dx_value, expected_dx)
    np.testing.assert_allclose(dw_value, expected_dw, rtol=1e-13)


def test_prelu_grad_runs_each_block_once(rng):
    calls = []

    def count(block):
        calls.append(1)
        return block

    x = chunked(data(rng)).map_blocks(count, meta=np.empty((0, 0)))
    w = np.full(SHAPE[1], 0.2)
    dx, dw = lr.prelu_grad(da.ones(SHAPE, chunks=CHUNKS), x, w)
    dask.compute(dx, dw, scheduler="sync")
    assert len(calls) == x.npartitions


LAZY_CALLS = {
    "relu": lambda x, g: lr.relu(x),
    "relu_grad": lambda x, g: lr.relu_grad(g, x),
    "leaky_relu": lambda x, g: lr.leaky_relu(x, 0.1),
    "leaky_relu_grad": lambda x, g: lr.leaky_relu_grad(g, x, 0.1),
    "prelu": lambda x, g: lr.prelu(x, np.full(SHAPE[1], 0.2)),
    "prelu_grad": lambda x, g: lr.prelu_grad(g, x, np.full(SHAPE[1], 0.2)),
    "rrelu": lambda x, g: lr.rrelu(x, training=True, seed=3),
    "rrelu_grad": lambda x, g: lr.rrelu_grad(g, x, training=True, seed=3),
    "elu": lambda x, g: lr.elu(x),
    "elu_grad": lambda x, g: lr.elu_grad(g, x),
    "celu": lambda x, g: lr.celu(x, 2.0),
    "celu_grad": lambda x, g: lr.celu_grad(g, x, 2.0),
    "selu": lambda x, g: lr.selu(x),
    "selu_grad": lambda x, g: lr.selu_grad(g, x),
}


@pytest.mark.parametrize("name", LAZY_CALLS)
def test_lazy_until_compute(rng, name):
    assert set(LAZY_CALLS) == {n for n in lr.__all__ if n.endswith(("lu", "lu_grad"))}
    calls = []

    def source(block):
        calls.append(1)
        return block

    x = chunked(data(rng)).map_blocks(source, meta=np.empty((0, 0)))
    g = chunked(data(rng))
    result = LAZY_CALLS[name](x, g)
    results = result if isinstance(result, tuple) else (result,)
    assert all(isinstance(r, da.Array) for r in results)
    assert calls == []
    dask.compute(*results, scheduler="sync")
    assert len(calls) >= x.npartitions


def test_errors_raise_at_call_time(rng):
    x = chunked(data(rng))
    with pytest.raises(TypeError, match="out= is not supported"):
        lr.relu(x, out=np.empty(SHAPE))
    with pytest.raises(TypeError, match="out= is not supported"):
        lr.relu(x, out=x)
    with pytest.raises(TypeError, match="out= is not supported"):
        lr.prelu_grad(x, x, 0.2, out=x)
    with pytest.raises(TypeError):  # the NumPy path refuses a dask out
        lr.relu(data(rng), out=x)
    with pytest.raises(TypeError, match="dtype"):
        lr.relu(chunked(np.ones(SHAPE, dtype=np.complex64)))
    with pytest.raises(ValueError, match="num_threads"):  # prelu runs the NumPy path's checks too
        lr.prelu(x, np.ones(SHAPE[1]), num_threads=0)
    with pytest.raises(ValueError, match="num_threads"):
        lr.prelu_grad(x, x, 0.25, num_threads=0)
    with pytest.raises(ValueError, match="cannot be represented"):
        lr.leaky_relu(x.astype(np.float32), alpha=1e300)
    with pytest.raises(ValueError, match="finite"):
        lr.leaky_relu(x, alpha=np.inf)
    with pytest.raises(ValueError, match="seed"):
        lr.rrelu(x, training=True)
    with pytest.raises(ValueError, match="nonzero alpha"):
        lr.celu(x, alpha=0.0)
    with pytest.raises(ValueError, match="shape"):
        lr.relu_grad(x, chunked(np.ones((7, 9))))
    with pytest.raises(ValueError, match="channels"):
        lr.prelu(x, np.ones(4))
    with pytest.raises(TypeError, match="dtype"):
        lr.prelu(x, np.ones(SHAPE[1], dtype=np.float32))
    with pytest.raises(TypeError, match="dtype"):
        lr.prelu(x, da.ones(SHAPE[1], dtype=np.float32))


def test_num_threads_passes_through(rng):
    x = data(rng)
    np.testing.assert_array_equal(lr.selu(chunked(x), num_threads=2).compute(), lr.selu(x))
    with pytest.raises(ValueError, match="num_threads"):
        lr.selu(chunked(x), num_threads=0)


def test_wrappers_keep_name_doc_signature_and_pickle():
    for name in LAZY_CALLS:
        public = getattr(lr, name)
        inner = getattr(_rectifiers, name, None) or getattr(_exponential, name)
        assert public is not inner
        assert public.__name__ == name and public.__doc__ == inner.__doc__
        assert inspect.signature(public) == inspect.signature(inner)
        assert pickle.loads(pickle.dumps(public)) is public


def test_wrappers_bind_arguments_as_the_functions_do(rng):
    # The wrappers are compiled from each signature: keywords, defaults and
    # keyword-only parameters reach the function as written.
    x, g = data(rng), data(rng)
    lazy = lr.leaky_relu_grad(grad_output=g, x=chunked(x), alpha=0.3)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), lr.leaky_relu_grad(g, x, 0.3))
    np.testing.assert_array_equal(lr.leaky_relu(x=x), np.where(x > 0, x, 0.01 * x))
    with pytest.raises(TypeError):
        lr.leaky_relu(x, 0.1, None)        # out is keyword-only
    with pytest.raises(TypeError):
        lr.elu(x, beta=1.0)


def test_numpy_calls_do_not_import_dask():
    code = ("import sys, numpy as np, leakyrelu as lr; x = np.ones(4); lr.relu(x); "
            "lr.relu_grad(x, x); lr.prelu(x, 0.2); lr.prelu_grad(x, x, np.ones(1)); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
