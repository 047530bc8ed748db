"""relu, leaky_relu, prelu and rrelu: the piecewise-linear family."""
import math
import numbers

import numpy as np

from leakyrelu import _dispatch
from leakyrelu._arrays import (check_array, check_branch_visible, check_flag, check_out,
                               check_pair, check_real, check_threads, run_elementwise, stage,
                               working_dtype, write_back)

_RELU = _dispatch.kernels.RELU
_LEAKY_RELU = _dispatch.kernels.LEAKY_RELU
_RELU_GRAD = _dispatch.kernels.RELU_GRAD
_LEAKY_RELU_GRAD = _dispatch.kernels.LEAKY_RELU_GRAD


def relu(x, *, out=None, num_threads=None):
    """Rectified linear unit, ``max(x, 0)``, elementwise.

    Parameters
    ----------
    x : numpy.ndarray
        Input of dtype float16, float32 or float64, any shape and strides.
    out : numpy.ndarray, optional
        Where to write the result: same shape and dtype as `x`, writeable.
        ``out=x`` works in place.
    num_threads : int, optional
        OpenMP threads for this call. The default follows ``OMP_NUM_THREADS``
        and threadpoolctl; arrays below a measured size run serially.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array.

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
    result = _dispatch.fast_unary(_RELU, x, out, num_threads)
    if result is not None:
        return result
    x = check_array(x, "x")
    out = check_out(out, x.shape, x.dtype)
    return run_elementwise("relu", [x], out, (), check_threads(num_threads))


def relu_grad(grad_output, x, *, from_output=False, out=None, num_threads=None):
    """Gradient of :func:`relu`: `grad_output` where ``x > 0``, else 0.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the output of :func:`relu`.
    x : numpy.ndarray
        The forward's input, or its output when `from_output` is True (the
        branch is the same, so an in-place forward can be differentiated).
        Same shape and dtype as `grad_output`.
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
        result = _dispatch.fast_binary(_RELU_GRAD, grad_output, x, out, num_threads)
        if result is not None:
            return result
    grad_output, x = check_pair(grad_output, x, "output" if check_flag(from_output, "from_output") else "x")
    out = check_out(out, x.shape, x.dtype)
    return run_elementwise("relu_grad", [grad_output, x], out, (), check_threads(num_threads))


def leaky_relu(x, alpha=0.01, *, out=None, num_threads=None):
    """Leaky ReLU, ``x if x > 0 else alpha * x``, elementwise.

    Parameters
    ----------
    x : numpy.ndarray
        Input of dtype float16, float32 or float64, any shape and strides.
    alpha : float, default 0.01
        Slope for ``x <= 0``. Any finite value; negative slopes are accepted.
    out : numpy.ndarray, optional
        Where to write the result: same shape and dtype as `x`, writeable.
        ``out=x`` works in place.
    num_threads : int, optional
        OpenMP threads for this call. The default follows ``OMP_NUM_THREADS``
        and threadpoolctl; arrays below a measured size run serially.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array.

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
    result = _dispatch.fast_unary(_LEAKY_RELU, x, out, num_threads, alpha)
    if result is not None:
        return result
    x = check_array(x, "x")
    alpha = check_real(alpha, "alpha")
    out = check_out(out, x.shape, x.dtype)
    return run_elementwise("leaky_relu", [x], out, (alpha,), check_threads(num_threads))


def leaky_relu_grad(grad_output, x, alpha=0.01, *, from_output=False, out=None,
                    num_threads=None):
    """Gradient of :func:`leaky_relu`: `grad_output` times 1 or `alpha`.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the output of :func:`leaky_relu`.
    x : numpy.ndarray
        The forward's input, or its output when `from_output` is True. Same
        shape and dtype as `grad_output`.
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
    if from_output is False:
        result = _dispatch.fast_binary(_LEAKY_RELU_GRAD, grad_output, x, out, num_threads, alpha)
        if result is not None:
            return result
    from_output = check_flag(from_output, "from_output")
    grad_output, x = check_pair(grad_output, x, "output" if from_output else "x")
    alpha = check_real(alpha, "alpha")
    check_branch_visible(from_output, "from_output", alpha, "alpha")
    out = check_out(out, x.shape, x.dtype)
    return run_elementwise("leaky_relu_grad", [grad_output, x], out, (alpha,),
                           check_threads(num_threads))


