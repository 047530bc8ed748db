"""Leaky ReLU and its family on NumPy arrays: forward, gradient, in place, in parallel.

Functions: :func:`relu`, :func:`leaky_relu`, :func:`prelu`, :func:`rrelu`,
:func:`elu`, :func:`celu`, :func:`selu`, each with a ``*_grad`` companion.
"""
from leakyrelu._config import show_config
from leakyrelu._exponential import (SELU_ALPHA, SELU_SCALE, celu, celu_grad, elu, elu_grad, selu,
                                    selu_grad)
from leakyrelu._rectifiers import (leaky_relu, leaky_relu_grad, prelu, prelu_grad, relu,
                                   relu_grad, rrelu, rrelu_grad)

__version__ = "0.1.0"

__all__ = [
    "relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "prelu", "prelu_grad",
    "rrelu", "rrelu_grad", "elu", "elu_grad", "celu", "celu_grad", "selu", "selu_grad",
    "SELU_ALPHA", "SELU_SCALE", "show_config", "__version__",
]
