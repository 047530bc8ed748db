"""elu, celu and selu, forward and gradient: accuracy, edge values, conventions.

The documented bound is 2 ulp for the forward and 4 ulp for the gradients,
both against PyTorch's CPU kernels and against a wide-precision reference
(float64 math for float32, long double for float64; see ``reference.py``).
The accuracy tests measure it on one 10**6-point array per dtype, built once
per module, and keep the largest distance seen; run with ``-s`` to print
the table at the end of the module.
"""
import dataclasses
import math

import numpy as np
import pytest

import leakyrelu as lr
import reference
from cases import requires_parallel
from reference import SELU_ALPHA, SELU_SCALE, ulp_distance

FORWARD_ULP = 2
GRAD_ULP = 4
DTYPES = [np.float32, np.float64]


@dataclasses.dataclass(frozen=True)
class Case:
    """One function of the family with one alpha (None: selu's fixed constants)."""
    name: str
    alpha: float = None

    def __str__(self):
        return self.name if self.alpha is None else f"{self.name}({self.alpha:g})"

    @property
    def torch_params(self):
        """(alpha, scale, input_scale) as aten.elu_backward takes them."""
        if self.name == "elu":
            return self.alpha, 1.0, 1.0
        if self.name == "celu":
            return self.alpha, 1.0, 1.0 / self.alpha
        return SELU_ALPHA, SELU_SCALE, 1.0

    def coefficients(self, dtype):
        return reference.elu_coefficients(dtype, *self.torch_params)

    def _args(self):
        return () if self.alpha is None else (self.alpha,)

    def forward(self, x, **kwargs):
        return getattr(lr, self.name)(x, *self._args(), **kwargs)

    def grad(self, g, x, **kwargs):
        return getattr(lr, self.name + "_grad")(g, x, *self._args(), **kwargs)

    def torch_forward(self, torch, x):
        F = torch.nn.functional
        t = torch.from_numpy(x)
        y = F.selu(t) if self.name == "selu" else getattr(F, self.name)(t, self.alpha)
        return y.numpy()

    def torch_grad(self, torch, g, x, from_output):
        out = torch.ops.aten.elu_backward(torch.from_numpy(g), *self.torch_params,
                                          from_output, torch.from_numpy(x))
        return out.numpy()


CASES = [Case("elu", 1.0), Case("elu", 0.5), Case("elu", 2.0),
         Case("celu", 1.0), Case("celu", 2.0), Case("celu", 0.3), Case("selu")]
# The six public functions at their defaults, for the calling conventions.
DEFAULTS = [Case("elu", 1.0), Case("celu", 1.0), Case("selu")]
DIRECTIONS = ["input", "output"]


def test_ulp_distance():
    for dtype in (np.float16, np.float32, np.float64):
        t = np.dtype(dtype).type
        one, tiny = t(1), np.finfo(dtype).smallest_subnormal
        a = np.array([one, 0.0, -0.0, tiny, -tiny, np.inf, np.nan, np.nan, one], dtype)
        b = np.array([np.nextafter(one, t(2)), -0.0, 0.0, -tiny, tiny, -np.inf, np.nan, one,
                      np.nan], dtype)
        bits = 8 * np.dtype(dtype).itemsize
        mantissa = np.finfo(dtype).nmant
        inf_steps = ((1 << (bits - 1)) - (1 << mantissa)) * 2   # +inf to -inf
        expected = [1, 0, 0, 2, 2, inf_steps, 0, reference.NAN_MISMATCH, reference.NAN_MISMATCH]
        assert ulp_distance(a, b).tolist() == expected
        assert ulp_distance(b, a).tolist() == expected


# ---------------------------------------------------------------- accuracy

def _accuracy_points(dtype, rng):
    """10**6 points plus special values, shuffled so that they meet every lane and tail."""
    finfo = np.finfo(dtype)
    near_zero = rng.choice([-1.0, 1.0], 200_000) * 10 ** rng.uniform(-8, -1, 200_000)
    large_negative = -10 ** rng.uniform(math.log10(20), 4, 150_000)
    subnormal = (rng.choice([-1.0, 1.0], 50_000) * rng.uniform(0, 1, 50_000)
                 * float(finfo.smallest_normal))
    tiny, huge = float(finfo.smallest_subnormal), float(finfo.max)
    special = np.repeat([0.0, -0.0, np.inf, -np.inf, np.nan, tiny, -tiny, huge, -huge], 100)
    x = np.concatenate([rng.uniform(-20, 5, 600_000), near_zero, large_negative,
                        subnormal.astype(dtype), special]).astype(dtype)
    assert np.count_nonzero((x != 0) & (np.abs(x) < finfo.smallest_normal)) > 40_000
    return rng.permutation(x)


