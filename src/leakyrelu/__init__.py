"""Leaky ReLU and its family on NumPy arrays: forward, gradient, in place, in parallel.

Functions: :func:`relu`, :func:`leaky_relu`, :func:`prelu`, :func:`rrelu`,
:func:`elu`, :func:`celu`, :func:`selu`, each with a ``*_grad`` companion;
each also takes Dask arrays and returns a lazy Dask array. Layers with
``forward``/``backward`` for NumPy training loops are in :mod:`leakyrelu.nn`.
"""
from leakyrelu import _dask, _exponential, _rectifiers, nn
from leakyrelu._config import show_config
from leakyrelu._exponential import SELU_ALPHA, SELU_SCALE

# Each public function also takes dask arrays (see _dask.py); the number is
# how many leading arguments may be arrays.
relu = _dask.dask_aware(_rectifiers.relu)
relu_grad = _dask.dask_aware(_rectifiers.relu_grad, 2)
leaky_relu = _dask.dask_aware(_rectifiers.leaky_relu)
leaky_relu_grad = _dask.dask_aware(_rectifiers.leaky_relu_grad, 2)
prelu = _dask.dask_aware(_rectifiers.prelu, 2)
prelu_grad = _dask.dask_aware(_rectifiers.prelu_grad, 3)
rrelu = _dask.dask_aware(_rectifiers.rrelu)
rrelu_grad = _dask.dask_aware(_rectifiers.rrelu_grad, 2)
elu = _dask.dask_aware(_exponential.elu)
elu_grad = _dask.dask_aware(_exponential.elu_grad, 2)
celu = _dask.dask_aware(_exponential.celu)
celu_grad = _dask.dask_aware(_exponential.celu_grad, 2)
selu = _dask.dask_aware(_exponential.selu)
selu_grad = _dask.dask_aware(_exponential.selu_grad, 2)

__version__ = "0.1.0"

__all__ = [
    "relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "prelu", "prelu_grad",
    "rrelu", "rrelu_grad", "elu", "elu_grad", "celu", "celu_grad", "selu", "selu_grad",
    "SELU_ALPHA", "SELU_SCALE", "show_config", "nn", "__version__",
]
