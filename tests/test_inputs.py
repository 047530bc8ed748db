"""Every input a NumPy user has: array-likes, scalars, integer and bool arrays,
subclasses, half precision, strided views, byte order and overlap.

References are NumPy formulas (reference.py, through cases.Spec) and, where
installed, PyTorch's CPU kernels. A fast-path and a general-path call must
accept and refuse the same calls and give the same bits.
"""
import ctypes
import mmap
import sys
import tracemalloc

import numpy as np
import pytest
from cases import (BY_NAME, F16, F32, F64, SPECS, KernelProxy, allocated_peak,
                   assert_same_bits, general_path_only, inputs, sample)
from hypothesis import given, settings
from hypothesis import strategies as st

import leakyrelu as lr
from leakyrelu import _dispatch

try:
    import ml_dtypes
    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # bfloat16 is optional
    ml_dtypes = BF16 = None

needs_bf16 = pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes is not installed")
EXACT = [s for s in SPECS if s.kind == "exact"]


# ------------------------------------------------------------ array-likes

@pytest.mark.parametrize("value", [[-1.5, 0.0, 2.0], (-1.5, 0.0, 2.0), range(-2, 3)],
                         ids=["list", "tuple", "range"])
def test_sequences_act_like_np_asarray(value):
    expected = np.where(np.asarray(value) > 0, np.asarray(value), 0.1 * np.asarray(value))
    result = lr.leaky_relu(value, 0.1)
    assert type(result) is np.ndarray and result.dtype == np.exp(np.asarray(value)).dtype
    assert_same_bits(result, expected.astype(result.dtype))


@pytest.mark.parametrize("value, dtype", [(3.0, F64), (-2.0, F64), (np.float32(-1), F32),
                                          (np.float16(-4), F16), (-3, F64), (True, F16)])
def test_scalar_in_numpy_scalar_out(value, dtype):
    result = lr.leaky_relu(value, 0.5)
    assert isinstance(result, np.generic) and result.dtype == dtype
    x = np.asarray(value).astype(dtype)
    want = x if x > 0 else (x.astype(np.float64 if dtype == F64 else np.float32) * 0.5)
    assert result == want.astype(dtype)


def test_zero_d_array_in_zero_d_array_out():
    result = lr.relu(np.array(-2.0))
    assert type(result) is np.ndarray and result.shape == () and result == 0.0
    g = lr.relu_grad(np.array(3.0), np.array(1.0))
    assert type(g) is np.ndarray and g.shape == () and g == 3.0


def test_objects_with_array_protocols():
    x = np.array([-2.0, 0.5, 3.0], np.float32)

    class Interface:
        __array_interface__ = x.__array_interface__

    class Exports:
        def __array__(self, dtype=None, copy=None):
            return x

    want = lr.leaky_relu(x, 0.25)
    for value in (Interface(), Exports(), memoryview(x)):
        assert_same_bits(lr.leaky_relu(value, 0.25), want)


