"""elu, celu and selu: the exponential family, one kernel with three coefficients.

As in PyTorch, each is ``scale * x`` for ``x >= 0`` and
``alpha * scale * expm1(input_scale * x)`` below; the kernels round the
coefficients to the working dtype before use.
"""
from leakyrelu import _dispatch
from leakyrelu._arrays import Call, check_branch_visible, check_flag, check_real

_ELU = _dispatch.kernels.ELU
_ELU_GRAD = _dispatch.kernels.ELU_GRAD
_ELU_GRAD_FROM_OUTPUT = _dispatch.kernels.ELU_GRAD_FROM_OUTPUT

#: The fixed constants of SELU (Klambauer et al., 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _forward(x, alpha, scale, input_scale, out, num_threads):
    result = _dispatch.kernels.fast_unary(_ELU, x, out, num_threads, alpha, scale, input_scale)
    if result is not None:
        return result
    call = Call(("x", x), out=out, num_threads=num_threads)
    return call.run("elu", *_coefficients(call, alpha, scale, input_scale))


def _backward(grad_output, x, alpha, scale, input_scale, from_output, out, num_threads):
    # From the output, only alpha >= 0 keeps the branch visible.
    if from_output is False or (from_output is True and type(alpha) is float and alpha >= 0):
        result = _dispatch.kernels.fast_binary(_ELU_GRAD_FROM_OUTPUT if from_output else _ELU_GRAD,
                                               grad_output, x, out, num_threads,
                                               alpha, scale, input_scale)
        if result is not None:
            return result
    from_output = check_flag(from_output, "from_output")
    call = Call(("grad_output", grad_output), ("output" if from_output else "x", x), out=out,
                num_threads=num_threads)
    coefficients = _coefficients(call, alpha, scale, input_scale)
    check_branch_visible(from_output, "from_output", alpha, "alpha")
    return call.run("elu_grad_from_output" if from_output else "elu_grad", *coefficients)


def _coefficients(call, alpha, scale, input_scale):
    # celu's input scale is 1/alpha, which must fit the working dtype too.
    return (call.param("alpha", alpha), scale,
            call.param("1/alpha", input_scale) if input_scale != 1.0 else 1.0)


def _celu_alpha(alpha):
    alpha = check_real(alpha, "alpha")
    if alpha == 0:
        raise ValueError("celu needs a nonzero alpha: it divides x by alpha")
    return alpha


def elu(x, alpha=1.0, *, out=None, num_threads=None):
    """Exponential linear unit: ``x if x > 0 else alpha * expm1(x)``.

    Parameters
    ----------
    x : array_like
        Input: anything ``np.asarray`` accepts (README, "Accepted inputs").
    alpha : float, default 1.0
        Scale of the negative branch; any finite value.
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
    Within 2 ulp of PyTorch's CPU ``elu`` (tested over 10^6 points per
    dtype, with ±0, subnormals, ±inf and NaN).

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> leakyrelu.elu(np.array([-1.0, 0.0, 2.0]))
    array([-0.63212056,  0.        ,  2.        ])
    """
    alpha = check_real(alpha, "alpha")
    return _forward(x, alpha, 1.0, 1.0, out, num_threads)


def elu_grad(grad_output, x, alpha=1.0, *, from_output=False, out=None, num_threads=None):
    """Gradient of :func:`elu`.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the output of :func:`elu`.
    x : array_like
        The forward's input, or its output when `from_output` is True. Same
        shape as `grad_output`; their dtypes promote as in NumPy.
    alpha : float, default 1.0
        The forward's alpha.
    from_output : bool, default False
        Whether `x` holds the forward's output, from which the gradient is
        ``grad_output * (y + alpha)`` below 0. Needs ``alpha >= 0``.
    out, num_threads
        As in :func:`elu`.

    Returns
    -------
    numpy.ndarray
        ``grad_output * (1 if x > 0 else alpha * exp(x))``; at exactly 0 the
        slope is `alpha`, as in PyTorch; NaN where `x` is NaN.

    Notes
    -----
    Within 4 ulp of PyTorch's CPU ``elu_backward``.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> x = np.array([-1.0, 0.0, 2.0])
    >>> leakyrelu.elu_grad(np.ones(3), x)
    array([0.36787944, 1.        , 1.        ])
    >>> leakyrelu.elu_grad(np.ones(3), leakyrelu.elu(x), from_output=True)
    array([0.36787944, 1.        , 1.        ])
    """
    alpha = check_real(alpha, "alpha")
    return _backward(grad_output, x, alpha, 1.0, 1.0, from_output, out, num_threads)


