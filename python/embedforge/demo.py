"""The end-to-end demo behind `embedforge demo` and `make run`: from the built-in corpus to pictures.

It builds the built-in corpus (the Python standard library's docstrings, extracted at run time), trains
word2vec on it with a progress bar, prints nearest neighbours and an analogy, trains 2-D letter
embeddings, and writes into the output folder: a labelled word map (PNG), the letters animation (GIF),
an interactive explorer (HTML), a TensorBoard projector export and a `report.md` linking them.

Without the plotting extra (`pip install 'embedforge[viz]'`: matplotlib, scikit-learn, Pillow) it still
trains, prints neighbours and the analogy, and writes the vectors, the projector export and the report;
one line says which pictures it skipped and which extra brings them.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "DemoConfig",
    "run",
    "write_word_outputs",
    "write_letter_outputs",
    "write_report",
    "QUERY_WORDS",
    "ANALOGIES",
    "PICTURE_NEEDS",
    "missing_for_pictures",
    "skipped_line",
]

#: Words whose neighbours the demo prints (the first few found in the vocabulary).
QUERY_WORDS = ("file", "thread", "string", "socket", "error", "directory", "integer", "encoding", "list", "server")

#: Analogies a − b + c tried in order; the first whose words are all known is shown.
ANALOGIES = (
    ("files", "file", "directory"),
    ("read", "reader", "writer"),
    ("encode", "encoder", "decoder"),
    ("open", "opened", "closed"),
    ("client", "server", "servers"),
    ("true", "false", "no"),
)

#: Function words left off the word map and the explorer's colouring (they crowd the picture).
_STOPWORDS = frozenset(
    "a an the is are was were be been being to of and or in on at by for with as from that this these those "
    "it its if then else not no can will would should may must do does did has have had which who whom what "
    "when where there here than so such but into onto also any all each other some only one two same".split()
)


#: What each picture needs (import names), all from the viz extra.
PICTURE_NEEDS = {
    "analogy.png": ("matplotlib", "sklearn"),
    "word_map.png": ("matplotlib", "sklearn"),
    "explorer.html": ("sklearn",),
    "letters.gif": ("matplotlib", "PIL"),
    "letters.png": ("matplotlib",),
}
_DISTRIBUTIONS = {"matplotlib": "matplotlib", "sklearn": "scikit-learn", "PIL": "pillow"}


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def missing_for_pictures() -> dict[str, tuple[str, ...]]:
    """For each picture that cannot be drawn here, the modules it lacks ({} when the viz extra is installed)."""
    absent = {m for needs in PICTURE_NEEDS.values() for m in needs if not _importable(m)}
    return {
        name: tuple(m for m in needs if m in absent)
        for name, needs in PICTURE_NEEDS.items()
        if any(m in absent for m in needs)
    }


def skipped_line(missing: dict[str, tuple[str, ...]]) -> str:
    """The one line that says which pictures were skipped, for want of what, and the extra that brings them."""
    mods = sorted({_DISTRIBUTIONS.get(m, m) for needs in missing.values() for m in needs})
    return f"skipped {', '.join(missing)} (no {', '.join(mods)} installed): pip install 'embedforge[viz]' to draw them"


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of every step; `DemoConfig.full()` for `make run`, `DemoConfig.quick()` for tests."""

    max_sentences: int | None
    vector_size: int
    window: int
    min_count: int
    epochs: int
    map_words: int
    map_labels: int
    map_method: str
    explorer_words: int
    projector_words: int
    clusters: int
    letters_chars: int
    letters_epochs: int
    letters_snapshot_every: int
    letters_batch: int
    letters_lr: float
    max_frames: int

    @classmethod
    def full(cls) -> DemoConfig:
        """The whole corpus and pictures worth looking at (about a minute on 2 cores after the build)."""
        return cls(
            max_sentences=None,
            vector_size=100,
            window=5,
            min_count=5,
            epochs=10,
            map_words=300,
            map_labels=120,
            map_method="tsne",
            explorer_words=3000,
            projector_words=5000,
            clusters=10,
            letters_chars=100_000,
            letters_epochs=2,
            letters_snapshot_every=10,
            letters_batch=1024,
            letters_lr=0.05,
            max_frames=40,
        )

    @classmethod
    def quick(cls) -> DemoConfig:
        """A small corpus and few epochs: every output, in seconds."""
        return cls(
            max_sentences=5000,
            vector_size=32,
            window=4,
            min_count=5,
            epochs=10,
            map_words=80,
            map_labels=30,
            map_method="pca",
            explorer_words=400,
            projector_words=400,
            clusters=5,
            letters_chars=20_000,
            letters_epochs=1,
            letters_snapshot_every=5,
            letters_batch=1024,
            letters_lr=0.05,
            max_frames=10,
        )