def test_torch_tensor_and_pandas_series():
    torch = pytest.importorskip("torch")
    x = torch.tensor([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(lr.relu(x), torch.relu(x).numpy())
    pd = pytest.importorskip("pandas")
    s = pd.Series([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(lr.leaky_relu(s, 0.5), [-1.0, 0.5, 3.0])


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int16, np.uint16,
                                   np.int32, np.uint32, np.int64, np.uint64])
def test_integers_and_bools_compute_in_the_float_dtype_of_np_exp(dtype):
    x = np.arange(-3, 4).astype(dtype)
    float_dtype = np.exp(np.zeros(0, dtype)).dtype
    for spec in SPECS:
        arrays = [x.astype(dtype)] * spec.n_arrays
        params = spec.default(x.shape, float_dtype)
        result = spec(arrays, params)
        result = result[0] if spec.name == "prelu_grad" else result
        assert result.dtype == float_dtype, spec.name
        floats = [a.astype(float_dtype) for a in arrays]
        want = spec(floats, params)
        want = want[0] if spec.name == "prelu_grad" else want
        assert_same_bits(result, want)


# ------------------------------------------------------------ subclasses

@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_stays_a_matrix():
    m = np.matrix([[-1.0, 2.0], [3.0, -4.0]])
    for result in (lr.relu(m), lr.elu(m), lr.leaky_relu_grad(m, m), lr.prelu(m, [0.1, 0.2])):
        assert type(result) is np.matrix
    np.testing.assert_array_equal(lr.relu(m), [[0.0, 2.0], [3.0, 0.0]])


def test_masked_arrays_keep_their_mask_and_gradients_combine_them():
    x = np.ma.array([-1.0, 2.0, -3.0, 4.0], mask=[0, 1, 0, 0])
    g = np.ma.array([1.0, 1.0, 1.0, 1.0], mask=[0, 0, 1, 0])
    y = lr.leaky_relu(x, 0.5)
    assert isinstance(y, np.ma.MaskedArray)
    np.testing.assert_array_equal(y.mask, [0, 1, 0, 0])
    np.testing.assert_array_equal(y.compressed(), [-0.5, -1.5, 4.0])
    for spec in SPECS:
        if not spec.grad:
            continue
        params = spec.default(x.shape, F64)
        result = spec([g, x], params)
        result = result[0] if spec.name == "prelu_grad" else result
        assert isinstance(result, np.ma.MaskedArray), spec.name
        np.testing.assert_array_equal(result.mask, [0, 1, 1, 0], err_msg=spec.name)
    # Masked elements add nothing to prelu's weight gradient.
    _, dw = lr.prelu_grad(g, x, np.array([0.25]))
    assert dw[0] == -1.0


def test_masked_out_takes_the_mask_of_the_inputs():
    x = np.ma.array([-1.0, 2.0, -3.0], mask=[0, 1, 0])
    out = np.ma.array(np.zeros(3), mask=[1, 0, 0])
    assert lr.relu(x, out=out) is out
    np.testing.assert_array_equal(out.mask, [0, 1, 0])
    np.testing.assert_array_equal(out.data[[0, 2]], [0.0, 0.0])


def test_memmap_gives_a_plain_array(tmp_path):
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(4,))
    mm[:] = [-1, 2, -3, 4]
    result = lr.relu(mm)
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, [0, 2, 0, 4])
    assert lr.relu(mm, out=mm) is mm  # in place on a memmap
    np.testing.assert_array_equal(mm, [0, 2, 0, 4])
    del mm


# ------------------------------------------------------------ byte order

@pytest.mark.parametrize("spec", EXACT, ids=lambda s: s.name)
def test_big_endian_in_place_and_out(spec):
    rng = np.random.default_rng(1)
    native = inputs(spec, (5, 7), F64, rng)
    params = spec.default((5, 7), F64)
    want = spec(native, params)
    want = want[0] if spec.name == "prelu_grad" else want
    swapped = [a.astype(">f8") for a in native]
    got = spec(swapped, params, out=swapped[-1])
    got = got[0] if spec.name == "prelu_grad" else got
    assert got is swapped[-1]
    assert_same_bits(swapped[-1].astype(F64), want)


# ------------------------------------------------------------ half precision

def all_halves():
    return np.arange(2**16, dtype=np.uint16).view(np.float16)


@pytest.mark.parametrize("spec", EXACT, ids=lambda s: s.name)
def test_float16_every_value_every_build_every_layout(spec, isa):
    x = all_halves().reshape(256, 256)
    g = np.random.default_rng(3).standard_normal(x.shape).astype(np.float16)
    arrays = [g, x] if spec.grad else [x]
    params = spec.default(x.shape, F16)
    spec.check(spec(arrays, params), arrays, params)
    strided = [a[::-1, ::3] for a in arrays]
    params = spec.default(strided[0].shape, F16)
    spec.check(spec(strided, params), strided, params)


def test_float16_matches_torch_half(torch_ref):
    torch = torch_ref
    x = all_halves()
    t = torch.from_numpy(x.copy())
    finite = ~np.isnan(x)
    pairs = [(lr.relu(x), torch.relu(t)),
             (lr.leaky_relu(x, 0.1), torch.nn.functional.leaky_relu(t, 0.1)),
             (lr.rrelu(x, 0.1, 0.3), torch.nn.functional.rrelu(t, 0.1, 0.3, training=False)),
             (lr.prelu(x, np.float16(0.25)),
              torch.nn.functional.prelu(t, torch.tensor([0.25], dtype=torch.float16)))]
    for ours, theirs in pairs:
        theirs = theirs.numpy()
        np.testing.assert_array_equal(ours.view(np.uint16)[finite], theirs.view(np.uint16)[finite])
        assert np.isnan(ours[~finite]).all()


