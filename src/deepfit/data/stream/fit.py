"""Everything fitted on the training split, in one streaming pass, into the in-memory path's state format.

``StreamFit.add(chunk)`` takes the training rows of each chunk; ``preprocessor()`` then returns a
``TabularPreprocessor`` whose JSON state has exactly the shape ``TabularPreprocessor.fit`` gives, so a
streamed run is saved, loaded, evaluated, predicted and served like any other. What is exact and what is
sampled:

- exact, from running sums: numeric means and variances (Welford's update merged chunk by chunk, Chan et al.
  1979), minima and maxima, missing counts (missing-value indicators), category counts (levels, the rare
  ones pooled, the mode filling missing cells, one-hot or embedding), the classes of the target and the
  regression target's mean and standard deviation;
- from a uniform sample of ``data.stream.sample_rows`` training rows (``rows.BottomK``): the median
  (data.clean.numeric_impute: median), the quantiles of quantile and robust scaling, boolean modes, date
  features and free text (tf-idf + SVD on that sample). When the training split holds no more rows than
  the sample, the sample is the whole split and these are exact too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import Config
from deepfit.data.schema import Schema, parse_numbers
from deepfit.data.stream.rows import BottomK, floats
from deepfit.data.tabular.preprocess import TabularPreprocessor, category_key, category_levels
from deepfit.data.target import fit_target, plain


class Moments:
    """Count, mean and sum of squared deviations per column, merged chunk by chunk (Chan et al.'s update)."""

    def __init__(self, width: int) -> None:
        self.n = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.low = np.full(width, np.inf)
        self.high = np.full(width, -np.inf)

    def add(self, values: np.ndarray) -> None:
        """Add a (rows, columns) array; NaN cells are not counted."""
        present = ~np.isnan(values)
        n = present.sum(0).astype(float)
        if not n.any():
            return
        safe = np.where(present, values, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, safe.sum(0) / np.maximum(n, 1), 0.0)
            m2 = (np.where(present, values - mean, 0.0) ** 2).sum(0)
        total = self.n + n
        delta = mean - self.mean
        ratio = np.divide(n, total, out=np.zeros_like(n), where=total > 0)
        self.mean = self.mean + delta * ratio
        self.m2 = self.m2 + m2 + delta**2 * self.n * ratio
        self.n = total
        self.low = np.fmin(self.low, np.where(present, values, np.inf).min(0))
        self.high = np.fmax(self.high, np.where(present, values, -np.inf).max(0))

    def with_fill(self, fill: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and (population) standard deviation once ``missing`` cells per column are set to ``fill``."""
        total = self.n + missing
        mean = np.divide(self.n * self.mean + missing * fill, total, out=np.zeros_like(total), where=total > 0)
        m2 = self.m2 + self.n * (self.mean - mean) ** 2 + missing * (fill - mean) ** 2
        return mean, np.sqrt(np.divide(m2, total, out=np.zeros_like(total), where=total > 0))


class TargetStats:
    """The training target's running statistics: class counts, or the regression target's moments (every kind)."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.classes: Counter[Any] = Counter()
        self.moments = Moments(1)

    def add(self, target: pd.Series) -> None:
        if self.task == "classification":
            self.classes.update({plain(k): int(v) for k, v in target.value_counts().items()})
        else:
            self.moments.add(floats(target)[:, None])

    def state(self, scaling: bool) -> dict[str, Any]:
        """The target encoder's keys, as ``fit_target`` gives them on the same rows."""
        if self.task == "classification":
            return {"classes": fit_target(list(self.classes), "classification")["classes"]}
        if scaling and self.moments.n[0]:
            std = float(np.sqrt(self.moments.m2[0] / self.moments.n[0])) or 1.0
            return {"target_mean": float(self.moments.mean[0]), "target_std": std}
        return {"target_mean": 0.0, "target_std": 1.0}

    def summary(self) -> dict[str, Any]:
        """The training split's target, as ``clean.target_summary`` reports a whole table's."""
        if self.task == "classification":
            counts = sorted(self.classes.values())
            return {
                "classes": {str(k): int(v) for k, v in self.classes.most_common()},
                "imbalance_ratio": float(counts[-1] / counts[0]) if counts else None,
            }
        t = self.moments
        std = float(np.sqrt(t.m2[0] / (t.n[0] - 1))) if t.n[0] > 1 else float("nan")
        return {"mean": float(t.mean[0]), "std": std, "min": float(t.low[0]), "max": float(t.high[0])}


class StreamFit:
    """The running statistics of the training rows, then the fitted preprocessor."""

    def __init__(self, config: Config, schema: Schema) -> None:
        self.config, self.schema = config, schema
        self.numeric = [c for c, k in schema.kinds.items() if k == "numeric"]
        self.categorical = [c for c, k in schema.kinds.items() if k == "categorical"]
        self.moments = Moments(len(self.numeric))
        self.missing = np.zeros(len(self.numeric))
        self.text_cells: Counter[str] = Counter()
        self.counts: dict[str, Counter[str]] = {c: Counter() for c in self.categorical}
        self.target = TargetStats(schema.task)
        self.sample = BottomK(config.data.stream.sample_rows)
        self.rows = 0

    def add(self, frame: pd.DataFrame, priority: np.ndarray) -> None:
        """The training rows of one chunk, and their sampling priorities."""
        self.rows += len(frame)
        if self.numeric:
            values = np.column_stack([floats(frame[c]) for c in self.numeric])
            for c in self.numeric:  # cells of a numeric column that are text: imputed, and counted for the report
                if not pd.api.types.is_numeric_dtype(frame[c]):
                    self.text_cells[c] += int(parse_numbers(frame[c])[1].sum())
            self.moments.add(values)
            self.missing += np.isnan(values).sum(0)
        for column in self.categorical:  # as TabularPreprocessor.fit counts: text keys of the present cells
            self.counts[column].update(frame[column].dropna().map(category_key).value_counts().to_dict())
        self.target.add(frame[self.schema.target])
        self.sample.add(frame, priority)

    def preprocessor(self) -> TabularPreprocessor:
        """Fitted on the sample, then every exact statistic put in its place."""
        data = self.config.data
        sample = self.sample.frame([*self.schema.features, self.schema.target])
        pre = TabularPreprocessor.for_config(data.preprocess, data.clean).fit(sample, self.schema)
        state = pre.state
        if self.numeric:
            self._numeric(state["numeric"], pre)
        for column in self.categorical:
            self._categorical(state, column, pd.Series(self.counts[column]).sort_values(ascending=False, kind="stable"))
        state.update(self.target.state(data.preprocess.target_scaling))
        return pre

    def _numeric(self, num: dict[str, Any], pre: TabularPreprocessor) -> None:
        moments, method = self.moments, pre.config.scaling
        if pre.numeric_impute == "mean":
            num["fill"] = [float(v) if n else float("nan") for v, n in zip(moments.mean, moments.n, strict=True)]
        fill = np.array(num["fill"], dtype=float)
        if method in ("standard", "minmax", "none"):
            mean, std = moments.with_fill(fill, self.missing)
            if method == "standard":
                offset, scale = mean, std
            elif method == "minmax":
                low = np.fmin(moments.low, np.where(self.missing > 0, fill, np.inf))
                high = np.fmax(moments.high, np.where(self.missing > 0, fill, -np.inf))
                offset, scale = low, high - low
            else:
                offset, scale = np.zeros(len(fill)), np.ones(len(fill))
            scale = np.where(scale > 1e-12, scale, 1.0)
            num["center"], num["scale"] = [float(v) for v in offset], [float(v) if v else 1.0 for v in scale]
        if pre.config.missing_indicators:
            num["missing"] = [c for c, n in zip(self.numeric, self.missing, strict=True) if n]

    def _categorical(self, state: dict[str, Any], column: str, counts: pd.Series) -> None:
        """Levels from the exact counts, by the rule ``TabularPreprocessor.fit`` applies to a column's counts."""
        info, embedded, pooled = category_levels(counts, self.config.data.preprocess)
        for key in ("pooled", "onehot", "embedding"):
            state[key].pop(column, None)
        if pooled:
            state["pooled"][column] = pooled
        (state["embedding"] if embedded else state["onehot"])[column] = info
        order = [c for c in self.schema.kinds if c in state["onehot"]]  # the column order fit gives
        state["onehot"] = {c: state["onehot"][c] for c in order}
        order = [c for c in self.schema.kinds if c in state["embedding"]]
        state["embedding"] = {c: state["embedding"][c] for c in order}
