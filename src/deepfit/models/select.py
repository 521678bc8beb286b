"""``model.name: auto``: the architecture family from the data's kind and task, its size from the data.

Each data kind has a rule ``rule(spec, config) -> (ModelConfig updates, reason)``. The resolved config
(a concrete name) is what is built, printed, and saved in ``config.yaml`` and ``model/meta.json``, so a
saved run never depends on this choice being made the same way again.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

from torch import nn

from deepfit.config import ModelConfig
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError

Rule = Callable[[DataSpec, ModelConfig], tuple[dict[str, Any], str]]
_RULES: dict[str, Rule] = {}


def register_rule(kind: str, rule: Rule) -> None:
    _RULES[kind] = rule


def resolve_model(config: ModelConfig, spec: DataSpec) -> tuple[ModelConfig, str]:
    """Return the concrete model config and the reason it was chosen (empty when not automatic)."""
    if config.name != "auto":
        return config, ""
    _load_rules()
    rule = _RULES.get(spec.kind)
    if rule is None:
        raise ConfigError(f"model.name auto has no rule for {spec.kind} data", hint="set model.name explicitly")
    updates, reason = rule(spec, config)
    # auto fills in what the user did not say: keys set in the config keep their values
    kept = {k: v for k, v in updates.items() if k == "name" or k not in config.model_fields_set}
    resolved = config.model_copy(update=kept)
    if kept != updates:  # the rule described its own sizes: describe what will be built instead
        reason = _redescribe(reason, resolved, spec)
        reason += f" (kept from the config: {', '.join(sorted(set(updates) - set(kept)))})"
    return resolved, reason


def describe_choice(config: ModelConfig) -> str:
    """The resolved model in the words of the rules: ``MLP [128, 128]``, ``cnn [16, 32]``, ``bidirectional GRU
    64 x 1 layer(s)``, ``transformer d_model 128, 2 layers``."""
    name = config.name
    both_ways = "bidirectional " if config.bidirectional else ""
    if name == "mlp":
        return f"MLP {config.hidden}"
    if name in ("cnn", "resnet"):
        blocks = f", {_count(config.blocks, 'block')} per stage" if config.blocks != 2 else ""
        return f"{name} {config.channels}{blocks}"
    if name in ("rnn", "lstm", "gru"):
        return f"{both_ways}{name.upper()} {config.rnn_hidden} x {config.rnn_layers} layer(s)"
    if name == "text_rnn":
        layers = f" x {config.rnn_layers} layers" if config.rnn_layers > 1 else ""
        return f"{both_ways}{config.rnn_type.upper()} {config.rnn_hidden}{layers}"
    if name == "transformer":
        return f"transformer d_model {config.d_model}, {_count(config.layers, 'layer')}"
    from deepfit.models.registry import describe

    return describe(config.model_dump())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _redescribe(reason: str, resolved: ModelConfig, spec: DataSpec) -> str:
    """``<the data> → <the model built> (<its parameter count>[, its budget])``, the data part kept from the rule."""
    from deepfit.models.registry import get_builder

    params = sum(p.numel() for p in get_builder(resolved.name)(spec, resolved).parameters())
    budget = resolved.max_params
    if budget is None:
        within = ""
    elif params <= budget:
        within = f", within model.max_params={budget:,}"
    else:
        within = f", over model.max_params={budget:,} with the sizes set in the config"
    data, arrow, _ = reason.partition(" → ")
    head = data if arrow else f"{reason}; built"
    return f"{head} → {describe_choice(resolved)} ({params:,} parameters{within})"


def build_auto(spec: DataSpec, config: ModelConfig) -> nn.Module:
    from deepfit.models.registry import get_builder

    resolved, _ = resolve_model(config, spec)
    return get_builder(resolved.name)(spec, resolved)


def within_budget(candidates: list[dict[str, Any]], spec: DataSpec, config: ModelConfig) -> tuple[dict[str, Any], int]:
    """The first (largest) candidate whose parameter count fits ``config.max_params``; else the smallest.

    Keys the user set in the config override the candidates', so the count is of what will be built.
    """
    from deepfit.models.registry import get_builder

    counted = []
    user = {k: getattr(config, k) for k in config.model_fields_set if k != "name"}
    for updates in candidates:
        resolved = config.model_copy(update={**updates, **user})
        params = sum(p.numel() for p in get_builder(resolved.name)(spec, resolved).parameters())
        if config.max_params is None or params <= config.max_params:
            return updates, params
        counted.append((params, updates))
    params, updates = min(counted, key=lambda item: item[0])
    return updates, params


def tabular_rule(spec: DataSpec, config: ModelConfig) -> tuple[dict[str, Any], str]:
    """An MLP: wider for more rows (about 4 x sqrt(rows), 32 to 512), three layers from 50k rows."""
    n = max(spec.n_train, 1)
    width = int(min(512, max(32, 2 ** round(math.log2(4 * n**0.5)))))
    depth = 3 if n >= 50_000 else 2
    candidates = [
        {"name": "mlp", "hidden": [max(8, width >> shrink)] * depth} for shrink in range(0, 7) if (width >> shrink) >= 8
    ]
    updates, params = within_budget(candidates, spec, config)
    budget = f", within model.max_params={config.max_params:,}" if config.max_params else ""
    reason = f"tabular {spec.task} with {n:,} training rows → MLP {updates['hidden']} ({params:,} parameters{budget})"
    return updates, reason


def _load_rules() -> None:
    """Rules of the other kinds live beside their architectures; importing them registers them."""
    register_rule("tabular", tabular_rule)
    for module in _RULE_MODULES:
        importlib.import_module(module)


# Modules that call register_rule(kind, rule) when imported (added with each data kind).
_RULE_MODULES: list[str] = ["deepfit.models.cnn", "deepfit.models.rnn", "deepfit.models.text"]
