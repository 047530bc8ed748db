"""Fuzz the public API: arbitrary bytes become one call of a public function.

The bytes choose the function, the arrays (dtype, shape, values, memory
layout), the parameters, ``out`` and ``num_threads``. A call may only:

- be refused with TypeError or ValueError (numpy's AxisError included),
  leaving every array involved exactly as it was; or
- succeed with a result of the input's shape and (native) dtype, in ``out``
  when one was given, equal to the NumPy reference of tests/cases.py (bit for
  bit for the piecewise-linear functions, NaN-aware, within the tested
  tolerance for elu/celu/selu), with every array it had no business writing
  left untouched.

Anything else (a crash, another exception, a wrong value) is a finding.

    python fuzz/fuzz_api.py -max_total_time=60        # with atheris (libFuzzer)
    python fuzz/fuzz_api.py --random 60               # without: random bytes
    python fuzz/fuzz_api.py crash-<hash>              # replay one input

Run it from the repository with leakyrelu importable (installed, or with
PYTHONPATH=src).
"""
import fractions
import math
import os
import random
import sys
import time
import warnings

import numpy as np
from numpy.lib.stride_tricks import as_strided

try:
    import atheris
except ImportError:     # the --random mode needs nothing but NumPy
    atheris = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

if atheris is not None:
    with atheris.instrument_imports(include=["leakyrelu"]):
        import leakyrelu as lr
else:
    import leakyrelu as lr

import cases
import reference as R

warnings.simplefilter("ignore")   # NumPy's overflow warnings in the references

# Integer and bool inputs (computed as floats) and mixed dtypes (promoted) are
# covered by tests/test_inputs.py against their own references.
DTYPES = [np.float16, np.float32, np.float64, ">f2", ">f4", ">f8",
          object, np.complex64, np.complex128, np.longdouble]
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, -1e-310, 1e-45, 6e-8,
           65504.0, 3.4e38, -3.4e38, 1.7e308, -1.7e308, 0.5, -2.5]
REALS = [0.01, 0.0, -0.0, 0.5, -0.5, 1.0, 2.0, 1 / 3, -3.0, 1e-30, 1e30, 1e300, -1e300,
         5e-324, np.inf, -np.inf, np.nan, 3, -2, 0, 10**400, -(10**400), True, False,
         np.float32(0.25), np.float64(0.75), np.float16(1.5), np.int64(2), np.bool_(True),
         fractions.Fraction(1, 3), 1 + 0j, "0.1", None, [0.1], np.array(0.5),
         np.array([0.5]), np.float32(np.nan)]
FLAGS = [False, True, None, 0, 1, np.bool_(True), np.bool_(False), "yes", 1.0]
SEEDS = [None, 0, 1, 7, 2**32 - 1, 2**32, 2**64 - 1, 2**64, -1, 1.5, True, np.uint64(5),
         np.int8(-3), "3", 2**100]
THREADS = [None, None, 1, 1, 2, 2, 3, 0, -1, 1024, 1025, 2**31, 2**63, 10**30, True, False,
           "2", 2.0, np.int32(2), np.uint8(1), np.int64(-2)]
AXES = [1, 1, 0, -1, 2, -2, 3, -3, 4, -5, 1.0, None, True, np.int64(1), "1", 2**70]

FORWARD = ["relu", "leaky_relu", "prelu", "rrelu", "elu", "celu", "selu"]
FUNCTIONS = FORWARD + [f + "_grad" for f in FORWARD]


