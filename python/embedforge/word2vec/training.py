"""The training loop: epochs, progress, loss and callbacks, the same whichever engine runs the updates."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .params import native

__all__ = ["EpochInfo", "Progress", "NativeEngine", "OpEngine", "run_epochs"]

ProgressFn = Callable[[int, float], None]  # (words done this epoch, current learning rate)


@dataclass(frozen=True)
class EpochInfo:
    """What a callback receives at the end of an epoch."""

    epoch: int  # 0-based epoch within this train() call
    words: int  # in-vocabulary words processed this epoch (before subsampling)
    examples: int  # predictions made this epoch
    loss: float  # summed logistic loss this epoch (float64; 0 unless compute_loss)
    seconds: float  # this epoch's wall time
    elapsed: float  # since train() began


class Progress:
    """A progress display: tqdm when installed, else one rewritten stderr line; or nothing."""

    def __init__(self, enabled: bool, total_words: int, epochs: int) -> None:
        self.enabled = enabled
        self.total = max(1, total_words * epochs)
        self.base = 0
        self.bar = None
        self.t0 = time.perf_counter()
        self.last = 0.0
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit="word", unit_scale=True, desc="word2vec", leave=False)
        except ImportError:
            self.bar = None

    def update(self, epoch_words: int, lr: float) -> None:
        if not self.enabled:
            return
        done = self.base + epoch_words
        now = time.perf_counter()
        if now - self.last < 0.2:
            return
        self.last = now
        if self.bar is not None:
            self.bar.n = min(done, self.total)
            self.bar.set_postfix(lr=f"{lr:.5f}", refresh=False)
            self.bar.refresh()
            return
        el = now - self.t0
        rate = done / el if el > 0 else 0.0
        eta = f"{(self.total - done) / rate:6.1f}s" if rate > 0 else "     ?"  # no estimate before any word
        pct = 100.0 * done / self.total
        sys.stderr.write(f"\rword2vec {pct:5.1f}%  {rate / 1e3:8.0f}k words/s  lr {lr:.5f}  ETA {eta} ")
        sys.stderr.flush()

    def end_epoch(self, words: int) -> None:
        self.base += words

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


class NativeEngine:
    """Epochs run by the native engine (reading, subsampling, windows, schedule and updates, on CPU threads)."""

    def __init__(self, model: Any, corpus: Any, epochs: int, alpha: float, min_alpha: float) -> None:
        self.model, self.corpus = model, corpus
        sub_offsets, sub_rows = model._subwords()
        self.trainer = native().Word2VecTrainer(
            model._in,
            model.syn1neg,
            model.syn1,
            model.counts,
            model.index_to_key if corpus.path is not None else None,
            sub_offsets,
            sub_rows,
            model._config(model.corpus_total_words * epochs, alpha, min_alpha),
        )

    def epoch(self, epoch: int, progress: ProgressFn) -> dict:
        """Train one pass; returns the engine's stats (words, examples, loss, seconds)."""
        trainer = self.trainer
        if self.corpus.path is not None:
            return trainer.train_file_epoch(epoch, self.corpus.path, progress)
        trainer.begin_epoch(epoch)
        try:
            for ids, ends in self.corpus.chunks(self.model.key_to_index):
                trainer.push(ids, ends)
                progress(trainer.words_done, trainer.lr)
            return trainer.end_epoch(progress)
        except BaseException:
            trainer.abort()
            raise


