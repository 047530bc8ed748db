"""leakyrelu.nn layers against torch.nn modules of the same configuration."""
import doctest

import numpy as np
import pytest

import leakyrelu as lr
import reference
from leakyrelu import nn

# (our layer, its arguments, torch module name, its arguments, exact)
LAYERS = {
    "ReLU": (nn.ReLU, {}, "ReLU", {}, True),
    "LeakyReLU-default": (nn.LeakyReLU, {}, "LeakyReLU", {}, True),
    "LeakyReLU": (nn.LeakyReLU, {"alpha": 0.2}, "LeakyReLU", {"negative_slope": 0.2}, True),
    "RReLU-eval": (nn.RReLU, {"lower": 0.1, "upper": 0.3}, "RReLU",
                   {"lower": 0.1, "upper": 0.3}, True),
    "ELU": (nn.ELU, {"alpha": 1.3}, "ELU", {"alpha": 1.3}, False),
    "CELU": (nn.CELU, {"alpha": 0.7}, "CELU", {"alpha": 0.7}, False),
    "SELU": (nn.SELU, {}, "SELU", {}, False),
}


def inputs(rng, dtype, shape=(4, 3, 5)):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:2] = 0.0  # the gradient's tie
    return x, rng.standard_normal(shape).astype(dtype)


def assert_close(ours, theirs, exact, dtype):
    if exact:
        np.testing.assert_array_equal(ours, theirs)
    else:  # the exp family: a few ulp from PyTorch, as the functions document
        np.testing.assert_allclose(ours, theirs, rtol=4 * np.finfo(dtype).eps,
                                   atol=np.finfo(dtype).tiny)


def torch_run(torch, module, x, g):
    """Forward and backward through a torch module; returns (y, grad_x)."""
    leaf = torch.tensor(x, requires_grad=True)
    y = module(leaf.clone())  # a clone, so in-place modules may write over it
    y.backward(torch.from_numpy(g))
    return y.detach().numpy(), leaf.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True], ids=["out-of-place", "inplace"])
@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch(torch_ref, rng, name, inplace, dtype):
    ours, kwargs, torch_name, torch_kwargs, exact = LAYERS[name]
    layer = ours(inplace=inplace, **kwargs)
    module = getattr(torch_ref.nn, torch_name)(inplace=inplace, **torch_kwargs)
    if name.startswith("RReLU"):
        layer.eval()
        module.eval()
    x, g = inputs(rng, dtype)
    expected_y, expected_dx = torch_run(torch_ref, module, x, g)
    x_in = x.copy()
    y = layer(x_in)
    assert (y is x_in) == inplace
    assert y.dtype == dtype
    dx = layer.backward(g)
    assert dx.dtype == dtype
    assert_close(y, expected_y, exact, dtype)
    if name == "CELU" and dtype == np.float64:
        # torch's celu backward uses 1 / float32(alpha) as the input scale, so it is
        # off by ~1e-8 relative in float64; check ours against the exact formula too
        np.testing.assert_allclose(dx, expected_dx, rtol=1e-7)
        alpha = kwargs["alpha"]
        np.testing.assert_allclose(dx, reference.elu_grad(g, x, alpha, 1.0, 1 / alpha),
                                   rtol=4 * np.finfo(dtype).eps)
    else:
        assert_close(dx, expected_dx, exact, dtype)
    np.testing.assert_array_equal(layer.backward(g), dx)  # backward can repeat


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_matches_torch_with_weight_grad_accumulation(torch_ref, rng, num_parameters,
                                                           dtype):
    layer = nn.PReLU(num_parameters=num_parameters, init=0.3)
    module = torch_ref.nn.PReLU(num_parameters=num_parameters, init=0.3).to(
        getattr(torch_ref, np.dtype(dtype).name))
    with torch_ref.no_grad():  # torch rounds init to float32 before any .to(float64)
        module.weight.copy_(torch_ref.from_numpy(layer.weight))
    assert layer.weight.dtype == np.float64 and layer.weight.shape == (num_parameters,)
    for step in range(2):  # two backward calls: the weight gradient accumulates
        x, g = inputs(rng, dtype)
        expected_y, expected_dx = torch_run(torch_ref, module, x, g)
        y = layer(x)
        dx = layer.backward(g)
        np.testing.assert_array_equal(y, expected_y)
        np.testing.assert_array_equal(dx, expected_dx)
        expected_dw = module.weight.grad.double().numpy()
        assert layer.weight_grad.shape == expected_dw.shape
        np.testing.assert_allclose(layer.weight_grad, expected_dw,
                                   rtol=8 * np.finfo(dtype).eps)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.weight_grad, np.zeros(num_parameters))


