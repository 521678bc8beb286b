"""Figures in docs/ agree with the README's examples table, and a sample output with the time beside it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT


def readme_row(config: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return next(line for line in readme.splitlines() if line.startswith(f"| `examples/{config}`"))


def numbers(text: str) -> list[str]:
    return re.findall(r"\d+\.\d+", text)


@pytest.mark.parametrize("config", ["gan_tabular.yaml", "gan_digits.yaml"])
def test_gan_page_and_readme_give_the_same_scores(config: str) -> None:
    page = (ROOT / "docs" / "gan.md").read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if line.startswith(f"| `examples/{config}`"))
    two_sample = numbers(row.split("|")[4])[0]
    assert two_sample in readme_row(config), f"docs/gan.md says {two_sample} for {config}; the README differs"
    wall = re.search(r"(\d+) s", row.split("|")[3]).group(1)
    assert f"| {wall} s |" in readme_row(config)


def test_images_page_sample_output_matches_its_prose_and_the_readme() -> None:
    page = (ROOT / "docs" / "images.md").read_text(encoding="utf-8")
    prose = re.search(r"`deepfit train examples/digits_cnn.yaml` \(.*?(\d+) s wall", page, re.DOTALL)
    run = re.search(r"Run saved to runs/digits_cnn-… \((\d+\.\d) s", page)
    assert prose and run and float(run.group(1)) <= float(prose.group(1)), "the run takes longer than its wall time"
    accuracy = re.search(r"│ accuracy\s+│\s+\S+ │ (\S+) │", page).group(1)
    assert accuracy[:5] in readme_row("digits_cnn.yaml")
    assert f"| {prose.group(1)} s |" in readme_row("digits_cnn.yaml")


def test_no_page_says_gans_have_no_report_section() -> None:
    assert "No `report.html` section for GANs" not in (ROOT / "docs" / "gan.md").read_text(encoding="utf-8")
