"""Validation and execution: NumPy calling conventions in, kernel calls out.

Every check runs before anything is written. Arrays that are contiguous in
the same layout go straight to the kernels as flat views; anything else
(strided views, mixed layouts, float16, partial overlap with ``out``) is
staged through contiguous working copies, which NumPy's ``copyto`` writes
back, so results never depend on memory layout.
"""
import math
import numbers

import numpy as np

from leakyrelu import _dispatch

SUPPORTED_DTYPES = "float16, float32 and float64"
MAX_THREADS = 1024

_FLOAT16 = np.dtype(np.float16)
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_NATIVE_FLOATS = (_FLOAT16, _FLOAT32, _FLOAT64)


def check_array(a, name):
    """Return ``a`` as an ndarray of a supported dtype in native byte order."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, not {type(a).__name__}")
    dtype = a.dtype
    if dtype in _NATIVE_FLOATS:
        return a
    if dtype.kind == "f" and dtype.itemsize <= 8 and not dtype.isnative:
        return a.astype(dtype.newbyteorder("="))
    raise TypeError(f"{name} has dtype {dtype}; leakyrelu supports {SUPPORTED_DTYPES}")


def check_pair(grad_output, x, x_name="x"):
    """Validate a gradient's two arrays: same shape, same dtype."""
    grad_output = check_array(grad_output, "grad_output")
    x = check_array(x, x_name)
    if grad_output.shape != x.shape:
        raise ValueError(f"grad_output has shape {grad_output.shape} but {x_name} has shape {x.shape}")
    if grad_output.dtype != x.dtype:
        raise TypeError(f"grad_output has dtype {grad_output.dtype} but {x_name} has dtype {x.dtype}")
    return grad_output, x


def check_out(out, shape, dtype):
    """Refuse an ``out`` that cannot hold the result exactly as NumPy would."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray or None, not {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype} but the result has dtype {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape} but the result has shape {shape}")
    flags = out.flags
    if not flags.writeable:
        raise ValueError("out is read-only")
    if not (flags.c_contiguous or flags.f_contiguous) and any(
            s == 0 and n > 1 for s, n in zip(out.strides, out.shape)):
        raise ValueError("out has a zero stride, so several results would share one element")
    return out


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
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__}")
    return bool(value)


def check_branch_visible(flag, name, slope, slope_name):
    """Refuse ``flag`` (a gradient from the output) when a negative slope hides the branch."""
    if flag and slope < 0:
        raise ValueError(f"{name}=True needs {slope_name} >= 0: with a negative slope the "
                         "output does not tell which branch the input took")


def check_threads(num_threads):
    """``None`` (OpenMP's default, passed to the kernels as 0) or a positive int."""
    if num_threads is None:
        return 0
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"num_threads must be an int or None, not {type(num_threads).__name__}")
    if not 1 <= num_threads <= MAX_THREADS:
        raise ValueError(f"num_threads must be between 1 and {MAX_THREADS}, got {num_threads}")
    return int(num_threads)


def working_dtype(dtype):
    """The dtype the kernels compute in: float16 goes through float32."""
    return _FLOAT32 if dtype == _FLOAT16 else dtype


def _same_memory(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides)


def _flat_view(a):
    # A view, not a copy: callers ensure a is contiguous.
    return a.reshape(-1) if a.flags.c_contiguous else a.ravel(order="K")


def _shares_layout(arrays, out, c_order):
    # Aligned too: the kernels dereference typed pointers.
    if not (out.flags.aligned and all(a.flags.aligned for a in arrays)):
        return False
    if c_order:
        return all(a.flags.c_contiguous for a in arrays) and out.flags.c_contiguous
    strides = out.strides
    return (out.flags.c_contiguous or out.flags.f_contiguous) and all(
        a.strides == strides and (a.flags.c_contiguous or a.flags.f_contiguous)
        for a in arrays)


def _detach(arrays, out):
    """Copy any input that overlaps ``out`` other than element for element."""
    return [a if a is out or not np.may_share_memory(a, out) or _same_memory(a, out)
            else a.copy() for a in arrays]


def stage(arrays, out, c_order=False):
    """Contiguous working copies of what the kernels cannot take as they are.

    Returns the arrays to read and the array to write: the inputs (copied
    only if strided, float16, or overlapping ``out`` other than element for
    element) and ``out`` itself or a temporary for :func:`write_back`.
    """
    arrays = _detach(arrays, out)
    work = working_dtype(out.dtype)
    staged = [np.require(a, dtype=work, requirements=["C", "A"]) for a in arrays]
    if out.dtype == work and out.flags.c_contiguous and out.flags.aligned:
        return staged, out
    return staged, np.empty(out.shape, work)


def write_back(target, out):
    """Copy a staged result into ``out`` (rounding to float16 if need be)."""
    if target is not out:
        with np.errstate(over="ignore"):  # rounding to float16 may overflow to inf, silently
            np.copyto(out, target, casting="same_kind")
    return out


def run_elementwise(kernel, arrays, out, params, num_threads, *, c_order=False):
    """Apply ``kernel`` (a name in the kernel modules) to validated arrays.

    ``arrays`` share one shape and one native dtype; ``out`` has been
    checked or is None. ``c_order`` demands that elements be numbered in C
    order, as rrelu's per-element noise does.
    """
    first = arrays[0]
    dtype = first.dtype
    work = working_dtype(dtype)
    loop = _dispatch.loops[kernel, work]
    if out is None:
        out = np.empty_like(first, order="C" if c_order else "K")
    elif out is not first or len(arrays) > 1:
        arrays = _detach(arrays, out)
    if dtype == work and _shares_layout(arrays, out, c_order):
        loop(*[_flat_view(a) for a in arrays], _flat_view(out), *params, num_threads)
        return out
    staged, target = stage(arrays, out, c_order)
    loop(*[a.reshape(-1) for a in staged], target.reshape(-1), *params, num_threads)
    return write_back(target, out)