class _Clock:
    """Numbered steps with elapsed times, printed through `echo`."""

    def __init__(self, echo: Callable[[str], None], steps: int) -> None:
        self.echo, self.steps, self.k, self.t0 = echo, steps, 0, time.perf_counter()

    def step(self, text: str) -> None:
        self.k += 1
        self.echo(f"[{self.k}/{self.steps} {time.perf_counter() - self.t0:6.1f}s] {text}")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def _content_words(kv: Any, n: int) -> list[str]:
    """The `n` most frequent words that are not function words, numbers or single letters."""
    out = []
    for w in kv.index_to_key:
        if w in _STOPWORDS or len(w) < 2 or w.isdigit():
            continue
        out.append(w)
        if len(out) == n:
            break
    return out


def _clusters(vectors: np.ndarray, words: Sequence[str], k: int, seed: int) -> list[str]:
    """k-means clusters of unit-normalised vectors, each named after its first two (most frequent) words."""
    from sklearn.cluster import KMeans

    k = max(1, min(k, len(vectors)))
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    ids = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(unit)
    members: dict[int, list[str]] = {}
    for w, i in zip(words, ids):
        members.setdefault(int(i), []).append(w)
    names = {i: " / ".join(ws[:2]) + (" …" if len(ws) > 2 else "") for i, ws in members.items()}
    return [names[int(i)] for i in ids]


def pick_analogy(kv: Any, candidates: Sequence[tuple[str, str, str]] = ANALOGIES) -> tuple[str, str, str] | None:
    """The first candidate (a, b, c) whose three words are all in the vocabulary, or None."""
    for triple in candidates:
        if all(w in kv for w in triple):
            return triple
    return None


def write_word_outputs(
    kv: Any, out: Path, cfg: DemoConfig, seed: int = 1, echo: Callable[[str], None] = print, skip: Sequence[str] = ()
) -> dict[str, Any]:
    """Neighbours, analogy, word map, explorer, projector and vectors for trained word vectors.

    Pictures named in ``skip`` (file names, see ``PICTURE_NEEDS``) are not drawn.
    """
    from .viz import analogy_arrows, export_projector, neighbor_table, scatter, to_html

    result: dict[str, Any] = {}
    queries = [w for w in QUERY_WORDS if w in kv][:5] or list(_content_words(kv, 3))
    result["neighbors_text"] = neighbor_table(kv, queries, topn=6, fmt="text")
    result["neighbors_markdown"] = neighbor_table(kv, queries, topn=6, fmt="markdown")
    echo("nearest neighbours (cosine):\n" + result["neighbors_text"])

    triple = pick_analogy(kv)
    if triple is not None:
        a, b, c = triple
        answers = kv.most_similar(positive=[a, c], negative=[b], topn=3)
        result["analogy"] = (a, b, c, answers)
        echo(f"analogy {a} - {b} + {c} ≈ " + ", ".join(f"{w} ({s:.2f})" for w, s in answers))
        if "analogy.png" not in skip:
            analogy_arrows(kv, a, b, c, path=out / "analogy.png", figsize=(7, 6), dpi=100)
            result["analogy_png"] = out / "analogy.png"

    if "word_map.png" not in skip:
        words = _content_words(kv, cfg.map_words)
        sub = kv.subset(words)
        groups = _clusters(np.asarray(sub.vectors, dtype=np.float64), words, cfg.clusters, seed)
        scatter(
            sub,
            groups=groups,
            method=cfg.map_method,
            max_labels=cfg.map_labels,
            seed=seed,
            projection_kwargs={"max_iter": 500} if cfg.map_method == "tsne" else None,
            title=f"{len(words)} most frequent content words "
            f"({ {'tsne': 't-SNE', 'pca': 'PCA', 'umap': 'UMAP'}[cfg.map_method] }, k-means colours)",
            path=out / "word_map.png",
            figsize=(12, 9),
            dpi=100,
        )
        result["word_map"] = out / "word_map.png"

    if "explorer.html" not in skip:
        explorer_keys = list(kv.index_to_key[: cfg.explorer_words])
        explorer = kv.subset(explorer_keys)
        to_html(
            explorer,
            out / "explorer.html",
            groups=_clusters(np.asarray(explorer.vectors, dtype=np.float64), explorer_keys, cfg.clusters, seed),
            title="embedforge: word2vec on the Python standard library's docstrings",
        )
        result["explorer"] = out / "explorer.html"

    proj_keys = list(kv.index_to_key[: cfg.projector_words])
    proj = kv.subset(proj_keys)
    export_projector(
        proj, out / "projector", metadata={"rank": list(range(1, len(proj_keys) + 1))}, tensor_name="stdlib word2vec"
    )
    result["projector"] = out / "projector"

    from .vectors import save

    save(kv, out / "vectors.efv", format="native")
    result["vectors"] = out / "vectors.efv"
    return result


