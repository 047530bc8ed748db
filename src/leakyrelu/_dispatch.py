"""Choose, at import, the kernel build that suits this CPU.

The kernels are compiled once per instruction set (see ``setup.py``). The
best one the CPU runs is used, unless ``LEAKYRELU_CPU`` names another. On a
CPU that runs 512-bit operations as two halves (AMD Zen 4) the AVX-512
build runs its memory-bound kernels with the AVX2 build's loops, unless
``LEAKYRELU_MEMORY_BOUND_CPU`` names another build.
"""
import importlib
import os
import platform

import numpy as np

INSTRUCTION_SETS = ("baseline", "avx2", "avx512")

# NumPy's runtime CPU detection names the features each build needs.
_REQUIRED_FEATURES = {
    "baseline": (),
    "avx2": ("AVX2", "FMA3", "F16C"),
    "avx512": ("AVX512F", "AVX512DQ", "AVX512BW", "AVX512VL", "AVX2", "FMA3", "F16C"),
}


def _cpu_features():
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # pragma: no cover - NumPy moved it
        return {}
    return __cpu_features__


def supported_instruction_sets():
    """The kernel builds that are installed and that this CPU can run, best last."""
    features = _cpu_features()
    x86 = platform.machine().lower() in ("x86_64", "amd64", "x64")
    found = []
    for isa in INSTRUCTION_SETS:
        if isa != "baseline" and not x86:
            continue
        if not all(features.get(f, False) for f in _REQUIRED_FEATURES[isa]):
            continue
        try:
            importlib.import_module(f"leakyrelu._kernels_{isa}")
        except ImportError:
            continue
        found.append(isa)
    return found


def load(isa):
    """Import the kernel build for ``isa``, refusing one this CPU cannot run."""
    if isa not in INSTRUCTION_SETS:
        raise ValueError(f"unknown instruction set {isa!r}; choose from {INSTRUCTION_SETS}")
    if isa not in supported_instruction_sets():
        raise RuntimeError(f"the {isa!r} kernels are not available on this CPU or in this build")
    return importlib.import_module(f"leakyrelu._kernels_{isa}")


def _initial():
    available = supported_instruction_sets()
    forced = os.environ.get("LEAKYRELU_CPU", "").strip().lower()
    if forced:
        try:
            chosen = load(forced)
        except (ValueError, RuntimeError) as exc:
            raise ImportError(f"LEAKYRELU_CPU={forced!r}: {exc}") from None
    else:
        # The baseline runs anywhere: if it is not available, importing it
        # raises the reason (a missing file, an undefined symbol).
        chosen = importlib.import_module(f"leakyrelu._kernels_{(available or ['baseline'])[-1]}")
    lender = os.environ.get("LEAKYRELU_MEMORY_BOUND_CPU", "").strip().lower()
    if not lender:
        # 256-bit loops run the memory-bound kernels 9-20% faster in the L3
        # on Zen 4 (docs/performance.md); the exp family keeps 512 bits.
        split = chosen.INSTRUCTION_SET == "avx512" and chosen.SPLITS_512BIT
        lender = "avx2" if split and "avx2" in available else None
    try:
        _borrow(chosen, lender)
    except (ValueError, RuntimeError) as exc:
        raise ImportError(f"LEAKYRELU_MEMORY_BOUND_CPU={lender!r}: {exc}") from None
    return chosen


def _borrow(module, isa):
    module.borrow_row_loops(None if isa is None else load(isa).row_loops())


def use(isa):
    """Switch every public function to the ``isa`` kernels; return the previous name.

    One reference is swapped, and every call reads it once, so a call never
    mixes two builds; calls already running finish on the build they began with.
    """
    global kernels
    previous = kernels.INSTRUCTION_SET
    kernels = load(isa)
    return previous


def use_memory_bound_loops(isa):
    """Run the memory-bound kernels of the build in use with the ``isa`` build's loops.

    ``None`` gives the build its own loops back. Returns the previous name.
    The results are the same bits: those kernels round nothing that depends
    on the instruction set.
    """
    previous = kernels.memory_bound_loops()
    _borrow(kernels, isa)
    return previous


#: The kernel module every public function calls: its explicit tables are
#: ``KERNELS`` (elementwise kernel names, by id) and ``LOOPS`` (the general
#: strided loop per storage dtype), beside prelu_grad's general ``prelu_grad_any``
#: and the fast entry points ``fast_unary``, ``fast_binary``, ``fast_prelu`` and
#: ``fast_prelu_grad``.
kernels = _initial()
