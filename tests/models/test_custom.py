"""model.name custom: a builder named as a module or as a file beside the config, and its mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deepfit.config import load_config
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.models.custom import build_custom

SPEC = DataSpec(task="classification", n_features=4, n_outputs=3)
BUILDER = "from torch import nn\n\ndef build(spec):\n    return nn.Linear(spec.n_features, spec.n_outputs)\n"


def config_in(folder: Path, builder: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(
        yaml.safe_dump({"data": {"source": "builtin:iris"}, "model": {"name": "custom", "builder": builder}})
    )
    return path


def test_a_file_builder_is_found_beside_the_config_and_saved_absolute(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "nets.py").write_text(BUILDER)
    monkeypatch.chdir("/")  # not the config's folder
    config = load_config(config_in(tmp_path, "nets.py:build")).with_absolute_paths()
    assert config.model.builder == f"{tmp_path / 'nets.py'}:build"
    assert build_custom(SPEC, config.model).out_features == 3


def test_a_module_builder_is_imported_from_the_working_directory() -> None:
    model = build_custom(
        SPEC, load_config({"model": {"name": "custom", "builder": "tests.models.builders:tiny_net"}}).model
    )
    assert model[-1].out_features == 3


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        (None, "model.builder must be 'package.module:function' or 'file.py:function'"),
        ("missing.py:build", "model.builder: cannot import '.*missing.py': no such file"),
        ("no_such_module_here:build", "model.builder: cannot import 'no_such_module_here'"),
        ("nets.py:make", "model.builder: '.*nets.py' has no function 'make'"),
    ],
)
def test_builder_mistakes_are_named(builder: str | None, message: str, tmp_path: Path) -> None:
    (tmp_path / "nets.py").write_text(BUILDER)
    config = load_config(config_in(tmp_path, builder) if builder else {"model": {"name": "custom"}})
    with pytest.raises(ConfigError, match=message):
        build_custom(SPEC, config.with_absolute_paths().model)


def test_a_builder_that_returns_no_module_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nets.py").write_text("def build(spec):\n    return 42\n")
    config = load_config(config_in(tmp_path, "nets.py:build")).with_absolute_paths()
    with pytest.raises(ConfigError, match=r"returned int, not a torch nn\.Module"):
        build_custom(SPEC, config.model)
