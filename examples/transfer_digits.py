"""Does transfer learning pay here? A CNN pretrained on digits 0-4, fine-tuned on 20 images per class of digits
5-9, against the same CNN trained from scratch on those same 100 images (docs/transfer.md has the numbers).

    python examples/transfer_digits.py              # 5 seeds; about 4 minutes on two shared CPU cores
    python examples/transfer_digits.py --seeds 3 --per-class 5 --out runs/transfer_digits

scikit-learn's bundled 8x8 digits (no download) are written as PNG folders, one sub-folder per class:
``pretrain/`` holds every 0-4, ``few-<seed>/`` 20 images of each of 5-9 drawn with that seed, and ``rest-<seed>/``
every other 5-9 image, the test set of every arm. One source run serves every seed. Three arms, each trained on
all the few images for the same epochs at the same rate (no validation split: there are too few labels to
spare, so no early stopping either): from scratch; from the source's weights, every layer training; and from
them with fastai's fine_tune schedule (the head alone for a few epochs, then every layer, the first at lr / 10).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import deepfit

# the CNN of examples/digits_cnn.yaml, trained on digits 0-4 only
PRETRAIN: dict[str, Any] = {
    "data": {"kind": "image", "augment": {"rotate": 10, "translate": 0.1}},
    "model": {"name": "cnn", "channels": [32, 64, 128], "blocks": 1, "dropout": 0.2},
    "train": {"epochs": 15, "batch_size": 64, "lr": 0.003},
    "eval": {"baselines": False},
    "output": {"report": False},
}
# every arm: the same data, model, epochs and rates; only the start (and what trains when) differs
FEW_SHOT: dict[str, Any] = {
    "data": {
        "kind": "image",
        "augment": {"rotate": 10, "translate": 0.1},
        "split": {"train": 1.0, "validation": 0.0, "test": 0.0},  # the test set is data.test_source
    },
    "model": {"name": "cnn", "channels": [32, 64, 128], "blocks": 1, "dropout": 0.2},
    "train": {"epochs": 30, "batch_size": 16, "lr": 0.003},
    "eval": {"baselines": False},
    "output": {"report": False},
}
ARMS: dict[str, dict[str, Any]] = {
    "scratch": {},
    "init_from": {"model": {"init_from": "{source}"}},
    "init_from + fine_tune": {
        "model": {"init_from": "{source}"},
        "train": {"freeze": "body", "fine_tune": {"freeze_epochs": 2, "lr_mult": 10}},
    },
}


def write_digits(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    from PIL import Image

    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / str(label) / f"{i}.png")
    return folder


def run(config: dict[str, Any], source: Path, run_dir: Path, test: Path | None = None, **extra: Any) -> float:
    data = {**config["data"], "source": str(source)} | ({"test_source": str(test)} if test else {})
    model = {**config["model"], **extra.pop("model", {})}
    train = {**config["train"], **extra.pop("train", {})}
    result = deepfit.train({**config, "data": data, "model": model, "train": train}, run_dir=run_dir, verbose=False)
    return float(result.metrics["test"]["accuracy"]) if test else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="transfer_digits-"))
    torch.set_num_threads(1)  # small models: one thread is faster than two that share cores with other work

    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * 255 / 16).astype(np.uint8)  # 0..16 → 0..255, as builtin:digits reads them
    labels = digits.target
    old = labels < 5
    write_digits(out / "data" / "pretrain", images[old], labels[old])
    print(f"pretraining on {old.sum()} images of digits 0-4 ...")
    run(PRETRAIN, out / "data" / "pretrain", out / "pretrain")

    scores: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        chosen = np.concatenate(
            [rng.choice(np.flatnonzero(labels == d), args.per_class, replace=False) for d in range(5, 10)]
        )
        rest = np.setdiff1d(np.flatnonzero(~old), chosen)
        few = write_digits(out / "data" / f"few-{seed}", images[chosen], labels[chosen])
        test = write_digits(out / "data" / f"rest-{seed}", images[rest], labels[rest])
        for index, (arm, extra) in enumerate(ARMS.items()):
            model = {k: v.format(source=out / "pretrain") for k, v in extra.get("model", {}).items()}
            train = {**extra.get("train", {}), "seed": seed}
            scores[arm].append(run(FEW_SHOT, few, out / f"arm{index}-{seed}", test, model=model, train=train))
        print(f"seed {seed}: " + ", ".join(f"{arm} {values[-1]:.3f}" for arm, values in scores.items()))

    print(f"\ntest accuracy on the {len(rest)} other images of digits 5-9, {args.per_class} per class to learn from:")
    for arm, values in scores.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {arm:<22} {statistics.mean(values):.3f} ± {spread:.3f}  ({', '.join(f'{v:.3f}' for v in values)})")
    print(f"runs in {out}")


if __name__ == "__main__":
    main()
