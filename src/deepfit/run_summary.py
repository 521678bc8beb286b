"""Summaries of finished runs, read from their files: the ``deepfit runs`` listing and ``--compare``.

Everything here is read defensively: a run still training, or one from an older deepfit, lacks some
files, and the listing shows what is there instead of failing on the whole folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from deepfit.config import flatten
from deepfit.errors import RunError
from deepfit.runs import CONFIG, DATA_REPORT, EVAL, METRICS, MODEL

if TYPE_CHECKING:
    from rich.console import JustifyMethod

HEADLINE = {"classification": ("accuracy", "f1_macro"), "regression": ("rmse", "r2")}


@dataclass
class RunSummary:
    path: Path
    name: str
    time: datetime
    task: str
    dataset: str
    epochs: int
    best_epoch: int | None
    monitor: str
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_report: dict[str, Any] = field(default_factory=dict)

    def metric(self, split: str, name: str) -> float | None:
        value = self.evaluation.get(split, {}).get(name)
        return value if isinstance(value, int | float) else None


def read_optional(path: Path) -> Any:
    """JSON, JSON lines or YAML by suffix; None when the file is absent or unreadable (e.g. half written)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":  # a cut-off last line (a writer killed mid-line) costs that line only
            return [row for row in map(_json_or_none, text.splitlines()) if row is not None]
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _json_or_none(line: str) -> Any:
    try:
        return json.loads(line) if line.strip() else None
    except ValueError:
        return None


def summarize_run(run_dir: str | Path) -> RunSummary:
    """What ``deepfit runs`` and the report header show, from the files of one run directory."""
    path = Path(run_dir)
    config = read_optional(path / CONFIG) or {}
    history = read_optional(path / METRICS) or []
    evaluation = read_optional(path / EVAL) or {}
    data_report = read_optional(path / DATA_REPORT) or {}
    meta = read_optional(path / MODEL / "meta.json") or {}
    task = (meta.get("spec") or {}).get("task") or data_report.get("task") or _task_from_metrics(evaluation)
    data_cfg, train_cfg = config.get("data") or {}, config.get("train") or {}
    stopping = train_cfg.get("early_stopping") or {}
    monitor = stopping.get("monitor") or "loss"
    return RunSummary(
        path=path,
        name=(config.get("output") or {}).get("name") or path.name,
        time=_finished_at(path),
        task=task or "unknown",
        dataset=str(data_cfg.get("source") or "in-memory frame"),
        epochs=len(history),
        best_epoch=best_epoch(history, monitor, float(stopping.get("min_delta") or 0.0)),
        monitor=monitor,
        config=config,
        history=history,
        evaluation=evaluation,
        data_report=data_report,
    )


def best_epoch(history: list[dict[str, Any]], monitor: str, min_delta: float = 0.0) -> int | None:
    """The epoch early stopping kept: best ``val_<monitor>``, else best ``train_loss`` (as the trainer does)."""
    from deepfit.evaluation.registry import is_better

    key = f"val_{monitor}" if any(f"val_{monitor}" in row for row in history) else "train_loss"
    name = monitor if key.startswith("val_") else "loss"
    best, epoch = None, None
    for i, row in enumerate(history):
        value = row.get(key)
        if isinstance(value, int | float) and is_better(name, value, best, min_delta):
            best, epoch = value, row.get("epoch", i + 1)
    return epoch