class OpEngine:
    """Skip-gram/NS epochs through the batched ``sgns_step`` op on a torch device (negatives shared per batch).

    The examples come from the native engine (``Word2VecPairStream``): its corpus reading, jobs,
    subsampling, window shrinking, learning-rate schedule and negative sampler, one job's shuffled
    pairs at a time; the device runs the updates. The tables live on the device during training and
    are copied back at the end of each epoch.
    """

    def __init__(
        self, model: Any, corpus: Any, epochs: int, alpha: float, min_alpha: float, device: str, batch: int = 512
    ) -> None:
        import torch

        if model.syn1neg is None or model.hs or not model.sg or model._subwords()[0] is not None:
            raise ValueError("the op path trains plain skip-gram with negative sampling only")
        self.model, self.corpus, self.device, self.batch = model, corpus, device, batch
        self.stream = native().Word2VecPairStream(
            model.counts,
            model.index_to_key if corpus.path is not None else None,
            model._config(model.corpus_total_words * epochs, alpha, min_alpha),
        )
        self.I = torch.from_numpy(model._in).to(device)
        self.O = torch.from_numpy(model.syn1neg).to(device)

    def _train(self, centers: np.ndarray, contexts: np.ndarray, lr: float) -> float:
        """One job's pairs in batches, each with its own negatives; returns their loss (0 unless compute_loss)."""
        import torch

        from ..ops.word2vec import sgns_step

        c = torch.from_numpy(centers).to(self.device)
        x = torch.from_numpy(contexts).to(self.device)
        batch, k, loss = self.batch, self.model.negative, 0.0
        for s in range(0, c.shape[0], batch):
            neg = torch.from_numpy(self.stream.negatives(k)).to(self.device)
            out = sgns_step(self.I, self.O, c[s : s + batch], x[s : s + batch], neg, lr)
            if self.model.compute_loss:
                loss += float(out.double().sum())
        return loss

    def _drain(self, stats: dict, progress: ProgressFn) -> None:
        while (job := self.stream.next()) is not None:
            centers, contexts, lr, words = job
            stats["loss"] += self._train(centers, contexts, lr)
            stats["examples"] += centers.shape[0]
            stats["words"] += words
            progress(self.stream.words_done, self.stream.lr)

    def epoch(self, epoch: int, progress: ProgressFn) -> dict:
        t0 = time.perf_counter()
        stats = {"words": 0, "examples": 0, "loss": 0.0}
        stream = self.stream
        try:
            if self.corpus.path is not None:
                stream.begin_file_epoch(epoch, self.corpus.path)
            else:
                stream.begin_epoch(epoch)
                for ids, ends in self.corpus.chunks(self.model.key_to_index):
                    stream.push(ids, ends)
                    self._drain(stats, progress)
                stream.end_input()
            self._drain(stats, progress)
        except BaseException:
            stream.abort()
            raise
        finally:
            self.model._in[...] = self.I.cpu().numpy()
            self.model.syn1neg[...] = self.O.cpu().numpy()
        stats["seconds"] = time.perf_counter() - t0
        return stats


def _call(callbacks: Sequence[Any], name: str, model: Any) -> None:
    for cb in callbacks:
        fn = getattr(cb, name, None)
        if fn is not None:
            fn(model)


def run_epochs(model: Any, engine: Any, epochs: int, callbacks: Sequence[Any]) -> tuple[int, int]:
    """Train `epochs` passes with `engine`; returns (examples, words) over them, as gensim's train()."""
    progress = Progress(model.progress, model.corpus_total_words, epochs)
    t0 = time.perf_counter()
    total_words = examples = 0
    model.running_training_loss = 0.0
    warned_empty = False
    _call(callbacks, "on_train_begin", model)
    try:
        for epoch in range(epochs):
            _call(callbacks, "on_epoch_begin", model)
            stats = engine.epoch(model.epochs_trained, progress.update)
            if epoch == 0 and stats["words"] == 0:
                raise ValueError("no in-vocabulary words were found in the corpus during training")
            progress.end_epoch(stats["words"])
            model.epochs_trained += 1
            total_words += stats["words"]
            examples += stats["examples"]
            # gensim's meaning: the loss summed over this train() call so far (per epoch in epoch_history).
            model.running_training_loss += float(stats["loss"])
            if stats["examples"] == 0 and stats["words"] > 0 and not warned_empty:
                warned_empty = True
                cause = (
                    f"subsampling (sample={model.sample}) drops most words of a corpus this small; set sample=0"
                    if model.sample > 0
                    else "every sentence holds fewer than 2 words of the vocabulary"
                )
                warnings.warn(
                    f"epoch {epoch}: {stats['words']} words but no training example (no word kept a context "
                    f"word): {cause}",
                    RuntimeWarning,
                    stacklevel=3,
                )
            info = EpochInfo(
                epoch,
                int(stats["words"]),
                int(stats["examples"]),
                float(stats["loss"]),
                float(stats["seconds"]),
                time.perf_counter() - t0,
            )
            model.epoch_history.append(info)
            model._wv = None
            for cb in callbacks:
                if hasattr(cb, "on_epoch_end"):
                    cb.on_epoch_end(model)
                elif callable(cb):
                    cb(info)
    finally:
        progress.close()
        model._wv = None
    _call(callbacks, "on_train_end", model)
    model.train_seconds = time.perf_counter() - t0
    return examples, total_words
