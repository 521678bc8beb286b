"""What a finished search leaves: a table of the best trials, ``best.yaml``, ``summary.json``, plots, ``summary.html``.

Machine-readable first: ``summary.json`` holds every trial; the HTML page is made from it, with the plots
embedded as base64 PNGs so the page is one self-contained file. The test split is read here once, from the
best trial's ``eval.json``; no other trial's test metrics are read.
"""

from __future__ import annotations

import base64
import html
import json
import os
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from deepfit.config import load_config
from deepfit.console import results_table
from deepfit.errors import TrainingError
from deepfit.runs import EVAL, read_json, write_json, write_text
from deepfit.tuning.space import decode_params

if TYPE_CHECKING:
    import optuna

    from deepfit.tuning.plan import Plan

BEST_CONFIG = "best.yaml"
SUMMARY_JSON = "summary.json"
SUMMARY_HTML = "summary.html"
TOP = 10


@dataclass
class TuneResult:
    dir: Path
    metric: str
    direction: str
    best_trial: int
    best_value: float
    best_params: dict[str, Any]  # config overrides, choices decoded
    best_run_dir: Path
    best_config: Path  # best.yaml: ``deepfit train`` it as it is
    test_metrics: dict[str, Any] | None  # the best trial's test split, the one look at it
    counts: dict[str, int]  # trials by state


def summarize(study: optuna.Study, plan: Plan, console: Any, *, plots: bool = True) -> TuneResult:
    """Print the best trials (results: to stdout), write the summary files; raises TrainingError when no trial
    completed."""
    from deepfit.console import make_console

    out = make_console(console.quiet, stderr=False)
    trials = study.get_trials(deepcopy=False)
    counts = dict(Counter(state_of(t) for t in trials))
    complete = _ranked(trials, plan.direction)
    out.print(best_table(complete[:TOP], plan.metric, counts))
    summary: dict[str, Any] = {
        "study": plan.study_name,
        "storage": plan.storage,
        "metric": plan.metric,
        "direction": plan.direction,
        "sampler": plan.tune.sampler.name,
        "pruner": plan.tune.pruner.name,
        "counts": counts,
        "best": None,
        "trials": [_trial_row(t, plan) for t in trials],
    }
    if complete:
        summary["best"] = _best(complete[0], plan)
    summary["plots"] = write_plots(study, plan.dir, len(plan.params), plan.metric) if plots else {}
    write_json(plan.dir / SUMMARY_JSON, summary)
    write_text(plan.dir / SUMMARY_HTML, render_html(summary, plan.dir))
    if not complete:
        reasons = sorted({t.user_attrs.get("fail_reason", "") for t in trials} - {""})
        raise TrainingError(
            f"no trial completed ({', '.join(f'{n} {s}' for s, n in counts.items()) or 'none ran'})"
            + (f"; failures: {'; '.join(reasons[:3])}" if reasons else ""),
            hint=f"see {plan.dir / SUMMARY_HTML}; fix the space or the config and rerun to continue the study",
        )
    best = summary["best"]
    _print_best(out, best)
    return TuneResult(
        dir=plan.dir,
        metric=plan.metric,
        direction=plan.direction,
        best_trial=best["number"],
        best_value=best["value"],
        best_params=best["params"],
        best_run_dir=Path(best["run_dir"]),
        best_config=Path(best["config"]),
        test_metrics=best["test"],
        counts=counts,
    )


def best_table(complete: list[optuna.trial.FrozenTrial], metric: str, counts: dict[str, int]) -> Table:
    table = Table(title=f"Best trials (validation {metric})", title_justify="left")
    for column in ("trial", metric, "state", "params"):
        table.add_column(column, justify="right" if column in ("trial", metric) else "left")
    for trial in complete:
        table.add_row(str(trial.number), f"{trial.value:.4f}", trial.state.name.lower(), format_params(trial.params))
    table.caption = f"{sum(counts.values())} trials: " + ", ".join(f"{n} {state}" for state, n in counts.items())
    return table


def state_of(trial: optuna.trial.FrozenTrial) -> str:
    """Optuna's state in lower case, or ``interrupted``: a trial Ctrl-C or a killed worker stopped, run again."""
    return "interrupted" if trial.user_attrs.get("interrupted") else trial.state.name.lower()


