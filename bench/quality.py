"""Does deepfit with its defaults train a model as good as a practitioner's? Baselines on the same splits.

    .venv/bin/python bench/quality.py                      # every task, 3 seeds
    .venv/bin/python bench/quality.py --quick              # small tasks, 1 seed
    .venv/bin/python bench/quality.py --tasks churn,iris --seeds 5 --json out.json
    .venv/bin/python bench/quality.py --max-rows 10000 --seeds 1
    .venv/bin/python bench/quality.py --quick --set model.name=mlp   # another recipe against the same baselines

For each task and seed: the task's table is written to a CSV in the cache folder (default
/tmp/deepfit_quality_cache, outside the repository); deepfit trains exactly as `deepfit train` does with only
data.source / data.target set (and train.seed); its splits are read back with deepfit's own pipeline
(`prepare`), and the baselines of bench/quality_baselines.py are fitted on those rows. Everything is scored on
the test split with one metric: accuracy (classification) or R² (regression); macro-F1 / RMSE go to the JSON.

The verdict compares deepfit's mean with the best baseline's mean: a tie within one sd of the best baseline
(over seeds; with one seed, a fixed 0.01), a win above, a loss below. deepfit's numbers are measured, not tuned.
Prints one table to stdout, progress to stderr, and writes every figure to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # quality_tasks, quality_text, quality_baselines

import pandas as pd
from quality_baselines import run_baselines
from quality_tasks import Task, tasks

SINGLE_SEED_TOLERANCE = 0.01
BASELINES = ("linear", "hgb")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table_path(task: Task, cache: Path) -> Path:
    path = cache / f"{task.name}.csv"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        frame = task.make()
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
        log(f"  wrote {path} ({len(frame):,} rows, {time.perf_counter() - started:.1f} s)")
    return path


def deepfit_config(path: Path, seed: int, out_dir: str) -> dict[str, Any]:
    return {
        "data": {"source": str(path), "target": "target"},
        "output": {"dir": out_dir, "report": False},
        "train": {"seed": seed},
    }


def run_seed(path: Path, seed: int, overrides: list[str] | None = None) -> dict[str, Any]:
    """deepfit and the baselines on one seed's split; each part that fails is an error entry, not a crash."""
    import deepfit
    from deepfit.config import load_config
    from deepfit.data.pipeline import prepare

    record: dict[str, Any] = {"seed": seed}
    with tempfile.TemporaryDirectory(prefix="deepfit_quality_") as out_dir:
        cfg = deepfit_config(path, seed, out_dir)
        try:
            prepared = prepare(load_config(cfg).with_absolute_paths())
            task = prepared.spec.task
            text_column = prepared.spec.extra.get("text_column") if prepared.spec.kind == "text" else None
            record.update(kind=prepared.spec.kind, task=task, splits={k: len(v) for k, v in prepared.frames.items()})
            record["baselines"] = run_baselines(prepared.frames, "target", task, text_column)
        except Exception as error:
            record["baselines_error"] = f"{type(error).__name__}: {error}"
            task = None
        started = time.perf_counter()
        try:
            result = deepfit.train(cfg, overrides=overrides, verbose=False)
            test = result.metrics["test"]
            classification = "accuracy" in test
            record["deepfit"] = {
                "score": test["accuracy"] if classification else test["r2"],
                "second": test["f1_macro"] if classification else test["rmse"],
                "best_epoch": result.best_epoch,
                "epochs": len(result.history),
                "test_rows": test.get("n_samples"),
            }
        except Exception as error:
            record["deepfit"] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
        record["deepfit"]["seconds"] = time.perf_counter() - started
        test_rows = record.get("splits", {}).get("test")
        if task and test_rows and record["deepfit"].get("test_rows") not in (None, test_rows):
            record["split_mismatch"] = (
                f"deepfit scored {record['deepfit']['test_rows']} test rows, baselines {test_rows}"
            )
    return record


