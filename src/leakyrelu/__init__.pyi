# Type stubs for the public API. The functions are plain Python wrappers
# around compiled kernels; these stubs give them precise types.
#
# Arrays: float16, float32 or float64 ndarrays (anything else raises
# TypeError at run time). A result has the dtype of its input, which the
# type variable carries through: relu of a float32 array is a float32 array.
from typing import Any, Final, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from leakyrelu import nn as nn

_F = TypeVar("_F", bound=np.floating[Any])
_Array: TypeAlias = npt.NDArray[_F]
# Real scalar parameters: Python or NumPy numbers (not bool, refused at run time).
_Real: TypeAlias = float | np.floating[Any] | np.integer[Any]
_Axis: TypeAlias = int | np.integer[Any]

__version__: Final[str]
__all__ = [
    "relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "prelu", "prelu_grad",
    "rrelu", "rrelu_grad", "elu", "elu_grad", "celu", "celu_grad", "selu", "selu_grad",
    "SELU_ALPHA", "SELU_SCALE", "show_config", "nn", "__version__",
]

SELU_ALPHA: Final[float]
SELU_SCALE: Final[float]

def show_config() -> None: ...

# Piecewise-linear family
def relu(
    x: _Array[_F], *, out: _Array[_F] | None = ..., num_threads: int | None = ...
) -> _Array[_F]: ...
def relu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def leaky_relu(
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def leaky_relu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def prelu(
    x: _Array[_F],
    weight: _Real | _Array[_F],
    axis: _Axis = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def prelu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    weight: _Real | _Array[_F],
    axis: _Axis = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> tuple[_Array[_F], _Array[_F]]: ...
def rrelu(
    x: _Array[_F],
    lower: _Real = ...,
    upper: _Real = ...,
    *,
    training: bool = ...,
    seed: int | None = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def rrelu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    lower: _Real = ...,
    upper: _Real = ...,
    *,
    training: bool = ...,
    seed: int | None = ...,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...

# Exponential family
def elu(
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def elu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def celu(
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def celu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
def selu(
    x: _Array[_F], *, out: _Array[_F] | None = ..., num_threads: int | None = ...
) -> _Array[_F]: ...
def selu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
