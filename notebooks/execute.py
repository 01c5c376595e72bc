"""Execute the lesson notebooks (nbclient) and write HTML copies (nbconvert); used by `make notebooks` and the tests.

    python notebooks/execute.py --out out/notebooks            # every notebook, full size
    python notebooks/execute.py --quick 01_letters.ipynb       # reduced sizes, no HTML

The notebooks are kept without outputs. Each has a cell tagged ``parameters``; ``--quick`` (and the
tests) inject the reduced sizes stored in the notebook's metadata (``embedforge.quick_parameters``)
in a cell right after it, as papermill does. Needs the notebooks extra:
``pip install 'embedforge[notebooks]'``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["NOTEBOOKS_DIR", "notebooks", "quick_parameters", "execute", "write_html", "main"]

NOTEBOOKS_DIR = Path(__file__).resolve().parent


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"executing notebooks needs {module.split('.')[0]}, which is not installed: "
            "pip install 'embedforge[notebooks]'"
        ) from exc


def notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The lesson notebooks, in order."""
    return sorted(directory.glob("[0-9][0-9]_*.ipynb"))


def quick_parameters(nb: Any) -> dict[str, Any]:
    """The reduced sizes a notebook declares for quick runs."""
    return dict(nb.metadata.get("embedforge", {}).get("quick_parameters", {}))


def _inject(nb: Any, params: Mapping[str, Any]) -> None:
    nbformat = _need("nbformat")
    where = next((k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), None)
    if where is None:
        raise ValueError("the notebook has no cell tagged 'parameters' to override")
    cell = nbformat.v4.new_code_cell("# injected parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(where + 1, cell)


def execute(path: str | Path, params: Mapping[str, Any] | None = None, quick: bool = False, timeout: int = 600) -> Any:
    """Run a notebook top to bottom in a fresh python3 kernel (working directory: its folder); returns it with outputs.

    ``quick`` injects the notebook's own reduced sizes; ``params`` (applied after them) override any
    name of the parameters cell. A failing cell raises ``nbclient.exceptions.CellExecutionError``.
    """
    nbformat = _need("nbformat")
    nbclient = _need("nbclient")
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    values = {**(quick_parameters(nb) if quick else {}), **(params or {})}
    if values:
        _inject(nb, values)
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return nb


def write_html(nb: Any, target: str | Path) -> Path:
    """Write an executed notebook as one self-contained HTML page (images embedded)."""
    nbconvert = _need("nbconvert")
    body, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(target)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Execute the given notebooks (default: all), print each one's run time, write HTML copies into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: every lesson notebook)")
    parser.add_argument("--out", default=None, help="folder for the HTML copies (none written without it)")
    parser.add_argument("--quick", action="store_true", help="the reduced sizes each notebook declares")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = [NOTEBOOKS_DIR / n for n in args.names] if args.names else notebooks()
    for path in paths:
        start = time.perf_counter()
        nb = execute(path, quick=args.quick, timeout=args.timeout)
        line = f"{path.name}: ran in {time.perf_counter() - start:.1f} s"
        if args.out:
            line += f", wrote {write_html(nb, Path(args.out) / path.with_suffix('.html').name)}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
