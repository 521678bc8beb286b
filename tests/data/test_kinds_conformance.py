"""One conformance suite over every registered data kind (as tests/models/test_conformance.py is for models).

Each kind has a case: a config on tiny data and a labelled file to predict on. The suite checks that the kind is
detected, that its preprocessor is fitted on the training split alone, that a JSON round trip of the saved
preprocessing gives identical tensors, that rows of classes unseen in train are dropped and counted, that
prediction input is read back (and evaluated), and that the data report has the kind's section. A kind
without a case fails the suite; a plugin kind (tests/plugin_kind) is run through it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from deepfit.config import load_config
from deepfit.data import registry
from deepfit.data.builtin import load_builtin
from deepfit.data.kind import Preprocessor
from deepfit.data.pipeline import load_preprocessor, prepare, read_input, resolve_kind
from tests.data.shapes import write_shapes
from tests.data.test_sequences import write_npz
from tests.data.test_text import keyword_frame
from tests.models.test_rnn import sine_csv
from tests.plugin_kind.pointcloud import write_clouds

Case = Callable[[Path], tuple[dict[str, Any], Path, int]]  # tmp_path -> (config, labelled input, predictions)
PLUGIN = "tests.plugin_kind.pointcloud:PointCloudKind"


def tabular(tmp_path: Path) -> tuple[dict[str, Any], Path, int]:
    path = tmp_path / "iris.csv"
    load_builtin("iris").to_csv(path, index=False)
    return {"data": {"source": str(path), "target": "target"}}, path, 150


def image(tmp_path: Path) -> tuple[dict[str, Any], Path, int]:
    files = write_shapes(tmp_path / "shapes", per_class=8, size=12)
    return {"data": {"source": str(tmp_path / "shapes"), "image": {"cache": False}}}, tmp_path / "shapes", len(files)


def text(tmp_path: Path) -> tuple[dict[str, Any], Path, int]:
    path = tmp_path / "reviews.csv"
    keyword_frame(120).to_csv(path, index=False)
    return {"data": {"source": str(path), "target": "label", "text": {"text_column": "review"}}}, path, 120


def sequence(tmp_path: Path) -> tuple[dict[str, Any], Path, int]:
    path = write_npz(tmp_path / "waves.npz", n=40)
    return {"data": {"source": str(path)}}, path, 40


def timeseries(tmp_path: Path) -> tuple[dict[str, Any], Path, int]:
    path = sine_csv(tmp_path / "sine.csv", n=120)
    return {"data": {"source": str(path), "timeseries": {"lookback": 8, "horizon": 2}}}, path, 1  # one forecast


def pointcloud(tmp_path: Path) -> tuple[dict[str, Any], Path, int]:
    path = write_clouds(tmp_path / "clouds.npz")
    return {"data": {"source": str(path)}}, path, 60


CASES: dict[str, Case] = {
    "tabular": tabular,
    "image": image,
    "text": text,
    "sequence": sequence,
    "timeseries": timeseries,
    "pointcloud": pointcloud,
}


@pytest.fixture
def with_plugin() -> Iterator[None]:
    with registry.KINDS.scoped():
        registry.register_data_kind("pointcloud", PLUGIN)
        yield


def test_every_kind_has_a_case(with_plugin: None) -> None:
    assert set(registry.kind_names()) <= set(CASES)


@pytest.mark.usefixtures("with_plugin", "one_thread")
@pytest.mark.parametrize("name", sorted(CASES))
def test_kind_conformance(name: str, tmp_path: Path) -> None:
    config_dict, raw_path, n_predictions = CASES[name](tmp_path)
    config = load_config(config_dict)
    assert resolve_kind(config) == name
    kind = registry.get_kind(name)
    prepared = prepare(config)
    pre, report, spec = prepared.preprocessor, prepared.report, prepared.spec
    assert isinstance(pre, Preprocessor) and isinstance(pre, kind.preprocessor)
    assert spec.kind == name and spec.n_train == len(prepared.tensors["train"])

    # the kind's report section, and what every report holds
    assert kind.section in report
    assert report["task"] == spec.task and report["splits"]["train"] == len(prepared.tensors["train"])

    # fitted on the training split alone: refitting on that split gives the same saved preprocessing
    steps = registry.get_kind(name)
    cleaned, again = steps.clean(config, steps.read(config, None))
    parts = steps.split(config, cleaned, again)
    assert steps.fit(config, parts["train"], again).to_dict() == pre.to_dict()

    # the saved preprocessing (JSON) gives identical tensors on raw input read back from a file
    loaded = load_preprocessor(json.loads(json.dumps(pre.to_dict())))
    assert type(loaded) is type(pre)
    raw = read_input(loaded, raw_path)
    for a, b in zip(pre.transform(raw), loaded.transform(raw), strict=True):
        assert torch.equal(a, b)
    assert len(loaded.transform(raw)[0]) == n_predictions
    assert len(loaded.prediction_columns(raw)) == n_predictions
    tensors, unknown = loaded.labelled(raw, source=str(raw_path))
    assert unknown == 0 and len(tensors) > 0

    # a class the training split lacks is left out, and counted
    if spec.task == "classification":
        target, known = loaded.transform_target([*loaded.classes, "__never_seen__"])
        assert known.tolist() == [True] * len(loaded.classes) + [False]
        assert target.tolist() == list(range(len(loaded.classes)))


@pytest.mark.usefixtures("with_plugin")
@pytest.mark.parametrize("name", sorted(n for n in CASES if n != "timeseries"))
def test_rows_of_classes_unseen_in_train_are_dropped_and_counted(name: str, tmp_path: Path) -> None:
    """The skeleton drops a validation or test row whose class the training split lacks, and reports it."""
    kind_class = registry.KINDS.get(name)

    class Relabelled(kind_class):  # the first row of every split but train gets a class nobody trained on
        def fit(self, config: Any, train: Any, report: dict[str, Any]) -> Preprocessor:
            self.train = train
            return super().fit(config, train, report)

        def labels(self, part: Any, target: str) -> Any:
            values = list(super().labels(part, target))
            return values if part is self.train else ["__unseen__", *values[1:]]

    config = load_config(CASES[name](tmp_path)[0])
    plain, relabelled = kind_class().prepare(config), Relabelled().prepare(load_config(CASES[name](tmp_path)[0]))
    others = [s for s in ("validation", "test") if s in plain.tensors]
    assert relabelled.report["rows_with_classes_unseen_in_train"] == dict.fromkeys(others, 1)
    for split in others:
        assert len(relabelled.tensors[split]) == len(plain.tensors[split]) - 1
        assert len(relabelled.frames[split]) == len(plain.frames[split]) - 1
    assert np.array_equal(relabelled.tensors["train"].target, plain.tensors["train"].target)


def test_unknown_kind_names_the_registered_ones() -> None:
    from deepfit.errors import ConfigError

    config = load_config({"data": {"source": "builtin:iris"}})
    object.__setattr__(config.data, "kind", "audio")  # as a config taking plugin names would hold it
    with pytest.raises(ConfigError, match=r"data\.kind: audio data is not supported yet"):
        resolve_kind(config)


def test_a_table_without_labels_cannot_be_evaluated(tmp_path: Path) -> None:
    config_dict, path, _ = tabular(tmp_path)
    pre = prepare(load_config(config_dict)).preprocessor
    with pytest.raises(Exception, match="the target column 'target' is not in the input"):
        pre.labelled(pd.read_csv(path).drop(columns=["target"]), source="the input")