@pytest.mark.parametrize("alpha", [0.1, 0.0], ids=["leaky_relu_grad", "relu_grad"])
def test_float16_leaky_relu_grad_every_g_against_every_kind_of_x(isa, alpha):
    # Every float16 bit pattern as g, in runs that end on a NaN or not,
    # against x > 0, x = +-0, x < 0, +-inf and NaN x: where x > 0 the result
    # is g's own bits, where x <= 0 it is g * alpha in float32 rounded once
    # (relu_grad: +0, NaN g or not), and a NaN x gives a NaN. Contiguous calls
    # (which may choose the result by x's bits) give the bits of strided
    # ones (which widen every element), NaN payloads included.
    rng = np.random.default_rng(8)
    g_bits = np.concatenate([np.arange(2**16), rng.permutation(2**16)]).astype(np.uint16)
    kinds = np.array([0x3c00, 0x0001, 0x7c00, 0x0000, 0x8000, 0xbc00, 0x8001, 0xfc00, 0x7e00,
                      0x7c01, 0xfd23], np.uint16)
    x_bits = kinds[rng.integers(0, kinds.size, g_bits.size)]
    g, x = g_bits.view(F16), x_bits.view(F16)
    if alpha:
        def grad(g, x, out=None):
            return lr.leaky_relu_grad(g, x, alpha, out=out)
    else:
        def grad(g, x, out=None):
            return lr.relu_grad(g, x, out=out)
    got = grad(g, x).view(np.uint16)
    with np.errstate(all="ignore"):
        nan = np.isnan(x) | (np.isnan(g) & ((x > 0) | (alpha != 0)))
        sloped = (g.astype(F32) * np.float32(alpha)).astype(F16).view(np.uint16)
    if not alpha:
        sloped[:] = 0
    want = np.where(x.astype(F32) > 0, g_bits, sloped)
    np.testing.assert_array_equal(got[~nan], want[~nan])
    assert np.isnan(got.view(F16)[nan]).all()
    strided = [np.repeat(a, 2)[::2] for a in (g, x)]
    np.testing.assert_array_equal(got, grad(*strided).view(np.uint16))
    in_place = g.copy()
    grad(in_place, x, out=in_place)
    np.testing.assert_array_equal(in_place.view(np.uint16), got)


def bfloat16_values():
    bits = np.arange(2**16, dtype=np.uint16)
    return bits.view(BF16), bits


@needs_bf16
@pytest.mark.parametrize("spec", EXACT, ids=lambda s: s.name)
def test_bfloat16_every_value_every_build(spec, isa, bf16_rounding):
    x, _ = bfloat16_values()
    x = x.reshape(256, 256)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(BF16)
    arrays = [g, x] if spec.grad else [x]
    params = spec.default(x.shape, F32)
    if "weight" in params and isinstance(params["weight"], np.ndarray):
        params["weight"] = params["weight"].astype(BF16)
    result = spec(arrays, params)
    result = result[0] if spec.name == "prelu_grad" else result
    assert result.dtype == BF16
    wide = [a.astype(np.float32) for a in arrays]
    wide_params = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v)
                   for k, v in params.items()}
    want = spec(wide, wide_params)
    want = (want[0] if spec.name == "prelu_grad" else want).astype(BF16)
    nan = np.isnan(want.astype(np.float32))
    assert np.isnan(result.astype(np.float32)[nan]).all()
    np.testing.assert_array_equal(result.view(np.uint16)[~nan], want.view(np.uint16)[~nan])
    strided = [a[::2, ::-1] for a in arrays]
    if "weight" in params and isinstance(params["weight"], np.ndarray):
        params["weight"] = params["weight"][::-1].copy()
    result = spec(strided, params)
    result = result[0] if spec.name == "prelu_grad" else result
    np.testing.assert_array_equal(result.view(np.uint16),
                                  spec([a.copy() for a in strided], params)[0].view(np.uint16)
                                  if spec.name == "prelu_grad" else
                                  spec([a.copy() for a in strided], params).view(np.uint16))


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_rrelu_training_on_halves_draws_the_float32_slopes(half, isa, bf16_rounding):
    # Computed through float32: element i gets the slope a float32 array's
    # element i gets, whatever order the half loops hold elements in.
    if half == "bfloat16" and ml_dtypes is None:
        pytest.skip("ml_dtypes is not installed")
    dtype = F16 if half == "float16" else BF16
    rng = np.random.default_rng(8)
    base = rng.standard_normal(5000).astype(dtype)
    g = rng.standard_normal(5000).astype(dtype)
    kwargs = dict(lower=0.1, upper=0.4, training=True, seed=77)
    for start in (0, 3):   # the 32-element loops from the first element, and not
        x, gx = base[start:], g[start:]
        wide, gwide = x.astype(F32), gx.astype(F32)
        assert_same_bits(lr.rrelu(x, **kwargs).astype(F32),
                         lr.rrelu(wide, **kwargs).astype(dtype).astype(F32))
        assert_same_bits(lr.rrelu_grad(gx, x, **kwargs).astype(F32),
                         lr.rrelu_grad(gwide, wide, **kwargs).astype(dtype).astype(F32))


