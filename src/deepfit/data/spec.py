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
    kind: str = "tabular"  # tabular | image | sequence | timeseries | text
    input_shape: list[int] = field(default_factory=list)  # one sample: [C, H, W] images, [T, F] sequences
    vocab_size: int = 0  # text: token ids are 0..vocab_size-1 (0 = padding)
    n_train: int = 0  # training rows: what automatic model choice sizes the network by
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific facts a builder needs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataSpec:
        return cls(**raw)