class RandomData:
    """The few FuzzedDataProvider methods used here, over a random generator."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def ConsumeIntInRange(self, lo, hi):
        return self.r.randint(lo, hi)

    def ConsumeBool(self):
        return self.r.random() < 0.5

    def PickValueInList(self, values):
        return self.r.choice(values)

    def ConsumeBytes(self, n):
        return self.r.randbytes(n)

    def ConsumeProbability(self):
        return self.r.random()


class Case:
    """One call being built: the arrays made (to check afterwards) and a description."""

    def __init__(self, data):
        self.data = data
        self.bases = []       # every array allocated for this call
        self.story = []

    def note(self, text):
        self.story.append(text)

    def pick(self, name, values):
        value = self.data.PickValueInList(values)
        self.note(f"{name}={value!r}")
        return value

    # -------------------------------------------------------------- arrays

    def values(self, n, dtype):
        """n values of dtype: random, special, or raw bit patterns."""
        d = self.data
        how = d.ConsumeIntInRange(0, 3)
        if how == 0:
            v = np.random.default_rng(d.ConsumeIntInRange(0, 2**16)).standard_normal(n) * 4
        elif how == 1:
            v = np.array([d.PickValueInList(SPECIAL) for _ in range(min(n, 64))] or [0.0])
            v = np.resize(v, n)
        elif how == 2 and np.dtype(dtype).kind == "f":
            size = np.dtype(dtype).itemsize
            raw = d.ConsumeBytes(n * size).ljust(n * size, b"\x7f")
            return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("=")).astype(dtype)
        else:
            v = np.linspace(-3, 3, n)
        if np.dtype(dtype).kind in "iub":
            v = np.nan_to_num(v)
        with np.errstate(all="ignore"):
            return v.astype(dtype)

    def shape(self):
        d = self.data
        ndim = d.ConsumeIntInRange(0, 4)
        dims = [d.ConsumeIntInRange(0, 6) for _ in range(ndim)]
        if ndim and d.ConsumeIntInRange(0, 40) == 0:
            # now and then, enough elements for the parallel path
            dims[-1] = d.ConsumeIntInRange(32000, 40000)
        return tuple(dims)

    def array(self, name, shape, dtype):
        """An array of this shape and dtype, in a memory layout the bytes choose."""
        d = self.data
        n = int(np.prod(shape))
        layout = d.ConsumeIntInRange(0, 9)
        self.note(f"{name}: shape={shape} dtype={np.dtype(dtype).str} layout={layout}")
        if layout == 1 and len(shape) >= 2:                 # Fortran order
            a = np.asfortranarray(self.values(n, dtype).reshape(shape))
        elif layout == 2 and len(shape) >= 1:               # every other element
            a = self.values(2 * n, dtype).reshape(shape[:-1] + (2 * shape[-1],))[..., ::2]
        elif layout == 3 and len(shape) >= 1:               # reversed
            a = self.values(n, dtype).reshape(shape)[..., ::-1]
        elif layout == 4 and len(shape) >= 2:               # a transpose
            a = self.values(n, dtype).reshape(shape[::-1]).T
        elif layout == 5:                                   # broadcast: zero strides, read-only
            a = np.broadcast_to(self.values(1, dtype).reshape(()), shape)
        elif layout == 6 and np.dtype(dtype) != np.dtype(object):   # unaligned
            raw = np.zeros(n * np.dtype(dtype).itemsize + 1, np.uint8)
            a = raw[1:].view(dtype).reshape(shape)
            a[...] = self.values(n, dtype).reshape(shape)
        elif layout == 7:                                   # read-only
            a = self.values(n, dtype).reshape(shape)
            a.setflags(write=False)
        else:
            a = self.values(n, dtype).reshape(shape)
        self.bases.append(a)
        return a

    def out(self, arrays, shape, dtype):
        """The ``out`` argument: None, an input, a buffer right or wrong, an overlap."""
        d = self.data
        choice = d.ConsumeIntInRange(0, 12)
        self.note(f"out choice={choice}")
        if choice <= 3:
            return None
        if choice == 4:
            return arrays[0]
        if choice == 5:
            return arrays[-1]
        if choice == 6:
            return self.array("out", shape, dtype)
        if choice == 7:     # wrong shape
            return self.array("out", shape + (2,), dtype)
        if choice == 8:     # another dtype
            return self.array("out", shape, self.pick("out dtype", DTYPES))
        if choice == 9:     # zero stride, writeable
            base = self.values(1, dtype)
            out = as_strided(base, shape=shape, strides=(0,) * len(shape))
            self.bases.append(base)
            return out
        if choice == 10:    # overlapping an input by all but a few elements
            x = arrays[0]
            if x.ndim == 0 or x.dtype.kind != "f" or not x.flags.c_contiguous \
                    or not x.flags.writeable:
                return None
            shift = d.ConsumeIntInRange(-3, 3)
            base = np.zeros(x.size + 6, x.dtype)
            base[3:3 + x.size] = x.reshape(-1)
            new_x = base[3:3 + x.size].reshape(x.shape)
            arrays[0] = new_x
            self.bases.append(base)
            return base[3 + shift:3 + shift + x.size].reshape(x.shape)
        if choice == 11:
            return [0.0] * int(np.prod(shape))
        return np.float32(0)    # a NumPy scalar, not an array


def native(dtype):
    dtype = np.dtype(dtype)
    return dtype.newbyteorder("=") if dtype.kind == "f" else dtype


def snapshot(arrays):
    return [(a, a.tobytes() if a.dtype != object else a.copy()) for a in arrays]


def unchanged(saved, skip=()):
    """The arrays of ``saved`` (but those sharing memory with ``skip``) that changed."""
    changed = []
    for a, before in saved:
        if any(s is not None and np.may_share_memory(a, s) for s in skip):
            continue
        if a.dtype == object:   # the same objects, element for element
            same = all(p is q for p, q in zip(a.ravel(), before.ravel()))
        else:
            same = a.tobytes() == before
        if not same:
            changed.append(a)
    return changed


def build(data):
    case = Case(data)
    name = case.pick("function", FUNCTIONS)
    grad = name.endswith("_grad")
    base = name[:-5] if grad else name
    shape = case.shape()
    dtype = case.pick("dtype", DTYPES)
    arrays = [case.array("x", shape, dtype)]
    if grad:
        g_dtype = dtype
        g_shape = shape if data.ConsumeIntInRange(0, 9) else case.shape()
        arrays.insert(0, case.array("grad_output", g_shape, g_dtype))
    params = {}
    if base in ("leaky_relu", "elu", "celu") and data.ConsumeBool():
        params["alpha"] = case.pick("alpha", REALS)
    if base == "prelu":
        x = arrays[-1]
        if data.ConsumeBool():
            params["weight"] = case.pick("weight", REALS)
        else:
            channels = x.shape[1] if x.ndim > 1 else (x.shape[0] if x.ndim else 1)
            length = channels if data.ConsumeIntInRange(0, 4) else data.ConsumeIntInRange(0, 7)
            w_dtype = native(dtype) if data.ConsumeIntInRange(0, 5) else case.pick(
                "weight dtype", DTYPES)
            w_shape = (length,) if data.ConsumeIntInRange(0, 6) else case.pick(
                "weight shape", [(), (1,), (2, 2), (1, 1)])
            params["weight"] = case.array("weight", w_shape, w_dtype)
            if x.ndim == 1 and length == x.shape[0]:
                params["axis"] = 0
        if data.ConsumeBool():
            params["axis"] = case.pick("axis", AXES)
    if base == "rrelu":
        for key in ("lower", "upper"):
            if data.ConsumeBool():
                params[key] = case.pick(key, REALS)
        if data.ConsumeBool():
            params["training"] = case.pick("training", FLAGS)
            params["seed"] = case.pick("seed", SEEDS)
    if grad and base != "prelu" and data.ConsumeIntInRange(0, 3) == 0:
        params["from_output"] = case.pick("from_output", FLAGS)
    kwargs = dict(params)
    out = case.out(arrays, arrays[-1].shape, dtype)
    if out is not None:
        kwargs["out"] = out
    if data.ConsumeBool():
        kwargs["num_threads"] = case.pick("num_threads", THREADS)
    return case, name, arrays, params, kwargs


def check(case, name, arrays, params, kwargs, result):
    """The result of an accepted call: shape, dtype, where, and value."""
    x = arrays[-1]
    out = kwargs.get("out")
    if name == "prelu_grad":
        result, grad_weight = result
        assert isinstance(grad_weight, np.ndarray)
    assert isinstance(result, np.ndarray), type(result)
    weight = params.get("weight")
    if isinstance(weight, (list, tuple)):
        weight = np.asarray(weight)
    if isinstance(weight, np.ndarray) and weight.size != 1:
        # One weight per channel: the axis must exist and hold as many channels.
        axis = params.get("axis", 1)
        assert -x.ndim <= axis < x.ndim and x.shape[axis] == weight.size, (
            f"prelu accepted {weight.size} weights for x of shape {x.shape}, axis={axis}")
    assert result.shape == x.shape, (result.shape, x.shape)
    assert native(result.dtype) == native(x.dtype), (result.dtype, x.dtype)
    if out is not None:
        assert result is out
    else:
        assert not any(np.may_share_memory(result, a) for a in case.bases)


def as_float(value):
    """A real parameter as the package reads it: ints past float's range are infinite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def reference_check(name, before, params, result):
    """Compare with the references of tests/cases.py, on the values before the call."""
    p = {k: v for k, v in params.items()}
    for key in ("alpha", "lower", "upper"):
        if key in p:
            p[key] = as_float(p[key])
    if "weight" in p and isinstance(p["weight"], (list, tuple)):
        # A sequence of weights is read as np.asarray reads it.
        p["weight"] = np.asarray(p["weight"], dtype=np.float64)
    elif "weight" in p and not isinstance(p["weight"], np.ndarray):
        p["weight"] = as_float(p["weight"])
    elif "weight" in p:
        p["weight"] = p["weight"].astype(native(p["weight"].dtype))
    if "axis" in p:
        p["axis"] = int(p["axis"])
    # An out of non-native byte order holds the same values: compare them natively.
    if isinstance(result, tuple):
        result = tuple(native_array(r) for r in result)
    else:
        result = native_array(result)
    training = bool(p.get("training", False))
    if name.startswith("rrelu") and training:
        lower, upper = p.get("lower", 1 / 8), p.get("upper", 1 / 3)
        seed = int(p["seed"])
        x = before[-1]
        work = cases.working(x.dtype)
        if name == "rrelu":
            want = R.rrelu_train(x.astype(work), lower, upper, seed).astype(x.dtype)
        else:
            g = before[0]
            want = R.rrelu_train_grad(g.astype(work), x.astype(work), lower, upper,
                                      seed).astype(x.dtype)
        cases.assert_same_bits(result, want)
        return
    row = name + ("-eval" if name.startswith("rrelu") else "")
    p.pop("training", None)
    p.pop("seed", None)
    if "from_output" in p:
        p["from_output"] = bool(p["from_output"])
    x = before[-1]
    values = result[0] if isinstance(result, tuple) else result
    assert np.isnan(values[np.isnan(x)]).all(), "a NaN input gave a number"
    base = name.replace("_grad", "")
    if name.endswith("_grad") and base in ("elu", "celu", "selu"):
        # The kernels, like PyTorch's, multiply grad_output by the constant
        # factors first, in the working dtype; the references of cases.py
        # assume that product is finite (the test suite's grad_output is).
        # Elsewhere only the NaN rule above applies.
        g = before[0]
        work = cases.working(x.dtype)
        alpha, scale, input_scale = cases._exp_params(base)(p)
        negcoef, _, input_scale = R.elu_coefficients(work, alpha, scale, input_scale)
        with np.errstate(all="ignore"):
            prefix = g.astype(work) * input_scale
            if not p.get("from_output"):
                prefix = prefix * negcoef
        keep = np.isfinite(prefix).reshape(-1)
        before = [a.reshape(-1)[keep] for a in before]
        result = result.reshape(-1)[keep]
    cases.BY_NAME[row].check(result, before, p)


