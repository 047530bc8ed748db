"""Property tests: every function and gradient, on whatever arrays hypothesis draws.

Shapes from 0-d to 5-d (empty axes included); float16, float32, float64,
native or byte-swapped; inputs placed as C, Fortran, strided, reversed or
transposed views of a larger array, or broadcast with zero strides; read-only
inputs; out=None, a fresh buffer, in place, or a strided view of a larger
buffer; random parameters; ±0, ±inf, NaN, subnormals and extremes mixed in;
every kernel build this CPU runs. Each result must equal the reference of
cases.py (bit for bit for the piecewise-linear functions, to a tolerance for
the exponential ones, and for rrelu in training the same call on contiguous
copies), and nothing outside `out` may change.

Example counts come from the hypothesis profile chosen in conftest.py.
"""
import numpy as np
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import leakyrelu as lr
from leakyrelu import _dispatch

from cases import FLOATS, SPECS, assert_same_bits, native_copies, on_every_build

ISAS = _dispatch.supported_instruction_sets()
SENTINEL = 1234.5


def special_values(dtype, huge=True, infinite=True):
    fi = np.finfo(dtype)
    values = [0.0, -0.0, np.nan, fi.smallest_subnormal, -fi.smallest_subnormal,
              fi.tiny - fi.smallest_subnormal, -fi.tiny, 1.0, -1.0]
    if infinite:
        values += [np.inf, -np.inf]
    if huge:
        values += [fi.max, -fi.max]
    return [dtype.type(v) for v in values]


def elements(dtype, huge=True, infinite=True):
    """Ordinary values, with special ones mixed in about a third of the time."""
    ordinary = st.floats(-1e4, 1e4, width=8 * dtype.itemsize)
    return st.one_of(ordinary, ordinary, st.sampled_from(special_values(dtype, huge, infinite)))


@st.composite
def placement(draw, shape):
    """How to lay an array of ``shape`` out inside a larger one.

    Returns (base shape, base order, region): ``region(base)`` is the view
    of shape ``shape``: strided (steps ±1, ±2, with an offset), reversed and
    transposed as drawn.
    """
    ndim = len(shape)
    perm = draw(st.permutations(range(ndim)))
    steps = draw(st.lists(st.sampled_from([1, 2, -1, -2]), min_size=ndim, max_size=ndim))
    offset = draw(st.integers(0, 1))
    order = draw(st.sampled_from("CF"))
    inner = [0] * ndim          # the shape before transposing
    for i, p in enumerate(perm):
        inner[p] = shape[i]
    base_shape = tuple(n * abs(s) + offset for n, s in zip(inner, steps))

    def region(base):
        # The trailing Ellipsis keeps a 0-d result an array, not a scalar.
        view = base[tuple(slice(offset, offset + n * abs(s), abs(s))
                          for n, s in zip(inner, steps)) + (Ellipsis,)]
        view = view[tuple(slice(None, None, -1 if s < 0 else 1) for s in steps) + (Ellipsis,)]
        return view.transpose(perm)

    return base_shape, order, region


class Placed:
    """An array inside a larger base, to check later what a call wrote."""

    def __init__(self, values, dtype, base_shape, order, region):
        self.base = np.full(base_shape, SENTINEL, dtype, order=order)
        self.region = region
        self.array = region(self.base)
        self.array[...] = values
        self.before = self.base.copy()

    def inside(self):
        mask = np.zeros(self.base.shape, bool)
        self.region(mask)[...] = True
        return mask

    def assert_untouched(self, except_view=False):
        keep = ~self.inside() if except_view else np.ones(self.base.shape, bool)
        assert_same_bits(self.base[keep].astype(self.base.dtype.newbyteorder("=")),
                         self.before[keep].astype(self.base.dtype.newbyteorder("=")))


def sometimes(percent):
    """True about ``percent``% of the time; shrinks to False."""
    return st.integers(0, 99).map(lambda k: k >= 100 - percent)


@st.composite
def input_arrays(draw, shape, dtype, element_strategy):
    """(array, Placed): an input of ``shape`` in any layout, byte order or broadcast."""
    ndim = len(shape)
    broadcast = [False] * ndim
    if draw(sometimes(25)):
        broadcast = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
    source_shape = tuple(1 if b else n for n, b in zip(shape, broadcast))
    values = draw(hnp.arrays(dtype, source_shape, elements=element_strategy))
    stored = dtype.newbyteorder("S") if draw(sometimes(20)) else dtype
    placed = Placed(values, stored, *draw(placement(source_shape)))
    array = placed.array
    if any(broadcast):
        array = np.broadcast_to(array, shape)     # zero strides, read-only
        event("input: broadcast")
    elif draw(sometimes(20)):
        array.setflags(write=False)
        event("input: read-only")
    flags = array.flags
    event("input: " + ("C-contiguous" if flags.c_contiguous else
                       "F-contiguous" if flags.f_contiguous else "strided"))
    if stored != dtype:
        event("input: byte-swapped")
    return array, placed