def find_runs(folder: str | Path) -> list[RunSummary]:
    """Runs directly inside ``folder`` (or ``folder`` itself when it is a run), oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(
            f"{folder} is not a folder", hint="pass the folder holding your runs (output.dir, default runs/)"
        )
    candidates = [folder] if _is_run(folder) else sorted(_children(folder))
    return sorted((summarize_run(p) for p in candidates), key=lambda s: s.time)


def resolve_run(name: str | Path, folder: str | Path = "runs") -> Path:
    """A run named as ``deepfit runs`` lists it, for ``--compare``.

    In order: ``name`` as a path; the run ``folder/name``; ``folder`` itself when it is the run of that name;
    the one run in ``folder`` whose directory name starts with ``name`` (``iris`` for ``iris-20240501-120301``).
    """
    folder = Path(folder)
    for path in (Path(name), folder / name):
        if _is_run(path):
            return path
    if _is_run(folder) and run_name(folder) == str(name):
        return folder
    text = str(name).rstrip("/")
    matches = sorted(p for p in _children(folder) if p.name.startswith(text)) if text else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(p.name for p in matches[:4]) + (f" and {len(matches) - 4} more" if len(matches) > 4 else "")
        raise RunError(f"{name} matches {len(matches)} runs in {folder}: {shown}", hint="give more of the run's name")
    raise RunError(f"{name} is not a deepfit run directory", hint=f"list the runs with `deepfit runs {folder}`")


def runs_tables(runs: list[RunSummary], where: str = "") -> list[RunsTable]:
    """One table per task (their headline metrics differ), one row per run, oldest first; each fits the width
    of the console it is printed on (:class:`RunsTable`)."""
    tasks = dict.fromkeys(r.task for r in runs)
    return [RunsTable(task, [r for r in runs if r.task == task], where) for task in tasks]


def run_name(path: Path) -> str:
    """How the listing names a run: its directory's name (that of the folder itself for ``deepfit runs .``)."""
    return path.absolute().name


def short_dataset(source: str) -> str:
    """A dataset as the listing shows it: ``builtin:iris`` as it is, a path by its file (or folder) name.

    >>> short_dataset("/home/ann/data/house_prices.csv"), short_dataset("builtin:iris")
    ('house_prices.csv', 'builtin:iris')
    """
    if source.startswith("builtin:"):
        return source
    return PurePath(source.rstrip("/\\")).name or source


Column = tuple[
    str, list[str], "JustifyMethod", int | None
]  # header, cells, justify, max width (None: as wide as its cells)


class RunsTable:
    """The runs of one task as a rich renderable that fits the width it is printed in.

    A run is named by its directory, on one line: what ``--compare`` takes. On a narrow console the other
    columns give way, in this order: the finished time is shortened, then dropped (a run directory's name
    carries its start time); the dataset is cut with an ellipsis; the second headline metric is dropped;
    then the dataset. Numbers are never cut.
    """

    def __init__(self, task: str, runs: list[RunSummary], where: str = "") -> None:
        self.task, self.runs, self.where = task, runs, where

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield self.table(options.max_width)

    def table(self, width: int | None = None) -> Any:
        """A rich Table of the richest layout that fits ``width`` characters (every column when None)."""
        from rich import box
        from rich.table import Table

        title = f"{self.task.capitalize()} runs{f' in {self.where}' if self.where else ''}"
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, padding=0)
        columns = self.columns(width)
        for header, _, justify, limit in columns:
            table.add_column(header, justify=justify, no_wrap=True, overflow="ellipsis", max_width=limit)
        for row in zip(*(cells for _, cells, _, _ in columns), strict=True):
            table.add_row(*row)
        return table

    def columns(self, width: int | None = None) -> list[Column]:
        runs = self.runs
        run: list[Column] = [("run", [run_name(r.path) for r in runs], "left", None)]
        numbers: list[Column] = [("epochs\n(best)", [_epochs(r) for r in runs], "right", None)]
        for metric in HEADLINE.get(self.task, ()):
            for split, short in (("validation", "val"), ("test", "test")):
                cells = [format_metric(r.metric(split, metric)) for r in runs]
                numbers.append((f"{metric}\n{short}", cells, "right", None))
        dataset: Column = ("dataset", [short_dataset(r.dataset) for r in runs], "left", None)
        first = numbers[:3]  # epochs and the first headline metric
        layouts = [
            [*run, ("finished", [r.time.strftime(fmt) for r in runs], "left", None), dataset, *numbers]
            for fmt in ("%Y-%m-%d %H:%M", "%m-%d %H:%M")
        ]
        for kept in (numbers, first):
            layouts.append([*run, dataset, *kept])
            room = (width or 0) - _width([*run, *kept]) - 1
            if room >= 8:  # enough of the dataset's name to recognise it
                layouts.append([*run, (*dataset[:3], room), *kept])
        layouts.append([*run, *first])
        return next((layout for layout in layouts if width is None or _width(layout) <= width), layouts[-1])