@needs_bf16
def test_bfloat16_nans_keep_their_payload_quieted_every_build(isa):
    # Every bit pattern in random order, so that most runs of 32 carry a NaN
    # or two among finite values and some carry none: each NaN x gives its
    # own bits with the quiet bit set (0x0040) in the forward pass and the
    # gradient, and the finite results are ml_dtypes' rounding of float32's.
    rng = np.random.default_rng(7)
    bits = np.concatenate([rng.permutation(2**16), np.arange(2**16)]).astype(np.uint16)
    x = bits.view(BF16)
    wide = x.astype(np.float32)
    nan = np.isnan(wide)
    g = rng.standard_normal(x.shape).astype(BF16)
    results = {"relu": (lr.relu(x), lr.relu(wide)),
               "relu_grad": (lr.relu_grad(g, x), lr.relu_grad(g.astype(np.float32), wide)),
               "leaky_relu": (lr.leaky_relu(x, 0.1), lr.leaky_relu(wide, 0.1)),
               "leaky_relu_grad": (lr.leaky_relu_grad(g, x, 0.1),
                                   lr.leaky_relu_grad(g.astype(np.float32), wide, 0.1))}
    for name, (ours, widened) in results.items():
        got = ours.view(np.uint16)
        np.testing.assert_array_equal(got[nan], bits[nan] | 0x0040, err_msg=name)
        np.testing.assert_array_equal(got[~nan], widened.astype(BF16).view(np.uint16)[~nan],
                                      err_msg=name)


@needs_bf16
def test_bfloat16_matches_torch(torch_ref):
    torch = torch_ref
    x, bits = bfloat16_values()
    t = torch.from_numpy(bits.view(np.int16).copy()).view(torch.bfloat16)
    finite = ~np.isnan(x.astype(np.float32))
    g = np.random.default_rng(5).standard_normal(x.shape).astype(BF16)
    tg = torch.from_numpy(g.view(np.int16).copy()).view(torch.bfloat16)
    pairs = [(lr.relu(x), torch.relu(t)),
             (lr.leaky_relu(x, 0.1), torch.nn.functional.leaky_relu(t, 0.1)),
             (lr.leaky_relu_grad(g, x, 0.1),
              torch.ops.aten.leaky_relu_backward(tg, t, 0.1, False)),
             (lr.rrelu(x, 0.1, 0.3), torch.nn.functional.rrelu(t, 0.1, 0.3, training=False))]
    for ours, theirs in pairs:
        theirs = theirs.view(torch.int16).numpy().view(np.uint16)
        np.testing.assert_array_equal(ours.view(np.uint16)[finite], theirs[finite])
        assert np.isnan(ours.astype(np.float32)[~finite]).all()


@needs_bf16
def test_bfloat16_exponential_family_within_one_rounding():
    x = np.random.default_rng(6).standard_normal(10**5).astype(BF16)
    for name in ("elu", "celu", "selu"):
        ours = getattr(lr, name)(x).astype(np.float64)
        exact = getattr(lr, name)(x.astype(np.float64))
        bf16_ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64) * 2**16
        assert np.all(np.abs(ours - exact) <= bf16_ulp), name


@pytest.mark.parametrize("dtype", [F16, F32, F64] + ([BF16] if BF16 is not None else []),
                         ids=lambda d: d.name)