def summarize(name: str, task: Task, rows: int, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    def values(method: str, key: str = "score") -> list[float]:
        found = [s.get("baselines", {}).get(method, {}) if method != "deepfit" else s["deepfit"] for s in seeds]
        return [f[key] for f in found if key in f]

    summary: dict[str, Any] = {"task": name, "kind": task.kind, "rows": rows, "seeds": seeds}
    task_kind = next(
        (s["task"] for s in seeds if "task" in s), "classification" if "class" in task.kind else "regression"
    )
    summary["metric"] = "accuracy" if task_kind == "classification" else "r2"
    for method in ("deepfit", *BASELINES, "majority"):
        scores = values(method)
        summary[method] = {
            "mean": statistics.fmean(scores) if scores else None,
            "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "n": len(scores),
            "second_mean": statistics.fmean(values(method, "second")) if values(method, "second") else None,
            "seconds_mean": statistics.fmean(values(method, "seconds")) if values(method, "seconds") else None,
        }
    errors = [s["deepfit"]["error"] for s in seeds if "error" in s["deepfit"]]
    errors += [s["baselines_error"] for s in seeds if "baselines_error" in s]
    summary["errors"] = sorted(set(errors))
    baselines = [(summary[m]["mean"], summary[m]["sd"], m) for m in BASELINES if summary[m]["mean"] is not None]
    deep = summary["deepfit"]["mean"]
    if deep is None or not baselines:
        summary["verdict"] = "error"
        return summary
    best, sd, which = max(baselines)
    tolerance = sd if summary[which]["n"] > 1 else SINGLE_SEED_TOLERANCE
    summary["best_baseline"], summary["tolerance"] = which, tolerance
    summary["verdict"] = "win" if deep > best + tolerance else "tie" if deep >= best - tolerance else "loss"
    floor = summary["majority"]["mean"]
    summary["above_majority"] = floor is None or deep >= floor - 1e-9  # "never below the majority predictor"
    summary["at_majority"] = floor is not None and abs(deep - floor) <= 1e-9
    return summary


def _cell(stats: dict[str, Any], with_sd: bool) -> str:
    if stats["mean"] is None:
        return "—"
    return f"{stats['mean']:.3f}±{stats['sd']:.3f}" if with_sd and stats["n"] > 1 else f"{stats['mean']:.3f}"


def print_table(summaries: list[dict[str, Any]]) -> None:
    header = [
        "task",
        "kind",
        "rows",
        "metric",
        "deepfit",
        "linear",
        "hgb",
        "majority",
        "deepfit s",
        "base s",
        "verdict",
    ]
    lines = []
    for s in summaries:
        base_s = sum(s[m]["seconds_mean"] or 0.0 for m in BASELINES)
        deep_s = s["deepfit"]["seconds_mean"]
        verdict = s["verdict"] if s["verdict"] != "error" else "error: " + "; ".join(s["errors"])[:100]
        if s.get("above_majority") is False:
            verdict += " (below majority)"
        elif s.get("at_majority"):
            verdict += " (= majority)"
        lines.append([
            s["task"], s["kind"].replace("-classification", ""), f"{s['rows']:,}", s["metric"],
            _cell(s["deepfit"], True), _cell(s["linear"], True), _cell(s["hgb"], True), _cell(s["majority"], False),
            f"{deep_s:.1f}" if deep_s is not None else "—", f"{base_s:.1f}", verdict,
        ])  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]
    right = {2, 4, 5, 6, 7, 8, 9}
    for row in [header, ["-" * w for w in widths], *lines]:
        print(
            "  ".join(
                str(v).rjust(w) if i in right else str(v).ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    scored = [s for s in summaries if s["verdict"] != "error"]
    good = sum(s["verdict"] in ("win", "tie") for s in scored)
    wins, ties, losses = (sum(s["verdict"] == v for s in scored) for v in ("win", "tie", "loss"))
    floor_ok = all(s.get("above_majority", True) for s in scored)
    print(
        f"\ndeepfit >= best baseline - 1 sd on {good} of {len(scored)} tasks "
        f"(win {wins}, tie {ties}, loss {losses}; errors {len(summaries) - len(scored)}); "
        f"never below majority: {'yes' if floor_ok else 'no'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", help="comma-separated task names (default: all; --quick: the small ones)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (split and initialisation)")
    parser.add_argument("--quick", action="store_true", help="1 seed, small tasks only")
    parser.add_argument("--max-rows", type=int, help="skip tasks with more rows than this")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a config override for deepfit's runs"
    )
    parser.add_argument("--json", type=Path, default=Path("/tmp/deepfit_quality.json"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/deepfit_quality_cache"), help="the tasks' CSVs")
    args = parser.parse_args()

    suite = tasks()
    if args.tasks:
        unknown = [n for n in args.tasks.split(",") if n not in suite]
        if unknown:
            parser.error(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(suite)}")
        chosen = [suite[n] for n in args.tasks.split(",")]
    else:
        chosen = [t for t in suite.values() if t.small or not args.quick]
    seeds = 1 if args.quick else args.seeds
    started, summaries = time.perf_counter(), []
    for task in chosen:
        log(f"{task.name}:")
        try:
            path = table_path(task, args.cache)
            rows = len(pd.read_csv(path, usecols=["target"]))
        except Exception as error:
            log(f"  could not build the table: {type(error).__name__}: {error}")
            summaries.append(summarize(task.name, task, 0, [{"seed": 0, "deepfit": {"error": f"table: {error}"}}]))
            continue
        if args.max_rows and rows > args.max_rows:
            log(f"  skipped: {rows:,} rows > --max-rows {args.max_rows:,}")
            continue
        records = []
        for seed in range(seeds):
            record = run_seed(path, seed, args.set)
            deep = record["deepfit"]
            shown = f"{deep['score']:.4f}" if "score" in deep else deep["error"]
            base = {m: round(v["score"], 4) for m, v in record.get("baselines", {}).items() if "score" in v}
            log(f"  seed {seed}: deepfit {shown} ({deep['seconds']:.1f} s); {base}")
            records.append(record)
        summaries.append(summarize(task.name, task, rows, records))
    print_table(summaries)
    total = time.perf_counter() - started
    print(f"{len(chosen)} tasks x {seeds} seed(s) in {total:.0f} s")
    args.json.write_text(json.dumps({"seeds": seeds, "seconds": total, "tasks": summaries}, indent=1, default=str))
    log(f"figures: {args.json}")


if __name__ == "__main__":
    main()