def _epochs(run: RunSummary) -> str:
    return f"{run.epochs}" + ("" if run.best_epoch is None else f" ({run.best_epoch})")


def _width(columns: list[Column]) -> int:
    """Characters a line of these columns takes: each as wide as its widest cell or header line, one space
    between (the table has no edges and no padding)."""
    from rich.cells import cell_len

    widths = [max(cell_len(text) for text in [*header.split("\n"), *cells]) for header, cells, _, _ in columns]
    widths = [min(w, limit) if limit else w for w, (*_, limit) in zip(widths, columns, strict=True)]
    return sum(widths) + len(widths) - 1


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted key, value in a, value in b)`` for every key whose values differ; a missing key is None."""
    flat_a, flat_b = flatten(a), flatten(b)
    return [
        (k, flat_a.get(k), flat_b.get(k))
        for k in sorted(flat_a.keys() | flat_b.keys())
        if flat_a.get(k) != flat_b.get(k)
    ]


def compare_tables(a: RunSummary, b: RunSummary) -> list[Any]:
    """Two rich tables: the config keys that differ, then every metric of both runs side by side."""
    from rich import box
    from rich.table import Table

    # runs by their directories, as the listing names them (runs of one config share output.name)
    name_a, name_b = run_name(a.path), run_name(b.path)
    diff = Table(title="Config differences", title_justify="left", box=box.SIMPLE_HEAD)
    diff.add_column("key")
    diff.add_column(name_a)
    diff.add_column(name_b)
    for key, left, right in config_diff(a.config, b.config):
        diff.add_row(key, _show(left), _show(right))
    if not diff.rows:
        diff.add_row("(none)", "", "")

    metrics = Table(title="Metrics", title_justify="left", box=box.SIMPLE_HEAD)
    metrics.add_column("metric")
    splits = [s for s in ("validation", "test") if a.evaluation.get(s) or b.evaluation.get(s)]
    for split in splits:
        metrics.add_column(f"{split}\n{name_a}", justify="right")
        metrics.add_column(f"{split}\n{name_b}", justify="right")
    metrics.add_row("epochs (best)", *[f"{r.epochs} ({r.best_epoch or '—'})" for _ in splits for r in (a, b)])
    for name in _scalar_metrics(a, b):
        metrics.add_row(name, *[format_metric(r.metric(s, name)) for s in splits for r in (a, b)])
    return [diff, metrics]


def format_metric(value: float | None) -> str:
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def _scalar_metrics(a: RunSummary, b: RunSummary) -> list[str]:
    names: list[str] = []
    for run in (a, b):
        for split in run.evaluation.values():
            names.extend(k for k, v in split.items() if isinstance(v, int | float) and k not in names)
    return names


def _show(value: Any) -> str:
    return "—" if value is None else json.dumps(value) if isinstance(value, list | dict | bool) else str(value)


def _children(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir() and _is_run(p)] if folder.is_dir() else []


def _is_run(path: Path) -> bool:
    return (path / CONFIG).is_file() and ((path / EVAL).is_file() or (path / METRICS).is_file())


def _finished_at(path: Path) -> datetime:
    for name in (EVAL, METRICS, CONFIG):
        if (path / name).is_file():
            return datetime.fromtimestamp((path / name).stat().st_mtime)
    return datetime.fromtimestamp(path.stat().st_mtime)


def _task_from_metrics(evaluation: dict[str, Any]) -> str | None:
    split: dict[str, Any] = next(iter(evaluation.values()), {})
    return "classification" if "accuracy" in split else "regression" if "rmse" in split else None
