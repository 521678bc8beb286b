"""What the diagnostics find, as pure functions of the numbers: gradient checks (one sample), loss-curve
checks (once per epoch) and dead units, each a :class:`Finding` naming the epoch, the layers and the config
keys to change, never to a value they already have (:class:`Settings`: the run's config and what its model
and optimizer show). ``deepfit.training.diagnostics`` is the callback that gathers the numbers."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from deepfit.config import DiagnosticsConfig, flatten

TITLES = {"dead_relus": "dead ReLU units", "non_finite_gradients": "inf/NaN gradients"}  # default: kind
# Overfitting without a rise: on the last `patience` epochs, validation loss at least this many times the
# training loss, and above it by at least this share of chance-level loss (ln(classes); for regression, the
# first epoch's training loss), so that two tiny losses of a near-perfect model are not a "gap".
_GAP_RATIO = 2.0
_GAP_SHARE = 0.1


@dataclass
class Finding:
    """One problem seen during training: what, when, where, and what to try (with the config keys)."""

    kind: str  # vanishing_gradients, exploding_gradients, non_finite_gradients, divergence, ...
    epoch: int  # 1-based, as in metrics.jsonl
    layers: list[str]
    message: str
    fix: str
    severity: str = "warning"  # info | warning | error
    advice: dict[str, Any] = field(default_factory=dict)  # the config values ``fix`` proposes (a list: either)

    def line(self) -> str:
        title = TITLES.get(self.kind, self.kind.replace("_", " "))
        return f"epoch {self.epoch}, {title}: {self.message} Try: {self.fix}."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- what the run is set to
class Settings:
    """The settings advice names, by two accounts: the run's config (dotted keys) and what its model and
    optimizer show (batch norm layers, dropout, weight decay).

    A fix never proposes a value a key already has by either account: a ResNet has batch normalisation
    whatever ``model.batch_norm`` says, and ``model.dropout: 0.3`` in the config counts even where a
    custom model has no dropout layer. A key neither knows (a bare ``Trainer`` has no model config) is
    advised as a plain suggestion.
    """

    def __init__(self, config: Any = None, observed: dict[str, Any] | None = None) -> None:
        self.config = dotted(config)
        self.observed = {k: v for k, v in (observed or {}).items() if v is not None}

    def values(self, key: str) -> list[Any]:
        return [source[key] for source in (self.config, self.observed) if source.get(key) is not None]

    def get(self, key: str) -> Any:
        """The config's value, else the observed one, else None."""
        return next(iter(self.values(key)), None)

    def has(self, key: str, value: Any) -> bool:
        return any(_same(known, value) for known in self.values(key))

    def number(self, key: str) -> float | None:
        """The largest number known for ``key`` (None when neither account has one)."""
        numbers = [float(v) for v in self.values(key) if isinstance(v, int | float) and not isinstance(v, bool)]
        return max(numbers) if numbers else None


def dotted(config: Any) -> dict[str, Any]:
    """A config as dotted keys: a ``Config``, a ``TrainConfig`` (its keys under ``train.``), a nested or dotted
    dict; empty for None."""
    from deepfit.config import TrainConfig

    if isinstance(config, TrainConfig):
        config = {"train": config.model_dump()}
    elif hasattr(config, "to_dict"):
        config = config.to_dict()
    return flatten(config) if isinstance(config, dict) else {}


Option = tuple[str, str | None, Any]  # (text, the config key it sets or None, the value it proposes)


def _set(key: str, value: Any, settings: Settings, note: str | None = None) -> Option | None:
    """``key: value (now X)`` (``note`` instead of "now X"); a tuple ``value`` offers alternatives, less those
    the run has. None when nothing is left to propose."""
    if isinstance(value, tuple):
        value = [v for v in value if not settings.has(key, v)]
        if not value:
            return None
    elif settings.has(key, value):
        return None
    now = settings.get(key)
    note = note if note is not None else f"now {_show(now)}" if now is not None else ""
    shown = " or ".join(map(_show, value)) if isinstance(value, list) else _show(value)
    return f"{key}: {shown}" + (f" ({note})" if note else ""), key, value


def _fix(settings: Settings, options: list[Option | None], word: str = "or") -> tuple[str, dict[str, Any]]:
    """The fix (options joined by ``word``) and what it proposes, leaving out any option that would set a key
    to the value it has: ``_set`` drops those; this checks every option again, whatever made it."""
    kept = [o for o in options if o is not None and (o[1] is None or not _has_all(settings, o[1], o[2]))]
    return _join([text for text, _, _ in kept], word), {key: value for _, key, value in kept if key is not None}


def _finding(
    kind: str, epoch: int, layers: list[str], message: str, fix: tuple[str, dict[str, Any]], severity: str = "warning"
) -> Finding:
    return Finding(kind, epoch, layers, message, fix[0], severity, fix[1])


