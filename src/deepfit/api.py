"""The Python API: ``train``, ``evaluate``, ``predict``, ``inspect`` and ``load``.

The CLI is a thin layer over these functions; each returns plain results and prints only when asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from deepfit.config import Config, load_config, merge_overrides
from deepfit.console import baselines_table, make_console, per_class_table, print_lines, results_table
from deepfit.errors import ConfigError, DataError
from deepfit.resume import check_same_data, resume_config
from deepfit.runs import CONFIG, DATA_REPORT, EVAL, read_json, write_json, write_text


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
    verbose: bool | None = None,
    quiet: bool | None = None,
    callbacks: list[Any] | None = None,
    resume: str | Path | None = None,
    overwrite: bool = False,
    trust_code: bool = False,
    allow_changed_data: bool = False,
    **kwargs: Any,
) -> TrainResult:
    """Train and evaluate from a config; returns the run directory and the metrics.

    ``callbacks`` are extra objects with any of the training events (``deepfit.training.callbacks``).
    Keyword overrides use ``__`` for dots (``train__lr=3e-4``) or a section dict (``train={"lr": 3e-4}``).
    ``data`` is a DataFrame used instead of ``data.source``. ``resume`` is a run directory to continue
    from its last checkpoint, with its own config (or ``config``, if it is compatible); a run whose data
    changed since is refused unless ``allow_changed_data``, and a finished run is returned unchanged.
    ``run_dir`` must not hold a run already (``overwrite=True`` replaces it). ``verbose`` shows progress and
    results (default: when stderr is a terminal or in a notebook; ``quiet=True`` is ``verbose=False``).
    A model built by your own code in a resumed run runs that code: ``trust_code=True`` says you trust it.
    """
    from deepfit.data.fingerprint import fingerprint
    from deepfit.launch import is_main
    from deepfit.runs import run_path
    from deepfit.training import distributed
    from deepfit.training.loggers import require_loggers
    from deepfit.training.trainer import check_settings

    started = time.perf_counter()
    verbose = _verbose(verbose, quiet) and is_main()  # several processes: rank 0 alone prints
    consoles = make_console(not verbose), make_console(not verbose, stderr=False)  # messages, results
    checkpoint = None
    if resume is not None:
        finished = _finished_run(Path(resume), consoles[0])
        if finished is not None:
            return finished
        cfg, checkpoint = resume_config(resume, config, merge_overrides(overrides, kwargs), trust_code)
        path, name = Path(resume), Path(resume).name
    else:
        cfg = load_config(config, merge_overrides(overrides, kwargs)).with_absolute_paths()
        name = cfg.output.name or (Path(config).stem if isinstance(config, str | Path) else "run")
        path = run_path(cfg.output.dir, name, run_dir)
    require_loggers(cfg.output.loggers)
    check_settings(cfg.train)
    source = _init_source(cfg, trust_code)  # model.init_from's run, read before the run directory is claimed
    if cfg.model.name == "gan" and checkpoint is None:  # refuse train keys a GAN would not use; fixed rates
        from deepfit.training.gan import gan_training

        cfg.train = gan_training(cfg.train)
    # several processes: rank 0 alone claims (and writes) the run directory; the others get its path
    claim = distributed.claim_on_rank0(path, cfg.train, resume=resume is not None, overwrite=overwrite)
    with claim as (run_dir, group):
        if group is not None and cfg.model.name == "gan":
            raise ConfigError("model.name gan trains in one process only", hint="train without --devices")
        prints = fingerprint(cfg, data)
        if checkpoint is not None:
            check_same_data(run_dir, checkpoint, prints, allow_changed_data, consoles[0])
        prepared = _prepare(cfg, data, consoles[0], source)
        payload = {"config": None, "data_fingerprint": prints, **_source_payload(source, checkpoint)}
        main = group is None or group.main
        run = _Run(run_dir, *consoles, payload, started, source=source, main=main, group=group is not None)
        if cfg.model.name == "gan":
            return _train_gan(cfg, prepared, run, checkpoint, callbacks)
        return _train_network(cfg, prepared, run, checkpoint, callbacks)


def _prepare(cfg: Config, data: pd.DataFrame | None, console: Any, source: Any = None) -> Any:
    from deepfit.data.clean import summarize
    from deepfit.data.pipeline import prepare

    prepared = prepare(cfg, data, source.preprocessor if source is not None else None)
    if source is not None:
        source.preprocessing = prepared.report.get("init_from")  # reused or not, and why
    print_lines(console, "Data", [*summarize(prepared.report), _splits_line(prepared.report)])
    return prepared


@dataclass
class _Run:
    """The run directory being written, and the two consoles: what every kind of run writes the same way."""

    dir: Path
    console: Any  # messages and progress (stderr)
    out: Any  # results (stdout)
    payload: dict[str, Any]  # saved in every checkpoint beside the weights
    started: float
    source: Any = None  # model.init_from's run (deepfit.transfer.SourceRun)
    main: bool = True  # False on ranks other than 0, which write nothing
    group: bool = False  # several processes train

    def start(self, cfg: Config, report: dict[str, Any]) -> None:
        """The resolved config and the data report, before the first epoch."""
        self.payload["config"] = cfg.to_dict()
        if not self.main:
            return
        write_text(self.dir / CONFIG, cfg.to_yaml())
        write_json(self.dir / DATA_REPORT, report)

    def callbacks(self, cfg: Config, watch: list[Any], user: list[Any] | None, progress: Any) -> list[Any]:
        """The metrics log, ``watch`` (diagnostics: before the checkpointer, so that their findings are saved
        with the epoch), the checkpointer, loggers, the user's callbacks, and the progress bar when shown."""
        from deepfit.training.callbacks import Checkpointer, MetricsLog
        from deepfit.training.loggers import build_loggers

        out = cfg.output
        if not self.main:
            return []  # rank 0 alone logs, checkpoints, draws progress and runs the user's callbacks
        return [
            MetricsLog(self.dir),
            *watch,
            Checkpointer(self.dir, out.checkpoint_every, self.payload, out.checkpoint_seconds),
            *build_loggers(out.loggers, self.dir, cfg.to_dict()),
            *(user or []),
            *([] if self.console.quiet else [progress]),
        ]

    def finish(self, metrics: dict[str, Any]) -> None:
        """eval.json, written last: a run directory holding it is finished."""
        write_json(self.dir / EVAL, metrics)

    def close(self, cfg: Config, metrics: dict[str, Any], fit: Any, line: str) -> TrainResult:
        """The report page and the closing line (``line``: how training went)."""
        if cfg.output.report:
            from deepfit.evaluation.report import write_report

            write_report(self.dir, self.console)
        seconds = time.perf_counter() - self.started
        self.out.print(f"Run saved to [bold]{self.dir}[/bold] ({seconds:.1f} s, {line})")
        return TrainResult(self.dir, metrics, fit.history, fit.best_epoch, fit.stop_reason, seconds)


