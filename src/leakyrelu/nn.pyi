# Type stubs for leakyrelu.nn: layers for NumPy training loops.
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

_Array: TypeAlias = npt.NDArray[np.floating[Any]]
_Real: TypeAlias = float | np.floating[Any] | np.integer[Any]

__all__ = ["Module", "ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "CELU", "SELU"]

class Module:
    training: bool
    reuse_buffers: bool
    def __call__(self, x: _Array) -> _Array: ...
    def forward(self, x: _Array) -> _Array: ...
    def backward(self, grad_output: _Array) -> _Array: ...
    def train(self, mode: bool = ...) -> Module: ...
    def eval(self) -> Module: ...
    def zero_grad(self) -> None: ...
    def extra_repr(self) -> str: ...

class ReLU(Module):
    inplace: bool
    def __init__(self, inplace: bool = ..., *, reuse_buffers: bool = ...) -> None: ...

class LeakyReLU(Module):
    inplace: bool
    alpha: float
    def __init__(
        self, alpha: _Real = ..., inplace: bool = ..., *, reuse_buffers: bool = ...
    ) -> None: ...

class ELU(Module):
    inplace: bool
    alpha: float
    def __init__(
        self, alpha: _Real = ..., inplace: bool = ..., *, reuse_buffers: bool = ...
    ) -> None: ...

class CELU(ELU): ...

class SELU(Module):
    inplace: bool
    def __init__(self, inplace: bool = ..., *, reuse_buffers: bool = ...) -> None: ...

class RReLU(Module):
    lower: float
    upper: float
    inplace: bool
    last_seed: int | None
    def __init__(
        self,
        lower: _Real = ...,
        upper: _Real = ...,
        inplace: bool = ...,
        seed: int | None = ...,
        *,
        reuse_buffers: bool = ...,
    ) -> None: ...

class PReLU(Module):
    axis: int
    weight: npt.NDArray[np.floating[Any]]
    weight_grad: npt.NDArray[np.floating[Any]]
    def __init__(
        self,
        num_parameters: int = ...,
        init: _Real = ...,
        axis: int = ...,
        dtype: npt.DTypeLike = ...,
        *,
        reuse_buffers: bool = ...,
    ) -> None: ...
    @property
    def num_parameters(self) -> int: ...
