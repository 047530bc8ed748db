"""relu, leaky_relu, prelu and rrelu: the piecewise-linear family."""
import math
import numbers

import numpy as np

from leakyrelu import _dispatch
from typing import NamedTuple

from leakyrelu._arrays import (Call, check_branch_visible, check_flag, check_real,
                               compute_dtype, largest, readable, storage_dtype)

_RELU = _dispatch.kernels.RELU
_LEAKY_RELU = _dispatch.kernels.LEAKY_RELU
_RELU_GRAD = _dispatch.kernels.RELU_GRAD
_LEAKY_RELU_GRAD = _dispatch.kernels.LEAKY_RELU_GRAD
_RRELU_TRAIN = _dispatch.kernels.RRELU_TRAIN
_RRELU_TRAIN_GRAD = _dispatch.kernels.RRELU_TRAIN_GRAD


def relu(x, *, out=None, num_threads=None):
    """Rectified linear unit, ``max(x, 0)``, elementwise.

    Parameters
    ----------
    x : array_like
        Input: anything ``np.asarray`` accepts (README, "Accepted inputs").
    out : numpy.ndarray, optional
        Where to write the result: same shape and dtype as `x`, writeable.
        ``out=x`` works in place.
    num_threads : int, optional
        OpenMP threads for this call. The default follows ``OMP_NUM_THREADS``
        and threadpoolctl, capped by the CPUs this process may use; arrays
        below a measured size run serially.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array (a NumPy scalar for a scalar `x`;
        ``np.matrix`` and masked arrays give their own kind, as ufuncs do).

    Notes
    -----
    Matches PyTorch's CPU ``relu`` bit for bit: ``relu(-0.0)`` is ``-0.0``,
    ``relu(-inf)`` is ``0.0`` and NaN stays NaN.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> leakyrelu.relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    result = _dispatch.kernels.fast_unary(_RELU, x, out, num_threads)
    if result is not None:
        return result
    return Call(("x", x), out=out, num_threads=num_threads).run("relu")


def relu_grad(grad_output, x, *, from_output=False, out=None, num_threads=None):
    """Gradient of :func:`relu`: `grad_output` where ``x > 0``, else 0.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the output of :func:`relu`.
    x : array_like
        The forward's input, or its output when `from_output` is True (the
        branch is the same, so an in-place forward can be differentiated).
        Same shape as `grad_output`; their dtypes promote as in NumPy.
    from_output : bool, default False
        Whether `x` holds ``relu``'s output rather than its input.
    out, num_threads
        As in :func:`relu`.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input.

    Notes
    -----
    The gradient at exactly 0 is 0, as in PyTorch. A NaN in `x` gives a NaN
    gradient (PyTorch's depends on where the element sits in memory).

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> leakyrelu.relu_grad(np.ones(3), np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 1.])
    """
    if from_output is False or from_output is True:  # the same formula either way
        result = _dispatch.kernels.fast_binary(_RELU_GRAD, grad_output, x, out, num_threads)
        if result is not None:
            return result
    x_name = "output" if check_flag(from_output, "from_output") else "x"
    return Call(("grad_output", grad_output), (x_name, x), out=out,
                num_threads=num_threads).run("relu_grad")


def leaky_relu(x, alpha=0.01, *, out=None, num_threads=None):
    """Leaky ReLU, ``x if x > 0 else alpha * x``, elementwise.

    Parameters
    ----------
    x : array_like
        Input: anything ``np.asarray`` accepts (README, "Accepted inputs").
    alpha : float, default 0.01
        Slope for ``x <= 0``. Any finite value; negative slopes are accepted.
    out : numpy.ndarray, optional
        Where to write the result: same shape and dtype as `x`, writeable.
        ``out=x`` works in place.
    num_threads : int, optional
        OpenMP threads for this call. The default follows ``OMP_NUM_THREADS``
        and threadpoolctl, capped by the CPUs this process may use; arrays
        below a measured size run serially.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array (a NumPy scalar for a scalar `x`;
        ``np.matrix`` and masked arrays give their own kind, as ufuncs do).

    Notes
    -----
    Matches PyTorch's CPU ``leaky_relu`` bit for bit, including ±0.0, ±inf,
    NaN and subnormals: ``leaky_relu(-inf, alpha=0)`` is NaN, as there.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([-2.0, 0.0, 3.0])
    >>> leakyrelu.leaky_relu(x, alpha=0.1)
    array([-0.2,  0. ,  3. ])
    >>> _ = leakyrelu.leaky_relu(x, out=x)  # in place
    """
    result = _dispatch.kernels.fast_unary(_LEAKY_RELU, x, out, num_threads, alpha)
    if result is not None:
        return result
    call = Call(("x", x), out=out, num_threads=num_threads)
    return call.run("leaky_relu", call.param("alpha", alpha))


def leaky_relu_grad(grad_output, x, alpha=0.01, *, from_output=False, out=None,
                    num_threads=None):
    """Gradient of :func:`leaky_relu`: `grad_output` times 1 or `alpha`.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the output of :func:`leaky_relu`.
    x : array_like
        The forward's input, or its output when `from_output` is True. Same
        shape as `grad_output`; their dtypes promote as in NumPy.
    alpha : float, default 0.01
        The forward's slope.
    from_output : bool, default False
        Whether `x` holds the forward's output. The output tells the branch
        only when ``alpha >= 0``; a negative alpha raises ``ValueError``.
    out, num_threads
        As in :func:`leaky_relu`.

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input.

    Notes
    -----
    The gradient at exactly 0 is `alpha`, as in PyTorch. A NaN in `x` gives
    a NaN gradient (PyTorch's depends on where the element sits in memory).

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([-2.0, 0.0, 3.0])
    >>> leakyrelu.leaky_relu_grad(np.ones(3), x, alpha=0.1)
    array([0.1, 0.1, 1. ])
    >>> y = leakyrelu.leaky_relu(x, alpha=0.1, out=x)
    >>> leakyrelu.leaky_relu_grad(np.ones(3), y, alpha=0.1, from_output=True)
    array([0.1, 0.1, 1. ])
    """
    # From the output, alpha >= 0 keeps the branch: the same kernel on y.
    if from_output is False or (from_output is True and type(alpha) is float and alpha >= 0):
        result = _dispatch.kernels.fast_binary(_LEAKY_RELU_GRAD, grad_output, x, out,
                                               num_threads, alpha)
        if result is not None:
            return result
    from_output = check_flag(from_output, "from_output")
    call = Call(("grad_output", grad_output), ("output" if from_output else "x", x), out=out,
                num_threads=num_threads)
    alpha = call.param("alpha", alpha)
    check_branch_visible(from_output, "from_output", alpha, "alpha")
    return call.run("leaky_relu_grad", alpha)


class PreluPlan(NamedTuple):
    """prelu's weight and channel layout, shared by the NumPy and Dask paths."""

    weight: np.ndarray   # 1-D, in the storage dtype of x: one value, or one per channel
    channel: int | None  # the channel axis, or None for one weight for every element
    shape: tuple         # the weight's shape as given, for the weight gradient


def prelu_plan(ndim, shape, dtype, weight, axis):
    """Check prelu's weight and axis for an x of ``shape`` and storage ``dtype``."""
    if isinstance(weight, np.ndarray):
        plain = np.ma.getdata(weight)
        if storage_dtype(plain.dtype, "weight") != dtype:
            raise TypeError(f"weight has dtype {weight.dtype} but x has dtype {dtype}; "
                            "pass a weight of the same dtype")
    else:
        if isinstance(weight, numbers.Real) and not isinstance(weight, (bool, np.bool_)):
            weight = check_real(weight, "weight", finite=False)
        plain = np.asarray(weight)
        if plain.dtype.kind not in "fiu":
            raise TypeError(f"weight must be a real number or an array of them, not "
                            f"{type(weight).__name__}")
        limit = largest(compute_dtype(dtype))
        with np.errstate(invalid="ignore"):
            if np.any(np.isfinite(plain) & (np.abs(plain) > limit)):
                raise ValueError(f"weight holds values that cannot be represented in "
                                 f"{compute_dtype(dtype)}, the dtype a {dtype} input is "
                                 "computed in")
    if plain.ndim > 1:
        raise ValueError(f"weight must be a scalar or 1-D, got shape {plain.shape}")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, not {type(axis).__name__}")
    values = plain.reshape(-1)
    channel = None
    if values.shape[0] != 1:  # one weight per channel (an empty weight too, for empty channels)
        axis = int(axis)
        if not -ndim <= axis < ndim:
            raise np.exceptions.AxisError(axis, ndim, "prelu")
        channel = axis % ndim
        if shape[channel] != values.shape[0]:
            raise ValueError(f"weight has {values.shape[0]} values but x has {shape[channel]} "
                             f"channels along axis {channel}")
    return PreluPlan(values.astype(dtype, copy=values.dtype != dtype), channel, plain.shape)


def _as_c_order(arrays, out, axis):
    """Fortran-ordered arrays as their C-ordered transposes, so they need no copy."""
    first = arrays[0]
    if (first.ndim > 1 and not first.flags.c_contiguous
            and all(a.flags.f_contiguous for a in arrays)
            and (out is None or out.flags.f_contiguous)):
        return [a.T for a in arrays], None if out is None else out.T, first.ndim - 1 - axis, True
    return arrays, out, axis, False


def _channel_walk(arrays, channel):
    """The (4, ndim) layout ``prelu_grad_any`` walks for same-shape ``arrays``
    (the shape, then each array's element strides) and the channel axis in it.

    Axes of length 1 are dropped and neighbours that step through every
    array's memory as one are merged, on each side of the channel axis, so
    that the runs are long. One weight for all (``channel`` None) walks the
    arrays after a channel axis of length 1.
    """
    shape = arrays[0].shape
    strides = [tuple(s // a.itemsize for s in a.strides) for a in arrays]
    if channel is None:
        shape, channel = (1,) + shape, 0
        strides = [(0,) + s for s in strides]
    axes = [(length, [s[d] for s in strides]) for d, length in enumerate(shape)]

    def merged(side):
        kept = []   # innermost first
        for length, steps in reversed(side):
            if length == 1:
                continue
            if kept and all(s == t * kept[-1][0] for s, t in zip(steps, kept[-1][1])):
                kept[-1] = (kept[-1][0] * length, kept[-1][1])
            else:
                kept.append((length, steps))
        return kept[::-1]

    outer = merged(axes[:channel])
    walk = outer + [axes[channel]] + merged(axes[channel + 1:])
    layout = np.array([[length for length, _ in walk]]
                      + [[steps[k] for _, steps in walk] for k in range(len(arrays))], np.intp)
    return layout, len(outer)


def _broadcast_weight(plan, shape):
    """The weight as a read-only array of ``shape`` (zero strides off the channel axis)."""
    if plan.channel is None:
        return np.broadcast_to(plan.weight.reshape(()), shape)
    along = [1] * len(shape)
    along[plan.channel] = plan.weight.shape[0]
    return np.broadcast_to(plan.weight.reshape(along), shape)


def prelu(x, weight, axis=1, *, out=None, num_threads=None):
    """Parametric ReLU: ``x if x > 0 else w[c] * x``, with c the index along `axis`.

    Parameters
    ----------
    x : array_like
        Input: anything ``np.asarray`` accepts (README, "Accepted inputs").
    weight : float or numpy.ndarray
        One slope for every element (a scalar, a 0-d or a length-1 array), or
        one per channel: a 1-D array of length ``x.shape[axis]``. An array
        weight must have the dtype of `x` (it is refused, not cast); a Python
        scalar is converted.
    axis : int, default 1
        The channel axis; ``axis=-1`` serves channels-last data. Not used
        with a single weight.
    out, num_threads
        As in :func:`leaky_relu`.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array (a NumPy scalar for a scalar `x`;
        ``np.matrix`` and masked arrays give their own kind, as ufuncs do).

    Notes
    -----
    Matches PyTorch's CPU ``prelu`` bit for bit.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([[-1.0, -1.0], [2.0, -4.0]])
    >>> leakyrelu.prelu(x, np.array([0.1, 0.5]), axis=1)
    array([[-0.1, -0.5],
           [ 2. , -2. ]])
    """
    if type(weight) is float and type(axis) is int and not (
            type(x) is np.ndarray and x.dtype.itemsize == 2):  # float16 rounds the weight first
        result = _dispatch.kernels.fast_unary(_LEAKY_RELU, x, out, num_threads, weight)
    else:
        result = _dispatch.kernels.fast_prelu(x, weight, axis, out, num_threads)
    if result is not None:
        return result
    call = Call(("x", x), out=out, num_threads=num_threads)
    plan = prelu_plan(len(call.shape), call.shape, call.dtype, weight, axis)
    if plan.channel is None:
        return call.run("leaky_relu", float(plan.weight[0]))
    weight = plan.weight
    if call.out is not None and np.may_share_memory(weight, call.out):
        weight = weight.copy()  # the weight is read throughout: never from what is written
    return call.run("prelu", extra=[_broadcast_weight(plan._replace(weight=weight), call.shape)])


def prelu_grad(grad_output, x, weight, axis=1, *, out=None, num_threads=None):
    """Gradients of :func:`prelu` with respect to `x` and to `weight`.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the output of :func:`prelu`.
    x : array_like
        The forward's input. Same shape as `grad_output`; their dtypes promote as in NumPy.
    weight, axis
        As in :func:`prelu`.
    out : numpy.ndarray, optional
        Where to write the gradient with respect to `x`.
    num_threads : int, optional
        As in :func:`prelu`.

    Returns
    -------
    grad_x : numpy.ndarray
        ``grad_output * (1 if x > 0 else w[c])``; NaN where `x` is NaN.
    grad_weight : numpy.ndarray
        The sum of ``grad_output * x`` over the elements with ``x <= 0``,
        over every axis but `axis`, with the shape of `weight` and the dtype
        of `x`. Each product is rounded to `x`'s precision (float32 for
        float16 and bfloat16), as PyTorch's is, and accumulated in float64
        in fixed blocks, so it is the same bit for bit for every `num_threads`.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([[-1.0, -1.0], [2.0, -4.0]])
    >>> gx, gw = leakyrelu.prelu_grad(np.ones_like(x), x, np.array([0.1, 0.5]))
    >>> gw
    array([-1., -5.])
    """
    result = _dispatch.kernels.fast_prelu_grad(grad_output, x, weight, axis, out, num_threads)
    if result is not None:
        return result
    call = Call(("grad_output", grad_output), ("x", x), out=out, num_threads=num_threads)
    plan = prelu_plan(len(call.shape), call.shape, call.dtype, weight, axis)
    work = call.compute
    g, x = call.arrays
    if call.mask is not np.ma.nomask:  # masked elements add nothing to the weight gradient
        g, x = np.where(call.mask, 0, g), np.where(call.mask, 0, x)
    result = call.out
    channel = 0 if plan.channel is None else plan.channel
    (g, x), result, channel, transposed = _as_c_order([g, x], result, channel)
    if result is None:
        result = np.empty(x.shape, call.dtype)
    target = result
    if not (result.dtype.isnative and result.flags.aligned):
        target = np.empty(result.shape, result.dtype.newbyteorder("="))
    # The kernel reads each block before writing it, so grad_x may be g or x
    # itself; an input that overlaps it any other way is read from a copy.
    # Not a comprehension: its closure made cells of target in every call,
    # the fast path's too (0.06 us).
    g, x = readable(g, target), readable(x, target)
    layout, channel = _channel_walk((g, x, target), None if plan.channel is None else channel)
    kernels = _dispatch.kernels
    outer, inner = math.prod(layout[0, :channel]), math.prod(layout[0, channel + 1:])
    partial = np.empty((kernels.prelu_grad_blocks(outer, inner), layout[0, channel]))
    weight = np.ascontiguousarray(plan.weight, dtype=work)
    if np.may_share_memory(weight, target):
        weight = weight.copy()  # read throughout: never from what is written
    kernels.prelu_grad_any(g, x, target, layout, channel, weight, partial, call.threads)
    if target is not result:
        np.copyto(result, target)
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN sums, like the kernels
        grad_weight = partial[0].astype(call.dtype).reshape(plan.shape)  # summed by the kernel
    if call.out is None and transposed:
        result = result.T
    return call.result(result), grad_weight


def _rrelu_bounds(lower, upper, call=None, training=False):
    """lower, upper and their mean, checked (for the working dtype of ``call``;
    in training, their difference too, as PyTorch's uniform draw requires)."""
    check = check_real if call is None else call.param
    lower = check(lower, "lower") if call is None else check("lower", lower)
    upper = check(upper, "upper") if call is None else check("upper", upper)
    if lower > upper:
        raise ValueError(f"lower must not exceed upper, got lower={lower}, upper={upper}")
    if training and call is not None:
        call.param("upper - lower", upper - lower)
    mean = (lower + upper) / 2
    if not math.isfinite(mean):  # the sum overflowed; the mean cannot
        mean = lower / 2 + upper / 2
    return lower, upper, mean


def _plain_rrelu_args(lower, upper, training, seed):
    """(training, the fast entry points' parameters and keys) for float bounds in
    order and, in training, an int seed in range; None for anything else, which
    the general path checks. The entry points refuse bounds (or their mean,
    or in training their difference) that the working dtype cannot hold."""
    if type(lower) is not float or type(upper) is not float or not lower <= upper:
        return None
    if training is False:
        return False, ((lower + upper) / 2, lower, upper)
    if training is True and type(seed) is int and 0 <= seed < 2**64:
        return True, (lower, upper, upper - lower, *_dispatch.kernels.rrelu_keys(seed))
    return None


def _rrelu_keys(training, seed):
    training = check_flag(training, "training")
    if not training:
        return None
    if seed is None:
        raise ValueError("rrelu with training=True needs an integer seed, so that the "
                         "gradient can regenerate the same slopes")
    if type(seed) is int and 0 <= seed < 2**64:
        return _dispatch.kernels.rrelu_keys(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return _dispatch.kernels.rrelu_keys(int(seed))


def rrelu(x, lower=1 / 8, upper=1 / 3, *, training=False, seed=None, out=None,
          num_threads=None):
    """Randomized leaky ReLU: ``x if x > 0 else a * x``.

    In training, each element draws its own slope ``a ~ U(lower, upper)``;
    in evaluation ``a = (lower + upper) / 2``.

    Parameters
    ----------
    x : array_like
        Input: anything ``np.asarray`` accepts (README, "Accepted inputs").
    lower, upper : float, default 1/8 and 1/3
        Bounds of the slope; finite, ``lower <= upper``.
    training : bool, default False
        Draw random slopes (True) or use their mean (False).
    seed : int, optional
        Required in training: an int in ``[0, 2**64)``. Slopes come from a
        counter-based generator keyed on (seed, element index in C order),
        so a seed gives the same result for any `num_threads` and memory
        layout, and :func:`rrelu_grad` regenerates them instead of storing
        them. Input in any memory order is numbered in place, without a copy.
        Each slope takes 16 random bits: one of 2**16 evenly spaced values
        from `lower` up to just below `upper`. In training ``upper - lower``
        must be representable in the working dtype, as PyTorch requires.
    out, num_threads
        As in :func:`leaky_relu`.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array (a NumPy scalar for a scalar `x`;
        ``np.matrix`` and masked arrays give their own kind, as ufuncs do).

    Notes
    -----
    In evaluation the result equals ``leaky_relu(x, (lower + upper) / 2)``
    and PyTorch's ``rrelu(training=False)`` bit for bit. In training the
    random stream differs from PyTorch's, whose generator is stateful.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([-3.0, 2.0])
    >>> leakyrelu.rrelu(x, 0.1, 0.3)
    array([-0.6,  2. ])
    >>> y = leakyrelu.rrelu(x, 0.1, 0.3, training=True, seed=7)
    >>> bool(-0.9 <= y[0] <= -0.3)
    True
    """
    plain = _plain_rrelu_args(lower, upper, training, seed)
    if plain is not None:
        trained, params = plain
        result = _dispatch.kernels.fast_unary(_RRELU_TRAIN if trained else _LEAKY_RELU, x, out,
                                              num_threads, *params)
        if result is not None:
            return result
    call = Call(("x", x), out=out, num_threads=num_threads)
    keys = _rrelu_keys(training, seed)
    lower, upper, mean = _rrelu_bounds(lower, upper, call, keys is not None)
    if keys is None:
        return call.run("leaky_relu", mean)
    return call.run("rrelu_train", lower, upper, keys=keys, c_order=True)


def rrelu_grad(grad_output, x, lower=1 / 8, upper=1 / 3, *, training=False, seed=None,
               from_output=False, out=None, num_threads=None):
    """Gradient of :func:`rrelu`, regenerating training slopes from `seed`.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the output of :func:`rrelu`.
    x : array_like
        The forward's input, or its output when `from_output` is True.
    lower, upper, training, seed
        Exactly as given to the forward call.
    from_output : bool, default False
        Whether `x` holds the forward's output; needs ``lower >= 0``.
    out, num_threads
        As in :func:`rrelu`.

    Returns
    -------
    numpy.ndarray
        ``grad_output * (1 if x > 0 else a)``; NaN where `x` is NaN.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([-3.0, 2.0])
    >>> y = leakyrelu.rrelu(x, training=True, seed=7)
    >>> g = leakyrelu.rrelu_grad(np.ones(2), x, training=True, seed=7)
    >>> bool(np.allclose(g * x, y))
    True
    """
    # From the output, lower >= 0 keeps the branch: the same kernels on y.
    plain = (_plain_rrelu_args(lower, upper, training, seed) if from_output is False
             or (from_output is True and type(lower) is float and lower >= 0) else None)
    if plain is not None:
        trained, params = plain
        result = _dispatch.kernels.fast_binary(_RRELU_TRAIN_GRAD if trained else _LEAKY_RELU_GRAD,
                                               grad_output, x, out, num_threads, *params)
        if result is not None:
            return result
    from_output = check_flag(from_output, "from_output")
    call = Call(("grad_output", grad_output), ("output" if from_output else "x", x), out=out,
                num_threads=num_threads)
    keys = _rrelu_keys(training, seed)
    lower, upper, mean = _rrelu_bounds(lower, upper, call, keys is not None)
    check_branch_visible(from_output, "from_output", lower, "lower")
    if keys is None:
        return call.run("leaky_relu_grad", mean)
    return call.run("rrelu_train_grad", lower, upper, keys=keys, c_order=True)
