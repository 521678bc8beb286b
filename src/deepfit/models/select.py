"""``model.name: auto``: the architecture family from the data's kind and task, its size from the data.

Each data kind has a rule ``rule(spec, config) -> (model key updates, reason)``. The resolved config (a
concrete name, as the class of that architecture) is what is built, printed, and saved in ``config.yaml`` and
``model/meta.json``, so a saved run never depends on this choice being made the same way again. ``auto``
accepts the keys of every family it chooses among; keys set for another family than the one chosen are an
error naming them.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any, cast

from torch import nn

from deepfit.config import AutoModelConfig, ModelConfig, TabMConfig, TrainConfig
from deepfit.config.model import config_class
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError

Rule = Callable[[DataSpec, AutoModelConfig], tuple[dict[str, Any], str]]
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
    updates, reason = rule(spec, cast(AutoModelConfig, config))
    # auto fills in what the user did not say: keys set in the config keep their values
    kept = {k: v for k, v in updates.items() if k == "name" or k not in config.model_fields_set}
    resolved = chosen_config(config, kept, reason)
    if kept != updates:  # the rule described its own sizes: describe what will be built instead
        reason = _redescribe(reason, resolved, spec)
        reason += f" (kept from the config: {', '.join(sorted(set(updates) - set(kept)))})"
    return resolved, reason


def chosen_config(config: ModelConfig, updates: dict[str, Any], reason: str = "") -> ModelConfig:
    """The class of the architecture ``updates["name"]``, from the keys the user set and ``updates``; a key set
    that this architecture does not have is a ConfigError naming it (``reason``: why auto chose it)."""
    name = updates["name"]
    target = config_class(name)
    user = {k: getattr(config, k) for k in config.model_fields_set if k != "name"}
    foreign = sorted(k for k in user if k not in target.model_fields)
    if foreign and target.model_config.get("extra") != "allow":
        owners = sorted({n for n in _architectures() if any(k in config_class(n).model_fields for k in foreign)})
        keys = ", ".join(f"model.{k}" for k in foreign)
        why = f" ({reason})" if reason else ""
        raise ConfigError(
            f"model.name auto chose {name} for this data{why}; {name} has no {keys}",
            hint=f"remove {keys}, or set model.name to an architecture that has {'it' if len(foreign) == 1 else 'them'}"
            + (f" ({', '.join(owners)})" if owners else ""),
        )
    return target.model_validate({**user, **updates})


def _architectures() -> list[str]:
    from deepfit.models.registry import architecture_names

    return [n for n in architecture_names() if n != "auto"]


def describe_choice(model: ModelConfig) -> str:
    """The resolved model in the words of the rules: ``MLP [128, 128]``, ``cnn [16, 32]``, ``bidirectional GRU
    64 x 1 layer(s)``, ``transformer d_model 128, 2 layers``."""
    name, config = model.name, cast(Any, model)  # the keys of the family ``name``
    both_ways = "bidirectional " if getattr(config, "bidirectional", False) else ""
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
    if name == "ngram":
        bigrams = f" + {config.ngram_buckets:,} bigram buckets" if config.ngram_buckets else ""
        return f"ngram bag of words{bigrams}, width {config.embedding_dim or 32}"
    if name == "tabm":
        n_blocks = config.tabm_blocks or (2 if config.tabm_embedding != "none" else 3)
        return f"TabM k={config.tabm_k} x {_count(n_blocks, 'block')} of {config.tabm_width}"
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


def within_budget(
    candidates: list[dict[str, Any]], spec: DataSpec, config: AutoModelConfig
) -> tuple[dict[str, Any], int]:
    """The first (largest) candidate whose parameter count fits ``config.max_params``; else the smallest.

    Keys the user set in the config override the candidates', so the count is of what will be built.
    """
    from deepfit.models.registry import get_builder

    counted = []
    for updates in candidates:
        target = config_class(updates["name"])
        user = {k: getattr(config, k) for k in config.model_fields_set if k != "name" and k in target.model_fields}
        resolved = target.model_validate({**updates, **user})  # keys of another family: refused by resolve_model
        params = sum(p.numel() for p in get_builder(resolved.name)(spec, resolved).parameters())
        if config.max_params is None or params <= config.max_params:
            return updates, params
        counted.append((params, updates))
    params, updates = min(counted, key=lambda item: item[0])
    return updates, params


# Model keys that only an MLP has: set with model.name auto, they ask for an MLP (the sizes are kept).
MLP_KEYS = frozenset({"hidden", "activation", "batch_norm", "init"})


def tabular_family(config: ModelConfig) -> str:
    """What a table's model will be: ``tabm`` for auto (unless MLP keys are set) and tabm, else the name."""
    if config.name == "auto":
        return "mlp" if MLP_KEYS & config.model_fields_set else "tabm"
    return config.name


