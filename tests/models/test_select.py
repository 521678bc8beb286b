"""model.name auto: the "chosen automatically" text describes the model that is built, user-set sizes included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepfit.config import ModelConfig
from deepfit.data.spec import DataSpec
from deepfit.models.registry import build_model
from deepfit.models.select import describe_choice, resolve_model

SPECS = {
    "tabular": DataSpec(task="classification", n_features=6, n_outputs=3, n_train=20_000),
    "image": DataSpec(
        task="classification", n_features=3 * 32 * 32, n_outputs=3, kind="image", input_shape=[3, 32, 32], n_train=9_000
    ),
    "small images": DataSpec(
        task="classification", n_features=64, n_outputs=10, kind="image", input_shape=[1, 8, 8], n_train=1_300
    ),
    "sequence": DataSpec(
        task="regression", n_features=2, n_outputs=1, kind="sequence", input_shape=[10, 2], n_train=800
    ),
    "timeseries": DataSpec(
        task="regression", n_features=2, n_outputs=3, kind="timeseries", input_shape=[10, 2], n_train=5_000
    ),
    "text": DataSpec(
        task="classification", n_features=20, n_outputs=2, kind="text", input_shape=[20], vocab_size=500, n_train=1_200
    ),
    "many texts": DataSpec(
        task="classification", n_features=20, n_outputs=2, kind="text", input_shape=[20], vocab_size=500, n_train=8_000
    ),
}

# For each kind: sizes a user sets, and how the choice must name them.
USER_SIZES = [
    ("tabular", {"hidden": [128, 128]}, "MLP [128, 128]"),
    ("tabular", {"hidden": [32], "max_params": 100}, "MLP [32]"),
    ("image", {"channels": [8, 16]}, "resnet [8, 16]"),
    ("image", {"blocks": 1}, "resnet [32, 64, 128], 1 block per stage"),
    ("small images", {"channels": [8, 16]}, "cnn [8, 16]"),
    ("sequence", {"rnn_hidden": 16, "rnn_layers": 3}, "bidirectional GRU 16 x 3 layer(s)"),
    ("timeseries", {"bidirectional": True, "rnn_hidden": 24}, "bidirectional LSTM 24 x 1 layer(s)"),
    ("text", {"rnn_type": "lstm", "rnn_hidden": 24}, "bidirectional LSTM 24"),
    ("text", {"bidirectional": False}, "GRU 128"),
    ("many texts", {"d_model": 64, "layers": 1}, "transformer d_model 64, 1 layer"),
]


def _parameters(reason: str) -> int:
    return int(re.search(r"\(([\d,]+) parameters", reason).group(1).replace(",", ""))


@pytest.mark.parametrize(("kind", "sizes", "named"), USER_SIZES)
def test_auto_with_sizes_set_in_the_config_names_them_and_counts_them(kind: str, sizes: dict, named: str) -> None:
    spec = SPECS[kind]
    resolved, reason = resolve_model(ModelConfig(**sizes), spec)
    for key, value in sizes.items():
        assert getattr(resolved, key) == value
    assert f"→ {named} (" in reason, reason
    assert _parameters(reason) == sum(p.numel() for p in build_model(resolved, spec).parameters()), reason
    kept = sorted(k for k in sizes if k != "max_params")
    assert reason.endswith(f"(kept from the config: {', '.join(kept)})")


def test_the_tester_case_names_the_users_mlp_not_the_rules() -> None:
    resolved, reason = resolve_model(ModelConfig(hidden=[128, 128]), SPECS["tabular"])
    n = sum(p.numel() for p in build_model(resolved, SPECS["tabular"]).parameters())
    assert reason == (
        f"tabular classification with 20,000 training rows → MLP [128, 128] ({n:,} parameters) "
        "(kept from the config: hidden)"
    )
    assert "512" not in reason


def test_a_budget_the_users_sizes_exceed_is_not_claimed_to_be_met() -> None:
    _, reason = resolve_model(ModelConfig(hidden=[32], max_params=100), SPECS["tabular"])
    assert "over model.max_params=100 with the sizes set in the config" in reason and "within" not in reason


@pytest.mark.parametrize("kind", list(SPECS))
def test_without_user_sizes_the_rule_text_already_describes_the_model(kind: str) -> None:
    resolved, reason = resolve_model(ModelConfig(), SPECS[kind])
    assert f"→ {describe_choice(resolved)} (" in reason
    assert _parameters(reason) == sum(p.numel() for p in build_model(resolved, SPECS[kind]).parameters())


def test_meta_json_records_the_choice_of_the_model_built(tmp_path: Path) -> None:
    import json

    from deepfit.api import train

    config = {"data": {"source": "builtin:iris"}, "model": {"hidden": [8, 4]}, "train": {"epochs": 1}}
    run = train(config, run_dir=tmp_path / "run", quiet=True).run_dir
    meta = json.loads((run / "model" / "meta.json").read_text())
    assert meta["model"]["hidden"] == [8, 4] and "→ MLP [8, 4] (" in meta["choice"]
    assert _parameters(meta["choice"]) == 4 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3


# ---------------------------------------------------------------- tables: TabM and its training recipe
def _table(rows: int, features: int = 6) -> DataSpec:
    return DataSpec(task="classification", n_features=features, n_outputs=3, n_train=rows)


def test_a_table_gets_tabm_as_large_as_its_compute_budget_allows() -> None:
    from deepfit.models.select import TABM_SIZES, epoch_budget, tabm_macs

    small, _ = resolve_model(ModelConfig(), _table(100))
    assert (small.name, small.tabm_k, small.tabm_width) == ("tabm", 32, 512)  # the paper's size
    for rows in (2_000, 10_000, 200_000):
        spec = _table(rows, 20)
        resolved, reason = resolve_model(ModelConfig(), spec)
        assert resolved.name == "tabm" and f"TabM k={resolved.tabm_k} x 2 blocks of {resolved.tabm_width}" in reason
        assert rows * tabm_macs(spec, resolved) <= epoch_budget(rows)
        larger = TABM_SIZES[: TABM_SIZES.index((resolved.tabm_k, resolved.tabm_width))]
        sized = [resolved.model_copy(update={"tabm_k": k, "tabm_width": w}) for k, w in larger]
        assert all(rows * tabm_macs(spec, c) > epoch_budget(rows) for c in sized)  # the largest that fits
    assert resolve_model(ModelConfig(), _table(10_000, 20))[0].tabm_width < 512
    wide, _ = resolve_model(ModelConfig(), _table(10_000, 2_000))  # nothing fits: the smallest
    assert (wide.tabm_k, wide.tabm_width) == TABM_SIZES[-1]
    capped, _ = resolve_model(ModelConfig(max_params=30_000), _table(100))
    assert sum(p.numel() for p in build_model(capped, _table(100)).parameters()) <= 30_000
    kept, reason = resolve_model(ModelConfig(tabm_k=4), _table(100))
    assert kept.tabm_k == 4 and "kept from the config: tabm_k" in reason


def test_mlp_keys_with_auto_ask_for_an_mlp() -> None:
    for keys in ({"hidden": [16]}, {"batch_norm": True}, {"activation": "gelu"}):
        assert resolve_model(ModelConfig(**keys), _table(500))[0].name == "mlp"
    assert resolve_model(ModelConfig(dropout=0.2), _table(500))[0].name == "tabm"  # a key every model has


def test_tabm_training_defaults_fill_only_what_the_config_leaves_unset() -> None:
    from deepfit.config import TrainConfig, load_config
    from deepfit.models.select import resolve_training

    tabm = ModelConfig(name="tabm")
    train, reason = resolve_training(TrainConfig(), tabm, _table(103))
    assert (train.batch_size, train.epochs, train.lr, train.weight_decay) == (16, 200, 2e-3, 3e-4)
    assert train.schedule.name == "constant" and train.early_stopping.patience == 16
    assert "TabM's recipe" in reason
    assert resolve_training(TrainConfig(), tabm, _table(50_000))[0].batch_size == 256
    assert resolve_training(TrainConfig(), tabm, _table(500_000))[0].batch_size == 512
    big = resolve_training(TrainConfig(), tabm, _table(2_000_000))[0]
    assert (big.batch_size, big.epochs) == (1024, 30)

    user = load_config({"train": {"lr": 0.01, "early_stopping": {"patience": 3}, "schedule": {"name": "cosine"}}})
    train, reason = resolve_training(user.train, tabm, _table(103))
    assert (train.lr, train.early_stopping.patience, train.schedule.name) == (0.01, 3, "cosine")
    assert train.batch_size == 16 and train.early_stopping.monitor == "loss"  # siblings of a set key: defaults
    assert reason.endswith("kept from the config: early_stopping.patience, lr, schedule.name)")
    assert resolve_training(TrainConfig(), ModelConfig(name="mlp"), _table(103)) == (TrainConfig(), "")
    # a saved run's config sets every key: resuming it never re-applies the recipe
    saved = load_config(load_config({"model": {"name": "tabm"}}).to_dict())
    assert resolve_training(saved.train, tabm, _table(103))[1] == ""


def test_auto_resolves_to_the_chosen_architectures_class_keeping_the_keys_set() -> None:
    from deepfit.config import MLPConfig, TabMConfig

    tabm, _ = resolve_model(ModelConfig(tabm_k=4, dropout=0.2), _table(500))
    assert type(tabm) is TabMConfig and {"tabm_k", "dropout"} <= tabm.model_fields_set
    assert "hidden" not in tabm.model_dump()
    mlp, _ = resolve_model(ModelConfig(hidden=[16]), _table(500))
    assert type(mlp) is MLPConfig and mlp.hidden == [16] and "tabm_k" not in mlp.model_dump()


@pytest.mark.parametrize(
    ("kind", "keys", "message"),
    [
        ("tabular", {"rnn_hidden": 8}, r"auto chose tabm for this data \(tabular .*\); tabm has no model\.rnn_hidden"),
        ("tabular", {"hidden": [8], "d_model": 16}, r"auto chose mlp .*; mlp has no model\.d_model"),
        ("text", {"hidden": [8]}, r"auto chose ngram .*; ngram has no model\.hidden"),
        (
            "image",
            {"rnn_hidden": 8, "tabm_k": 2},
            r"auto chose resnet .*; resnet has no model\.rnn_hidden, model\.tabm_k",
        ),
    ],
)
def test_auto_refuses_keys_the_chosen_architecture_does_not_have(kind: str, keys: dict, message: str) -> None:
    from deepfit.errors import ConfigError

    spec = _table(500) if kind == "tabular" else SPECS[kind]
    with pytest.raises(ConfigError, match=message) as info:
        resolve_model(ModelConfig(**keys), spec)
    assert "set model.name to an architecture that has" in str(info.value)
