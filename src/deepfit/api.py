"""The Python API: ``train``, ``evaluate``, ``predict``, ``inspect`` and ``load``.

The CLI is a thin layer over these functions; each returns plain results and prints only when asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from deepfit.config import Config, load_config
from deepfit.console import make_console, per_class_table, print_lines, results_table
from deepfit.errors import DataError
from deepfit.runs import CONFIG, DATA_REPORT, EVAL, new_run_dir, read_json, write_json, write_text


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, dict[str, Any]]  # {"validation": {...}, "test": {...}}, as in eval.json
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stop_reason: str = ""
    seconds: float = 0.0


def train(
    config: str | Path | dict[str, Any] | Config | None = None,
    *,
    data: pd.DataFrame | None = None,
    run_dir: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    quiet: bool = True,
    callbacks: list[Any] | None = None,
    resume: str | Path | None = None,
    **kwargs: Any,
) -> TrainResult:
    """Train and evaluate from a config; returns the run directory and the metrics.

    ``callbacks`` are extra objects with any of the training events (``deepfit.training.callbacks``).
    Keyword overrides use ``__`` for dots (``train__lr=3e-4``) or a section dict (``train={"lr": 3e-4}``).
    ``data`` is a DataFrame used instead of ``data.source``. ``resume`` is a run directory to continue
    from its last checkpoint, with its own config (or ``config``, if it is compatible).
    """
    from deepfit.data.clean import summarize
    from deepfit.data.pipeline import prepare
    from deepfit.evaluation.evaluate import epoch_metrics_fn, evaluate_data
    from deepfit.models.registry import size_key
    from deepfit.models.select import resolve_model
    from deepfit.predictor import build_model, save_model
    from deepfit.training.callbacks import Checkpointer, MetricsLog, ProgressBar
    from deepfit.training.diagnostics import Diagnostics
    from deepfit.training.loggers import build_loggers, require_loggers
    from deepfit.training.trainer import Trainer, check_settings, seed_everything

    started = time.perf_counter()
    checkpoint = None
    if resume is not None:
        cfg, checkpoint = _resume_config(resume, config, _merge_overrides(overrides, kwargs))
        run_dir = resume
    else:
        cfg = load_config(config, _merge_overrides(overrides, kwargs)).with_absolute_paths()
    console = make_console(quiet)
    require_loggers(cfg.output.loggers)
    check_settings(cfg.train)
    prepared = prepare(cfg, data)
    spec = prepared.spec
    print_lines(console, "Data", [*summarize(prepared.report), _splits_line(prepared.report)])
    name = cfg.output.name or (Path(config).stem if isinstance(config, str | Path) else "run")
    if cfg.model.name == "gan":  # two nets, two optimizers: a loop of its own (docs/gan.md)
        from deepfit.errors import ConfigError
        from deepfit.training.gan import train_gan

        if callbacks:
            raise ConfigError(
                "callbacks are not run by the GAN loop (model.name: gan): it has two optimizers and its own steps",
                hint="drop callbacks=..., or read the run's metrics.jsonl, which it writes every epoch",
            )

        return train_gan(cfg, prepared, name=name, run_dir=run_dir, console=console, resume=checkpoint, started=started)

    cfg.data.kind = spec.kind  # saved resolved, like model.name: the run never depends on detection again
    cfg.model, choice = resolve_model(cfg.model, spec)  # model.name auto → a concrete, saved architecture
    seed_everything(cfg.train.seed)  # the same config and seed give the same initial weights
    model = build_model(cfg.model, spec)
    n_params = sum(p.numel() for p in model.parameters())
    console.print(
        f"[bold]Model[/bold] {cfg.model.name} ({n_params:,} parameters) for {spec.task}, {spec.n_outputs} outputs"
    )
    if choice:
        console.print(f"  • chosen automatically: {choice}")

    run = new_run_dir(cfg.output.dir, name, run_dir)
    write_text(run / CONFIG, cfg.to_yaml())
    write_json(run / DATA_REPORT, prepared.report)

    pre_state = prepared.preprocessor.state
    scale = (pre_state.get("target_mean", 0.0), pre_state.get("target_std", 1.0))
    monitor = cfg.train.early_stopping.monitor
    n_classes = len(spec.class_names) if spec.task == "classification" else None
    diagnostics = (
        [
            Diagnostics(
                run,
                config=cfg.train.diagnostics,
                console=console,
                n_classes=n_classes,
                size_key=size_key(cfg.model.name),
            )
        ]
        if cfg.train.diagnostics.enabled
        else []
    )
    run_callbacks: list[Any] = [
        MetricsLog(run),
        *diagnostics,  # before the checkpointer, so that its findings are saved with the epoch
        Checkpointer(run, cfg.output.checkpoint_every, {"config": cfg.to_dict()}, cfg.output.checkpoint_seconds),
        *build_loggers(cfg.output.loggers, run, cfg.to_dict()),
        *(callbacks or []),
    ]
    if not quiet:
        run_callbacks.append(ProgressBar(f"val_{monitor}", console=console))
    trainer = Trainer(cfg.train, callbacks=run_callbacks, metrics_fn=epoch_metrics_fn(spec.task, monitor, scale))
    tensors = prepared.tensors
    fit = trainer.fit(model, tensors["train"], tensors.get("validation"), task=spec.task, resume=checkpoint)
    if cfg.train.lr == "auto":
        console.print(f"learning rate (auto, from the range test): {fit.lr:.3g}")
    if fit.stop_reason:
        console.print(fit.stop_reason)

    # The test split is touched once, here, with the restored best weights.
    report_args = {"task": spec.task, "class_names": spec.class_names, "target_scale": scale}
    metrics = {
        split: evaluate_data(model, tensors[split], cfg.eval.batch_size, spec, prepared.preprocessor)
        for split in ("validation", "test")
        if split in tensors
    }
    save_model(run, model, spec, prepared.preprocessor, cfg.model, choice=choice)
    write_json(run / EVAL, metrics)
    if "test" in tensors:  # the test rows are not stored; the report plots these predictions instead
        from deepfit.evaluation.predictions import write_test_predictions

        write_test_predictions(run, model, tensors["test"], cfg.eval.batch_size, **report_args)

    console.print(results_table(metrics, spec.task, cfg.eval.metrics))
    print_lines(console, "Test", metrics.get("test", {}).get("notes", []))  # e.g. a forecast against baselines
    if spec.task == "classification" and "test" in metrics and len(spec.class_names) <= 20:
        console.print(per_class_table(metrics["test"]))
    for diagnosis in diagnostics:
        print_lines(console, "Diagnostics", diagnosis.summary_lines())
    if cfg.output.report:
        from deepfit.evaluation.report import write_report

        write_report(run, console)
    seconds = time.perf_counter() - started
    console.print(f"Run saved to [bold]{run}[/bold] ({seconds:.1f} s, best epoch {fit.best_epoch} of {fit.epochs})")
    return TrainResult(run, metrics, fit.history, fit.best_epoch, fit.stop_reason, seconds)


def lr_find(
    config: str | Path | dict[str, Any] | Config | None = None,
    *,
    data: pd.DataFrame | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    plot_path: str | Path | None = "lr_find.png",
) -> Any:
    """The learning-rate range test on the config's model and training split; writes a plot."""
    from deepfit.data.pipeline import prepare
    from deepfit.models.select import resolve_model
    from deepfit.predictor import build_model
    from deepfit.training.losses import build_loss
    from deepfit.training.lr_finder import find_lr, plot
    from deepfit.training.trainer import resolve_device, seed_everything

    cfg = load_config(config, overrides)
    prepared = prepare(cfg, data)
    spec, train_data = prepared.spec, prepared.tensors["train"]
    cfg.model, _ = resolve_model(cfg.model, spec)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, spec)
    device = resolve_device(cfg.train.device)
    counts = train_data.target.bincount() if spec.task == "classification" else None
    loss = build_loss(cfg.train, spec.task, counts)
    result = find_lr(model.to(device), train_data, cfg.train, loss=loss.to(device), device=device)
    if plot_path is not None:
        plot(result, str(plot_path))
    return result