def _frames(snapshots: Sequence[np.ndarray], max_frames: int) -> list[int]:
    """Indices of at most `max_frames` evenly spaced snapshots, always keeping the first and last."""
    n = len(snapshots)
    if n <= max_frames:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, max_frames).round().astype(int).tolist()))


def write_letter_outputs(text: str, out: Path, cfg: DemoConfig, seed: int = 1) -> dict[str, Any]:
    """Train 2-D letter embeddings on `text` and write the animation (GIF) and the final map (PNG)."""
    from .models.letters import train_letter_embeddings
    from .viz import animate, scatter

    vocab, snaps = train_letter_embeddings(
        text,
        dim=2,
        epochs=cfg.letters_epochs,
        snapshot_every=cfg.letters_snapshot_every,
        batch_size=cfg.letters_batch,
        lr=cfg.letters_lr,
        seed=seed,
    )
    itos = list(vocab.itos)
    labels = ["␣" if ch == " " else ch for ch in itos[2:]]
    kinds = ["space" if ch == " " else "vowel" if ch in "aeiou" else "consonant" for ch in itos[2:]]
    keep = _frames(snaps, cfg.max_frames)
    frames = [np.asarray(snaps[i])[2:] for i in keep]
    titles = ["initial" if i == 0 else f"after {i * cfg.letters_snapshot_every} steps" for i in keep]
    titles[-1] = "trained"
    animate(frames, labels, out / "letters.gif", fps=5, titles=titles, groups=kinds, figsize=(6, 6), dpi=80)
    scatter(
        frames[-1],
        labels,
        groups=kinds,
        max_labels=None,
        title="2-D letter embeddings after training",
        path=out / "letters.png",
        figsize=(6, 6),
        dpi=100,
    )
    return {
        "letters_gif": out / "letters.gif",
        "letters_png": out / "letters.png",
        "letters": len(labels),
        "letter_snapshots": len(snaps),
    }


def write_report(out: Path, facts: dict[str, Any]) -> Path:
    """Write `report.md` (atomically) summarising the run and linking every output."""
    from .viz._common import atomic_path

    def rel(p: Any) -> str:
        return Path(p).relative_to(out).as_posix()

    lines = [
        "# embedforge demo",
        "",
        f"word2vec ({facts['arch']}, {facts['vector_size']} dimensions, window {facts['window']}, "
        f"{facts['epochs']} epochs, min_count {facts['min_count']}) trained on the Python {sys.version.split()[0]} "
        f"standard library's docstrings: {facts['sentences']:,} sentences, {facts['tokens']:,} tokens, "
        f"{facts['vocab']:,} words kept, in {facts['train_seconds']:.1f} s "
        f"(about {facts['tokens'] * facts['epochs'] / max(facts['train_seconds'], 1e-9):,.0f} words/s, "
        "vocabulary scan included).",
        "",
        "## Nearest neighbours",
        "",
        facts["neighbors_markdown"],
        "",
    ]
    if "analogy" in facts:
        a, b, c, answers = facts["analogy"]
        lines += [
            "## Analogy",
            "",
            f"`{a} − {b} + {c}` ≈ "
            + ", ".join(f"**{w}** ({s:.2f})" if k == 0 else f"{w} ({s:.2f})" for k, (w, s) in enumerate(answers)),
            "",
        ]
        if "analogy_png" in facts:
            lines += [f"![analogy arrows]({rel(facts['analogy_png'])})", ""]
    if "word_map" in facts:
        lines += ["## Word map", "", f"![word map]({rel(facts['word_map'])})", ""]
    if "letters_gif" in facts:
        lines += [
            "## Letter embeddings",
            "",
            f"A next-letter model with 2-D embeddings, trained on {facts['letters_chars']:,} characters of the "
            f"same corpus; {facts['letter_snapshots']} snapshots of its {facts['letters']} letters, animated:",
            "",
            f"![letters learning]({rel(facts['letters_gif'])})",
            "",
            f"Final positions: [letters.png]({rel(facts['letters_png'])})",
            "",
        ]
    if facts.get("skipped"):
        lines += ["## Pictures not drawn", "", facts["skipped"] + ".", ""]
    lines += ["## Explore", ""]
    if "explorer" in facts:
        lines += [
            f"- [{rel(facts['explorer'])}]({rel(facts['explorer'])}): open in a browser (no server needed); "
            "search a word to see its neighbours, or open it with `#q=file`."
        ]
    lines += [
        f"- [{rel(facts['projector'])}/]({rel(facts['projector'])}/): TensorBoard projector files "
        "(tensors.tsv, metadata.tsv, projector_config.pbtxt): `tensorboard --logdir "
        f"{out.as_posix()}/{rel(facts['projector'])}`, or load the two TSVs at projector.tensorflow.org.",
        f"- [{rel(facts['vectors'])}]({rel(facts['vectors'])}): the vectors (native format), e.g. "
        f"`embedforge neighbors {out.as_posix()}/{rel(facts['vectors'])} thread`.",
        "",
        f"Total time {facts['total_seconds']:.1f} s.",
        "",
    ]
    path = out / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return path


