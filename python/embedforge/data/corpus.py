"""Built-in corpus: docstrings of the running interpreter's standard library, extracted at run time.

Nothing is downloaded and nothing is committed as text: the standard-library sources that ship with
every Python are parsed with :mod:`ast` and their module, class and function docstrings are read in a
fixed order (sorted relative paths, then source order). The result depends only on the interpreter
version, so it is deterministic on a given machine. Results are cached in memory per process.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import sysconfig
from pathlib import Path
from typing import Iterator, Sequence

__all__ = [
    "stdlib_text",
    "stdlib_sentences",
    "stdlib_labelled_sentences",
    "stdlib_docstrings",
    "stdlib_source_files",
]

# Sub-trees that are tests, generated data, GUI demos or third-party installs: skipped so the corpus is
# prose written for readers and the full extraction stays fast (a few seconds).
_SKIP_DIRS = frozenset(
    {
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "site-packages",
        "dist-packages",
        "pydoc_data",
        "encodings",
        "ensurepip",
        "turtledemo",
        "tkinter",
        "__pycache__",
        "venv",
        "distutils",
        "multiprocessing",
        "html",
        "xml",
    }
)
_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_DOC_SEPARATOR = "\n\n"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z][a-z0-9_']*[a-z0-9]|[a-z]")


def _stdlib_root() -> Path:
    """Directory of the running interpreter's pure-Python standard library."""
    root = Path(sysconfig.get_paths()["stdlib"])
    if not (root / "os.py").is_file():  # pragma: no cover - exotic installs
        root = Path(os.__file__).resolve().parent
    return root


@functools.lru_cache(maxsize=1)
def stdlib_source_files() -> tuple[Path, ...]:
    """Standard-library ``.py`` files used for the corpus, sorted by relative path."""
    root = _stdlib_root()
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith((".", "test", "config-"))]
        files.extend(Path(dirpath) / f for f in filenames if f.endswith(".py") and not f.startswith("test"))
    files.sort(key=lambda p: p.relative_to(root).as_posix())
    if not files:
        raise RuntimeError(
            f"no standard-library sources found under {root}; this interpreter ships only compiled "
            "modules, so the built-in corpus is unavailable: pass your own text instead"
        )
    return tuple(files)


def _visit(body: list[ast.stmt], out: list[str]) -> None:
    """Collect docstrings of classes and functions in a statement list (never enters expressions)."""
    for node in body:
        if isinstance(node, _DEFS):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append(doc)
            _visit(node.body, out)
            continue
        for field in ("body", "orelse", "finalbody"):
            sub = getattr(node, field, None)
            if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                _visit(sub, out)
        for handler in getattr(node, "handlers", None) or ():
            _visit(handler.body, out)


