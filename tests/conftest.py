"""Shared test fixtures: the devices to run on (CUDA cases skip with a reason without a GPU)."""

import pytest
import torch

CUDA_REASON = "no CUDA device on this machine (CUDA kernels are compiled by `make cuda-check`, run where a GPU exists)"


def device_params():
    """cpu always; cuda marked so it skips with a reason when no GPU is present."""
    return [
        pytest.param("cpu", id="cpu"),
        pytest.param(
            "cuda",
            id="cuda",
            marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_REASON)],
        ),
    ]


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: runs a CUDA kernel (skips without a GPU)")
