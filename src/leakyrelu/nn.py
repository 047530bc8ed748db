"""Activation layers for NumPy training loops, in the style of ``torch.nn``.

Each layer has ``forward(x)`` (also ``layer(x)``) and ``backward(grad_output)``,
which returns the gradient with respect to the input of the last forward.
A layer keeps only what its backward needs: the input (by reference, so do
not modify it before calling backward), or, with ``inplace=True``, the
output, which the forward wrote over the input. Backward can be called more
than once for the same forward.

Layers hold no dtype of their own: the output has the input's dtype
(float16, float32 or float64). :class:`PReLU` stores its weight in float64
by default and casts it to the input's dtype in each forward.

Every layer takes ``reuse_buffers=False``. With True, it writes each
forward's output and each backward's gradient into arrays it keeps from
the previous call of the same shape and dtype, instead of allocating new
ones. That saves the page faults of a fresh array (a large share of an
allocating call's time beyond the cache: docs/performance.md), at a price:
the array a call returns is overwritten by the layer's next call of the
same kind, so use or copy it before then. An input that shares memory with
a kept buffer (the layer applied to its own output) gets a new buffer, so
results stay right.
"""
import numpy as _np

from leakyrelu import _exponential as _exp
from leakyrelu import _rectifiers as _rect
from leakyrelu._arrays import check_branch_visible as _check_branch_visible