def weights(dtype):
    return st.one_of(st.floats(-2, 2, width=8 * dtype.itemsize),
                     st.sampled_from([dtype.type(v) for v in (0.0, -0.0, np.inf, -np.inf, np.nan)]))


@st.composite
def parameters(draw, spec, shape, dtype):
    """Keyword parameters for ``spec`` on an input of ``shape``."""
    name = spec.name.split("-")[0]
    params = {}
    if name.startswith(("leaky_relu", "elu")):
        params["alpha"] = draw(st.floats(-2, 2))
    if name.startswith("celu"):
        params["alpha"] = draw(st.floats(1e-3, 2)) * draw(st.sampled_from([1, -1]))
    if name.startswith("rrelu"):
        params["lower"], params["upper"] = sorted(draw(st.lists(st.floats(0, 1), min_size=2,
                                                                max_size=2)))
        if spec.kind == "random":
            params.update(training=True, seed=draw(st.integers(0, 2**64 - 1)))
    if name.startswith("prelu"):
        kind = draw(st.sampled_from(["float", "0-d", "one", "channels"] if shape else
                                    ["float", "0-d", "one"]))
        w = weights(dtype)
        if kind == "channels":
            params["axis"] = draw(st.integers(-len(shape), len(shape) - 1))
            params["weight"] = draw(hnp.arrays(dtype, shape[params["axis"]], elements=w))
        else:
            params["axis"] = draw(st.integers(-6, 5))   # unused with a single weight
            value = draw(w)
            params["weight"] = {"float": float(value), "0-d": np.array(value, dtype),
                                "one": np.array([value], dtype)}[kind]
    if spec.grad and name != "prelu_grad":
        # The output tells the branch only for non-negative slopes.
        ok = params.get("alpha", 1.0) > 0 if name == "celu_grad" else (
            params.get("alpha", 0.0) >= 0 and params.get("lower", 0.0) >= 0)
        params["from_output"] = ok and draw(st.booleans())
    return params


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@given(data=st.data())
def test_matches_reference(spec, data):
    draw = data.draw
    dtype = draw(st.sampled_from(FLOATS), label="dtype")
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4), label="shape")
    # Keep every intermediate finite where the reference's summation order
    # or exp's underflow would otherwise decide between inf and NaN.
    huge = not (spec.name == "prelu_grad" and dtype == np.float64)
    roles = ["grad_output", "x"] if spec.grad else ["x"]
    arrays, placed = [], []
    for role in roles:
        finite = spec.kind == "exp" and role == "grad_output"
        a, p = draw(input_arrays(shape, dtype, elements(dtype, huge and not finite, not finite)),
                    label=role)
        arrays.append(a)
        placed.append(p)
    params = draw(parameters(spec, shape, dtype), label="params")

    writable = [i for i, a in enumerate(arrays) if a.flags.writeable and a.dtype.isnative]
    in_place = ["in place"] * 2 if writable else []     # the choice most often impossible
    choice = draw(st.sampled_from(["none", "fresh", "strided"] + in_place), label="out")
    out_placed = None
    if choice == "fresh":
        out = np.full(shape, SENTINEL, dtype, order=draw(st.sampled_from("CF")))
    elif choice == "strided":
        out_placed = Placed(np.zeros(shape, dtype), dtype, *draw(placement(shape)))
        out = out_placed.array
    elif choice == "in place":
        target = draw(st.sampled_from(writable))
        out, out_placed = arrays[target], placed[target]
    else:
        out = None
    event(f"out: {choice}")
    event(f"dtype: {dtype}")
    threads = draw(st.sampled_from([None, 1, 2]), label="num_threads")
    isa = draw(st.sampled_from(ISAS), label="isa")

    values = native_copies(arrays)
    previous = _dispatch.use(isa)
    try:
        result = spec(arrays, params, out=out, num_threads=threads)
        y = result[0] if spec.name == "prelu_grad" else result
        if out is not None:
            assert y is out
        assert y.dtype == dtype and y.shape == shape
        # Under the same kernels: rrelu's reference is the call on contiguous copies.
        spec.check(result, values, params)
    finally:
        _dispatch.use(previous)
    for p in placed:
        if p is not out_placed:
            p.assert_untouched()
    if out_placed is not None:
        out_placed.assert_untouched(except_view=True)