def celu(x, alpha=1.0, *, out=None, num_threads=None):
    """Continuously differentiable ELU: ``x if x > 0 else alpha * expm1(x / alpha)``.

    Parameters
    ----------
    x : array_like
        Input: anything ``np.asarray`` accepts (README, "Accepted inputs").
    alpha : float, default 1.0
        Finite and nonzero; ``alpha == 0`` raises ``ValueError``.
    out, num_threads
        As in :func:`elu`.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array (a NumPy scalar for a scalar `x`;
        ``np.matrix`` and masked arrays give their own kind, as ufuncs do).

    Notes
    -----
    Computed as PyTorch does, with ``x * (1 / alpha)``; within 2 ulp of
    PyTorch's CPU ``celu``.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> leakyrelu.celu(np.array([-1.0, 2.0]), alpha=2.0)
    array([-0.78693868,  2.        ])
    """
    alpha = _celu_alpha(alpha)
    return _forward(x, alpha, 1.0, 1.0 / alpha, out, num_threads)


def celu_grad(grad_output, x, alpha=1.0, *, from_output=False, out=None, num_threads=None):
    """Gradient of :func:`celu`.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the output of :func:`celu`.
    x : array_like
        The forward's input, or its output when `from_output` is True.
    alpha : float, default 1.0
        The forward's alpha; nonzero.
    from_output : bool, default False
        Whether `x` holds the forward's output; needs ``alpha > 0``.
    out, num_threads
        As in :func:`celu`.

    Returns
    -------
    numpy.ndarray
        ``grad_output * (1 if x > 0 else exp(x / alpha))``; NaN where `x`
        is NaN. Within 4 ulp of PyTorch's CPU gradient.

    Notes
    -----
    In float64 this deliberately differs from what PyTorch's autograd gives
    for ``celu``: autograd rounds ``1 / alpha`` through float32, so at
    ``alpha=0.8`` its gradient differs from the exact one by up to 5.8e8 ulp
    (a relative 7e-8) on standard normal `x`. Ours is within 1 ulp of
    ``aten.elu_backward`` with ``input_scale = 1 / alpha`` in double
    (docs/performance.md).

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> leakyrelu.celu_grad(np.ones(2), np.array([-2.0, 2.0]), alpha=2.0)
    array([0.36787944, 1.        ])
    """
    alpha = _celu_alpha(alpha)
    return _backward(grad_output, x, alpha, 1.0, 1.0 / alpha, from_output, out, num_threads)


def selu(x, *, out=None, num_threads=None):
    """Scaled ELU: ``scale * (x if x > 0 else alpha * expm1(x))``.

    With the fixed constants ``alpha = 1.6732632423543772`` and
    ``scale = 1.0507009873554805`` (:data:`SELU_ALPHA`, :data:`SELU_SCALE`).

    Parameters
    ----------
    x : array_like
        Input: anything ``np.asarray`` accepts (README, "Accepted inputs").
    out, num_threads
        As in :func:`elu`.

    Returns
    -------
    numpy.ndarray
        `out` if given, else a new array (a NumPy scalar for a scalar `x`;
        ``np.matrix`` and masked arrays give their own kind, as ufuncs do).
        Within 2 ulp of PyTorch's CPU ``selu``.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> leakyrelu.selu(np.array([-1.0, 1.0]))
    array([-1.11133074,  1.05070099])
    """
    return _forward(x, SELU_ALPHA, SELU_SCALE, 1.0, out, num_threads)


def selu_grad(grad_output, x, *, from_output=False, out=None, num_threads=None):
    """Gradient of :func:`selu`.

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the output of :func:`selu`.
    x : array_like
        The forward's input, or its output when `from_output` is True.
    from_output : bool, default False
        Whether `x` holds the forward's output.
    out, num_threads
        As in :func:`selu`.

    Returns
    -------
    numpy.ndarray
        ``grad_output * scale * (1 if x > 0 else alpha * exp(x))``; at 0 the
        slope is ``scale * alpha``; NaN where `x` is NaN. Within 4 ulp of
        PyTorch's CPU gradient.

    Examples
    --------
    >>> import numpy as np, leakyrelu
    >>> leakyrelu.selu_grad(np.ones(2), np.array([0.0, 1.0]))
    array([1.75809934, 1.05070099])
    """
    return _backward(grad_output, x, SELU_ALPHA, SELU_SCALE, 1.0, from_output, out, num_threads)
