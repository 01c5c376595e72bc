"""Every lesson notebook runs top to bottom (reduced sizes from its own metadata), shows its plots, and is stored clean."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXECUTE = ROOT / "notebooks" / "execute.py"


def _runner():
    spec = importlib.util.spec_from_file_location("embedforge_notebooks_execute", EXECUTE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_one_notebook_per_lesson() -> None:
    names = [p.stem.split("_", 1)[1] for p in NOTEBOOKS]
    assert names == [
        "letters",
        "collaborative_filtering",
        "entity_embeddings",
        "sgd_and_character_models",
        "word_vectors_and_text_cnn",
        "embedding_layer",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs_and_has_quick_parameters(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), "strip the outputs"
    params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1
    quick = nb["metadata"]["embedforge"]["quick_parameters"]
    assert quick and all(f"{name} = " in "".join(params[0]["source"]) for name in quick)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path) -> None:
    for module in ("nbclient", "nbformat", "ipykernel", "matplotlib", "sklearn", "torchinfo"):
        pytest.importorskip(module, reason="executing the notebooks needs the notebooks extra")
    runner = _runner()
    nb = runner.execute(path, quick=True, timeout=300)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [
        o
        for o in outputs
        if o.output_type in ("display_data", "execute_result")
        and ("image/png" in o.get("data", {}) or "data:image/gif;base64" in o.get("data", {}).get("text/html", ""))
    ]
    assert images, "the notebook shows no plot inline"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    if path == NOTEBOOKS[0]:  # the HTML copy of one, as `make notebooks` writes them
        pytest.importorskip("nbconvert", reason="HTML copies need nbconvert (the notebooks extra)")
        page = runner.write_html(nb, tmp_path / "nb.html").read_text(encoding="utf-8")
        assert "data:image/png;base64" in page or "data:image/gif;base64" in page