@pytest.mark.parametrize("step", [2, 3, 5, -1, -2, -3])
@pytest.mark.parametrize("n", [7, 31, 32, 95, 1000])
def test_strided_views_move_only_their_own_elements(isa, n, step, dtype):
    # Views are gathered into blocks (at step 2 by permutes and masked
    # stores, at other steps lane by lane into registers) and scattered back:
    # results equal the contiguous call's, and the elements between the
    # view's are never written.
    rng = np.random.default_rng(n)
    base = {k: rng.standard_normal(abs(step) * n + 1).astype(dtype) for k in ("x", "g", "out")}
    view = {k: (b[1::step] if step > 0 else b[-2::step])[:n] for k, b in base.items()}
    before = {k: b.copy() for k, b in base.items()}
    w = np.array([0.25], dtype)
    for call in (lambda x, g, out: lr.leaky_relu(x, 0.1, out=out),
                 lambda x, g, out: lr.leaky_relu_grad(g, x, 0.1, out=out),
                 lambda x, g, out: lr.prelu_grad(g, x, w, axis=0, out=out)[0]):
        want = call(view["x"].copy(), view["g"].copy(), np.empty(n, dtype))
        got = call(view["x"], view["g"], view["out"])
        assert_same_bits(got, want)
        inside = np.zeros(base["out"].size, bool)
        (inside[1::step] if step > 0 else inside[-2::step])[:n] = True
        for k in base:
            assert_same_bits(base[k][~inside], before[k][~inside])


@pytest.mark.parametrize("dtype", [F16] + ([BF16] if BF16 is not None else []),
                         ids=lambda d: d.name)
def test_half_gradient_needs_no_staging(dtype):
    n = 4 * 2**20
    x = np.random.default_rng(7).standard_normal(n).astype(dtype)
    g, out = x.copy(), np.empty_like(x)
    # prelu_grad as (64, 16, 4096), one weight per channel: its partial sums are 16 KB
    g4, x4, out4 = (a.reshape(64, 16, -1) for a in (g, x, out))
    w = np.linspace(0.1, 0.4, 16).astype(dtype)
    for call in (lambda: lr.leaky_relu_grad(g, x, 0.1, out=out),
                 lambda: lr.elu_grad(g[::2], x[::2], out=out[::2]),
                 lambda: lr.leaky_relu(x[::-1], out=out),
                 lambda: lr.prelu_grad(g4, x4, w, out=out4),
                 lambda: lr.prelu_grad(g4[:, :, ::2], x4[:, :, ::2], w, out=x4[:, :, ::2]),
                 lambda: lr.prelu_grad(g4[::-1], x4, w, out=x4, num_threads=2)):
        peak = allocated_peak(call)
        assert peak < 0.05 * x.nbytes, peak


# ------------------------------------------------------------ strides

LAYOUTS = {
    "every-other-column": lambda a: a[:, ::2],
    "transposed-slice": lambda a: a.T[::2],
    "reversed": lambda a: a[::-1, ::-1],
    "4-d-unmergeable": lambda a: a.reshape(4, 16, 8, 32)[::2, :, ::3, ::2],
    "6-d-reversed-permuted": lambda a: a.reshape(2, 4, 4, 4, 8, 16)[::-1, :, ::2, 1:, ::-3, ::2]
    .transpose(3, 0, 5, 1, 4, 2),
    "broadcast-read": lambda a: np.broadcast_to(a[:1], a.shape),
}


@pytest.mark.parametrize("layout", LAYOUTS, ids=list(LAYOUTS))
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_strided_inputs_outputs_and_in_place(spec, layout, isa):
    rng = np.random.default_rng(8)
    view = LAYOUTS[layout]
    bases = inputs(spec, (64, 256), F32, rng)
    arrays = [view(b) for b in bases]
    params = spec.default(arrays[0].shape, F32)
    copies = [a.copy() for a in arrays]
    want = spec(copies, params, num_threads=1)
    for threads in (1, 2):
        got = spec(arrays, params, num_threads=threads)
        compare(spec, got, want)
        out_base = np.zeros((64, 256), F32)
        out = view(out_base) if layout != "broadcast-read" else out_base
        got = spec(arrays, params, out=out, num_threads=threads)
        compare(spec, got, want)
    if layout != "broadcast-read":
        before = bases[-1].copy()
        got = spec(arrays, params, out=arrays[-1])  # in place on the view
        compare(spec, got, want)
        outside = np.ones(bases[-1].shape, bool)
        view(outside)[...] = False
        assert_same_bits(bases[-1][outside], before[outside])  # only the view changed