def run(
    out: str | os.PathLike[str] = "out",
    quick: bool = False,
    progress: bool = True,
    workers: int | None = None,
    seed: int = 1,
    echo: Callable[[str], None] = print,
    config: DemoConfig | None = None,
) -> dict[str, Any]:
    """Run the demo, writing everything into `out`; returns the facts and paths that went into the report."""
    from .data.corpus import stdlib_sentences, stdlib_text
    from .word2vec import Word2Vec

    cfg = config or (DemoConfig.quick() if quick else DemoConfig.full())
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    clock = _Clock(echo, 6)

    clock.step("building the built-in corpus: docstrings of the Python standard library")
    sentences = stdlib_sentences(cfg.max_sentences)
    tokens = sum(len(s) for s in sentences)
    echo(f"  {len(sentences):,} sentences, {tokens:,} tokens")

    clock.step(f"training word2vec (skip-gram, negative sampling, {cfg.epochs} epochs)")
    t = time.perf_counter()
    kwargs: dict[str, Any] = {} if workers is None else {"workers": workers}
    model = Word2Vec(
        sentences=sentences,
        vector_size=cfg.vector_size,
        window=cfg.window,
        min_count=cfg.min_count,
        sg=1,
        negative=5,
        epochs=cfg.epochs,
        seed=seed,
        progress=progress,
        **kwargs,
    )
    train_seconds = time.perf_counter() - t
    kv = model.wv
    echo(f"  {len(kv):,} words x {kv.vector_size} dimensions in {train_seconds:.1f} s")

    missing = missing_for_pictures()
    clock.step("neighbours, analogy, word map, explorer page, projector export")
    facts: dict[str, Any] = write_word_outputs(kv, outdir, cfg, seed=seed, echo=echo, skip=tuple(missing))

    if "letters.gif" in missing or "letters.png" in missing:
        clock.step("2-D letter embeddings: not trained (their pictures are skipped)")
    else:
        clock.step("training 2-D letter embeddings (next-letter model)")
        letters_text = stdlib_text(max_chars=cfg.letters_chars)
        facts.update(write_letter_outputs(letters_text, outdir, cfg, seed=seed))
        facts["letters_chars"] = len(letters_text)
    if missing:
        facts["skipped"] = skipped_line(missing)

    clock.step("writing report.md")
    facts.update(
        arch="skip-gram",
        vector_size=kv.vector_size,
        window=cfg.window,
        epochs=cfg.epochs,
        min_count=cfg.min_count,
        sentences=len(sentences),
        tokens=tokens,
        vocab=len(kv),
        train_seconds=train_seconds,
        config=asdict(cfg),
    )
    facts["total_seconds"] = clock.elapsed
    facts["report"] = write_report(outdir, facts)

    clock.step(f"done: open {facts['report']}")
    for key in ("word_map", "letters_gif", "explorer", "projector", "vectors", "report"):
        if key in facts:
            echo(f"  {key:12s} {facts[key]}")
    if missing:
        echo(facts["skipped"])
    return facts
