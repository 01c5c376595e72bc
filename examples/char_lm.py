"""Character language models on the built-in corpus (stdlib docstrings), with generated text.

python examples/char_lm.py                  # Bengio MLP and the sequence RNN
python examples/char_lm.py --model all      # every model in embedforge.models.char_lm
python examples/char_lm.py --quick
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Callable, Sequence

import torch
from embedforge.data import Vocab, block_contexts, next_token_pairs, sequence_chunks, stdlib_text, tensor_loader
from embedforge.models import BengioMLP, Char3Model, CharLM, LoopRNN, SequenceRNN, TorchRNNModel
from embedforge.train import Trainer, flat_cross_entropy

__all__ = ["main", "MODELS", "unigram_cross_entropy"]

# name -> (factory(vocab_size), how to cut a stream into examples, loss, batch size)
MODELS: dict[str, tuple[Callable[[int], CharLM], Callable, Callable, int]] = {
    "bengio": (
        lambda v: BengioMLP(v, block_size=8, emb_dim=12, n_hidden=200),
        lambda ids: block_contexts([ids], 8),
        torch.nn.functional.cross_entropy,
        256,
    ),
    "char3": (
        lambda v: Char3Model(v, n_hidden=128),
        lambda ids: next_token_pairs(ids, 3),
        torch.nn.functional.cross_entropy,
        256,
    ),
    "loop-add": (
        lambda v: LoopRNN(v, n_hidden=128, mode="add"),
        lambda ids: next_token_pairs(ids, 8),
        torch.nn.functional.cross_entropy,
        256,
    ),
    "loop-concat": (
        lambda v: LoopRNN(v, n_hidden=128, mode="concat"),
        lambda ids: next_token_pairs(ids, 8),
        torch.nn.functional.cross_entropy,
        256,
    ),
    "rnn": (
        lambda v: TorchRNNModel(v, n_hidden=128, cell="rnn"),
        lambda ids: next_token_pairs(ids, 8),
        torch.nn.functional.cross_entropy,
        256,
    ),
    "seq": (
        lambda v: SequenceRNN(v, n_hidden=128, cell="gru"),
        lambda ids: sequence_chunks(ids, 32),
        flat_cross_entropy,
        32,
    ),
}


def unigram_cross_entropy(train_ids: Sequence[int], val_ids: Sequence[int], vocab_size: int) -> float:
    """Validation cross-entropy (nats) of the training set's character frequencies (add-half smoothed)."""
    counts = torch.bincount(torch.tensor(train_ids), minlength=vocab_size).double() + 0.5
    return -(counts / counts.sum())[torch.tensor(val_ids)].log().mean().item()


def main(argv: Sequence[str] | None = None) -> dict:
    """Train the chosen models; report validation loss against the unigram entropy; print samples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bengio,seq", help=f"comma list from {sorted(MODELS)} or 'all'")
    parser.add_argument("--quick", action="store_true", help="small corpus, one epoch")
    parser.add_argument("--chars", type=int, default=150_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = sorted(MODELS) if args.model == "all" else [n.strip() for n in args.model.split(",")]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(MODELS)} or 'all'")
    chars, epochs = (8000, 1) if args.quick else (args.chars, args.epochs)

    text = stdlib_text(max_chars=chars)
    cut = int(len(text) * 0.9)
    vocab = Vocab.build([text[:cut]])
    ids, vids = vocab.encode(text[:cut]), vocab.encode(text[cut:])
    unigram = unigram_cross_entropy(ids, vids, len(vocab))
    print(
        f"{len(text)} characters, {len(vocab)} symbols; unigram cross-entropy {unigram:.3f} nats "
        f"(uniform would be {math.log(len(vocab)):.3f})"
    )
    results = {"unigram": unigram}
    for name in names:
        make, examples, loss_fn, batch_size = MODELS[name]
        torch.manual_seed(args.seed)
        model = make(len(vocab))
        model.vocab = vocab
        x, y = examples(ids)
        vx, vy = examples(vids)
        trainer = Trainer(model, loss_fn, torch.optim.Adam(model.parameters(), lr=0.01))
        start = time.perf_counter()
        trainer.fit(
            tensor_loader(x, y, batch_size=batch_size, shuffle=True, seed=args.seed),
            tensor_loader(vx, vy, batch_size=2048),
            epochs=epochs,
        )
        val_loss = trainer.history.epochs[-1]["val_loss"]
        sample = model.generate("Return the ", 80, temperature=args.temperature, seed=args.seed)
        print(f"\n[{name}] validation loss {val_loss:.3f} nats ({time.perf_counter() - start:.0f}s)")
        print("   ", repr(sample))
        results[name] = {"val_loss": val_loss, "sample": sample}
    return results


if __name__ == "__main__":
    main()
