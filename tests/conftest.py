"""Shared fixtures: the kernel builds to test, and PyTorch as an optional reference."""
import numpy as np
import pytest

from leakyrelu import _dispatch

try:
    import torch
except ImportError:  # the parity tests skip without it
    torch = None

INSTRUCTION_SETS = _dispatch.supported_instruction_sets()
# (build, the build whose loops run its memory-bound kernels): every build
# with its own loops, and the AVX-512 build with the AVX2 build's loops, as
# it runs by default on CPUs that split 512-bit operations (AMD Zen 4).
BUILDS = [(isa, isa) for isa in INSTRUCTION_SETS]
if {"avx2", "avx512"} <= set(INSTRUCTION_SETS):
    BUILDS.append(("avx512", "avx2"))


@pytest.fixture(params=BUILDS, ids=lambda b: b[0] if b[0] == b[1] else f"{b[0]}+{b[1]}-loops")
def isa(request):
    """Run the test once on every kernel build this CPU supports."""
    build, loops = request.param
    previous = _dispatch.use(build)
    previous_loops = _dispatch.use_memory_bound_loops(loops)
    assert _dispatch.kernels.memory_bound_loops() == loops
    yield build
    _dispatch.use_memory_bound_loops(previous_loops)
    _dispatch.use(previous)


@pytest.fixture(params=[True, False], ids=["native-bf16", "integer-bf16"])
def bf16_rounding(request, isa):
    """Round to bfloat16 with the AVX512-BF16 instruction, then with integer
    operations, on the build `isa` chose; the first skips where it has none."""
    kernels = _dispatch.kernels
    if request.param and not kernels.NATIVE_BFLOAT16_AVAILABLE:
        pytest.skip(f"the {isa} kernels cannot use AVX512-BF16 on this CPU")
    previous = kernels.use_native_bfloat16(request.param)
    yield request.param
    kernels.use_native_bfloat16(previous)


@pytest.fixture
def torch_ref():
    """PyTorch, or skip when it is not installed."""
    if torch is None:
        pytest.skip("PyTorch is not installed")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_report_header(config):
    import leakyrelu
    return f"leakyrelu {leakyrelu.__version__} from {leakyrelu.__file__}; kernels: {INSTRUCTION_SETS}"


# Hypothesis: about 100 examples per property locally; under CI (CI=true) the
# "ci" profile runs more, a few thousand across test_properties.py in all.
# No deadline: the machines these run on are shared, and timing is not tested.
import os  # noqa: E402

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=250, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(
    "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "dev")
