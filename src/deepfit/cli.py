"""``deepfit`` command line: parse, call the API, print. Heavy modules load inside the commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from deepfit.errors import DeepfitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepfit",
        description="From a dataset on disk to a trained, evaluated, reusable deep-learning model.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train and evaluate from a YAML config")
    p.add_argument("config", help="YAML config, e.g. examples/digits.yaml")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable)",
    )
    p.add_argument("--run-dir", help="write the run exactly here (default: <output.dir>/<name>-<timestamp>)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the run directory")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="metrics of a trained run (stored, or on new labelled data)")
    p.add_argument("run_dir")
    p.add_argument("--data", help="a labelled CSV/Parquet/NPZ file to evaluate on")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="predict raw input with a trained run")
    p.add_argument("run_dir")
    p.add_argument("input", help="CSV/Parquet/NPZ file of raw feature rows")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.set_defaults(func=_predict)

    p = sub.add_parser("inspect", help="data report without training")
    p.add_argument("data", help="a data file or builtin:<name>")
    p.add_argument("--target", help="the label column")
    p.add_argument("--config", help="a config whose data section applies (cleaning policies, column types)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("config", help="config utilities")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", help="print the fully resolved config, defaults included")
    show.add_argument("config", nargs="?", help="YAML config (omit for the defaults)")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    show.set_defaults(func=_config_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except DeepfitError as exc:
        if args.debug:
            raise
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        _error("interrupted")
        return 130


def _train(args: argparse.Namespace) -> int:
    from deepfit.api import train

    result = train(args.config, overrides=args.overrides, run_dir=args.run_dir, quiet=args.quiet)
    if args.quiet:
        print(result.run_dir)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from deepfit.api import evaluate, load
    from deepfit.console import make_console, results_table

    metrics = evaluate(args.run_dir, args.data)
    if args.json:
        import json

        print(json.dumps(metrics, indent=2))
        return 0
    task = load(args.run_dir).spec.task
    make_console(stderr=False).print(results_table(metrics, task))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from deepfit.api import predict
    from deepfit.runs import atomic_write

    predictions = predict(args.run_dir, args.input)
    atomic_write(args.output, lambda f: predictions.to_csv(f, index=False))
    print(f"wrote {len(predictions)} predictions to {args.output}", file=sys.stderr)
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
    kinds = report["columns"]
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in ("numeric", "categorical", "boolean")}
    console.print("  • features: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    classes = report["target_summary"].get("classes")
    if classes:
        console.print("  • classes: " + ", ".join(f"{k} ({v})" for k, v in list(classes.items())[:20]))
    return 0


def _config_show(args: argparse.Namespace) -> int:
    from deepfit.config import load_config

    print(load_config(args.config, args.overrides).to_yaml(), end="")
    return 0


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _version() -> str:
    from deepfit import __version__

    return f"deepfit {__version__}"


def run() -> Any:  # pragma: no cover - console entry point
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
