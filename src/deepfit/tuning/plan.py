"""A search's plan: everything a worker needs to run trials (pickled to spawned workers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfit.config import Config, TuneConfig
from deepfit.tuning.space import Param


@dataclass(frozen=True)
class Plan:
    """Everything a worker needs to run trials; pickled to spawned workers."""

    config: Config  # every trial's base config (its tune section reset)
    params: list[Param]
    tune: TuneConfig
    name: str
    metric: str
    direction: str
    dir: Path
    storage: str
    study_name: str
    total: int | None  # trials in the study in all; None: until the timeout
    quiet: bool
