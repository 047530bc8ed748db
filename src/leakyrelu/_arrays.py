"""What a call accepts, and how its arrays reach the kernels.

This module is the one place that decides what a call accepts: every public
function checks its arrays, parameters, ``out`` and ``num_threads`` here
(``Call``), before anything is written. The Cython fast entry points only
take a strict subset of valid calls (plain float arrays of any strides,
float parameters, an ``out`` that is the input itself or apart from it) and
return None for the rest, which comes here; the Dask layer
runs these same checks on empty stand-ins of its blocks.

Arrays are then walked in place, whatever their strides, by the kernels'
general loops (``LOOPS``), which put the axes in the order of ``out``'s
memory and merge them where they can, as NumPy's iterator does. Copies are
made only of an input that partly overlaps ``out``, of unaligned arrays, and
of arrays whose dtype must be converted (integers, non-native byte order).
"""
import math
import numbers

import numpy as np

from leakyrelu import _dispatch

SUPPORTED = ("float16, float32, float64 and ml_dtypes.bfloat16 arrays, "
             "or integer and bool arrays (computed in the float dtype np.exp gives them)")
MAX_THREADS = _dispatch.kernels.MAX_THREADS   # the same for every build

_NATIVE_FLOATS = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64))
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_float_of_integer = {}  # integer or bool dtype -> the float dtype np.exp gives it


def _bfloat16():
    """ml_dtypes' bfloat16 dtype; imported only when such an array arrives."""
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16)


def storage_dtype(dtype, name):
    """The native dtype the kernels read and write for an array of ``dtype``."""
    if dtype in _NATIVE_FLOATS:
        return dtype
    kind = dtype.kind
    if kind == "f" and dtype.itemsize <= 8:
        return dtype.newbyteorder("=")
    if kind in "biu":
        found = _float_of_integer.get(dtype)
        if found is None:
            found = _float_of_integer[dtype] = np.exp(np.zeros(0, dtype)).dtype
        return found
    if dtype.name == "bfloat16" and dtype == _bfloat16():
        _dispatch.kernels.accept_bfloat16(dtype.num)  # the next such call takes the fast path
        return dtype
    raise TypeError(f"{name} has dtype {dtype}; leakyrelu supports {SUPPORTED}")


def compute_dtype(dtype):
    """The dtype the math runs in: float for every storage dtype but float64."""
    return _FLOAT64 if dtype == _FLOAT64 else _FLOAT32


def largest(dtype):
    """The largest finite value of a compute dtype, as a Python float."""
    return _LARGEST[dtype]


_LARGEST = {_FLOAT32: float(np.finfo(np.float32).max), _FLOAT64: float(np.finfo(np.float64).max)}


def _plain(value, name):
    """``value`` as an ndarray (a base-class view for subclasses) and its mask."""
    if isinstance(value, np.ndarray):
        if isinstance(value, np.ma.MaskedArray):
            return np.ma.getdata(value), np.ma.getmask(value)
        return value.view(np.ndarray) if type(value) is not np.ndarray else value, None
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array-like of numbers: {exc}") from None
    if array.dtype.kind in "OUSV" and array.dtype.name != "bfloat16":
        raise TypeError(f"{name} must be an array-like of numbers, not {type(value).__name__}; "
                        f"leakyrelu supports {SUPPORTED}")
    return array, None


def _wrapper(values, plains, mask):
    """How to hand back a result computed as a plain ndarray, as a ufunc would.

    ``mask`` is None unless an input is a masked array (then it is where any
    input is masked).
    """
    if mask is not None:
        return lambda result: np.ma.MaskedArray(result, mask=mask)
    owner, scalars = None, True
    for value, plain in zip(values, plains):
        if isinstance(value, np.ndarray):
            scalars = False
            # The subclass of highest priority wraps the result (np.matrix
            # stays a matrix; np.memmap gives a plain array), as ufuncs do.
            if type(value) is not np.ndarray and (
                    owner is None or getattr(value, "__array_priority__", 0.0)
                    > getattr(owner, "__array_priority__", 0.0)):
                owner = value
        elif plain.ndim:
            scalars = False
    if owner is not None:
        return lambda result: owner.__array_wrap__(result, None, False)
    if scalars:
        return lambda result: result[()]  # scalars in, a NumPy scalar out
    return None


