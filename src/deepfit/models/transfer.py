"""Transfer learning on models: which layers are the head, layer groups, and weights taken from another run.

The **head** of a model is the module producing its outputs: the one an architecture names in ``head_name``
(TabM: ``output``), else its ``head`` attribute (every built-in architecture but TabM), else the last module
holding parameters of its own (a user's ``nn.Sequential``). The **body** is every other parameter.

**Layer groups** (discriminative learning rates, ``train.fine_tune.lr_mult``) follow fastai's ``fine_tune``:
the body's blocks in the order they are registered (a top-level module, or each child of a top-level
``Sequential`` / ``ModuleList``) split into ``groups - 1`` runs, the head last; group ``i`` of ``n`` learns at
``lr / lr_mult ** ((n - 1 - i) / (n - 1))``: ``lr / lr_mult`` first, ``lr`` at the head, evenly spaced on a log
scale between (fastai's ``even_mults``).

:func:`load_matching` starts a model from another run's weights: a tensor whose name and shape match is
copied; one whose shape differs keeps its new initialisation and is reported, as are the new tensors and the
source's unused ones. The head is loaded only when its outputs mean the same (the same task and classes): for other
classes it starts anew even when there are as many (digits 5-9 after 0-4), as fastai and Keras replace it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from deepfit.errors import ConfigError, did_you_mean

CONTAINERS = (nn.Sequential, nn.ModuleList)


def head_name(model: nn.Module) -> str:
    """The name of the module producing the outputs (see the module's docstring)."""
    named = getattr(model, "head_name", None)
    if isinstance(named, str):
        return named
    if isinstance(getattr(model, "head", None), nn.Module):
        return "head"
    last = ""
    for name, module in model.named_modules():
        if name and any(True for _ in module.parameters(recurse=False)):
            last = name
    if not last:
        raise ConfigError(
            f"{type(model).__name__} has no module holding parameters, so no head to keep training",
            hint="name the parameters to freeze in train.freeze instead of 'body'",
        )
    return last


def in_module(name: str, module: str) -> bool:
    """Whether parameter ``name`` belongs to ``module`` (a dotted module name)."""
    return name == module or name.startswith(module + ".")


def frozen_names(model: nn.Module, freeze: str | list[str]) -> list[str]:
    """The parameters ``train.freeze`` names: ``body`` (all but the head), or those matching a pattern.

    A pattern matches a parameter's dotted name (``features.0.*``) or a module's (``embedding``: its
    parameters); one that matches nothing is a ConfigError listing the model's top-level modules.
    """
    names = [name for name, _ in model.named_parameters()]
    if freeze == "body":
        head = head_name(model)
        return [n for n in names if not in_module(n, head)]
    found: list[str] = []
    for pattern in freeze:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern) or in_module(n, pattern)]
        if not hits:
            tops = list(dict.fromkeys(n.split(".")[0] for n in names))
            raise ConfigError(
                f"train.freeze: '{pattern}' matches no parameter of {type(model).__name__}"
                f"{did_you_mean(pattern.split('.')[0], tops)}",
                hint=f"its modules: {', '.join(tops)}; a pattern like 'features.*' or 'body' (all but the head)",
            )
        found += [n for n in hits if n not in found]
    return [n for n in names if n in found]  # in the model's order


def blocks(model: nn.Module) -> list[list[str]]:
    """The body's parameter names by block, in order (a top-level module, or each child of a container)."""
    head = head_name(model)
    out: dict[str, list[str]] = {}
    for name, _ in model.named_parameters():
        if in_module(name, head):
            continue
        parts = name.split(".")
        key = parts[0]
        if len(parts) > 2 and isinstance(getattr(model, parts[0], None), CONTAINERS):
            key = ".".join(parts[:2])
        out.setdefault(key, []).append(name)
    return list(out.values())


def layer_groups(model: nn.Module, groups: int, lr_mult: float) -> list[tuple[list[str], float]]:
    """``(parameter names, rate multiplier)`` per layer group, first to last; the head is the last group."""
    body = blocks(model)
    n_body = min(groups - 1, len(body))
    runs: list[list[str]] = []
    for i in range(n_body):  # contiguous runs of blocks, as even as the count allows
        chunk = body[i * len(body) // n_body : (i + 1) * len(body) // n_body]
        runs.append([name for block in chunk for name in block])
    head = head_name(model)
    runs.append([name for name, _ in model.named_parameters() if in_module(name, head)])
    n = len(runs)
    return [(names, 1.0 if n == 1 else lr_mult ** -((n - 1 - i) / (n - 1))) for i, names in enumerate(runs)]


# ---------------------------------------------------------------- weights from another run
def load_matching(model: nn.Module, source: Mapping[str, torch.Tensor], *, keep_head: bool = True) -> dict[str, Any]:
    """Copy the tensors of ``source`` (a state dict) whose name and shape match into ``model``.

    ``keep_head=False`` leaves the head as built (the source's outputs mean other classes, even when there are
    as many). Returns what happened, as plain values: ``loaded`` names, ``skipped`` (``name``, ``source`` and
    ``model`` shapes, ``reason``), ``new`` (not in the source) and ``unused`` (in the source only).
    """
    target = model.state_dict()
    head = None if keep_head else head_name(model)
    merged, loaded, skipped, new = dict(target), [], [], []
    for name, tensor in target.items():
        shapes = {"source": list(source[name].shape), "model": list(tensor.shape)} if name in source else {}
        if name not in source:
            new.append(name)
        elif tuple(source[name].shape) != tuple(tensor.shape):
            skipped.append({"name": name, **shapes, "reason": "shape"})
        elif head is not None and in_module(name, head):
            skipped.append({"name": name, **shapes, "reason": "outputs"})
        else:
            merged[name] = source[name].to(dtype=tensor.dtype)
            loaded.append(name)
    model.load_state_dict(merged)
    unused = [name for name in source if name not in target]
    return {"loaded": loaded, "skipped": skipped, "new": new, "unused": unused}


def summary_rows(result: dict[str, Any], model: nn.Module) -> list[tuple[str, int, int, int]]:
    """``(module, loaded, skipped, new)`` per top-level module, in the model's order."""
    rows: dict[str, list[int]] = {}
    parameters = {name for name, _ in model.named_parameters()}
    for column, names in enumerate(
        (result["loaded"], [s["name"] for s in result["skipped"]], result["new"]),
    ):
        for name in names:
            if name not in parameters:
                continue  # buffers (batch-norm statistics) follow their layer; counted as parameters
            rows.setdefault(name.split(".")[0], [0, 0, 0])[column] += 1
    order = list(dict.fromkeys(name.split(".")[0] for name, _ in model.named_parameters()))
    return [(module, rows[module][0], rows[module][1], rows[module][2]) for module in order if module in rows]