def _train_network(
    cfg: Config, prepared: Any, run: _Run, checkpoint: dict[str, Any] | None, callbacks: list[Any] | None
) -> TrainResult:
    """One network, one loss: resolve and build (or restore), fit, evaluate the test split once, save, report."""
    from deepfit.evaluation.evaluate import epoch_metrics_fn
    from deepfit.training.callbacks import ProgressBar
    from deepfit.training.trainer import Trainer

    spec, tensors = prepared.spec, prepared.tensors
    model, choice = _build(cfg, spec, run, checkpoint)
    run.start(cfg, prepared.report)
    sharded = cfg.train.strategy == "fsdp" and run.group
    diagnostics = _diagnostics(cfg, spec, run) if run.main and not sharded else []  # FSDP: rank 0 lacks the weights
    scale = _target_scale(prepared)
    monitor = cfg.train.early_stopping.monitor
    run_callbacks = run.callbacks(cfg, diagnostics, callbacks, ProgressBar(f"val_{monitor}", console=run.console))
    trainer = Trainer(cfg.train, callbacks=run_callbacks, metrics_fn=epoch_metrics_fn(spec.task, monitor, scale))
    fit = trainer.fit(model, tensors["train"], tensors.get("validation"), task=spec.task, resume=checkpoint)
    if not run.main:  # rank 0 evaluates the test split, saves and reports
        return TrainResult(run.dir, {}, fit.history, fit.best_epoch, fit.stop_reason, time.perf_counter() - run.started)
    if fit.weights is not None:  # FSDP sharded the model in place: rank 0 evaluates and saves a whole one
        from deepfit.models.registry import build_model

        model = build_model(cfg.model, spec)
        model.load_state_dict(fit.weights)
    if cfg.train.lr == "auto":
        run.console.print(f"learning rate (auto, from the range test): {fit.lr:.3g}")
    if fit.stop_reason:
        run.console.print(fit.stop_reason)
    metrics = _evaluate(cfg, prepared, model)  # the test split, touched once, with the restored best weights
    baselines, found = _baselines(cfg, prepared, metrics, fit, diagnostics, run.console)
    _save(cfg, prepared, model, run, choice, scale)
    run.finish({**metrics, "baselines": baselines} if baselines else metrics)
    _print_results(cfg, spec, metrics, baselines, found, diagnostics, run)
    return run.close(cfg, metrics, fit, f"best epoch {fit.best_epoch} of {fit.epochs}")


