"""Refused calls: the right exception, a message naming the problem, nothing written.

Each row is a bad call built from fresh arrays. The test checks the
exception type and message, then that every array involved (inputs, the
`out` given, the prelu weight) still holds exactly the bits it held before:
every check must run before anything is written.
"""
import types

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import leakyrelu as lr


def fresh_arrays():
    """A float32 (3, 4) input with both signs, a gradient, a valid out, a prelu weight."""
    rng = np.random.default_rng(7)
    return types.SimpleNamespace(
        x=rng.standard_normal((3, 4)).astype(np.float32),
        g=rng.standard_normal((3, 4)).astype(np.float32),
        out=np.full((3, 4), 9.0, np.float32),
        w=np.array([0.1, 0.2, 0.3, 0.4], np.float32),
        x64=rng.standard_normal((3, 4)),
    )


def read_only(a):
    a.setflags(write=False)
    return a


def zero_stride(a):
    """A writeable (3, 4) float32 view whose rows all share one row of a's memory."""
    return as_strided(a.reshape(-1)[:4], shape=(3, 4), strides=(0, 4))


DTYPE_MSG = "supports float16, float32, float64 and ml_dtypes.bfloat16"
TRAIN = {"training": True, "seed": 3}

# (id, call on the namespace of arrays, exception, message pattern)
CASES = [
    # not an array, or a dtype the kernels do not compute in
    ("relu-list-of-str", lambda a: lr.relu(["1.0", "-1.0"], out=a.out[0, :2]), TypeError,
     "x must be an array-like of numbers, not list.*" + DTYPE_MSG),
    ("leaky_relu-None", lambda a: lr.leaky_relu(None), TypeError,
     "x must be an array-like of numbers, not NoneType"),
    ("relu_grad-list-grad-shape", lambda a: lr.relu_grad([1.0] * 3, a.x[0], out=a.out[0]),
     ValueError, r"grad_output has shape \(3,\) but x has shape \(4,\)"),
    ("relu-int-out", lambda a: lr.relu(np.arange(12).reshape(3, 4),
                                       out=np.zeros((3, 4), np.int64)),
     TypeError, "out has dtype int64 but the result has dtype float64"),
    ("leaky_relu-bool-out", lambda a: lr.leaky_relu(a.x > 0, out=a.out), TypeError,
     "out has dtype float32 but the result has dtype float16"),
    ("elu-complex", lambda a: lr.elu(a.x.astype(np.complex64)), TypeError,
     "x has dtype complex64.*" + DTYPE_MSG),
    ("selu-object", lambda a: lr.selu(a.x.astype(object)), TypeError, "x has dtype object"),
    ("celu-longdouble", lambda a: lr.celu(a.x.astype(np.longdouble)), TypeError,
     f"x has dtype {np.dtype(np.longdouble)}.*" + DTYPE_MSG),
    ("prelu-int8", lambda a: lr.prelu(a.x.astype(np.int8), 0.1, out=a.out), TypeError,
     "out has dtype float32 but the result has dtype float16"),
    ("rrelu-uint16-out", lambda a: lr.rrelu(a.x.astype(np.uint16), out=a.x.astype(np.uint16)),
     TypeError, "out has dtype uint16 but the result has dtype float32"),
    ("elu_grad-int-x", lambda a: lr.elu_grad(a.g, np.ones((3, 4), np.int32), out=a.out),
     TypeError, "out has dtype float32 but the result has dtype float64"),
    ("selu_grad-complex-grad", lambda a: lr.selu_grad(a.g.astype(np.complex64), a.x,
                                                      out=a.out),
     TypeError, "grad_output has dtype complex64"),
    ("relu-str", lambda a: lr.relu("abc"), TypeError, "x must be an array-like of numbers"),
    # out
    ("relu-out-shape", lambda a: lr.relu(a.x, out=a.out[:, :3]), ValueError,
     r"out has shape \(3, 3\) but the result has shape \(3, 4\)"),
    ("leaky_relu-out-transposed-shape", lambda a: lr.leaky_relu(a.x, out=a.out.T), ValueError,
     "out has shape"),
    ("elu-out-dtype", lambda a: lr.elu(a.x, out=np.zeros((3, 4))), TypeError,
     "out has dtype float64 but the result has dtype float32"),
    ("prelu-out-float16", lambda a: lr.prelu(a.x, a.w, out=np.zeros((3, 4), np.float16)),
     TypeError, "out has dtype float16"),
    ("selu-out-read-only", lambda a: lr.selu(a.x, out=read_only(a.out)), ValueError,
     "out is read-only"),
    ("relu-in-place-read-only", lambda a: lr.relu(read_only(a.x), out=a.x), ValueError,
     "out is read-only"),
    ("celu-out-list", lambda a: lr.celu(a.x, out=[0.0] * 12), TypeError,
     "out must be a numpy.ndarray or None, not list"),
    ("rrelu-out-scalar", lambda a: lr.rrelu(a.x, out=np.float32(0)), TypeError,
     "out must be a numpy.ndarray or None, not float32"),
    ("leaky_relu-out-broadcast",
     lambda a: lr.leaky_relu(a.x, out=np.broadcast_to(a.out[0], (3, 4))), ValueError,
     "out is read-only"),
    ("relu-out-zero-stride", lambda a: lr.relu(a.x, out=zero_stride(a.out)), ValueError,
     "zero stride"),
    ("prelu_grad-out-zero-stride",
     lambda a: lr.prelu_grad(a.g, a.x, a.w, out=zero_stride(a.out)), ValueError, "zero stride"),
    ("rrelu_grad-out-shape", lambda a: lr.rrelu_grad(a.g, a.x, out=a.out[:2], **TRAIN),
     ValueError, "out has shape"),
    # grad_output against x
    ("leaky_relu_grad-shape", lambda a: lr.leaky_relu_grad(a.g[:2], a.x, out=a.out), ValueError,
     r"grad_output has shape \(2, 4\) but x has shape \(3, 4\)"),
    ("relu_grad-shape-transposed", lambda a: lr.relu_grad(a.g.T, a.x), ValueError,
     "grad_output has shape"),
    ("prelu_grad-shape", lambda a: lr.prelu_grad(a.g[:, :2], a.x, a.w, out=a.out), ValueError,
     "grad_output has shape"),
    # mixed dtypes promote as in NumPy, so out must have the promoted dtype
    ("elu_grad-dtype", lambda a: lr.elu_grad(a.g, a.x64, out=a.out), TypeError,
     "out has dtype float32 but the result has dtype float64"),
    ("rrelu_grad-dtype", lambda a: lr.rrelu_grad(a.g.astype(np.float16), a.x,
                                                 out=a.out.astype(np.float16)),
     TypeError, "out has dtype float16 but the result has dtype float32"),
    ("celu_grad-from-output-dtype",
     lambda a: lr.celu_grad(a.g, a.x64, from_output=True, out=a.out), TypeError,
     "out has dtype float32 but the result has dtype float64"),
    # scalar parameters
    ("leaky_relu-alpha-nan", lambda a: lr.leaky_relu(a.x, np.nan, out=a.out), ValueError,
     "alpha must be finite, got nan"),
    ("elu-alpha-inf", lambda a: lr.elu(a.x, np.inf, out=a.x), ValueError,
     "alpha must be finite, got inf"),
    ("celu_grad-alpha-minus-inf", lambda a: lr.celu_grad(a.g, a.x, -np.inf, out=a.g), ValueError,
     "alpha must be finite"),
    ("leaky_relu_grad-alpha-nan", lambda a: lr.leaky_relu_grad(a.g, a.x, float("nan")),
     ValueError, "alpha must be finite"),
    ("leaky_relu-alpha-bool", lambda a: lr.leaky_relu(a.x, True, out=a.out), TypeError,
     "alpha must be a real number, not bool"),
    ("elu-alpha-str", lambda a: lr.elu(a.x, "1.0"), TypeError,
     "alpha must be a real number, not str"),
    ("celu-alpha-zero", lambda a: lr.celu(a.x, 0.0, out=a.x), ValueError, "nonzero alpha"),
    ("celu_grad-alpha-zero", lambda a: lr.celu_grad(a.g, a.x, 0, out=a.out), ValueError,
     "nonzero alpha"),
    # rrelu
    ("rrelu-lower-above-upper", lambda a: lr.rrelu(a.x, 0.5, 0.2, out=a.x), ValueError,
     "lower must not exceed upper"),
    ("rrelu_grad-lower-above-upper", lambda a: lr.rrelu_grad(a.g, a.x, 0.5, 0.2, **TRAIN),
     ValueError, "lower must not exceed upper"),
    ("rrelu-upper-nan", lambda a: lr.rrelu(a.x, 0.1, np.nan), ValueError,
     "upper must be finite"),
    ("rrelu-training-no-seed", lambda a: lr.rrelu(a.x, training=True, out=a.out), ValueError,
     "needs an integer seed"),
    ("rrelu_grad-training-no-seed", lambda a: lr.rrelu_grad(a.g, a.x, training=True, out=a.g),
     ValueError, "needs an integer seed"),
    ("rrelu-seed-negative", lambda a: lr.rrelu(a.x, training=True, seed=-1, out=a.x), ValueError,
     r"seed must be in \[0, 2\*\*64\), got -1"),
    ("rrelu-seed-too-large", lambda a: lr.rrelu(a.x, training=True, seed=2**64), ValueError,
     "seed must be in"),
    ("rrelu-seed-float", lambda a: lr.rrelu(a.x, training=True, seed=1.0, out=a.out), TypeError,
     "seed must be an int, not float"),
    ("rrelu_grad-seed-bool", lambda a: lr.rrelu_grad(a.g, a.x, training=True, seed=True),
     TypeError, "seed must be an int, not bool"),
    ("rrelu-training-str", lambda a: lr.rrelu(a.x, training="yes", seed=1), TypeError,
     "training must be True or False, not str"),
    # prelu's weight and axis
    ("prelu-weight-length", lambda a: lr.prelu(a.x, a.w[:3], out=a.out), ValueError,
     "weight has 3 values but x has 4 channels along axis 1"),
    ("prelu_grad-weight-length", lambda a: lr.prelu_grad(a.g, a.x, a.w, axis=0, out=a.out),
     ValueError, "weight has 4 values but x has 3 channels along axis 0"),
    ("prelu-weight-dtype", lambda a: lr.prelu(a.x, a.w.astype(np.float64), out=a.x), TypeError,
     "weight has dtype float64 but x has dtype float32"),
    ("prelu_grad-weight-int", lambda a: lr.prelu_grad(a.g, a.x, np.arange(4)), TypeError,
     "weight has dtype int64"),
    ("prelu-weight-2d", lambda a: lr.prelu(a.x, a.w.reshape(2, 2), out=a.out), ValueError,
     r"weight must be a scalar or 1-D, got shape \(2, 2\)"),
    ("prelu-weight-bool", lambda a: lr.prelu(a.x, True), TypeError,
     "weight must be a real number or an array of them, not bool"),
    ("prelu-weight-str", lambda a: lr.prelu(a.x, "0.25", out=a.out), TypeError,
     "weight must be a real number or an array of them, not str"),
    ("prelu-axis-out-of-range", lambda a: lr.prelu(a.x, a.w, axis=2, out=a.out),
     np.exceptions.AxisError, "axis 2 is out of bounds for array of dimension 2"),
    ("prelu_grad-axis-negative-out-of-range",
     lambda a: lr.prelu_grad(a.g, a.x, a.w, axis=-3, out=a.g), np.exceptions.AxisError,
     "axis -3 is out of bounds"),
    ("prelu-scalar-weight-axis-none", lambda a: lr.prelu(a.x, 0.25, axis=None, out=a.out),
     TypeError, "axis must be an int"),
    ("prelu-axis-float", lambda a: lr.prelu(a.x, a.w, axis=1.0), TypeError,
     "axis must be an int, not float"),
    # num_threads
    ("relu-threads-0", lambda a: lr.relu(a.x, out=a.out, num_threads=0), ValueError,
     "num_threads must be a positive int, got 0"),
    ("leaky_relu-threads-negative", lambda a: lr.leaky_relu(a.x, out=a.x, num_threads=-1),
     ValueError, "num_threads must be a positive int, got -1"),
    ("selu-threads-float", lambda a: lr.selu(a.x, num_threads=2.0), TypeError,
     "num_threads must be an int or None, not float"),
    ("celu-threads-bool", lambda a: lr.celu(a.x, out=a.x, num_threads=True), TypeError,
     "num_threads must be an int or None, not bool"),
    ("prelu-threads-str", lambda a: lr.prelu(a.x, a.w, out=a.out, num_threads="2"), TypeError,
     "num_threads must be an int or None, not str"),
    ("prelu_grad-threads-0", lambda a: lr.prelu_grad(a.g, a.x, a.w, out=a.g, num_threads=0),
     ValueError, "num_threads must be a positive int"),
    ("rrelu_grad-threads-negative",
     lambda a: lr.rrelu_grad(a.g, a.x, out=a.out, num_threads=-2, **TRAIN), ValueError,
     "num_threads must be a positive int"),
    # from_output
    ("leaky_relu_grad-from-output-negative-alpha",
     lambda a: lr.leaky_relu_grad(a.g, a.x, -0.1, from_output=True, out=a.out), ValueError,
     "from_output=True needs alpha >= 0"),
    ("elu_grad-from-output-negative-alpha",
     lambda a: lr.elu_grad(a.g, a.x, -1.0, from_output=True, out=a.g), ValueError,
     "from_output=True needs alpha >= 0"),
    ("celu_grad-from-output-negative-alpha",
     lambda a: lr.celu_grad(a.g, a.x, -2.0, from_output=True, out=a.x), ValueError,
     "from_output=True needs alpha >= 0"),
    ("rrelu_grad-from-output-negative-lower",
     lambda a: lr.rrelu_grad(a.g, a.x, -0.5, 0.5, from_output=True, out=a.out), ValueError,
     "from_output=True needs lower >= 0"),
    ("relu_grad-from-output-int", lambda a: lr.relu_grad(a.g, a.x, from_output=1, out=a.out),
     TypeError, "from_output must be True or False, not int"),
    ("selu_grad-from-output-str", lambda a: lr.selu_grad(a.g, a.x, from_output="yes"),
     TypeError, "from_output must be True or False, not str"),
    ("elu_grad-from-output-none", lambda a: lr.elu_grad(a.g, a.x, from_output=None, out=a.g),
     TypeError, "from_output must be True or False, not NoneType"),
]


@pytest.mark.parametrize("call, error, message", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_call_is_refused_and_writes_nothing(call, error, message):
    arrays = fresh_arrays()
    before = {name: a.copy() for name, a in vars(arrays).items()}
    with pytest.raises(error, match=message):
        call(arrays)
    for name, a in vars(arrays).items():
        assert a.dtype == before[name].dtype
        assert a.tobytes() == before[name].tobytes(), f"{name} was written"


def test_the_table_covers_every_function():
    called = set()
    for _, call, _, _ in CASES:
        called.update(n for n in call.__code__.co_names if n in lr.__all__)
    public = {n for n in lr.__all__ if n.endswith(("relu", "elu", "_grad"))}
    assert called == public, public - called