# TabM's sizes, (k, width), from the paper's (32, 512) down: the first within both budgets is built.
TABM_SIZES = [
    (32, 512),
    (16, 512),
    (32, 256),
    (16, 256),
    (32, 128),
    (16, 128),
    (8, 128),
    (16, 64),
    (8, 64),
    (4, 64),
    (4, 32),
]
# The compute budget of one epoch of a table's model: multiply-adds of one forward pass over the training rows
# (about 0.3 s an epoch on 2 CPU cores, so that a table under 10,000 rows trains in about 20 s); above 10,000
# rows it grows with the rows (the model stops shrinking: a larger table is worth a longer run).
EPOCH_MACS = 2e9


def epoch_budget(n_train: int) -> float:
    return EPOCH_MACS * max(1.0, n_train / 10_000)


def tabular_rule(spec: DataSpec, config: AutoModelConfig) -> tuple[dict[str, Any], str]:
    """TabM (Gorishniy et al., ICLR 2025): k members sharing one MLP, the largest of ``TABM_SIZES`` (the paper's
    k=32, width 512 first) whose epoch fits :func:`epoch_budget` and whose parameters fit model.max_params.

    With MLP keys set in the config (``model.hidden``, ...), an MLP of about 4 x sqrt(rows) units instead.
    """
    n = max(spec.n_train, 1)
    if tabular_family(config) == "mlp":
        return _mlp_rule(spec, config, n)
    user = {k: getattr(config, k) for k in config.model_fields_set if k != "name"}
    sizes = [{"name": "tabm", "tabm_k": k, "tabm_width": w} for k, w in TABM_SIZES]
    budget_macs = epoch_budget(n)
    affordable = [u for u in sizes if n * tabm_macs(spec, config.model_copy(update={**u, **user})) <= budget_macs]
    updates, params = within_budget(affordable or sizes[-1:], spec, config)
    budget = f", within model.max_params={config.max_params:,}" if config.max_params else ""
    described = describe_choice(config.model_copy(update=updates))
    reason = (
        f"tabular {spec.task} with {n:,} training rows → {described} ({params:,} parameters{budget}; "
        f"the largest whose epoch is within {budget_macs:.1e} multiply-adds)"
    )
    return updates, reason


