"""model.name auto: the "chosen automatically" text describes the model that is built, user-set sizes included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepfit.config import ModelConfig
from deepfit.data.spec import DataSpec
from deepfit.models.select import describe_choice, resolve_model
from deepfit.predictor import build_model

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
