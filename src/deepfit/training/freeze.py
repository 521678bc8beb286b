"""``train.freeze`` and ``train.fine_tune``: parameters that do not train, and when they thaw.

:class:`Freezer` is a callback the loop adds when either is set. Frozen parameters get ``requires_grad=False``
(no gradient, so every torch optimizer leaves them, and their state, untouched: their values stay
bit-identical); their batch-norm layers run in inference mode (Keras's rule for a frozen ``BatchNormalization``:
the running statistics are the pretrained ones and stay so). With ``train.fine_tune.freeze_epochs`` they thaw
at the start of that epoch (fastai's ``fine_tune``: the head alone first, then every layer).

The parameters are in the optimizer from the start (``optim.param_groups``), so thawing changes no param group,
and the freeze state is saved in every checkpoint (``extra["freeze"]``): a resumed run restores it rather than
freezing again from the config (Lightning's ``BackboneFinetuning`` re-froze a thawed backbone on resume,
Lightning issue #21901).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from deepfit.config import TrainConfig
from deepfit.training.callbacks import TrainState
from deepfit.training.checkpoint import unwrap

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def freezer(config: TrainConfig) -> list[Freezer]:
    """The callback the loop adds for ``train.freeze`` / ``train.fine_tune.freeze_epochs``; none when unset."""
    if config.freeze is None and config.fine_tune.freeze_epochs is None:
        return []
    return [Freezer(config.freeze or "body", config.fine_tune.freeze_epochs)]


class Freezer:
    """Freeze ``freeze`` (``"body"`` or name patterns) until epoch ``thaw_at`` (0-based; None: the whole run)."""

    def __init__(self, freeze: str | list[str], thaw_at: int | None = None) -> None:
        self.freeze, self.thaw_at = freeze, thaw_at
        self.frozen = False
        self.names: list[str] = []
        self.params: list[nn.Parameter] = []
        self.norms: list[nn.Module] = []

    def on_fit_begin(self, state: TrainState) -> None:
        from deepfit.models.transfer import frozen_names

        model = unwrap(state.model)
        by_name = dict(model.named_parameters())
        saved = state.extra.get("freeze")  # a resumed run: as it was when saved, whatever the config starts with
        if saved is not None and all(n in by_name for n in saved["parameters"]):
            self.names, self.thaw_at = list(saved["parameters"]), saved["thaw_at"]
        else:
            self.names = frozen_names(model, self.freeze)
        self.params = [by_name[n] for n in self.names]
        chosen = {id(p) for p in self.params}
        self.norms = [m for m in model.modules() if isinstance(m, NORMS) and _all_in(m, chosen)]
        frozen = bool(saved["frozen"]) if saved is not None else self.thaw_at is None or state.epoch < self.thaw_at
        self._set(frozen, state)

    def on_epoch_begin(self, state: TrainState) -> None:
        if self.frozen and self.thaw_at is not None and state.epoch >= self.thaw_at:
            self._set(False, state)
            state.extra["freeze"]["thawed_at_epoch"] = state.epoch

    def on_batch_begin(self, state: TrainState) -> None:
        """Frozen batch norm in inference mode: the loop puts the model in training mode each epoch."""
        if self.frozen:
            for module in self.norms:
                module.training = False

    def close(self) -> None:
        """Leave the model trainable, as it came (only what this froze)."""
        for p in self.params:
            p.requires_grad_(True)

    def _set(self, frozen: bool, state: TrainState) -> None:
        self.frozen = frozen
        for p in self.params:
            p.requires_grad_(not frozen)
        if frozen:
            for module in self.norms:
                module.eval()
        previous = state.extra.get("freeze") or {}
        state.extra["freeze"] = {**self.state_dict(), "thawed_at_epoch": previous.get("thawed_at_epoch")}

    def state_dict(self) -> dict[str, Any]:
        return {"frozen": self.frozen, "parameters": list(self.names), "thaw_at": self.thaw_at}


def _all_in(module: nn.Module, chosen: set[int]) -> bool:
    """Whether ``module`` has parameters and every one of them is in ``chosen`` (by id)."""
    params = list(module.parameters())
    return bool(params) and all(id(p) in chosen for p in params)
