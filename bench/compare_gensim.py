"""gensim 4.x vs embedforge word2vec on one corpus file, same hyperparameters, side by side.

    python bench/compare_gensim.py build/corpus.txt                 # all four modes at 1 and 2 threads
    python bench/compare_gensim.py build/corpus.txt --repeats 3 --configs sg-ns

Hyperparameters: vector_size 100, window 5, min_count 5, sample 1e-3, negative 5 (HS: hs=1,
negative=0), 5 epochs. Both read the corpus file (gensim's corpus_file mode, its fastest). Every
run is its own subprocess, so peak RSS (ru_maxrss, read right after training, before evaluation)
is that run's alone. words/s = corpus tokens per pass x epochs / training wall seconds (vocabulary
scan excluded, same count for both); CPU s is the process CPU time while training (a fairer figure
when the machine is shared). Quality uses gensim's evaluators on both models' vectors:
analogy accuracy on questions-words.txt (restrict_vocab=30000), Spearman rho on wordsim353.tsv
and simlex999.txt from gensim's test data. Repeat r uses seed F + r for both libraries (F is
--first-seed, default 1; so --repeats 3 is three seeds); the table shows medians over repeats and, for the quality columns, the
spread (min-max) over seeds, and each embedforge row's quality minus gensim's (medians).

Read the multi-thread quality columns knowing one gensim quirk: in corpus_file mode each of its W
worker threads reads 1/W of the file but measures its progress against the whole corpus's
sentence count, so within epoch e its learning rate only decays to the value of (e + 1/W) / epochs
and then jumps: with 2 threads gensim trains at a higher average rate than the linear schedule
(alpha to min_alpha over all words) that embedforge follows and gensim documents. Trained with
gensim's effective 2-thread schedule (start_alpha/end_alpha per epoch), embedforge's sg-ns
analogy median rose from 0.1621 to 0.1660 (gensim 0.1670), 3 seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    "sg-ns": dict(sg=1, hs=0, negative=5),
    "cbow-ns": dict(sg=0, hs=0, negative=5),
    "sg-hs": dict(sg=1, hs=1, negative=0),
    "cbow-hs": dict(sg=0, hs=1, negative=0),
}
COMMON = dict(vector_size=100, window=5, min_count=5, sample=1e-3)


def raw_tokens(corpus: str) -> int:
    n = 0
    with open(corpus, "rb") as f:
        for line in f:
            n += len(line.split())
    return n


def run_one(impl: str, config: str, threads: int, corpus: str, epochs: int, seed: int) -> dict:
    kw = dict(COMMON, **CONFIGS[config], workers=threads, epochs=epochs, seed=seed)
    if impl == "gensim":
        from gensim.models import Word2Vec

        model = Word2Vec(**kw)
        model.build_vocab(corpus_file=corpus)
        cpu0, t0 = time.process_time(), time.perf_counter()
        model.train(
            corpus_file=corpus, total_examples=model.corpus_count, total_words=model.corpus_total_words, epochs=epochs
        )
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        keys, vectors = list(model.wv.index_to_key), model.wv.vectors
    else:
        import embedforge

        model = embedforge.Word2Vec(progress=False, **kw)
        model.build_vocab(corpus_file=corpus)
        cpu0, t0 = time.process_time(), time.perf_counter()
        model.train(corpus_file=corpus)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        keys, vectors = list(model.index_to_key), model.wv.vectors
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(keys, vectors)
    analogy, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000)
    ws = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    sl = kv.evaluate_word_pairs(datapath("simlex999.txt"))
    words = raw_tokens(corpus)  # the same count for both: whitespace tokens per pass
    return dict(
        impl=impl,
        config=config,
        threads=threads,
        seed=seed,
        seconds=seconds,
        cpu=cpu,
        words=words * epochs,
        words_per_s=words * epochs / seconds,
        rss_mb=rss_mb,
        analogy=float(analogy),
        ws353=float(ws[1][0]),
        simlex=float(sl[1][0]),
        vocab=len(keys),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--first-seed", type=int, default=1, help="repeat r uses seed FIRST_SEED + r (default 1)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--impls", nargs="+", default=["gensim", "embedforge"], choices=["gensim", "embedforge"])
    ap.add_argument("--json", help="also write every run to this file")
    ap.add_argument("--_worker", nargs=5, metavar=("IMPL", "CONFIG", "THREADS", "SEED", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._worker:
        impl, config, threads, seed, out = args._worker
        res = run_one(impl, config, int(threads), args.corpus, args.epochs, int(seed))
        with open(out, "w") as f:
            json.dump(res, f)
        return
    if not os.path.isfile(args.corpus):
        sys.exit(f"corpus {args.corpus!r} not found (build one with bench/make_corpus.sh)")
    runs = []
    for config in args.configs:
        for threads in args.threads:
            for rep in range(args.repeats):
                for impl in args.impls:  # interleaved, so background load hits both alike
                    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
                        out = tf.name
                    cmd = [
                        sys.executable,
                        __file__,
                        args.corpus,
                        "--epochs",
                        str(args.epochs),
                        "--_worker",
                        impl,
                        config,
                        str(threads),
                        str(args.first_seed + rep),
                        out,
                    ]
                    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
                    with open(out) as f:
                        r = json.load(f)
                    os.unlink(out)
                    runs.append(r)
                    print(
                        f"  {config:8s} {threads}t {impl:10s} seed {args.first_seed + rep}: {r['seconds']:7.2f}s "
                        f"{r['words_per_s'] / 1e3:8.0f}k w/s  cpu {r['cpu']:7.1f}s  rss {r['rss_mb']:6.0f} MB  analogy {r['analogy']:.4f}  "
                        f"ws353 {r['ws353']:.4f}  simlex {r['simlex']:.4f}",
                        flush=True,
                    )
    base_rss = {}
    for impl, mod in (("gensim", "gensim.models"), ("embedforge", "embedforge.word2vec")):
        if impl in args.impls:
            code = f"import {mod}, resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
            base_rss[impl] = float(
                subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    print()
    print(
        f"corpus {args.corpus}: {runs[0]['words'] // args.epochs} tokens/pass, vocab {runs[0]['vocab']}, "
        f"{args.epochs} epochs, medians of {args.repeats} run(s)"
    )
    print(
        "peak RSS right after importing the library (no training): "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in base_rss.items())
        + "; 'RSS over import' = peak RSS minus that"
    )
    hdr = (
        "| config | threads | impl | train s | CPU s | words/s | speed-up | CPU-time speed-up | peak RSS MB "
        "| RSS over import MB | analogy (spread) | ws353 rho (spread) | simlex rho (spread) | vs gensim: analogy, ws353 |"
    )
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    quality = ("analogy", "ws353", "simlex")
    for config in args.configs:
        for threads in args.threads:
            base = base_cpu = base_q = None
            for impl in args.impls:
                rs = [r for r in runs if r["config"] == config and r["threads"] == threads and r["impl"] == impl]
                med = {
                    k: statistics.median(r[k] for r in rs)
                    for k in ("seconds", "cpu", "words_per_s", "rss_mb") + quality
                }
                spread = {k: (min(r[k] for r in rs), max(r[k] for r in rs)) for k in quality}
                if impl == "gensim":
                    base, base_cpu, base_q = med["words_per_s"], med["cpu"], med
                sp = f"{med['words_per_s'] / base:.2f}x" if base else "-"
                sp_cpu = f"{base_cpu / med['cpu']:.2f}x" if base else "-"
                q = " | ".join(f"{med[k]:.4f} ({spread[k][0]:.3f}-{spread[k][1]:.3f})" for k in quality)
                delta = (
                    f"{med['analogy'] - base_q['analogy']:+.4f}, {med['ws353'] - base_q['ws353']:+.4f}"
                    if base_q is not None and impl != "gensim"
                    else "-"
                )
                print(
                    f"| {config} | {threads} | {impl} | {med['seconds']:.1f} | {med['cpu']:.1f} | "
                    f"{med['words_per_s'] / 1e3:.0f}k | {sp} | {sp_cpu} | {med['rss_mb']:.0f} | "
                    f"{med['rss_mb'] - base_rss.get(impl, 0):.0f} | {q} | {delta} |"
                )


if __name__ == "__main__":
    main()