def test_prelu_weight_updates_and_axis(rng):
    x, g = inputs(rng, np.float64, (4, 5, 3))
    layer = nn.PReLU(num_parameters=3, init=0.1, axis=-1)
    layer.weight[:] = [0.1, -0.2, 0.5]
    y = layer(x)
    np.testing.assert_array_equal(y, lr.prelu(x, layer.weight, axis=-1))
    dx = layer.backward(g)
    expected_dx, expected_dw = lr.prelu_grad(g, x, layer.weight, axis=-1)
    np.testing.assert_array_equal(dx, expected_dx)
    np.testing.assert_array_equal(layer.weight_grad, expected_dw)
    # Independent formula for the weight gradient
    np.testing.assert_allclose(layer.weight_grad,
                               np.where(x > 0, 0.0, g * x).sum(axis=(0, 1)), rtol=1e-12)


def test_prelu_float32_input_with_float64_weight(rng):
    x, g = inputs(rng, np.float32)
    layer = nn.PReLU(num_parameters=3, init=0.1)
    y = layer(x)
    assert y.dtype == np.float32 and layer.weight.dtype == np.float64
    layer.backward(g)
    assert layer.weight_grad.dtype == np.float64
    np.testing.assert_array_equal(layer.weight_grad,
                                  lr.prelu_grad(g, x, np.full(3, 0.1, np.float32))[1])
    layer32 = nn.PReLU(num_parameters=3, dtype=np.float32)
    assert layer32.weight.dtype == layer32.weight_grad.dtype == np.float32


