"""What a run prints: data summary, model summary and the results table (rich, to stderr/stdout)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

CLASSIFICATION_ROWS = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "precision_macro",
    "recall_macro",
    "roc_auc",
    "log_loss",
)
REGRESSION_ROWS = ("r2", "mae", "rmse", "mse", "mape")


def make_console(quiet: bool = False, stderr: bool = True) -> Console:
    """Results on stdout, progress and messages on stderr; lines are not broken when captured to a file."""
    console = Console(stderr=stderr, quiet=quiet, highlight=False)
    console.soft_wrap = not console.is_terminal
    return console


def print_lines(console: Console, title: str, lines: list[str]) -> None:
    if lines:
        console.print(f"[bold]{title}[/bold]")
        for line in lines:
            console.print(f"  • {line}")


def results_table(evaluation: dict[str, dict[str, Any]], task: str, metrics: list[str] | None = None) -> Table:
    rows = metrics or (CLASSIFICATION_ROWS if task == "classification" else REGRESSION_ROWS)
    splits = [s for s in ("validation", "test", "data") if evaluation.get(s)]
    table = Table(title="Results", title_justify="left")
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    for name in rows:
        values = [evaluation[s].get(name) for s in splits]
        table.add_row(name, *("—" if v is None else f"{v:.4f}" for v in values))
    return table


BASELINE_METRICS = {"classification": ("accuracy", "f1_macro"), "regression": ("rmse", "r2")}


def baselines_table(evaluation: dict[str, dict[str, Any]], baselines: dict[str, dict[str, Any]], task: str) -> Table:
    """The network beside the baselines fitted on the same training split: two metrics, each split, seconds."""
    splits = [s for s in ("validation", "test") if evaluation.get(s)]
    table = Table(title="Baselines (scikit-learn, same training split)", title_justify="left")
    table.add_column("model")
    metrics = BASELINE_METRICS[task]
    for name in metrics:
        for split in splits:
            table.add_column(f"{name}\n{split[:3] if split == 'validation' else split}", justify="right")
    table.add_column("fit s", justify="right")
    rows = [("network", evaluation, None)]
    rows += [(r["model"], r, r.get("seconds")) for r in baselines.values() if "skipped" not in r]
    columns = [[(scores.get(split) or {}).get(name) for _, scores, _ in rows] for name in metrics for split in splits]
    cells = [_numbers(values) for values in columns]
    for i, (label, _, seconds) in enumerate(rows):
        table.add_row(label, *(column[i] for column in cells), "" if seconds is None else f"{seconds:.1f}")
    return table


def _numbers(values: list[float | None]) -> list[str]:
    """One column's cells, with one number format (4 decimals, or 1 where a value reaches 100)."""
    wide = any(v is not None and abs(v) >= 100 for v in values)
    return ["—" if v is None else f"{v:,.1f}" if wide else f"{v:.4f}" for v in values]


def per_class_table(report: dict[str, Any]) -> Table:
    table = Table(title="Per class (test)", title_justify="left")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in report.get("per_class", {}).items():
        table.add_row(
            str(name),
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["support"]),
        )
    return table