class Points:
    """The accuracy data of one module run, with references computed on first use."""

    def __init__(self):
        self._cache = {}

    def _get(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def x(self, dtype):
        return self._get(("x", dtype), lambda: _accuracy_points(dtype, np.random.default_rng(2024)))

    def g(self, dtype):
        def make():
            rng = np.random.default_rng(7)
            n = self.x(dtype).size
            return (rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)).astype(dtype)
        return self._get(("g", dtype), make)

    def reference_forward(self, case, dtype):
        return self._get(("ref", case, dtype), lambda: reference.elu_rounded(
            self.x(dtype), *case.coefficients(dtype)))

    def grad_input(self, case, dtype, from_output):
        """The gradient's second argument: the input, or the (reference) output."""
        return self.reference_forward(case, dtype) if from_output else self.x(dtype)

    def reference_grad(self, case, dtype, from_output):
        def compute():
            function = (reference.elu_grad_from_output_rounded if from_output
                        else reference.elu_grad_rounded)
            return function(self.g(dtype), self.grad_input(case, dtype, from_output),
                            *case.coefficients(dtype))
        return self._get(("refgrad", case, dtype, from_output), compute)

    def torch_forward(self, torch, case, dtype):
        return self._get(("torch", case, dtype),
                         lambda: case.torch_forward(torch, self.x(dtype)))

    def torch_grad(self, torch, case, dtype, from_output):
        return self._get(("torchgrad", case, dtype, from_output), lambda: case.torch_grad(
            torch, self.g(dtype), self.grad_input(case, dtype, from_output), from_output))


# The largest distance seen per (function, dtype, direction, against), over every kernel build.
MAX_ULP = {}


@pytest.fixture(scope="module")
def points():
    yield Points()
    if MAX_ULP:
        print("\nmax ulp distance of elu/celu/selu (over every kernel build tested)")
        print(f"{'function':12} {'dtype':8} {'direction':22} {'vs torch':>9} {'vs reference':>13}")
        for (case, dtype, direction) in sorted({k[:3] for k in MAX_ULP}):
            row = [MAX_ULP.get((case, dtype, direction, against), "-")
                   for against in ("torch", "reference")]
            print(f"{case:12} {dtype:8} {direction:22} {row[0]:>9} {row[1]:>13}")


