"""Training that explains itself: a callback that notices silent failures and says what to change.

``Diagnostics`` samples per-layer gradient norms every ``every_n_steps`` optimizer steps (one host sync
per sample, none in between), measures dead ReLU units on the next batch through one-shot forward hooks,
and reads the loss curves once per epoch. Each problem becomes a :class:`Finding` naming the epoch, the
layers and the config keys to change, never to a value they already have (:class:`Settings`: the run's
config and what its model and optimizer show); findings go to ``diagnostics.json`` and the samples to
``grad_norms.jsonl`` in the run directory (when there is one), rewritten atomically at an epoch end that
has news, at the end of the run, and when training fails. The detectors are pure functions of the numbers.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfit.config import DiagnosticsConfig
from deepfit.run_summary import read_optional
from deepfit.runs import CONFIG, read_jsonl, write_json, write_jsonl
from deepfit.training.checkpoint import unwrap
from deepfit.training.findings import (
    TITLES,
    Finding,
    Settings,
    dead_relus,
    divergence,
    dotted,
    exploding_gradients,
    non_finite_gradients,
    overfitting,
    total_norm,
    underfitting,
    vanishing_gradients,
)

DIAGNOSTICS = "diagnostics.json"
GRAD_NORMS = "grad_norms.jsonl"
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
_MIN_ROWS = 16  # "zero for every sample" means little on a smaller batch
_RELUS = (nn.ReLU, nn.ReLU6)
_SATURATING = (nn.Sigmoid, nn.Tanh)
_SPIKE_WINDOW = 20  # samples in the running median of the gradient norm
_WRITE_EVERY_S = 10.0  # files rewritten at most this often mid-run (always on a finding and at the end)


# ---------------------------------------------------------------- the callback
class Diagnostics:
    """Callback: watch gradients, dead units and loss curves; report each new finding once.

    ``run_dir`` None keeps everything on the object (``.findings``, ``.rows``); ``console`` (rich) prints
    each new finding as one line; ``n_classes`` enables the chance-level checks of classification.
    ``settings`` is the run's config (a ``Config``, its dict, or dotted keys), so that no fix proposes a
    value the run already has; without it, the ``config.yaml`` of ``run_dir`` (or a ``config`` on the
    training state) is read, and the model and optimizer tell what they can.
    """

    def __init__(
        self,
        run_dir: str | Path | None = None,
        *,
        config: DiagnosticsConfig | dict[str, Any] | None = None,
        console: Any = None,
        n_classes: int | None = None,
        size_key: str = "model.hidden",
        settings: Any = None,
    ) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.given_settings = settings
        self.settings = Settings(settings)
        self.size_key = size_key  # the key a fix should name: model.hidden, model.channels, ...
        self.config = config if isinstance(config, DiagnosticsConfig) else DiagnosticsConfig(**(config or {}))
        self.console = console
        self.n_classes = n_classes
        self.findings: list[Finding] = []
        self.rows: list[dict[str, Any]] = []  # one per gradient sample, as in grad_norms.jsonl
        self._state = _Watch()

    # events -----------------------------------------------------------------
    def on_fit_begin(self, state: Any) -> None:
        self._state = _Watch.of(unwrap(state.model))
        self._state.train = state
        self.settings = Settings(self._run_config(state), self._state.observed(state))
        self.findings, self.rows = [], []
        saved = state.extra.get("diagnostics")
        if saved and state.step:  # resumed: keep what the first part of the run found
            self.findings = [Finding(**f) for f in saved["findings"]]
            self.rows = [r for r in self._read_rows() if r["step"] < state.step]

    def after_backward(self, state: Any) -> None:
        if state.step < self._state.next_check:  # the only cost of a step that is not sampled
            return
        self._collect(state, forward_done=True)
        if state.step >= self._state.next_sample:
            self._sample(state)
            self._state.next_sample = state.step + self.config.every_n_steps
        self._state.next_check = state.step + 1 if self._state.outstanding() else self._state.next_sample

    def on_epoch_end(self, state: Any) -> None:
        self._collect(state, forward_done=False)
        if self._state.outstanding():  # hooks still waiting for a forward pass: look at the next step
            self._state.next_check = state.step
        lr, settings = _base_lr(state), self.settings
        self._report(divergence(state.history, self.config, lr, settings))
        self._report(overfitting(state.history, self.config, self.size_key, settings, self.n_classes))
        found = underfitting(state.history, self.config, lr, self.n_classes, self.size_key, settings)
        self._report(self._with_cause(found))
        state.extra["diagnostics"] = {"findings": [f.to_dict() for f in self.findings]}
        self._write()

    def on_fit_end(self, state: Any) -> None:
        self._state.fit_ended = True
        self._recheck_underfitting(state)
        self._write(final=True)

    def close(self) -> None:
        """Called even when training fails: look at the last gradients, then save what was found."""
        watch = self._state
        watch.disarm()
        if watch.model is not None and not watch.fit_ended and not watch.closed:
            watch.closed = True
            self._last_look()
            self._write(final=True)

    def add(self, finding: Finding) -> None:
        """A finding made after training (a baseline that beats the network): printed and saved like the others."""
        self._report(finding)
        self._write(final=True)

    # results ----------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Everything in ``diagnostics.json``: the findings and a few numbers to read them by."""
        rows = self.rows
        layers = list(rows[-1]["grad_norm"]) if rows else []
        stats: dict[str, Any] = {
            "samples": len(rows),
            "every_n_steps": self.config.every_n_steps,
            "layers": layers,
            "max_grad_norm": {n: max(r["grad_norm"].get(n, 0.0) for r in rows) for n in layers},
            "last": rows[-1] if rows else None,
        }
        history = self._state.train.history if self._state.train is not None else []
        if history:
            best = min(history, key=lambda r: r.get("val_loss", math.inf))
            stats.update(epochs=len(history), first_train_loss=history[0]["train_loss"])
            stats.update(last_train_loss=history[-1]["train_loss"])
            if "val_loss" in best:
                gap = history[-1]["val_loss"] - history[-1]["train_loss"]
                stats.update(best_val_loss=best["val_loss"], best_val_epoch=best["epoch"], train_val_gap=gap)
        return {"findings": [f.to_dict() for f in self.findings], "summary": stats}

    def summary_lines(self) -> list[str]:
        if not self.findings:
            return [f"no problems found ({len(self.rows)} gradient samples, loss curves, dead units)"]
        return [f.line() for f in self.findings]

    # internals --------------------------------------------------------------
    def _sample(self, state: Any) -> None:
        watch = self._state
        params = [(name, p) for name, p in watch.weights if p.grad is not None]
        if not params:
            return
        grads = [_grad_norm(p) for _, p in params]
        weights = [torch.linalg.vector_norm(p.detach(), dtype=torch.float32) for _, p in params]
        values = torch.stack(grads + weights).tolist()  # the one host sync of this sample
        names, n, scale = [name for name, _ in params], len(params), _loss_scale(state)
        row = {"step": state.step, "epoch": state.epoch + 1}
        row.update(grad_norm=dict(zip(names, [v / scale for v in values[:n]], strict=True)))
        row["weight_norm"] = dict(zip(names, values[n:], strict=True))
        previous = [r["grad_norm"] for r in self.rows[-_SPIKE_WINDOW:]]
        initial = statistics.median(total_norm(r["grad_norm"]) for r in self.rows[:3]) if self.rows else math.inf
        self.rows.append(row)
        if self.config.track_updates:
            watch.update = (row, params, [p.detach().clone() for _, p in params])
        watch.arm(row)
        self._check_gradients(row["grad_norm"], previous, initial, state, scaled=scale != 1.0)

    def _check_gradients(
        self, norms: dict[str, float], previous: list[dict[str, float]], initial: float, state: Any, scaled: bool
    ) -> None:
        epoch, lr, watch, settings = state.epoch + 1, _base_lr(state), self._state, self.settings
        bad = non_finite_gradients(norms, epoch, state.step, lr, settings)
        if bad is not None:
            if not scaled:  # fp16 loss scaling overflows now and then by design, and skips those steps
                self._report(bad)
            return
        self._report(exploding_gradients(norms, previous, initial, epoch, self.config.spike_factor, lr, settings))
        ratio, saturating = self.config.vanishing_ratio, watch.saturating
        found = vanishing_gradients(norms, epoch, ratio, saturating, watch.has_batch_norm, self.size_key, settings)
        self._report(found)

    def _collect(self, state: Any, *, forward_done: bool) -> None:
        """Finish the last sample: update sizes and dead-unit fractions, in one host sync."""
        watch = self._state
        keys, tensors = [], []
        if watch.update is not None:
            row, params, before = watch.update
            for (name, p), old in zip(params, before, strict=True):
                keys.append(("update_ratio", name, row))
                tensors.append(torch.linalg.vector_norm(p.detach() - old, dtype=torch.float32))
            watch.update = None
        for name, (row, fraction) in watch.dead.items():
            keys.append(("dead_fraction", name, row))
            tensors.append(fraction.float())
        watch.dead = {}
        if forward_done:
            watch.disarm()  # a ReLU the last forward pass did not reach: stop waiting for it
        if not tensors:
            return
        dead: dict[str, float] = {}
        for (kind, name, row), value in zip(keys, torch.stack(tensors).tolist(), strict=True):
            if kind == "update_ratio":
                value /= max(row["weight_norm"][name], 1e-12)
            else:
                dead[name] = value
            row.setdefault(kind, {})[name] = value
        epoch = state.epoch + (1 if forward_done else 0)
        self._report(dead_relus(dead, epoch, self.config.dead_fraction, self.settings, _base_lr(state)))

    def _last_look(self) -> None:
        """After a failure (NaN loss): were the last gradients already non-finite?"""
        params = [(name, p) for name, p in self._state.weights if p.grad is not None]
        if params and _loss_scale(self._state.train) == 1.0:
            norms = torch.stack([_grad_norm(p) for _, p in params])
            values = dict(zip([name for name, _ in params], norms.tolist(), strict=True))
            state = self._state.train  # the failed epoch is not in the history yet
            lr = _base_lr(state)
            self._report(non_finite_gradients(values, len(state.history) + 1, state.step - 1, lr, self.settings))

    def _recheck_underfitting(self, state: Any) -> None:
        """A slow start is not a failure: if the model learned later, say so and lower the severity."""
        found = next((f for f in self.findings if f.kind == "underfitting"), None)
        lr = _base_lr(state)
        if found is not None and underfitting(state.history, self.config, lr, self.n_classes) is None:
            last = state.history[-1]
            found.severity = "info"
            found.message += f" It learned later: training loss {last['train_loss']:.4g} at epoch {last['epoch']}."

    def _with_cause(self, finding: Finding | None) -> Finding | None:
        """A model that does not learn because its gradients vanish or its units died: say so."""
        cause = next((f for f in self.findings if f.kind in ("vanishing_gradients", "dead_relus")), None)
        if finding is not None and cause is not None:
            title = TITLES.get(cause.kind, cause.kind.replace("_", " "))
            finding.message += f" The {title} seen at epoch {cause.epoch} are the likely cause."
        return finding

    def _report(self, finding: Finding | None) -> None:
        if finding is None or any(f.kind == finding.kind for f in self.findings):
            return  # each kind is reported once, at its first sighting
        self.findings.append(finding)
        if self.console is not None:
            from rich.markup import escape

            colour = "red" if finding.severity == "error" else "yellow"
            self.console.print(f"[{colour}]diagnostics[/{colour}] {escape(finding.line())}")

    def _write(self, *, final: bool = False) -> None:
        """Rewrite the files at the end, on a new finding, and otherwise at most every ``_WRITE_EVERY_S``
        seconds: each atomic write costs an fsync (~10 ms), a lot next to a small model's epoch."""
        watch, now = self._state, time.monotonic()
        new_rows = len(self.rows) != watch.rows_written
        due = new_rows and now - watch.written_at >= _WRITE_EVERY_S
        if self.run_dir is None or not (final or due or len(self.findings) != watch.findings_written):
            return
        if new_rows:
            write_jsonl(self.run_dir / GRAD_NORMS, self.rows)
        write_json(self.run_dir / DIAGNOSTICS, self.summary())
        watch.rows_written, watch.findings_written, watch.written_at = len(self.rows), len(self.findings), now

    def _run_config(self, state: Any) -> dict[str, Any]:
        """The run's config as dotted keys: the one given, else the run's config.yaml (``deepfit train`` writes it
        before training starts); the trainer's own settings on top, when the state carries them."""
        config = dotted(self.given_settings)
        if not config and self.run_dir is not None:
            config = dotted(read_optional(self.run_dir / CONFIG))
        return {**config, **dotted(getattr(state, "config", None))}

    def _read_rows(self) -> list[dict[str, Any]]:
        return read_jsonl(self.run_dir / GRAD_NORMS) if self.run_dir is not None else []