__all__ = ["Module", "ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "CELU", "SELU"]


def __dir__():
    return list(__all__)


class Module:
    """Base class: ``__call__`` runs ``forward``; ``train()`` and ``eval()`` set `training`."""

    training = True
    reuse_buffers = False

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def train(self, mode=True):
        """Set training mode (True) or evaluation mode (False); return self."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Set evaluation mode; return self."""
        return self.train(False)

    def zero_grad(self):
        """Reset accumulated parameter gradients (layers without parameters have none)."""

    def _buffer(self, kind, like, *inputs):
        """The kept array for this `kind` of result, or None to allocate one.

        Only plain float arrays of one shape and dtype qualify; a buffer that
        shares memory with an input is replaced, not overwritten.
        """
        if not self.reuse_buffers:
            return None
        for a in (like, *inputs):
            if (type(a) is not _np.ndarray or a.dtype.kind != "f" or a.dtype != like.dtype
                    or a.shape != like.shape):
                return None
        buffers = self.__dict__.setdefault("_buffers", {})
        buffer = buffers.get(kind)
        if (buffer is None or buffer.shape != like.shape or buffer.dtype != like.dtype
                or any(_np.may_share_memory(buffer, a) for a in inputs)):
            buffer = buffers[kind] = _np.empty(like.shape, like.dtype)
        return buffer

    def _saved(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self):
        return ""


class _Elementwise(Module):
    """A layer with a forward ``f(x, *params, out=)`` and a gradient
    ``f_grad(g, x, *params, from_output=)``."""

    def __init__(self, inplace, reuse_buffers=False):
        self.inplace = bool(inplace)
        self.reuse_buffers = bool(reuse_buffers)
        self._cache = None

    def _params(self):
        return ()

    def forward(self, x):
        out = x if self.inplace else self._buffer("output", x, x)
        y = self._forward(x, *self._params(), out=out)
        self._cache = y if self.inplace else x
        return y

    def backward(self, grad_output):
        saved = self._saved()
        return self._grad(grad_output, saved, *self._params(), from_output=self.inplace,
                          out=self._buffer("grad", saved, grad_output, saved))


class _WithAlpha(_Elementwise):
    """A layer whose one parameter is ``alpha``, the slope or scale below 0."""

    def __init__(self, alpha, inplace, reuse_buffers=False):
        super().__init__(inplace, reuse_buffers)
        self.alpha = _rect.check_real(alpha, "alpha")
        _check_branch_visible(self.inplace, "inplace", self.alpha, "alpha")

    def _params(self):
        return (self.alpha,)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class ReLU(_Elementwise):
    """Rectified linear unit, ``max(x, 0)``, as a layer.

    Parameters
    ----------
    inplace : bool, default False
        Write the output over the input; backward then uses the output.
    reuse_buffers : bool, default False
        Write results into arrays kept from the previous call; each result
        is then overwritten by the next call (see :mod:`leakyrelu.nn`).

    Examples
    --------
    >>> import numpy as np
    >>> from leakyrelu.nn import ReLU
    >>> layer = ReLU()
    >>> layer(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> layer.backward(np.array([5.0, 5.0]))
    array([0., 5.])
    """
    _forward = staticmethod(_rect.relu)
    _grad = staticmethod(_rect.relu_grad)

    def __init__(self, inplace=False, *, reuse_buffers=False):
        super().__init__(inplace, reuse_buffers)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(_WithAlpha):
    """Leaky ReLU, ``x if x > 0 else alpha * x``, as a layer.

    Parameters
    ----------
    alpha : float, default 0.01
        Slope for ``x <= 0`` (PyTorch's ``negative_slope``).
    inplace : bool, default False
        Write the output over the input; backward then uses the output,
        which needs ``alpha >= 0``.
    reuse_buffers : bool, default False
        Write results into arrays kept from the previous call; each result
        is then overwritten by the next call (see :mod:`leakyrelu.nn`).

    Examples
    --------
    >>> import numpy as np
    >>> from leakyrelu.nn import LeakyReLU
    >>> layer = LeakyReLU(alpha=0.1)
    >>> layer(np.array([-1.0, 2.0]))
    array([-0.1,  2. ])
    >>> layer.backward(np.ones(2))
    array([0.1, 1. ])
    """
    _forward = staticmethod(_rect.leaky_relu)
    _grad = staticmethod(_rect.leaky_relu_grad)

    def __init__(self, alpha=0.01, inplace=False, *, reuse_buffers=False):
        super().__init__(alpha, inplace, reuse_buffers)


class ELU(_WithAlpha):
    """Exponential linear unit, ``x if x > 0 else alpha * expm1(x)``, as a layer.

    Parameters
    ----------
    alpha : float, default 1.0
        Scale of the negative branch.
    inplace : bool, default False
        Write the output over the input; backward then uses the output,
        which needs ``alpha >= 0``.
    reuse_buffers : bool, default False
        Write results into arrays kept from the previous call; each result
        is then overwritten by the next call (see :mod:`leakyrelu.nn`).

    Examples
    --------
    >>> import numpy as np
    >>> from leakyrelu.nn import ELU
    >>> layer = ELU()
    >>> layer(np.array([-1.0, 2.0]))
    array([-0.63212056,  2.        ])
    >>> layer.backward(np.ones(2))
    array([0.36787944, 1.        ])
    """
    _forward = staticmethod(_exp.elu)
    _grad = staticmethod(_exp.elu_grad)

    def __init__(self, alpha=1.0, inplace=False, *, reuse_buffers=False):
        super().__init__(alpha, inplace, reuse_buffers)


class CELU(ELU):
    """Continuously differentiable ELU, ``x if x > 0 else alpha * expm1(x / alpha)``.

    Parameters
    ----------
    alpha : float, default 1.0
        Nonzero scale of the negative branch.
    inplace : bool, default False
        Write the output over the input; backward then uses the output,
        which needs ``alpha > 0``.
    reuse_buffers : bool, default False
        Write results into arrays kept from the previous call; each result
        is then overwritten by the next call (see :mod:`leakyrelu.nn`).

    Examples
    --------
    >>> import numpy as np
    >>> from leakyrelu.nn import CELU
    >>> layer = CELU(alpha=2.0)
    >>> layer(np.array([-2.0, 2.0]))
    array([-1.26424112,  2.        ])
    >>> layer.backward(np.ones(2))
    array([0.36787944, 1.        ])
    """
    _forward = staticmethod(_exp.celu)
    _grad = staticmethod(_exp.celu_grad)

    def __init__(self, alpha=1.0, inplace=False, *, reuse_buffers=False):
        super().__init__(_exp._celu_alpha(alpha), inplace, reuse_buffers=reuse_buffers)


class SELU(_Elementwise):
    """Scaled ELU with the fixed constants of :data:`leakyrelu.SELU_ALPHA`
    and :data:`leakyrelu.SELU_SCALE`, as a layer.

    Parameters
    ----------
    inplace : bool, default False
        Write the output over the input; backward then uses the output.
    reuse_buffers : bool, default False
        Write results into arrays kept from the previous call; each result
        is then overwritten by the next call (see :mod:`leakyrelu.nn`).

    Examples
    --------
    >>> import numpy as np
    >>> from leakyrelu.nn import SELU
    >>> layer = SELU(inplace=True)
    >>> x = np.array([-1.0, 1.0])
    >>> layer(x) is x
    True
    >>> layer.backward(np.ones(2))
    array([0.6467686 , 1.05070099])
    """
    _forward = staticmethod(_exp.selu)
    _grad = staticmethod(_exp.selu_grad)

    def __init__(self, inplace=False, *, reuse_buffers=False):
        super().__init__(inplace, reuse_buffers)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class RReLU(Module):
    """Randomized leaky ReLU as a layer: random slopes in training, their mean in evaluation.

    In training mode (the default, as in PyTorch) each forward draws a fresh
    64-bit seed from the layer's own ``numpy.random.Generator`` and calls
    :func:`leakyrelu.rrelu` with it: every element ``x <= 0`` gets its own
    slope ``a ~ U(lower, upper)``. Backward regenerates the same slopes from
    the remembered seed, so no noise array is stored. In evaluation mode the
    slope is ``(lower + upper) / 2``.

    Parameters
    ----------
    lower, upper : float, default 1/8 and 1/3
        Bounds of the random slope.
    inplace : bool, default False
        Write the output over the input; backward then uses the output,
        which needs ``lower >= 0``.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the layer's generator (``numpy.random.default_rng(seed)``);
        the same seed gives the same slopes, forward after forward.
    reuse_buffers : bool, default False
        Write results into arrays kept from the previous call; each result
        is then overwritten by the next call (see :mod:`leakyrelu.nn`).

    Attributes
    ----------
    training : bool
        Set by :meth:`train` and :meth:`eval`.
    last_seed : int or None
        The seed drawn by the last training forward (None after an
        evaluation forward).

    Examples
    --------
    >>> import numpy as np
    >>> from leakyrelu.nn import RReLU
    >>> layer = RReLU(0.1, 0.3, seed=0)
    >>> x = np.array([-1.0, 2.0])
    >>> y = layer(x)
    >>> bool(-0.3 <= y[0] <= -0.1 and y[1] == 2.0)
    True
    >>> g = layer.backward(np.ones(2))
    >>> bool(np.allclose(g * x, y))
    True
    >>> layer.eval()(x)
    array([-0.2,  2. ])
    """

    def __init__(self, lower=1 / 8, upper=1 / 3, inplace=False, seed=None, *,
                 reuse_buffers=False):
        self.lower, self.upper, _ = _rect._rrelu_bounds(lower, upper)
        self.inplace = bool(inplace)
        self.reuse_buffers = bool(reuse_buffers)
        _check_branch_visible(self.inplace, "inplace", self.lower, "lower")
        self._rng = _np.random.default_rng(seed)
        self.last_seed = None
        self._cache = None

    def forward(self, x):
        seed = None
        if self.training:
            seed = int(self._rng.integers(0, 2**64, dtype=_np.uint64))
        y = _rect.rrelu(x, self.lower, self.upper, training=self.training, seed=seed,
                        out=x if self.inplace else self._buffer("output", x, x))
        self.last_seed = seed
        self._cache = y if self.inplace else x
        return y

    def backward(self, grad_output):
        saved = self._saved()
        return _rect.rrelu_grad(grad_output, saved, self.lower, self.upper,
                                training=self.last_seed is not None, seed=self.last_seed,
                                from_output=self.inplace,
                                out=self._buffer("grad", saved, grad_output, saved))

    def extra_repr(self):
        return (f"lower={self.lower}, upper={self.upper}"
                + (", inplace=True" if self.inplace else ""))


class PReLU(Module):
    """Parametric ReLU, ``x if x > 0 else weight[c] * x``, with a learnable weight.

    Parameters
    ----------
    num_parameters : int, default 1
        1 for a single slope shared by every element, or the number of
        channels: the length of the input along `axis`.
    init : float, default 0.25
        Initial value of every slope.
    axis : int, default 1
        The channel axis of the input (1 for ``(N, C, ...)`` data, as in
        PyTorch; -1 for channels-last).
    dtype : numpy dtype, default float64
        The dtype of `weight` and `weight_grad`. The forward casts the
        weight to the input's dtype; the weight gradient is accumulated in
        this dtype.
    reuse_buffers : bool, default False
        Write results into arrays kept from the previous call; each result
        is then overwritten by the next call (see :mod:`leakyrelu.nn`).

    Attributes
    ----------
    weight : numpy.ndarray
        Shape ``(num_parameters,)``; update it in place or assign a new
        array of that shape.
    weight_grad : numpy.ndarray
        The gradient with respect to `weight`, summed over every
        :meth:`backward` call since the last :meth:`zero_grad`.

    Notes
    -----
    The layer keeps the input of the last forward and the weight it used
    (cast to the input's dtype), so backward differentiates that forward
    even if `weight` has been updated since.

    Examples
    --------
    >>> import numpy as np
    >>> from leakyrelu.nn import PReLU
    >>> layer = PReLU(num_parameters=2, init=0.5)
    >>> x = np.array([[-2.0, -4.0], [1.0, -1.0]])
    >>> layer(x)
    array([[-1. , -2. ],
           [ 1. , -0.5]])
    >>> layer.backward(np.ones_like(x))
    array([[0.5, 0.5],
           [1. , 0.5]])
    >>> layer.weight_grad
    array([-2., -5.])
    >>> layer.zero_grad(); layer.weight_grad
    array([0., 0.])
    """

    def __init__(self, num_parameters=1, init=0.25, axis=1, dtype=_np.float64, *,
                 reuse_buffers=False):
        self.reuse_buffers = bool(reuse_buffers)
        num_parameters = int(num_parameters)
        if num_parameters < 1:
            raise ValueError(f"num_parameters must be at least 1, got {num_parameters}")
        self.axis = axis
        self.weight = _np.full(num_parameters, init, dtype=dtype)
        self.weight_grad = _np.zeros_like(self.weight)
        self._cache = None

    @property
    def num_parameters(self):
        return self.weight.shape[0]

    def forward(self, x):
        # A copy (a few values): backward must see this forward's weight even if the
        # optimiser updates self.weight in place before it runs
        weight = self.weight.astype(getattr(x, "dtype", self.weight.dtype))
        y = _rect.prelu(x, weight, self.axis, out=self._buffer("output", x, x))
        self._cache = (x, weight)
        return y

    def backward(self, grad_output):
        x, weight = self._saved()
        grad_x, grad_weight = _rect.prelu_grad(grad_output, x, weight, self.axis,
                                               out=self._buffer("grad", x, grad_output, x))
        self.weight_grad += grad_weight
        return grad_x

    def zero_grad(self):
        self.weight_grad[...] = 0

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}, axis={self.axis}"