def tabm_macs(spec: DataSpec, config: TabMConfig | AutoModelConfig) -> float:
    """Multiply-adds of one TabM forward pass for one row: the numeric embeddings, then k members."""
    from deepfit.models.tabm import EMBEDDING_SIZE

    embed = config.tabm_embedding != "none" and spec.n_features > 0
    d_in = spec.n_features * (EMBEDDING_SIZE if embed else 1)
    d_in += sum(config.embedding_dim or min(32, (card + 1) // 2) for card in spec.cardinalities or [])
    width, blocks = config.tabm_width, config.tabm_blocks or (2 if embed else 3)
    per_member = d_in * width + (blocks - 1) * width * width + width * spec.n_outputs
    bins = spec.n_features * config.tabm_bins * EMBEDDING_SIZE if embed else 0
    return bins + config.tabm_k * per_member


def _mlp_rule(spec: DataSpec, config: AutoModelConfig, n: int) -> tuple[dict[str, Any], str]:
    width = int(min(512, max(32, 2 ** round(math.log2(4 * n**0.5)))))
    depth = 3 if n >= 50_000 else 2
    candidates = [
        {"name": "mlp", "hidden": [max(8, width >> shrink)] * depth} for shrink in range(0, 7) if (width >> shrink) >= 8
    ]
    updates, params = within_budget(candidates, spec, config)
    budget = f", within model.max_params={config.max_params:,}" if config.max_params else ""
    reason = f"tabular {spec.task} with {n:,} training rows → MLP {updates['hidden']} ({params:,} parameters{budget})"
    return updates, reason


# ---------------------------------------------------------------- training defaults per architecture
# A training rule returns dotted train keys (``"early_stopping.patience"``) and the reason; resolve_training
# applies those the user did not set. Keys set in the config, the CLI or a tuning trial are never changed.
TrainRule = Callable[[DataSpec, TrainConfig], tuple[dict[str, Any], str]]
_TRAIN_RULES: dict[str, TrainRule] = {}


def register_training(name: str, rule: TrainRule) -> None:
    """Training defaults for the architecture ``name`` (applied to the train keys a config leaves unset)."""
    _TRAIN_RULES[name] = rule


def resolve_training(train: TrainConfig, model: ModelConfig, spec: DataSpec) -> tuple[TrainConfig, str]:
    """``train`` with the architecture's own defaults in the keys the user left unset, and what they are."""
    _load_rules()
    rule = _TRAIN_RULES.get(model.name)
    if rule is None:
        return train, ""
    updates, source = rule(spec, train)
    applied = {key: value for key, value in updates.items() if not _is_set(train, key)}
    if not applied:
        return train, ""
    resolved = _with_dotted(train, applied)
    kept = sorted(set(updates) - set(applied))
    shown = ", ".join(f"{key} {value}" for key, value in applied.items())
    return resolved, f"{shown} ({source}{'; kept from the config: ' + ', '.join(kept) if kept else ''})"


def _is_set(section: Any, dotted: str) -> bool:
    head, _, rest = dotted.partition(".")
    if head not in section.model_fields_set:
        return False
    return _is_set(getattr(section, head), rest) if rest else True


def _with_dotted(section: Any, updates: dict[str, Any]) -> Any:
    flat = {k: v for k, v in updates.items() if "." not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in updates.items():
        if "." in key:
            head, _, rest = key.partition(".")
            nested.setdefault(head, {})[rest] = value
    flat |= {head: _with_dotted(getattr(section, head), inner) for head, inner in nested.items()}
    return section.model_copy(update=flat)


def tabm_training(spec: DataSpec, train: TrainConfig) -> tuple[dict[str, Any], str]:
    """TabM's recipe (Gorishniy et al. 2025): AdamW, lr 2e-3, weight decay 3e-4, a constant rate, early
    stopping after 16 epochs without improvement (the best epoch kept). Its batch of 256 shrinks on small
    tables to about 16 steps an epoch (16 to 256 rows) and grows on large ones (512 from 100,000 rows,
    1,024 from 1,000,000); at most about 20,000 steps (30 to 200 epochs)."""
    n = max(spec.n_train, 1)
    if n >= 1_000_000:
        batch = 1024
    elif n >= 100_000:
        batch = 512
    else:
        batch = int(min(256, max(16, 2 ** round(math.log2(max(n / 16, 1))))))
    steps = math.ceil(n / batch)
    epochs = int(min(200, max(30, math.ceil(20_000 / steps))))
    updates = {
        "batch_size": batch,
        "epochs": epochs,
        "lr": 2e-3,
        "weight_decay": 3e-4,
        "optimizer.name": "adamw",
        "schedule.name": "constant",
        "early_stopping.patience": 16,
    }
    return updates, "TabM's recipe, batch and epochs from the training rows"


def _load_rules() -> None:
    """Rules of the other kinds live beside their architectures; importing them registers them."""
    register_rule("tabular", tabular_rule)
    register_training("tabm", tabm_training)
    for module in _RULE_MODULES:
        importlib.import_module(module)


# Modules that call register_rule(kind, rule) when imported (added with each data kind).
_RULE_MODULES: list[str] = ["deepfit.models.cnn", "deepfit.models.rnn", "deepfit.models.text"]
