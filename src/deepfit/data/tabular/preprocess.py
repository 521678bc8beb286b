"""Preprocessing fitted on the training split only, saved with the model as plain JSON.

Numeric columns: impute (median/mean) then scale (standard, min-max, quantile, robust, none). Boolean columns: 0/1.
Categorical columns: one-hot (other → all zeros) or integer codes for embeddings (other → 0); levels rarer than
``min_frequency`` in train are pooled into that "other" level, which unseen levels join at prediction.
Date columns: numeric features (``dates.py``). Free-text columns: hashed word counts (``words.py``).
Classification targets: label index over the training classes; regression targets: optionally standardised.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepfit.config import CleanConfig, PreprocessConfig
from deepfit.data import dates
from deepfit.data.kind import Preprocessor
from deepfit.data.schema import Schema, cells, parse_numbers, positions
from deepfit.data.target import fit_target
from deepfit.data.words import fit_text_features, hashed_words, text_features
from deepfit.errors import DataError, DataWarning, did_you_mean
from deepfit.runtime import NO_WORDS, YES_WORDS, category_key  # one definition, shipped with every export


def column_scaling(values: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-column ``(offset, scale)`` of a (rows, columns) array, to apply as ``(x - offset) / scale``.

    ``method`` is data.preprocess.scaling: standard, minmax or none; robust is median and interquartile range
    (without the clipping of tables); quantile and auto are standard here (quantile maps are fitted for tables
    only). A constant column gets scale 1, so it is only shifted.
    """
    if method in ("standard", "quantile", "auto"):
        offset, scale = values.mean(0), values.std(0)
    elif method == "robust":
        offset, scale = _robust_scale(values)
    elif method == "minmax":
        offset, scale = values.min(0), values.max(0) - values.min(0)
    else:
        offset, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
    return offset, np.where(scale > 1e-12, scale, 1.0)


# quantile scaling: ranks in [1e-7, 1 - 1e-7] mapped to the normal distribution (scikit-learn's bounds: ±5.2)
_QUANTILE_BOUND = 1e-7
ROBUST_CLIP = 3.0  # robust scaling: x / sqrt(1 + (x / 3)^2) keeps values within ±3 (RealMLP's smooth clipping)


