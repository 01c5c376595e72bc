"""The `embedforge` command line (also `python -m embedforge`): train, query, evaluate, convert, plot, demo.

Every command has `--help`. Bad arguments, missing files and unknown words exit with status 2 and a
one-line message on stderr; results go to stdout, progress to stderr; output files are written to a
temporary file and renamed, so they are never half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

__all__ = ["main", "build_parser", "CLIError", "FORMAT_SUFFIXES"]

PROG = "embedforge"
BUILTIN_CORPUS = "@stdlib"

#: Output format implied by a file suffix (compression suffixes .gz/.bz2/.xz are looked through).
FORMAT_SUFFIXES = {
    ".txt": "word2vec",
    ".w2v": "word2vec",
    ".bin": "word2vec-binary",
    ".vec": "fasttext",
    ".glove": "glove",
    ".efv": "native",
}
_FORMATS = ("word2vec", "word2vec-binary", "glove", "fasttext", "native")
_INPUT_FORMATS = _FORMATS + ("fasttext-bin",)  # Facebook fastText .bin models are read, not written
_COMMANDS = ("train", "neighbors", "analogy", "evaluate", "convert", "plot", "info", "bench", "demo")


class CLIError(Exception):
    """A problem the user can fix (bad argument, missing file, unknown word): one line, exit status 2."""

    def __init__(self, message: str, code: int = 2) -> None:
        """Keep the message (first line of it) and the exit status."""
        super().__init__(message)
        self.code = code


def _one_line(exc: BaseException | str) -> str:
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc)
    parts = [p.strip() for p in text.splitlines() if p.strip()]
    return "; ".join(parts) or type(exc).__name__


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage dump) and raise CLIError instead of exiting."""

    def error(self, message: str) -> NoReturn:
        """Raise CLIError naming this (sub)command and pointing at its --help."""
        raise CLIError(f"{self.prog}: error: {message} (see `{self.prog} --help`)")


# ------------------------------------------------------------------------------------------------ helpers
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def _existing_file(path: str, what: str = "file") -> Path:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"no such {what}: {path}")
    if p.is_dir():
        raise CLIError(f"{path} is a directory, expected a {what}")
    if not os.access(p, os.R_OK):
        raise CLIError(f"cannot read {path}: permission denied")
    return p


