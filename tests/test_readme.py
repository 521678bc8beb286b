"""The README's Quickstart is what CI runs: the test command in both must be identical."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.DOTALL)
    assert block, "the Quickstart has a code block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_quickstart_has_exactly_two_commands() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2
    assert "deepfit train examples/digits.yaml" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert quickstart_commands()[1] in ci


def test_torch_is_installed_before_the_package() -> None:
    for command in quickstart_commands():
        assert command.index("torch==2.13.0") < command.index("pip install -e")


# ---------------------------------------------------------------- every command in the docs works as written
DOCS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


def documented_commands() -> list[tuple[str, str]]:
    """``deepfit ...`` in backticks and at the start of code-block lines, in the README and docs/."""
    found = []
    for name in DOCS:
        text = (ROOT / name).read_text(encoding="utf-8")
        inline = re.findall(r"`(deepfit [^`]+)`", text)
        shell = "\n".join(re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, re.DOTALL))
        blocks = re.findall(r"^\s*(deepfit \S.*?)\s*(?:#.*)?$", shell, re.MULTILINE)
        blocks += re.findall(r"^\s*\$ (deepfit \S.*?)\s*$", text, re.MULTILINE)
        found += [(name, command) for command in inline + blocks]
    return found


def as_argv(command: str) -> list[str]:
    """Usage notation to an example: brackets and '...' dropped, placeholders given values."""
    command = re.split(r"\s[>|]\s", command)[0]  # a redirection or pipe is the shell's
    words = command.replace("[", " ").replace("]", " ").replace("...", " ").replace("…", "x").split()[1:]
    words = [("2" if word in ("N", "S") else "x") if word.isupper() else word for word in words]
    words = ["train.epochs=1" if word == "KEY=VALUE" else word for word in words]
    return [*words, "train.epochs=1"] if words[-1:] == ["--set"] else words


@pytest.mark.parametrize(("page", "command"), documented_commands())
def test_a_documented_command_parses(page: str, command: str) -> None:
    from deepfit.cli import build_parser

    argv = as_argv(command)
    if len(argv) <= 1 and argv != ["runs"]:
        return  # `deepfit tune` alone names the command in prose
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{page}: `{command}` does not parse as {argv} (exit {exc.code})")


def test_the_readme_says_to_activate_the_venv_before_later_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "source .venv/bin/activate" in after


def test_every_example_script_named_in_the_docs_exists() -> None:
    for name in DOCS:
        for script in re.findall(r"(examples/[\w./-]+\.(?:py|yaml))", (ROOT / name).read_text(encoding="utf-8")):
            assert (ROOT / script).is_file(), f"{name} names {script}, which does not exist"