def _has_all(settings: Settings, key: str, value: Any) -> bool:
    return all(settings.has(key, v) for v in value) if isinstance(value, list) else settings.has(key, value)


def _lower_lr(lr: float | None, settings: Settings) -> Option | None:
    if lr is None:
        return "a lower train.lr", None, None
    return _set("train.lr", float(f"{lr / 10:g}"), settings, f"now {lr:g}")


def _clip(settings: Settings) -> Option | None:
    """train.clip_grad_norm: 1.0, unless the run already clips at 1.0 or tighter."""
    clip = settings.number("train.clip_grad_norm")
    return None if clip is not None and clip <= 1.0 else _set("train.clip_grad_norm", 1.0, settings)


def _batch_norm(settings: Settings) -> Option | None:
    return _set("model.batch_norm", True, settings)


def _model_size(words: str, size_key: str, settings: Settings) -> Option:
    now = settings.get(size_key)
    return f"{words} ({size_key}{f', now {_show(now)}' if now is not None else ''})", None, None


# ---------------------------------------------------------------- gradient checks (one sample)
def non_finite_gradients(
    norms: dict[str, float], epoch: int, step: int, lr: float, settings: Settings | None = None
) -> Finding | None:
    bad = [name for name, value in norms.items() if not math.isfinite(value)]
    if not bad:
        return None
    settings = settings or Settings()
    message = (
        f"the gradients of {_names(bad)} are inf or NaN at step {step}: one optimizer step with them ruins the weights."
    )
    options = [_lower_lr(lr, settings), _clip(settings), ("check the data for extreme values", None, None)]
    return _finding("non_finite_gradients", epoch, bad, message, _fix(settings, options, "and"), "error")


def vanishing_gradients(
    norms: dict[str, float],
    epoch: int,
    ratio: float,
    saturating: list[str],
    has_batch_norm: bool,
    size_key: str = "model.hidden",
    settings: Settings | None = None,
) -> Finding | None:
    """Layers whose gradient norm is ``ratio`` times or more below the output layer's (the last one)."""
    names = list(norms)
    if len(names) < 2 or not norms[names[-1]] > 0:
        return None
    output, ref = names[-1], norms[names[-1]]
    small = [n for n in names[:-1] if norms[n] * ratio <= ref]
    if not small:
        return None
    low = min(norms[n] for n in small)
    size = f"up to {_times(ref / low)} times smaller than" if low > 0 else "zero, against"
    message = (
        f"the gradient norms of {_names(small)} are {size} the output layer {output}'s "
        f"({low:.2g} vs {ref:.2g}); these layers barely learn."
    )
    settings = settings or Settings()
    options = [None if has_batch_norm else _batch_norm(settings)]
    if saturating:
        options.append(_set("model.activation", "relu", settings, f"the model uses {', '.join(saturating)}"))
    options += [_set("model.init", "kaiming", settings), _model_size("fewer layers", size_key, settings)]
    return _finding("vanishing_gradients", epoch, small, message, _fix(settings, options))


def exploding_gradients(
    norms: dict[str, float],
    previous: list[dict[str, float]],
    initial: float,
    epoch: int,
    factor: float,
    lr: float,
    settings: Settings | None = None,
) -> Finding | None:
    """The total norm above ``factor`` times both the running median of earlier samples (3 or more) and
    ``initial``, the starting scale (median of the first samples): once a classifier fits, most batches
    give tiny gradients and a hard one a 20-fold spike, which is noise, not an explosion."""
    if len(previous) < 3:
        return None
    total, median = total_norm(norms), statistics.median(total_norm(p) for p in previous)
    if not total > factor * max(median, initial):
        return None
    rise = {n: v / max(statistics.median(p.get(n, 0.0) for p in previous), 1e-30) for n, v in norms.items()}
    spiking = [n for n in norms if rise[n] > factor] or [max(rise, key=rise.__getitem__)]
    message = (
        f"the gradient norm jumped to {total:.3g}, {_times(total / median)} times its running median "
        f"({median:.3g}), led by {_names(spiking)}."
    )
    settings = settings or Settings()
    options = [_clip(settings), _lower_lr(lr, settings), _batch_norm(settings)]
    return _finding("exploding_gradients", epoch, spiking, message, _fix(settings, options), "error")


