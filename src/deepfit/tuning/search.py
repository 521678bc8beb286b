"""The search: an Optuna study stored beside the runs, one normal run per trial, workers sharing the study.

``tune(config)`` reads the config, checks the space against it before any trial runs, opens (or resumes)
the study (:mod:`deepfit.tuning.study`), runs the trials in one process or in ``workers`` spawned
processes, then hands the finished study to :mod:`deepfit.tuning.summary`. Trials are chosen on the validation
split only; the test split is read once, for the best trial, by the summary. Ctrl-C and SIGTERM stop every
worker, mark the running trials interrupted and summarise what finished (:mod:`deepfit.tuning.stopping`).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from deepfit.config import Config, TuneConfig, load_config, merge_overrides
from deepfit.console import make_console
from deepfit.errors import ConfigError, DeepfitError, TrainingError
from deepfit.evaluation.registry import metric_info
from deepfit.tuning.plan import Plan
from deepfit.tuning.space import Param, check_keys, grid_space, parse_space, suggest_all
from deepfit.tuning.stopping import (
    SearchStopped,
    StopRequest,
    TuneInterrupted,
    continue_command,
    signal_of,
    signals_blocked,
    start_worker_process,
    stop_message,
)
from deepfit.tuning.study import (
    STUDY_FILE,
    WORKER,
    build_pruner,
    build_sampler,
    open_storage,
    open_study,
    spent,
    stop_at_budget,
)
from deepfit.tuning.summary import TuneResult, format_params, summarize

TRIALS_DIR = "trials"
DEFAULT_TRIALS = 20
# A trial failing with one of these is recorded as failed, with its reason, and the search goes on: a bad
# combination (ConfigError), a NaN loss (TrainingError), out of memory or a shape mismatch (RuntimeError).
TRIAL_ERRORS = (DeepfitError, ValueError, RuntimeError, MemoryError)
REGRESSION_METRICS = ("mae", "mse", "rmse", "r2", "mape")

__all__ = ["TuneInterrupted", "TuneResult", "tune"]


def tune(
    config: str | Path | dict[str, Any] | Config,
    *,
    trials: int | None = None,
    timeout: float | str | None = None,
    workers: int = 1,
    storage: str | None = None,
    tune_dir: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    quiet: bool = True,
    plots: bool = True,
) -> TuneResult:
    """Search ``tune.space`` and return the best trial; rerunning continues the same study.

    ``trials`` and ``timeout`` override ``tune.trials`` / ``tune.timeout``. ``storage`` is an Optuna URL
    (``postgresql://...``) or a journal file path; default ``<tune_dir>/study.journal``. ``tune_dir``
    defaults to ``<output.dir>/tune-<config name>``. ``plots=False`` skips the PNGs (2-3 s) in the summary.
    Ctrl-C or SIGTERM stops the search: the finished trials are summarised, then ``TuneInterrupted``
    (exit code 130) says how to continue; a second Ctrl-C stops at once.
    """
    if workers < 1:
        raise ConfigError(f"workers must be at least 1; got {workers}")
    extra = {k: v for k, v in (("tune__trials", trials), ("tune__timeout", timeout)) if v is not None}
    cfg = load_config(config, merge_overrides(overrides, extra))
    plan = make_plan(cfg, _config_name(config, cfg), tune_dir, storage, quiet)
    console = make_console(quiet)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # one line per trial of our own instead
    again = "continue with: " + continue_command(
        config, plan.dir, trials=trials, timeout=timeout, workers=workers, storage=storage, overrides=overrides
    )
    with StopRequest() as stop:
        try:
            study = open_study(plan)
            todo = None if plan.total is None else max(plan.total - spent(study), 0)
            console.print(_header(plan, todo, workers))
            run_workers(plan, todo, workers, first_seed=len(study.trials), stop=stop)
            study = optuna.load_study(study_name=plan.study_name, storage=open_storage(plan.storage))
            if stop.requested:  # the handlers stay in: a second Ctrl-C during the summary stops at once
                if any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
                    summarize(study, plan, console, plots=plots)
                raise TuneInterrupted(stop_message(study, plan.total, f"by {stop.name}"), hint=again)
        except KeyboardInterrupt:  # a second Ctrl-C: no summary; the study keeps what finished
            study = optuna.load_study(study_name=plan.study_name, storage=open_storage(plan.storage))
            raise TuneInterrupted(stop_message(study, plan.total, "at once"), hint=again) from None
    return summarize(study, plan, console, plots=plots)


def make_plan(cfg: Config, name: str, tune_dir: str | Path | None, storage: str | None, quiet: bool) -> Plan:
    """Check everything a trial needs before any trial runs; ConfigError names the key to fix."""
    params = parse_space(cfg.tune.space)
    if not params:
        raise ConfigError("tune.space is empty", hint="add dimensions, e.g. train.lr: {float: [1e-4, 1e-1], log: true}")
    check_keys(cfg, params)
    if not (cfg.data.validation_source or cfg.data.split.validation > 0):
        raise ConfigError(
            "data.split.validation is 0: tuning chooses on the validation split, never on the test split",
            hint="set data.split.validation (e.g. 0.15) or data.validation_source",
        )
    metric = _resolve_metric(cfg)
    direction = cfg.tune.direction
    if direction == "auto":
        direction = "maximize" if metric_info(metric).greater_is_better else "minimize"
    _check_sampler(cfg.tune, params)
    folder = Path(tune_dir) if tune_dir is not None else Path(cfg.output.dir) / f"tune-{name}"
    return Plan(
        config=cfg.model_copy(update={"tune": TuneConfig()}),
        params=params,
        tune=cfg.tune,
        name=name,
        metric=metric,
        direction=direction,
        dir=folder,
        storage=storage or str(folder / STUDY_FILE),
        study_name=folder.resolve().name,
        total=_total(cfg.tune, params),
        quiet=quiet,
    )


# ---------------------------------------------------------------- workers
def run_workers(
    plan: Plan, todo: int | None, workers: int, first_seed: int = 0, stop: StopRequest | None = None
) -> None:
    """Run ``todo`` trials (None: until the timeout) here, or split over spawned processes.

    ``stop`` is the caller's installed request; with workers, its signals are forwarded to them."""
    stop = stop or StopRequest()
    if todo == 0 or stop.requested:
        return
    if workers == 1:
        run_worker(plan, todo, first_seed, stop)
        return
    shares = [None] * workers if todo is None else [todo // workers + (i < todo % workers) for i in range(workers)]
    threads = max(1, (os.cpu_count() or 1) // workers)  # N workers of all the cores each would oversubscribe
    # spawn, not fork: a forked child inherits torch's thread pools and locks in whatever state they were.
    context = multiprocessing.get_context("spawn")
    stop.shared = context.RawValue("i", 0)  # the signal's number, once one came: read by the workers
    processes = [
        context.Process(
            target=_spawned, args=(plan, share, first_seed + 10_000 * i, threads, stop.shared), daemon=False
        )
        for i, share in enumerate(shares)
        if share != 0
    ]
    with signals_blocked():  # a Ctrl-C now is handled once they run, and forwarded to them
        for process in processes:
            process.start()
        stop.workers = [p.pid for p in processes if p.pid is not None]
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:  # a second Ctrl-C, forwarded to them too: each stops at once
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()  # its trial stays RUNNING: the next start fails and requeues it
        raise
    crashed = [str(p.exitcode) for p in processes if p.exitcode]
    if crashed:
        raise TrainingError(
            f"{len(crashed)} of {len(processes)} tuning workers stopped with an error (exit {', '.join(crashed)})",
            hint="see the messages above; the study keeps every finished trial: rerun the command to continue",
        )


def run_worker(plan: Plan, n_trials: int | None, seed_offset: int = 0, stop: StopRequest | None = None) -> None:
    """One worker: open the shared study with this process's sampler and pruner, run trials into it.

    Trials run until ``n_trials``, the budget or the timeout, or until ``stop`` is requested."""
    stop = stop or StopRequest()
    if stop.requested:
        return
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    console = make_console(plan.quiet)
    study = optuna.load_study(
        study_name=plan.study_name,
        storage=open_storage(plan.storage),
        sampler=build_sampler(plan, seed_offset),
        pruner=build_pruner(plan),
    )
    with contextlib.suppress(SearchStopped):  # a trial was interrupted: it is marked, start no other
        study.optimize(
            Objective(plan, console, stop),
            n_trials=n_trials,
            timeout=plan.tune.timeout,
            catch=TRIAL_ERRORS,
            callbacks=[stop_at_budget(plan.total), _trial_line(console, plan.metric), stop.after_trial],
            gc_after_trial=True,
        )


def _spawned(plan: Plan, n_trials: int | None, seed_offset: int, threads: int, shared: Any) -> None:
    stop = StopRequest(shared)
    start_worker_process(stop)
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(KeyboardInterrupt):  # the parent reports the interruption: no traceback per worker
        run_worker(plan, n_trials, seed_offset, stop)
    # Done: every trial is in the storage, and only stdio is buffered. Skip the interpreter's teardown, which
    # takes 1-2 s with torch loaded, the parent waiting (on Ctrl-C too). An error above still exits normally.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ---------------------------------------------------------------- one trial
class Objective:
    """Train one normal run per trial under ``<dir>/trials/trial-NNNN``; return its validation metric."""

    def __init__(self, plan: Plan, console: Any, stop: StopRequest | None = None) -> None:
        self.plan, self.console = plan, console
        self.stop = stop or StopRequest()
        self.warned = False

    def __call__(self, trial: optuna.Trial) -> float:
        from deepfit.api import train
        from deepfit.training.trainer import TrainingInterrupted

        run_dir = self.plan.dir / TRIALS_DIR / f"trial-{trial.number:04d}"
        trial.set_user_attr("worker", WORKER)
        trial.set_user_attr("run_dir", str(run_dir))
        report = ReportToTrial(trial, f"val_{self.plan.metric}")
        try:
            # no report.html per trial (about 1.5 s each): the summary builds the best trial's
            overrides = {**suggest_all(trial, self.plan.params), "output.report": False}
            if self.stop.requested:  # the signal came while Optuna picked this trial (suggested first: it is
                raise SearchStopped("stopped before training began")  # queued again with these params)
            callbacks = [report, self.stop]  # self.stop: a signal before fit took over the handlers
            result = train(self.plan.config, run_dir=run_dir, overrides=overrides, callbacks=callbacks, quiet=True)
            value = validation_value(result, self.plan.metric)
        except (TrainingInterrupted, SearchStopped) as exc:
            # the trainer saved a checkpoint and stopped at a step (TrainingInterrupted), or training had
            # not begun: either way this trial is run again, and no other starts here
            if isinstance(exc, TrainingInterrupted):
                self.stop.interrupted(signal_of(exc))
            self._interrupted(trial)
            raise SearchStopped(str(exc)) from None
        except KeyboardInterrupt:  # a second Ctrl-C (or no checkpoint to save): stop at once
            self._interrupted(trial)
            raise
        except TRIAL_ERRORS as exc:
            trial.set_user_attr("fail_reason", _reason(exc))
            raise
        trial.set_user_attr("best_epoch", result.best_epoch)
        self._warn_if_unreported(report)
        return value

    def _interrupted(self, trial: optuna.Trial) -> None:
        reason = f"interrupted ({self.stop.name})"
        with signals_blocked():  # a second Ctrl-C lands after both marks, never between them
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("fail_reason", reason)
        self.console.print(f"trial {trial.number:>3}  [yellow]{reason}[/yellow]  {format_params(trial.params)}")

    def _warn_if_unreported(self, report: ReportToTrial) -> None:
        if report.reported or self.warned or self.plan.tune.pruner.name == "none":
            return
        self.warned = True
        self.console.print(
            f"[yellow]note[/yellow]: {report.key} is not logged every epoch, so no trial can be pruned; "
            f"set train.early_stopping.monitor: {self.plan.metric} to log it"
        )


class ReportToTrial:
    """Training callback: each epoch's validation metric goes to the trial; pruned trials stop here."""

    def __init__(self, trial: optuna.Trial, key: str) -> None:
        self.trial, self.key = trial, key
        self.reported = 0

    def on_epoch_end(self, state: Any) -> None:
        value = state.logs.get(self.key)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), step=state.epoch)
        self.reported += 1
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned_at_epoch", state.epoch)
            raise optuna.TrialPruned(f"pruned at epoch {state.epoch} ({self.key} {value:.4g})")


def validation_value(result: Any, metric: str) -> float:
    """The metric of the model the run keeps (its best epoch), on the validation split."""
    if metric == "loss":
        rows = [r for r in result.history if r.get("epoch") == result.best_epoch]
        value = rows[0].get("val_loss") if rows else None
    else:
        value = result.metrics.get("validation", {}).get(metric)
    if value is None or not math.isfinite(value):
        raise TrainingError(f"the validation {metric} of this trial is undefined ({value})")
    return float(value)


# ---------------------------------------------------------------- helpers
def _trial_line(console: Any, metric: str) -> Any:
    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE:
            outcome = f"{metric} [bold]{trial.value:.4f}[/bold]"
        elif trial.state == TrialState.PRUNED:
            outcome = f"[yellow]pruned[/yellow] at epoch {trial.user_attrs.get('pruned_at_epoch', trial.last_step)}"
        else:
            outcome = f"[red]failed[/red]: {trial.user_attrs.get('fail_reason', 'see the log above')}"
        console.print(f"trial {trial.number:>3}  {outcome}  {format_params(trial.params)}")

    return callback


def _resolve_metric(cfg: Config) -> str:
    task: str = cfg.data.task
    if task == "auto":  # the study's direction must be known before the first trial: prepare the data once
        from deepfit.data.pipeline import prepare

        task = prepare(cfg).spec.task
    metric = cfg.tune.metric
    if metric == "auto":
        return "accuracy" if task == "classification" else "rmse"
    if metric != "loss" and (metric in REGRESSION_METRICS) != (task == "regression"):
        raise ConfigError(
            f"tune.metric {metric} is not a {task} metric", hint="leave tune.metric: auto, or pick another"
        )
    return metric


def _check_sampler(tune_cfg: TuneConfig, params: list[Param]) -> None:
    if tune_cfg.sampler.name == "grid":
        grid_space(params)  # a float range without a step raises, naming the key
    choices = [p.key for p in params if p.kind == "choice"]
    if tune_cfg.sampler.name == "cmaes" and choices:
        raise ConfigError(
            f"tune.sampler cmaes searches float and int ranges; {', '.join(choices)} is a choice",
            hint="use tune.sampler: bayesian for spaces with choices",
        )


def _total(tune_cfg: TuneConfig, params: list[Param]) -> int | None:
    grid = math.prod(len(p.grid()) for p in params) if tune_cfg.sampler.name == "grid" else None
    total = tune_cfg.trials or grid or (None if tune_cfg.timeout else DEFAULT_TRIALS)
    return min(total, grid) if grid and total else total


def _reason(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, DeepfitError) else str(exc)
    line = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {line[:300]}"


def _header(plan: Plan, todo: int | None, workers: int) -> str:
    t = plan.tune
    runs = "until the timeout" if todo is None else f"{todo} trials to run"
    if plan.total is not None and todo != plan.total:
        runs += f" ({plan.total} in the study)"
    who = f", {workers} workers" if workers > 1 else ""
    return (
        f"[bold]Tuning {plan.name}[/bold]: {runs}{who}; {t.sampler.name} sampler, {t.pruner.name} pruner, "
        f"{plan.direction} validation {plan.metric}\n  study '{plan.study_name}' in {plan.storage}"
    )


def _config_name(config: Any, cfg: Config) -> str:
    return cfg.output.name or (Path(config).stem if isinstance(config, str | Path) else "config")
