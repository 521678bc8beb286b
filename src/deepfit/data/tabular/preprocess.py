"""Preprocessing fitted on the training split only, saved with the model as plain JSON.

Numeric columns: impute (median/mean) then scale (standard, min-max, quantile, robust, none). Boolean columns: 0/1.
Categorical columns: one-hot (other → all zeros) or integer codes for embeddings (other → 0); levels rarer than
``min_frequency`` in train are pooled into that "other" level, which unseen levels join at prediction.
Date columns: numeric features (``dates.py``). Free-text columns: hashed word counts (``words.py``).
Classification targets: label index over the training classes; regression targets: optionally standardised.
"""

from __future__ import annotations

import warnings
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

_TRUE = {"true", "yes", "y", "t", "1", "1.0"}
_FALSE = {"false", "no", "n", "f", "0", "0.0"}


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


def fit_numeric_scaling(values: np.ndarray, method: str) -> dict[str, Any]:
    """The JSON state of data.preprocess.scaling for a (rows, columns) array of imputed training values.

    quantile (TabM, Gorishniy et al. 2025, as scikit-learn's ``QuantileTransformer(output_distribution=
    "normal")``): each column's quantiles at ``max(min(rows // 30, 1000), 10)`` evenly spaced ranks; robust
    (RealMLP, Holzmüller et al. 2024): ``(x - median) / IQR`` then smoothly clipped to ±3.
    """
    if method == "quantile":
        n_quantiles = max(min(len(values) // 30, 1000), 10)
        ranks = np.linspace(0.0, 1.0, n_quantiles)
        quantiles = np.quantile(values, ranks, axis=0).T if len(values) else np.zeros((values.shape[1], 0))
        return {"quantiles": [[float(v) for v in np.maximum.accumulate(q)] for q in quantiles]}
    offset, scale = column_scaling(values, method) if len(values) else (np.zeros(values.shape[1]),) * 2
    return {"center": [float(v) for v in offset], "scale": [float(v) if v else 1.0 for v in scale]}


def apply_numeric_scaling(values: np.ndarray, method: str, state: dict[str, Any]) -> np.ndarray:
    """Scale imputed values with the state :func:`fit_numeric_scaling` returned."""
    if method == "quantile":
        return np.column_stack(
            [_to_normal(values[:, i], np.asarray(q)) for i, q in enumerate(state["quantiles"])]
        ).reshape(values.shape)
    scaled = (values - np.array(state["center"])) / np.array(state["scale"])
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


def category_key(value: Any) -> str:
    """Categories compared as text, so 3, 3.0 and "3" read from different files agree."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.number) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _keys(values: pd.Series) -> pd.Series:
    return values.map(category_key)


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

        values = frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
        fill = values.median() if self.numeric_impute == "median" else values.mean()
        filled = values.fillna(fill)
        state["numeric"] = {
            "columns": numeric,
            "fill": _floats(fill),
            **fit_numeric_scaling(filled.to_numpy(dtype=float).reshape(len(filled), len(numeric)), cfg.scaling),
            # columns whose missing cells in train may carry signal: each also gets a 0/1 "was missing" feature
            "missing": [c for c in numeric if values[c].isna().any()] if cfg.missing_indicators else [],
        }

        bool_fill = {}
        for column in boolean:
            codes = self._bool_codes(frame[column])
            bool_fill[column] = float(pd.Series(codes).mode().iloc[0]) if pd.Series(codes).notna().any() else 0.0
        state["boolean"] = {"columns": boolean, "fill": bool_fill}

        onehot: dict[str, dict[str, Any]] = {}
        embed: dict[str, dict[str, Any]] = {}
        pooled: dict[str, dict[str, int]] = {}
        for column in categorical:
            counts = _keys(frame[column].dropna()).value_counts()
            kept = counts[counts >= cfg.min_frequency]
            kept = kept if len(kept) else counts  # every level rare: pooling them all would leave a constant
            categories = sorted(kept.index)
            if len(kept) < len(counts):
                pooled[column] = {"levels": len(counts) - len(kept), "rows": int(counts.sum() - kept.sum())}
            mode = counts.index[0] if len(counts) else None
            use_embedding = cfg.categorical == "embedding" or (
                cfg.categorical == "auto" and len(categories) > cfg.max_onehot
            )
            (embed if use_embedding else onehot)[column] = {"categories": categories, "fill": mode}
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

        state.update(fit_target(frame[schema.target], schema.task, scaling=cfg.target_scaling))
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
        blocks = []
        num = s["numeric"]
        if num["columns"]:
            values = np.column_stack(
                [self._numbers(frame, c, fill, source) for c, fill in zip(num["columns"], num["fill"], strict=True)]
            )
            missing = np.isnan(values)
            values = np.where(missing, np.array(num["fill"]), values)
            blocks.append(apply_numeric_scaling(values, self.config.scaling, num))
            if num.get("missing"):
                blocks.append(missing[:, [num["columns"].index(c) for c in num["missing"]]].astype(float))
        for column in s["boolean"]["columns"]:
            codes = pd.Series(self._flags(frame, column, source)).fillna(s["boolean"]["fill"][column])
            blocks.append(codes.to_numpy(dtype=float)[:, None])
        for column, info in s["onehot"].items():
            codes = self._codes(frame[column], info)  # -1 = unknown
            eye = np.vstack([np.eye(len(info["categories"])), np.zeros((1, len(info["categories"])))])
            blocks.append(eye[codes])
        for column, info in s.get("date", {}).items():
            blocks.append(dates.date_features(self._dates(frame, column, info["format"], source), info))
        for column in s.get("text", {}).get("columns", []):
            lsa = s["text"].get("lsa", {}).get(column)  # runs saved before LSA: the hashed words themselves
            blocks.append(
                text_features(frame[column], lsa) if lsa else hashed_words(frame[column], s["text"]["buckets"])
            )
        x = np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
        tensors = [torch.as_tensor(x, dtype=torch.float32)]
        if s["embedding"]:
            cat = np.stack([self._codes(frame[c], info) + 1 for c, info in s["embedding"].items()], axis=1)
            tensors.append(torch.as_tensor(cat, dtype=torch.int64))
        return tuple(tensors)

    # ------------------------------------------------------------ reuse (model.init_from)
    def reuse_problem(self, source: Preprocessor) -> str | None:
        """The source's scalers and encoders fit the same feature columns, read as the same kinds only."""
        mine, theirs = _layout(self.state), _layout(source.state)
        if mine == theirs:
            return None
        differ = [k for k in mine if mine[k] != theirs[k]]
        return f"the feature columns differ ({', '.join(differ)} columns)"

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
        text = values.map(lambda v: None if pd.isna(v) else str(v).strip().lower())
        return text.map(lambda t: 1.0 if t in _TRUE else 0.0 if t in _FALSE else np.nan).to_numpy(dtype=float)

    @staticmethod
    def _codes(values: pd.Series, info: dict[str, Any]) -> np.ndarray:
        # A column with no value at all in train has no fill: every row is then unknown (-1).
        keys = _keys(values.fillna(info["fill"] if info["fill"] is not None else ""))
        return pd.Index(info["categories"]).get_indexer(keys).astype(np.int64)


def _floats(series: pd.Series) -> list[float]:
    return [float(v) for v in series.to_numpy()]


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
