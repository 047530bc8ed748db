"""What the benchmarks share: the parameter grid, the input data, and one call per kernel.

Every kernel is called through :data:`KERNELS`, so each benchmark family
(time, peakmem, track) measures exactly the same calls. The benchmark
classes get one method per kernel from :func:`per_kernel`.
"""
import inspect
import textwrap
import time

import numpy as np

import leakyrelu as lr

try:
    from leakyrelu._benchcases import placed
except ImportError:   # a commit from before placed(): plain arrays
    def placed(array, fill=None):
        result = np.empty_like(array)
        result[...] = array if fill is None else fill
        return result

DTYPES = ["float32", "float64"]
SIZES = [100, 10_000, 1_000_000, 16_000_000]
MODES = ["alloc", "out", "inplace"]
THREADS = [1, 2]

ALPHA = 0.01            # leaky_relu's default slope
LOWER, UPPER = 1 / 8, 1 / 3
SEED = 1234             # rrelu training noise
CELU_ALPHA = 2.0        # not 1, so that celu differs from elu
CHANNELS = 4            # prelu: x has shape (1, CHANNELS, size // CHANNELS), axis=1


def random_signs(dtype, size, seed):
    """Standard normal data: random signs, never sorted, so no branch is predictable.

    Drawn in float32 and cast, which is several times faster than drawing
    float64 and gives the same kind of data.
    """
    x = np.random.default_rng(seed).standard_normal(size, dtype=np.float32)
    return x.astype(dtype, copy=False)


def prelu_weight(dtype):
    return np.linspace(0.05, 0.3, CHANNELS, dtype=dtype)


class Operands:
    """The arrays one call reads and writes, laid out for one mode.

    Every array has the shape (1, CHANNELS, size // CHANNELS), contiguous:
    prelu sees channels on axis 1, and the elementwise kernels process it as
    one flat run. Forward calls read ``x``; gradients read ``g`` (the
    incoming gradient) and ``x``. ``out`` is what the call is given:

    * ``alloc``: ``None``, so the call allocates its result;
    * ``out``: a separate buffer, written once here so that timed calls
      take no first-touch page faults;
    * ``inplace``: the array the call overwrites (``x`` forward, ``g``
      backward). :meth:`reset` restores it from a pristine copy.

    With ``buffer=True`` a buffer of the result's size is allocated in every
    mode (peakmem benchmarks: then only the call itself differs).
    """

    def __init__(self, dtype, size, mode, grad, *, buffer=False, pristine=True):
        shape = (1, CHANNELS, size // CHANNELS)
        # On 2 MiB boundaries, as in the bench's table: the same pages in every run
        self.x = placed(random_signs(dtype, size, 0).reshape(shape))
        self.g = placed(random_signs(dtype, size, 1).reshape(shape)) if grad else None
        self.w = prelu_weight(dtype)
        self.grad = grad
        self._pristine = None
        # Kept even where the call does not use it (peakmem: same arrays in every mode).
        self.buffer = (placed(np.empty(shape, dtype), 0.5) if buffer or mode == "out"
                       else None)
        if mode == "alloc":
            self.out = None
        elif mode == "out":
            self.out = self.buffer
        elif mode == "inplace":
            self.out = self.g if grad else self.x
            if pristine:
                self._pristine = self.out.copy()
        else:
            raise ValueError(f"unknown mode {mode!r}")

    def reset(self):
        """Undo what an in-place call wrote, so that every call sees the same data."""
        if self._pristine is not None:
            np.copyto(self.out, self._pristine)


def _grads(call):
    """Mark a call as a gradient: it reads ``g`` and ``x``."""
    call.grad = True
    return call


# One call per public function and gradient: (operands, num_threads) -> result.
# rrelu appears twice, in evaluation and in training mode.
KERNELS = {
    "relu": lambda a, t: lr.relu(a.x, out=a.out, num_threads=t),
    "leaky_relu": lambda a, t: lr.leaky_relu(a.x, ALPHA, out=a.out, num_threads=t),
    "prelu": lambda a, t: lr.prelu(a.x, a.w, out=a.out, num_threads=t),
    "rrelu_eval": lambda a, t: lr.rrelu(a.x, LOWER, UPPER, out=a.out, num_threads=t),
    "rrelu_train": lambda a, t: lr.rrelu(a.x, LOWER, UPPER, training=True, seed=SEED,
                                         out=a.out, num_threads=t),
    "elu": lambda a, t: lr.elu(a.x, out=a.out, num_threads=t),
    "celu": lambda a, t: lr.celu(a.x, CELU_ALPHA, out=a.out, num_threads=t),
    "selu": lambda a, t: lr.selu(a.x, out=a.out, num_threads=t),
    "relu_grad": _grads(lambda a, t: lr.relu_grad(a.g, a.x, out=a.out, num_threads=t)),
    "leaky_relu_grad": _grads(lambda a, t: lr.leaky_relu_grad(a.g, a.x, ALPHA, out=a.out,
                                                              num_threads=t)),
    "prelu_grad": _grads(lambda a, t: lr.prelu_grad(a.g, a.x, a.w, out=a.out, num_threads=t)),
    "rrelu_eval_grad": _grads(lambda a, t: lr.rrelu_grad(a.g, a.x, LOWER, UPPER, out=a.out,
                                                         num_threads=t)),
    "rrelu_train_grad": _grads(lambda a, t: lr.rrelu_grad(a.g, a.x, LOWER, UPPER,
                                                          training=True, seed=SEED,
                                                          out=a.out, num_threads=t)),
    "elu_grad": _grads(lambda a, t: lr.elu_grad(a.g, a.x, out=a.out, num_threads=t)),
    "celu_grad": _grads(lambda a, t: lr.celu_grad(a.g, a.x, CELU_ALPHA, out=a.out,
                                                  num_threads=t)),
    "selu_grad": _grads(lambda a, t: lr.selu_grad(a.g, a.x, out=a.out, num_threads=t)),
}
FORWARD = [name for name, call in KERNELS.items() if not getattr(call, "grad", False)]
GRADIENTS = [name for name, call in KERNELS.items() if getattr(call, "grad", False)]


def per_kernel(prefix, names, note=""):
    """Class decorator: add a method ``<prefix><name>`` calling ``self.run(name)`` per kernel.

    asv names benchmarks after methods, so each kernel gets its own graph
    (``Forward.time_relu``, ``Ratio.track_elu_grad``, ...). Each method's
    ``pretty_source`` is the kernel's entry in :data:`KERNELS`: the code the
    dashboard shows, and what asv hashes to tell when a benchmark changed.
    """
    def decorate(cls):
        for name in names:
            def method(self, *params, _name=name):
                return self.run(_name)
            method.__name__ = method.__qualname__ = prefix + name
            call = textwrap.dedent(inspect.getsource(KERNELS[name]))
            method.pretty_source = (
                f"def {prefix}{name}(self, *params):\n"
                f"    # {cls.__name__}.run({name!r}) calls, from benchmarks/common.py:\n"
                f"{textwrap.indent(call, '    ')}{note}")
            setattr(cls, prefix + name, method)
        return cls
    return decorate


def best_times(calls, repeat):
    """Best time per call of each callable, measured in turns: the timer of
    ``python -m leakyrelu bench`` (``leakyrelu._benchcases.measure``)."""
    from leakyrelu._benchcases import measure
    timings = measure({i: (lambda: None, call, "any") for i, call in enumerate(calls)},
                      budget=0.05 * repeat, min_rounds=repeat)
    return [timings[i].seconds for i in range(len(calls))]
