"""Correctness of relu, leaky_relu, prelu and rrelu, forward and gradient.

Forward values must equal PyTorch's CPU results bit for bit (and the NumPy
formulas of ``reference.py``, so the values are still checked without
torch). Gradients are checked against PyTorch's backward kernels, NumPy
formulas and central differences.
"""
import numpy as np
import pytest

import leakyrelu as lr
from leakyrelu import _dispatch, _rectifiers

import reference as ref
from cases import (assert_same_bits, general_path_only, on_every_build, past_a_line,
                   requires_parallel)

try:
    from scipy import stats
except ImportError:  # the chi-square statistic is computed by hand instead
    stats = None

FLOATS = [np.float32, np.float64]

# Sizes around the serial threshold (256 KiB: 65536 float32 or 32768 float64
# elements) and not multiples of the vector width, so that vector tails and
# both loop variants run.
SIZES = [1, 7, 16, 33, 1000, 32767, 32768, 32769, 65535, 65537]
ALPHAS = [0.0, 0.01, 0.2, -0.5, 1.0, 1e3]
# Above the serial threshold, for the thread-count tests: 7 * 13 * 1100.
LARGE = 300_300  # 7 * 13 * 3300: reshapes into prelu layouts


def edge_values(dtype):
    fi = np.finfo(dtype)
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal, -fi.smallest_subnormal,
              fi.max, -fi.max, fi.tiny, -fi.tiny, 1.0, -1.0]
    return np.array(values, dtype=dtype)


def sample(dtype, n, seed=0):
    """Normal data of n elements with every edge value spread through it."""
    rng = np.random.default_rng([seed, n])
    x = rng.standard_normal(n).astype(dtype)
    edges = np.resize(edge_values(dtype), min(n, 3 * edge_values(dtype).size))
    x[rng.choice(n, size=edges.size, replace=False)] = edges
    return x


def finite_sample(dtype, shape, seed=0):
    """Normal data away from 0, so finite differences never cross the kink."""
    rng = np.random.default_rng([seed, *shape])
    x = rng.standard_normal(shape)
    x = np.where(np.abs(x) < 0.05, np.copysign(0.05, x), x)
    return x.astype(dtype)


def assert_grad_matches_torch(ours, theirs, x):
    """Bit for bit except at NaN inputs, where ours must be NaN (theirs is not)."""
    nan = np.isnan(x)
    assert_same_bits(ours, theirs, where=~nan)
    assert np.isnan(ours[nan]).all()


def normal_like(x, seed=1):
    return np.random.default_rng([seed, x.size]).standard_normal(x.shape).astype(x.dtype)


# ---------------------------------------------------------------- forward


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_matches_torch(isa, torch_ref, dtype, n):
    x = sample(dtype, n)
    assert_same_bits(lr.relu(x), torch_ref.relu(torch_ref.from_numpy(x)).numpy())


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_leaky_relu_matches_torch(isa, torch_ref, dtype, n):
    x = sample(dtype, n)
    for alpha in ALPHAS:
        expected = torch_ref.nn.functional.leaky_relu(torch_ref.from_numpy(x), alpha).numpy()
        assert_same_bits(lr.leaky_relu(x, alpha), expected)


# Where alpha, rounded to the dtype, is +0.0 or more and finite, x's sign
# bit picks the branch (one blend fewer per vector); below, the compare does.
SIGN_ALPHAS = [0.0, -0.0, 1e-50, -1e-50, 5e-324, -5e-324, 0.3, 1.0, 7.5, -2.0, 3e38]


@pytest.mark.parametrize("dtype", FLOATS + [np.float16])
def test_leaky_relu_either_side_of_zero_alpha(isa, dtype):
    x = sample(dtype, 5099, seed=7)
    for alpha in SIGN_ALPHAS:
        work = np.float32 if dtype == np.float16 else dtype
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if not np.isfinite(work(alpha)):
                continue   # refused: tested with the bad input
            want = ref.leaky_relu(x.astype(work), work(alpha)).astype(dtype)
        assert_same_bits(lr.leaky_relu(x, alpha), want)
        assert_same_bits(lr.leaky_relu(x[::-3], alpha), want[::-3])
        inplace = x.copy()
        assert lr.leaky_relu(inplace, alpha, out=inplace) is inplace
        assert_same_bits(inplace, want)


# Rows of 1001 elements run inline, rows of 70001 through the walker's loops.
@pytest.mark.parametrize("outer, inner", [(3, 1001), (1, 70001)])
@pytest.mark.parametrize("dtype", FLOATS + [np.float16])
def test_prelu_either_side_of_zero_weight(isa, dtype, outer, inner):
    work = np.float32 if dtype == np.float16 else dtype
    with np.errstate(over="ignore", under="ignore"):
        w = np.array(SIGN_ALPHAS, dtype=dtype)
    w = w[np.isfinite(w)]
    x = sample(dtype, outer * w.size * inner, seed=8).reshape(outer, w.size, inner)
    x[:, :, :13] = edge_values(dtype)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        wide = x.astype(work)
        want = np.where(wide > 0, wide, wide * w.astype(work)[:, None]).astype(dtype)
    assert_same_bits(lr.prelu(x, w), want)
    inplace = x.copy()
    assert lr.prelu(inplace, w, out=inplace) is inplace
    assert_same_bits(inplace, want)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_rrelu_eval_matches_torch(isa, torch_ref, dtype, n):
    x = sample(dtype, n)
    for lower, upper in [(1 / 8, 1 / 3), (0.0, 0.0), (-0.3, 0.1), (0.5, 3.0)]:
        expected = torch_ref.nn.functional.rrelu(torch_ref.from_numpy(x), lower, upper,
                                                 training=False).numpy()
        ours = lr.rrelu(x, lower, upper)
        assert_same_bits(ours, expected)
        assert_same_bits(ours, lr.leaky_relu(x, (lower + upper) / 2))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_scalar_weight_matches_torch(isa, torch_ref, dtype, n):
    x = sample(dtype, n)
    for w in [0.25, 0.0, -1.5]:
        expected = torch_ref.nn.functional.prelu(torch_ref.from_numpy(x),
                                                 torch_ref.from_numpy(np.array([w], dtype))).numpy()
        assert_same_bits(lr.prelu(x, w), expected)


