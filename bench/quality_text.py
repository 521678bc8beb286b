"""The text corpora of bench/quality.py, built from material on this machine (nothing is downloaded).

docstrings: the docstrings of six installed packages (numpy, pandas, scikit-learn, torch, scipy, matplotlib),
  read with ``ast`` from the venv's site-packages (no import), labelled by package: a model must learn each
  library's vocabulary ("DataFrame", "tensor", "estimator", "axes"...). 500 per package, first 80 words,
  the text before a "Parameters"/"Args" section, with package names and aliases masked so that the label
  cannot be read off the text.
man_pages: the DESCRIPTION section of Debian man pages under /usr/share/man, labelled by section (1 user
  commands, 2 system calls, 3 library functions, 5 file formats, 7 overviews, 8 administration). Cross
  references such as "open(2)" are removed, so the section is learned from the words, not read off them.
  500 per section (fewer where a section has fewer usable pages), first 100 words.
Both are sampled with a fixed seed; the result is the same table on every run of one machine.
"""

from __future__ import annotations

import ast
import gzip
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

PER_CLASS = 500
PACKAGES = ("numpy", "pandas", "sklearn", "torch", "scipy", "matplotlib")
SECTIONS = ("1", "2", "3", "5", "7", "8")
_CROSS_REF = re.compile(r"\b[\w.:+-]+\s*\(\d\w*\)")
_MASK = re.compile(r"\b(numpy|np|pandas|pd|scipy|sp|torch|nn|sklearn|scikit-learn|pytorch|matplotlib|mpl|plt)\b", re.I)


def _site_packages() -> Path:
    import numpy

    return Path(numpy.__file__).resolve().parents[1]


def _summary(doc: str, words: int) -> str:
    """The prose of a docstring: before its first Parameters/Args/Returns/Examples heading, one line."""
    head = re.split(r"\n\s*(Parameters|Args|Arguments|Returns|Examples|Notes|See Also|Attributes)\s*:?\s*\n", doc)[0]
    return " ".join(head.split()[:words])


def package_docstrings(root: Path, limit: int, words: int = 80, min_words: int = 6) -> list[str]:
    """The masked prose of the docstrings under ``root`` (parsed, not imported), up to about ``limit``."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if "tests" in path.parts or "_vendor" in path.parts or "externals" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                text = _summary(_MASK.sub(" ", doc), words) if doc else ""
                if len(text.split()) >= min_words:
                    found.append(text)
        if len(found) >= limit:
            break
    return found


def docstrings() -> pd.DataFrame:
    rng, site, rows = np.random.default_rng(201), _site_packages(), []
    for package in PACKAGES:
        texts = sorted(set(package_docstrings(site / package, 6 * PER_CLASS)))
        take = rng.choice(len(texts), size=min(PER_CLASS, len(texts)), replace=False)
        rows += [(texts[i], package) for i in sorted(take)]
    return pd.DataFrame(rows, columns=["text", "target"])


def _troff_to_text(source: str) -> str:
    """The DESCRIPTION section of a man page as plain words (macros dropped, escapes removed)."""
    lines, inside = [], False
    for line in source.splitlines():
        if line.startswith((".SH", ".Sh")):
            heading = line[3:].strip().strip('"').upper()
            if inside:
                break
            inside = heading == "DESCRIPTION"
            continue
        if not inside or line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith((".", "'")):
            name, _, rest = line.partition(" ")
            if name[1:] not in ("B", "I", "BR", "RB", "BI", "IB", "IR", "RI", "SM", "TP", "IP", "Nm", "Fn", "Xr"):
                continue
            line = rest.replace('"', "")
        lines.append(line)
    text = " ".join(lines)
    text = re.sub(r"\\f[BIRPC]|\\f\(\w\w|\\f\[\w*\]|\\\(\w\w|\\\[\w+\]|\\[-&e|^~0]|\\s[+-]?\d", " ", text)
    text = _CROSS_REF.sub(" ", text.replace("\\", " "))
    return " ".join(text.split()[:100])


def man_pages(root: Path = Path("/usr/share/man")) -> pd.DataFrame:
    rng, rows = np.random.default_rng(202), []
    if not (root / "man1").is_dir():
        raise FileNotFoundError(f"{root}/man1 does not exist: no man pages on this machine")
    for section in SECTIONS:
        files = sorted(p for p in (root / f"man{section}").glob("*.gz") if p.is_file() and not p.is_symlink())
        order = rng.permutation(len(files))
        texts: list[str] = []
        for i in order:
            try:
                with gzip.open(files[i], "rt", encoding="utf-8", errors="replace") as f:
                    source = f.read()
            except (OSError, EOFError):
                continue
            if source.lstrip().startswith(".so "):
                continue  # a pointer to another page
            text = _troff_to_text(source)
            if len(text.split()) >= 10 and text not in texts:
                texts.append(text)
            if len(texts) >= PER_CLASS:
                break
        rows += [(t, f"section_{section}") for t in texts]
    return pd.DataFrame(rows, columns=["text", "target"])


if __name__ == "__main__":  # a look at a corpus: python bench/quality_text.py man_pages
    frame = {"docstrings": docstrings, "man_pages": man_pages}[sys.argv[1]]()
    print(frame["target"].value_counts().to_string())
    for _, row in frame.sample(6, random_state=0).iterrows():
        print(f"[{row['target']}] {row['text'][:160]}")
