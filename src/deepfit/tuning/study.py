"""The study and its storage: open or resume it, fail the trials of dead workers, samplers and pruners.

The study lives in a journal file beside the trial runs (or a database for several machines), so any number
of processes can share it and a rerun continues it. Each worker builds its own sampler and pruner: Optuna
keeps them in the process, not in the storage.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from deepfit.errors import ConfigError
from deepfit.tuning.space import grid_space

if TYPE_CHECKING:
    from deepfit.tuning.plan import Plan

STUDY_FILE = "study.journal"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # recorded on each trial, to tell stale trials on restart


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """A database URL (``postgresql://``, ``sqlite://``) or else a journal file, shared by processes."""
    if "://" in url:
        # Heartbeats let Optuna fail the trials of a worker that died, on any machine.
        return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
    Path(url).parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(url))


def open_study(plan: Plan) -> optuna.Study:
    """Create the study or load it; a resumed study must search the same space for the same metric."""
    storage = open_storage(plan.storage)
    direction = (
        optuna.study.StudyDirection.MAXIMIZE if plan.direction == "maximize" else optuna.study.StudyDirection.MINIMIZE
    )
    study = optuna.create_study(storage=storage, study_name=plan.study_name, direction=direction, load_if_exists=True)
    mine = {"space": plan.tune.space, "metric": plan.metric, "direction": plan.direction}
    recorded = study.user_attrs.get("deepfit")
    if recorded is None:
        study.set_user_attr("deepfit", mine)
    elif recorded != mine:
        raise ConfigError(
            f"{plan.storage} holds the study '{plan.study_name}' of another search "
            f"(metric {recorded['metric']}, space over {', '.join(recorded['space'])})",
            hint="tune into another folder (--dir), or delete that study to start over",
        )
    fail_stale_trials(study, storage)
    return study


def fail_stale_trials(study: optuna.Study, storage: optuna.storages.BaseStorage) -> None:
    """Fail the trials a killed process left running on this host, and queue their parameters again.

    A trial records ``host:pid`` of its worker; one still RUNNING whose process is gone was interrupted.
    Trials of other hosts are left alone (a database storage's heartbeat fails those).
    """
    host = WORKER.rpartition(":")[0]
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        where, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if where == host and pid.isdigit() and not _alive(int(pid)):
            # A FrozenTrial's storage id is private in name only: the storage API takes nothing else.
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", f"interrupted (process {pid} is gone)")
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            study.tell(trial.number, state=TrialState.FAIL)
    for trial in interrupted_trials(study.get_trials(deepcopy=False)):
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def interrupted_trials(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The interrupted trials not queued again yet: the next start queues their parameters."""
    retried = {t.user_attrs.get("retry_of") for t in trials}
    return [t for t in trials if t.user_attrs.get("interrupted") and t.number not in retried]


def spent(study: optuna.Study) -> int:
    """Finished trials that count against ``tune.trials``; an interrupted trial is run again instead."""
    return sum(not t.user_attrs.get("interrupted") for t in study.get_trials(deepcopy=False, states=FINISHED))


def stop_at_budget(total: int | None) -> Any:
    """Stop every worker once the study holds ``total`` trials (Optuna's MaxTrialsCallback, minus the
    interrupted ones, which are queued again rather than counted)."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        if total is not None and spent(study) >= total:
            study.stop()

    return callback


def build_sampler(plan: Plan, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler of one worker. Its seed moves on with the trials already in the study and the worker,
    so a fresh study is reproducible and a resumed one or a second worker does not repeat the same draws."""
    sampler = plan.tune.sampler
    seed = None if plan.tune.seed is None else plan.tune.seed + seed_offset
    if sampler.name == "grid":
        return optuna.samplers.GridSampler(grid_space(plan.params), seed=seed)
    if sampler.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler.name == "cmaes":
        cmaes_startup = 1 if sampler.startup_trials is None else sampler.startup_trials  # Optuna's default
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=cmaes_startup)
    tpe_startup = 10 if sampler.startup_trials is None else sampler.startup_trials  # Optuna's default
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=tpe_startup)


def build_pruner(plan: Plan) -> optuna.pruners.BasePruner:
    pruner = plan.tune.pruner
    first = pruner.warmup_epochs + 1  # steps are epochs counted from 1: the first epoch that may be pruned
    if pruner.name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=pruner.startup_trials, n_warmup_steps=first)
    if pruner.name == "hyperband":
        tuned_epochs = any(p.key == "train.epochs" for p in plan.params)
        most = "auto" if tuned_epochs else max(plan.config.train.epochs, first)
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=most)
    return optuna.pruners.NopPruner()


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process on Windows: never call stale there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