# (N, C, ...) shapes: 2-D puts the channels last; the larger ones straddle
# the serial threshold.
PRELU_SHAPES = [(3, 5), (64, 515), (2, 3, 7, 11), (1, 16, 2047), (2, 8, 48, 48)]


def prelu_data(dtype, shape):
    x = sample(dtype, int(np.prod(shape))).reshape(shape)
    w = np.linspace(-0.5, 2.0, shape[1]).astype(dtype)
    w[0] = 0.0
    return x, w


@pytest.mark.parametrize("shape", PRELU_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_per_channel_matches_torch(isa, torch_ref, dtype, shape):
    x, w = prelu_data(dtype, shape)
    expected = torch_ref.nn.functional.prelu(torch_ref.from_numpy(x),
                                             torch_ref.from_numpy(w)).numpy()
    assert_same_bits(lr.prelu(x, w), expected)


@pytest.mark.parametrize("shape", PRELU_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_channels_last_matches_torch(isa, torch_ref, dtype, shape):
    x, w = prelu_data(dtype, shape)
    x_last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    expected = torch_ref.nn.functional.prelu(torch_ref.from_numpy(x), torch_ref.from_numpy(w))
    assert_same_bits(lr.prelu(x_last, w, axis=-1), np.moveaxis(expected.numpy(), 1, -1))


@pytest.mark.parametrize("dtype", FLOATS)
def test_edge_values_exactly(isa, dtype):
    # Spelled out, so that a shared mistake of the references cannot hide.
    fi = np.finfo(dtype)
    x = edge_values(dtype)
    s = fi.smallest_subnormal
    relu = np.array([0, -0.0, np.inf, 0, np.nan, s, 0, fi.max, 0, fi.tiny, 0, 1, 0], dtype)
    assert_same_bits(lr.relu(x), relu)
    assert_same_bits(lr.relu(-x)[[0, 1]], np.array([-0.0, 0.0], dtype))
    leaky = lr.leaky_relu(x, 0.5)
    assert_same_bits(leaky, np.array([0, -0.0, np.inf, -np.inf, np.nan, s, -0.0, fi.max,
                                       -fi.max / 2, fi.tiny, -fi.tiny / 2, 1, -0.5], dtype))
    # -inf * 0 is NaN, as in PyTorch; -0.0 * 0 stays -0.0.
    assert_same_bits(lr.leaky_relu(x, 0.0)[[1, 3, 6]], np.array([-0.0, np.nan, -0.0], dtype))
    assert lr.leaky_relu(x, -2.0)[8] == np.inf
    assert_same_bits(lr.prelu(x, 0.0), lr.leaky_relu(x, 0.0))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_forward_matches_numpy_reference(isa, dtype, n):
    x = sample(dtype, n)
    assert_same_bits(lr.relu(x), ref.relu(x))
    for alpha in ALPHAS:
        assert_same_bits(lr.leaky_relu(x, alpha), ref.leaky_relu(x, alpha))
    assert_same_bits(lr.rrelu(x, 0.1, 0.4), ref.rrelu_eval(x, 0.1, 0.4))
    assert_same_bits(lr.prelu(x, 0.3), ref.prelu(x, 0.3))


@pytest.mark.parametrize("shape", PRELU_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_matches_numpy_reference(isa, dtype, shape):
    x, w = prelu_data(dtype, shape)
    assert_same_bits(lr.prelu(x, w), ref.prelu(x, w))
    x_last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    assert_same_bits(lr.prelu(x_last, w, axis=-1), ref.prelu(x_last, w, axis=-1))


@pytest.mark.parametrize("offset", [0, 1, 5])
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_rows_at_any_alignment(isa, dtype, offset):
    # Rows long enough to be aligned to out's cache lines (256 elements and
    # up), short enough to stay in the caches, starting `offset` elements past
    # a line: in place, into a separate out, and at 2 threads.
    shape = (3, 4, 1000)
    x, w = prelu_data(dtype, shape)
    want = ref.prelu(x, w)
    out = past_a_line(shape, dtype, offset)
    assert_same_bits(lr.prelu(x, w, out=out), want)
    out[...] = x
    assert_same_bits(lr.prelu(out, w, out=out, num_threads=2), want)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_grad_matches_torch(isa, torch_ref, dtype, n):
    x = sample(dtype, n)
    g = normal_like(x)
    expected = torch_ref.ops.aten.threshold_backward(torch_ref.from_numpy(g),
                                                     torch_ref.from_numpy(x), 0).numpy()
    assert_grad_matches_torch(lr.relu_grad(g, x), expected, x)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_leaky_relu_grad_matches_torch(isa, torch_ref, dtype, n):
    x = sample(dtype, n)
    g = normal_like(x)
    for alpha in ALPHAS:
        expected = torch_ref.ops.aten.leaky_relu_backward(
            torch_ref.from_numpy(g), torch_ref.from_numpy(x), alpha, False).numpy()
        assert_grad_matches_torch(lr.leaky_relu_grad(g, x, alpha), expected, x)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_rrelu_eval_grad_matches_torch(isa, torch_ref, dtype, n):
    x = sample(dtype, n)
    g = normal_like(x)
    lower, upper = 0.1, 0.35
    expected = torch_ref.ops.aten.leaky_relu_backward(
        torch_ref.from_numpy(g), torch_ref.from_numpy(x), (lower + upper) / 2, False).numpy()
    assert_grad_matches_torch(lr.rrelu_grad(g, x, lower, upper), expected, x)


@pytest.mark.parametrize("dtype", FLOATS)
def test_grad_at_zero_and_nan(isa, dtype):
    x = np.array([0.0, -0.0, np.nan, -np.nan], dtype)
    g = np.full_like(x, 2.0)
    assert_same_bits(lr.relu_grad(g, x), np.array([0, 0, np.nan, np.nan], dtype))
    assert_same_bits(lr.leaky_relu_grad(g, x, 0.25), np.array([0.5, 0.5, np.nan, np.nan], dtype))
    assert_same_bits(lr.rrelu_grad(g, x, 0.25, 0.75), np.array([1, 1, np.nan, np.nan], dtype))
    gx, gw = lr.prelu_grad(g, x, np.array([0.25], dtype))
    assert_same_bits(gx, np.array([0.5, 0.5, np.nan, np.nan], dtype))
    assert np.isnan(gw).all()
    slopes = lr.rrelu_grad(g, x, training=True, seed=3)
    assert (slopes[:2] >= 2 / 8).all() and (slopes[:2] <= 2 / 3).all()
    assert np.isnan(slopes[2:]).all()


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_grads_match_numpy_reference(isa, dtype, n):
    x = sample(dtype, n)
    g = normal_like(x)
    assert_same_bits(lr.relu_grad(g, x), ref.relu_grad(g, x))
    for alpha in ALPHAS:
        assert_same_bits(lr.leaky_relu_grad(g, x, alpha), ref.leaky_relu_grad(g, x, alpha))
    assert_same_bits(lr.rrelu_grad(g, x, 0.1, 0.4), ref.leaky_relu_grad(g, x, 0.25))


def torch_prelu_grad(torch, g, x, w, channels_last):
    """PyTorch's autograd gradients of prelu (channels moved to axis 1 for it)."""
    if channels_last:
        x, g = np.moveaxis(x, -1, 1), np.moveaxis(g, -1, 1)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    wt = torch.from_numpy(w.copy()).requires_grad_(True)
    torch.nn.functional.prelu(xt, wt).backward(torch.from_numpy(g.copy()))
    gx = xt.grad.numpy()
    return (np.moveaxis(gx, 1, -1) if channels_last else gx), wt.grad.numpy()


def assert_weight_grad_close(ours, exact, scale, rtol):
    # |error| <= rtol * sum|terms| bounds the rounding of any summation order.
    assert ours.shape == exact.shape
    err = np.abs(ours.astype(np.float64) - exact)
    assert (err <= rtol * scale + np.finfo(ours.dtype).tiny).all(), (ours, exact)


@pytest.mark.parametrize("channels_last", [False, True], ids=["channels_first", "channels_last"])
@pytest.mark.parametrize("shape", PRELU_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_grad_matches_torch(isa, torch_ref, dtype, shape, channels_last):
    # Edge values in x for grad_x; finite x for grad_weight, whose sums would
    # otherwise be inf or NaN.
    x, w = prelu_data(dtype, shape)
    x_finite = finite_sample(dtype, shape)
    x_finite.reshape(-1)[::7] = 0.0
    if channels_last:
        x, x_finite = np.moveaxis(x, 1, -1).copy(), np.moveaxis(x_finite, 1, -1).copy()
    axis = -1 if channels_last else 1
    g = normal_like(x)

    with np.errstate(all="ignore"):  # the weight gradient's sums overflow here
        gx, _ = lr.prelu_grad(g, x, w, axis=axis)
    torch_gx, _ = torch_prelu_grad(torch_ref, g, x, w, channels_last)
    assert_grad_matches_torch(gx, torch_gx, x)

    gx, gw = lr.prelu_grad(g, x_finite, w, axis=axis)
    torch_gx, torch_gw = torch_prelu_grad(torch_ref, g, x_finite, w, channels_last)
    ref_gx, exact, scale = ref.prelu_grad(g, x_finite, w, axis=axis)
    assert_same_bits(gx, torch_gx)
    assert_same_bits(gx, ref_gx)
    assert gw.dtype == dtype and gw.shape == w.shape
    # torch sums in the input's precision; ours sums in float64.
    assert_weight_grad_close(torch_gw, exact, scale, 1e-5 if dtype == np.float32 else 1e-12)
    assert_weight_grad_close(gw, exact, scale, np.finfo(dtype).eps if dtype == np.float32
                             else 1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_scalar_weight_grad(isa, torch_ref, dtype):
    x = finite_sample(dtype, (4, 9000))
    g = normal_like(x)
    w = np.array([0.2], dtype)
    gx, gw = lr.prelu_grad(g, x, w)
    torch_gx, torch_gw = torch_prelu_grad(torch_ref, g, x, w, False)
    ref_gx, exact, scale = ref.prelu_grad(g, x, w)
    assert_same_bits(gx, torch_gx)
    assert_same_bits(gx, ref_gx)
    assert gw.shape == (1,)
    assert_weight_grad_close(gw, exact, scale, 1e-6 if dtype == np.float32 else 1e-12)


# Every gradient, as f(g, x) -> dx, with its forward f(x), on float64 data.
NUMERICAL = {
    "relu": (lr.relu, lr.relu_grad),
    "leaky_relu": (lambda x: lr.leaky_relu(x, 0.07),
                   lambda g, x: lr.leaky_relu_grad(g, x, 0.07)),
    "leaky_relu_negative": (lambda x: lr.leaky_relu(x, -0.6),
                            lambda g, x: lr.leaky_relu_grad(g, x, -0.6)),
    "rrelu_eval": (lambda x: lr.rrelu(x, 0.1, 0.5), lambda g, x: lr.rrelu_grad(g, x, 0.1, 0.5)),
    "rrelu_training": (lambda x: lr.rrelu(x, 0.1, 0.5, training=True, seed=11),
                       lambda g, x: lr.rrelu_grad(g, x, 0.1, 0.5, training=True, seed=11)),
    "prelu_scalar": (lambda x: lr.prelu(x, 0.3), lambda g, x: lr.prelu_grad(g, x, 0.3)[0]),
    "prelu_channels": (lambda x: lr.prelu(x, np.linspace(-1, 1, 6)),
                       lambda g, x: lr.prelu_grad(g, x, np.linspace(-1, 1, 6))[0]),
}


@pytest.mark.parametrize("name", NUMERICAL)
def test_grad_matches_central_differences(name):
    forward, grad = NUMERICAL[name]
    x = finite_sample(np.float64, (5, 6, 7))
    g = normal_like(x)
    h = 1e-6
    numerical = g * (forward(x + h) - forward(x - h)) / (2 * h)
    np.testing.assert_allclose(grad(g, x), numerical, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_prelu_weight_grad_matches_central_differences(axis):
    x = finite_sample(np.float64, (5, 6, 7))
    g = normal_like(x)
    w = np.linspace(-0.4, 1.3, x.shape[axis])
    _, gw = lr.prelu_grad(g, x, w, axis=axis)
    h = 1e-6
    for c in range(w.size):
        step = np.zeros_like(w)
        step[c] = h
        numerical = (np.sum(g * lr.prelu(x, w + step, axis=axis))
                     - np.sum(g * lr.prelu(x, w - step, axis=axis))) / (2 * h)
        np.testing.assert_allclose(gw[c], numerical, rtol=1e-7, atol=1e-9)
    # a single weight gets the sum over every element
    _, gw = lr.prelu_grad(g, x, 0.3)
    numerical = (np.sum(g * lr.prelu(x, 0.3 + h)) - np.sum(g * lr.prelu(x, 0.3 - h))) / (2 * h)
    np.testing.assert_allclose(gw, numerical, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- from_output

# name: (forward, gradient taking from_output=), all with a non-negative slope.
FROM_OUTPUT = {
    "relu": (lr.relu, lambda g, x, **kw: lr.relu_grad(g, x, **kw)),
    "leaky_relu": (lambda x, **kw: lr.leaky_relu(x, 0.01, **kw),
                   lambda g, x, **kw: lr.leaky_relu_grad(g, x, 0.01, **kw)),
    "leaky_relu_one": (lambda x, **kw: lr.leaky_relu(x, 1.0, **kw),
                       lambda g, x, **kw: lr.leaky_relu_grad(g, x, 1.0, **kw)),
    "leaky_relu_steep": (lambda x, **kw: lr.leaky_relu(x, 3.0, **kw),
                         lambda g, x, **kw: lr.leaky_relu_grad(g, x, 3.0, **kw)),
    "rrelu_eval": (lambda x, **kw: lr.rrelu(x, 0.1, 0.3, **kw),
                   lambda g, x, **kw: lr.rrelu_grad(g, x, 0.1, 0.3, **kw)),
    "rrelu_training": (lambda x, **kw: lr.rrelu(x, training=True, seed=5, **kw),
                       lambda g, x, **kw: lr.rrelu_grad(g, x, training=True, seed=5, **kw)),
}
# A zero slope maps -inf to NaN, which hides the branch: finite data only.
FROM_OUTPUT_FINITE = {
    "leaky_relu_zero": (lambda x, **kw: lr.leaky_relu(x, 0.0, **kw),
                        lambda g, x, **kw: lr.leaky_relu_grad(g, x, 0.0, **kw)),
    "rrelu_training_from_zero": (
        lambda x, **kw: lr.rrelu(x, 0.0, 0.5, training=True, seed=6, **kw),
        lambda g, x, **kw: lr.rrelu_grad(g, x, 0.0, 0.5, training=True, seed=6, **kw)),
}


def check_from_output(forward, grad, x):
    g = normal_like(x)
    from_input = grad(g, x)
    assert_same_bits(grad(g, forward(x), from_output=True), from_input)
    inplace = x.copy()
    y = forward(inplace, out=inplace)
    assert y is inplace
    assert_same_bits(grad(g, inplace, from_output=True), from_input)


@pytest.mark.parametrize("n", [33, 32769])
@pytest.mark.parametrize("name", FROM_OUTPUT)
@pytest.mark.parametrize("dtype", FLOATS)
def test_grad_from_output(isa, dtype, name, n):
    check_from_output(*FROM_OUTPUT[name], sample(dtype, n))


@pytest.mark.parametrize("name", FROM_OUTPUT_FINITE)
@pytest.mark.parametrize("dtype", FLOATS)
def test_grad_from_output_zero_slope(isa, dtype, name):
    x = sample(dtype, 4000)
    x[~np.isfinite(x)] = -3.0
    check_from_output(*FROM_OUTPUT_FINITE[name], x)


def test_from_output_refuses_negative_slope():
    x = np.linspace(-1, 1, 9)
    g = np.ones_like(x)
    with pytest.raises(ValueError):
        lr.leaky_relu_grad(g, x, -0.1, from_output=True)
    with pytest.raises(ValueError):
        lr.rrelu_grad(g, x, -0.1, 0.3, from_output=True)
    with pytest.raises(ValueError):
        lr.rrelu_grad(g, x, -0.1, 0.3, training=True, seed=1, from_output=True)
    # a negative slope is fine when the input is given
    assert_same_bits(lr.leaky_relu_grad(g, x, -0.1), ref.leaky_relu_grad(g, x, -0.1))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("inner", [1, 700, 5000])
@pytest.mark.parametrize("target", ["g", "x", "g+3", "g-3", "x+5", "x-5"])
def test_prelu_grad_with_aliased_grad_x(isa, dtype, inner, target):
    # grad_x and the weight sum are computed in one pass; grad_x may be an
    # input itself, or overlap one partly (then that input is read from a
    # copy), and the answer is that of copies.
    channels, outer = 3, 4
    n = outer * channels * inner
    storage = {"x": np.zeros(n + 16, dtype), "g": np.zeros(n + 16, dtype)}
    storage["x"][8:8 + n] = sample(dtype, n)
    storage["g"][8:8 + n] = normal_like(storage["x"][8:8 + n])
    g = storage["g"][8:8 + n].reshape(outer, channels, inner)
    x = storage["x"][8:8 + n].reshape(outer, channels, inner)
    w = np.array([0.1, 0.7, -0.3], dtype)
    with np.errstate(all="ignore"):  # the reference formula on copies
        expected = np.where(np.isnan(x), x, np.where(x > 0, g, g * w[:, None]))
    _, separate = lr.prelu_grad(g.copy(), x.copy(), w, num_threads=1)
    shift = int(target[1:] or 0)
    grad_x = storage[target[0]][8 + shift:8 + shift + n].reshape(outer, channels, inner)
    result, grad_w = lr.prelu_grad(g, x, w, out=grad_x, num_threads=1)
    assert result is grad_x
    assert_same_bits(grad_x, expected)
    assert_same_bits(grad_w, separate)


# ---------------------------------------------------------------- prelu API


@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_weight_forms(dtype):
    x = sample(dtype, 2 * 3 * 50).reshape(2, 3, 50)
    g = normal_like(x)
    expected = lr.leaky_relu(x, 0.25)
    expected_gx = lr.leaky_relu_grad(g, x, 0.25)
    for weight in [0.25, np.array(0.25, dtype), np.array([0.25], dtype), np.full(3, 0.25, dtype)]:
        assert_same_bits(lr.prelu(x, weight), expected)
        with np.errstate(all="ignore"):  # edge values make the weight sums inf or NaN
            gx, gw = lr.prelu_grad(g, x, weight)
        assert_same_bits(gx, expected_gx)
        assert gw.shape == np.shape(weight) and gw.dtype == dtype


def test_prelu_negative_axis():
    x = sample(np.float64, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    g = normal_like(x)
    for axis in range(4):
        w = np.linspace(0.1, 0.9, x.shape[axis])
        assert_same_bits(lr.prelu(x, w, axis=axis - 4), lr.prelu(x, w, axis=axis))
        assert_same_bits(lr.prelu(x, w, axis=axis - 4), ref.prelu(x, w, axis=axis))
        with np.errstate(all="ignore"):  # edge values make the weight sums inf or NaN
            gx, gw = lr.prelu_grad(g, x, w, axis=axis - 4)
            gx2, gw2 = lr.prelu_grad(g, x, w, axis=axis)
        assert_same_bits(gx, gx2)
        assert_same_bits(gw, gw2)


def test_prelu_refuses_bad_weight_and_axis():
    x = np.linspace(-1, 1, 24).reshape(2, 3, 4)
    g = np.ones_like(x)
    w = np.full(3, 0.2)
    for bad_axis in (3, -4):
        with pytest.raises(np.exceptions.AxisError):
            lr.prelu(x, np.full(3, 0.2), axis=bad_axis)
        with pytest.raises(np.exceptions.AxisError):
            lr.prelu_grad(g, x, np.full(3, 0.2), axis=bad_axis)
    with pytest.raises(ValueError):
        lr.prelu(x, np.full(4, 0.2), axis=1)
    with pytest.raises(ValueError):
        lr.prelu_grad(g, x, np.full(2, 0.2), axis=1)
    with pytest.raises(TypeError):
        lr.prelu(x, w.astype(np.float32))
    with pytest.raises(TypeError):
        lr.prelu(x.astype(np.float32), w)
    with pytest.raises(TypeError):
        lr.prelu_grad(g, x, w.astype(np.float32))


def test_prelu_one_dimensional_input():
    x = sample(np.float32, 100)
    assert_same_bits(lr.prelu(x, 0.3), ref.leaky_relu(x, 0.3))
    assert_same_bits(lr.prelu(x, np.array([0.3], np.float32)), ref.leaky_relu(x, 0.3))
    w = np.linspace(0, 1, 100).astype(np.float32)
    assert_same_bits(lr.prelu(x, w, axis=0), ref.prelu(x, w, axis=0))
    gx, gw = lr.prelu_grad(np.ones_like(x), x, 0.3)
    assert gw.shape == ()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(5,), (3, 7, 2), (2, 3, 40000)], ids=str)
def test_prelu_one_weight_fast_path_matches_the_general_path(isa, monkeypatch, dtype, shape):
    # One weight, of shape () or (1,), applies to every element whatever the
    # axis: the fast entry points take it (as leaky_relu, and one channel for
    # the gradient) and must give the general path's bits and shapes.
    x = sample(dtype, int(np.prod(shape))).reshape(shape)
    g = normal_like(x)
    kernels = _dispatch.kernels
    for weight in (np.array(0.3, dtype), np.array([-1.5], dtype)):
        for axis in (1, 4, -9):
            assert kernels.fast_prelu(x, weight, axis, None, None) is not None
            assert kernels.fast_prelu_grad(g, x, weight, axis, None, None) is not None
            with np.errstate(all="ignore"):
                fast = [(lr.prelu(x, weight, axis=axis, num_threads=t),
                         *lr.prelu_grad(g, x, weight, axis=axis, num_threads=t)) for t in (1, 2)]
                with monkeypatch.context() as m:
                    m.setattr(_dispatch, "kernels", general_path_only(kernels))
                    general = (lr.prelu(x, weight, axis=axis),
                               *lr.prelu_grad(g, x, weight, axis=axis))
            assert_same_bits(general[0], ref.leaky_relu(x, weight.item()))
            for results in fast:
                for ours, theirs in zip(results, general):
                    assert_same_bits(ours, theirs)
            assert general[2].shape == weight.shape


# channels first with a long inner run, with short ones (two rows to a summed
# block; two threads split a group of rows), with rows of whole blocks (taken
# as one span of channels; three threads split a span), and channels last.
PRELU_LARGE = [((3, 4, 25000), 1), ((65, 5, 1000), 1), ((33, 7, 64), 1), ((10000, 30), -1)]


@requires_parallel
@pytest.mark.parametrize("shape,axis", PRELU_LARGE,
                         ids=["channels_first", "short_rows", "whole_block_rows", "channels_last"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_grad_same_for_every_thread_count(dtype, shape, axis):
    x = finite_sample(dtype, shape)
    g = normal_like(x)
    w = np.linspace(0.05, 0.5, shape[axis]).astype(dtype)
    gx, gw = lr.prelu_grad(g, x, w, axis=axis, num_threads=1)
    for threads in (2, 3, None):
        gx2, gw2 = lr.prelu_grad(g, x, w, axis=axis, num_threads=threads)
        assert_same_bits(gx2, gx)
        assert_same_bits(gw2, gw)
    _, exact, scale = ref.prelu_grad(g, x, w, axis=axis)
    assert_weight_grad_close(gw, exact, scale, np.finfo(dtype).eps if dtype == np.float32
                             else 1e-12)


@requires_parallel
@pytest.mark.parametrize("shape,axis", PRELU_LARGE,
                         ids=["channels_first", "short_rows", "whole_block_rows", "channels_last"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_prelu_grad_on_views_same_for_every_thread_count(dtype, shape, axis):
    # Views and half precision take the strided walk, whose threads split
    # the same blocks: the same bits for every team, and (float32 and
    # float64) those of contiguous copies.
    wide = shape[:-1] + (2 * shape[-1],)
    x = finite_sample(dtype, wide)[::-1, ..., ::2]
    g = normal_like(finite_sample(dtype, wide))[..., 1::2]
    w = np.linspace(0.05, 0.5, shape[axis]).astype(dtype)
    gx, gw = lr.prelu_grad(g, x, w, axis=axis, num_threads=1)
    for threads in (2, 3, None):
        out = np.empty(wide, dtype)[..., ::2]
        gx2, gw2 = lr.prelu_grad(g, x, w, axis=axis, out=out, num_threads=threads)
        if threads == 2 and x.size * 4 >= _dispatch.kernels.SERIAL_THRESHOLD_BYTES:
            assert _dispatch.kernels.last_team_size() == 2
        assert_same_bits(gx2, gx)
        assert_same_bits(gw2, gw)
    if dtype != np.float16:
        gx3, gw3 = lr.prelu_grad(np.ascontiguousarray(g), np.ascontiguousarray(x), w, axis=axis)
        assert_same_bits(gx3, gx)
        assert_same_bits(gw3, gw)


def kernel_prelu_grad(g, x, grad_x, w, partial, threads=1):
    """The kernels' prelu_grad, channels on axis 1: grad_x, and the weight
    sums before their rounding in ``partial[0]``."""
    layout, channel = _rectifiers._channel_walk((g, x, grad_x), 1)
    _dispatch.kernels.prelu_grad_any(g, x, grad_x, layout, channel, w, partial, threads)


def test_prelu_grad_same_for_every_kernel_build():
    # The AVX-512 and AVX2 builds sum in their own loops: the same terms in
    # the same order, AVX-512's blocks starting at grad_x's first cache line
    # whatever the run's alignment. Compared before the final rounding, where float32
    # would hide it; in place too, as grad_x may be x or g.
    for dtype in FLOATS:
        w = np.array([0.1, 0.7, -0.3, 0.0], dtype)
        # full blocks; runs of one block, with a tail or not; runs of whole
        # blocks, taken in one pass, with blocks across the runs' ends
        for inner in (1000, 40, 33, 32, 96):
            shape = (3, 4, inner)
            x = sample(dtype, 12 * inner).reshape(shape)  # NaN, infinities, zeros, subnormals
            g = normal_like(x)
            x_normal = normal_like(x, seed=2)     # finite sums, sensitive to the order

            def compute():
                partial = np.empty((_dispatch.kernels.prelu_grad_blocks(3, inner), 4))
                results = []
                for offset in range(64 // np.dtype(dtype).itemsize):
                    for inputs in (x, x_normal):
                        grad_x = past_a_line(shape, dtype, offset)
                        kernel_prelu_grad(g, inputs, grad_x, w, partial)
                        results += [grad_x, partial[0].copy()]
                        grad_x[...] = inputs                    # in place: grad_x is x
                        kernel_prelu_grad(g, grad_x, grad_x, w, partial)
                        results += [grad_x, partial[0].copy()]
                return results

            results = on_every_build(compute)
            first = next(iter(results.values()))
            for got in results.values():
                for a, b in zip(got, first, strict=True):
                    assert_same_bits(a, b)


# ---------------------------------------------------------------- rrelu training


def test_rrelu_training_needs_a_valid_seed():
    x = np.linspace(-1, 1, 9)
    g = np.ones_like(x)
    with pytest.raises(ValueError):
        lr.rrelu(x, training=True)
    with pytest.raises(ValueError):
        lr.rrelu_grad(g, x, training=True)
    for seed in (True, 1.0, 2.5, "1"):
        with pytest.raises(TypeError):
            lr.rrelu(x, training=True, seed=seed)
        with pytest.raises(TypeError):
            lr.rrelu_grad(g, x, training=True, seed=seed)
    for seed in (-1, 2**64):
        with pytest.raises(ValueError):
            lr.rrelu(x, training=True, seed=seed)
        with pytest.raises(ValueError):
            lr.rrelu_grad(g, x, training=True, seed=seed)
    for seed in (0, 2**64 - 1, np.uint64(2**63), np.int8(3)):
        lr.rrelu(x, training=True, seed=seed)


def test_rrelu_refuses_bad_bounds():
    x = np.linspace(-1, 1, 9)
    g = np.ones_like(x)
    for lower, upper in [(0.4, 0.3), (np.nan, 0.3), (0.1, np.inf), (-np.inf, 0.3), (0.1, np.nan)]:
        for training in (False, True):
            with pytest.raises(ValueError):
                lr.rrelu(x, lower, upper, training=training, seed=1)
            with pytest.raises(ValueError):
                lr.rrelu_grad(g, x, lower, upper, training=training, seed=1)


@pytest.mark.parametrize("dtype", FLOATS)
def test_rrelu_training_reproducible(dtype):
    x = sample(dtype, LARGE)
    y = lr.rrelu(x, training=True, seed=2024, num_threads=1)
    for threads in (2, None):
        assert_same_bits(lr.rrelu(x, training=True, seed=2024, num_threads=threads), y)
    buf = np.empty_like(x)
    assert lr.rrelu(x, training=True, seed=2024, out=buf) is buf
    assert_same_bits(buf, y)
    inplace = x.copy()
    assert lr.rrelu(inplace, training=True, seed=2024, out=inplace) is inplace
    assert_same_bits(inplace, y)
    # elements are numbered in C order whatever the memory layout
    x2 = x[:100_000].reshape(200, 500)
    assert_same_bits(lr.rrelu(np.asfortranarray(x2), training=True, seed=2024),
                      y[:100_000].reshape(200, 500))
    g = normal_like(x)
    dx = lr.rrelu_grad(g, x, training=True, seed=2024, num_threads=1)
    for threads in (2, None):
        assert_same_bits(lr.rrelu_grad(g, x, training=True, seed=2024, num_threads=threads), dx)


def test_rrelu_training_seeds_differ():
    x = -np.ones(1000)
    g = np.ones_like(x)
    seeds = [0, 1, 2, 2**32, 2**32 + 1, 2**63, 2**64 - 1]
    slopes = [lr.rrelu_grad(g, x, training=True, seed=s) for s in seeds]
    for i in range(len(seeds)):
        for j in range(i):
            # nearly every element differs, not just a few
            assert np.mean(slopes[i] == slopes[j]) < 0.01, (seeds[i], seeds[j])


@pytest.mark.parametrize("bounds", [(1 / 8, 1 / 3), (0.1, 0.3), (-0.5, 2.0), (0.25, 0.25)],
                         ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_rrelu_grad_regenerates_the_slopes(isa, dtype, bounds):
    lower, upper = bounds
    x = sample(dtype, 40_000)
    y = lr.rrelu(x, lower, upper, training=True, seed=77)
    slope = lr.rrelu_grad(np.ones_like(x), x, lower, upper, training=True, seed=77)
    positive = x > 0
    assert (slope[positive] == 1).all()
    neg = ~positive & ~np.isnan(x)
    assert (slope[neg] >= dtype(lower)).all() and (slope[neg] <= dtype(upper)).all()
    # y is x times the very slope the gradient returns, edge values included
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        assert_same_bits(y, np.where(positive, x, x * slope))
    g = normal_like(x)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        expected = np.where(np.isnan(x), x, g * slope)
    assert_same_bits(lr.rrelu_grad(g, x, lower, upper, training=True, seed=77), expected)


def _rrelu_slopes(x):
    finite = np.where(np.isnan(x), -1, x).astype(x.dtype)
    return lr.rrelu_grad(np.ones_like(x), finite, training=True, seed=3)


# Each gradient and its reference where x is not a NaN.
GRADS_WITH_A_NAN_RULE = {
    "relu_grad": (lambda g, x, out: lr.relu_grad(g, x, out=out),
                  lambda g, x: np.where(x > 0, g, 0).astype(x.dtype)),
    "leaky_relu_grad": (lambda g, x, out: lr.leaky_relu_grad(g, x, 0.2, out=out),
                        lambda g, x: np.where(x > 0, g, g * x.dtype.type(0.2))),
    "rrelu_grad training": (lambda g, x, out: lr.rrelu_grad(g, x, training=True, seed=3, out=out),
                            lambda g, x: g * _rrelu_slopes(x)),
}


@pytest.mark.parametrize("where", ["new", "over g", "over x"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("grad", GRADS_WITH_A_NAN_RULE)
def test_gradients_put_each_nan_where_its_x_is(isa, grad, dtype, where):
    # Blocks apart from x apply the NaN rule after the block (AVX2 builds): a
    # NaN x at any place (either end of a block, the tail past the last),
    # a block holding +inf and -inf but no NaN (its x's sum is a NaN),
    # signalling NaNs and NaN payloads, kept bit for bit.
    grad, reference = GRADS_WITH_A_NAN_RULE[grad]
    n = 128 * 8 + 13
    x = normal_like(np.empty(n, dtype), seed=5)
    g = normal_like(x, seed=6)
    nans = np.array([0x7FC00000, 0xFFC00001, 0x7F800001, 0x7FC12345], np.uint32).view(np.float32)
    if dtype == np.float64:
        nans = np.array([0x7FF8000000000000, 0xFFF8000000000001, 0x7FF0000000000001,
                         0x7FF8123456789ABC], np.uint64).view(np.float64)
    places = [0, 63, 64 + 128, 127 + 128, 255, 256, 5 + 512, 300 + 512, n - 1]
    x[places] = np.resize(nans, len(places))
    x[6 * 128 + 10], x[6 * 128 + 100] = np.inf, -np.inf
    x[7 * 128:7 * 128 + 64] = np.nan
    x_in, g_in = x.copy(), g.copy()
    with np.errstate(invalid="ignore"):
        expected = np.where(np.isnan(x), x, reference(g, x))
    got = grad(g, x, {"new": None, "over g": g, "over x": x}[where])
    assert_same_bits(got, expected)
    if where != "over g":
        assert_same_bits(g, g_in)
    if where != "over x":
        assert_same_bits(x, x_in)


@pytest.mark.parametrize("dtype", FLOATS)
def test_rrelu_slopes_stay_within_the_bounds(dtype):
    # Rounding lower + step * u must not step past upper: 10**6 draws reach
    # the top of the 2**16-point grid (and its bottom) many times over.
    x = -np.ones(10**6, dtype)
    g = np.ones_like(x)
    one = dtype(1)
    bounds = [(-1.06, -0.97), (0.3, 0.42), (0.54, 0.84), (-3e38, 3e37), (0.0, 1e-30),
              (float(np.nextafter(one, dtype(0))), 1.0),
              (1.0, float(np.nextafter(np.nextafter(one, dtype(2)), dtype(2))))]
    for lower, upper in bounds:
        for seed in range(4):
            slope = lr.rrelu_grad(g, x, lower, upper, training=True, seed=seed)
            assert slope.max() <= dtype(upper), (lower, upper, seed, slope.max())
            assert slope.min() == dtype(lower), (lower, upper, seed, slope.min())


def test_rrelu_training_same_for_every_kernel_build():
    # A seed must give the same slopes on every CPU, so that training is
    # reproducible from one machine to another.
    for dtype in FLOATS:
        x = -np.ones(20_000, dtype)
        g = np.ones_like(x)
        slopes = on_every_build(lambda: lr.rrelu_grad(g, x, 0.1, 0.3, training=True, seed=9))
        for isa, got in slopes.items():
            assert_same_bits(got, next(iter(slopes.values())))


def test_an_unimportable_build_names_its_reason(monkeypatch):
    # With no build importable, the import of the package raises the baseline
    # build's own ImportError (say, an undefined symbol), not an IndexError.
    real = _dispatch.importlib.import_module

    def import_module(name, *args):
        if name.startswith("leakyrelu._kernels_"):
            raise ImportError(f"{name}: undefined symbol: PyDataMem_SetHandler")
        return real(name, *args)

    monkeypatch.delenv("LEAKYRELU_CPU", raising=False)
    monkeypatch.setattr(_dispatch.importlib, "import_module", import_module)
    with pytest.raises(ImportError, match="_kernels_baseline: undefined symbol"):
        _dispatch._initial()


def reference_rrelu_slopes(seed, n, lower, upper, dtype, first=0):
    """The documented noise stream (docs/performance.md), from reference.py."""
    return ref.rrelu_slopes(first + np.arange(n, dtype=np.uint64), *ref.rrelu_keys(seed),
                            lower, upper, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("seed", [0, 5, 2**32 + 7, 2**64 - 1])
def test_rrelu_training_stream_is_the_documented_one(isa, dtype, seed):
    x = -np.ones((3, 5000), dtype)
    slope = lr.rrelu_grad(np.ones_like(x), x, 0.1, 0.3, training=True, seed=seed)
    expected = reference_rrelu_slopes(seed, x.size, 0.1, 0.3, dtype).reshape(x.shape)
    assert_same_bits(slope, expected)


def test_rrelu_training_seeds_are_not_reorderings_of_one_stream():
    # Keys mixed in by xor alone would make one seed's stream a permutation
    # (blocks swapped) of another's: the same 32-bit hashes in another order.
    # Each hash gives elements k and 64 + k of a block of 128 16 bits each.
    x = -np.ones(2**16)
    hashes = []
    for seed in (1, 2):
        s = lr.rrelu_grad(np.ones_like(x), x, 0.0, 1.0, training=True, seed=seed)
        bits = (s * 2**16).astype(np.int64).reshape(-1, 2, 64)   # step 2**-16 exactly
        hashes.append(bits[:, 0] | bits[:, 1] << 16)
    shared = np.intersect1d(hashes[0], hashes[1]).size
    # Independent hashes share about 2**15 * 2**15 / 2**32 = 0.25 values.
    assert shared < 8, shared


def chi_square_p_ok(counts):
    """Whether equal-probability bin counts pass a chi-square test at p = 0.001."""
    if stats is not None:
        return stats.chisquare(counts).pvalue > 1e-3
    expected = counts.sum() / counts.size
    statistic = np.sum((counts - expected) ** 2 / expected)
    assert counts.size == 20
    return statistic < 43.82  # chi-square critical value, 19 degrees of freedom, p = 0.001


@pytest.mark.parametrize("bounds", [(1 / 8, 1 / 3), (-0.5, 2.0)], ids=str)
@pytest.mark.parametrize("dtype", FLOATS)
def test_rrelu_slopes_are_uniform(dtype, bounds):
    lower, upper = bounds
    n = 10**6
    x = -np.ones(n, dtype)
    s = lr.rrelu_grad(np.ones_like(x), x, lower, upper, training=True, seed=123456789)
    s = s.astype(np.float64)
    lo, hi = float(dtype(lower)), float(dtype(upper))
    assert s.min() >= lo and s.max() <= hi
    # both ends of the range are reached
    assert s.min() < lower + 1e-4 * (upper - lower) and s.max() > upper - 1e-4 * (upper - lower)
    sd = (upper - lower) / np.sqrt(12)
    assert abs(s.mean() - (lower + upper) / 2) < 4 * sd / np.sqrt(n)
    assert s.var() == pytest.approx(sd**2, rel=0.01)
    counts, _ = np.histogram(s, bins=20, range=(lo, hi))
    assert counts.sum() == n
    assert chi_square_p_ok(counts)
    # neighbours, and the same element under neighbouring seeds, are uncorrelated
    assert abs(np.corrcoef(s[:-1], s[1:])[0, 1]) < 0.01
    other = lr.rrelu_grad(np.ones_like(x), x, lower, upper, training=True, seed=123456790)
    assert abs(np.corrcoef(s, other)[0, 1]) < 0.01


# ---------------------------------------------------------------- thread counts


# Every function as f(x, g, num_threads) on a flat array of LARGE elements.
THREADED = {
    "relu": lambda x, g, t: lr.relu(x, num_threads=t),
    "relu_grad": lambda x, g, t: lr.relu_grad(g, x, num_threads=t),
    "leaky_relu": lambda x, g, t: lr.leaky_relu(x, 0.1, num_threads=t),
    "leaky_relu_grad": lambda x, g, t: lr.leaky_relu_grad(g, x, 0.1, num_threads=t),
    "prelu_scalar": lambda x, g, t: lr.prelu(x, 0.2, num_threads=t),
    "prelu_channels_first": lambda x, g, t: lr.prelu(
        x.reshape(7, 13, -1), np.linspace(0, 1, 13).astype(x.dtype), num_threads=t),
    "prelu_channels_last": lambda x, g, t: lr.prelu(
        x.reshape(-1, 7), np.linspace(0, 1, 7).astype(x.dtype), axis=-1, num_threads=t),
    "prelu_grad": lambda x, g, t: lr.prelu_grad(
        g.reshape(7, 13, -1), x.reshape(7, 13, -1), np.linspace(0, 1, 13).astype(x.dtype),
        num_threads=t)[0],
    "rrelu_eval": lambda x, g, t: lr.rrelu(x, num_threads=t),
    "rrelu_eval_grad": lambda x, g, t: lr.rrelu_grad(g, x, num_threads=t),
    "rrelu_training": lambda x, g, t: lr.rrelu(x, training=True, seed=8, num_threads=t),
    "rrelu_training_grad": lambda x, g, t: lr.rrelu_grad(g, x, training=True, seed=8,
                                                         num_threads=t),
}


@requires_parallel
@pytest.mark.parametrize("name", THREADED)
@pytest.mark.parametrize("dtype", FLOATS)
def test_same_result_for_every_thread_count(dtype, name):
    function = THREADED[name]
    x = sample(dtype, LARGE)
    assert x.nbytes > 3 * _dispatch.kernels.SERIAL_THRESHOLD_BYTES
    g = normal_like(x)
    with np.errstate(all="ignore"):  # prelu's weight sums overflow on the edge values
        serial = function(x, g, 1)
        for threads in (2, None):
            assert_same_bits(function(x, g, threads), serial)