def _resume_config(
    run_dir: str | Path, config: Any, overrides: list[str] | dict[str, Any] | None
) -> tuple[Config, dict[str, Any]]:
    """The config to resume with, and the checkpoint; a config whose data or model differ is refused."""
    from deepfit.errors import RunError
    from deepfit.runs import CHECKPOINTS
    from deepfit.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(Path(run_dir) / CHECKPOINTS / "last.pt")
    saved = load_config(checkpoint["config"])
    cfg = load_config(config if config is not None else saved, overrides).with_absolute_paths()
    if config is not None and cfg.model.name == "auto":
        cfg.model = saved.model  # auto was resolved when the run started
    if config is not None and cfg.data.kind == "auto":
        cfg.data.kind = saved.data.kind  # so was the data's kind
    changed = [
        key
        for section in ("data", "model")
        for key, value in _flatten(getattr(cfg, section).model_dump(mode="json"), f"{section}.").items()
        if _flatten(getattr(saved, section).model_dump(mode="json"), f"{section}.").get(key) != value
    ]
    if changed:
        raise RunError(
            f"{run_dir}: its checkpoint was trained with a different config ({', '.join(changed[:8])} differ)",
            hint="resume with the run's own config (deepfit train --resume RUN_DIR, no CONFIG), or start a new run",
        )
    return cfg, checkpoint


