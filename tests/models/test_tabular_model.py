"""Entity embeddings: the tabular model recovers a planted day-of-week effect; bad tables are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from embedforge.data import DAYS, TabularDataset, TabularProcessor, random_split, synthetic_store_sales, tensor_loader
from embedforge.models import TabularConfig, TabularModel, default_embedding_size, partial_dependence
from embedforge.train import Trainer

CATS = ["store", "day_of_week", "promo", "month"]
CONTS = ["temperature"]


def test_tabular_model_recovers_planted_day_of_week_ordering():
    df, effect = synthetic_store_sales(n_rows=2000, seed=0)
    tr, va = random_split(len(df), (0.8, 0.2), seed=0)
    train = TabularDataset.from_dataframe(df.iloc[tr], CATS, CONTS, "log_sales")
    val = TabularDataset.from_dataframe(df.iloc[va], CATS, CONTS, "log_sales", processor=train.processor)
    torch.manual_seed(0)
    y_range = (float(train.target.min()) - 0.3, float(train.target.max()) + 0.3)
    model = TabularModel(
        TabularConfig(train.processor.cardinalities, n_cont=1, hidden=(32,), dropout=0.0, y_range=y_range)
    )
    trainer = Trainer(model, torch.nn.functional.mse_loss, torch.optim.Adam(model.parameters(), lr=0.03))
    trainer.fit(tensor_loader(train.cats, train.conts, train.target, batch_size=256, shuffle=True), epochs=6)
    codes = [train.processor.category_code("day_of_week", d) for d in DAYS]
    learned = partial_dependence(model, val.cats, val.conts, CATS.index("day_of_week"), codes)
    planted = np.array([effect[d] for d in DAYS])
    assert list(np.argsort(learned)) == list(np.argsort(planted)), (learned, planted)
    # the effect sizes (relative to Monday) come back within 0.1 log-sales units
    np.testing.assert_allclose(learned - learned[0], planted - planted[0], atol=0.1)


def test_default_embedding_size_rule_and_override():
    assert [default_embedding_size(c) for c in (1, 2, 8, 31, 1000)] == [1, 1, 4, 16, 50]
    cfg = TabularConfig(cardinalities=[8, 31], n_cont=0, emb_sizes=[3, 5], hidden=(4,))
    model = TabularModel(cfg)
    assert [e.embedding_dim for e in model.embeddings] == [3, 5]
    assert model(torch.tensor([[1, 2], [3, 4]])).shape == (2,)
    with pytest.raises(ValueError, match="emb_sizes has 1 entries for 2"):
        TabularModel(TabularConfig(cardinalities=[8, 31], emb_sizes=[3]))
    with pytest.raises(ValueError, match=r"shape \(B, 2\)"):
        model(torch.tensor([1, 2]))


def test_processor_maps_unseen_categories_to_zero_and_normalises():
    df = pd.DataFrame({"day": ["Mon", "Tue", "Mon"], "temp": [10.0, 20.0, 30.0], "y": [1.0, 2.0, 3.0]})
    proc = TabularProcessor(["day"], ["temp"], "y").fit(df)
    cats, conts, target = proc.transform(pd.DataFrame({"day": ["Tue", "Sun"], "temp": [20.0, 30.0], "y": [0.0, 0.0]}))
    assert cats[:, 0].tolist() == [2, 0]
    assert conts[:, 0].tolist() == pytest.approx([0.0, 10.0 / np.std([10.0, 20.0, 30.0])])
    assert target.tolist() == [0.0, 0.0]
    with pytest.raises(KeyError, match="not seen in column 'day'"):
        proc.category_code("day", "Sun")


def test_mismatched_and_empty_tables_raise():
    df = pd.DataFrame({"day": ["Mon"], "temp": [1.0], "y": [1.0]})
    with pytest.raises(KeyError, match=r"categorical column\(s\) \['weekday'\] not in the table; available columns"):
        TabularDataset.from_dataframe(df, ["weekday"], ["temp"], "y")
    with pytest.raises(KeyError, match="target column 'sales'"):
        TabularDataset.from_dataframe(df, ["day"], ["temp"], "sales")
    with pytest.raises(ValueError, match="empty"):
        TabularProcessor(["day"], ["temp"], "y").fit(df.iloc[:0])
    with pytest.raises(ValueError, match="both categorical and continuous"):
        TabularProcessor(["day"], ["day"], "y").fit(df)
    with pytest.raises(ValueError, match="not fitted"):
        TabularProcessor(["day"], [], "y").transform(df)
