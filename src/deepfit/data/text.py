"""Text data: a table with a text column and a label, tokenized by a tokenizer fitted on the training texts only.

read → find the text column → clean (empty texts, duplicates, conflicting labels) → split → fit the
tokenizer (Hugging Face ``tokenizers``: BPE, WordPiece or whole words) on train → token ids, padded with 0
to one length. Every text starts with [CLS]. The tokenizer travels in ``preprocessing.json`` as its own JSON.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

from deepfit.config import CleanConfig, Config, TextConfig
from deepfit.data.batches import TensorData
from deepfit.data.clean import _check_usable, _resolve_conflicts, _target_summary, check_enough_rows
from deepfit.data.pipeline import PreparedData, external_splits, load_frame
from deepfit.data.schema import Schema, infer_task, resolve_target
from deepfit.data.sources import read_source, require_file
from deepfit.data.spec import DataSpec
from deepfit.data.split import minimum_rows, split_frame
from deepfit.errors import DataError, DataWarning, did_you_mean

PAD, UNK, CLS = 0, 1, 2  # ids of the special tokens, in this order in every vocabulary
SPECIAL = ["[PAD]", "[UNK]", "[CLS]"]
_FREE_TEXT_WORDS = 5  # median words per value from which a column reads as free text
_MAX_OTHER_COLUMNS = 3  # a wider table with a comments column stays a table
_TOKENIZERS = {  # data.text.tokenizer -> (model, trainer)
    "bpe": (models.BPE, trainers.BpeTrainer),
    "wordpiece": (models.WordPiece, trainers.WordPieceTrainer),
    "word": (models.WordLevel, trainers.WordLevelTrainer),
}


# ---------------------------------------------------------------- finding the text
def free_text_column(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> str | None:
    """The column that reads as free text (median >= 5 words, mostly distinct), the wordiest if several."""
    best, best_words = None, 0.0
    for column in frame.columns:
        if column in exclude or pd.api.types.is_numeric_dtype(frame[column]) or frame[column].dtype == bool:
            continue
        values = frame[column].dropna().astype(str).head(2000)
        if len(values) == 0 or pd.to_numeric(values, errors="coerce").notna().mean() >= 0.9:
            continue
        words = float(values.str.split().str.len().median())
        if words >= _FREE_TEXT_WORDS and values.nunique() / len(values) >= 0.5 and words > best_words:
            best, best_words = column, words
    return best


def looks_like_text(config: Config) -> bool:
    """``data.kind: auto`` means text when ``data.text.text_column`` is set, or a narrow table holds free text."""
    data = config.data
    if data.text.text_column:
        return True
    source = data.source
    if not source or source.startswith("builtin:") or data.features or data.column_types:
        return False
    path = config.resolve_path(source)
    if not path.is_file() or path.suffix.lower() not in (".csv", ".tsv", ".parquet", ".pq"):
        return False
    try:  # a peek at the first rows is enough to tell
        if path.suffix.lower() in (".csv", ".tsv"):
            head = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", nrows=2000)
        else:
            head = pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return False  # the tabular reader will report what is wrong with the file
    exclude = (data.target or "target", *data.drop_columns)
    others = [c for c in head.columns if c not in exclude]
    return len(others) <= _MAX_OTHER_COLUMNS + 1 and free_text_column(head, exclude) is not None


def text_column(frame: pd.DataFrame, config: TextConfig, target: str, source: str = "the data") -> str:
    """``data.text.text_column`` checked against the frame, or the detected free-text column."""
    column = config.text_column or free_text_column(frame, (target,))
    if column is None:
        raise DataError(
            f"no column of {source} reads as free text",
            hint=f"set data.text.text_column; the columns are: {', '.join(map(str, frame.columns[:20]))}",
        )
    if column not in frame.columns:
        raise DataError(
            f"text column '{column}' is not in {source}{did_you_mean(column, frame.columns)}",
            hint=f"set data.text.text_column; the columns are: {', '.join(map(str, frame.columns[:20]))}",
        )
    if column == target:
        raise DataError(f"data.text.text_column '{column}' is also the target", hint="name the label in data.target")
    return column


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


# ---------------------------------------------------------------- cleaning
def clean_text(
    frame: pd.DataFrame, column: str, target: str, task: str, config: CleanConfig, min_rows: int = 2
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep the text and the label; drop empty texts, exact duplicates and (by policy) conflicting labels."""
    report: dict[str, Any] = {"rows_in": len(frame), "target": target, "task": task, "text_column": column}
    no_target = frame[target].isna()
    report["missing_target_rows"] = int(no_target.sum())
    source = str(frame.attrs.get("path", "the data"))
    frame = frame.loc[~no_target, [column, target]].copy()
    check_enough_rows(frame, report, target, source, min_rows)
    frame[column] = texts_of(frame[column], column, "the data")

    empty = frame[column] == ""
    report["empty_texts"] = {"count": int(empty.sum()), "rows": [int(i) + 1 for i in frame.index[empty][:10]]}
    frame = frame.loc[~empty]

    schema = Schema(target=target, task=task, kinds={column: "text"})
    duplicated = frame.duplicated(keep="first") if config.drop_duplicates else pd.Series(False, index=frame.index)
    report["duplicate_rows"] = int(duplicated.sum())
    frame = frame.loc[~duplicated]
    frame, report["conflicts"] = _resolve_conflicts(frame, schema, config.conflicts)

    report["columns"] = {column: "text"}
    report["rows_out"] = len(frame)
    report["target_summary"] = _target_summary(frame[target], task)
    _check_usable(frame, schema)
    return frame, report


