"""Text too large for memory: the split per row, the tokenizer trained on a stream of the training texts.

The file is read as a table is (``open_table``: a Parquet copy read by row groups; the split a hash of each
row, ``RowRule``), keeping the text column and the label. What the in-memory path fits on the training texts
is fitted by streaming them:

1. one pass: the tokenizer's vocabulary (Hugging Face ``Tokenizer.train_from_iterator`` takes the texts as
   an iterator, so the trainer counts words and merges without holding the texts), the target's classes or
   moments, and the uniform samples of validation and test (``BottomK``). WordPiece reads the texts once
   more before, for the characters it is given up front (``continuing_pieces``: its training made
   deterministic);
2. one pass: the tokenizer's length of each training text, for the padded width (the longest, at most
   ``data.text.max_length``) and the count of texts cut there.

The result is the ``TextPreprocessor`` state the in-memory path saves, so a streamed run predicts, evaluates,
exports and serves like any other. ``StreamData`` tokenizes the training rows chunk by chunk with its
``transform``. Unlike the in-memory path, duplicate texts and conflicting labels are kept (finding them
needs the whole file).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from deepfit.config import Config
from deepfit.data.stream.fit import TargetStats
from deepfit.data.stream.prepare import StreamedData, all_splits, open_table, split_plan, stream_maker
from deepfit.data.stream.rows import SPLIT_CODES, BottomK, RowRule
from deepfit.errors import DataError


def prepare_streamed_text(config: Config, reason: str) -> StreamedData:
    from deepfit.data.schema import infer_task, resolve_target
    from deepfit.data.text.kind import TextKind, text_column
    from deepfit.data.text.preprocess import TextPreprocessor, TokenLengths, texts_of
    from deepfit.data.text.tokenizer import base_tokenizer, continuing_pieces, train_tokenizer

    data, settings = config.data, config.data.stream
    path, table_path, table, head = open_table(config)
    target = resolve_target(head, data, data.source)
    column = text_column(head, data.text, target, str(path))
    task = data.task if data.task != "auto" else infer_task(head[target])
    group = data.split.group_column
    if group and group not in head.columns:
        raise DataError(f"data.split.group_column '{group}' is not a column of {path}")
    columns = list(dict.fromkeys([column, target, *([group] if group else [])]))
    external, shares, seed = split_plan(config)
    rule = RowRule(target, task, [column], shares, seed, group, text_column=column)

    stats = TargetStats(task)
    sample = BottomK(settings.sample_rows)
    held = {name: BottomK(settings.eval_rows) for name in ("validation", "test")}
    counts = {"rows_in": 0, "missing_target_rows": 0, "empty_texts": 0, "rows_out": 0}

    def training_texts(first: bool) -> Iterator[list[str]]:
        """The training texts of each row group, cleaned as in memory; the first pass also counts the rest."""
        for index in range(table.num_row_groups):
            frame = table.read_row_group(index, columns=columns).to_pandas()
            usable = rule.usable(frame)
            if first:
                no_target = int(frame[target].isna().sum())
                counts["rows_in"] += len(frame)
                counts["missing_target_rows"] += no_target
                counts["empty_texts"] += len(frame) - no_target - int(usable.sum())
                counts["rows_out"] += int(usable.sum())
            frame = frame[usable]
            codes, priority = rule.codes(frame)
            train = codes == SPLIT_CODES["train"]
            if first:
                stats.add(frame[target][train])
                sample.add(frame[train], priority[train])
                for name, code in SPLIT_CODES.items():
                    if name != "train" and name not in external:
                        held[name].add(frame[codes == code], priority[codes == code])
            yield texts_of(frame[column][train], column, str(path)).tolist()

    base = base_tokenizer(data.text)
    if data.text.tokenizer == "wordpiece":
        pieces: set[str] = set()
        for texts in training_texts(True):
            pieces.update(continuing_pieces(base, texts))
        tokenizer = train_tokenizer(chain.from_iterable(training_texts(False)), data.text, pieces=sorted(pieces))
    else:
        tokenizer = train_tokenizer(chain.from_iterable(training_texts(True)), data.text)
    rows = sample.seen
    if rows < 2:
        raise DataError(f"{path}: the training split holds {rows} rows", hint="check data.split and the file")
    lengths = TokenLengths()
    for texts in training_texts(False):
        lengths.add(tokenizer, texts, data.text.max_length)
    pre = TextPreprocessor(data.text, data.preprocess.target_scaling).fitted(
        tokenizer,
        lengths,
        column=column,
        target=target,
        task=task,
        target_state=stats.state(data.preprocess.target_scaling),
    )

    kind = TextKind()
    report = _report(config, reason, path, table_path, column, target, task, counts, stats, sample, columns)
    unused = [c for c in head.columns if c not in (column, target)]
    report["dropped_columns"] = {c: "not used: a text model reads the text column only" for c in unused}

    stream = stream_maker(config, kind, table_path, columns, rule, pre)
    train_sample = sample.frame(columns)
    tensors, frames, streams = all_splits(config, kind, stream, rows, stats, held, external, report, train_sample)
    kind.finish_report(config, report, pre, {k: v for k, v in tensors.items() if k != "train"}, frames)
    report["tokenizer"]["truncated_train_texts"] = pre.state["truncated_train_texts"]
    spec = kind.spec(config, pre, tensors, report)
    return StreamedData(tensors, frames, spec, pre, None, report, streams)


def _report(
    config: Config,
    reason: str,
    path: Any,
    table_path: Any,
    column: str,
    target: str,
    task: str,
    counts: dict[str, int],
    stats: TargetStats,
    sample: BottomK,
    columns: list[str],
) -> dict[str, Any]:
    """The data report in the in-memory text path's shape, with what streaming did in its notes."""
    words = sample.frame(columns)[column].astype(str).str.split().str.len()
    whole = "the whole training split" if sample.complete else f"a uniform sample of {len(words):,} training texts"
    notes = [
        reason,
        f"text column '{column}': median {words.median():g} words, longest {words.max()} (in {whole})",
        "tokenizer trained on a stream of every training text; no duplicate or conflict removal while streaming",
    ]
    if counts["empty_texts"]:
        notes.append(f"dropped {counts['empty_texts']:,} rows with an empty text")
    if table_path != path:
        notes.append(f"Parquet copy: {table_path}")
    return {
        "source": str(path),
        "rows_in": counts["rows_in"],
        "rows_out": counts["rows_out"],
        "target": target,
        "task": task,
        "text_column": column,
        "missing_target_rows": counts["missing_target_rows"],
        "empty_texts": {"count": counts["empty_texts"], "rows": []},
        "duplicate_rows": 0,
        "conflicts": {},
        "columns": {column: "text"},
        "dropped_columns": {},
        "target_summary": stats.summary(),
        "text_stats": {"median_words": float(words.median()), "max_words": int(words.max())},
        "streaming": {"parquet": str(table_path), "sample_rows": len(words), "train_rows": sample.seen},
        "notes": notes,
    }