@pytest.mark.parametrize("step", [2, -1, -2, 3, -3, 7])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_long_strided_runs_in_and_out(dtype, step, isa):
    # Runs long enough for the vector gathers and scatters, with a tail, in
    # every direction; the elements between the view's own stay untouched.
    rng = np.random.default_rng(abs(step))
    base = sample((3, 1000 * abs(step)), dtype, rng)
    view = base[:, ::step]
    want = np.where(view > 0, view, view * dtype.type(0.1))
    got = lr.leaky_relu(view, 0.1, num_threads=1)
    assert_same_bits(got, want)
    out_base = np.full(base.shape, 7, dtype)
    lr.leaky_relu(view, 0.1, out=out_base[:, ::step])
    assert_same_bits(out_base[:, ::step], want)
    outside = np.ones(base.shape, bool)
    outside[:, ::step] = False
    assert (out_base[outside] == 7).all()
    lr.leaky_relu(view, 0.1, out=view)   # in place
    assert_same_bits(base[:, ::step], want)


@pytest.fixture
def fenced_page():
    """A page of memory between two pages that no access may touch, so that
    a read or write past either end of it faults."""
    if not sys.platform.startswith("linux"):
        pytest.skip("mprotect through ctypes: Linux only")
    page = mmap.PAGESIZE
    memory = mmap.mmap(-1, 3 * page)
    start = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for at in (start, start + 2 * page):
        assert libc.mprotect(at, page, 0) == 0, ctypes.get_errno()   # PROT_NONE
    yield memory, page
    for at in (start, start + 2 * page):
        libc.mprotect(at, page, mmap.PROT_READ | mmap.PROT_WRITE)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_strided_views_read_nothing_past_their_ends(fenced_page, dtype, isa):
    # The vector gathers at step 2 load two vectors per vector of results,
    # the second starting an element early so that it ends at the last
    # element read, never past the view's end: views ending at either edge
    # of a page fenced on both sides, in and out of place, must not fault.
    memory, page = fenced_page
    n = page // dtype.itemsize
    whole = np.frombuffer(memory, dtype, count=n, offset=page)
    whole[:] = np.random.default_rng(10).standard_normal(n)
    for cut in (lambda a: a[::2], lambda a: a[1::2], lambda a: a[::-1], lambda a: a[-2::-2],
                lambda a: a[::3], lambda a: a[2::-1], lambda a: a[n - 9::2]):
        view = cut(whole)
        want = np.where(view > 0, view, view * dtype.type(0.1))
        assert_same_bits(lr.leaky_relu(view, 0.1), want)
        assert_same_bits(lr.leaky_relu_grad(np.ones_like(view), view, 0.1),
                         np.where(view > 0, 1, dtype.type(0.1)))
        assert_same_bits(lr.leaky_relu(view, 0.1, out=view), want)


def compare(spec, got, want):
    if spec.name == "prelu_grad":
        assert_same_bits(got[0], want[0])
        assert_same_bits(got[1], want[1])
    else:
        assert_same_bits(got, want)


def test_strided_calls_copy_nothing():
    base = np.random.default_rng(9).standard_normal((1024, 2048)).astype(np.float32)
    view, out = base[:, ::2], np.empty((1024, 1024), np.float32)
    for call in (lambda: lr.leaky_relu(view, 0.1, out=out),
                 lambda: lr.leaky_relu(base.T[::2], 0.1, out=base.T[::2]),
                 lambda: lr.elu_grad(view, view, out=out)):
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 64 * 1024, peak


# ------------------------------------------------------------ the bugs

def test_prelu_weight_sharing_memory_with_out():
    # The weight is a row of out: it must be read as it was before the call.
    for inplace in (False, True):
        x = -np.ones((4, 3))
        out = x if inplace else np.zeros((4, 3))
        w = out[0]
        w[:] = [0.1, 0.2, 0.3]
        want = lr.prelu(x.copy(), w.copy(), axis=1)
        got = lr.prelu(x, w, axis=1, out=out)
        np.testing.assert_array_equal(got, want)
    for strided in (False, True):  # the general path too
        base = -np.ones((4, 6))
        x = base[:, ::2] if strided else base[:, :3].copy()
        out = np.zeros((4, 3))
        w = out[1]
        w[:] = [0.1, 0.2, 0.3]
        want = lr.prelu(x.copy(), w.copy())
        np.testing.assert_array_equal(lr.prelu(x, w, out=out), want)