# ---------------------------------------------------------------- loss-curve checks (once per epoch)
def divergence(
    history: list[dict[str, Any]], config: DiagnosticsConfig, lr: float, settings: Settings | None = None
) -> Finding | None:
    """Training loss far above its first epoch's, or rising epoch after epoch to twice its lowest and back
    above the midpoint between its first value and its lowest (noise at a small loss does not count)."""
    losses = [row["train_loss"] for row in history]
    if len(losses) < 2 or not all(map(math.isfinite, losses)):
        return None
    first, last, low, epoch = losses[0], losses[-1], min(losses), len(losses)
    recent = losses[-config.rising_epochs - 1 :]
    rising = len(recent) > config.rising_epochs and all(b > a for a, b in pairwise(recent))
    if last > config.divergence_factor * first:
        why = f"{last / first:.1f} times its first-epoch value ({first:.4g})"
    elif rising and last >= 2 * low and last - low >= 0.5 * (first - low):  # gave back half the gain
        why = f"up {config.rising_epochs} epochs in a row from its lowest ({low:.4g})"
    else:
        return None
    message = f"the training loss is diverging: {last:.4g} at epoch {epoch}, {why}."
    settings = settings or Settings()
    options = [_lower_lr(lr, settings), _clip(settings), _set("data.preprocess.scaling", "standard", settings)]
    return _finding("divergence", epoch, [], message, _fix(settings, options, "and"), "error")


def overfitting(
    history: list[dict[str, Any]],
    config: DiagnosticsConfig,
    size_key: str = "model.hidden",
    settings: Settings | None = None,
    n_classes: int | None = None,
) -> Finding | None:
    """Validation loss well above its best while training loss keeps falling, or far above training loss.

    On ``patience``-epoch means: a small validation set makes the loss jump, and its lucky minimum is no
    baseline. A rise: the last window's mean exceeds the best window's by ``overfit_rise`` of it and of the
    whole gain of training (first-epoch training loss down to that best), so the creeping loss of a
    near-perfect classifier (growing confidence, not memorisation) does not count. A gap: validation loss
    ``_GAP_RATIO`` times the training loss or more and above it by ``_GAP_SHARE`` of chance level
    (:func:`chance_loss`), whether or not it rises.
    """
    rows, n = [row for row in history if "val_loss" in row], config.patience
    val, train = _means([r["val_loss"] for r in rows], n), _means([r["train_loss"] for r in rows], n)
    if not val:
        return None
    last, best = rows[-1], min(rows, key=lambda row: row["val_loss"])
    message = _rise(rows, val, train, config) or _gap(rows, val[-1], train[-1], n, n_classes)
    if message is None:
        return None
    settings = settings or Settings()
    dropout = settings.number("model.dropout")
    decay = settings.number("train.weight_decay")
    stopping = "train.early_stopping"
    options = [
        None if (dropout or 0) >= 0.5 else _set("model.dropout", round(min(0.5, (dropout or 0) + 0.2), 2), settings),
        None if (decay or 0) >= 0.1 else _set("train.weight_decay", decay * 10 if decay else 1e-4, settings),
        ("more data or augmentation", None, None),
        _model_size("a smaller model", size_key, settings),
        _set(f"{stopping}.enabled", True, settings, f"it keeps the epoch-{best['epoch']} weights"),
    ]
    if settings.has(f"{stopping}.enabled", True):  # on already: it should at least restore the best weights
        options.append(
            _set(f"{stopping}.restore_best", True, settings, f"to end with the epoch-{best['epoch']} weights")
        )
    return _finding("overfitting", last["epoch"], [], message, _fix(settings, options))


def chance_loss(history: list[dict[str, Any]], n_classes: int | None) -> tuple[float, str]:
    """The loss of a model that has learned nothing, and its name: ln(classes) for a classifier (a uniform
    guess), else the first epoch's training loss (the scale training starts from)."""
    if n_classes and n_classes > 1:
        return math.log(n_classes), f"chance level for {n_classes} classes, {math.log(n_classes):.3g}"
    first = history[0]["train_loss"]
    return first, f"the first epoch's training loss, {first:.4g}"


def _rise(rows: list[dict[str, Any]], val: list[float], train: list[float], config: DiagnosticsConfig) -> str | None:
    n = config.patience
    if len(val) <= n:  # the best and the last windows must not overlap
        return None
    b = min(range(len(val) - n), key=val.__getitem__)
    rise, gain = val[-1] - val[b], rows[0]["train_loss"] - val[b]
    if rise < config.overfit_rise * max(val[b], gain) or train[-1] >= train[b]:
        return None
    span = f"epochs {rows[b]['epoch']}–{rows[b + n - 1]['epoch']}"
    return (
        f"validation loss ({n}-epoch mean) rose from {val[b]:.4g} ({span}) to {val[-1]:.4g} while training "
        f"loss fell from {train[b]:.4g} to {train[-1]:.4g}: the train/validation gap grew from "
        f"{val[b] - train[b]:.4g} to {val[-1] - train[-1]:.4g}."
    )