@pytest.fixture(scope="module")
def torch1():
    """PyTorch on one thread, for the module-wide references (conftest's torch_ref is per test)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def _check_accuracy(result, expected, bound, key, ignore=None):
    d = ulp_distance(result, expected)
    if ignore is not None:
        d[ignore] = 0
    worst = int(d.max())
    MAX_ULP[key] = max(MAX_ULP.get(key, 0), worst)
    if worst > bound:
        i = int(np.argmax(d))
        pytest.fail(f"{key}: {worst} ulp > {bound} at element {i}: "
                    f"got {result[i]!r}, expected {expected[i]!r}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=str)
class TestAccuracy:
    def test_forward_vs_torch(self, isa, case, dtype, points, torch1):
        y = case.forward(points.x(dtype))
        _check_accuracy(y, points.torch_forward(torch1, case, dtype), FORWARD_ULP,
                        (str(case), np.dtype(dtype).name, "forward", "torch"))

    def test_forward_vs_reference(self, isa, case, dtype, points):
        y = case.forward(points.x(dtype))
        _check_accuracy(y, points.reference_forward(case, dtype), FORWARD_ULP,
                        (str(case), np.dtype(dtype).name, "forward", "reference"))

    @pytest.mark.parametrize("direction", DIRECTIONS)
    def test_grad_vs_torch(self, isa, case, dtype, direction, points, torch1):
        from_output = direction == "output"
        x = points.grad_input(case, dtype, from_output)
        d = case.grad(points.g(dtype), x, from_output=from_output)
        # PyTorch's gradient at NaN depends on the element's position; ours is NaN (checked
        # against the reference).
        _check_accuracy(d, points.torch_grad(torch1, case, dtype, from_output), GRAD_ULP,
                        (str(case), np.dtype(dtype).name, f"grad from {direction}", "torch"),
                        ignore=np.isnan(x))

    @pytest.mark.parametrize("direction", DIRECTIONS)
    def test_grad_vs_reference(self, isa, case, dtype, direction, points):
        from_output = direction == "output"
        x = points.grad_input(case, dtype, from_output)
        d = case.grad(points.g(dtype), x, from_output=from_output)
        _check_accuracy(d, points.reference_grad(case, dtype, from_output), GRAD_ULP,
                        (str(case), np.dtype(dtype).name, f"grad from {direction}", "reference"))


# ---------------------------------------------------------------- edge values

EXACT_CASES = [Case("elu", 1.0), Case("elu", 0.5), Case("elu", 2.0),
               Case("celu", 1.0), Case("celu", 2.0), Case("selu")]


def _assert_identical(result, expected):
    """Same values, same NaN positions, same signs of zero."""
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)
    assert np.array_equal(np.signbit(result), np.signbit(expected))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", EXACT_CASES, ids=str)
def test_forward_edge_values(isa, case, dtype):
    negcoef, _, _ = case.coefficients(dtype)
    x = np.array([0.0, -0.0, -np.inf, np.inf, np.nan], dtype)
    # -inf gives -alpha (elu, celu) and -scale * alpha (selu), as the dtype rounds it.
    expected = np.array([0.0, -0.0, -negcoef, np.inf, np.nan], dtype)
    assert expected[2] == -(case.alpha if case.alpha is not None else
                            np.dtype(dtype).type(SELU_ALPHA) * np.dtype(dtype).type(SELU_SCALE))
    _assert_identical(case.forward(x), expected)
    for i in range(x.size):
        _assert_identical(case.forward(x[i:i + 1].reshape(())), expected[i:i + 1].reshape(()))
    _assert_identical(case.forward(np.tile(x, 21)), np.tile(expected, 21))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", EXACT_CASES, ids=str)
def test_grad_edge_values(isa, case, dtype):
    t = np.dtype(dtype).type
    negcoef, poscoef, input_scale = case.coefficients(dtype)
    # The slope at 0: alpha for elu, 1 for celu (alpha * 1/alpha), scale * alpha for selu.
    slope_at_zero = {"elu": case.alpha, "celu": 1.0, "selu": negcoef}[case.name]
    grad = t(1.5)
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype)
    g = np.array([1.0, 1.0, grad, grad, grad], dtype)
    expected = np.array([slope_at_zero, slope_at_zero, grad * poscoef, 0.0, np.nan], dtype)
    # From the output: 0 and -0 come from x = 0 and -0, -negcoef from x = -inf.
    y = np.array([0.0, -0.0, np.inf, -negcoef, np.nan], dtype)
    for from_output, inputs in ((False, x), (True, y)):
        _assert_identical(case.grad(g, inputs, from_output=from_output), expected)
        for i in range(x.size):
            one = slice(i, i + 1)
            _assert_identical(case.grad(g[one].reshape(()), inputs[one].reshape(()),
                                        from_output=from_output), expected[one].reshape(()))
        _assert_identical(case.grad(np.tile(g, 21), np.tile(inputs, 21), from_output=from_output),
                          np.tile(expected, 21))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_celu_grad_at_zero_with_inexact_alpha(isa, dtype):
    # alpha * (1/alpha) is rounded: 1 within an ulp.
    g = np.ones(40, dtype)
    for alpha in (0.3, 0.1, 3.0):
        for from_output in (False, True):
            d = lr.celu_grad(g, np.zeros(40, dtype), alpha, from_output=from_output)
            assert ulp_distance(d, np.ones_like(d)).max() <= 1, (alpha, d[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_grad_at_zero_with_negative_alpha(isa, dtype):
    # The branch at 0 is the exponential one whatever alpha's sign.
    x = np.array([0.0, -0.0] * 20, dtype)
    g = np.ones_like(x)
    _assert_identical(lr.elu_grad(g, x, -0.5), np.full_like(x, -0.5))
    _assert_identical(lr.celu_grad(g, x, -2.0), np.ones_like(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", [Case("elu", 1.0), Case("selu")], ids=str)
def test_grad_near_exp_underflow(isa, case, dtype, rng):
    # Where exp(x) is subnormal but grad_output * alpha * exp(x) is not, rounding exp(x)
    # first costs 0.5 ulp of the smallest normal times |grad_output * alpha| in the result.
    # The bound must hold for any grad_output, so exp(x) must not be rounded alone there.
    # (PyTorch rounds it alone too, which is why this compares with the reference only.)
    tiny = np.finfo(dtype).smallest_normal
    x = np.log(np.geomspace(float(tiny) / 2**10, float(tiny), 20_000)).astype(dtype)
    g = (rng.choice([-1.0, 1.0], x.size) * 10 ** rng.uniform(0, 3, x.size)).astype(dtype)
    expected = reference.elu_grad_rounded(g, x, *case.coefficients(dtype))
    d = ulp_distance(case.grad(g, x), expected)
    i = int(np.argmax(d))
    assert d[i] <= GRAD_ULP, f"x={x[i]!r}: got {case.grad(g, x)[i]!r}, expected {expected[i]!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", [Case("elu", 1.0), Case("celu", 1.0)], ids=str)
def test_grad_with_huge_grad_output_stays_finite(isa, case, dtype, rng):
    # grad_output near the largest finite value times exp(x) < 1 is finite:
    # no intermediate product may overflow on the way.
    big = np.finfo(dtype).max * 0.998
    x = -rng.uniform(0.0, 3.0, 20_000).astype(dtype)
    g = np.full_like(x, big)
    expected = reference.elu_grad_rounded(g, x, *case.coefficients(dtype))
    assert np.isfinite(expected).all()
    d = ulp_distance(case.grad(g, x), expected)
    i = int(np.argmax(d))
    assert d[i] <= GRAD_ULP, f"x={x[i]!r}: got {case.grad(g, x)[i]!r}, expected {expected[i]!r}"


# ---------------------------------------------------------------- numerical derivatives

@pytest.mark.parametrize("case", CASES, ids=str)
def test_grad_matches_central_differences(isa, case, rng):
    x = rng.uniform(-6.0, 4.0, 2000)
    x = x[np.abs(x) > 1e-3]       # the kink at 0 has no derivative for most alphas
    h = 1e-5
    numeric = (case.forward(x + h) - case.forward(x - h)) / (2 * h)
    g = rng.uniform(-2.0, 2.0, x.size)
    np.testing.assert_allclose(case.grad(np.ones_like(x), x), numeric, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(case.grad(g, x), g * numeric, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(case.grad(g, case.forward(x), from_output=True), g * numeric,
                               rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- calling conventions

def _same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _call(case, function, inputs, **kwargs):
    """Call the forward (inputs == [x]) or the gradient (inputs == [g, x])."""
    run = case.forward if function == "forward" else case.grad
    return run(*inputs, **kwargs)


def _inputs(function, rng, dtype):
    x = rng.uniform(-8.0, 4.0, (40, 25)).astype(dtype)
    x.flat[::97] = 0.0
    return [x] if function == "forward" else [rng.uniform(-2, 2, x.shape).astype(dtype), x]


FUNCTIONS = pytest.mark.parametrize("function", ["forward", "grad"])
SIX = pytest.mark.parametrize("case", DEFAULTS, ids=lambda c: c.name)


@SIX
@FUNCTIONS
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_out_none_allocates(case, function, dtype, rng):
    inputs = _inputs(function, rng, dtype)
    before = [a.copy() for a in inputs]
    result = _call(case, function, inputs)
    assert result.dtype == inputs[-1].dtype and result.shape == inputs[-1].shape
    assert not any(np.may_share_memory(result, a) for a in inputs)
    assert all(_same_bits(a, b) for a, b in zip(inputs, before))
    buffer = np.empty_like(result)
    _call(case, function, inputs, out=buffer)
    assert _same_bits(result, buffer)


@SIX
@FUNCTIONS
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_out_in_place_returns_it(case, function, dtype, rng):
    inputs = _inputs(function, rng, dtype)
    expected = _call(case, function, inputs)
    for k in range(len(inputs)):     # the gradient can overwrite g or x
        work = [a.copy() for a in inputs]
        result = _call(case, function, work, out=work[k])
        assert result is work[k]
        assert _same_bits(result, expected)


@SIX
@FUNCTIONS
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_out_buffer_returns_it(case, function, dtype, rng):
    inputs = _inputs(function, rng, dtype)
    expected = _call(case, function, inputs)
    buffer = np.full_like(expected, 7.0)
    result = _call(case, function, inputs, out=buffer)
    assert result is buffer
    assert _same_bits(buffer, expected)


@SIX
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_grad_from_output_after_in_place_forward(isa, case, dtype, rng):
    # Below about x = -0.5, y + alpha cancels and the output no longer pins the slope to
    # 2 ulp (near saturation not at all), so the comparison stays above it. A grad_output
    # of 1 keeps its rounding out of the comparison; the accuracy tests cover the rest.
    x = np.concatenate([rng.uniform(-0.5, 5.0, 20_000), [0.0, -0.0]]).astype(dtype)
    g = np.ones_like(x)
    from_input = case.grad(g, x)
    y = x.copy()
    assert case.forward(y, out=y) is y
    from_output = case.grad(g, y, from_output=True)
    assert ulp_distance(from_output, from_input).max() <= 2


@pytest.mark.parametrize("n", [1, 40])
def test_celu_grad_from_output_of_minus_inf_with_a_vanishing_grad(isa, n):
    # grad_output * input_scale * (y + alpha), left to right as in PyTorch:
    # the smallest float32 times 1/2 rounds to 0, and 0 * -inf is NaN; a
    # grad_output that survives the scale gives -inf.
    g = np.full(n, 1e-45, np.float32)
    y = np.full(n, -np.inf, np.float32)
    assert np.isnan(lr.celu_grad(g, y, 2.0, from_output=True)).all()
    assert (lr.celu_grad(g * 4, y, 2.0, from_output=True) == -np.inf).all()
    assert (lr.celu_grad(g.astype(np.float64), y.astype(np.float64), 2.0,
                         from_output=True) == -np.inf).all()


@pytest.mark.parametrize("alpha", [-1.0, -0.5, -1e-300])
def test_from_output_with_negative_alpha_raises(alpha):
    g = y = np.full(4, -0.25)
    out = np.full(4, 9.0)
    for grad in (lr.elu_grad, lr.celu_grad):
        with pytest.raises(ValueError, match="alpha"):
            grad(g, y, alpha, from_output=True, out=out)
        assert (out == 9.0).all()
        grad(g, y, alpha)    # from the input a negative alpha is fine


@pytest.mark.parametrize("alpha", [0, 0.0, -0.0, np.float32(0)])
def test_celu_alpha_zero_raises(alpha):
    x = np.full(4, -1.0)
    with pytest.raises(ValueError, match="alpha"):
        lr.celu(x, alpha)
    for from_output in (False, True):
        with pytest.raises(ValueError, match="alpha"):
            lr.celu_grad(np.ones_like(x), x, alpha, from_output=from_output)


@pytest.mark.parametrize("alpha", [np.inf, -np.inf, np.nan, np.float64(np.nan), np.float32(np.inf)])
@pytest.mark.parametrize("function", [lr.elu, lr.celu, lr.elu_grad, lr.celu_grad],
                         ids=lambda f: f.__name__)
def test_non_finite_alpha_raises(function, alpha):
    x = np.full(4, -1.0)
    args = (x,) if function in (lr.elu, lr.celu) else (np.ones_like(x), x)
    with pytest.raises(ValueError, match="alpha"):
        function(*args, alpha)


@pytest.mark.parametrize("alpha", [True, False, np.bool_(True), "1.0", b"1", None, [1.0], 1j])
@pytest.mark.parametrize("function", [lr.elu, lr.celu, lr.elu_grad, lr.celu_grad],
                         ids=lambda f: f.__name__)
def test_non_real_alpha_raises_type_error(function, alpha):
    x = np.full(4, -1.0)
    args = (x,) if function in (lr.elu, lr.celu) else (np.ones_like(x), x)
    with pytest.raises(TypeError, match="alpha"):
        function(*args, alpha)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float16_matches_torch(isa, case, torch_ref):
    # Every float16 value, computed through float32 and rounded once, as PyTorch does.
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    g = np.random.default_rng(3).uniform(-2, 2, x.size).astype(np.float16)
    with np.errstate(over="ignore"):   # selu(65504) rounds to inf
        y = case.forward(x)
    assert y.dtype == np.float16
    assert ulp_distance(y, case.torch_forward(torch_ref, x)).max() <= 1
    for from_output, inputs in ((False, x), (True, case.torch_forward(torch_ref, x))):
        d = case.grad(g, inputs, from_output=from_output)
        assert d.dtype == np.float16
        expected = case.torch_grad(torch_ref, g, inputs, from_output)
        nan = np.isnan(inputs)    # PyTorch's gradient at NaN depends on position
        assert ulp_distance(d, expected)[~nan].max() <= 1
        assert np.isnan(d[nan]).all()


# ---------------------------------------------------------------- threads

@requires_parallel
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_thread_counts_give_identical_bits(isa, case, dtype, points):
    # An odd size puts the thread boundaries and the vector tails in awkward places.
    x, g = points.x(dtype)[:100_003], points.g(dtype)[:100_003]
    y = case.forward(x, num_threads=1)
    runs = {
        "forward": lambda n: case.forward(x, num_threads=n),
        "grad": lambda n: case.grad(g, x, num_threads=n),
        "grad from output": lambda n: case.grad(g, y, from_output=True, num_threads=n),
    }
    for name, run in runs.items():
        serial = run(1)
        for threads in (2, None):
            assert _same_bits(run(threads), serial), (name, threads)