@given(data=st.data())
def test_rrelu_training_forward_and_gradient_share_slopes(data):
    """The gradient regenerates the forward's slopes: y == x * slope, bit for bit."""
    draw = data.draw
    dtype = draw(st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)]))
    x = draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
                        elements=elements(dtype)))
    lower, upper = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    kwargs = dict(lower=lower, upper=upper, training=True, seed=draw(st.integers(0, 2**64 - 1)))
    note(kwargs)
    y = lr.rrelu(x, **kwargs)
    slopes = lr.rrelu_grad(np.ones_like(x), x, **kwargs)
    with np.errstate(invalid="ignore", over="ignore"):
        assert_same_bits(y, np.where(x > 0, x, x * slopes))
    # The output has the input's branch, so the gradient is the same; except
    # where a zero slope made NaN of -inf, and the output lost the branch.
    g = draw(hnp.arrays(dtype, x.shape, elements=elements(dtype)))
    from_y = lr.rrelu_grad(g, y, from_output=True, **kwargs)
    from_x = lr.rrelu_grad(g, x, **kwargs)
    known = ~np.isnan(y) | np.isnan(x)
    assert_same_bits(from_y[known], from_x[known])


@pytest.mark.skipif(len(ISAS) < 2, reason="one kernel build on this CPU")
@given(data=st.data())
def test_rrelu_training_slopes_are_the_same_on_every_kernel_build(data):
    """A seed gives the same result on any machine, whatever instruction set it has."""
    draw = data.draw
    dtype = draw(st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)]))
    # Past a few blocks of 128 elements (whole blocks run hand-written AVX-512 or AVX2
    # code), at any element offset from a cache line.
    n = draw(st.integers(0, 600))
    x, g = (draw(hnp.arrays(dtype, n + 16, elements=elements(dtype))) for _ in range(2))
    start = draw(st.integers(0, 15))
    x, g = x[start:start + n], g[start:start + n]
    lower, upper = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    kwargs = dict(lower=lower, upper=upper, training=True, seed=draw(st.integers(0, 2**64 - 1)))

    def at_start(a):  # a copy at the same offset, to be written in place
        copy = np.empty(n + 16, dtype)[start:start + n]
        copy[...] = a
        return copy

    def every_call():
        g_in, x_in = at_start(g), at_start(x)
        return (lr.rrelu(x, **kwargs), lr.rrelu_grad(g, x, **kwargs),
                lr.rrelu_grad(g_in, x, out=g_in, **kwargs),
                lr.rrelu_grad(g, x_in, out=x_in, **kwargs))

    results = on_every_build(every_call)
    for isa in ISAS[1:]:
        note(f"{ISAS[0]} against {isa}")
        for a, b in zip(results[ISAS[0]], results[isa]):
            assert_same_bits(b, a)


@given(data=st.data())
def test_prelu_grad_on_any_layout_has_the_contiguous_bits(data):
    # Strided, reversed, transposed and half-precision calls walk the blocks
    # of the contiguous kernels, gathered into blocks of the compute type:
    # grad_x and the weight gradient have the bits the same values give as
    # C-ordered arrays of the compute type (float32 for the halves, whose
    # results are rounded once). Runs of up to 80 elements reach the
    # hand-written AVX-512 blocks; out may be strided, fresh or an input.
    draw = data.draw
    dtype = draw(st.sampled_from([np.dtype(np.float16), np.dtype(np.float32),
                                  np.dtype(np.float64)]), label="dtype")
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=80)
                 .filter(lambda s: np.prod(s) <= 20000), label="shape")
    axis = draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    arrays = []
    for role in ("grad_output", "x"):
        values = draw(hnp.arrays(dtype, shape, elements=elements(dtype)), label=role)
        arrays.append(Placed(values, dtype, *draw(placement(shape))).array)
    weight = draw(hnp.arrays(dtype, shape[axis], elements=weights(dtype)), label="weight")
    choice = draw(st.sampled_from(["none", "strided", "grad_output", "x"]), label="out")
    out = {"none": None, "grad_output": arrays[0], "x": arrays[1],
           "strided": Placed(np.zeros(shape, dtype), dtype, *draw(placement(shape))).array}[choice]
    threads = draw(st.sampled_from([1, 2, 3]), label="num_threads")
    work = np.float32 if dtype.itemsize == 2 else dtype
    g, x = (np.ascontiguousarray(a, dtype=work) for a in arrays)
    want_x, want_w = lr.prelu_grad(g, x, weight.astype(work), axis=axis, num_threads=1)
    with np.errstate(over="ignore", invalid="ignore"):
        want_x = want_x.astype(dtype)
    got_x, got_w = lr.prelu_grad(*arrays, weight, axis=axis, out=out, num_threads=threads)
    assert_same_bits(got_x, want_x)
    # Arrays all in Fortran order are walked as their C-ordered transposes:
    # the same blocks of other elements.
    transposed = all(a.flags.f_contiguous and not a.flags.c_contiguous
                     for a in arrays + ([] if out is None else [out]))
    event("transposed" if transposed else "C-order walk")
    if dtype.itemsize == 2:   # want_w was rounded to float32 before float16
        with np.errstate(over="ignore", invalid="ignore"):
            np.testing.assert_allclose(got_w.astype(np.float64), want_w.astype(dtype),
                                       rtol=2**-10, atol=0)
    elif not transposed:
        assert_same_bits(got_w, want_w)