def test_prelu_grad_weight_sharing_memory_with_out():
    x = -np.ones((4, 3))
    g = np.full((4, 3), 2.0)
    out = np.zeros((4, 3))
    w = out[2]
    w[:] = [0.1, 0.2, 0.3]
    want_dx, want_dw = lr.prelu_grad(g.copy(), x.copy(), w.copy())
    dx, dw = lr.prelu_grad(g, x, w, out=out)
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_array_equal(dw, want_dw)


UNREPRESENTABLE = [
    ("leaky_relu", lambda x: lr.leaky_relu(x, alpha=1e300)),
    ("leaky_relu_grad", lambda x: lr.leaky_relu_grad(x, x, alpha=-1e300)),
    ("prelu", lambda x: lr.prelu(x, 1e300)),
    ("rrelu-eval", lambda x: lr.rrelu(x, 1e300, 1e300)),
    ("rrelu_grad-eval", lambda x: lr.rrelu_grad(x, x, -1e39, 0.5)),
    # in training the slopes' range, upper - lower, too (PyTorch's uniform_ refuses it)
    ("rrelu-training-range", lambda x: lr.rrelu(x, -3e38, 3e38, training=True, seed=1)),
    ("rrelu_grad-training-range",
     lambda x: lr.rrelu_grad(x, x, -3e38, 3e38, training=True, seed=1)),
    ("elu", lambda x: lr.elu(x, alpha=1e39)),
    ("celu", lambda x: lr.celu(x, alpha=1e-39)),
]


@pytest.mark.parametrize("dtype", [F16, F32], ids=str)
@pytest.mark.parametrize("name, call", UNREPRESENTABLE, ids=[u[0] for u in UNREPRESENTABLE])
def test_parameters_the_working_dtype_cannot_hold_are_refused(name, call, dtype):
    x = -np.ones(4, dtype)
    before = x.copy()
    with pytest.raises(ValueError, match="cannot be represented in float32"):
        call(x)
    np.testing.assert_array_equal(x, before)
    call(np.ones(4))  # float64 holds them


def test_parameters_torch_refuses(torch_ref):
    with pytest.raises(RuntimeError, match="overflow"):
        torch_ref.nn.functional.leaky_relu(torch_ref.ones(3), 1e300)
    with pytest.raises(RuntimeError, match="overflow"):
        torch_ref.nn.functional.leaky_relu(torch_ref.ones(3, dtype=torch_ref.float16), 1e39)


def test_rrelu_training_refuses_a_range_beyond_float64():
    x = -np.ones(3)
    for call in (lambda: lr.rrelu(x, -1e308, 1e308, training=True, seed=1),
                 lambda: lr.rrelu_grad(x, x, -1e308, 1e308, training=True, seed=1)):
        with pytest.raises(ValueError, match="upper - lower must be finite"):
            call()
    np.testing.assert_array_equal(x, -1)
    # in evaluation only the mean slope matters
    np.testing.assert_array_equal(lr.rrelu(x, -1e308, 1e308), 0 * x)


def test_rrelu_mean_of_huge_bounds_does_not_overflow():
    x = -np.ones(3)
    np.testing.assert_array_equal(lr.rrelu(x, -1e308, -1e308), lr.leaky_relu(x, -1e308))
    np.testing.assert_array_equal(lr.rrelu_grad(x, x, 1e308, 1.5e308),
                                  lr.leaky_relu_grad(x, x, 1.25e308))


# ------------------------------------------------------------ one set of rules

CHOICES = {
    "dtype": [F16, F32, F64] + ([BF16] if BF16 is not None else []),
    "alpha": [0.1, -0.5, 0.0, 2, np.float32(0.3), 1e39, 1e300, float("inf"), float("nan"),
              True, "x"],
    "threads": [None, 1, 2, 0, -1, 1024, 1025, True, 2.0],
    "out": ["none", "fresh", "inplace", "float64", "int", "readonly", "overlap", "shape",
            "list"],
    "x": ["plain", "strided", "list", "fortran", "int", "scalar"],
}


