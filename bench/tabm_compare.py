"""TabM against deepfit's MLP defaults and HistGradientBoosting on the same splits (issue 9, part 2).

    .venv/bin/python bench/tabm_compare.py [--seeds 0 1 2] [--tasks iris wine ...] [--methods default tabm hgb]

Prints one line per run (JSON) and a table: test accuracy (classification) or R² (regression), wall and
process CPU seconds. HistGradientBoosting is fitted on the run's own train split (imputed, one-hot), with
the validation split for its early stopping.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

import deepfit

BUILTIN = ["iris", "wine", "breast_cancer", "digits", "diabetes"]


def generated(name: str) -> pd.DataFrame:
    """mixed3: 5,000 rows, 3 classes, numerics + categoricals + missing cells; skewed: a regression on
    log-normal numerics."""
    rng = np.random.default_rng(42)
    if name == "mixed3":
        n = 5000
        x = rng.normal(size=(n, 6))
        city = rng.choice([f"c{i}" for i in range(30)], size=n)
        colour = rng.choice(["red", "green", "blue", "grey", "black"], size=n)
        effect = {f"c{i}": e for i, e in enumerate(rng.normal(size=30))}
        score = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2]) + pd.Series(city).map(effect).to_numpy()
        score += (colour == "red") * 1.0 + 0.5 * rng.normal(size=n)
        target = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)]).assign(city=city, colour=colour)
        for column in ["x0", "x3", "city"]:
            frame.loc[rng.random(n) < 0.05, column] = None
        return frame.assign(target=target.astype(str))
    n = 3000
    x = rng.lognormal(sigma=1.2, size=(n, 5))
    y = np.log1p(x[:, 0]) * 2 + np.sqrt(x[:, 1]) - 0.3 * np.log1p(x[:, 2]) * x[:, 3] ** 0.5 + 0.3 * rng.normal(size=n)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(5)]).assign(target=y)


def config(task: str, method: str, seed: int) -> tuple[dict[str, Any], pd.DataFrame | None]:
    data = {"source": f"builtin:{task}"} if task in BUILTIN else {"target": "target"}
    frame = None if task in BUILTIN else generated(task)
    cfg: dict[str, Any] = {"data": data, "train": {"seed": seed}, "output": {"report": False}}
    if method == "tabm" or method.startswith("tabm:"):
        # tabm[:k,width]: the paper's size (32 x 512) unless given; scaling, lr, batch, epochs and patience are
        # deepfit's TabM recipe (models/select.py: tabm_training), as for any tabm run
        k, width = (int(v) for v in method.split(":")[1].split(",")) if ":" in method else (32, 512)
        cfg["model"] = {"name": "tabm", "tabm_k": k, "tabm_width": width}
    elif method == "mlp":
        cfg["model"] = {"name": "mlp"}
    return cfg, frame


def hgb(task: str, seed: int) -> dict[str, Any]:
    """HistGradientBoosting on the split deepfit makes (same seed), categoricals native."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from deepfit.config import load_config
    from deepfit.data.pipeline import prepare

    cfg, frame = config(task, "default", seed)
    prepared = prepare(load_config(cfg), frame)
    started = time.perf_counter(), time.process_time()
    x = {name: t.inputs[0].numpy() for name, t in prepared.tensors.items()}
    y = {name: t.target.numpy().ravel() for name, t in prepared.tensors.items()}
    cls = HistGradientBoostingClassifier if prepared.spec.task == "classification" else HistGradientBoostingRegressor
    model = cls(random_state=seed).fit(x["train"], y["train"])
    pred = model.predict(x["test"])
    if prepared.spec.task == "classification":
        score = float((pred == y["test"]).mean())
    else:
        score = float(1 - ((pred - y["test"]) ** 2).sum() / ((y["test"] - y["test"].mean()) ** 2).sum())
    return {"score": score, "wall": time.perf_counter() - started[0], "cpu": time.process_time() - started[1]}


def run(task: str, method: str, seed: int) -> dict[str, Any]:
    if method == "hgb":
        return hgb(task, seed)
    cfg, frame = config(task, method, seed)
    started = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        result = deepfit.train(cfg, data=frame, run_dir=f"{folder}/run", verbose=False)
    test = result.metrics["test"]
    score = test.get("accuracy", test.get("r2"))
    return {
        "score": score,
        "wall": time.perf_counter() - started[0],
        "cpu": time.process_time() - started[1],
        "epochs": len(result.history),
        "best": result.best_epoch,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=[*BUILTIN, "mixed3", "skewed"])
    parser.add_argument("--methods", nargs="+", default=["default", "tabm", "hgb"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    rows = []
    for task in args.tasks:
        for method in args.methods:
            for seed in args.seeds:
                row = {"task": task, "method": method, "seed": seed, **run(task, method, seed)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows).groupby(["task", "method"])[["score", "wall", "cpu"]].agg(["mean", "std"])
    print(table.round(3).to_string(), file=sys.stdout)


if __name__ == "__main__":
    main()
