"""TextPreprocessor: the tokenizer and the label coding fitted on the training texts; raw texts → padded ids.

The tokenizer travels in ``preprocessing.json`` as its own JSON. Raw input for prediction is a table with
the text column, a .txt file of one text per line, or a list of strings.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tokenizers import Tokenizer

from deepfit.config import TextConfig
from deepfit.data.kind import Preprocessor
from deepfit.data.sources import read_source, require_file
from deepfit.data.target import fit_target
from deepfit.data.text.tokenizer import PAD, train_tokenizer
from deepfit.errors import DataError, DataWarning, did_you_mean


def texts_of(values: pd.Series, column: str, source: str) -> pd.Series:
    """The column as stripped strings ("" where missing); a column of numbers is an error, not text."""
    present = values.dropna()
    numeric = pd.api.types.is_numeric_dtype(values) or (
        len(present) > 0 and pd.to_numeric(present.astype(str), errors="coerce").notna().mean() >= 0.9
    )
    if numeric and len(present):
        example = present.iloc[0].item() if hasattr(present.iloc[0], "item") else present.iloc[0]
        raise DataError(
            f"text column '{column}' of {source} holds numbers (such as {example!r}), not text",
            hint="name the column with the text in data.text.text_column, or use data.kind: tabular for numbers",
        )
    texts = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    if len(texts) and (texts == "").all():
        raise DataError(f"all {len(texts)} texts in column '{column}' of {source} are empty")
    return texts


class TokenLengths:
    """The longest training text in tokens, and how many are longer than ``data.text.max_length`` (cut there),
    counted batch by batch."""

    def __init__(self) -> None:
        self.longest, self.over = 0, 0

    def add(self, tokenizer: Tokenizer, texts: list[str], max_length: int) -> None:
        lengths = [len(e.ids) for e in tokenizer.encode_batch(texts)]
        self.longest = max([self.longest, *lengths])
        self.over += sum(n > max_length for n in lengths)


class TextPreprocessor(Preprocessor):
    """Fit the tokenizer and the label coding on the training split; turn raw texts into padded token ids."""

    kind = "text"

    def __init__(self, config: TextConfig | None = None, target_scaling: bool = True) -> None:
        super().__init__()
        self.config = config or TextConfig()
        self.target_scaling = target_scaling
        self._tokenizer: Tokenizer | None = None

    def fit(self, frame: pd.DataFrame, *, column: str, target: str, task: str) -> TextPreprocessor:
        texts = frame[column].tolist()
        tokenizer = train_tokenizer(texts, self.config)
        lengths = TokenLengths()
        lengths.add(tokenizer, texts, self.config.max_length)
        target_state = fit_target(frame[target], task, scaling=self.target_scaling)
        return self.fitted(tokenizer, lengths, column=column, target=target, task=task, target_state=target_state)

    def fitted(
        self,
        tokenizer: Tokenizer,
        lengths: TokenLengths,
        *,
        column: str,
        target: str,
        task: str,
        target_state: dict[str, Any],
    ) -> TextPreprocessor:
        """The state of a tokenizer trained on the training texts (in memory, or streamed: deepfit.data.stream)."""
        # Pad to the longest training text, at most max_length: no wider than the data needs.
        seq_len = min(self.config.max_length, lengths.longest)
        state: dict[str, Any] = {"task": task, "target": target, "text_column": column, "seq_len": seq_len}
        state["truncated_train_texts"] = lengths.over
        state.update(target_state)
        state["tokenizer"] = tokenizer.to_str()
        self.state, self._tokenizer = state, None
        return self

    @property
    def tokenizer(self) -> Tokenizer:
        """The fitted tokenizer, truncating and padding (id 0) every text to ``seq_len`` tokens."""
        if self._tokenizer is None:
            tokenizer = Tokenizer.from_str(self.state["tokenizer"])
            tokenizer.enable_truncation(max_length=self.state["seq_len"])
            tokenizer.enable_padding(pad_id=PAD, pad_token="[PAD]", length=self.state["seq_len"])
            self._tokenizer = tokenizer
        return self._tokenizer

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def texts(self, raw: Any, source: str = "the data") -> list[str]:
        """The texts of ``raw``: a frame with the text column, or a list / Series of strings."""
        column = self.state["text_column"]
        if isinstance(raw, pd.DataFrame):
            if column not in raw.columns:
                raise DataError(
                    f"text column '{column}' is missing from {source}{did_you_mean(column, raw.columns)}",
                    hint=f"the model was trained on texts in a column named '{column}'",
                )
            raw = raw[column]
        return texts_of(pd.Series(list(raw), dtype=object), column, source).tolist()

    def transform(self, raw: Any, source: str = "the data") -> tuple[torch.Tensor, ...]:
        """``(ids,)``: int64 token ids, one row per text, [CLS] first, padded with 0 to ``seq_len``."""
        encodings = self.tokenizer.encode_batch(self.texts(raw, source))
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(encodings), self.state["seq_len"])
        return (torch.from_numpy(ids),)

    def read_input(self, source: str | Path | pd.DataFrame) -> pd.DataFrame:
        """Input to predict on: a CSV / Parquet table, or a .txt file with one text per line."""
        if isinstance(source, str | Path) and Path(source).suffix.lower() == ".txt":
            return read_lines(Path(source), self.state["text_column"])
        return read_source(source)

    # the source's tokenizer and length: an embedding row must mean the same token to the reused weights
    own_keys = ("text_column",)

    def reuse_problem(self, source: Preprocessor) -> str | None:
        return None  # any text can be tokenized with the source's vocabulary (unknown words become [UNK])

    def settings(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(), "target_scaling": self.target_scaling}

    @classmethod
    def from_settings(cls, raw: dict[str, Any]) -> TextPreprocessor:
        return cls(TextConfig(**raw["config"]), raw["target_scaling"])


def text_lines(text: str) -> list[str]:
    """One text per line: ``\\n``, ``\\r\\n`` and ``\\r`` end a line; the newline ending the last line starts
    no other (``str.splitlines`` would also break at form feeds and other separators a text may hold)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_lines(path: Path, column: str) -> pd.DataFrame:
    """One row per line of a text file, in order: a blank line is an empty text (it still gets a prediction).

    Only line breaks split (``\\n``, ``\\r\\n``, ``\\r``), not the other characters ``str.splitlines`` breaks at.
    """
    require_file(path)
    try:
        with path.open(encoding="utf-8", newline=None) as handle:  # universal newlines: \r\n and \r become \n
            text = handle.read()
    except UnicodeDecodeError as exc:
        line = path.read_bytes().count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path} is not UTF-8 text (line {line})", hint="save the file as UTF-8") from None
    lines = text_lines(text)
    blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    if blank and len(blank) < len(lines):
        warnings.warn(
            f"{path}: {len(blank)} blank line{'s' if len(blank) > 1 else ''} read as empty texts "
            f"(line {', '.join(map(str, blank[:10]))}); each still gets a prediction, from no words",
            DataWarning,
            stacklevel=3,
        )
    frame = pd.DataFrame({column: pd.Series(lines, dtype=object)})
    frame.attrs["path"] = str(path)
    return frame
