"""NumPy calling conventions, for every public function and gradient.

out=None / out=x / out=buffer; any shape and memory layout; in place on
views; out overlapping the input; read-only, byte-swapped and unaligned
inputs; float16 through float32; thread counts (the GIL's release is
tested in test_threads_memory.py). The table of functions and their references is in cases.py.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import leakyrelu as lr
from leakyrelu import _config, _dispatch

from cases import (BY_NAME, F16, F32, F64, FLOATS, SPECS, allocated_peak, assert_same_bits,
                   inputs, requires_parallel, sample, snapshot, unaligned_copy)

SPEC_IDS = [s.name for s in SPECS]


def params_for(spec, arrays):
    return spec.default(arrays[-1].shape, arrays[-1].dtype)


def first(result):
    """The array result: prelu_grad returns (grad_x, grad_weight)."""
    return result[0] if isinstance(result, tuple) else result


def in_place_targets(spec):
    """Which inputs an in-place call may overwrite: x, or grad_output or x."""
    return [0, 1] if spec.grad else [0]


# ---------------------------------------------------------------- out=

@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_out_none_allocates(spec, dtype, rng):
    arrays = inputs(spec, (4, 5), dtype, rng)
    params = params_for(spec, arrays)
    before = snapshot(arrays)
    result = spec(arrays, params)
    y = first(result)
    assert type(y) is np.ndarray and y.dtype == dtype and y.shape == (4, 5)
    assert not any(np.shares_memory(y, a) for a in arrays)
    for a, b in zip(arrays, before):
        assert_same_bits(a, b)
    spec.check(result, before, params)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_out_in_place_returns_the_input(spec, dtype, rng):
    for target in in_place_targets(spec):
        arrays = inputs(spec, (4, 5), dtype, rng)
        params = params_for(spec, arrays)
        before = snapshot(arrays)
        out = arrays[target]
        result = spec(arrays, params, out=out)
        assert first(result) is out
        spec.check(result, before, params)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_out_buffer_is_returned(spec, dtype, rng):
    arrays = inputs(spec, (4, 5), dtype, rng)
    params = params_for(spec, arrays)
    before = snapshot(arrays)
    buffer = np.full((4, 5), 7, dtype)
    result = spec(arrays, params, out=buffer)
    assert first(result) is buffer
    for a, b in zip(arrays, before):
        assert_same_bits(a, b)
    spec.check(result, before, params)


# ---------------------------------------------------------------- shapes and layouts

SHAPES = [(), (0,), (3, 0, 2), (7,), (5, 6), (2, 3, 4, 5)]


def with_layout(a, layout):
    """An array equal to ``a`` with the named memory layout (a view where it can be)."""
    if layout == "C":
        return a.copy()
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "step":        # x[::3]
        base = np.zeros((3 * a.shape[0],) + a.shape[1:], a.dtype)
        base[::3] = a
        return base[::3]
    if layout == "reversed":    # x[::-1] on every axis
        flip = (slice(None, None, -1),) * a.ndim
        return a[flip].copy()[flip]
    if layout == "view":        # x[1:, ::2]
        head = (slice(1, None),) + (slice(None, None, 2),) * (a.ndim > 1)
        base = np.zeros((a.shape[0] + 1,) + tuple(2 * n for n in a.shape[1:2]) + a.shape[2:],
                        a.dtype)
        base[head] = a
        return base[head]
    raise ValueError(layout)


LAYOUTS = ["C", "F", "transposed", "step", "reversed", "view"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_any_shape_and_layout(spec, layout, rng):
    for shape in SHAPES:
        if not shape and layout != "C":   # np.asfortranarray makes 0-d arrays 1-d
            continue
        values = inputs(spec, shape, F64, rng)
        params = params_for(spec, values)
        arrays = [with_layout(a, layout) for a in values]
        for a, v in zip(arrays, values):
            assert_same_bits(a, v)
        expected = spec(values, params)
        result = spec(arrays, params)
        assert_same_bits(first(result), first(expected))
        spec.check(result, values, params)
        # A strided out in the same layout; and strided x next to contiguous grad_output.
        out = with_layout(np.zeros(shape), layout)
        result = spec(arrays, params, out=out)
        assert first(result) is out
        assert_same_bits(out, first(expected))
        if spec.grad:
            assert_same_bits(first(spec([values[0], arrays[1]], params)), first(expected))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_contiguous_arrays_are_not_copied(spec, order, rng):
    # 10**6 float32 elements: a copy would allocate 4 MB; allow 64 KiB of
    # bookkeeping (prelu_grad's partial sums are 8 KB here).
    shape = (100, 10, 1000)
    arrays = [np.asarray(a, order=order) for a in inputs(spec, shape, F32, rng)]
    params = params_for(spec, arrays)
    out = np.empty(shape, F32, order=order)

    def peak(call):
        return allocated_peak(call)

    assert peak(lambda: spec(arrays, params, out=out)) < 64 * 1024
    for target in in_place_targets(spec):
        assert peak(lambda: spec(arrays, params, out=arrays[target])) < 64 * 1024


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu_grad_on_strided_arrays_copies_nothing(dtype, rng):
    # Strided, reversed and mixed-order arrays are walked where they lie, in
    # place too: 200 x 2500 elements, where a copy would be 4 MB or more.
    base = rng.standard_normal((200, 5000)).astype(dtype)
    w = np.full(2500, 0.2, dtype)
    every_other = base[:, ::2]
    x, g = base[:, 1::2], rng.standard_normal((200, 5000)).astype(dtype)[::-1, ::2]
    c_order, fortran = np.ascontiguousarray(x), np.asfortranarray(x)
    for call in (lambda: lr.prelu_grad(every_other, every_other, w, out=every_other),
                 lambda: lr.prelu_grad(g, x, w, out=x),
                 lambda: lr.prelu_grad(c_order, fortran, w, out=fortran),
                 lambda: lr.prelu_grad(x[:, :, None], g[:, :, None], w, out=x[:, :, None])):
        assert allocated_peak(call) < 64 * 1024


@pytest.mark.parametrize("shape, weight", [
    ((3, 4, 0), np.array([1.0, 2.0, 3.0, 4.0], np.float32)),   # channels, then an empty axis
    ((0,), 0.25),                                               # an empty batch, one weight
    ((2, 0), np.array([0.5], np.float32)),
], ids=["channels", "scalar", "length-1"])
def test_prelu_on_empty_arrays_reads_and_writes_nothing(shape, weight):
    # x, grad_output and out are zero-size views into larger buffers: nothing
    # outside them may be read or written, and the weight gradient is zero.
    x = np.full(8, -2.0, np.float32)[:0].reshape(shape)
    g = np.full(8, -3.0, np.float32)[:0].reshape(shape)
    buffer = np.full(8, 5.0, np.float32)
    out = buffer[:0].reshape(shape)
    assert lr.prelu(x, weight, axis=1 if len(shape) > 1 else 0, out=out) is out
    assert_same_bits(buffer, np.full(8, 5.0, np.float32))
    grad_x, grad_w = lr.prelu_grad(g, x, weight, axis=1 if len(shape) > 1 else 0, out=out)
    assert grad_x is out
    assert_same_bits(buffer, np.full(8, 5.0, np.float32))
    assert_same_bits(grad_w, np.zeros(np.shape(weight), np.float32))


# ---------------------------------------------------------------- views and overlap

@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_in_place_on_a_view_changes_only_the_view(spec, rng):
    index = (slice(1, None, 2), slice(None, None, -3))
    inside = np.zeros((9, 12), bool)
    inside[index] = True
    for target in in_place_targets(spec):
        bases = inputs(spec, (9, 12), F64, rng)
        arrays = [b[index] for b in bases]
        params = params_for(spec, arrays)
        before, base_before = snapshot(arrays), snapshot(bases)
        out = arrays[target]
        result = spec(arrays, params, out=out)
        assert first(result) is out
        spec.check(result, before, params)
        for b, b0 in zip(bases, base_before):
            assert_same_bits(b[~inside], b0[~inside])


def overlapping(base, shift):
    """(input, out): two views of base, out shifted by ``shift`` elements along axis 0."""
    if shift > 0:
        return base[:-shift], base[shift:]
    return base[-shift:], base[:shift]


@pytest.mark.parametrize("case", ["out-ahead", "out-behind", "rows", "reversed"])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_out_partly_overlapping_the_input(spec, case, rng):
    # The answer NumPy gives: as if every input were read before out is written.
    for target in in_place_targets(spec):
        # As in cases.inputs: a finite grad_output for the exponential family.
        specials = not (spec.grad and target == 0 and spec.kind == "exp")
        if case == "rows":
            base = sample((7, 6), F64, rng, specials)
            view, out = overlapping(base, 1)
        elif case == "reversed":
            base = sample((6, 5), F64, rng, specials)
            view, out = base, base[::-1]
        else:
            base = sample((65,), F64, rng, specials)
            view, out = overlapping(base, 1 if case == "out-ahead" else -1)
        arrays = inputs(spec, view.shape, F64, rng)
        arrays[target] = view
        params = params_for(spec, arrays)
        values = snapshot(arrays)
        expected = spec(values, params)
        result = spec(arrays, params, out=out)
        assert first(result) is out
        assert_same_bits(out, first(expected))
        spec.check(result, values, params)


@pytest.fixture
def no_general_path(monkeypatch):
    """Make the general path (``Call``) fail wherever it is reached."""
    from leakyrelu import _arrays, _exponential, _rectifiers

    def refuse(*args, **kwargs):
        raise AssertionError("the general path was taken")

    for module in (_arrays, _rectifiers, _exponential):
        monkeypatch.setattr(module, "Call", refuse, raising=False)


def test_plain_views_skip_the_general_path(no_general_path, rng):
    # Exact, aligned, native float arrays of any strides go straight to the
    # walker: the Python layer's checks (Call) would cost a small view 20x
    # its own work. Anything else still takes the general path.
    base = rng.standard_normal((6, 40))
    g = rng.standard_normal((6, 40))
    for dtype in FLOATS:
        x, gv = base.astype(dtype)[::2, ::-3], g.astype(dtype)[::2, ::-3]
        work = F32 if dtype == F16 else dtype   # float16 is computed in float32
        want = np.where(x > 0, x, (x.astype(work) * work.type(0.1)).astype(dtype))
        assert_same_bits(lr.leaky_relu(x, 0.1), want)
        out = np.zeros((3, 40), dtype)[:, ::3]
        assert lr.leaky_relu(x, 0.1, out=out) is out
        assert_same_bits(out, want)
        assert_same_bits(lr.relu_grad(gv, x), np.where(x > 0, gv, 0).astype(dtype))
        lr.rrelu(x.T, training=True, seed=5)
        lr.elu_grad(gv, x, out=gv)
        if dtype != F16:   # (float16 prelu rounds its weight in the general path)
            w = np.array([0.1, -0.2, 0.3], dtype)
            assert_same_bits(lr.prelu(x, w, axis=0),
                             np.where(x > 0, x, x * w[:, None]).astype(dtype))
            assert_same_bits(lr.prelu(x, w[:1]), np.where(x > 0, x, x * w[0]).astype(dtype))
    with pytest.raises(AssertionError, match="general path"):
        lr.leaky_relu(base[::2].astype(">f8"))   # byte-swapped: the general path converts


def test_gradients_from_the_output_skip_the_general_path(no_general_path, rng):
    # Where the output shows the branch (a slope >= 0), a gradient from the
    # output is the same kernel as from the input (elu's has its own): an
    # in-place layer's backward takes the fast entry point, and gets the
    # input's answer on finite inputs. A negative slope still reaches the
    # general path's error.
    x = rng.standard_normal((4, 33)).astype(F32)
    x[0, :3] = [0.0, -0.0, 1e-40]
    g = rng.standard_normal((4, 33)).astype(F32)
    for alpha in (0.0, 0.25):
        y = lr.leaky_relu(x, alpha)
        assert_same_bits(lr.leaky_relu_grad(g, y, alpha, from_output=True),
                         lr.leaky_relu_grad(g, x, alpha))
        y = lr.elu(x, alpha)   # d elu / dx = y + alpha below 0
        np.testing.assert_allclose(lr.elu_grad(g, y, alpha, from_output=True),
                                   np.where(y > 0, g, g * (y + F32.type(alpha))), rtol=1e-6)
    y = lr.selu(x)
    lr.selu_grad(g, y, from_output=True)
    y = lr.rrelu(x, 0.1, 0.3, training=True, seed=11)
    assert_same_bits(lr.rrelu_grad(g, y, 0.1, 0.3, training=True, seed=11, from_output=True),
                     lr.rrelu_grad(g, x, 0.1, 0.3, training=True, seed=11))
    with pytest.raises(AssertionError, match="general path"):
        lr.leaky_relu_grad(g, x, -0.5, from_output=True)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.name != "prelu_grad"],
                         ids=[n for n in SPEC_IDS if n != "prelu_grad"])
def test_results_of_views_keep_their_layout(spec, rng):
    # As a NumPy ufunc lays out its result (order="K"): a Fortran-ordered or
    # transposed input gives a result of the same order; rrelu in training
    # numbers its elements in C order, so its result is C-contiguous.
    # (prelu_grad allocates grad_x in C order unless every input is Fortran-ordered.)
    for make in (np.asfortranarray, lambda a: np.ascontiguousarray(a.T).T[:, ::-1]):
        arrays = [make(a) for a in inputs(spec, (5, 7), F32, rng)]
        params = params_for(spec, arrays)
        result = first(spec(arrays, params))
        numbered = params.get("training", False)
        model = np.empty((5, 7), order="C") if numbered else np.negative(arrays[0])
        assert result.flags.c_contiguous == model.flags.c_contiguous
        assert result.flags.f_contiguous == model.flags.f_contiguous
        spec.check(spec(arrays, params), arrays, params)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_out_interleaved_with_the_input(spec, rng):
    # out's elements lie between x's (x = base[::2], out = base[1::2]): the
    # spans overlap, the elements do not, and x is read as it was.
    base = sample((2, 40), F64, rng)
    arrays = inputs(spec, (2, 20), F64, rng)
    arrays[-1] = base[:, ::2]
    params = params_for(spec, arrays)
    values = snapshot(arrays)
    out = base[:, 1::2]
    result = spec(arrays, params, out=out)
    assert first(result) is out
    assert_same_bits(out, first(spec(values, params)))
    assert_same_bits(base[:, ::2], values[-1])


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_read_only_inputs(spec, rng):
    arrays = inputs(spec, (4, 6), F32, rng)
    params = params_for(spec, arrays)
    if "weight" in params:
        params["weight"].setflags(write=False)
    for a in arrays:
        a.setflags(write=False)
    result = spec(arrays, params)
    spec.check(result, arrays, params)
    buffer = np.empty((4, 6), F32)
    result = spec(arrays, params, out=buffer)
    assert first(result) is buffer
    spec.check(result, arrays, params)


# ---------------------------------------------------------------- dtypes and memory

def as_float32(spec, arrays, params):
    params = dict(params)
    if isinstance(params.get("weight"), np.ndarray):
        params["weight"] = params["weight"].astype(F32)
    return [a.astype(F32) for a in arrays], params


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_float16_is_float32_rounded_once(spec, rng):
    arrays = inputs(spec, (4, 5, 6), F16, rng)
    # Subnormal and overflowing float16 results too.
    arrays[-1].reshape(-1)[:4] = [6e-8, -6e-8, -6e-5, 65504]
    params = params_for(spec, arrays)
    result = spec(arrays, params)
    expected = spec(*as_float32(spec, arrays, params))
    with np.errstate(over="ignore"):
        assert_same_bits(first(result), first(expected).astype(F16))
        if spec.name == "prelu_grad":
            assert_same_bits(result[1], expected[1].astype(F16))
    spec.check(result, arrays, params)


def torch_call(torch, name, x, params):
    t = torch.from_numpy(x)
    F = torch.nn.functional
    if name == "relu":
        return torch.relu(t)
    if name == "leaky_relu":
        return F.leaky_relu(t, params["alpha"])
    if name == "prelu":
        return F.prelu(t, torch.from_numpy(params["weight"]))
    return F.rrelu(t, params["lower"], params["upper"], training=False)


@pytest.mark.parametrize("params", [{"alpha": 0.1}, {"alpha": -1.7}, {"alpha": 0.0}],
                         ids=lambda p: f"alpha={p['alpha']}")
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "prelu", "rrelu-eval"])
def test_float16_matches_torch(name, params, torch_ref, rng):
    x = sample((64, 8, 16), F16, rng)
    x.reshape(-1)[:6] = [6e-8, -6e-8, -1e-7, -6e-5, 65504, -65504]
    spec = BY_NAME[name]
    if name == "prelu":
        params = {"weight": np.linspace(-2, 2, 8).astype(F16) + F16.type(params["alpha"])}
    elif name == "rrelu-eval":
        params = {"lower": 0.1, "upper": 0.3 + abs(params["alpha"])}
    elif name == "relu":
        params = {}
    result = spec([x], params)
    assert_same_bits(result, torch_call(torch_ref, name.split("-")[0], x, params).numpy())


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_byte_swapped_inputs_are_converted(spec, dtype, rng):
    arrays = inputs(spec, (4, 5), dtype, rng)
    params = params_for(spec, arrays)
    swapped = [a.astype(dtype.newbyteorder("S")) for a in arrays]
    result = spec(swapped, params)
    assert first(result).dtype == dtype and first(result).dtype.isnative
    expected = spec(arrays, params)
    assert_same_bits(first(result), first(expected))
    if spec.name == "prelu_grad":
        assert_same_bits(result[1], expected[1])
    buffer = np.empty((4, 5), dtype)
    assert first(spec(swapped, params, out=buffer)) is buffer
    assert_same_bits(buffer, first(expected))


@pytest.mark.parametrize("name", ["prelu", "prelu_grad"])
def test_prelu_byte_swapped_weight_of_the_same_dtype(name, rng):
    # x and weight share the dtype '>f4': the weight has x's dtype, as required.
    spec = BY_NAME[name]
    arrays = inputs(spec, (4, 5), F32, rng)
    params = params_for(spec, arrays)
    swapped_dtype = F32.newbyteorder("S")
    swapped = [a.astype(swapped_dtype) for a in arrays]
    swapped_params = dict(params, weight=params["weight"].astype(swapped_dtype))
    result = spec(swapped, swapped_params)
    assert_same_bits(first(result), first(spec(arrays, params)))


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_unaligned_arrays(spec, dtype, rng):
    values = inputs(spec, (5, 7), dtype, rng)
    params = params_for(spec, values)
    expected = spec(values, params)
    arrays = [unaligned_copy(v) for v in values]
    assert_same_bits(first(spec(arrays, params)), first(expected))
    out = unaligned_copy(np.zeros((5, 7), dtype))
    assert first(spec(arrays, params, out=out)) is out
    assert_same_bits(out, first(expected))
    out = arrays[-1]
    assert first(spec(arrays, params, out=out)) is out
    assert_same_bits(out, first(expected))


# ---------------------------------------------------------------- threads

@requires_parallel
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_thread_counts_give_identical_results(spec, rng):
    arrays = inputs(spec, (100, 10, 100), F32, rng)    # 10**5 elements: parallel
    params = params_for(spec, arrays)
    results = [spec(arrays, params, num_threads=n) for n in (1, 2, None)]
    spec.check(results[0], arrays, params)
    for r in results[1:]:
        assert_same_bits(first(r), first(results[0]))
        if spec.name == "prelu_grad":
            assert_same_bits(r[1], results[0][1])


@requires_parallel
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_threadpoolctl_limits_a_call(spec, rng):
    # Results do not depend on the team, so the team itself is checked: the
    # kernel records how many threads ran its last region.
    arrays = inputs(spec, (100, 10, 100), F32, rng)    # 10**5 elements: parallel
    params = params_for(spec, arrays)
    # (Another test's torch.set_num_threads may have left OpenMP's default at 1.)
    with threadpool_limits(limits=2, user_api="openmp"):
        spec(arrays, params)
        assert _dispatch.kernels.last_team_size() == 2
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _config.config()["default_threads"] == 1
        result = spec(arrays, params)
        assert _dispatch.kernels.last_team_size() == 1
    spec.check(result, arrays, params)