def _robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and interquartile range per column; half the range where the quartiles coincide (RealMLP)."""
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75], axis=0)
    spread = values.max(0) - values.min(0)
    return median, np.where(q75 - q25 > 1e-12, q75 - q25, spread / 2)


def fit_numeric_scaling(values: np.ndarray | Iterable[np.ndarray], method: str) -> dict[str, Any]:
    """The JSON state of data.preprocess.scaling for imputed training values: a (rows, columns) array, or its
    columns as 1-D arrays (so that a large table's numbers need not be copied into one array first).

    quantile (TabM, Gorishniy et al. 2025, as scikit-learn's ``QuantileTransformer(output_distribution=
    "normal")``): each column's quantiles at ``max(min(rows // 30, 1000), 10)`` evenly spaced ranks; robust
    (RealMLP, Holzmüller et al. 2024): ``(x - median) / IQR`` then smoothly clipped to ±3.
    """
    columns = [values[:, i] for i in range(values.shape[1])] if isinstance(values, np.ndarray) else values
    if method == "quantile":
        quantiles = []
        for column in columns:  # the same ranks for every column: they depend on the number of rows only
            ranks = np.linspace(0.0, 1.0, max(min(len(column) // 30, 1000), 10))
            found = np.maximum.accumulate(np.quantile(column, ranks)) if len(column) else np.zeros(0)
            quantiles.append([float(v) for v in found])
        return {"quantiles": quantiles}
    center, scale = [], []
    for column in columns:
        offset, spread = column_scaling(column[:, None], method) if len(column) else (np.zeros(1),) * 2
        center.append(float(offset[0]))
        scale.append(float(spread[0]) if spread[0] else 1.0)
    return {"center": center, "scale": scale}


def apply_numeric_scaling(values: np.ndarray, method: str, state: dict[str, Any]) -> np.ndarray:
    """Scale imputed values with the state :func:`fit_numeric_scaling` returned."""
    if values.shape[1] == 0:
        return values.astype(float)
    return np.column_stack([scale_column(values[:, i], method, state, i) for i in range(values.shape[1])])


def scale_column(values: np.ndarray, method: str, state: dict[str, Any], i: int) -> np.ndarray:
    """Column ``i`` of the numeric features (imputed values, 1-D) scaled as :func:`fit_numeric_scaling` fitted it."""
    if method == "quantile":
        return _to_normal(values, np.asarray(state["quantiles"][i]))
    scaled = values - state["center"][i]  # a new array, then scaled in place: one column-sized array, not two
    scaled /= state["scale"][i]
    return scaled / np.sqrt(1 + (scaled / ROBUST_CLIP) ** 2) if method == "robust" else scaled


def _to_normal(x: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """One column through its training quantiles to a rank, then to the normal distribution.

    Ties (a value shared by many training rows) take the middle of their ranks, as scikit-learn does: the
    mean of interpolating the quantiles upwards and downwards.
    """
    ranks = np.linspace(0.0, 1.0, len(quantiles))
    up = np.interp(x, quantiles, ranks)
    down = -np.interp(-x, -quantiles[::-1], -ranks[::-1])
    rank = np.clip(0.5 * (up + down), _QUANTILE_BOUND, 1 - _QUANTILE_BOUND)
    return torch.special.ndtri(torch.as_tensor(rank, dtype=torch.float64)).numpy()


def category_levels(counts: pd.Series, config: PreprocessConfig) -> tuple[dict[str, Any], bool, dict[str, int] | None]:
    """A categorical column's encoding from its training counts (most frequent first): the kept levels and the
    fill (the mode), whether it is embedded rather than one-hot, and what rare levels were pooled (or None).
    One rule for the in-memory fit and the streaming one."""
    kept = counts[counts >= config.min_frequency]
    kept = kept if len(kept) else counts  # every level rare: pooling them all would leave a constant
    categories = sorted(kept.index)
    pooled = None
    if len(kept) < len(counts):
        pooled = {"levels": len(counts) - len(kept), "rows": int(counts.sum() - kept.sum())}
    embedded = config.categorical == "embedding" or (
        config.categorical == "auto" and len(categories) > config.max_onehot
    )
    return {"categories": categories, "fill": counts.index[0] if len(counts) else None}, embedded, pooled


def _keys(values: pd.Series) -> pd.Series:
    """:func:`category_key` of every value, computed once per distinct value (not once per row)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    keys = np.array([category_key(v) for v in uniques], dtype=object)
    return pd.Series(keys[codes], index=values.index, dtype=object)


def shared_labels(values: pd.Series) -> pd.Series:
    """Text labels (or categories) as Python objects that the rows of a label share, the same values: the target
    encoder iterates them, and iterating a text column (or a category of text) makes a string of its own
    (~70 bytes) for every row."""
    if not isinstance(values.dtype, pd.StringDtype | pd.CategoricalDtype):
        return values
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return pd.Series(np.asarray(uniques, dtype=object)[codes], index=values.index, name=values.name, dtype=object)


