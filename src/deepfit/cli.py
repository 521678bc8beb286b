"""``deepfit`` command line: parse, call the API, print. Heavy modules load inside the commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from deepfit.errors import ConfigError, DeepfitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepfit",
        description="From a dataset on disk to a trained, evaluated, reusable deep-learning model.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train and evaluate from a YAML config")
    p.add_argument("config", nargs="?", help="YAML config, e.g. examples/digits.yaml (optional with --resume)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable)",
    )
    p.add_argument("--run-dir", help="write the run exactly here (default: <output.dir>/<name>-<timestamp>)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --run-dir")
    p.add_argument(
        "--allow-changed-data", action="store_true", help="with --resume: go on although the data file changed"
    )
    _trust_code(p)
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        metavar="N",
        help="train in N processes on this machine with DDP: one per GPU, or N CPU processes (gloo); "
        "train.batch_size is the global batch. The same as torchrun --nproc_per_node N -m deepfit train ...",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print only the run directory")
    p.set_defaults(func=_train)

    p = sub.add_parser("tune", help="search hyperparameters (tune: section) on Optuna; rerun to continue")
    p.add_argument("config", help="YAML config with a tune.space, e.g. examples/tune_iris.yaml")
    p.add_argument("--trials", type=int, help="trials in the study in all (tune.trials)")
    p.add_argument("--timeout", help="start no trial after this long: 600, 90s, 10m, 2h (tune.timeout)")
    p.add_argument("--workers", type=int, default=1, help="processes on this machine sharing the study")
    p.add_argument("--storage", help="Optuna storage URL shared by machines, e.g. postgresql://user@host/db")
    p.add_argument("--dir", help="tuning folder (default: <output.dir>/tune-<config name>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the best config's path")
    p.set_defaults(func=_tune)

    p = sub.add_parser("lr-find", help="learning-rate range test: a plot and a suggested rate")
    p.add_argument("config", help="YAML config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("-o", "--output", default="lr_find.png", help="where to write the plot (PNG)")
    p.set_defaults(func=_lr_find)

    p = sub.add_parser("evaluate", help="metrics of a trained run (stored, or on new labelled data)")
    p.add_argument("run_dir")
    p.add_argument("--data", help="a labelled CSV/Parquet/NPZ file, or an image folder of class sub-folders")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _trust_code(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="predict raw input with a trained run")
    p.add_argument("run_dir")
    p.add_argument("input", help="CSV/Parquet/NPZ file of raw feature rows, a .txt of texts, or a folder of images")
    p.add_argument("-o", "--output", help="CSV file to write (default: the CSV to standard output)")
    p.add_argument(
        "--keep-columns",
        metavar="COLS",
        help="input columns to copy into the output before the predictions (comma-separated, e.g. id,name)",
    )
    _trust_code(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("export", help="export a run (ONNX or .pt2) with its preprocessing, checked against PyTorch")
    p.add_argument("run_dir")
    p.add_argument("--format", default="onnx", choices=["onnx", "pt2"], help="onnx (default) or pt2 (torch.export)")
    p.add_argument("-o", "--output", help="the export folder to write (default: RUN_DIR/export-<format>)")
    p.add_argument("--data", help="raw rows to check parity on (default: the run's held-out rows, read again)")
    p.add_argument("--tolerance", type=float, help="allowed |exported - torch| (absolute and relative; 1e-4)")
    p.add_argument("--overwrite", action="store_true", help="replace the export folder if it exists")
    _trust_code(p)
    p.set_defaults(func=_export)

    p = sub.add_parser("sample", help="generate rows or images with a trained GAN run (model.name: gan)")
    p.add_argument("run_dir")
    p.add_argument("-n", type=int, default=100, help="how many samples (default 100)")
    p.add_argument("-o", "--output", help="a .csv/.parquet (tables), a .png grid or a folder (images)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same samples (default 0)")
    p.set_defaults(func=_sample)

    p = sub.add_parser("serve", help="serve a run or an exported model over HTTP: POST /predict, docs at /docs")
    p.add_argument("model", metavar="RUN_DIR|EXPORT_DIR", help="a run directory, or a folder made by deepfit export")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="server processes, each with its own copy of the model")
    p.add_argument("--max-batch", type=int, default=256, help="micro-batching: most rows per model call (256)")
    p.add_argument(
        "--max-wait-ms", type=float, default=2.0, help="micro-batching: how long a request waits for others (2)"
    )
    p.add_argument("--no-batching", action="store_true", help="run the model once per request")
    p.add_argument(
        "--threads", type=int, help="PyTorch threads per worker (default: PyTorch's; cores / N with --workers N)"
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level; info logs each request (default info)",
    )
    p.add_argument("--max-rows", type=int, default=1024, help="most rows in one request (1024; more: 422)")
    p.add_argument("--max-body-mb", type=float, default=16.0, help="largest request body in MiB (16; more: 413)")
    p.add_argument("--max-queue", type=int, default=8192, help="most rows waiting for the model (8192; more: 503)")
    _trust_code(p)
    p.set_defaults(func=_serve)

    p = sub.add_parser("inspect", help="data report without training")
    p.add_argument("data", help="a data file or builtin:<name>")
    p.add_argument("--target", help="the label column")
    p.add_argument("--config", help="a config whose data section applies (cleaning policies, column types)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("report", help="(re)build a run's report.html")
    p.add_argument("run_dir", help="a run directory made by `deepfit train`")
    p.set_defaults(func=_report)

    p = sub.add_parser("runs", help="list the runs in a folder, or compare two")
    p.add_argument("folder", nargs="?", default="runs", help="folder holding run directories (default: runs)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two run directories: config differences, metrics")
    p.set_defaults(func=_runs)

    p = sub.add_parser("config", help="config utilities")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print the fully resolved config, defaults included")
    show.add_argument("config", nargs="?", help="YAML config (omit for the defaults)")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    show.set_defaults(func=_config_show)
    return parser


def _trust_code(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-code",
        action="store_true",
        help="allow a run whose model is built by your own Python file (model.builder) to run that file",
    )


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _call(args)


def _show_warning(message: Any, category: type, *_: Any, **__: Any) -> None:
    """Data problems deepfit handled are one line each on stderr; other libraries' warnings keep their form.
    Several processes: rank 0 alone prints them (every rank reads the same data)."""
    from deepfit.errors import DataWarning
    from deepfit.launch import is_main

    if not is_main():
        return

    if issubclass(category, DataWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        print(f"warning ({category.__name__}): {message}", file=sys.stderr)


def _call(args: argparse.Namespace) -> int:
    try:
        return args.func(args) or 0
    except DeepfitError as exc:
        if args.debug:
            raise
        from deepfit.launch import is_main

        if is_main():  # several processes meet the same fault: rank 0 says it once
            _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        from deepfit.launch import is_main

        if is_main():
            _error("interrupted")
        return 130


def _train(args: argparse.Namespace) -> int:
    from deepfit.api import train

    if args.config is None and args.resume is None:
        raise ConfigError(
            "deepfit train needs a CONFIG, or --resume RUN_DIR", hint="deepfit train examples/digits.yaml"
        )
    if args.resume is not None and (args.run_dir or args.overwrite):
        raise ConfigError("--resume continues the run in its own directory; drop --run-dir and --overwrite")
    if args.overwrite and not args.run_dir:
        raise ConfigError("--overwrite needs --run-dir: a new run without it gets a new, timestamped directory")
    if args.devices < 1:
        raise ConfigError(f"--devices must be at least 1; got {args.devices}")
    from deepfit.launch import env_world, is_main, launch

    if args.devices > 1 and env_world() == 1:  # start the processes; each runs this command without --devices
        return launch(_without_devices(args.argv), args.devices)
    if args.devices > 1 and env_world() != args.devices:
        raise ConfigError(
            f"--devices {args.devices} under a launcher that started {env_world()} processes",
            hint="use either torchrun --nproc_per_node N or --devices N, not both",
        )
    result = train(
        args.config,
        overrides=args.overrides,
        run_dir=args.run_dir,
        verbose=not args.quiet,
        resume=args.resume,
        overwrite=args.overwrite,
        trust_code=args.trust_code,
        allow_changed_data=args.allow_changed_data,
    )
    if args.quiet and is_main():
        print(result.run_dir)
    return 0


def _without_devices(argv: list[str]) -> list[str]:
    """The command line as each process runs it: ``--devices N`` (or ``--devices=N``) left out."""
    out, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word == "--devices":
            skip = True
        elif not word.startswith("--devices="):
            out.append(word)
    return out


def _tune(args: argparse.Namespace) -> int:
    from deepfit.tuning import tune

    result = tune(
        args.config,
        trials=args.trials,
        timeout=args.timeout,
        workers=args.workers,
        storage=args.storage,
        tune_dir=args.dir,
        overrides=args.overrides,
        quiet=args.quiet,
    )
    if args.quiet:
        print(result.best_config)
    return 0


def _lr_find(args: argparse.Namespace) -> int:
    from deepfit.api import lr_find

    result = lr_find(args.config, overrides=args.overrides, plot_path=args.output)
    print(f"suggested learning rate: {result.suggestion:.3g}  ({result.reason})")
    print(f"plot: {args.output}   use it with: --set train.lr={result.suggestion:.3g}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from deepfit.api import evaluate, load
    from deepfit.console import make_console, print_lines, results_table

    metrics = evaluate(args.run_dir, args.data, trust_code=args.trust_code)
    if args.json:
        import json

        print(json.dumps(metrics, indent=2))
        return 0
    task = load(args.run_dir, trust_code=args.trust_code).spec.task
    if task == "generation":  # a GAN run: sample scores, not a task's metrics
        from deepfit.evaluation.gan_report import print_results

        for split, report in metrics.items():
            print_results(make_console(stderr=False), report, split)
        return 0
    console = make_console(stderr=False)
    console.print(results_table(metrics, task))
    for split, report in metrics.items():  # e.g. a forecast against its naive baselines, per split
        print_lines(console, f"{split.capitalize()}", report.get("notes", []))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from deepfit.api import predict
    from deepfit.runs import atomic_write

    keep = [name.strip() for name in (args.keep_columns or "").split(",") if name.strip()]
    predictions = predict(args.run_dir, args.input, trust_code=args.trust_code, keep_columns=keep)
    if args.output is None:
        predictions.to_csv(sys.stdout, index=False)
        return 0
    atomic_write(args.output, lambda f: predictions.to_csv(f, index=False))
    print(f"wrote {len(predictions)} predictions to {args.output}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from deepfit.api import export

    result = export(
        args.run_dir,
        args.output,
        format=args.format,
        data=args.data,
        overwrite=args.overwrite,
        tolerance=args.tolerance,
        trust_code=args.trust_code,
    )
    figures = ", ".join(f"batch {b['batch']} {b['max_abs_diff']:.2g}" for b in result.parity["batches"])
    rows = result.parity["rows"]
    print(f"parity with PyTorch on {rows} held-out rows (largest difference): {figures}", file=sys.stderr)
    print(result.path)
    return 0


def _sample(args: argparse.Namespace) -> int:
    from deepfit.sampling import sample, write_samples

    samples = sample(args.run_dir, args.n, seed=args.seed)
    default = "samples.csv" if hasattr(samples, "columns") else "samples.png"
    path = write_samples(samples, args.output or default)
    print(f"wrote {len(samples)} samples to {path}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from deepfit.serve.server import require_serving

    require_serving()
    from deepfit.serve.app import ServeSettings
    from deepfit.serve.server import serve

    for flag in ("max_batch", "max_rows", "max_queue", "port"):
        if getattr(args, flag) < (0 if flag == "port" else 1):
            raise ConfigError(f"--{flag.replace('_', '-')} must be {'0' if flag == 'port' else '1'} or more")
    if args.max_wait_ms < 0 or args.max_body_mb <= 0:
        raise ConfigError("--max-wait-ms must be 0 or more, and --max-body-mb more than 0")
    settings = ServeSettings(
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        batching=not args.no_batching,
        max_queue=args.max_queue,
        max_rows=args.max_rows,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
    )
    serve(
        args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        settings=settings,
        trust_code=args.trust_code,
        threads=args.threads,
        log_level=args.log_level,
    )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from deepfit.api import inspect
    from deepfit.data.clean import summarize

    report = inspect(args.data, target=args.target, config=args.config)
    if args.json:
        import json

        print(json.dumps(report, indent=2, default=str))
        return 0
    from deepfit.console import make_console, print_lines

    console = make_console(stderr=False)
    print_lines(console, f"Data report: {args.data}", summarize(report))
    kinds = report.get("columns", {})  # tables; other kinds say what their inputs are in the summary
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in ("numeric", "categorical", "boolean")}
    if any(counts.values()):
        console.print("  • features: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    classes = report.get("target_summary", {}).get("classes")
    if classes:
        console.print("  • classes: " + ", ".join(f"{k} ({v})" for k, v in list(classes.items())[:20]))
    if report.get("splits"):
        console.print("  • splits: " + ", ".join(f"{k} {v}" for k, v in report["splits"].items()))
    return 0


def _report(args: argparse.Namespace) -> int:
    from deepfit.evaluation.report import build_report

    print(build_report(args.run_dir))
    return 0


def _runs(args: argparse.Namespace) -> int:
    from deepfit.console import make_console
    from deepfit.run_summary import compare_tables, find_runs, resolve_run, runs_tables, summarize_run

    console = make_console(stderr=False)
    if not console.is_terminal:  # piped or captured: rich would cut the table to 80 columns
        console.width = max(console.width, 160)
    if args.compare:
        runs = [summarize_run(resolve_run(name, args.folder)) for name in args.compare]
        for table in compare_tables(*runs):
            console.print(table)
        return 0
    runs = find_runs(args.folder)
    if not runs:
        print(f"no runs in {args.folder}", file=sys.stderr)
        return 0
    for table in runs_tables(runs, where=args.folder):
        console.print(table)
    return 0


def _config_show(args: argparse.Namespace) -> int:
    from deepfit.config import load_config

    config = load_config(args.config, args.overrides)
    text = config.to_yaml()
    if config.model.name == "auto":  # the keys depend on the architecture chosen from the data
        text = text.replace("\nmodel:\n", "\nmodel:\n" + _auto_model_note(), 1)
    print(text, end="")
    return 0


def _auto_model_note() -> str:
    """Comment lines under ``model:`` for model.name auto: the common keys are shown, each family has its own."""
    import textwrap

    from deepfit.config import AutoModelConfig
    from deepfit.models.registry import architecture_names, model_config_class

    families = [n for n in architecture_names() if n != "auto" and model_config_class(n) in AutoModelConfig.__mro__]
    note = (
        "auto: the architecture is chosen from the data. These keys are common to every architecture; each "
        f"has keys of its own, and auto takes those of {', '.join(families)} (a key set asks for its family). "
        "`deepfit config show --set model.name=NAME` lists an architecture's keys."
    )
    return "".join(f"  # {line}\n" for line in textwrap.wrap(note, 96))


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _version() -> str:
    from deepfit import __version__

    return f"deepfit {__version__}"


def run() -> Any:  # pragma: no cover - console entry point
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
