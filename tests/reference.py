"""Independent NumPy formulas for every activation and its derivative.

They are written from the mathematical definitions, not from the package's
code, and serve where PyTorch is absent and as a second opinion where it is.
"""
import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu(x):
    return np.where(x < 0, np.zeros_like(x), x)


def relu_grad(g, x):
    return np.where(np.isnan(x), x, np.where(x > 0, g, np.zeros_like(g)))


def leaky_relu(x, alpha):
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        return np.where(x > 0, x, x * x.dtype.type(alpha))


def leaky_relu_grad(g, x, alpha):
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        return np.where(np.isnan(x), x, np.where(x > 0, g, g * g.dtype.type(alpha)))


def elu(x, alpha=1.0, scale=1.0, input_scale=1.0):
    """In float64 (or longdouble for float64 input) for accuracy checks."""
    wide = np.longdouble if x.dtype == np.float64 else np.float64
    xw = x.astype(wide)
    with np.errstate(all="ignore"):
        neg = wide(alpha) * wide(scale) * np.expm1(xw * wide(input_scale))
        return np.where(xw < 0, neg, xw * wide(scale))


def elu_grad(g, x, alpha=1.0, scale=1.0, input_scale=1.0):
    wide = np.longdouble if x.dtype == np.float64 else np.float64
    xw, gw = x.astype(wide), g.astype(wide)
    with np.errstate(all="ignore"):
        neg = gw * wide(alpha) * wide(scale) * wide(input_scale) * np.exp(xw * wide(input_scale))
        return np.where(np.isnan(xw), xw, np.where(xw > 0, gw * wide(scale), neg))


def rrelu_eval(x, lower, upper):
    """rrelu in evaluation: leaky_relu with the mean slope, as PyTorch defines it."""
    return leaky_relu(x, (lower + upper) / 2)


def _channel_weight(x, weight, axis):
    """prelu's weight shaped to broadcast against x along ``axis``."""
    w = np.asarray(weight, dtype=x.dtype).reshape(-1)
    if w.size == 1:
        return w.reshape(())
    shape = [1] * x.ndim
    shape[axis] = w.size
    return w.reshape(shape)


def prelu(x, weight, axis=1):
    w = _channel_weight(x, weight, axis)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        return np.where(x > 0, x, x * w)


def prelu_grad(g, x, weight, axis=1):
    """(grad_x, exact grad_weight in float64, sum of |terms| per channel).

    The weight gradient sums g * x over x <= 0 with math.fsum, so it is the
    correctly rounded float64 sum of the float64 products; the sum of the
    absolute terms bounds the rounding error any summation order may make.
    """
    import math
    w = _channel_weight(x, weight, axis)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        grad_x = np.where(np.isnan(x), x, np.where(x > 0, g, g * w))
    terms = np.where(x > 0, 0.0, x.astype(np.float64) * g.astype(np.float64))
    if w.ndim == 0:
        rows = terms.reshape(1, -1)
    else:
        rows = np.moveaxis(terms, axis, 0).reshape(w.size, -1)
    exact = np.array([math.fsum(r) for r in rows])
    scale = np.abs(rows).sum(axis=1)
    return grad_x, exact, scale


# The exponential family as PyTorch and leakyrelu define it: the coefficients
# negcoef = alpha * scale, poscoef = scale and input_scale are rounded to the
# dtype, and so is the argument x * input_scale (exp is ill-conditioned in its
# argument: rounding x / 0.3 to float32 moves exp(x / 0.3) by tens of ulp at
# x = -20). Everything after that is computed in wide precision, so these
# differ from the exact function only by roundings every implementation makes.
def elu_coefficients(dtype, alpha, scale=1.0, input_scale=1.0):
    """(negcoef, poscoef, input_scale), rounded to ``dtype`` as the kernels use them."""
    t = np.dtype(dtype).type
    return t(alpha) * t(scale), t(scale), t(input_scale)


def _wide(dtype):
    return np.longdouble if np.dtype(dtype) == np.float64 else np.float64


def elu_rounded(x, negcoef, poscoef, input_scale):
    """The forward in wide precision, rounded once to x's dtype."""
    wide = _wide(x.dtype)
    with np.errstate(all="ignore"):
        t = (x * input_scale).astype(wide)
        y = np.where(x < 0, wide(negcoef) * np.expm1(t), x.astype(wide) * wide(poscoef))
        return y.astype(x.dtype)    # selu(max) overflows to inf, as it should


def elu_grad_rounded(g, x, negcoef, poscoef, input_scale):
    """grad_output * d(forward)/dx from the input, rounded once; NaN where x is NaN."""
    wide = _wide(x.dtype)
    gw = g.astype(wide)
    with np.errstate(all="ignore"):
        t = (x * input_scale).astype(wide)
        neg = gw * wide(input_scale) * wide(negcoef) * np.exp(t)
        d = np.where(np.isnan(x), x.astype(wide), np.where(x > 0, gw * wide(poscoef), neg))
        return d.astype(x.dtype)


def elu_grad_from_output_rounded(g, y, negcoef, poscoef, input_scale):
    """The same gradient computed from the output y: (y + negcoef) * input_scale below 0."""
    wide = _wide(y.dtype)
    gw, yw = g.astype(wide), y.astype(wide)
    with np.errstate(all="ignore"):
        neg = gw * wide(input_scale) * (yw + wide(negcoef))
        d = np.where(np.isnan(yw), yw, np.where(yw > 0, gw * wide(poscoef), neg))
        return d.astype(y.dtype)


