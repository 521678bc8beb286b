"""Transfer learning for text, with numbers: a GRU pretrained on the sentiment of 4,000 reviews, fine-tuned to
predict the stars (1, 2, 4, 5) from 20 reviews per class, against the same GRU trained from scratch on them.

    python examples/transfer_text.py                # 5 seeds; about 6 minutes on two shared CPU cores
    python examples/transfer_text.py --seeds 3 --out runs/transfer_text

The reviews are the synthetic ones of examples/make_text.py (nothing is downloaded): the pretraining corpus and
the small one are drawn with different seeds, so they share no review. The fine-tuned runs reuse the source's
vocabulary (its embedding rows mean the same words); the stars need what sentiment taught (negation, "A, but B")
and one thing more, how strong the words are ("very", "truly"). Test: every other review of the small corpus.
Three arms, each trained on all the few reviews for the same epochs at the same rate (no validation split, so
no early stopping): from scratch; from the source's weights, every layer training; and from them with fastai's
fine_tune schedule (the head alone for a few epochs, then every layer, the embedding at lr / 10).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from make_text import make_reviews  # examples/make_text.py, beside this script

import deepfit

TEXT = {"text_column": "review", "tokenizer": "word", "max_length": 48}
MODEL = {"name": "text_rnn", "rnn_type": "gru", "embedding_dim": 32, "rnn_hidden": 32, "dropout": 0.2}
QUIET = {"eval": {"baselines": False}, "output": {"report": False}}
PRETRAIN: dict[str, Any] = {
    "data": {"target": "sentiment", "text": TEXT},
    "model": MODEL,
    "train": {"epochs": 8, "batch_size": 32, "lr": 0.003},
    **QUIET,
}
FEW_SHOT: dict[str, Any] = {  # every arm: the same data, model, epochs and rates
    "data": {"target": "stars", "text": TEXT, "split": {"train": 1.0, "validation": 0.0, "test": 0.0}},
    "model": MODEL,
    "train": {"epochs": 30, "batch_size": 16, "lr": 0.003},
    **QUIET,
}
FINE_TUNE = {"freeze": "body", "fine_tune": {"freeze_epochs": 2, "lr_mult": 10}}
ARMS = ("scratch", "init_from", "init_from + fine_tune")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="transfer_text-"))
    (out / "data").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # small models: one thread is faster than two that share cores with other work

    print("pretraining on the sentiment of 4,000 reviews ...")
    corpus = make_reviews(4000, seed=0).drop(columns="stars")
    deepfit.train(PRETRAIN, data=corpus, run_dir=out / "pretrain", verbose=False)

    small = make_reviews(2000, seed=1).drop(columns="sentiment")
    scores: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        chosen = np.concatenate(
            [rng.choice(np.flatnonzero(small["stars"] == s), args.per_class, replace=False) for s in (1, 2, 4, 5)]
        )
        few, test = out / "data" / f"few-{seed}.csv", out / "data" / f"rest-{seed}.csv"
        small.iloc[chosen].to_csv(few, index=False)
        small.drop(index=small.index[chosen]).to_csv(test, index=False)
        for index, arm in enumerate(ARMS):
            model = {**MODEL, "init_from": str(out / "pretrain")} if index else MODEL
            train = {**FEW_SHOT["train"], "seed": seed, **(FINE_TUNE if index == 2 else {})}
            data = {**FEW_SHOT["data"], "source": str(few), "test_source": str(test)}
            config = {**FEW_SHOT, "data": data, "model": model, "train": train}
            result = deepfit.train(config, run_dir=out / f"arm{index}-{seed}", verbose=False)
            scores[arm].append(float(result.metrics["test"]["accuracy"]))
        print(f"seed {seed}: " + ", ".join(f"{arm} {values[-1]:.3f}" for arm, values in scores.items()))

    n_test = len(small) - len(chosen)
    print(f"\ntest accuracy (stars) on the {n_test} other reviews, {args.per_class} per class to learn from:")
    for arm, values in scores.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {arm:<22} {statistics.mean(values):.3f} ± {spread:.3f}  ({', '.join(f'{v:.3f}' for v in values)})")
    print(f"runs in {out}")


if __name__ == "__main__":
    main()