def native_array(a):
    return a.astype(a.dtype.newbyteorder("=")) if not a.dtype.isnative else a


def one_input(data):
    case, name, arrays, params, kwargs = build(data)
    function = getattr(lr, name)
    saved = snapshot(case.bases)
    with np.errstate(all="ignore"):
        before = [np.array(a, dtype=native(a.dtype), order="C", copy=True) for a in arrays]
    try:
        result = function(*arrays, **params, **{k: v for k, v in kwargs.items()
                                                 if k not in params})
    except (TypeError, ValueError) as exc:
        changed = unchanged(saved)
        if changed:
            raise AssertionError(f"refused call ({exc!r}) wrote to an array: "
                                 + "; ".join(case.story))
        return
    except Exception as exc:
        raise AssertionError(f"unexpected {type(exc).__name__}: {exc}; call: "
                             + "; ".join(case.story)) from exc
    try:
        check(case, name, arrays, params, kwargs, result)
        out = kwargs.get("out")
        changed = unchanged(saved, skip=(out,))
        assert not changed, "an array other than out was written"
        reference_check(name, before, params, result)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; call: {name}: " + "; ".join(case.story)) from exc


def test_one_input(raw):
    one_input(atheris.FuzzedDataProvider(raw))


def random_mode(seconds):
    """Without atheris: random choices for ``seconds``, each input from its own seed."""
    start, count = time.monotonic(), 0
    seed0 = int(os.environ.get("FUZZ_SEED", random.randrange(2**32)))
    print(f"fuzz_api: random mode, seed {seed0}, {seconds} s")
    while time.monotonic() - start < seconds:
        seed = seed0 + count
        try:
            one_input(RandomData(seed))
        except BaseException:
            print(f"fuzz_api: failure with FUZZ_SEED={seed} (--random, first input)")
            raise
        count += 1
    print(f"fuzz_api: {count} inputs in {time.monotonic() - start:.0f} s, no failure")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--random":
        random_mode(float(sys.argv[2]) if len(sys.argv) > 2 else 60)
        return
    if atheris is None:
        sys.exit("fuzz_api: atheris is not installed; use --random SECONDS")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
