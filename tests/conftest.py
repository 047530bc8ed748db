"""Shared fixtures: the kernel builds to test, and PyTorch as an optional reference."""
import numpy as np
import pytest

from leakyrelu import _dispatch

try:
    import torch
except ImportError:  # the parity tests skip without it
    torch = None

INSTRUCTION_SETS = _dispatch.supported_instruction_sets()


@pytest.fixture(params=INSTRUCTION_SETS)
def isa(request):
    """Run the test once on every kernel build this CPU supports."""
    previous = _dispatch.use(request.param)
    yield request.param
    _dispatch.use(previous)


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
