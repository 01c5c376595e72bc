"""Model summaries: layer, output shape and parameter count of every model in embedforge.models (torchinfo).

Each model is summarised twice: as built (embedforge's Embedding / EmbeddingBag inside) and with those
tables swapped for torch's own modules; the two tables must list the same rows, shapes and counts.
Needs torchinfo: ``pip install 'embedforge[summary]'``.

    python examples/model_summaries.py
    python examples/model_summaries.py --model TextCNN
"""

from __future__ import annotations

import argparse
from typing import Sequence

from embedforge.models.summary import MODEL_ZOO, summary, summary_rows, with_torch_modules, zoo

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> dict:
    """Print each model's summary and whether the torch-module twin's summary matches it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=MODEL_ZOO, help="only these models (repeatable)")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--quiet", action="store_true", help="print only the comparison lines")
    args = parser.parse_args(argv)

    results = {}
    for name in args.model or MODEL_ZOO:
        model, inputs = zoo(name)
        ours = summary(model, *inputs, depth=args.depth)
        theirs = summary(with_torch_modules(model), *inputs, depth=args.depth)
        same = summary_rows(ours) == summary_rows(theirs) and ours.total_params == theirs.total_params
        if not args.quiet:
            print(f"\n{name}\n{ours}")
        print(
            f"{name}: {ours.total_params:,} parameters, {len(ours.summary_list)} rows; "
            f"same rows and counts with torch's modules: {same}"
        )
        results[name] = {"rows": summary_rows(ours), "total_params": int(ours.total_params), "same_as_torch": same}
    return results


if __name__ == "__main__":
    main()