def format_for(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """The vectors format to write `path` in: `explicit` when given, else from its suffix, else word2vec text."""
    if explicit:
        return explicit
    suffixes = [s.lower() for s in Path(path).suffixes]
    while suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes.pop()
    return FORMAT_SUFFIXES.get(suffixes[-1], "word2vec") if suffixes else "word2vec"


def _load_vectors(path: str, fmt: str | None) -> Any:
    from .vectors import load

    _existing_file(path, "vectors file")
    try:
        return load(path, format=fmt)
    except (ValueError, UnicodeDecodeError, EOFError, OSError, NotImplementedError) as exc:
        raise CLIError(f"cannot read vectors from {path}: {_one_line(exc)}") from exc


def _save_vectors(kv: Any, path: str, fmt: str) -> None:
    from .vectors import save

    parent = Path(path).parent
    if not parent.is_dir():
        raise CLIError(f"cannot write {path}: no such directory {parent}")
    try:
        save(kv, path, format=fmt)
    except ValueError as exc:
        raise CLIError(f"cannot write {path} as {fmt}: {_one_line(exc)}") from exc


def _check_words(kv: Any, words: Sequence[str], source: str) -> None:
    for w in words:
        if w not in kv:
            raise CLIError(f"{w!r} is not in the vocabulary of {source} ({len(kv)} words)")


def _write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    from .viz._common import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _info(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ commands
def cmd_train(args: argparse.Namespace) -> int:
    """Train word2vec or fastText vectors on a corpus file (one sentence per line) or the built-in corpus."""
    corpus = args.corpus if args.corpus == BUILTIN_CORPUS else str(_existing_file(args.corpus, "corpus file"))
    fmt = format_for(args.output, args.to)
    if not Path(args.output).parent.is_dir():
        raise CLIError(f"cannot write {args.output}: no such directory {Path(args.output).parent}")
    if args.save_model and not Path(args.save_model).parent.is_dir():
        raise CLIError(f"cannot write {args.save_model}: no such directory {Path(args.save_model).parent}")
    if args.model == "fasttext" and args.min_n > args.max_n:
        raise CLIError(f"{PROG} train: error: --min-n {args.min_n} is larger than --max-n {args.max_n}")
    from . import word2vec as w2v

    params: dict[str, Any] = dict(
        vector_size=args.vector_size,
        window=args.window,
        min_count=args.min_count,
        sg=1 if args.sg else 0,
        hs=1 if args.hs else 0,
        negative=args.negative,
        sample=args.sample,
        epochs=args.epochs,
        seed=args.seed,
        progress=not args.no_progress,
    )
    if args.workers is not None:
        params["workers"] = args.workers
    if args.model == "fasttext":
        params.update(min_n=args.min_n, max_n=args.max_n, bucket=args.bucket)
    if corpus == BUILTIN_CORPUS:
        from .data.corpus import stdlib_sentences

        _info("building the built-in corpus (Python standard library docstrings)...")
        params["sentences"] = stdlib_sentences()
    else:
        params["corpus_file"] = corpus
    cls = w2v.FastText if args.model == "fasttext" else w2v.Word2Vec
    if args.nproc > 1:
        return _train_distributed(args, cls, params, fmt)
    try:
        model = cls(**params)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{PROG} train: error: {_one_line(exc)}") from exc
    kv = model.wv
    if len(kv) == 0:
        raise CLIError(f"no word occurs at least {args.min_count} times in {args.corpus}; lower --min-count")
    _save_vectors(kv, args.output, fmt)
    if args.save_model:
        try:
            model.save(args.save_model)
        except BaseException:
            Path(args.output).unlink(missing_ok=True)  # a failed command leaves no output behind
            raise
    _info(f"wrote {len(kv)} vectors of dimension {kv.vector_size} to {args.output} ({fmt})")
    return 0


def _train_rank(rank: int, world: int, cls: Any, params: dict, output: str, fmt: str, save_model: Any) -> tuple:
    """One rank of `train --nproc N`: trains data-parallel; rank 0 writes the vectors (and model)."""
    model = cls(**params, distributed=True)
    kv = model.wv
    if rank == 0 and len(kv):
        _save_vectors(kv, output, fmt)
        if save_model:
            model.save(save_model)
    return len(kv), kv.vector_size


def _train_distributed(args: argparse.Namespace, cls: Any, params: dict, fmt: str) -> int:
    """`train --nproc N`: N local ranks (embedforge.distributed.spawn, gloo on 127.0.0.1)."""
    import os

    from .distributed import SpawnError, spawn

    if args.workers is None:
        params["workers"] = max(1, (os.cpu_count() or 1) // args.nproc)
    _info(f"training on {args.nproc} ranks x {params['workers']} threads")
    try:
        n, dim = spawn(
            _train_rank, args.nproc, args=(cls, params, args.output, fmt, args.save_model), timeout=args.timeout
        )[0]
    except SpawnError as exc:
        Path(args.output).unlink(missing_ok=True)  # a failed command leaves no output behind
        raise CLIError(f"{PROG} train: error: {str(exc).splitlines()[0]}") from exc
    if n == 0:
        raise CLIError(f"no word occurs at least {args.min_count} times in {args.corpus}; lower --min-count")
    _info(f"wrote {n} vectors of dimension {dim} to {args.output} ({fmt})")
    return 0


def cmd_neighbors(args: argparse.Namespace) -> int:
    """Print the nearest neighbours (cosine) of each word."""
    from .viz.plots import neighbor_table

    kv = _load_vectors(args.vectors, args.format)
    _check_words(kv, args.words, args.vectors)
    print(neighbor_table(kv, args.words, topn=args.topn, fmt="markdown" if args.markdown else "text"))
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    """Print the words nearest to A − B + C (e.g. king man woman → queen)."""
    kv = _load_vectors(args.vectors, args.format)
    _check_words(kv, [args.a, args.b, args.c], args.vectors)
    result = kv.most_similar(positive=[args.a, args.c], negative=[args.b], topn=args.topn)
    print(f"{args.a} - {args.b} + {args.c}:")
    width = max((len(w) for w, _ in result), default=0)
    for w, s in result:
        print(f"  {w.ljust(width)}  {s:.4f}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score vectors on an analogy file (questions-words format) and/or a word-pair similarity file."""
    if not args.analogies and not args.pairs:
        raise CLIError(f"{PROG} evaluate: error: give --analogies FILE and/or --pairs FILE")
    for path in (args.analogies, args.pairs):
        if path:
            _existing_file(path)
    kv = _load_vectors(args.vectors, args.format)
    report: dict[str, Any] = {"vectors": args.vectors, "words": len(kv)}
    try:
        if args.analogies:
            acc, sections = kv.evaluate_word_analogies(args.analogies, restrict_vocab=args.restrict_vocab)
            total = sections[-1] if sections else {"correct": [], "incorrect": []}
            n_ok, n_bad = len(total["correct"]), len(total["incorrect"])
            report["analogies"] = {
                "file": args.analogies,
                "accuracy": acc,
                "correct": n_ok,
                "questions": n_ok + n_bad,
                "sections": {
                    s["section"]: [len(s["correct"]), len(s["correct"]) + len(s["incorrect"])] for s in sections[:-1]
                },
            }
            print(f"analogies  {args.analogies}: accuracy {acc:.4f} ({n_ok}/{n_ok + n_bad} answered questions)")
            for name, (ok, n) in report["analogies"]["sections"].items():
                if n:  # sections whose questions all have unknown words are left out
                    print(f"  {name}: {ok}/{n}")
        if args.pairs:
            (pr, pp), (sr, sp), oov = kv.evaluate_word_pairs(
                args.pairs, restrict_vocab=args.restrict_vocab, delimiter=args.delimiter
            )
            report["pairs"] = {
                "file": args.pairs,
                "pearson": pr,
                "pearson_p": pp,
                "spearman": sr,
                "spearman_p": sp,
                "oov_percent": oov,
            }
            print(
                f"word pairs {args.pairs}: spearman {sr:.4f} (p={sp:.2g}), pearson {pr:.4f} (p={pp:.2g}), "
                f"OOV {oov:.1f}%"
            )
    except ValueError as exc:
        raise CLIError(f"{PROG} evaluate: error: {_one_line(exc)}") from exc
    if args.json:
        _write_text_atomic(args.json, json.dumps(report, indent=2, default=float) + "\n")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert vectors between formats (word2vec text/binary, GloVe, fastText .vec, native)."""
    kv = _load_vectors(args.input, args.source_format)
    fmt = format_for(args.output, args.to)
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise CLIError(f"{PROG} convert: error: output {args.output} is the input file")
    _save_vectors(kv, args.output, fmt)
    _info(f"wrote {len(kv)} vectors to {args.output} ({fmt})")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Plot vectors to a PNG/SVG/PDF map, an interactive HTML page, or a TensorBoard projector folder."""
    kv = _load_vectors(args.vectors, args.format)
    if args.words:
        _check_words(kv, args.words, args.vectors)
        kv = kv.subset(args.words)
    elif args.limit and len(kv) > args.limit:
        kv = kv.subset(list(kv.index_to_key[: args.limit]))
    out = args.output
    suffix = Path(out).suffix.lower()
    if not args.projector and suffix not in (".png", ".svg", ".pdf", ".html", ".htm"):
        raise CLIError(
            f"{PROG} plot: error: cannot tell what to write from {out!r}: use a .png, .svg, .pdf or "
            ".html name, or --projector DIR"
        )
    if len(kv) < (4 if args.method == "tsne" else 2):
        raise CLIError(f"{PROG} plot: error: {len(kv)} vector(s) are too few to plot with {args.method}")
    try:
        if args.projector:
            from .viz import export_projector

            export_projector(kv, out)
        elif suffix in (".html", ".htm"):
            from .viz import to_html

            to_html(kv, out, method=args.method, title=args.title or f"{Path(args.vectors).name}")
        else:
            from .viz import scatter

            scatter(
                kv,
                method=args.method,
                dims=args.dims,
                max_labels=args.labels,
                title=args.title,
                path=out,
                figsize=(args.width / args.dpi, args.height / args.dpi),
                dpi=args.dpi,
            )
    except ImportError as exc:
        raise CLIError(f"{PROG} plot: error: {_one_line(exc)}") from exc
    _info(f"wrote {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Print what embedforge was built against, what it runs on, and which optional extras are installed."""
    import importlib.util

    import embedforge

    from . import _native, _w2v

    info: dict[str, Any] = {"embedforge": embedforge.__version__, "python": sys.version.split()[0]}
    info.update(embedforge.build_info())
    info["trainer_isa"] = _w2v.cpu_isa()
    info["cuda_usable"], cuda_line = _native.cuda_status()
    extras = ("matplotlib", "sklearn", "PIL", "umap", "tensorboard", "tqdm", "gensim", "torchinfo", "nbclient")
    info["extras"] = {name: importlib.util.find_spec(name) is not None for name in extras}
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    rows = [
        ("embedforge", f"{info['embedforge']} on Python {info['python']}"),
        (
            "built",
            f"against torch {info['torch_version']} headers, stable-ABI floor {info['stable_abi_floor']} "
            f"(runs on any torch >= {info['stable_abi_floor']}), compiler {info.get('compiler', '?')}",
        ),
        ("torch", f"{info['torch_runtime']} (running now)"),
        (
            "cpu kernels",
            f"{info['cpu_isa']} (ops), {info['trainer_isa']} (word2vec trainer); "
            "EMBEDFORGE_ISA=baseline|avx2 caps them",
        ),
        ("cuda kernels", cuda_line),
        ("extras", ", ".join(f"{n} {'yes' if ok else 'no'}" for n, ok in info["extras"].items())),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Quick side-by-side timing of embedforge's embedding bag against torch's."""
    from .benchmark import compare_embedding_bag, format_table

    if not 0.0 < args.scale <= 1.0:
        raise CLIError(f"{PROG} bench: error: --scale must be in (0, 1], got {args.scale}")
    kwargs: dict[str, Any] = {}
    if args.workloads:
        kwargs["workloads"] = tuple(args.workloads)
    rows = compare_embedding_bag(
        threads=tuple(args.threads),
        repeats=args.repeats,
        iters=args.iters,
        scale=args.scale,
        progress=None if args.quiet else _info,
        **kwargs,
    )
    print(format_table(rows))
    if args.json:
        _write_text_atomic(args.json, json.dumps(rows, indent=2, default=str) + "\n")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the end-to-end demo: corpus, word2vec, neighbours, analogy, letters animation, pictures, report."""
    from .demo import run

    try:
        run(out=args.out, quick=args.quick, progress=not args.no_progress, workers=args.workers, seed=args.seed)
    except ImportError as exc:  # the plotting extra is missing
        raise CLIError(
            f"{PROG} demo: {_one_line(exc)}; install the plotting extra: pip install 'embedforge[viz]'", 1
        ) from exc
    return 0


# ------------------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per command."""
    parser = _Parser(prog=PROG, description="embedforge: train, query, evaluate and look at word embeddings.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def vectors_arg(p: argparse.ArgumentParser, name: str = "vectors") -> None:
        p.add_argument(
            name, help="vectors file (word2vec text/binary, GloVe, fastText .vec or .bin model, native .efv)"
        )
        p.add_argument("--format", choices=_INPUT_FORMATS, default=None, help="input format (default: detected)")

    p = add("train", cmd_train, "Train word2vec or fastText vectors on a corpus.")
    p.add_argument(
        "corpus",
        help=f"text file, one sentence per line, whitespace-separated tokens; "
        f"or {BUILTIN_CORPUS} for the built-in corpus",
    )
    p.add_argument("-o", "--output", required=True, help="where to write the vectors")
    p.add_argument(
        "--to",
        choices=_FORMATS,
        default=None,
        help="output format (default: from the suffix: .bin binary, .vec fastText, .efv native, "
        ".glove GloVe, otherwise word2vec text)",
    )
    p.add_argument("--model", choices=("word2vec", "fasttext"), default="word2vec")
    arch = p.add_mutually_exclusive_group()
    arch.add_argument("--sg", action="store_true", help="skip-gram (default: CBOW)")
    arch.add_argument("--cbow", action="store_true", help="CBOW (the default)")
    p.add_argument("--hs", action="store_true", help="hierarchical softmax (with --negative 0 for HS alone)")
    p.add_argument("--vector-size", type=_positive_int, default=100)
    p.add_argument("--window", type=_positive_int, default=5)
    p.add_argument("--min-count", type=_positive_int, default=5)
    p.add_argument("--negative", type=_nonneg_int, default=5)
    p.add_argument("--sample", type=_unit_float, default=1e-3, help="frequent-word subsampling threshold")
    p.add_argument("--epochs", type=_positive_int, default=5)
    p.add_argument("--workers", type=_positive_int, default=None, help="threads (default: all cores)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--min-n", type=_positive_int, default=3, help="fastText: shortest character n-gram")
    p.add_argument("--max-n", type=_positive_int, default=6, help="fastText: longest character n-gram")
    p.add_argument("--bucket", type=_positive_int, default=2_000_000, help="fastText: n-gram hash buckets")
    p.add_argument("--save-model", default=None, help="also save the full model (resumable) here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--nproc",
        type=_positive_int,
        default=1,
        help="train data-parallel on N local processes (torch.distributed, gloo on 127.0.0.1; needs torch)",
    )
    p.add_argument(
        "--timeout", type=float, default=300.0, help="--nproc: seconds a rank waits for the others (default 300)"
    )

    p = add("neighbors", cmd_neighbors, "Print the nearest neighbours of words.")
    vectors_arg(p)
    p.add_argument("words", nargs="+", metavar="WORD")
    p.add_argument("-n", "--topn", type=_positive_int, default=10)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")

    p = add("analogy", cmd_analogy, "Print the words nearest to A - B + C (king man woman -> queen).")
    vectors_arg(p)
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("c", metavar="C")
    p.add_argument("-n", "--topn", type=_positive_int, default=5)

    p = add("evaluate", cmd_evaluate, "Score vectors on analogy questions and/or word-pair similarities.")
    vectors_arg(p)
    p.add_argument("--analogies", default=None, help="questions-words file (': section' headers, 'a b c d' lines)")
    p.add_argument("--pairs", default=None, help="word-pair file: word1<TAB>word2<TAB>score (e.g. wordsim353)")
    p.add_argument("--delimiter", default="\t", help="field separator of the pairs file (default: tab)")
    p.add_argument(
        "--restrict-vocab",
        type=_positive_int,
        default=300_000,
        help="only the most frequent N words take part (default: 300000)",
    )
    p.add_argument("--json", default=None, help="also write the scores to this JSON file")

    p = add("convert", cmd_convert, "Convert vectors between formats.")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--from", dest="source_format", choices=_INPUT_FORMATS, default=None, help="input format (detected)")
    p.add_argument("--to", choices=_FORMATS, default=None, help="output format (default: from the suffix)")

    p = add("plot", cmd_plot, "Plot vectors to an image, an interactive HTML page or a TensorBoard projector folder.")
    vectors_arg(p)
    p.add_argument("-o", "--output", required=True, help="out.png / .svg / .pdf / .html, or a folder with --projector")
    p.add_argument("--projector", action="store_true", help="write a TensorBoard projector folder")
    p.add_argument("--method", choices=("pca", "tsne", "umap"), default="pca")
    p.add_argument("--dims", type=int, choices=(2, 3), default=2, help="2-D or 3-D (images only)")
    p.add_argument("--limit", type=_nonneg_int, default=500, help="keep the N most frequent words (0: all)")
    p.add_argument("--words", nargs="+", default=None, help="plot only these words")
    p.add_argument("--labels", type=_nonneg_int, default=100, help="label at most N points (images)")
    p.add_argument("--title", default=None)
    p.add_argument("--width", type=_positive_int, default=1000, help="image width in pixels")
    p.add_argument("--height", type=_positive_int, default=800, help="image height in pixels")
    p.add_argument("--dpi", type=_positive_int, default=100)

    p = add("info", cmd_info, "Print build information and installed extras.")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("bench", cmd_bench, "Quick side-by-side benchmark of the embedding bag against torch.")
    p.add_argument("--threads", type=_positive_int, nargs="+", default=[1, 2])
    p.add_argument("--workloads", nargs="+", default=None, help="workload names (default: all; see bench/)")
    p.add_argument("--repeats", type=_positive_int, default=5, help="timed repeats per row (median reported)")
    p.add_argument("--iters", type=_positive_int, default=10, help="calls per timed repeat")
    p.add_argument("--scale", type=float, default=0.25, help="problem size relative to the full benchmark, in (0, 1]")
    p.add_argument("--quiet", action="store_true", help="no per-row progress on stderr")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")

    p = add("demo", cmd_demo, "Run the end-to-end demo and write pictures and a report into a folder.")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--quick", action="store_true", help="a small, fast version (seconds)")
    p.add_argument("--workers", type=_positive_int, default=None, help="word2vec threads (default: all cores)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            raise CLIError(f"{PROG}: error: a command is required: {', '.join(_COMMANDS)} (see `{PROG} --help`)")
        return int(args.func(args) or 0)
    except CLIError as exc:
        text = _one_line(exc)
        print(text if text.startswith(PROG) else f"{PROG}: error: {text}", file=sys.stderr)
        return exc.code
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