@pytest.mark.parametrize("inplace", [False, True], ids=["out-of-place", "inplace"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rrelu_training(rng, inplace, dtype):
    lower, upper = 0.1, 0.3
    layer = nn.RReLU(lower, upper, inplace=inplace, seed=11)
    assert layer.training
    x, g = inputs(rng, dtype, (50, 40))
    y = layer(x.copy())
    seed = layer.last_seed
    assert isinstance(seed, int) and 0 <= seed < 2**64
    # The slope of each element, from the gradient of a unit upstream gradient
    slopes = lr.rrelu_grad(np.ones_like(x), x, lower, upper, training=True, seed=seed)
    neg = x <= 0
    assert np.all(slopes[~neg] == 1)
    assert slopes[neg].min() >= np.float32(lower) and slopes[neg].max() <= np.float32(upper)
    assert slopes[neg].std() > 0.04  # uniform on [0.1, 0.3] has std 0.058
    np.testing.assert_array_equal(y, np.where(neg, x * slopes, x))
    dx = layer.backward(g)
    np.testing.assert_array_equal(dx, g * slopes)
    # Consistent with the forward: a second forward on the same data draws new slopes
    y2 = layer(x.copy())
    assert layer.last_seed != seed and not np.array_equal(y2, y)
    np.testing.assert_allclose(layer.backward(g) * x, g * y2, rtol=4 * np.finfo(dtype).eps)
    # No noise array is kept: the only array the layer holds is its cached input or output
    arrays = [v for v in vars(layer).values() if isinstance(v, np.ndarray)]
    assert len(arrays) == 1 and arrays[0].shape == x.shape


def test_rrelu_same_seed_same_stream_and_inplace_agrees(rng):
    x, g = inputs(rng, np.float64, (30, 20))
    a, b = nn.RReLU(seed=5), nn.RReLU(inplace=True, seed=5)
    for _ in range(3):
        ya = a(x)
        yb = b(x.copy())
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(a.backward(g), b.backward(g))


def test_rrelu_backward_follows_the_mode_of_its_forward(rng):
    x, g = inputs(rng, np.float64)
    layer = nn.RReLU(0.1, 0.3, seed=1)
    layer(x)
    trained = layer.backward(g)
    layer.eval()
    assert not layer.training
    np.testing.assert_array_equal(layer.backward(g), trained)
    layer(x)
    assert layer.last_seed is None
    np.testing.assert_array_equal(layer.backward(g), np.where(x > 0, g, 0.2 * g))
    assert layer.train() is layer and layer.training


def test_rrelu_training_matches_torch_statistics(torch_ref, rng):
    # torch's random stream differs; compare what both promise: y = a * x, a in range
    x = -np.abs(rng.standard_normal(20000)) - 0.1
    torch_y = torch_ref.nn.RReLU(0.1, 0.3).train()(torch_ref.from_numpy(x)).numpy()
    ours_y = nn.RReLU(0.1, 0.3, seed=3)(x)
    for y in (torch_y, ours_y):
        slopes = y / x
        assert 0.1 - 1e-12 <= slopes.min() and slopes.max() <= 0.3 + 1e-12
        assert abs(slopes.mean() - 0.2) < 0.005


def test_layers_keep_float16(rng):
    x, g = inputs(rng, np.float16)
    for layer in (nn.ReLU(), nn.LeakyReLU(), nn.ELU(), nn.CELU(), nn.SELU(), nn.RReLU(seed=0),
                  nn.PReLU(3)):
        assert layer(x).dtype == np.float16
        assert layer.backward(g).dtype == np.float16


def test_inplace_elu_uses_the_output(rng):
    # After an in-place forward the input is gone; the gradient must come from the output
    x, g = inputs(rng, np.float64)
    expected = lr.elu_grad(g, x, 1.3)
    layer = nn.ELU(1.3, inplace=True)
    layer(x)
    np.testing.assert_allclose(layer.backward(g), expected, rtol=1e-15)


def test_errors():
    for layer in (nn.ReLU(), nn.PReLU(), nn.RReLU()):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.ones(2))
    with pytest.raises(ValueError, match="inplace"):
        nn.LeakyReLU(-0.1, inplace=True)
    with pytest.raises(ValueError, match="inplace"):
        nn.ELU(-1.0, inplace=True)
    with pytest.raises(ValueError, match="inplace"):
        nn.RReLU(-0.1, 0.2, inplace=True)
    with pytest.raises(ValueError, match="nonzero"):
        nn.CELU(0.0)
    with pytest.raises(ValueError, match="lower"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match="num_parameters"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="channels"):
        nn.PReLU(3)(np.ones((2, 4)))
    with pytest.raises(TypeError, match="array-like of numbers"):
        nn.ReLU()(["1.0", "-1.0"])
    nn.LeakyReLU(-0.1)  # a negative slope is fine out of place


def test_repr():
    assert repr(nn.LeakyReLU(0.2, inplace=True)) == "LeakyReLU(alpha=0.2, inplace=True)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3, axis=1)"
    assert repr(nn.ReLU()) == "ReLU()"


def test_docstring_examples():
    assert lr.nn is nn
    for name in nn.__all__[1:]:
        assert "Examples" in getattr(nn, name).__doc__, name
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(nn)
    assert len([t for t in tests if t.examples]) >= 7
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_prelu_backward_uses_the_weight_of_its_forward(rng):
    x, g = inputs(rng, np.float64)
    layer = nn.PReLU(3, init=0.2)
    layer(x)
    layer.weight -= 0.1  # an optimiser step before backward
    dx = layer.backward(g)
    np.testing.assert_array_equal(dx, np.where(x > 0, g, 0.2 * g))


# ---------------------------------------------------------------- reuse_buffers

REUSABLE = {
    "ReLU": lambda **kw: nn.ReLU(**kw),
    "LeakyReLU": lambda **kw: nn.LeakyReLU(0.2, **kw),
    "ELU": lambda **kw: nn.ELU(1.3, **kw),
    "CELU": lambda **kw: nn.CELU(0.7, **kw),
    "SELU": lambda **kw: nn.SELU(**kw),
    "RReLU": lambda **kw: nn.RReLU(0.1, 0.3, seed=4, **kw),
    "PReLU": lambda **kw: nn.PReLU(3, init=0.3, **kw),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", REUSABLE)
def test_reuse_buffers_gives_the_same_results(rng, name, dtype):
    plain, reusing = REUSABLE[name](), REUSABLE[name](reuse_buffers=True)
    assert reusing.reuse_buffers and not plain.reuse_buffers
    outputs, grads = [], []
    for step in range(3):
        x, g = inputs(rng, dtype)
        y, y_plain = reusing(x), plain(x)
        np.testing.assert_array_equal(y, y_plain)
        dx, dx_plain = reusing.backward(g), plain.backward(g)
        np.testing.assert_array_equal(dx, dx_plain)
        outputs.append(y)
        grads.append(dx)
    # the same arrays every call: nothing allocated after the first
    assert outputs[0] is outputs[1] is outputs[2]
    assert grads[0] is grads[1] is grads[2]
    if name == "PReLU":
        np.testing.assert_array_equal(reusing.weight_grad, plain.weight_grad)


@pytest.mark.parametrize("name", REUSABLE)
def test_reuse_buffers_with_aliased_and_changing_inputs(rng, name):
    reusing, plain = REUSABLE[name](reuse_buffers=True), REUSABLE[name]()
    x, g = inputs(rng, np.float64)
    y = reusing(x)
    # the layer applied to its own output: a fresh buffer, and backward still
    # differentiates that call (its input, y, is not overwritten)
    y_plain = plain(plain(x).copy())
    y2 = reusing(y)
    assert not np.may_share_memory(y2, y)
    np.testing.assert_array_equal(y2, y_plain)
    np.testing.assert_array_equal(reusing.backward(g), plain.backward(g))
    # a gradient passed back in as grad_output
    dx = reusing.backward(g.copy())
    dx_plain = plain.backward(dx.copy())
    np.testing.assert_array_equal(reusing.backward(dx), dx_plain)
    # a new shape, dtype or memory order: new arrays, right values
    for x_new in (rng.standard_normal((2, 3, 7)), rng.standard_normal((4, 3, 5)).astype(np.float32),
                  rng.standard_normal((4, 3, 10))[:, :, ::2], np.asfortranarray(x)):
        y_new = reusing(x_new)
        np.testing.assert_array_equal(y_new, plain(x_new))
        g_new = rng.standard_normal(x_new.shape).astype(x_new.dtype)
        np.testing.assert_array_equal(reusing.backward(g_new), plain.backward(g_new))


def test_reuse_buffers_off_allocates_each_call(rng):
    layer = nn.LeakyReLU()
    x, g = inputs(rng, np.float32)
    assert layer(x) is not layer(x)
    assert layer.backward(g) is not layer.backward(g)
