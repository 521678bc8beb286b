"""What a model needs to know about its data, resolved by the pipeline before the model is built."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DataSpec:
    task: str  # "classification" | "regression"
    n_features: int  # width of the float input tensor
    n_outputs: int  # classes, or regression targets
    cardinalities: list[int] = field(default_factory=list)  # embedded categorical columns (0 = unknown)
    class_names: list[Any] = field(default_factory=list)
    kind: str = "tabular"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataSpec:
        return cls(**raw)