def _gap(rows: list[dict[str, Any]], val: float, train: float, n: int, n_classes: int | None) -> str | None:
    chance, named = chance_loss(rows, n_classes)
    gap = val - train
    if not (val >= _GAP_RATIO * train and gap >= _GAP_SHARE * chance):
        return None
    times = f"{val / train:.1f} times" if train > 0 else "far above"
    return (
        f"validation loss ({n}-epoch mean, epochs {rows[-n]['epoch']}–{rows[-1]['epoch']}) is {val:.4g} against "
        f"a training loss of {train:.4g}: {times} as high, a gap of {gap:.4g} ({gap / chance:.0%} of {named}). "
        "The model fits its training data far better than data it has not seen."
    )


def underfitting(
    history: list[dict[str, Any]],
    config: DiagnosticsConfig,
    lr: float,
    n_classes: int | None = None,
    size_key: str = "model.hidden",
    settings: Settings | None = None,
) -> Finding | None:
    """After ``patience`` epochs, training loss flat (within ``underfit_ratio`` of its first value) or at chance.

    Chance is the cross-entropy of a uniform guess, ln(n_classes), when ``n_classes`` is known; a flat
    classification loss far below it (a model converged within its first epoch) does not count.
    """
    if len(history) < config.patience:
        return None
    first, last, epoch = history[0]["train_loss"], history[-1]["train_loss"], len(history)
    chance = math.log(n_classes) if n_classes and n_classes > 1 else None
    ratio = config.underfit_ratio
    flat = ratio * first <= last <= first / ratio and (chance is None or last >= 0.25 * chance)
    at_chance = chance is not None and abs(last - chance) <= 0.1 * chance
    if not (flat or at_chance):
        return None
    why = f"{last / first:.0%} of its first-epoch value {first:.4g}" if flat else "no better than guessing"
    if chance is not None:
        why += f"; chance level for {n_classes} classes is {chance:.3g}"
    verdict = "learns too slowly" if last < 0.99 * first else "is not learning"
    message = f"the model {verdict}: training loss {last:.4g} after {epoch} epochs is {why}."
    settings = settings or Settings()
    options = [
        _set("train.lr", float(f"{lr * 10:g}"), settings, f"now {lr:g}"),
        _model_size("a bigger model", size_key, settings),
    ]
    known = [key for key in ("model.dropout", "train.weight_decay") if settings.number(key) is not None]
    if known:  # less regularisation, named by the values to lower
        options += [_set(key, 0, settings) for key in known]
    else:
        options.append(("less regularisation (model.dropout, train.weight_decay)", None, None))
    options += [("more train.epochs", None, None), ("check that the features predict the target", None, None)]
    return _finding("underfitting", epoch, [], message, _fix(settings, options))


def dead_relus(
    fractions: dict[str, float],
    epoch: int,
    threshold: float,
    settings: Settings | None = None,
    lr: float | None = None,
) -> Finding | None:
    dead = [name for name, value in fractions.items() if value > threshold]
    if not dead:
        return None
    settings = settings or Settings()
    parts = ", ".join(f"{name} ({fractions[name]:.0%})" for name in dead)
    message = f"the ReLUs after layer{'s' if len(dead) > 1 else ''} {parts} output zero for every sample of a batch."
    options = [
        _set("model.activation", ("leaky_relu", "gelu"), settings),
        _lower_lr(lr, settings),
        _set("model.init", "kaiming", settings),
        _batch_norm(settings),
    ]
    return _finding("dead_relus", epoch, dead, message, _fix(settings, options))


def _means(values: list[float], window: int) -> list[float]:
    """Means of every ``window`` consecutive values (none when there are fewer)."""
    return [statistics.fmean(values[i : i + window]) for i in range(len(values) - window + 1)]


def total_norm(norms: dict[str, float]) -> float:
    return math.sqrt(sum(v * v for v in norms.values()))


def _names(layers: list[str], most: int = 4) -> str:
    shown = ", ".join(layers[:most]) + (f" and {len(layers) - most} more" if len(layers) > most else "")
    return f"layer{'s' if len(layers) > 1 else ''} {shown}"


def _times(factor: float) -> str:
    return f"{factor:,.0f}" if factor < 1e4 else f"{factor:.0e}"


def _join(options: list[str], word: str = "or") -> str:
    """``a, b or c``; with "and": ``a, b, and c``."""
    if len(options) < 2:
        return options[0] if options else ""
    comma = "," if word == "and" and len(options) > 2 else ""
    return ", ".join(options[:-1]) + f"{comma} {word} {options[-1]}"


def _show(value: Any) -> str:
    """A config value as YAML writes it: true, 1.0, 0.0001, [256, 128]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:g}"
        return text if any(c in text for c in ".ein") else f"{text}.0"
    return str(value)


def _same(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b
