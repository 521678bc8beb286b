"""A config file or --set that is wrong in form: one ConfigError naming the file and line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

import deepfit.config.loading
from deepfit.cli import main
from deepfit.config import load_config
from deepfit.errors import ConfigError
from tests.conftest import write_config


def error(source: str | Path, overrides: list[str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(source, overrides)
    return info.value


# ---------------------------------------------------------------- the file itself
def test_a_latin1_byte_names_its_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes("train:\n  epochs: 3  # caf\xe9\n".encode("latin-1"))
    err = error(path)
    assert err.message == f"{path}:2: not UTF-8 text: byte 0xe9 at offset 25"
    assert err.hint == "save it as UTF-8 (a config is a YAML text file)"


def test_a_binary_file_is_named_as_one(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04\x00\x00\x08\x00\xff\xfe")
    assert error(path).message == f"{path}:1: not UTF-8 text: byte 0xff at offset 8; it looks like a binary file"


def test_a_control_character_in_utf8_text_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"train:\n  epochs: 3\x00\n")
    err = error(path)
    assert err.message == f"{path}:2: not valid YAML: control character #x0000 (a config is text)"
    assert err.hint == "save the config as plain UTF-8 text"


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbftrain:\n  epochs: 3\n")
    assert load_config(path).train.epochs == 3


def test_a_directory_is_not_reported_as_missing(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    write_config(tmp_path / "run" / "config.yaml", "train: {epochs: 3}\n")
    err = error(tmp_path / "run")
    assert err.message == f"{tmp_path / 'run'} is a directory, not a YAML config file"
    assert err.hint == f"pass a config file such as {tmp_path / 'run' / 'config.yaml'}"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    assert error(tmp_path / "gone.yaml").message == f"Config file not found: {tmp_path / 'gone.yaml'}"


def test_an_unreadable_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root here, so chmod 000 would still read: make the read fail the way it does for a user.
    path = write_config(tmp_path / "c.yaml", "train: {epochs: 3}\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    err = error(path)
    assert err.message == f"{path}: cannot read the config file: Permission denied"
    assert err.hint == "check the file's permissions"


def test_a_data_file_passed_as_the_config_is_too_big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deepfit.config.loading, "MAX_CONFIG_BYTES", 1024)
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "1,2\n" * 2**18)
    err = error(path)
    assert err.message == f"{path}: 1 MiB is too big for a config file"
    assert "data.source" in str(err.hint)


def test_a_small_csv_passed_as_the_config_is_not_a_mapping(tmp_path: Path) -> None:
    path = write_config(tmp_path / "data.csv", "a,b,y\n1,2,3\n")
    assert error(path).message == (
        f"{path}: a config is a mapping of sections (data, model, train, eval, output, tune); "
        "got a string ('a,b,y 1,2,3')"
    )


@pytest.mark.parametrize(
    ("text", "kind"), [("- train\n- model\n", "a list (['train', 'model'])"), ("5\n", "a number (5)")]
)
def test_a_top_level_list_or_scalar_is_not_a_config(tmp_path: Path, text: str, kind: str) -> None:
    err = error(write_config(tmp_path / "c.yaml", text))
    assert err.message.endswith(f"; got {kind}")
    assert "indent its keys" in str(err.hint)


@pytest.mark.parametrize("text", ["", "# nothing set yet\n", "---\n"])
def test_an_empty_file_is_every_default(tmp_path: Path, text: str) -> None:
    assert load_config(write_config(tmp_path / "c.yaml", text)).to_dict() == load_config().to_dict()


def test_a_json_config_is_yaml(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", '{"train": {"epochs": 3, "lr": 1e-3}, "model": {"hidden": [8]}}')
    config = load_config(path)
    assert (config.train.epochs, config.train.lr, config.model.hidden) == (3, 1e-3, [8])


def test_a_json_config_indented_with_tabs_says_so(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", '{\n\t"train": {"epochs": 3}\n}\n')
    err = error(path)
    assert err.message == f"{path}:2: not valid YAML: found character '\\t' that cannot start any token"
    assert err.hint == "indent with spaces: YAML does not allow tabs"


# ---------------------------------------------------------------- YAML syntax and shape
def test_an_unclosed_bracket_names_the_file_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  epochs: 3\n  lr: [1,\nmodel: {}\n")
    # inside the open bracket, `model: {}` is read as an item: the file ends before the list does
    assert error(path).message == (
        f"{path}:5: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence, from line 3)"
    )


def test_a_second_document_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train: {epochs: 3}\n---\nmodel: {}\n")
    err = error(path)
    assert err.message == (
        f"{path}:2: not valid YAML: expected a single document in the stream but found another document"
    )
    assert "'---'" in str(err.hint)


def test_a_section_given_as_a_scalar(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "data:\n  source: builtin:iris\ntrain: 5\n")
    assert f"{path}:3: train: expected a section (a mapping of keys); got 5" in str(error(path))


def test_a_section_with_every_key_commented_out_is_its_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  # epochs: 3\nmodel:\n")
    assert load_config(path).to_dict() == load_config().to_dict()


def test_aliases_that_expand_without_bound_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [1, 2]", *(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 30))]
    path = write_config(tmp_path / "c.yaml", "\n".join(lines) + "\ntune:\n  space:\n    train.lr: {choice: *a29}\n")
    assert error(path).message == f"{path}: its aliases (*name) expand to more than 100,000 values"
    recursive = write_config(tmp_path / "r.yaml", "data:\n  features: &a [*a]\n")
    assert "expand to more than" in error(recursive).message


def test_deep_nesting_is_refused_without_a_traceback(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "[" * 5000 + "]" * 5000 + "\n")
    assert error(path).message == f"{path}: nested too deeply to be a config"


# ---------------------------------------------------------------- --set
@pytest.mark.parametrize("item", ["train", "=3", "train..lr=3", "train.lr.=3"])
def test_set_needs_a_dotted_key_and_a_value(item: str) -> None:
    err = error(None, [item])
    assert err.message == f"--set {item!r}: expected KEY=VALUE with a dotted KEY"
    assert "--set train.lr=3e-4" in str(err.hint)


def test_set_of_an_unknown_key_suggests_one() -> None:
    assert "--set trian.lr: trian: unknown key 'trian' (did you mean 'train'?)" in str(error(None, ["trian.lr=3"]))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("train.lr.x=3", "--set train.lr.x: train.lr is a single value (a positive number or 'auto'), not a section"),
        ("data.source.x=1", "--set data.source.x: data.source is a single value (a string), not a section"),
        ("model.hidden.0=5", "--set model.hidden.0: model.hidden is a single value (a list of integers), not a"),
    ],
)
def test_set_inside_a_value_that_is_not_a_section(item: str, message: str) -> None:
    err = error(None, [item])
    assert err.message.startswith(message)
    assert err.hint == f"set it as a whole: --set {message.split(': ')[1].split(' is ')[0]}=VALUE"


def test_set_inside_a_section_the_file_gives_as_a_scalar(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train: 5\n")
    assert error(path, ["train.lr=0.1"]).message == "--set train.lr: train is 5, not a section of keys"


def test_set_inside_an_identifier_given_by_name_keeps_the_name(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  optimizer: sgd\n")
    assert load_config(path, ["train.optimizer.momentum=0.5"]).train.optimizer.name == "sgd"


# ---------------------------------------------------------------- from the command line
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "train:\n  lr: 0.1\n  lr: 0.2\n",
            "c.yaml:3: train.lr: set twice, on lines 2 and 3; YAML would silently keep the last",
        ),
        ("train:\n  epochs: true\n", "c.yaml:2: train.epochs: expected a positive integer; got true"),
        ("train:\n  lr: .nan\n", "c.yaml:2: train.lr: expected a finite number; got .nan"),
        ("train:\n  lr: fast\n", "c.yaml:2: train.lr: expected a positive number or 'auto'; got 'fast'"),
    ],
)
def test_the_cli_prints_one_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = write_config(tmp_path / "c.yaml", text + "data:\n  source: builtin:iris\n")
    out = tmp_path / "runs"
    code = main(["train", str(path), "--set", f"output.dir={out}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: 1 error in the config:\n") and err.count("\n  - ") == 1
    assert f"  - {tmp_path / message}\n" in err
    assert "Traceback" not in err
    assert not out.exists()