def _ordinal(a):
    """Map floats onto integers so that adjacent floats differ by 1 and +0 == -0."""
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(bits).astype(np.int64)
    # Negative floats have the sign bit set: reflect them below zero.
    return np.where(i < 0, np.iinfo(bits).min - i, i)


#: The distance reported where exactly one of the two values is NaN.
NAN_MISMATCH = np.uint64(2**63)


def ulp_distance(a, b):
    """Elementwise number of representable values between a and b (uint64).

    +0 and -0 are 0 apart; two NaNs are 0 apart; NaN against a number is
    NAN_MISMATCH, larger than any distance between numbers.
    """
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.dtype.kind == "f", (a.dtype, b.dtype)
    ia, ib = _ordinal(a), _ordinal(b)
    if a.dtype.itemsize < 8:
        d = np.abs(ia - ib).astype(np.uint64)
    else:
        # Opposite signs may be more than 2**63 apart: add the magnitudes unsigned.
        same_sign = (ia >= 0) == (ib >= 0)
        with np.errstate(over="ignore"):
            d = np.where(same_sign, np.abs(ia - ib).astype(np.uint64),
                         np.abs(ia).astype(np.uint64) + np.abs(ib).astype(np.uint64))
    na, nb = np.isnan(a), np.isnan(b)
    return np.where(na & nb, np.uint64(0), np.where(na | nb, NAN_MISMATCH, d))


# rrelu in training, rewritten from the description of its noise: each
# element's slope comes from a counter-based hash of (seed keys, element
# index in C order): one round of a 32-bit mixer on the index's low word
# xor key0, with key1 xor the index's high word mixed in between its two
# multiplies. 24 bits of the hash make a uniform u in [0, 1) and the slope
# is lower + (upper - lower) * u in the working dtype, never above upper.
def _mix32(h):
    """A 32-bit finaliser (xor-shift, multiply), elementwise on uint32 arrays."""
    h = np.asarray(h, dtype=np.uint32)
    with np.errstate(over="ignore"):    # multiplication modulo 2**32 is the point
        h = h ^ (h >> np.uint32(16))
        h = h * np.uint32(0x7feb352d)
        h = h ^ (h >> np.uint32(15))
        h = h * np.uint32(0x846ca68b)
        return h ^ (h >> np.uint32(16))


def rrelu_keys(seed):
    """The two 32-bit keys of a seed in [0, 2**64)."""
    low, high = np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32)
    key0 = _mix32(low ^ np.uint32(0x9e3779b9))
    key1 = _mix32(high ^ key0 ^ np.uint32(0x85ebca6b))
    return int(key0), int(key1)


def rrelu_step(lower, upper, dtype):
    """The slope grid's step: (upper - lower) / 2**16, lowered until the top
    of the grid, lower + step * 65535, does not round past upper."""
    t = np.dtype(dtype).type
    lo, hi = t(lower), t(upper)
    step = t(float(hi) * 2.0**-16 - float(lo) * 2.0**-16)
    while lo + step * t(65535) > hi:
        step = np.nextafter(step, t(0))
    return step


def rrelu_slopes(index, key0, key1, lower, upper, dtype):
    """The training slope of each element index (an array of ints < 2**64).

    Hash number (index // 128) * 64 + index % 64 gives elements with
    index % 128 < 64 its low 16 bits, the others its high 16 bits."""
    index = np.asarray(index, dtype=np.uint64)
    low = (index & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    high = (index >> np.uint64(32)).astype(np.uint32)
    number = ((low >> np.uint32(7)) << np.uint32(6)) | (low & np.uint32(63))
    with np.errstate(over="ignore"):
        h = number ^ np.uint32(key0)
        h = (h ^ (h >> np.uint32(16))) * np.uint32(0x7feb352d)
        h = h ^ np.uint32(key1) ^ high
        h = (h ^ (h >> np.uint32(15))) * np.uint32(0x846ca68b)
        h = h ^ (h >> np.uint32(16))
    bits = np.where(low & np.uint32(64), h >> np.uint32(16), h & np.uint32(0xFFFF))
    t = np.dtype(dtype).type
    return t(lower) + rrelu_step(lower, upper, dtype) * bits.astype(dtype)


def rrelu_train(x, lower, upper, seed, offset=0):
    """rrelu(x, lower, upper, training=True, seed=seed) for float32/float64 x."""
    slopes = rrelu_slopes(offset + np.arange(x.size, dtype=np.uint64), *rrelu_keys(seed),
                          lower, upper, x.dtype).reshape(x.shape)
    return leaky_relu_slopes(x, slopes)


def leaky_relu_slopes(x, slopes):
    """leaky_relu with a slope per element."""
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        return np.where(x > 0, x, x * slopes)


def rrelu_train_grad(g, x, lower, upper, seed, offset=0):
    slopes = rrelu_slopes(offset + np.arange(x.size, dtype=np.uint64), *rrelu_keys(seed),
                          lower, upper, x.dtype).reshape(x.shape)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        return np.where(np.isnan(x), x, np.where(x > 0, g, g * slopes))
