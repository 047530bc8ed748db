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