def _build(cfg: Config, spec: Any, run: _Run, checkpoint: dict[str, Any] | None) -> tuple[Any, str]:
    """``model.name auto`` and the architecture's training defaults resolved (and saved so), then the model
    built with the run's seed; a checkpoint that does not fit it is refused before anything is rewritten."""
    from deepfit.models.registry import build_model
    from deepfit.models.select import resolve_model, resolve_training
    from deepfit.training.trainer import check_resumable, seed_everything

    cfg.data.kind = spec.kind  # saved resolved, like model.name: the run never depends on detection again
    if run.source is not None and cfg.model.name == "auto":  # the source's architecture, so that its layers fit
        from deepfit.transfer import source_architecture

        cfg.model = source_architecture(cfg.model, run.source)
    cfg.model, choice = resolve_model(cfg.model, spec)
    cfg.train, recipe = resolve_training(cfg.train, cfg.model, spec)
    seed_everything(cfg.train.seed)  # the same config and seed give the same initial weights
    model = build_model(cfg.model, spec)
    if checkpoint is not None:
        check_resumable(model, checkpoint)
    n_params = sum(p.numel() for p in model.parameters())
    console = run.console
    console.print(
        f"[bold]Model[/bold] {cfg.model.name} ({n_params:,} parameters) for {spec.task}, {spec.n_outputs} outputs"
    )
    if choice:
        console.print(f"  • chosen automatically: {choice}")
    if recipe:
        console.print(f"  • training: {recipe}")
    if run.source is not None and checkpoint is None:  # a new run from an earlier run's weights (a resume has its own)
        _init_weights(model, run, spec)
    if cfg.model.name == "custom":
        from deepfit.code import code_digest

        run.payload["builder"] = code_digest(getattr(cfg.model, "builder", None) or "")
    code = {key: value for key, value in cfg.code_names().items() if key != "model.builder"}
    if code:  # a resume runs this code again: only with trust_code, and only unchanged
        from deepfit.code import code_digest

        run.payload["code"] = {key: code_digest(value) for key, value in code.items()}
    return model, choice


def _init_source(cfg: Config, trust_code: bool) -> Any:
    if not cfg.model.init_from:
        return None
    from deepfit.errors import ConfigError
    from deepfit.transfer import load_source

    if cfg.model.name == "gan":
        raise ConfigError("model.init_from does not apply to model.name gan", hint="remove model.init_from")
    return load_source(cfg.model.init_from, trust_code=trust_code)


