"""Every public function as a row of data: how to call it, what it must return.

Shared by test_conventions.py, test_bad_input.py and test_properties.py. A
row builds a call from a list of arrays (``[x]`` or ``[grad_output, x]``)
and a dict of keyword parameters, and checks a result against the NumPy
formulas of reference.py:

- relu, leaky_relu, prelu, rrelu in evaluation and their gradients must
  match bit for bit (any NaN matches any NaN);
- elu, celu, selu and their gradients must match to a relative tolerance
  (plus an absolute one where a result or an intermediate is subnormal);
- rrelu in training draws random slopes, so it must equal the same call on
  C-contiguous copies and lie between the results of its two bounds.

float16 is computed through float32, so its reference is the float32
reference rounded to float16.
"""
import dataclasses
import math
import tracemalloc
from typing import Callable

import numpy as np

import leakyrelu as lr
import reference as R
from leakyrelu import _dispatch

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
FLOATS = (F16, F32, F64)
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}

# Relative tolerance of elu, celu and selu against their reference.
EXP_RTOL = {F16: 2e-3, F32: 1e-6, F64: 1e-14}


def working(dtype):
    """The dtype the kernels compute in."""
    dtype = np.dtype(dtype)
    return F32 if dtype == F16 else dtype


# ---------------------------------------------------------------- comparisons

def _mismatches(mask, actual, expected):
    idx = np.argwhere(mask)[:5]
    rows = [f"  at {tuple(int(i) for i in ix)}: got {actual[tuple(ix)]!r}, "
            f"expected {expected[tuple(ix)]!r}" for ix in idx]
    return f"{int(mask.sum())} of {mask.size} elements differ:\n" + "\n".join(rows)


def assert_same_bits(actual, expected, where=None):
    """Same dtype, shape and bits (so -0.0 differs from 0.0); any NaN matches any NaN.

    ``where`` (a boolean mask) restricts the comparison to some elements.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if where is not None:
        actual, expected = actual[where], expected[where]
    a, e = np.ascontiguousarray(actual), np.ascontiguousarray(expected)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    bits = UINT[a.dtype.itemsize]
    bad = (nan_a != nan_e) | (~nan_a & (a.view(bits) != e.view(bits)))
    assert not bad.any(), _mismatches(bad, a, e)


def _beyond_range(a, dtype):
    """Values as long doubles, infinities replaced by the first power of two past the range."""
    wide = a.astype(np.longdouble)
    edge = np.ldexp(np.longdouble(1), np.finfo(dtype).maxexp)
    return np.where(np.isinf(wide), np.copysign(edge, wide), wide)


def assert_within(actual, expected, bound):
    """|actual - expected| <= bound elementwise; NaN exactly where expected is NaN.

    An infinity counts as the first power of two past the dtype's range, so
    inf is accepted only against a result at the very top of the range.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    with np.errstate(invalid="ignore"):
        err = np.abs(_beyond_range(actual, actual.dtype) - _beyond_range(expected, actual.dtype))
        bad = (nan_a != nan_e) | (~nan_e & ~(err <= np.broadcast_to(bound, err.shape)))
    assert not bad.any(), _mismatches(bad, actual, expected)


