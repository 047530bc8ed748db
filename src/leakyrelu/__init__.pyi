# Type stubs for the public API. The functions are plain Python wrappers
# around compiled kernels; these stubs give them precise types.
#
# Each function has two signatures. Float ndarrays: the result has the
# dtype of the input, which the type variable carries through (relu of a
# float32 array is a float32 array). Anything else np.asarray accepts
# (lists, scalars, integer arrays, bfloat16, subclasses; README, "Accepted
# inputs"): the result is typed Any, as it may be a NumPy scalar, a matrix
# or a masked array, and its dtype follows NumPy's promotion.
from typing import Any, Final, TypeAlias, TypeVar, overload

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
@overload
def relu(
    x: _Array[_F], *, out: _Array[_F] | None = ..., num_threads: int | None = ...
) -> _Array[_F]: ...
@overload
def relu(
    x: npt.ArrayLike, *, out: npt.NDArray[Any] | None = ..., num_threads: int | None = ...
) -> Any: ...
@overload
def relu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def relu_grad(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    *,
    from_output: bool = ...,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def leaky_relu(
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def leaky_relu(
    x: npt.ArrayLike,
    alpha: _Real = ...,
    *,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def leaky_relu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def leaky_relu_grad(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def prelu(
    x: _Array[_F],
    weight: _Real | _Array[_F],
    axis: _Axis = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def prelu(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    axis: _Axis = ...,
    *,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def prelu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    weight: _Real | _Array[_F],
    axis: _Axis = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> tuple[_Array[_F], _Array[_F]]: ...
@overload
def prelu_grad(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    axis: _Axis = ...,
    *,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> tuple[Any, np.ndarray[Any, Any]]: ...
@overload
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
@overload
def rrelu(
    x: npt.ArrayLike,
    lower: _Real = ...,
    upper: _Real = ...,
    *,
    training: bool = ...,
    seed: int | None = ...,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
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
@overload
def rrelu_grad(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    lower: _Real = ...,
    upper: _Real = ...,
    *,
    training: bool = ...,
    seed: int | None = ...,
    from_output: bool = ...,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...

# Exponential family
@overload
def elu(
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def elu(
    x: npt.ArrayLike,
    alpha: _Real = ...,
    *,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def elu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def elu_grad(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def celu(
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def celu(
    x: npt.ArrayLike,
    alpha: _Real = ...,
    *,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def celu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def celu_grad(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    alpha: _Real = ...,
    *,
    from_output: bool = ...,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
@overload
def selu(
    x: _Array[_F], *, out: _Array[_F] | None = ..., num_threads: int | None = ...
) -> _Array[_F]: ...
@overload
def selu(
    x: npt.ArrayLike, *, out: npt.NDArray[Any] | None = ..., num_threads: int | None = ...
) -> Any: ...
@overload
def selu_grad(
    grad_output: _Array[_F],
    x: _Array[_F],
    *,
    from_output: bool = ...,
    out: _Array[_F] | None = ...,
    num_threads: int | None = ...,
) -> _Array[_F]: ...
@overload
def selu_grad(
    grad_output: npt.ArrayLike,
    x: npt.ArrayLike,
    *,
    from_output: bool = ...,
    out: npt.NDArray[Any] | None = ...,
    num_threads: int | None = ...,
) -> Any: ...
