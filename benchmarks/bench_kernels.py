"""Every kernel: its time, its peak memory, and its speed relative to memcpy.

* ``Forward.time_*`` / ``Gradient.time_*``: seconds per call, over dtype x
  size x mode x num_threads.
* ``MemoryForward.peakmem_*`` / ``MemoryGradient.peakmem_*``: peak RSS of
  the process; ``out=`` and in-place calls must stay one array below the
  allocating call.
* ``Ratio.track_*``: time of an ``out=`` call divided by the time of
  ``np.copyto`` moving the same bytes, measured side by side.

In-place calls overwrite their input. asv runs ``setup`` before every timed
call (``number = 1``), and ``setup`` restores the input from a pristine copy,
so every call sees the same random-sign data: repeated in-place leaky_relu
would otherwise shrink negative values by ``alpha`` per call into
subnormals, whose arithmetic is slow on many CPUs, and relu would leave no
negative values at all. The copy is not timed.
"""
import numpy as np

from .common import (DTYPES, FORWARD, GRADIENTS, KERNELS, MODES, SIZES, THREADS, Operands,
                     best_times, per_kernel, random_signs)


class _Timed:
    params = [DTYPES, SIZES, MODES, THREADS]
    param_names = ["dtype", "size", "mode", "num_threads"]
    number = 1              # one call per sample, each after a fresh setup
    repeat = (3, 25, 0.5)   # samples per round: at least 3, at most 25 or 0.5 s
    grad = False

    def setup(self, dtype, size, mode, num_threads):
        key = (dtype, size, mode)
        if getattr(self, "_key", None) != key:  # the first setup in this process
            self.operands = Operands(dtype, size, mode, self.grad)
            self._key = key
        self.operands.reset()
        self.num_threads = num_threads

    def run(self, name):
        KERNELS[name](self.operands, self.num_threads)


@per_kernel("time_", FORWARD)
class Forward(_Timed):
    """Forward functions: ``f(x)``, ``f(x, out=buffer)``, ``f(x, out=x)``."""
    grad = False


@per_kernel("time_", GRADIENTS)
class Gradient(_Timed):
    """Gradients: ``f_grad(g, x)``, ``f_grad(g, x, out=buffer)``, ``f_grad(g, x, out=g)``."""
    grad = True


PEAKMEM_SIZE = 16_000_000  # 64 or 128 MB per array: far above the interpreter's own memory


class _Memory:
    params = [DTYPES, MODES]
    param_names = ["dtype", "mode"]
    grad = False

    def setup(self, dtype, mode):
        # The same arrays in every mode (inputs and a spare buffer), so the
        # peaks differ only by what the call itself allocates.
        self.operands = Operands(dtype, PEAKMEM_SIZE, mode, self.grad, buffer=True,
                                 pristine=False)

    def run(self, name):
        KERNELS[name](self.operands, 1)


@per_kernel("peakmem_", FORWARD)
class MemoryForward(_Memory):
    """Peak memory of one forward call on 16M elements; alloc is one array above the rest."""
    grad = False


@per_kernel("peakmem_", GRADIENTS)
class MemoryGradient(_Memory):
    """Peak memory of one gradient call on 16M elements; alloc is one array above the rest."""
    grad = True


@per_kernel("track_", FORWARD + GRADIENTS)
class Ratio:
    """``out=`` call time / ``np.copyto`` time for the same bytes (1.0 = memory speed).

    A forward call reads n elements and writes n, like ``np.copyto`` of n
    elements; a gradient reads 2n and writes n, like ``np.copyto`` of 1.5n.
    ``np.copyto`` runs on one thread whatever ``num_threads`` is, so with 2
    threads the ratio can fall below 1.
    """
    params = [DTYPES, [10_000, 1_000_000, 16_000_000], THREADS]
    param_names = ["dtype", "size", "num_threads"]
    unit = "ratio"
    repeat_calls = 7

    def setup(self, dtype, size, num_threads):
        self.operands = Operands(dtype, size, "out", grad=True)
        self.src = random_signs(dtype, size * 3 // 2, 2)
        self.dst = np.full_like(self.src, 0.5)
        self.num_threads = num_threads

    def run(self, name):
        call, a = KERNELS[name], self.operands
        if getattr(call, "grad", False):
            def memory():
                np.copyto(self.dst, self.src)
        else:
            def memory():
                np.copyto(a.out, a.x)
        ours, reference = best_times([lambda: call(a, self.num_threads), memory],
                                     self.repeat_calls)
        return ours / reference
