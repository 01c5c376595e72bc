"""Model summaries through torchinfo: every model, and embedforge's tables listed as torch's modules are."""

from __future__ import annotations

import inspect
import sys

import embedforge.models as models
import pytest
import torch
from embedforge.models.summary import MODEL_ZOO, summary, summary_rows, with_torch_modules, zoo

torchinfo = pytest.importorskip("torchinfo", reason="model summaries need torchinfo (the summary extra)")


def test_the_zoo_covers_every_model_class() -> None:
    classes = {
        name
        for name in models.__all__
        if inspect.isclass(getattr(models, name)) and issubclass(getattr(models, name), torch.nn.Module)
    }
    classes.discard("CharLM")  # the abstract base of the character models
    assert classes == set(MODEL_ZOO)


@pytest.mark.parametrize("name", MODEL_ZOO)
def test_summary_rows_match_the_torch_twin(name: str) -> None:
    model, inputs = zoo(name)
    twin = with_torch_modules(model)
    kinds = {type(m).__module__.split(".")[0] for m in twin.modules() if m is not twin}
    assert "embedforge" not in kinds  # every embedforge table was replaced
    model.eval(), twin.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(*inputs), twin(*inputs))
    ours, theirs = summary(model, *inputs), summary(twin, *inputs)
    assert summary_rows(ours) == summary_rows(theirs)
    assert ours.total_params == theirs.total_params == sum(p.numel() for p in model.parameters())
    assert ours.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    tables = [r for r in summary_rows(ours) if r[0] in ("Embedding", "EmbeddingBag")]
    assert tables and all(r[3] > 0 for r in tables)  # the tables are listed with their parameters
    assert "Total params" in str(ours)


def test_frozen_pretrained_table_counts_as_non_trainable() -> None:
    from embedforge import nn as enn

    table = enn.Embedding.from_pretrained(torch.randn(50, 6), freeze=True)
    model = models.TextCNN(50, 6, 2, widths=(2,), n_filters=3, hidden=4, embedding=table)
    x = torch.randint(2, 50, (2, 5))
    ours, theirs = summary(model, x), summary(with_torch_modules(model), x)
    assert ours.trainable_params == theirs.trainable_params == ours.total_params - 300


def test_missing_torchinfo_names_the_extra(monkeypatch) -> None:
    model, inputs = zoo("TextCNN")
    monkeypatch.setitem(sys.modules, "torchinfo", None)
    with pytest.raises(ImportError, match=r"embedforge\[summary\]"):
        summary(model, *inputs)


def test_unknown_zoo_name_raises() -> None:
    with pytest.raises(KeyError, match="is not one of"):
        zoo("Transformer")
