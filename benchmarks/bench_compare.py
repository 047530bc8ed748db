"""leakyrelu side by side with what a user would otherwise call.

``Compare.time_<kernel>`` is parametrized by implementation:

* ``leakyrelu``: the package, allocating its result;
* ``numpy``: the NumPy idiom, e.g. ``np.where(x > 0, x, alpha * x)`` or
  ``np.maximum(x, 0)`` (skipped with 2 threads: NumPy's ufuncs use one);
* ``torch``: PyTorch's CPU kernel at the same thread count (skipped when
  torch is not installed in the benchmark environment).

All three allocate their result, on the same float32 data.
"""
import numpy as np

from .common import (ALPHA, CELU_ALPHA, FORWARD, GRADIENTS, KERNELS, LOWER, SEED, THREADS, UPPER,
                     Operands, per_kernel)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
RRELU_SLOPE = (LOWER + UPPER) / 2


def numpy_calls(a, noise):
    """The NumPy idiom for each kernel; ``noise`` is a stored rrelu training slope per element."""
    x, g, w = a.x, a.g, a.w.reshape(1, -1, 1)
    rng = np.random.default_rng(SEED)

    def rrelu_train():
        slopes = LOWER + (UPPER - LOWER) * rng.random(x.shape, dtype=x.dtype)
        return np.where(x > 0, x, slopes * x)

    return {
        "relu": lambda: np.maximum(x, 0),
        "leaky_relu": lambda: np.where(x > 0, x, ALPHA * x),
        "prelu": lambda: np.where(x > 0, x, w * x),
        "rrelu_eval": lambda: np.where(x > 0, x, RRELU_SLOPE * x),
        "rrelu_train": rrelu_train,
        "elu": lambda: np.where(x > 0, x, np.expm1(x)),
        "celu": lambda: np.where(x > 0, x, CELU_ALPHA * np.expm1(x / CELU_ALPHA)),
        "selu": lambda: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
        "relu_grad": lambda: np.where(x > 0, g, 0),
        "leaky_relu_grad": lambda: np.where(x > 0, g, ALPHA * g),
        "prelu_grad": lambda: (np.where(x > 0, g, w * g),
                               np.where(x > 0, 0, g * x).sum(axis=(0, 2))),
        "rrelu_eval_grad": lambda: np.where(x > 0, g, RRELU_SLOPE * g),
        "rrelu_train_grad": lambda: np.where(x > 0, g, noise * g),
        "elu_grad": lambda: np.where(x > 0, g, g * np.exp(x)),
        "celu_grad": lambda: np.where(x > 0, g, g * np.exp(x / CELU_ALPHA)),
        "selu_grad": lambda: SELU_SCALE * np.where(x > 0, g, g * (SELU_ALPHA * np.exp(x))),
    }


def torch_calls(torch, a, noise):
    """PyTorch's CPU kernels, forward and backward (the ATen ops autograd calls)."""
    F, aten = torch.nn.functional, torch.ops.aten
    x, g, w = torch.from_numpy(a.x), torch.from_numpy(a.g), torch.from_numpy(a.w)
    noise = torch.from_numpy(noise)
    return {
        "relu": lambda: torch.relu(x),
        "leaky_relu": lambda: F.leaky_relu(x, ALPHA),
        "prelu": lambda: F.prelu(x, w),
        "rrelu_eval": lambda: F.rrelu(x, LOWER, UPPER, training=False),
        "rrelu_train": lambda: F.rrelu(x, LOWER, UPPER, training=True),
        "elu": lambda: F.elu(x),
        "celu": lambda: F.celu(x, CELU_ALPHA),
        "selu": lambda: F.selu(x),
        "relu_grad": lambda: aten.threshold_backward(g, x, 0),
        "leaky_relu_grad": lambda: aten.leaky_relu_backward(g, x, ALPHA, False),
        "prelu_grad": lambda: [r.sum((0, 2)) if i else r for i, r in
                               enumerate(aten._prelu_kernel_backward(g, x, w.view(1, -1, 1)))],
        "rrelu_eval_grad": lambda: aten.rrelu_with_noise_backward(g, x, noise, LOWER, UPPER,
                                                                  False, False),
        "rrelu_train_grad": lambda: aten.rrelu_with_noise_backward(g, x, noise, LOWER, UPPER,
                                                                   True, False),
        "elu_grad": lambda: aten.elu_backward(g, 1.0, 1.0, 1.0, False, x),
        "celu_grad": lambda: aten.elu_backward(g, CELU_ALPHA, 1.0, 1.0 / CELU_ALPHA, False, x),
        "selu_grad": lambda: aten.elu_backward(g, SELU_ALPHA, SELU_SCALE, 1.0, False, x),
    }


def _import_torch():
    try:
        import torch
    except ImportError:
        raise NotImplementedError("torch is not installed") from None
    return torch


@per_kernel("time_", FORWARD + GRADIENTS,
            note="    # numpy and torch: numpy_calls and torch_calls in benchmarks/bench_compare.py\n")
class Compare:
    """Allocating calls on float32 data: leakyrelu, the NumPy idiom, PyTorch."""
    params = [["leakyrelu", "numpy", "torch"], [10_000, 1_000_000, 16_000_000], THREADS]
    param_names = ["implementation", "size", "num_threads"]
    number = 1
    repeat = (3, 25, 0.5)

    def setup(self, implementation, size, num_threads):
        if implementation == "numpy" and num_threads > 1:
            raise NotImplementedError("NumPy's ufuncs run on one thread")
        torch = _import_torch() if implementation == "torch" else None
        key = (implementation, size, num_threads)
        if getattr(self, "_key", None) == key:  # asv re-runs setup before every sample
            return
        a = Operands("float32", size, "alloc", grad=True)
        noise = LOWER + (UPPER - LOWER) * np.random.default_rng(SEED).random(a.x.shape,
                                                                               dtype=np.float32)
        if implementation == "leakyrelu":
            self.calls = {name: (lambda call=call: call(a, num_threads))
                          for name, call in KERNELS.items()}
        elif implementation == "numpy":
            self.calls = numpy_calls(a, noise)
        else:
            torch.set_num_threads(num_threads)
            self.calls = torch_calls(torch, a, noise)
        self._key = key

    def run(self, name):
        self.calls[name]()
