"""Data-parallel Word2Vec / FastText (distributed=True) vs one process, same corpus, same run.

    sh bench/make_corpus.sh build/corpus.txt                      # ~5.2M tokens
    python bench/distributed_word2vec.py build/corpus.txt          # 3 seeds, word2vec and fasttext
    python bench/distributed_word2vec.py build/corpus.txt --models word2vec --seeds 1 --sync-words 250000 1000000

Each run is its own subprocess, interleaved (seed by seed, the order of the two modes alternating):
"single" is one process with 2 threads, "2x1" is 2 ranks (embedforge.distributed.spawn, gloo on
127.0.0.1) with 1 thread each. Skip-gram with negative sampling, vector_size 100, window 5,
min_count 5, sample 1e-3, negative 5, 5 epochs (FastText: min_n 3, max_n 6, --bucket buckets).
Seconds are train() alone (the vocabulary scan excluded; for 2x1 it includes each rank reading
its part into memory and every synchronisation). words/s = in-vocabulary words x epochs / seconds.
Quality uses gensim's evaluators: analogy accuracy on questions-words.txt (restrict_vocab=30000),
Spearman rho on wordsim353.tsv. Medians over seeds, with the spread (max - min). Sync = the
median wall time of one average of the tables (all_reduce of every table, in place).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

COMMON = dict(vector_size=100, window=5, min_count=5, sample=1e-3, sg=1, hs=0, negative=5)


def _quality(keys, vectors) -> tuple[float, float]:
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(keys, vectors)
    analogy, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000)
    ws = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    return float(analogy), float(ws[1][0])


def _kwargs(model: str, seed: int, epochs: int, bucket: int) -> dict:
    kw = dict(COMMON, seed=seed, epochs=epochs, progress=False)
    if model == "fasttext":
        kw.update(min_n=3, max_n=6, bucket=bucket)
    return kw


def _rank(rank, world, model, corpus, kw):
    import embedforge

    cls = embedforge.FastText if model == "fasttext" else embedforge.Word2Vec
    m = cls(distributed=True, workers=1, **kw)
    m.build_vocab(corpus_file=corpus)
    t0 = time.perf_counter()
    m.train(corpus_file=corpus)
    seconds = time.perf_counter() - t0
    if rank != 0:
        return None
    return dict(
        seconds=seconds,
        words=m.corpus_total_words * kw["epochs"],
        keys=list(m.index_to_key),
        vectors=m.wv.vectors,
        sync=m.sync_stats,
    )


def run_one(mode: str, model: str, corpus: str, seed: int, epochs: int, bucket: int, sync_words: int) -> dict:
    kw = _kwargs(model, seed, epochs, bucket)
    if mode == "single":
        import embedforge

        cls = embedforge.FastText if model == "fasttext" else embedforge.Word2Vec
        m = cls(workers=2, **kw)
        m.build_vocab(corpus_file=corpus)
        t0 = time.perf_counter()
        m.train(corpus_file=corpus)
        r = dict(
            seconds=time.perf_counter() - t0,
            words=m.corpus_total_words * epochs,
            keys=list(m.index_to_key),
            vectors=m.wv.vectors,
            sync={},
        )
    else:
        from embedforge.distributed import spawn

        kw["sync_words"] = sync_words
        r = spawn(_rank, 2, args=(model, corpus, kw), timeout=600)[0]
    analogy, ws = _quality(r["keys"], r["vectors"])
    sync = r["sync"]
    return dict(
        mode=mode,
        model=model,
        seed=seed,
        sync_words=sync_words if mode != "single" else None,
        seconds=r["seconds"],
        words_per_s=r["words"] / r["seconds"],
        analogy=analogy,
        ws353=ws,
        vocab=len(r["keys"]),
        sync_median_s=sync.get("median_seconds"),
        sync_total_s=sync.get("seconds"),
        syncs=sync.get("syncs"),
        sync_mb=sync.get("bytes", 0) / 2**20 if sync else None,
    )


def _spread(xs: list) -> str:
    return f"{statistics.median(xs):.4f} ±{(max(xs) - min(xs)) / 2:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--models", nargs="+", default=["word2vec", "fasttext"], choices=["word2vec", "fasttext"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--bucket", type=int, default=2_000_000, help="FastText n-gram buckets")
    ap.add_argument(
        "--sync-words", type=int, nargs="+", default=[None], help="2x1 runs for each (default: the default)"
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration, print JSON
    args = ap.parse_args()
    if args.one:
        spec = json.loads(args.one)
        print("RESULT " + json.dumps(run_one(**spec)), flush=True)
        return
    from embedforge.word2vec.params import DEFAULT_SYNC_WORDS

    syncs = [s or DEFAULT_SYNC_WORDS for s in args.sync_words]
    print(
        f"corpus {args.corpus}, {os.cpu_count()} CPUs, models {args.models}, seeds {args.seeds}, epochs {args.epochs}"
    )
    results = []
    for model in args.models:
        for seed in range(1, args.seeds + 1):
            modes = [("single", None)] + [("2x1", s) for s in syncs]
            if seed % 2 == 0:
                modes.reverse()  # interleaved: neither mode always runs first
            for mode, sw in modes:
                spec = dict(
                    mode=mode,
                    model=model,
                    corpus=args.corpus,
                    seed=seed,
                    epochs=args.epochs,
                    bucket=args.bucket,
                    sync_words=sw or DEFAULT_SYNC_WORDS,
                )
                out = subprocess.run(
                    [sys.executable, __file__, args.corpus, "--one", json.dumps(spec)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    sys.exit(f"run {spec} failed:\n{out.stderr[-3000:]}")
                r = json.loads(line[7:])
                results.append(r)
                sync = f"  sync {r['sync_median_s'] * 1e3:.1f} ms x {r['syncs']}" if r["syncs"] else ""
                print(
                    f"{model:8s} {mode:6s} sync_words {str(r['sync_words']):>8s} seed {seed}  {r['seconds']:7.1f}s  "
                    f"{r['words_per_s'] / 1e3:7.0f}k w/s  analogy {r['analogy']:.4f}  ws353 {r['ws353']:.4f}{sync}",
                    flush=True,
                )
    print()
    print(
        "| model | run | sync_words | train s | words/s | throughput vs 1 process | analogy | ws353 rho "
        "| one sync (ms, MB) | sync share |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for model in args.models:
        single = [r for r in results if r["model"] == model and r["mode"] == "single"]
        base = statistics.median(r["words_per_s"] for r in single)
        groups = [("1 process x 2 threads", None, single)] + [
            ("2 ranks x 1 thread", s, [r for r in results if r["model"] == model and r["sync_words"] == s])
            for s in syncs
        ]
        for name, s, rs in groups:
            wps = statistics.median(r["words_per_s"] for r in rs)
            secs = statistics.median(r["seconds"] for r in rs)
            if s is None:
                sync, share = "-", "-"
            else:
                sync = f"{statistics.median(r['sync_median_s'] for r in rs) * 1e3:.0f} ({rs[0]['sync_mb']:.0f} MB)"
                share = f"{statistics.median(r['sync_total_s'] / r['seconds'] for r in rs) * 100:.1f}%"
            print(
                f"| {model} | {name} | {s or '-'} | {secs:.1f} | {wps / 1e3:.0f}k | {wps / base:.2f}x | "
                f"{_spread([r['analogy'] for r in rs])} | {_spread([r['ws353'] for r in rs])} | {sync} | {share} |"
            )


if __name__ == "__main__":
    main()