def allocated_peak(call, *args, **kwargs):
    """The peak of memory allocated during ``call(*args, **kwargs)`` (after one warm-up call)."""
    call(*args, **kwargs)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def past_a_line(shape, dtype, offset):
    """Zeros of `shape` whose data starts `offset` elements past a 64-byte cache line."""
    size = int(np.prod(shape))
    buffer = np.zeros(size + 64, dtype)
    start = (-buffer.ctypes.data // buffer.itemsize) % (64 // buffer.itemsize) + offset
    return buffer[start:start + size].reshape(shape)


def unaligned_copy(a):
    """A writeable C-contiguous copy of ``a`` whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + a.itemsize, np.uint8)
    start = 1 if raw.ctypes.data % a.itemsize == 0 else 0
    b = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    b[...] = a
    assert not b.flags.aligned and b.flags.writeable
    return b


def snapshot(arrays):
    """Copies of the arrays, to show later that they were not touched."""
    return [np.array(a, copy=True) for a in arrays]


def native_copies(arrays):
    """C-contiguous copies in native byte order: the values a call should see."""
    return [np.array(a, dtype=a.dtype.newbyteorder("="), order="C") for a in arrays]


# ---------------------------------------------------------------- references

@dataclasses.dataclass
class Want:
    """A reference result: exact unless ``atol`` is given (then to EXP_RTOL + atol).

    For prelu_grad, ``weight`` holds (float64 sum, bound on its rounding error).
    """
    value: np.ndarray
    atol: np.ndarray = None
    weight: tuple = None
    free: np.ndarray = None    # elements whose value the floating-point format leaves open


def _through_working(formula):
    """A reference computed in the working dtype and rounded once to the input's dtype."""
    def expected(arrays, params):
        dtype = arrays[-1].dtype
        work = [a.astype(working(dtype)) for a in arrays]
        with np.errstate(over="ignore"):    # float16 results may overflow to inf
            return Want(np.asarray(formula(*work, **params)).astype(dtype))
    return expected


def _rrelu_eval(x, lower=1 / 8, upper=1 / 3, training=False, seed=None):
    return R.leaky_relu(x, (lower + upper) / 2)


def _rrelu_eval_grad(g, x, lower=1 / 8, upper=1 / 3, training=False, seed=None,
                     from_output=False):
    return R.leaky_relu_grad(g, x, (lower + upper) / 2)


def _weight_values(weight, dtype):
    """prelu's weight as the kernels use it: in x's dtype, then the working dtype."""
    return np.asarray(weight, dtype=dtype).astype(working(dtype)).reshape(-1)


def _along(w, ndim, axis):
    """A 1-D weight shaped to broadcast along ``axis`` (a scalar when it has one value)."""
    if w.size == 1:
        return w.reshape(())
    shape = [1] * ndim
    shape[axis] = w.size
    return w.reshape(shape)


def _prelu_expected(arrays, params):
    (x,) = arrays
    w = _weight_values(params["weight"], x.dtype)
    value = R.prelu(x.astype(working(x.dtype)), w, params.get("axis", 1))
    with np.errstate(over="ignore"):
        return Want(value.astype(x.dtype))


def _prelu_grad_expected(arrays, params):
    g, x = arrays
    axis = params.get("axis", 1)
    w = _along(_weight_values(params["weight"], x.dtype), x.ndim, axis)
    work = working(x.dtype)
    with np.errstate(over="ignore"):
        grad_x = R.leaky_relu_grad(g.astype(work), x.astype(work), w).astype(x.dtype)
    # The weight gradient: g * x over x <= 0 (NaN included), each product
    # rounded to the working dtype (as PyTorch computes it), summed in float64
    # over every axis but the channel axis.
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        terms = np.where(x > 0, 0.0, (x.astype(work) * g.astype(work)).astype(F64))
    others = tuple(i for i in range(x.ndim) if w.ndim == 0 or i != axis % x.ndim)
    total = terms.sum(axis=others)
    count = math.prod(x.shape[i] for i in others)
    # Any summation order is within count * eps * sum(|terms|) of any other.
    with np.errstate(invalid="ignore", over="ignore"):
        bound = (count + 1) * np.finfo(F64).eps * np.abs(terms).sum(axis=others)
    shape = np.shape(params["weight"])
    return Want(grad_x, weight=(total.reshape(shape), bound.reshape(shape)))


def _tiny(dtype):
    return np.longdouble(np.finfo(dtype).smallest_subnormal)


def _exp_expected(coefficients, gradient):
    """Reference for elu, celu or selu (gradient False) or their gradients.

    ``coefficients(params)`` gives (alpha, scale, input_scale). The formulas
    of reference.py round the coefficients and the argument x * input_scale
    as the kernels do and compute the rest in wide precision. ``atol``
    allows for intermediates that fall to subnormals in the working dtype.
    """
    def expected(arrays, params):
        dtype = arrays[-1].dtype
        work = working(dtype)
        coef = R.elu_coefficients(work, *coefficients(params))
        negcoef, _, input_scale = (abs(np.longdouble(c)) for c in coef)
        arrays_w = [a.astype(work) for a in arrays]
        tiny_w = _tiny(work)
        free = None
        if not gradient:
            value = R.elu_rounded(arrays_w[0], *coef)
            atol = 4 * tiny_w * (1 + negcoef)
        else:
            g, x = arrays_w
            gw = np.abs(g.astype(np.longdouble))
            if params.get("from_output"):
                value = R.elu_grad_from_output_rounded(g, x, *coef)
                size = np.abs(x.astype(np.longdouble)) + negcoef
                # grad_output * input_scale * (y + negcoef), left to right:
                # where the first product falls to 0 and y is -inf, 0 * inf
                # gives NaN (as in PyTorch).
                with np.errstate(all="ignore"):
                    free = ~(x > 0) & (g * coef[2] == 0) & np.isinf(x)
            else:
                value = R.elu_grad_rounded(g, x, *coef)
                with np.errstate(all="ignore"):
                    t = (x * coef[2]).astype(np.longdouble)
                    size = negcoef * np.minimum(np.exp(t), np.longdouble(np.finfo(work).max))
                    # grad_output * input_scale * negcoef * exp(t), left to right:
                    # where the product so far is 0 and exp(t) overflows the
                    # working dtype, 0 * inf may give NaN (as in PyTorch).
                    prefix = g * coef[2] * coef[0]
                    free = (~(x > 0) & (prefix == 0)
                            & (np.exp(t) > np.longdouble(np.finfo(work).max)))
            with np.errstate(all="ignore"):
                atol = 4 * tiny_w * (1 + gw) * (1 + input_scale) * (1 + size)
        atol = np.where(np.isnan(atol), 0, atol) + 4 * _tiny(dtype)
        with np.errstate(over="ignore"):
            return Want(value.astype(dtype), atol=atol, free=free)
    return expected


def _exp_params(name):
    if name == "selu":
        return lambda p: (R.SELU_ALPHA, R.SELU_SCALE, 1.0)
    if name == "celu":
        return lambda p: (p.get("alpha", 1.0), 1.0, 1.0 / p.get("alpha", 1.0))
    return lambda p: (p.get("alpha", 1.0), 1.0, 1.0)


# ---------------------------------------------------------------- the table

@dataclasses.dataclass(frozen=True)
class Spec:
    """One public function (or one mode of rrelu) as data."""
    name: str                # test id
    function: Callable
    grad: bool               # called as f(grad_output, x, ...) rather than f(x, ...)
    kind: str                # "exact", "exp" or "random": how results are compared
    expected: Callable       # expected(arrays, params) -> Want; arrays are native copies
    default: Callable        # default(shape, dtype) -> typical params for that input

    @property
    def n_arrays(self):
        return 2 if self.grad else 1

    def __call__(self, arrays, params, **kwargs):
        return self.function(*arrays, **params, **kwargs)

    def check(self, result, arrays, params):
        """Assert that ``result`` is right for a call on arrays with these values."""
        arrays = native_copies(arrays)
        if self.kind == "random":
            # The same seed on C-contiguous copies: same slopes, same bits.
            want = Want(self(arrays, params))
            _check_rrelu_bounds(result, arrays, params)
        else:
            want = self.expected(arrays, params)
        if self.name == "prelu_grad":
            result, grad_weight = result
            total, bound = want.weight
            dtype = arrays[0].dtype
            assert isinstance(grad_weight, np.ndarray) and grad_weight.dtype == dtype
            with np.errstate(over="ignore", invalid="ignore"):
                total_cast = total.astype(dtype)
                slack = (bound + np.finfo(dtype).eps * np.abs(total.astype(np.longdouble))
                         + _tiny(dtype))
            assert_within(grad_weight, total_cast, slack)
        assert isinstance(result, np.ndarray), type(result)
        if want.atol is None:
            assert_same_bits(result, want.value)
        else:
            dtype = result.dtype
            value, atol = want.value, np.broadcast_to(want.atol, want.value.shape)
            if want.free is not None:
                keep = ~want.free
                result, value, atol = result[keep], value[keep], atol[keep]
            with np.errstate(invalid="ignore", over="ignore"):
                rel = EXP_RTOL[dtype] * np.abs(_beyond_range(value, dtype))
            assert_within(result, value, rel + atol)


def _check_rrelu_bounds(result, arrays, params):
    """rrelu in training: each slope lies in [lower, upper]."""
    lower, upper = params.get("lower", 1 / 8), params.get("upper", 1 / 3)
    if len(arrays) == 1:
        (x,) = arrays
        scaled, dtype = x, x.dtype
        passthrough = x > 0
    else:
        g, x = arrays
        scaled, dtype = g, g.dtype
        passthrough = (x > 0) | np.isnan(x)
    work = working(dtype)
    s = scaled.astype(work)
    with np.errstate(invalid="ignore", over="ignore"):
        a, b = (s * work.type(lower)).astype(dtype), (s * work.type(upper)).astype(dtype)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        inside = (lo <= result) & (result <= hi)
    result = np.asarray(result)
    check = ~passthrough & np.isfinite(s)
    assert np.all(inside[check]), _mismatches(check & ~inside, result, lo)


def _prelu_default(shape, dtype):
    if len(shape) >= 2:
        return {"weight": np.linspace(-0.5, 1.5, shape[1]).astype(dtype), "axis": 1}
    if len(shape) == 1:
        return {"weight": np.linspace(-0.5, 1.5, shape[0]).astype(dtype), "axis": 0}
    return {"weight": 0.25}


def _fixed(**params):
    return lambda shape, dtype: dict(params)


_TRAIN = {"lower": 0.1, "upper": 0.3, "training": True, "seed": 7}
_EVAL = {"lower": 0.1, "upper": 0.3}

SPECS = [
    Spec("relu", lr.relu, False, "exact",
         _through_working(lambda x: R.relu(x)), _fixed()),
    Spec("relu_grad", lr.relu_grad, True, "exact",
         _through_working(lambda g, x, from_output=False: R.relu_grad(g, x)), _fixed()),
    Spec("leaky_relu", lr.leaky_relu, False, "exact",
         _through_working(lambda x, alpha=0.01: R.leaky_relu(x, alpha)), _fixed(alpha=0.1)),
    Spec("leaky_relu_grad", lr.leaky_relu_grad, True, "exact",
         _through_working(lambda g, x, alpha=0.01, from_output=False:
                          R.leaky_relu_grad(g, x, alpha)), _fixed(alpha=0.1)),
    Spec("prelu", lr.prelu, False, "exact", _prelu_expected, _prelu_default),
    Spec("prelu_grad", lr.prelu_grad, True, "exact", _prelu_grad_expected, _prelu_default),
    Spec("rrelu", lr.rrelu, False, "random", None, _fixed(**_TRAIN)),
    Spec("rrelu_grad", lr.rrelu_grad, True, "random", None, _fixed(**_TRAIN)),
    Spec("rrelu-eval", lr.rrelu, False, "exact", _through_working(_rrelu_eval), _fixed(**_EVAL)),
    Spec("rrelu_grad-eval", lr.rrelu_grad, True, "exact", _through_working(_rrelu_eval_grad),
         _fixed(**_EVAL)),
    Spec("elu", lr.elu, False, "exp", _exp_expected(_exp_params("elu"), False),
         _fixed(alpha=1.3)),
    Spec("elu_grad", lr.elu_grad, True, "exp", _exp_expected(_exp_params("elu"), True),
         _fixed(alpha=1.3)),
    Spec("celu", lr.celu, False, "exp", _exp_expected(_exp_params("celu"), False),
         _fixed(alpha=0.7)),
    Spec("celu_grad", lr.celu_grad, True, "exp", _exp_expected(_exp_params("celu"), True),
         _fixed(alpha=0.7)),
    Spec("selu", lr.selu, False, "exp", _exp_expected(_exp_params("selu"), False), _fixed()),
    Spec("selu_grad", lr.selu_grad, True, "exp", _exp_expected(_exp_params("selu"), True),
         _fixed()),
]
BY_NAME = {s.name: s for s in SPECS}

# Every public function has a row.
assert {s.function.__name__ for s in SPECS} == {
    n for n in lr.__all__ if n.endswith(("relu", "elu", "_grad"))}


# ---------------------------------------------------------------- inputs

def sample(shape, dtype, rng, specials=True):
    """Random-sign values; with ``specials``, ±0, ±inf and NaN mixed in."""
    values = np.asarray(rng.standard_normal(shape) * 3)
    if specials:
        flat = values.reshape(-1)
        edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])[:flat.size]
        flat[rng.choice(flat.size, size=edges.size, replace=False)] = edges
    return values.astype(dtype)


