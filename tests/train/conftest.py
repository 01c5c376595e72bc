"""Run these small-model tests on one intra-op thread (restored afterwards).

Tiny convolutions and embedding steps are dominated by thread hand-off: on a shared 2-core machine,
two OpenMP threads made a (32, 24, 40) conv1d step ~10x slower than one.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