def _source_payload(source: Any, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """What a checkpoint records of model.init_from's run; a resume re-reads its preprocessing, which must not
    have changed since."""
    if source is None:
        return {}
    from deepfit.transfer import check_same_source

    if checkpoint is not None:
        check_same_source(source, checkpoint)
    return {"init_from": source.digest()}


def _init_weights(model: Any, run: _Run, spec: Any) -> None:
    """model.init_from: matching tensors loaded, the table printed, transfer.json written (docs/transfer.md)."""
    from deepfit.transfer import TRANSFER, init_from, print_transfer

    result = init_from(model, run.source, spec)
    print_transfer(run.console, result, model)
    write_json(run.dir / TRANSFER, result)


def _diagnostics(cfg: Config, spec: Any, run: _Run) -> list[Any]:
    from deepfit.models.registry import size_key
    from deepfit.training.diagnostics import Diagnostics

    settings = cfg.train.diagnostics
    if not settings.enabled:
        return []
    n_classes = len(spec.class_names) if spec.task == "classification" else None
    size = size_key(cfg.model.name)
    return [
        Diagnostics(run.dir, config=settings, console=run.console, n_classes=n_classes, size_key=size, settings=cfg)
    ]


def _target_scale(prepared: Any) -> tuple[float, float]:
    state = prepared.preprocessor.state
    return state.get("target_mean", 0.0), state.get("target_std", 1.0)


def _evaluate(cfg: Config, prepared: Any, model: Any) -> dict[str, Any]:
    from deepfit.evaluation.evaluate import evaluate_data

    tensors, streams = prepared.tensors, getattr(prepared, "streams", {})  # streams: splits larger than memory
    if streams:
        from deepfit.data.stream.evaluate import evaluate_stream

    return {
        split: (evaluate_stream if split in streams else evaluate_data)(
            model, streams.get(split, tensors.get(split)), cfg.eval.batch_size, prepared.spec, prepared.preprocessor
        )
        for split in ("validation", "test")
        if split in tensors
    }


def _save(cfg: Config, prepared: Any, model: Any, run: _Run, choice: str, scale: tuple[float, float]) -> None:
    """The model with its preprocessing, and the test predictions the report plots (test rows are not stored)."""
    from deepfit.predictor import save_model

    spec = prepared.spec
    save_model(run.dir, model, spec, prepared.preprocessor, cfg.model, choice=choice)
    if "test" in prepared.tensors:
        from deepfit.evaluation.predictions import write_test_predictions

        names = {"task": spec.task, "class_names": spec.class_names, "target_scale": scale}
        write_test_predictions(run.dir, model, prepared.tensors["test"], cfg.eval.batch_size, **names)


def _print_results(
    cfg: Config,
    spec: Any,
    metrics: dict[str, Any],
    baselines: dict[str, Any],
    found: Any,
    diagnostics: list[Any],
    run: _Run,
) -> None:
    out = run.out
    out.print(results_table(metrics, spec.task, cfg.eval.metrics))
    if baselines:
        out.print(baselines_table(metrics, baselines, spec.task))
        lines = [f"{r['model']} skipped: {r['skipped']}" for r in baselines.values() if "skipped" in r]
        print_lines(out, "Baselines", lines + ([found.line()] if found is not None and not diagnostics else []))
    print_lines(out, "Test", metrics.get("test", {}).get("notes", []))  # e.g. a forecast against baselines
    if spec.task == "classification" and "test" in metrics and len(spec.class_names) <= 20:
        out.print(per_class_table(metrics["test"]))
    for diagnosis in diagnostics:
        print_lines(run.console, "Diagnostics", diagnosis.summary_lines())


def _train_gan(
    cfg: Config, prepared: Any, run: _Run, checkpoint: dict[str, Any] | None, callbacks: list[Any] | None
) -> TrainResult:
    """A generator and a discriminator (model.name gan, docs/gan.md): fit by the same loop, scored on held-out
    real data, with samples.csv or samples.png beside the model."""
    from deepfit.evaluation.gan_report import print_results
    from deepfit.models.gan import build_gan
    from deepfit.predictor import save_model
    from deepfit.sampling import write_samples
    from deepfit.training.callbacks import ProgressBar
    from deepfit.training.gan import evaluate, fit_gan, gan_data, small_on_one_thread, status
    from deepfit.training.trainer import check_resumable, seed_everything

    data = gan_data(cfg, prepared)
    cfg.data.kind = data.spec.kind
    seed_everything(cfg.train.seed)
    model = build_gan(data.spec, cfg.model)
    if checkpoint is not None:
        check_resumable(model, checkpoint)  # before anything in the run directory is rewritten
    g, d = (sum(p.numel() for p in net.parameters()) for net in (model.generator, model.discriminator))
    gan_loss = getattr(cfg.model, "gan_loss", "non_saturating")
    run.console.print(f"[bold]Model[/bold] gan ({gan_loss}): generator {g:,} and discriminator {d:,} parameters")
    run.start(cfg, prepared.report)
    run_callbacks = run.callbacks(cfg, [], callbacks, ProgressBar(console=run.console, status=status))
    with small_on_one_thread(model, cfg.train.device):
        fit = fit_gan(model, data, cfg, callbacks=run_callbacks, resume=checkpoint)
        model.cpu()
        n = 64 if data.codec.is_image else len(data.frames["train"])  # images: an 8 x 8 grid
        samples_path = run.dir / ("samples.png" if data.codec.is_image else "samples.csv")
        write_samples(data.codec.decode(model.sample(n, seed=cfg.train.seed)), samples_path)
        save_model(run.dir, model, data.spec, data.codec, cfg.model)
        metrics = {data.real_split: evaluate(model, data, cfg.train.seed, gan_loss)}
    run.finish(metrics)
    print_results(run.out, metrics[data.real_split], data.real_split)
    run.out.print(f"Samples: {samples_path}")
    return run.close(cfg, metrics, fit, f"{fit.epochs} epochs")


def _baselines(
    cfg: Config, prepared: Any, metrics: dict[str, Any], fit: Any, diagnostics: list[Any], console: Any
) -> tuple[dict[str, dict[str, Any]], Any]:
    """scikit-learn baselines on the same training split (eval.baselines), and the finding when one clearly
    beats the network on validation (added to the run's diagnostics, which print and save it)."""
    from deepfit.data.stream.reader import StreamData
    from deepfit.evaluation import baselines as B

    if not cfg.eval.baselines or not B.supports(prepared.spec):
        return {}, None
    if isinstance(prepared.tensors["train"], StreamData):
        console.print("Baselines: skipped (the training data is streamed: scikit-learn would load it whole)")
        return {}, None
    console.print("Baselines: fitting scikit-learn models on the training split (eval.baselines: false skips this)")
    results = B.fit_baselines(prepared, seed=cfg.train.seed)
    found = B.finding(
        metrics.get("validation"), results, prepared.spec.task, cfg, epochs=fit.epochs, best_epoch=fit.best_epoch
    )
    if found is not None:
        for diagnosis in diagnostics:
            diagnosis.add(found)
    return results, found


def _verbose(verbose: bool | None, quiet: bool | None) -> bool:
    """Progress and results by default where someone watches: a terminal, or a notebook."""
    import sys

    if verbose is not None:
        return verbose
    if quiet is not None:
        return not quiet
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def _finished_run(run: Path, console: Any) -> TrainResult | None:
    """A run with eval.json is finished: resuming it changes nothing and says so."""
    from deepfit.runs import METRICS, MODEL, read_jsonl

    if not ((run / EVAL).is_file() and (run / MODEL / "meta.json").is_file()):
        return None
    metrics, history = read_json(run / EVAL), read_jsonl(run / METRICS)
    console.print(
        f"{run} is finished ({len(history)} epochs; eval.json and the model are written): nothing to resume, "
        "nothing changed. To train further, start a new run."
    )
    return TrainResult(run, metrics, history, 0, "finished", 0.0)


def lr_find(
    config: str | Path | dict[str, Any] | Config | None = None,
    *,
    data: pd.DataFrame | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    plot_path: str | Path | None = "lr_find.png",
) -> Any:
    """The learning-rate range test on the config's model and training split; writes a plot."""
    from deepfit.data.pipeline import prepare
    from deepfit.models.registry import build_model
    from deepfit.models.select import resolve_model, resolve_training
    from deepfit.training.losses import build_loss
    from deepfit.training.lr_finder import find_lr, plot
    from deepfit.training.trainer import resolve_device, seed_everything

    cfg = load_config(config, overrides)
    prepared = prepare(cfg, data)
    spec, train_data = prepared.spec, prepared.tensors["train"]
    cfg.model, _ = resolve_model(cfg.model, spec)
    cfg.train, _ = resolve_training(cfg.train, cfg.model, spec)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, spec)
    device = resolve_device(cfg.train.device)
    counts = None
    if spec.task == "classification":  # streamed data counted its classes while it was fitted
        counts = train_data.class_counts()
    loss = build_loss(cfg.train, spec.task, counts)
    result = find_lr(model.to(device), train_data, cfg.train, loss=loss.to(device), device=device)
    if plot_path is not None:
        plot(result, str(plot_path))
    return result