def check_out(out, shape, dtype):
    """``out`` as the plain ndarray to write, refusing one NumPy would refuse."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray or None, not {type(out).__name__}")
    plain = np.ma.getdata(out) if isinstance(out, np.ma.MaskedArray) else out
    if plain.dtype != dtype and plain.dtype.newbyteorder("=") != dtype:
        raise TypeError(f"out has dtype {out.dtype} but the result has dtype {dtype}")
    if plain.shape != shape:
        raise ValueError(f"out has shape {plain.shape} but the result has shape {shape}")
    flags = plain.flags
    if not flags.writeable:
        raise ValueError("out is read-only")
    if not (flags.c_contiguous or flags.f_contiguous) and any(
            s == 0 and n > 1 for s, n in zip(plain.strides, plain.shape)):
        raise ValueError("out has a zero stride, so several results would share one element")
    return plain


def check_real(value, name, *, finite=True):
    """A real scalar parameter as a Python float."""
    if type(value) is float and (not finite or math.isfinite(value)):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float's range
        value = math.inf if value > 0 else -math.inf
    if finite and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_flag(value, name):
    """A True/False parameter, refusing anything else."""
    if value is True or value is False:
        return value
    if not isinstance(value, np.bool_):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__}")
    return bool(value)


def check_branch_visible(flag, name, slope, slope_name):
    """Refuse ``flag`` (a gradient from the output) when a negative slope hides the branch."""
    if flag and slope < 0:
        raise ValueError(f"{name}=True needs {slope_name} >= 0: with a negative slope the "
                         "output does not tell which branch the input took")


def check_threads(num_threads):
    """``None`` (OpenMP's default, passed to the kernels as 0) or a positive int.

    Any positive int is taken; the kernels cap their teams at the CPUs this
    process may use, so a count beyond MAX_THREADS is MAX_THREADS.
    """
    if num_threads is None:
        return 0
    if type(num_threads) is int and 1 <= num_threads <= MAX_THREADS:
        return num_threads
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"num_threads must be an int or None, not {type(num_threads).__name__}")
    if num_threads < 1:
        raise ValueError(f"num_threads must be a positive int, got {num_threads}")
    return min(int(num_threads), MAX_THREADS)


class Call:
    """One call's arrays, result dtype, ``out`` and threads, checked; then run.

    ``named`` are (name, value) pairs of the array arguments, which must
    share one shape; the result has that shape and the dtype they promote
    to. Parameters are checked with :meth:`param` before :meth:`run` writes.
    """

    def __init__(self, *named, out=None, num_threads=None):
        values, plains, dtypes = [], [], []
        mask = None  # where any input is masked, once one is a masked array
        for name, value in named:
            plain, value_mask = _plain(value, name)
            if value_mask is not None:
                mask = value_mask if mask is None else np.ma.mask_or(mask, value_mask)
            values.append(value)
            plains.append(plain)
            dtypes.append(storage_dtype(plain.dtype, name))
        first_name, first = named[0][0], plains[0]
        for (name, _), plain in zip(named[1:], plains[1:]):
            if plain.shape != first.shape:
                raise ValueError(f"{first_name} has shape {first.shape} but {name} has shape "
                                 f"{plain.shape}")
        dtype = dtypes[0]
        if len(dtypes) > 1 and any(d != dtype for d in dtypes):
            dtype = storage_dtype(np.result_type(*dtypes), "the result")
        self.arrays = [p if p.dtype == dtype else p.astype(dtype) for p in plains]
        self.dtype = dtype
        self.compute = compute_dtype(dtype)
        self.shape = first.shape
        self.wrap = _wrapper(values, plains, mask)
        self.mask = np.ma.nomask if mask is None else mask
        self.given_out = out
        self.out = None if out is None else check_out(out, self.shape, dtype)
        self.threads = check_threads(num_threads)

    def param(self, name, value, *, finite=True):
        """A real parameter the working dtype can hold, as PyTorch requires."""
        value = check_real(value, name, finite=finite)
        if math.isfinite(value) and abs(value) > largest(self.compute):
            raise ValueError(f"{name}={value!r} cannot be represented in {self.compute}, the "
                             f"dtype a {self.dtype} input is computed in")
        return value

    def run(self, kernel, *params, extra=(), keys=(0, 0), c_order=False):
        """Apply ``kernel`` (a name) to the arrays (and ``extra`` inputs); return the result.

        ``c_order`` numbers the elements in C order, as rrelu's noise needs.
        """
        inputs = list(self.arrays) + list(extra)
        out = self.out
        kernels = _dispatch.kernels
        number = kernels.KERNEL_IDS[kernel]
        p = (tuple(params) + (0.0, 0.0, 0.0))[:3]   # the kernels take three
        if len(inputs) <= 2:
            # Converted array-likes are often plain arrays now: the fast entry
            # points take them whole (they decline anything they cannot). They
            # take C-contiguous arrays only, so elements are numbered in C order.
            fast = kernels.fast_unary if len(inputs) == 1 else kernels.fast_binary
            result = fast(number, *inputs, out, self.threads or None, *p, *keys)
            if result is not None:
                return self.result(result)
        if out is None:
            layout = "C" if c_order else "K"
            out = kernels.empty_like(inputs[0], self.dtype, layout)
        run_elementwise(kernels, number, inputs, out, p, keys, c_order, self.threads)
        return self.result(out)

    def result(self, out):
        """What the caller gets: ``out`` as given, else the result wrapped like its inputs."""
        given = self.given_out
        if given is not None:
            if isinstance(given, np.ma.MaskedArray):
                wrapped = self.wrap(out) if self.wrap is not None else None
                given.mask = np.ma.getmask(wrapped) if isinstance(wrapped, np.ma.MaskedArray) \
                    else np.ma.nomask
            return given
        return out if self.wrap is None else self.wrap(out)


def _same_elements(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides)


def readable(a, target):
    """``a``, or a copy of it where it is unaligned or overlaps ``target`` other
    than element for element: results never depend on either."""
    if a.flags.aligned and (a is target or not np.may_share_memory(a, target)
                            or _same_elements(a, target)):
        return a
    return a.copy()


def run_elementwise(kernels, number, inputs, out, p, keys, c_order, threads):
    """Run kernel ``number`` with parameters ``p`` (three floats) on validated,
    same-shape ``inputs`` into the plain ndarray ``out``."""
    if out.size == 0:
        return
    target = out
    if not (out.dtype.isnative and out.flags.aligned):
        target = np.empty(out.shape, out.dtype.newbyteorder("="))
    inputs = [readable(a, target) for a in inputs]
    loop = kernels.LOOPS[target.dtype.char]
    second = inputs[1] if len(inputs) > 1 else inputs[0]
    loop(number, target, inputs[0], second, *p, *keys, 0, threads, c_order)
    if target is not out:
        np.copyto(out, target)
