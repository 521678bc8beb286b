"""Text data: a table with a text column and a label, tokenized by a tokenizer fitted on the training texts only.

read → find the text column → clean (empty texts, duplicates, conflicting labels) → split → fit the
tokenizer (Hugging Face ``tokenizers``: BPE, WordPiece or whole words) on train → token ids, padded with 0
to one length. Every text starts with [CLS]. The tokenizer travels in ``preprocessing.json`` as its own JSON.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from deepfit.config import CleanConfig, Config, TextConfig
from deepfit.data.batches import TensorData
from deepfit.data.clean import check_enough_rows, check_usable, resolve_conflicts, target_summary
from deepfit.data.kind import DataKind
from deepfit.data.schema import infer_task, resolve_target
from deepfit.data.sources import read_source
from deepfit.data.spec import DataSpec
from deepfit.data.split import minimum_rows
from deepfit.data.tabular.kind import external_splits, load_frame
from deepfit.data.text.preprocess import TextPreprocessor, texts_of
from deepfit.data.text.tokenizer import CLS, PAD, UNK, TokenDropout
from deepfit.errors import DataError, did_you_mean

_FREE_TEXT_WORDS = 5  # median words per value from which a column reads as free text
_MAX_OTHER_COLUMNS = 3  # a wider table with a comments column stays a table


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

    duplicated = frame.duplicated(keep="first") if config.drop_duplicates else pd.Series(False, index=frame.index)
    report["duplicate_rows"] = int(duplicated.sum())
    frame = frame.loc[~duplicated]
    frame, report["conflicts"] = resolve_conflicts(frame, [column], target, task, config.conflicts)

    report["columns"] = {column: "text"}
    report["rows_out"] = len(frame)
    report["target_summary"] = target_summary(frame[target], task)
    check_usable(frame, target, task)
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


class TextKind(DataKind[TextPreprocessor]):
    name = "text"
    preprocessor = TextPreprocessor
    section = "tokenizer"

    def detect(self, config: Config) -> bool:
        return looks_like_text(config)

    def read(self, config: Config, frame: pd.DataFrame | None) -> pd.DataFrame:
        return load_frame(config, frame)

    def clean(self, config: Config, raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        return inspect_text(config, raw)

    def read_external(self, config: Config, name: str, source: str, report: dict[str, Any]) -> pd.DataFrame:
        column, target = report["text_column"], report["target"]
        extra = read_source(source, config.base_dir)
        for needed in (column, target):
            if needed not in extra.columns:
                raise DataError(f"data.{name}_source: column '{needed}' is not in {source}")
        extra = extra.loc[extra[target].notna(), [column, target]].copy()
        extra[column] = texts_of(extra[column], column, source)
        return extra[extra[column] != ""]

    def fit(self, config: Config, train: pd.DataFrame, report: dict[str, Any]) -> TextPreprocessor:
        pre = TextPreprocessor(config.data.text, config.data.preprocess.target_scaling)
        return pre.fit(train, column=report["text_column"], target=report["target"], task=report["task"])

    def augment(self, config: Config, pre: TextPreprocessor, split: str) -> TokenDropout | None:
        rate = config.data.text.token_dropout
        return TokenDropout(rate) if split == "train" and rate > 0 else None

    def finish_report(self, config: Config, report: dict, pre: TextPreprocessor, tensors: dict, frames: dict) -> None:
        report["tokenizer"] = _tokenizer_facts(pre, tensors)
        report["notes"].append(_tokenizer_line(report["tokenizer"], config.data.text))

    def spec(self, config: Config, pre: TextPreprocessor, tensors: dict, report: dict[str, Any]) -> DataSpec:
        task = report["task"]
        return DataSpec(
            task=task,
            n_features=pre.state["seq_len"],
            n_outputs=len(pre.classes) if task == "classification" else 1,
            class_names=pre.classes,
            kind="text",
            input_shape=[pre.state["seq_len"]],
            vocab_size=pre.vocab_size,
            n_train=len(tensors["train"]),
            extra={"pad_id": PAD, "unk_id": UNK, "cls_id": CLS, "text_column": report["text_column"]},
        )


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


__all__ = ["CLS", "PAD", "UNK", "TextKind", "TextPreprocessor", "TokenDropout", "clean_text", "looks_like_text"]
