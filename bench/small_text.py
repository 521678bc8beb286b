"""Small text corpora: model.name auto's GRU, the ngram bag, and tf-idf + logistic regression, on one split.

    python bench/small_text.py docstrings        # 3,000 docstrings of numpy/pandas/scipy/torch, 4 classes
    python bench/small_text.py reviews           # examples/data/reviews.csv (python examples/make_text.py)
    python bench/small_text.py docstrings --models ngram tfidf --rows 1000

The docstring corpus is read from the installed packages' source files (parsed, not imported): the prose
before the first section (Parameters, Examples, ...), at most 80 words, with package names and aliases masked,
so the words must tell the topics apart. Every model sees the same train / validation / test rows: deepfit's
split from ``deepfit.data.pipeline.prepare``; tf-idf + LR trains on the train rows (no validation needed).
Times are training only (the tokenizer and the split are shared), on the threads PyTorch picks. Model and train
sections are deepfit's defaults (lr 1e-3, up to 100 epochs, early stopping after 10).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["numpy", "pandas", "scipy", "torch"]
GRU = {"name": "text_rnn", "rnn_type": "gru", "bidirectional": True, "pooling": "max", "rnn_layers": 1}


def docstring_corpus(per_class: int = 750, seed: int = 0) -> pd.DataFrame:
    """``per_class`` docstrings of each package, cleaned as the module docstring says; columns text, package."""
    from quality_text import package_docstrings  # bench/ is on the path when this runs as a script

    site = Path(np.__file__).parents[1]
    rng = np.random.default_rng(seed)
    rows = []
    for package in PACKAGES:
        ordered = sorted(set(package_docstrings(site / package, limit=10 * per_class, min_words=8)))
        pick = rng.choice(len(ordered), size=min(per_class, len(ordered)), replace=False)
        rows += [{"text": ordered[i], "package": package} for i in pick]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def config_for(corpus: str, path: Path) -> dict[str, Any]:
    """The data section (the reviews: examples/text_classification.yaml's tokenizer, without token dropout);
    model and train: the defaults."""
    if corpus == "reviews":
        text = {"text_column": "review", "vocab_size": 2000, "max_length": 64}
        return {"data": {"source": str(path), "target": "sentiment", "text": text}}
    return {"data": {"source": str(path), "target": "package", "text": {"text_column": "text"}}}


def model_for(name: str, n_train: int) -> dict[str, Any]:
    """``gru``: what model.name auto picked for small corpora before the ngram bag (width 64 below 1,000 texts)."""
    if name == "gru":
        width = 128 if n_train >= 1_000 else 64
        return {**GRU, "embedding_dim": width, "rnn_hidden": width}
    return {"name": name}


def run_deepfit(config: Any, prepared: Any, model: dict[str, Any]) -> tuple[float, float, str]:
    import torch

    from deepfit.evaluation.evaluate import predict_outputs
    from deepfit.models.select import describe_choice, resolve_model
    from deepfit.predictor import build_model
    from deepfit.training.trainer import Trainer

    model_config = config.model.model_copy(update=model)
    resolved, _ = resolve_model(model_config, prepared.spec)
    torch.manual_seed(config.train.seed)
    start = time.perf_counter()
    net = build_model(resolved, prepared.spec)
    Trainer(config.train).fit(net, prepared.tensors["train"], prepared.tensors.get("validation"))
    seconds = time.perf_counter() - start
    test = prepared.tensors["test"]
    accuracy = (predict_outputs(net, test.inputs, 1024).argmax(1) == test.target).float().mean().item()
    params = sum(p.numel() for p in net.parameters())
    return accuracy, seconds, f"{describe_choice(resolved)}, {params:,} parameters"


def run_tfidf(frames: dict[str, pd.DataFrame], column: str, target: str) -> tuple[float, float, str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    start = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=10.0, max_iter=2000)
    )
    model.fit(frames["train"][column], frames["train"][target].astype(str))
    seconds = time.perf_counter() - start
    accuracy = float((model.predict(frames["test"][column]) == frames["test"][target].astype(str)).mean())
    return accuracy, seconds, "word 1-2 grams, sublinear tf, C=10"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", choices=["docstrings", "reviews"])
    parser.add_argument("--rows", type=int, default=None, help="use the first ROWS rows only")
    parser.add_argument("--models", nargs="+", default=["gru", "ngram", "tfidf"], help="gru, tfidf, or a model.name")
    parser.add_argument("--set", nargs="*", default=[], help="dotted config overrides, e.g. train.lr=0.01")
    args = parser.parse_args()

    from deepfit.config import load_config
    from deepfit.data.pipeline import prepare

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.corpus}.csv"
        frame = docstring_corpus() if args.corpus == "docstrings" else pd.read_csv(ROOT / "examples/data/reviews.csv")
        frame.head(args.rows).to_csv(path, index=False)
        config = load_config(config_for(args.corpus, path), overrides=args.set)
        prepared = prepare(config)
    report = prepared.report
    column, target = report["text_column"], report["target"]
    print(f"{args.corpus}: splits {report['splits']}, {report['tokenizer']['vocab_size']} tokens", flush=True)
    for name in args.models:
        if name == "tfidf":
            accuracy, seconds, what = run_tfidf(prepared.frames, column, target)
        else:
            accuracy, seconds, what = run_deepfit(config, prepared, model_for(name, prepared.spec.n_train))
        print(f"| {name} | {what} | {accuracy:.3f} | {seconds:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
