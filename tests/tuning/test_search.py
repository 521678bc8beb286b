"""The search end to end on iris with tiny models: grid, seeds, pruning, workers, resume, failures."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

import deepfit
from deepfit.api import train
from deepfit.config import load_config
from deepfit.errors import ConfigError
from deepfit.runs import read_json
from deepfit.tuning.search import tune
from deepfit.tuning.study import WORKER, open_storage


def iris(space: dict, **tune_section) -> dict:
    """A config whose trials take well under a second: iris, one hidden layer of 16, 3 epochs."""
    return {
        "data": {"source": "builtin:iris", "target": "target"},
        "model": {"hidden": [16]},
        "train": {"epochs": 3, "batch_size": 32},
        "tune": {"space": space, "pruner": "none", "seed": 0, **tune_section},
    }


def load(folder) -> optuna.Study:
    return optuna.load_study(study_name=folder.name, storage=open_storage(str(folder / "study.journal")))


def params_sequence(folder) -> list[dict]:
    return [t.params for t in sorted(load(folder).trials, key=lambda t: t.number)]


def test_grid_visits_exactly_the_grid_and_best_yaml_reproduces_the_best_trial(tmp_path):
    space = {"train.lr": {"choice": [0.01, 0.1]}, "train.batch_size": {"int": [16, 32], "step": 16}}
    result = tune(iris(space, sampler="grid"), tune_dir=tmp_path / "grid")

    visited = sorted((t.params["train.lr"], t.params["train.batch_size"]) for t in load(tmp_path / "grid").trials)
    assert visited == [(0.01, 16), (0.01, 32), (0.1, 16), (0.1, 32)]
    assert result.counts == {"complete": 4}
    assert result.metric == "accuracy" and result.direction == "maximize"
    # Chosen on validation: the value is the best trial's validation accuracy; its test split is reported once.
    evaluation = read_json(result.best_run_dir / "eval.json")
    assert result.best_value == evaluation["validation"]["accuracy"]
    assert result.test_metrics == evaluation["test"]
    # best.yaml is the full config with the best params, without the tune section, and trains to the same model.
    best = load_config(result.best_config)
    assert best.train.lr == result.best_params["train.lr"] and best.tune.space == {}
    rerun = train(result.best_config, run_dir=tmp_path / "rerun")
    assert rerun.metrics["validation"]["accuracy"] == result.best_value
    page = (tmp_path / "grid" / "summary.html").read_text()
    assert "data:image/png;base64," in page  # self-contained: nothing fetched, no script
    assert not any(tag in page for tag in ("<script", "<link", 'src="http', 'href="http'))
    assert (tmp_path / "grid" / "optimization_history.png").is_file()


@pytest.mark.parametrize(("sampler", "trials"), [("random", 2), ({"name": "bayesian", "startup_trials": 1}, 3)])
def test_a_seeded_search_repeats_the_same_params(tmp_path, sampler, trials):
    space = {"train.lr": {"float": [1e-3, 0.3], "log": True}, "model.dropout": {"float": [0.0, 0.5]}}
    config = iris(space, sampler=sampler, trials=trials)
    first, second = tmp_path / "a", tmp_path / "b"
    tune(config, tune_dir=first, plots=False)
    tune(config, tune_dir=second, plots=False)
    assert params_sequence(first) == params_sequence(second)
    assert len({p["train.lr"] for p in params_sequence(first)}) == trials


def test_median_pruner_stops_a_trial_that_does_not_learn(tmp_path):
    folder = tmp_path / "prune"
    space = {"train.lr": {"choice": [0.05, 1e-7]}, "train.seed": {"int": [0, 1]}}
    config = iris(space, metric="loss", pruner={"name": "median", "startup_trials": 2, "warmup_epochs": 0}, trials=3)
    config["train"].update(epochs=5, batch_size=16)
    # Queue the order: two learning trials complete, then one whose lr is too small to learn anything.
    study = optuna.create_study(
        storage=open_storage(str(folder / "study.journal")), study_name=folder.name, direction="minimize"
    )
    for lr, seed in ((0.05, 0), (0.05, 1), (1e-7, 0)):
        study.enqueue_trial({"train.lr": lr, "train.seed": seed})

    tune(config, tune_dir=folder, plots=False)

    states = [t.state for t in sorted(load(folder).trials, key=lambda t: t.number)]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    pruned = load(folder).trials[2]
    assert pruned.user_attrs["pruned_at_epoch"] == 1
    assert (folder / "trials" / "trial-0002" / "metrics.jsonl").is_file()  # a pruned trial keeps its run dir


def test_two_workers_share_one_study(tmp_path):
    space = {"train.lr": {"float": [1e-3, 0.3], "log": True}}
    result = tune(iris(space, sampler="random", trials=4), tune_dir=tmp_path / "two", workers=2, plots=False)

    trials = load(tmp_path / "two").trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert len({t.params["train.lr"] for t in trials}) == 4
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2 and WORKER not in workers  # both spawned, neither the parent
    assert result.counts == {"complete": 4}


def test_a_rerun_continues_the_study_and_requeues_interrupted_trials(tmp_path):
    folder = tmp_path / "resume"
    config = iris({"train.lr": {"float": [1e-3, 0.3], "log": True}}, sampler="random", trials=2)
    tune(config, tune_dir=folder, plots=False)
    before = [(t.number, t.params, t.value, t.datetime_start) for t in load(folder).trials]

    # A killed worker left a trial RUNNING: its process is gone, so a rerun fails it and queues its params again.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = load(folder).ask({"train.lr": optuna.distributions.FloatDistribution(1e-3, 0.3, log=True)})
    stale.set_user_attr("worker", f"{WORKER.rpartition(':')[0]}:{dead.stdout.strip()}")

    deepfit.tune(config, trials=4, tune_dir=folder, plots=False)

    trials = sorted(load(folder).trials, key=lambda t: t.number)
    assert [(t.number, t.params, t.value, t.datetime_start) for t in trials[:2]] == before
    assert trials[2].state == TrialState.FAIL and "interrupted" in trials[2].user_attrs["fail_reason"]
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == 2)
    assert retry.params == trials[2].params and retry.state == TrialState.COMPLETE
    # The interrupted trial does not count: the study holds 4 finished trials besides it.
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4


@pytest.mark.parametrize(
    ("space", "key"),
    [
        ({"train.lrr": {"float": [1e-3, 0.1]}}, "train.lrr"),
        ({"model.dropout": {"float": [0.5, 0.1]}}, "model.dropout"),
    ],
)
def test_a_bad_space_is_rejected_before_any_trial_runs(tmp_path, space, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        tune(iris(space), tune_dir=tmp_path / "bad", plots=False)
    assert not (tmp_path / "bad").exists()


def test_a_failed_trial_is_recorded_with_its_reason_and_the_search_goes_on(tmp_path):
    # lr 1e30 passes the config (lr > 0) but the loss becomes NaN: a TrainingError inside the trial.
    result = tune(iris({"train.lr": {"choice": [0.05, 1e30]}}, sampler="grid"), tune_dir=tmp_path / "fail", plots=False)

    trials = {t.params["train.lr"]: t for t in load(tmp_path / "fail").trials}
    assert trials[1e30].state == TrialState.FAIL
    assert trials[1e30].user_attrs["fail_reason"].startswith("TrainingError: the train loss became nan")
    assert trials[0.05].state == TrialState.COMPLETE
    assert result.counts == {"complete": 1, "fail": 1} and result.best_params == {"train.lr": 0.05}


def test_cmaes_with_hyperband_and_the_cli(tmp_path, capsys):
    from deepfit.cli import main

    config = tmp_path / "cmaes.yaml"
    config.write_text(
        "data: {source: 'builtin:iris', target: target}\nmodel: {hidden: [16]}\ntrain: {epochs: 3}\n"
        "tune:\n  sampler: cmaes\n  pruner: hyperband\n"
        "  space: {train.lr: {float: [1e-3, 1e-1], log: true}, train.batch_size: {int: [16, 32], step: 8}}\n"
    )
    code = main(["tune", str(config), "--trials", "2", "--dir", str(tmp_path / "cli"), "--quiet"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli" / "best.yaml")
    assert len(load(tmp_path / "cli").trials) == 2
