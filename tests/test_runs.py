"""Run files: written atomically, with the permissions any other new file would get."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfit.errors import DeepfitError
from deepfit.runs import write_json, write_text


def test_files_get_the_mode_open_would_give_not_mkstemps_0600(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")
    write_text(tmp_path / "run.txt", "x")
    assert (tmp_path / "run.txt").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    write_json(tmp_path / "eval.json", {"a": 1})
    with pytest.raises(TypeError):
        write_json(tmp_path / "eval.json", {"a": object()})  # not JSON: fails half-way
    assert (tmp_path / "eval.json").read_text().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DeepfitError, match=r"cannot write .*eval\.json"):
        write_text(blocker / "eval.json", "x")