def inspect_text(config: Config, raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The cleaned text table and its data report."""
    data = config.data
    target = resolve_target(raw, data, data.source)
    column = text_column(raw, data.text, target)
    task = data.task if data.task != "auto" else infer_task(raw[target])
    min_rows = minimum_rows(data.split, external_splits(config), task)
    cleaned, report = clean_text(raw, column, target, task, data.clean, min_rows)
    unused = [c for c in raw.columns if c not in (column, target)]
    report["dropped_columns"] = {c: "not used: a text model reads the text column only" for c in unused}
    words = cleaned[column].str.split().str.len()
    report["text_stats"] = {"median_words": float(words.median()), "max_words": int(words.max())}
    notes = [f"text column '{column}': median {words.median():g} words, longest {words.max()}"]
    if report["empty_texts"]["count"]:
        rows = ", ".join(map(str, report["empty_texts"]["rows"]))
        notes.append(f"dropped {report['empty_texts']['count']} rows with an empty text (data rows {rows})")
    report["notes"] = notes
    if raw.attrs.get("path"):
        report["source"] = raw.attrs["path"]
    return cleaned, report


# ---------------------------------------------------------------- tokenizer
def train_tokenizer(texts: list[str], config: TextConfig) -> Tokenizer:
    """A tokenizer of ``config.tokenizer`` kind trained on ``texts``: [PAD]=0, [UNK]=1, [CLS]=2, [CLS] first."""
    options = {"vocab_size": config.vocab_size, "min_frequency": config.min_frequency, "show_progress": False}
    model, trainer = _TOKENIZERS[config.tokenizer]
    tokenizer = Tokenizer(model(unk_token="[UNK]"))
    steps = [normalizers.NFD()]  # decomposed, so that StripAccents can drop the accents
    steps += [normalizers.Lowercase()] if config.lowercase else []
    steps += [normalizers.StripAccents()] if config.strip_accents else []
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    pieces = _continuing_pieces(tokenizer, texts) if config.tokenizer == "wordpiece" else []
    tokenizer.train_from_iterator(texts, trainer(special_tokens=SPECIAL + pieces, **options), length=len(texts))
    if pieces:  # in the vocabulary, as WordPiece needs them, but not special: '##a' in a text is just text
        raw = json.loads(tokenizer.to_str())
        raw["added_tokens"] = [t for t in raw["added_tokens"] if t["content"] in SPECIAL]
        tokenizer = Tokenizer.from_str(json.dumps(raw))
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", CLS)])
    return tokenizer


def _continuing_pieces(tokenizer: Tokenizer, texts: list[str]) -> list[str]:
    """'##' + every character of the normalised texts, sorted: WordPiece training made deterministic.

    The trainer creates these pieces in hash-map order, so their ids, and the merges they tie-break, change
    from run to run (huggingface/tokenizers#1794). Given up front, in a fixed order, nothing is left to chance.
    """
    chars = set().union(*(tokenizer.normalizer.normalize_str(text) for text in texts))
    return [f"##{c}" for c in sorted(chars) if not c.isspace()]


@dataclass
class TokenDropout:
    """Training augmentation: each token other than [PAD] and [CLS] becomes [UNK] with probability ``rate``.

    Replacing (rather than removing) keeps every text's length and its padding where it is.
    """

    rate: float

    def __call__(self, inputs: tuple[torch.Tensor, ...], target: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], Any]:
        ids = inputs[0]
        drop = (torch.rand(ids.shape, device=ids.device) < self.rate) & (ids > CLS)
        return (ids.masked_fill(drop, UNK), *inputs[1:]), target


# ---------------------------------------------------------------- preprocessor
class TextPreprocessor:
    """Fit the tokenizer and the label coding on the training split; turn raw texts into padded token ids."""

    def __init__(self, config: TextConfig | None = None, target_scaling: bool = True) -> None:
        self.config = config or TextConfig()
        self.target_scaling = target_scaling
        self.state: dict[str, Any] = {}
        self._tokenizer: Tokenizer | None = None

    def fit(self, frame: pd.DataFrame, *, column: str, target: str, task: str) -> TextPreprocessor:
        texts = frame[column].tolist()
        tokenizer = train_tokenizer(texts, self.config)
        lengths = [len(e.ids) for e in tokenizer.encode_batch(texts)]
        # Pad to the longest training text, at most max_length: no wider than the data needs.
        seq_len = min(self.config.max_length, max(lengths))
        state: dict[str, Any] = {"task": task, "target": target, "text_column": column, "seq_len": seq_len}
        state["truncated_train_texts"] = int(sum(n > seq_len for n in lengths))
        if task == "classification":
            classes = sorted(pd.unique(frame[target]), key=lambda v: (isinstance(v, str), v))
            state["classes"] = [v.item() if hasattr(v, "item") else v for v in classes]
        else:
            y = pd.to_numeric(frame[target]).to_numpy(dtype=float)
            mean, std = (float(y.mean()), float(y.std()) or 1.0) if self.target_scaling else (0.0, 1.0)
            state["target_mean"], state["target_std"] = mean, std
        state["tokenizer"] = tokenizer.to_str()
        self.state, self._tokenizer = state, None
        return self

    @property
    def classes(self) -> list[Any]:
        return self.state.get("classes", [])

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

    def transform_target(self, target: pd.Series) -> tuple[torch.Tensor, np.ndarray]:
        """Target tensor and a mask of the rows it covers (rows of classes unseen in training are left out)."""
        if self.state["task"] == "classification":
            index = {str(c): i for i, c in enumerate(self.classes)}
            codes = target.map(lambda v: index.get(str(v.item() if hasattr(v, "item") else v), -1)).to_numpy()
            known = codes >= 0
            return torch.as_tensor(codes[known], dtype=torch.int64), known
        y = pd.to_numeric(target, errors="coerce").to_numpy(dtype=float)
        y = (y - self.state["target_mean"]) / self.state["target_std"]
        return torch.as_tensor(y, dtype=torch.float32)[:, None], np.ones(len(y), dtype=bool)

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        return y * self.state["target_std"] + self.state["target_mean"]

    def read_input(self, source: str | Path | pd.DataFrame) -> pd.DataFrame:
        """Input to predict on: a CSV / Parquet table, or a .txt file with one text per line."""
        if isinstance(source, str | Path) and Path(source).suffix.lower() == ".txt":
            return read_lines(Path(source), self.state["text_column"])
        return read_source(source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "text",
            "config": self.config.model_dump(),
            "target_scaling": self.target_scaling,
            "state": self.state,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TextPreprocessor:
        pre = cls(TextConfig(**raw["config"]), raw["target_scaling"])
        pre.state = raw["state"]
        return pre


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
    lines = text.split("\n")
    if lines and lines[-1] == "":  # the newline ending the last line does not start another
        lines.pop()
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


# ---------------------------------------------------------------- the data path
def prepare_text(config: Config, frame: pd.DataFrame | None = None) -> PreparedData:
    data = config.data
    cleaned, report = inspect_text(config, load_frame(config, frame))
    column, target, task = report["text_column"], report["target"], report["task"]

    external = {}
    for name, source in (("validation", data.validation_source), ("test", data.test_source)):
        if source:
            extra = read_source(source, config.base_dir)
            for needed in (column, target):
                if needed not in extra.columns:
                    raise DataError(f"data.{name}_source: column '{needed}' is not in {source}")
            extra = extra.loc[extra[target].notna(), [column, target]].copy()
            extra[column] = texts_of(extra[column], column, source)
            external[name] = extra[extra[column] != ""]
    seed = config.train.seed
    frames = split_frame(cleaned, data.split, target=target, task=task, seed=seed, external=tuple(external))
    frames.update(external)

    pre = TextPreprocessor(data.text, data.preprocess.target_scaling).fit(
        frames["train"], column=column, target=target, task=task
    )
    tensors, unseen = {}, {}
    for name, part in frames.items():
        if part.empty:
            continue
        labels, known = pre.transform_target(part[target])
        if not known.all():  # a class absent from train cannot be learned or scored
            unseen[name] = int((~known).sum())
            part = frames[name] = part[known]
        augment = TokenDropout(data.text.token_dropout) if name == "train" and data.text.token_dropout > 0 else None
        tensors[name] = TensorData(pre.transform(part, source=f"the {name} data"), labels, augment)
    report["splits"] = {name: len(part) for name, part in frames.items()}
    if unseen:
        report["rows_with_classes_unseen_in_train"] = unseen
    report["tokenizer"] = _tokenizer_facts(pre, tensors)
    report["notes"].append(_tokenizer_line(report["tokenizer"], data.text))
    spec = DataSpec(
        task=task,
        n_features=pre.state["seq_len"],
        n_outputs=len(pre.classes) if task == "classification" else 1,
        class_names=pre.classes,
        kind="text",
        input_shape=[pre.state["seq_len"]],
        vocab_size=pre.vocab_size,
        n_train=len(tensors["train"]),
        extra={"pad_id": PAD, "unk_id": UNK, "cls_id": CLS, "text_column": column},
    )
    return PreparedData(tensors, frames, spec, pre, None, report)


def _tokenizer_facts(pre: TextPreprocessor, tensors: dict[str, TensorData]) -> dict[str, Any]:
    facts = {
        "kind": pre.config.tokenizer,
        "vocab_size": pre.vocab_size,
        "seq_len": pre.state["seq_len"],
        "truncated_train_texts": pre.state["truncated_train_texts"],
    }
    for name, part in tensors.items():  # how much of each split the training vocabulary does not cover
        ids = part.inputs[0]
        words = int((ids > CLS).sum() + (ids == UNK).sum())
        facts[f"unknown_token_rate_{name}"] = round(float((ids == UNK).sum()) / max(words, 1), 4)
    return facts


def _tokenizer_line(facts: dict[str, Any], config: TextConfig) -> str:
    line = f"{facts['kind']} tokenizer fitted on train: {facts['vocab_size']:,} tokens; texts as {facts['seq_len']} ids"
    if facts["truncated_train_texts"]:
        line += f" ({facts['truncated_train_texts']} training texts cut at data.text.max_length={config.max_length})"
    rate = facts.get("unknown_token_rate_validation")
    return line + (f"; {rate:.1%} of validation tokens unknown" if rate is not None else "")


__all__ = ["TextPreprocessor", "TokenDropout", "clean_text", "looks_like_text", "prepare_text", "train_tokenizer"]