class TabularPreprocessor(Preprocessor):
    """Fit on the training frame, then turn any frame with the same columns into tensors."""

    kind = "tabular"

    def __init__(self, config: PreprocessConfig | None = None, numeric_impute: str = "median") -> None:
        super().__init__()
        self.config = config or PreprocessConfig()
        self.numeric_impute = numeric_impute

    # ------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, schema: Schema) -> TabularPreprocessor:
        cfg = self.config
        numeric = [c for c, k in schema.kinds.items() if k == "numeric"]
        boolean = [c for c, k in schema.kinds.items() if k == "boolean"]
        categorical = [c for c, k in schema.kinds.items() if k == "categorical"]
        state: dict[str, Any] = {"task": schema.task, "target": schema.target, "features": schema.features}

        # a column at a time: a large table's numbers are never copied into one array
        values = [_floats(frame[c]) for c in numeric]
        fill = [float(v.median() if self.numeric_impute == "median" else v.mean()) for v in values]
        filled = (v.fillna(f) if v.hasnans else v for v, f in zip(values, fill, strict=True))
        state["numeric"] = {
            "columns": numeric,
            "fill": fill,
            **fit_numeric_scaling((v.to_numpy() for v in filled), cfg.scaling),
            # columns whose missing cells in train may carry signal: each also gets a 0/1 "was missing" feature
            "missing": [c for c, v in zip(numeric, values, strict=True) if v.isna().any()]
            if cfg.missing_indicators
            else [],
        }
        del values

        bool_fill = {}
        for column in boolean:
            codes = self._bool_codes(frame[column])
            bool_fill[column] = float(pd.Series(codes).mode().iloc[0]) if pd.Series(codes).notna().any() else 0.0
        state["boolean"] = {"columns": boolean, "fill": bool_fill}

        onehot: dict[str, dict[str, Any]] = {}
        embed: dict[str, dict[str, Any]] = {}
        pooled: dict[str, dict[str, int]] = {}
        for column in categorical:
            info, embedded, pooled_levels = category_levels(_keys(frame[column].dropna()).value_counts(), cfg)
            (embed if embedded else onehot)[column] = info
            if pooled_levels:
                pooled[column] = pooled_levels
        state["onehot"], state["embedding"], state["pooled"] = onehot, embed, pooled
        state["date"] = {
            c: dates.fit_date(dates.parse_dates(frame[c], schema.date_formats[c]), schema.date_formats[c])
            for c, k in schema.kinds.items()
            if k == "date"
        }
        text_columns = [c for c, k in schema.kinds.items() if k == "text"]
        state["text"] = {
            "columns": text_columns,
            "lsa": {c: fit_text_features(frame[c], cfg.text_features) for c in text_columns},
        }

        state.update(fit_target(shared_labels(frame[schema.target]), schema.task, scaling=cfg.target_scaling))
        self.state = state
        return self

    # ------------------------------------------------------------ transform
    @property
    def n_features(self) -> int:
        s = self.state
        return (
            len(s["numeric"]["columns"])
            + len(s["numeric"].get("missing", []))
            + len(s["boolean"]["columns"])
            + sum(len(c["categories"]) for c in s["onehot"].values())
            + sum(len(dates.feature_names(c, d)) for c, d in s.get("date", {}).items())
            + sum(self._text_widths().values())
        )

    def feature_report(self) -> dict[str, Any]:
        """For the data report: the features each date became, the text columns, the pooled rare levels."""
        s = self.state
        text = s.get("text", {})
        return {
            "date_features": {c: dates.feature_names(c, d) for c, d in s.get("date", {}).items()},
            "text_features": self._text_widths(),
            "text_explained": {c: round(info["explained"], 3) for c, info in text.get("lsa", {}).items()},
            "missing_indicators": list(s["numeric"].get("missing", [])),
            "pooled_categories": {
                c: {**info, "min_count": self.config.min_frequency} for c, info in s.get("pooled", {}).items()
            },
        }

    def _text_widths(self) -> dict[str, int]:
        text = self.state.get("text", {})
        lsa = text.get("lsa", {})
        return {c: len(lsa[c]["mean"]) if c in lsa else text.get("buckets", 0) for c in text.get("columns", [])}

    @property
    def cardinalities(self) -> list[int]:
        return [len(c["categories"]) + 1 for c in self.state["embedding"].values()]  # +1: unknown

    def transform(self, frame: pd.DataFrame, source: str = "the data") -> tuple[torch.Tensor, ...]:
        """Feature tensors: ``(x,)`` or ``(x, x_cat)`` when some columns are embedded."""
        s = self.state
        absent = [c for c in s["features"] if c not in frame.columns]
        if absent:
            raise DataError(
                f"feature column '{absent[0]}' is missing from {source}{did_you_mean(absent[0], frame.columns)}"
                + (f" ({len(absent)} columns missing: {', '.join(absent[:10])})" if len(absent) > 1 else ""),
                hint="the model was trained with the columns: " + ", ".join(s["features"][:30]),
            )
        twice = sorted({str(c) for c in frame.columns[frame.columns.duplicated()] if c in s["features"]})
        if twice:
            raise DataError(
                f"feature columns of {source} appear more than once: {', '.join(twice)}",
                hint="give every column its own name",
            )
        # Each feature is written into one float32 array as it is made: a large table's features are never
        # held as float64 blocks, nor stacked into a copy of them.
        n, num = len(frame), s["numeric"]
        x = np.empty((n, self.n_features), dtype=np.float32)
        missing = {}  # the missing cells of the columns that have a "was missing" feature
        for i, (column, fill) in enumerate(zip(num["columns"], num["fill"], strict=True)):
            values = self._numbers(frame, column, fill, source)
            absent = np.isnan(values)
            x[:, i] = scale_column(np.where(absent, fill, values), self.config.scaling, num, i)
            if column in num.get("missing", []):
                missing[column] = absent
        at = len(num["columns"])
        for column in num.get("missing", []):
            x[:, at] = missing[column]
            at += 1
        del missing
        for column in s["boolean"]["columns"]:
            x[:, at] = pd.Series(self._flags(frame, column, source)).fillna(s["boolean"]["fill"][column]).to_numpy()
            at += 1
        for column, info in s["onehot"].items():
            codes = self._codes(frame[column], info)  # -1 = unknown: all zeros
            for k in range(len(info["categories"])):
                x[:, at + k] = codes == k
            at += len(info["categories"])
        for column, info in s.get("date", {}).items():
            block = dates.date_features(self._dates(frame, column, info["format"], source), info)
            x[:, at : at + block.shape[1]] = block
            at += block.shape[1]
        for column in s.get("text", {}).get("columns", []):
            block = self._text(frame, column)
            x[:, at : at + block.shape[1]] = block
            at += block.shape[1]
        if at != x.shape[1]:
            raise RuntimeError(f"TabularPreprocessor: {at} features made where n_features says {x.shape[1]}")
        tensors = [torch.from_numpy(x)]
        if s["embedding"]:
            cat = np.empty((n, len(s["embedding"])), dtype=np.int64)
            for i, (column, info) in enumerate(s["embedding"].items()):
                cat[:, i] = self._codes(frame[column], info) + 1
            tensors.append(torch.from_numpy(cat))
        return tuple(tensors)

    # ------------------------------------------------------------ reuse (model.init_from)
    def reuse_problem(self, source: Preprocessor) -> str | None:
        """The source's scalers and encoders fit the same feature columns, read as the same kinds only."""
        mine, theirs = _layout(self.state), _layout(source.state)
        if mine == theirs:
            return None
        differ = [k for k in mine if mine[k] != theirs[k]]
        return f"the feature columns differ ({', '.join(differ)} columns)"

    def _text(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        text = self.state["text"]
        lsa = text.get("lsa", {}).get(column)  # runs saved before LSA: the hashed words themselves
        return text_features(frame[column], lsa) if lsa else hashed_words(frame[column], text["buckets"])

    # ------------------------------------------------------------ save / load
    def settings(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(), "numeric_impute": self.numeric_impute}

    @classmethod
    def from_settings(cls, raw: dict[str, Any]) -> TabularPreprocessor:
        return cls(PreprocessConfig(**raw["config"]), raw["numeric_impute"])

    @classmethod
    def for_config(cls, preprocess: PreprocessConfig, clean: CleanConfig) -> TabularPreprocessor:
        return cls(preprocess, clean.numeric_impute)

    # ------------------------------------------------------------ cells of the input
    def _numbers(self, frame: pd.DataFrame, column: str, fill: float, source: str) -> np.ndarray:
        """A numeric column as floats, NaN where a cell is text or ±inf: such cells are named in a
        ``DataWarning`` (as training names them) and imputed; a column with no number at all is an error."""
        parsed, text, infinite = parse_numbers(frame[column])
        if text.any() and not (parsed.notna() | infinite).any():
            self._unusable(frame, text, column, source, "numbers")
        for mask, what in ((text, "not a number"), (infinite, "infinite")):
            if mask.any():
                self._warn(frame, mask, column, source, what, f"the training {self.numeric_impute} {fill:g}")
        return parsed.to_numpy(dtype=float)

    def _dates(self, frame: pd.DataFrame, column: str, fmt: str, source: str) -> pd.Series:
        """A date column read with the training format; unreadable cells are named, then imputed (training median)."""
        parsed = dates.parse_dates(frame[column], fmt)
        bad = dates.unreadable(frame[column], parsed)
        if bad.any() and parsed.isna().all():
            self._unusable(frame, bad, column, source, "dates")
        if bad.any():
            what = f"not a date (read as {fmt})"
            self._warn(frame, bad, column, source, what, "the training median date")
        return parsed

    def _flags(self, frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
        """A boolean column as 1/0, NaN where a cell is neither (named, as for numbers)."""
        codes = self._bool_codes(frame[column])
        unknown = np.isnan(codes) & frame[column].notna().to_numpy()
        if unknown.any() and np.isnan(codes).all():
            self._unusable(frame, unknown, column, source, "yes/no values")
        if unknown.any():
            fill = self.state["boolean"]["fill"][column]
            self._warn(frame, unknown, column, source, "not yes/no", f"the training mode {fill:g}")
        return codes

    @staticmethod
    def _warn(frame: pd.DataFrame, mask: Any, column: str, source: str, what: str, fill: str) -> None:
        info = cells(frame, mask, column, frame.attrs.get("line_offset"))
        examples = ", ".join(map(repr, dict.fromkeys(info["values"][:3])))
        n = info["count"]
        plural = what.replace("a number", "numbers").replace("a date", "dates")
        what = f"1 cell is {what}" if n == 1 else f"{n} cells are {plural}"
        warnings.warn(
            f"{source}: column '{column}': {what} ({examples}; {positions(info)}); "
            f"treated as missing and filled with {fill}",
            DataWarning,
            stacklevel=4,
        )

    @staticmethod
    def _unusable(frame: pd.DataFrame, mask: Any, column: str, source: str, kind: str) -> None:
        info = cells(frame, mask, column, frame.attrs.get("line_offset"))
        examples = ", ".join(map(repr, dict.fromkeys(info["values"][:3])))
        raise DataError(
            f"feature column '{column}' of {source} holds no {kind}: {examples} ({positions(info)})",
            hint=f"the model was trained on {kind} in '{column}': check that it is the right column "
            "(empty cells are imputed)",
        )

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _bool_codes(values: pd.Series) -> np.ndarray:
        """1.0 for yes, 0.0 for no, NaN otherwise; each distinct value read once."""
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        text = [None if pd.isna(v) else str(v).strip().lower() for v in uniques]
        flags = np.array([1.0 if t in YES_WORDS else 0.0 if t in NO_WORDS else np.nan for t in text], dtype=float)
        return flags[codes]

    @staticmethod
    def _codes(values: pd.Series, info: dict[str, Any]) -> np.ndarray:
        """The index of each value's category, -1 for an unknown one; a missing value is the training mode (a
        column with no value at all in train has no mode: every row is then unknown). Each distinct value is
        looked up once."""
        codes, uniques = pd.factorize(values)  # missing: -1
        fill = category_key(info["fill"] if info["fill"] is not None else "")
        keys = [*(category_key(v) for v in uniques), fill]  # the last: missing values (code -1)
        return pd.Index(info["categories"]).get_indexer(keys).astype(np.int64)[codes]


def _floats(values: pd.Series) -> pd.Series:
    """A numeric column as floats: the column itself when it holds floats (``pd.to_numeric`` copies it)."""
    return values if values.dtype == np.float64 else pd.to_numeric(values, errors="coerce").astype(float)


def _layout(state: dict[str, Any]) -> dict[str, list[str]]:
    """The feature columns of a fitted state by kind (what its encoders expect)."""
    return {
        "numeric": list(state["numeric"]["columns"]),
        "boolean": list(state["boolean"]["columns"]),
        "one-hot": list(state["onehot"]),
        "embedded": list(state["embedding"]),
        "date": list(state.get("date", {})),
        "text": list(state.get("text", {}).get("columns", [])),
    }
