"""Shared test helpers: the devices tests run on (cuda skips with a stated reason without a GPU), and
the one-thread fixture small-model test directories opt into."""

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


@pytest.fixture(autouse=True)
def one_intra_op_thread():
    """Run a test on one intra-op thread, restoring the count afterwards.

    Tiny convolutions and embedding steps are dominated by thread hand-off: on a shared 2-core
    machine two OpenMP threads made a (32, 24, 40) conv1d step ~10x slower than one. Directories
    of small-model tests opt in by importing this fixture into their conftest.py.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