def _prelu_plan(x, weight, axis):
    """Validate prelu's weight and axis: (weight as a 1-D working array, axis >= 0)."""
    if isinstance(weight, np.ndarray):
        if weight.dtype.newbyteorder("=") != x.dtype:
            raise TypeError(f"weight has dtype {weight.dtype} but x has dtype {x.dtype}; "
                            "pass a weight of the same dtype")
        if weight.ndim > 1:
            raise ValueError(f"weight must be a scalar or 1-D, got shape {weight.shape}")
        values = weight.reshape(-1)
    else:
        values = np.array([check_real(weight, "weight", finite=False)], dtype=x.dtype)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, not {type(axis).__name__}")
    channels = values.shape[0]
    if channels != 1:  # one weight per channel (an empty weight too, for empty channels)
        axis = int(axis)
        if not -x.ndim <= axis < x.ndim:
            raise np.exceptions.AxisError(axis, x.ndim, "prelu")
        axis %= x.ndim
        if x.shape[axis] != channels:
            raise ValueError(f"weight has {channels} values but x has {x.shape[axis]} "
                             f"channels along axis {axis}")
    return np.ascontiguousarray(values, dtype=working_dtype(x.dtype)), axis


def _channel_layout(shape, axis, channels):
    """The (outer, channels, inner) view of a C-ordered array of ``shape``."""
    if channels == 1:
        return (1, 1, math.prod(shape))
    return (math.prod(shape[:axis]), channels, math.prod(shape[axis + 1:]))


def _as_c_order(arrays, out, axis):
    """Fortran-ordered arrays as their C-ordered transposes, so they need no copy."""
    first = arrays[0]
    if (first.ndim > 1 and not first.flags.c_contiguous
            and all(a.flags.f_contiguous for a in arrays)
            and (out is None or out.flags.f_contiguous)):
        return [a.T for a in arrays], None if out is None else out.T, first.ndim - 1 - axis, True
    return arrays, out, axis, False