def load(run_dir: str | Path, *, trust_code: bool = False) -> Any:
    """The trained model of a run with its preprocessing: ``load(run).predict(frame)``.

    A run whose model is built by your own code (``model.name: custom``) runs that code when loaded: pass
    ``trust_code=True`` if you trust it (the file must be unchanged since training).
    """
    from deepfit.predictor import Predictor

    return Predictor.load(run_dir, trust_code=trust_code)


def predict(
    run_dir: str | Path, data: Any, *, trust_code: bool = False, keep_columns: list[str] | None = None
) -> pd.DataFrame:
    """Predictions for raw input (a DataFrame, records, an array, or a file or folder); one row per input
    row, in order, with ``keep_columns`` of the input (an id, say) first."""
    return load(run_dir, trust_code=trust_code).predict(data, keep_columns=keep_columns)


def export(
    run_dir: str | Path,
    output: str | Path | None = None,
    *,
    format: str = "onnx",
    data: Any = None,
    overwrite: bool = False,
    tolerance: float | None = None,
    trust_code: bool = False,
) -> Any:
    """The run as a folder that predicts without deepfit's training code (``docs/export.md``): the model as
    ONNX (``format="onnx"``) or ``torch.export`` .pt2, its preprocessing and schema as JSON, a NumPy +
    onnxruntime runtime and a Dockerfile, checked against PyTorch on held-out rows (``data``: rows of your
    own) at batch 1, 8 and N. Returns an ``ExportResult`` (``path``, ``format``, ``parity``)."""
    from deepfit.export import export_run

    return export_run(
        run_dir, output, format=format, data=data, overwrite=overwrite, tolerance=tolerance, trust_code=trust_code
    )


def evaluate(
    run_dir: str | Path, data: str | Path | pd.DataFrame | None = None, *, trust_code: bool = False
) -> dict[str, Any]:
    """Metrics on new labelled data, or the run's stored ``eval.json`` when ``data`` is None."""
    if data is None:
        from deepfit.predictor import read_meta
        from deepfit.runs import MODEL, require_run_dir

        read_meta(require_run_dir(run_dir) / MODEL)  # a complete run of a format this deepfit reads
        return read_json(Path(run_dir) / EVAL)
    return {"data": load(run_dir, trust_code=trust_code).evaluate(data)}


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


__all__ = ["DataError", "TrainResult", "evaluate", "inspect", "load", "predict", "train"]