def make_call(spec, data):
    dtype = data.draw(st.sampled_from(CHOICES["dtype"]))
    shape = data.draw(st.sampled_from([(0,), (7,), (3, 5), (2, 3, 4)]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    arrays = inputs(spec, shape, dtype, rng)
    kind = data.draw(st.sampled_from(CHOICES["x"]))
    if kind == "strided":
        arrays = [np.repeat(a, 2, axis=-1)[..., ::2] for a in arrays]
    elif kind == "list":
        arrays = [a.tolist() for a in arrays]
    elif kind == "fortran":
        arrays = [np.asfortranarray(a) for a in arrays]
    elif kind == "int":
        arrays = [np.nan_to_num(a).astype(np.int32) for a in arrays]
    elif kind == "scalar" and arrays[0].size:
        arrays = [a.reshape(-1)[:1].reshape(()) for a in arrays]
    params = spec.default(np.shape(arrays[0]), dtype)
    for key in ("alpha", "lower"):
        if key in params:
            params[key] = data.draw(st.sampled_from(CHOICES["alpha"]))
    if spec.name == "prelu" and data.draw(st.booleans()):
        params = {"weight": data.draw(st.sampled_from(CHOICES["alpha"]))}
    threads = data.draw(st.sampled_from(CHOICES["threads"]))
    out = data.draw(st.sampled_from(CHOICES["out"]))
    like = np.asarray(arrays[-1])
    outs = {"none": None, "fresh": np.zeros(like.shape, like.dtype),
            "inplace": arrays[-1], "float64": np.zeros(like.shape),
            "int": np.zeros(like.shape, np.int64),
            "readonly": np.zeros(like.shape, like.dtype),
            "overlap": None, "shape": np.zeros(like.shape + (2,), like.dtype),
            "list": [0.0]}
    outs["readonly"].setflags(write=False)
    if out == "overlap" and isinstance(arrays[-1], np.ndarray) and like.ndim and like.size > 1:
        buffer = np.zeros(like.size + 1, like.dtype)
        buffer[1:] = like.reshape(-1)
        arrays[-1] = buffer[1:].reshape(like.shape)
        outs["overlap"] = buffer[:-1].reshape(like.shape)
    return arrays, params, {"out": outs[out], "num_threads": threads}


def outcome(spec, arrays, params, kwargs):
    """The result, or the exception's type and message, of one call on copies."""
    arrays = [a.copy() if isinstance(a, np.ndarray) else a for a in arrays]
    out = kwargs["out"]
    if isinstance(out, np.ndarray):
        for i, a in enumerate(arrays):
            if out is a:
                out = arrays[i]
        else:
            if out.flags.writeable:
                out = out.copy()
    try:
        with np.errstate(all="ignore"):
            result = spec(arrays, params, out=out, num_threads=kwargs["num_threads"])
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    return result


@settings(deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_fast_and_general_paths_accept_the_same_calls_and_agree(spec, data):
    arrays, params, kwargs = make_call(spec, data)
    fast = outcome(spec, arrays, params, kwargs)
    active = _dispatch.kernels
    _dispatch.kernels = general_path_only(active)
    try:
        general = outcome(spec, arrays, params, kwargs)
    finally:
        _dispatch.kernels = active
    if isinstance(fast, tuple) and isinstance(fast[0], type):
        assert fast == general
    elif spec.name == "prelu_grad":
        compare(spec, fast, general)
    else:
        assert type(fast) is type(general)
        assert_same_bits(np.asarray(fast), np.asarray(general))


# ------------------------------------------------------------ the fast entry points

@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_plain_calls_never_reach_the_general_loops(spec, monkeypatch):
    # Plain contiguous arrays, float parameters and any valid num_threads are
    # the fast entry points' to take whole: the general loops (LOOPS,
    # prelu_grad_any) must not be called. (num_threads > 1, rrelu in training and
    # prelu_grad once went the general way, at two to three times the cost.)
    general = []

    def refuse(entry):
        def wrapped(*args):
            general.append(entry)
            return entry(*args)
        return wrapped

    monkeypatch.setattr(_dispatch, "kernels",
                        KernelProxy(_dispatch.kernels, refuse, lambda entry: entry))
    rng = np.random.default_rng(4)
    for dtype in (F16, F32, F64) + ((BF16,) if BF16 is not None else ()):
        if spec.name.startswith("prelu") and dtype.itemsize == 2:
            continue   # one weight per channel in half precision rounds through the general path
        arrays = inputs(spec, (4, 16, 64), dtype, rng)
        params = spec.default((4, 16, 64), dtype)
        for threads in (None, 1, 2):
            spec(arrays, params, num_threads=threads)
            spec(arrays, params, out=np.empty_like(arrays[0]), num_threads=threads)
    assert general == []