def prelu(x, weight, axis=1, *, out=None, num_threads=None):
    """Parametric ReLU: ``x if x > 0 else w[c] * x``, with c the index along `axis`.

    Parameters
    ----------
    x : numpy.ndarray
        Input of dtype float16, float32 or float64.
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
        `out` if given, else a new array.

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
    if type(weight) is float and type(axis) is int:  # one slope: axis unused, but still checked
        result = _dispatch.fast_unary(_LEAKY_RELU, x, out, num_threads, weight)
    else:
        result = _dispatch.fast_prelu(x, weight, axis, out, num_threads)
    if result is not None:
        return result
    x = check_array(x, "x")
    weight, axis = _prelu_plan(x, weight, axis)
    out = check_out(out, x.shape, x.dtype)
    threads = check_threads(num_threads)
    if weight.shape[0] == 1:
        return run_elementwise("leaky_relu", [x], out, (float(weight[0]),), threads)
    (x,), result, axis, transposed = _as_c_order([x], out, axis)
    result = np.empty_like(x, order="C") if result is None else result
    (staged,), target = stage([x], result, c_order=True)
    layout = _channel_layout(x.shape, axis, weight.shape[0])
    _dispatch.loops["prelu", target.dtype](staged.reshape(layout), target.reshape(layout),
                                           weight, threads)
    write_back(target, result)
    return out if out is not None else result.T if transposed else result


def prelu_grad(grad_output, x, weight, axis=1, *, out=None, num_threads=None):
    """Gradients of :func:`prelu` with respect to `x` and to `weight`.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the output of :func:`prelu`.
    x : numpy.ndarray
        The forward's input. Same shape and dtype as `grad_output`.
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
        of `x`. It is accumulated in float64 in fixed blocks, so it is the
        same bit for bit for every `num_threads`.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([[-1.0, -1.0], [2.0, -4.0]])
    >>> gx, gw = leakyrelu.prelu_grad(np.ones_like(x), x, np.array([0.1, 0.5]))
    >>> gw
    array([-1., -5.])
    """
    grad_output, x = check_pair(grad_output, x)
    weight_shape = np.shape(weight)
    weight, axis = _prelu_plan(x, weight, axis)
    out = check_out(out, x.shape, x.dtype)
    threads = check_threads(num_threads)
    (grad_output, x), result, axis, transposed = _as_c_order([grad_output, x], out, axis)
    result = np.empty_like(x, order="C") if result is None else result
    (staged_g, staged_x), target = stage([grad_output, x], result, c_order=True)
    layout = _channel_layout(x.shape, axis, weight.shape[0])
    partial = np.empty((_dispatch.kernels.prelu_grad_blocks(layout[0], layout[2]), layout[1]))
    _dispatch.loops["prelu_grad", target.dtype](
        staged_g.reshape(layout), staged_x.reshape(layout), target.reshape(layout), weight,
        partial, threads)
    write_back(target, result)
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN sums, like the kernels
        grad_weight = partial.sum(axis=0).astype(x.dtype).reshape(weight_shape)
    return (out if out is not None else result.T if transposed else result), grad_weight


def _rrelu_bounds(lower, upper):
    lower = check_real(lower, "lower")
    upper = check_real(upper, "upper")
    if lower > upper:
        raise ValueError(f"lower must not exceed upper, got lower={lower}, upper={upper}")
    return lower, upper


def _rrelu_keys(training, seed):
    training = check_flag(training, "training")
    if not training:
        return None
    if seed is None:
        raise ValueError("rrelu with training=True needs an integer seed, so that the "
                         "gradient can regenerate the same slopes")
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
    x : numpy.ndarray
        Input of dtype float16, float32 or float64.
    lower, upper : float, default 1/8 and 1/3
        Bounds of the slope; finite, ``lower <= upper``.
    training : bool, default False
        Draw random slopes (True) or use their mean (False).
    seed : int, optional
        Required in training: an int in ``[0, 2**64)``. Slopes come from a
        counter-based generator keyed on (seed, element index in C order),
        so a seed gives the same result for any `num_threads` and memory
        layout, and :func:`rrelu_grad` regenerates them instead of storing
        them. (Input that is not C-contiguous goes through a C-ordered copy.)
    out, num_threads
        As in :func:`leaky_relu`.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array.

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
    if training is False and type(lower) is float and type(upper) is float and lower <= upper:
        result = _dispatch.fast_unary(_LEAKY_RELU, x, out, num_threads, (lower + upper) / 2)
        if result is not None:
            return result
    x = check_array(x, "x")
    lower, upper = _rrelu_bounds(lower, upper)
    keys = _rrelu_keys(training, seed)
    out = check_out(out, x.shape, x.dtype)
    threads = check_threads(num_threads)
    if keys is None:
        return run_elementwise("leaky_relu", [x], out, ((lower + upper) / 2,), threads)
    return run_elementwise("rrelu_train", [x], out, (lower, upper, *keys, 0), threads,
                           c_order=True)


def rrelu_grad(grad_output, x, lower=1 / 8, upper=1 / 3, *, training=False, seed=None,
               from_output=False, out=None, num_threads=None):
    """Gradient of :func:`rrelu`, regenerating training slopes from `seed`.

    Parameters
    ----------
    grad_output : numpy.ndarray
        Gradient with respect to the output of :func:`rrelu`.
    x : numpy.ndarray
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
    from_output = check_flag(from_output, "from_output")
    grad_output, x = check_pair(grad_output, x, "output" if from_output else "x")
    lower, upper = _rrelu_bounds(lower, upper)
    check_branch_visible(from_output, "from_output", lower, "lower")
    keys = _rrelu_keys(training, seed)
    out = check_out(out, x.shape, x.dtype)
    threads = check_threads(num_threads)
    if keys is None:
        return run_elementwise("leaky_relu_grad", [grad_output, x], out,
                               ((lower + upper) / 2,), threads)
    return run_elementwise("rrelu_train_grad", [grad_output, x], out,
                           (lower, upper, *keys, 0), threads, c_order=True)
