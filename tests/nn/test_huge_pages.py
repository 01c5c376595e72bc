"""Tables on transparent huge pages: advising must never change contents or aliasing."""

import re
import sys

import embedforge
import pytest
import torch
from embedforge import _huge_pages


def _thp_mode() -> str:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return re.search(r"\[(\w+)\]", f.read()).group(1)
    except OSError:
        return "unavailable"


def _anon_huge_kb(address: int) -> int:
    """AnonHugePages of the mapping holding `address` (Linux smaps)."""
    current = None
    with open("/proc/self/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                current = (int(m.group(1), 16), int(m.group(2), 16))
            elif line.startswith("AnonHugePages:") and current and current[0] <= address < current[1]:
                return int(line.split()[1])
    return 0


def test_advise_keeps_contents_and_address():
    t = torch.randn(3_000_000, 4)  # 48 MB
    before, ptr = t.clone(), t.data_ptr()
    view = t[10]
    _huge_pages.advise(t)
    assert t.data_ptr() == ptr and torch.equal(t, before)
    view += 1  # still an alias of the advised table
    assert torch.equal(t[10], before[10] + 1)


def test_advise_leaves_small_strided_and_disabled_alone(monkeypatch):
    assert _huge_pages.advise(torch.randn(1000, 16)) == 0  # under 8 MiB
    big = torch.randn(4_000_000, 4)
    assert _huge_pages.advise(big.t()) == 0  # not contiguous
    monkeypatch.setenv("EMBEDFORGE_HUGE_PAGES", "0")
    assert _huge_pages.advise(big) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are a Linux feature")
def test_module_table_and_state_land_on_huge_pages():
    if _thp_mode() not in ("always", "madvise"):
        pytest.skip(f"transparent huge pages are '{_thp_mode()}' on this machine")
    bag = embedforge.nn.EmbeddingBag(2_000_000, 16, mode="sum", optimizer=embedforge.optim.Adagrad(lr=0.1))
    state = bag.optimizer_state.state()["state_sum"]
    if _huge_pages.advise(bag.weight.detach()) == 0:
        pytest.skip("the kernel had no free huge pages to collapse this table onto")
    assert _anon_huge_kb(bag.weight.data_ptr() + (8 << 20)) > 0
    assert _anon_huge_kb(state.data_ptr() + (8 << 20)) > 0
    assert torch.count_nonzero(state) == 0
    # It still trains: one fused step changes exactly the touched rows.
    w0 = bag.weight.detach().clone()
    ids = torch.tensor([5, 1_999_999, 5])
    bag(ids, torch.tensor([0, 2])).sum().backward()
    changed = (bag.weight.detach() != w0).any(dim=1).nonzero().flatten().tolist()
    assert changed == [5, 1_999_999]
