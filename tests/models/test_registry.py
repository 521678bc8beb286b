"""The architecture registry: lookups without torch, sizes for summaries, mistakes named."""

from __future__ import annotations

import pytest

from deepfit.errors import ConfigError
from deepfit.models.registry import architecture_names, describe, get_builder


def test_describe_shows_each_family_by_its_own_size_keys() -> None:
    assert describe({"name": "mlp", "hidden": [256, 128]}) == "mlp hidden [256, 128]"
    assert describe({"name": "cnn", "channels": [16, 32], "blocks": 2}) == "cnn channels [16, 32] blocks 2"
    assert describe({"name": "gru", "rnn_hidden": 64, "rnn_layers": 1}) == "gru rnn_hidden 64 rnn_layers 1"
    assert describe({"name": "transformer", "d_model": 128, "layers": 2}) == "transformer d_model 128 layers 2"
    assert describe({"name": "custom", "builder": "nets.py:build"}) == "custom nets.py:build"
    assert describe({"name": "gan", "hidden": [64], "channels": [8, 16]}, "image") == "gan channels [8, 16]"


def test_an_unknown_architecture_is_named_with_a_suggestion() -> None:
    assert {"mlp", "cnn", "resnet", "rnn", "lstm", "gru", "text_rnn", "transformer", "gan"} <= set(architecture_names())
    with pytest.raises(ConfigError, match="unknown architecture 'lstn' \\(did you mean 'lstm'"):
        get_builder("lstn")
