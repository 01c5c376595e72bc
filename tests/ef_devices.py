"""The devices tests run on: cpu always, cuda marked so it skips with a stated reason without a GPU."""

import pytest
import torch

CUDA_REASON = "no CUDA device on this machine (CUDA kernels are compiled by `make cuda-check`, run where a GPU exists)"


def device_params():
    """Pytest params for every device: cpu, and cuda (skipped with a reason when no GPU is present)."""
    return [
        pytest.param("cpu", id="cpu"),
        pytest.param(
            "cuda",
            id="cuda",
            marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_REASON)],
        ),
    ]