def _grad_norm(p: torch.Tensor) -> torch.Tensor:
    """The float32 norm of ``p``'s gradient; ``p`` has one (callers keep only those)."""
    grad = p.grad
    assert grad is not None, "a parameter without a gradient"
    return torch.linalg.vector_norm(grad.detach(), dtype=torch.float32)


@dataclass
class _Watch:
    """Per-fit bookkeeping: which layers to watch, what is pending, when to look next."""

    model: nn.Module | None = None
    weights: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    relus: list[tuple[str, nn.Module]] = field(default_factory=list)  # (name of the layer before, module)
    saturating: list[str] = field(default_factory=list)
    has_batch_norm: bool = False
    next_check: int = 0
    next_sample: int = 0
    update: tuple[dict[str, Any], list[tuple[str, nn.Parameter]], list[torch.Tensor]] | None = None
    dead: dict[str, tuple[dict[str, Any], torch.Tensor]] = field(default_factory=dict)
    hooks: dict[str, Any] = field(default_factory=dict)
    train: Any = None  # the TrainState of this fit
    rows_written: int = 0
    findings_written: int = 0
    written_at: float = -math.inf
    fit_ended: bool = False
    closed: bool = False

    @classmethod
    def of(cls, model: nn.Module) -> _Watch:
        watch, layer = cls(model=model), ""
        for name, module in model.named_modules():
            name = name or type(module).__name__  # the model itself is a layer: nn.Linear(1, 1)
            weight = getattr(module, "weight", None)
            # Matrices of Linear/Conv layers: embeddings get sparse, incomparable gradients.
            if isinstance(weight, nn.Parameter) and weight.ndim >= 2 and not isinstance(module, nn.Embedding):
                if weight.requires_grad:
                    watch.weights.append((name, weight))
                layer = name
            elif isinstance(module, _RELUS):
                watch.relus.append((layer or name, module))
            elif isinstance(module, _SATURATING):
                watch.saturating.append(type(module).__name__)
            watch.has_batch_norm |= isinstance(module, nn.modules.batchnorm._BatchNorm)
        watch.saturating = sorted(set(watch.saturating))
        return watch

    def observed(self, state: Any) -> dict[str, Any]:
        """Settings the model and optimizer show, whatever the config says (a ResNet has batch norm)."""
        modules = list(self.model.modules()) if self.model is not None else []
        dropout = [m.p for m in modules if isinstance(m, _DROPOUT)]
        dropout += [m.dropout for m in modules if isinstance(m, nn.RNNBase) and m.num_layers > 1]
        groups = getattr(getattr(state, "optimizer", None), "param_groups", [])
        return {
            "model.batch_norm": True if self.has_batch_norm else None,
            "model.dropout": max(dropout, default=0.0),
            "train.weight_decay": max((g.get("weight_decay", 0.0) for g in groups), default=None),
        }

    def outstanding(self) -> bool:
        return self.update is not None or bool(self.hooks) or bool(self.dead)

    def arm(self, row: dict[str, Any]) -> None:
        """One-shot forward hooks: the next batch through each ReLU measures its dead units, then unhooks."""
        for name, module in self.relus:
            if name not in self.hooks:
                self.hooks[name] = module.register_forward_hook(self._dead_hook(name, row))

    def disarm(self) -> None:
        for handle in self.hooks.values():
            handle.remove()
        self.hooks = {}

    def _dead_hook(self, name: str, row: dict[str, Any]) -> Any:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            self.hooks.pop(name).remove()
            fraction = dead_fraction(output)
            if fraction is not None:
                self.dead[name] = (row, fraction)

        return hook


def dead_fraction(output: torch.Tensor) -> torch.Tensor | None:
    """Fraction of units (features, or channels of a conv) that are zero for every row of a batch."""
    if output.ndim < 2:
        return None
    out = output.detach()
    unit_dim = -1 if out.ndim == 3 else 1  # (N, T, F) sequences; (N, F) and (N, C, H, W) otherwise
    out = out.movedim(unit_dim, -1).reshape(-1, out.shape[unit_dim])
    if out.shape[0] < _MIN_ROWS:
        return None
    return 1.0 - (out > 0).any(dim=0).float().mean()


def _loss_scale(state: Any) -> float:
    """The factor of an fp16 GradScaler on ``state.scaler``, if the trainer uses one (1.0 otherwise)."""
    scaler = getattr(state, "scaler", None)
    return float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else 1.0


def _base_lr(state: Any) -> float:
    return float(getattr(state.schedule, "base_lr", None) or state.optimizer.param_groups[0]["lr"])