def load(run_dir: str | Path) -> Any:
    """The trained model of a run with its preprocessing: ``load(run).predict(frame)``."""
    from deepfit.predictor import Predictor

    return Predictor.load(run_dir)


def predict(run_dir: str | Path, data: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Predictions for raw input (a DataFrame, or a file or folder), with the run's saved preprocessing."""
    return load(run_dir).predict(data)


def evaluate(run_dir: str | Path, data: str | Path | pd.DataFrame | None = None) -> dict[str, Any]:
    """Metrics on new labelled data, or the run's stored ``eval.json`` when ``data`` is None."""
    if data is None:
        load(run_dir)  # checks the run is complete
        return read_json(Path(run_dir) / EVAL)
    return {"data": load(run_dir).evaluate(data)}


def inspect(
    data: str | Path | pd.DataFrame,
    *,
    target: str | None = None,
    config: str | Path | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The data report (schema, duplicates, missing, conflicts, imbalance, splits) without training.

    The data takes the path a run would: its kind is detected (a table, images, text, series), then it is
    read and cleaned as ``deepfit train`` would; a table's report covers the whole table (before any split),
    other kinds are also split and prepared, as their report says how. A path is relative to the working
    directory.
    """
    from deepfit.data.pipeline import inspect_frame, load_frame, prepare, resolve_kind

    overrides: dict[str, Any] = {"data.target": target} if target else {}
    frame = data if isinstance(data, pd.DataFrame) else None
    if frame is None:
        source = str(data)
        overrides["data.source"] = source if source.startswith("builtin:") else str(Path(source).resolve())
    cfg = load_config(config, overrides or None).with_absolute_paths()
    cfg.data.kind = resolve_kind(cfg, frame)  # detected once; prepare() takes it as given
    if cfg.data.kind == "tabular":  # the whole table's report: no split, which small data may fail
        return inspect_frame(cfg, load_frame(cfg, frame))[2]
    return prepare(cfg, frame).report


def _splits_line(report: dict[str, Any]) -> str:
    return "splits: " + ", ".join(f"{k} {v}" for k, v in report["splits"].items())


def _merge_overrides(
    overrides: list[str] | dict[str, Any] | None, kwargs: dict[str, Any]
) -> list[str] | dict[str, Any] | None:
    if not kwargs:
        return overrides
    merged: dict[str, Any] = {}
    if isinstance(overrides, dict):
        merged.update(overrides)
    elif overrides:
        from deepfit.config import _parse_overrides

        merged.update(_parse_overrides(overrides))
    for key, value in kwargs.items():
        if isinstance(value, dict) and "__" not in key:
            merged.update({f"{key}.{k}": v for k, v in _flatten(value).items()})
        else:
            merged[key.replace("__", ".")] = value
    return merged


def _flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict) and key not in ("column_types",):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


__all__ = ["DataError", "TrainResult", "evaluate", "inspect", "load", "predict", "train"]
