"""Random search against Bayesian (TPE) search on the same budget, over several sampler seeds.

    .venv/bin/python bench/tuning.py                      # digits, 20 trials x 3 seeds per sampler
    .venv/bin/python bench/tuning.py --trials 30 --seeds 5 --dataset wine

Both samplers search the same space of a small MLP (learning rate, weight decay, dropout, width, batch size)
with the same training seed, so they optimise the same function; only the sampler and its seed differ.
Pruning is off so that every trial runs to the end. Prints the best validation log loss reached after each
number of trials (mean over seeds), the ratio TPE / random (below 1: TPE is ahead), and the test accuracy of
the model each search chose (read once per search, from its best trial).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

import deepfit
from deepfit.tuning.study import open_storage

SPACE = {
    "train.lr": {"float": [1e-4, 0.3], "log": True},
    "train.weight_decay": {"float": [1e-6, 0.1], "log": True},
    "model.dropout": {"float": [0.0, 0.6]},
    "model.hidden": {"choice": [[32], [64], [128], [64, 64]]},
    "train.batch_size": {"int": [16, 128], "step": 16},
}


def config(dataset: str, epochs: int, sampler: dict, seed: int, trials: int) -> dict:
    return {
        "data": {"source": f"builtin:{dataset}", "target": "target"},
        "model": {"hidden": [64]},
        "train": {"epochs": epochs, "early_stopping": {"patience": 3}},
        "tune": {
            "space": SPACE,
            "metric": "loss",
            "sampler": sampler,
            "pruner": "none",
            "seed": seed,
            "trials": trials,
        },
    }


def best_so_far(folder: Path, trials: int) -> list[float]:
    """The best validation loss after 1..trials trials, in trial order (a failed trial keeps the best)."""
    study = optuna.load_study(study_name=folder.name, storage=open_storage(str(folder / "study.journal")))
    curve, best = [], float("inf")
    for trial in sorted(study.trials, key=lambda t: t.number)[:trials]:
        if trial.state == TrialState.COMPLETE:
            best = min(best, trial.value)
        curve.append(best)
    return curve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--startup", type=int, default=5, help="TPE's random start-up trials")
    args = parser.parse_args()

    samplers = {"random": {"name": "random"}, "tpe": {"name": "bayesian", "startup_trials": args.startup}}
    curves: dict[str, list[list[float]]] = {name: [] for name in samplers}
    tests: dict[str, list[float]] = {name: [] for name in samplers}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for name, sampler in samplers.items():
                folder = Path(tmp) / f"{name}-{seed}"
                cfg = config(args.dataset, args.epochs, sampler, seed, args.trials)
                result = deepfit.tune(cfg, tune_dir=folder, workers=args.workers, plots=False)
                curves[name].append(best_so_far(folder, args.trials))
                tests[name].append(result.test_metrics["accuracy"])
                print(f"  {name:6} seed {seed}: best val loss {curves[name][-1][-1]:.4f}", file=sys.stderr)

    print(
        f"\n{args.dataset}: best validation log loss after n trials, mean over {args.seeds} seeds "
        f"({args.epochs} epochs per trial, TPE start-up {args.startup}, {args.workers} workers)"
    )
    print(f"{'n':>4} {'random':>10} {'tpe':>10} {'tpe/random':>11}")
    for n in sorted({1, 2, 5, 10, 15, args.trials} & set(range(1, args.trials + 1))):
        r = statistics.mean(c[n - 1] for c in curves["random"])
        t = statistics.mean(c[n - 1] for c in curves["tpe"])
        print(f"{n:>4} {r:>10.4f} {t:>10.4f} {t / r:>11.3f}")
    for name in samplers:
        each = ", ".join(f"{v:.4f}" for v in tests[name])
        print(f"test accuracy of the chosen model, {name}: {statistics.mean(tests[name]):.4f} ({each})")
    print(f"({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