def format_params(params: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def write_best_config(plan: Plan, params: dict[str, Any], header: str) -> Path:
    """``best.yaml``: the full resolved config with the best parameters, ready for ``deepfit train``."""
    config = load_config(plan.config, params)
    raw = config.to_dict()
    raw.pop("tune", None)
    path = plan.dir / BEST_CONFIG
    # Data paths are relative to the config's folder; rewrite them relative to best.yaml's.
    for key in ("source", "validation_source", "test_source"):
        value = raw["data"].get(key)
        if value and not str(value).startswith("builtin:") and not Path(value).is_absolute():
            raw["data"][key] = _relative(config.resolve_path(value), plan.dir)
    raw["output"]["name"] = raw["output"]["name"] or plan.name
    import yaml

    write_text(path, header + yaml.safe_dump(raw, sort_keys=False))
    return path


def write_plots(study: optuna.Study, folder: Path, n_params: int, metric: str) -> dict[str, str]:
    """Optuna's matplotlib plots as PNGs; returns ``{name: file}``, or ``{name: "skipped: why"}``."""
    import matplotlib.pyplot as plt
    import numpy as np
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as plots

    n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    wanted: dict[str, tuple[Callable[..., Any], bool, str]] = {
        "optimization_history": (plots.plot_optimization_history, n_complete >= 1, "no completed trial"),
        "intermediate_values": (plots.plot_intermediate_values, n_complete >= 1, "no completed trial"),
        "param_importances": (
            plots.plot_param_importances,
            n_complete >= 2 and n_params >= 2,
            "needs 2 completed trials and 2 parameters",
        ),
        "parallel_coordinate": (plots.plot_parallel_coordinate, n_complete >= 2, "needs 2 completed trials"),
        "slice": (plots.plot_slice, n_complete >= 1, "no completed trial"),
    }
    written = {}
    for name, (plot, possible, why) in wanted.items():
        if not possible:
            written[name] = f"skipped: {why}"
            continue
        try:
            named = {} if name == "intermediate_values" else {"target_name": f"validation {metric}"}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                axes = plot(study, **named)
            figure = np.ravel(axes)[0].figure
            figure.savefig(folder / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(figure)
            written[name] = f"{name}.png"
        except Exception as exc:  # a plot is a nicety: one that fails must not lose the search's summary
            written[name] = f"skipped: {type(exc).__name__}: {exc}"
    return written


def render_html(summary: dict[str, Any], folder: Path) -> str:
    e = html.escape
    best = summary["best"]
    parts = [
        f"<h1>Tuning: {e(summary['study'])}</h1>",
        f"<p>{e(summary['direction'])} validation <b>{e(summary['metric'])}</b> · sampler {e(summary['sampler'])}"
        f" · pruner {e(summary['pruner'])} · "
        + ", ".join(f"{n} {e(s)}" for s, n in summary["counts"].items())
        + "</p>",
    ]
    if best:
        parts += [
            f"<h2>Best trial {best['number']}: {e(summary['metric'])} {best['value']:.4f}</h2>",
            _table(["parameter", "value"], [[k, json.dumps(v)] for k, v in best["params"].items()]),
            f"<p>Run: <code>{e(best['run_dir'])}</code> · config: <code>{e(best['config'])}</code></p>",
            "<h3>Test split (read once, for this trial only)</h3>",
            _table(["metric", "test"], [[k, _num(v)] for k, v in (best["test"] or {}).items() if _scalar(v)]),
        ]
    for name, file in summary["plots"].items():
        parts.append(f"<h2>{e(name.replace('_', ' '))}</h2>")
        if file.startswith("skipped"):
            parts.append(f"<p><i>{e(file)}</i></p>")
        else:
            data = base64.b64encode((folder / file).read_bytes()).decode("ascii")
            parts.append(f'<img alt="{e(name)}" src="data:image/png;base64,{data}">')
    rows = [
        [t["number"], t["state"], _num(t["value"]), json.dumps(t["params"]), t["epochs"] or "", t["note"]]
        for t in summary["trials"]
    ]
    parts += ["<h2>All trials</h2>", _table(["trial", "state", "value", "params", "epochs", "note"], rows)]
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}img{max-width:100%}code{font-size:90%}"
    )
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>{e(summary['study'])}</title>"
    return f"{head}<style>{style}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"


# ---------------------------------------------------------------- pieces
def _ranked(trials: list[optuna.trial.FrozenTrial], direction: str) -> list[optuna.trial.FrozenTrial]:
    from optuna.trial import TrialState

    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    sign = 1.0 if direction == "minimize" else -1.0
    return sorted(complete, key=lambda t: sign * float(t.value or 0.0))


def _best(trial: optuna.trial.FrozenTrial, plan: Plan) -> dict[str, Any]:
    params = decode_params(plan.params, trial.params)
    header = (
        f"# Best of {plan.study_name}: trial {trial.number}, validation {plan.metric} {trial.value:.6g}\n"
        f"# deepfit train {plan.dir / BEST_CONFIG}\n"
    )
    run_dir = Path(trial.user_attrs["run_dir"])
    # The one read of test metrics: the best trial's, chosen above on validation alone. With a database
    # storage shared by machines, the best run may lie on another machine: then there is nothing to read.
    evaluation = read_json(run_dir / EVAL) if (run_dir / EVAL).is_file() else {}
    if evaluation:  # trials skip report.html to save time; the best one gets it
        from deepfit.evaluation.report import build_report

        build_report(run_dir)
    return {
        "number": trial.number,
        "value": trial.value,
        "params": params,
        "run_dir": str(run_dir),
        "config": str(write_best_config(plan, params, header)),
        "validation": evaluation.get("validation"),
        "test": evaluation.get("test"),
    }


def _trial_row(trial: optuna.trial.FrozenTrial, plan: Plan) -> dict[str, Any]:
    attrs = trial.user_attrs
    note = attrs.get("fail_reason") or (
        f"pruned at epoch {attrs['pruned_at_epoch']}" if "pruned_at_epoch" in attrs else ""
    )
    return {
        "number": trial.number,
        "state": state_of(trial),
        "value": trial.value,
        "params": decode_params(plan.params, trial.params),
        "epochs": trial.last_step,
        "best_epoch": attrs.get("best_epoch"),
        "seconds": trial.duration.total_seconds() if trial.duration else None,
        "run_dir": attrs.get("run_dir"),
        "note": note,
    }


def _print_best(console: Any, best: dict[str, Any]) -> None:
    task = "classification" if "accuracy" in (best["validation"] or {}) else "regression"
    metrics = {k: best[k] for k in ("validation", "test") if best[k]}
    if metrics:
        console.print(results_table(metrics, task))
    else:
        console.print(f"[yellow]{best['run_dir']} is not on this machine[/yellow]: its metrics are in its eval.json")
    console.print(f"Best trial {best['number']}: {format_params(best['params'])}")
    console.print(f"  run {best['run_dir']}\n  config [bold]{best['config']}[/bold] (deepfit train it as it is)")


def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:  # another drive (Windows): keep it absolute
        return str(path.resolve())


def _table(header: list[str], rows: list[list[Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
