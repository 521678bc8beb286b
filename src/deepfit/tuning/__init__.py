"""Hyperparameter tuning on Optuna: ``deepfit.tune(config)`` and ``deepfit tune CONFIG``.

``space`` parses ``tune.space`` (pure Python: the config imports it on load), ``search`` runs the study
and its workers, ``summary`` writes ``best.yaml``, the plots and ``summary.html``. Optuna, torch and
matplotlib load only when a search starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TuneInterrupted", "TuneResult", "tune"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from deepfit.tuning import search

        return getattr(search, name)
    raise AttributeError(f"module 'deepfit.tuning' has no attribute '{name}'")