@functools.lru_cache(maxsize=None)
def _file_docstrings(path: Path) -> tuple[str, ...]:
    """Docstrings of one source file in source order (empty when it does not parse)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return ()
    out: list[str] = []
    doc = ast.get_docstring(tree, clean=True)
    if doc:
        out.append(doc)
    _visit(tree.body, out)
    return tuple(d.strip() for d in out if d.strip())


def stdlib_docstrings() -> Iterator[str]:
    """Yield every standard-library docstring in the corpus order (lazy: parses files on demand)."""
    for path in stdlib_source_files():
        yield from _file_docstrings(path)


def stdlib_text(max_chars: int | None = None) -> str:
    """Return the standard-library docstrings joined by blank lines, cut to ``max_chars`` if given.

    Example::

        >>> text = stdlib_text(max_chars=1000)
        >>> len(text) <= 1000
        True
    """
    if max_chars is not None:
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 0:
            raise ValueError(f"max_chars must be a non-negative int or None, got {max_chars!r}")
        if max_chars == 0:
            return ""
        return _text_prefix(max_chars)
    return _full_text()


@functools.lru_cache(maxsize=1)
def _full_text() -> str:
    """The whole corpus as one string (cached)."""
    return _DOC_SEPARATOR.join(stdlib_docstrings())


@functools.lru_cache(maxsize=16)
def _text_prefix(max_chars: int) -> str:
    """The first ``max_chars`` characters of the corpus, parsing only the files needed."""
    if _full_text.cache_info().currsize:
        return _full_text()[:max_chars]
    parts: list[str] = []
    total = 0
    for doc in stdlib_docstrings():
        if parts:
            parts.append(_DOC_SEPARATOR)
            total += len(_DOC_SEPARATOR)
        parts.append(doc)
        total += len(doc)
        if total >= max_chars:
            break
    return "".join(parts)[:max_chars]


def _sentences_of(doc: str) -> Iterator[list[str]]:
    """Split one docstring into lower-cased word-token sentences (paragraph lines joined first)."""
    for paragraph in re.split(r"\n\s*\n", doc):
        flat = " ".join(line.strip() for line in paragraph.splitlines())
        for sentence in _SENTENCE_END.split(flat):
            tokens = _WORD.findall(sentence.lower())
            if len(tokens) >= 2:
                yield tokens


def stdlib_sentences(max_sentences: int | None = None) -> list[list[str]]:
    """Return docstring sentences as lists of lower-cased word tokens (sentences of >= 2 words).

    Example::

        >>> sents = stdlib_sentences(max_sentences=10)
        >>> len(sents) == 10 and all(isinstance(w, str) for s in sents for w in s)
        True
    """
    if max_sentences is not None:
        if isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or max_sentences < 0:
            raise ValueError(f"max_sentences must be a non-negative int or None, got {max_sentences!r}")
    if max_sentences is None:
        return [list(tokens) for tokens in _all_sentences()]
    out: list[list[str]] = []
    if max_sentences == 0:
        return out
    for doc in stdlib_docstrings():
        for tokens in _sentences_of(doc):
            out.append(tokens)
            if len(out) >= max_sentences:
                return out
    return out


@functools.lru_cache(maxsize=1)
def _all_sentences() -> tuple[tuple[str, ...], ...]:
    """Every corpus sentence as immutable token tuples (cached; callers get fresh lists)."""
    return tuple(tuple(t) for doc in stdlib_docstrings() for t in _sentences_of(doc))


def _group_of(path: Path) -> str:
    """Top-level module or package name of a standard-library file (``email/utils.py`` -> ``email``)."""
    rel = path.relative_to(_stdlib_root()).parts
    return rel[0] if len(rel) > 1 else rel[0][: -len(".py")]


def stdlib_labelled_sentences(
    groups: Sequence[str] | None = None, max_per_group: int | None = None
) -> tuple[list[list[str]], list[str]]:
    """Docstring sentences labelled by the top-level module/package they come from (for classifiers).

    ``groups`` picks which top-level names to keep (all when None); ``max_per_group`` caps each group,
    keeping its first sentences. Unknown group names raise ``KeyError`` listing a few valid ones.

    Example::

        >>> sents, labels = stdlib_labelled_sentences(["json", "logging"], max_per_group=5)
        >>> sorted(set(labels)), len(sents)
        (['json', 'logging'], 10)
    """
    if max_per_group is not None and max_per_group < 1:
        raise ValueError(f"max_per_group must be >= 1 or None, got {max_per_group}")
    files = stdlib_source_files()
    available = sorted({_group_of(p) for p in files})
    wanted = set(available) if groups is None else set(groups)
    missing = sorted(wanted - set(available))
    if missing:
        raise KeyError(f"no standard-library module or package named {missing}; e.g. {available[:8]}")
    sentences: list[list[str]] = []
    labels: list[str] = []
    counts: dict[str, int] = {}
    for path in files:
        group = _group_of(path)
        if group not in wanted:
            continue
        for doc in _file_docstrings(path):
            for tokens in _sentences_of(doc):
                if max_per_group is not None and counts.get(group, 0) >= max_per_group:
                    break
                sentences.append(tokens)
                labels.append(group)
                counts[group] = counts.get(group, 0) + 1
    return sentences, labels