def inputs(spec, shape, dtype, rng):
    """Arrays for one call: [x] or [grad_output, x]."""
    x = sample(shape, dtype, rng)
    if not spec.grad:
        return [x]
    # elu's gradients multiply grad_output by exp(x): keep it finite, so
    # that inf * 0 does not turn on how exp underflows.
    return [sample(shape, dtype, rng, specials=spec.kind != "exp"), x]


class KernelProxy:
    """The active kernel module with its entry points replaced by ``wrap(entry)``.

    Install it with ``monkeypatch.setattr(_dispatch, "kernels", proxy)``:
    every public call reads ``_dispatch.kernels`` once, so it sees the proxy.
    """

    FAST = ("fast_unary", "fast_binary", "fast_prelu", "fast_prelu_grad")

    def __init__(self, module, wrap_loop, wrap_fast=None):
        wrap_fast = wrap_fast or wrap_loop
        self._module = module
        self.LOOPS = {k: wrap_loop(v) for k, v in module.LOOPS.items()}
        self.prelu_grad_any = wrap_loop(module.prelu_grad_any)
        for name in self.FAST:
            setattr(self, name, wrap_fast(getattr(module, name)))

    def __getattr__(self, name):
        return getattr(self._module, name)


def on_every_build(compute):
    """{build: compute()} with each kernel build this CPU supports in use, in turn."""
    previous = _dispatch.kernels.INSTRUCTION_SET
    results = {}
    try:
        for isa in _dispatch.supported_instruction_sets():
            _dispatch.use(isa)
            results[isa] = compute()
    finally:
        _dispatch.use(previous)
    return results


def general_path_only(module):
    """A proxy whose fast entry points always decline, so every call takes the general path."""
    return KernelProxy(module, lambda entry: entry, lambda entry: lambda *args: None)


# ---------------------------------------------------------------- threads

def parallel_available():
    """True where a kernel can really run more than one thread."""
    from leakyrelu import _dispatch, _threads

    return bool(_dispatch.kernels.OPENMP) and int(_threads.STATE[_threads.CAP]) >= 2


def requires_parallel(test):
    """Skip ``test`` where thread counts cannot differ: no OpenMP, or one usable CPU."""
    import pytest

    return pytest.mark.skipif(not parallel_available(),
                              reason="built without OpenMP, or only one CPU usable")(test)
