"""Baselines in every run: scikit-learn models fitted on the network's own training split, scored alike.

A table gets a linear model (logistic regression or ridge on imputed, scaled numbers and one-hot
categories) and gradient-boosted trees (``HistGradientBoosting*`` with its defaults); a text table gets
tf-idf + logistic regression or ridge. They are fitted on the raw training rows the preprocessor was
fitted on (``prepared.frames["train"]``, its feature columns), with the targets the network learned; the
validation and test rows are predicted once each and scored by the metric functions of ``metrics.py``, so
their figures compare with the network's. A baseline whose estimated cost is beyond a small limit is
skipped and says why; so are those left when the baselines have taken ``BUDGET_S`` seconds.

scikit-learn is imported by ``fit_baselines`` only (it costs over a second to import).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from deepfit.evaluation import metrics as M

# rows x columns x outputs (classes) beyond which a baseline is skipped: a few seconds on one core
MAX_COST = {"linear": 20_000_000, "hgb": 2_000_000}
SMALL_ROWS = 50_000  # below this, one thread: more cost more than they give (far more on a busy machine)
MAX_TEXT_CHARS = 20_000_000  # tf-idf: characters of training text
BUDGET_S = 60.0  # baselines not started after this many seconds of baselines are skipped
LABELS = {
    ("linear", "classification"): "logistic regression",
    ("linear", "regression"): "ridge regression",
    ("hgb", "classification"): "gradient-boosted trees",
    ("hgb", "regression"): "gradient-boosted trees",
    ("tfidf", "classification"): "tf-idf + logistic regression",
    ("tfidf", "regression"): "tf-idf + ridge regression",
}
# The metric a finding compares, and how much better a baseline must be (on validation) to be news.
ACCURACY_MARGIN = 0.02  # classification: at least this much higher accuracy, and two validation rows
RMSE_RATIO = 0.9  # regression: an RMSE at most this share of the network's
_DROPPED = ("confusion_matrix", "per_class", "class_names")  # kept scalar: eval.json stays small


def supports(spec: Any) -> bool:
    """Tables and text tables, classification or regression: the kinds with baselines here."""
    return spec.kind in ("tabular", "text") and spec.task in ("classification", "regression")


def fit_baselines(prepared: Any, *, seed: int = 0) -> dict[str, dict[str, Any]]:
    """``{name: {"model", "seconds", "validation", "test"}}`` or ``{name: {"model", "skipped"}}``.

    Fitted on ``prepared.frames["train"]`` with the training targets of ``prepared.tensors``; the other
    splits are predicted once. Empty for a kind or task without baselines.
    """
    spec = prepared.spec
    if not supports(spec):
        return {}
    from threadpoolctl import threadpool_limits

    targets = {name: _target(data.target, spec.task, prepared.preprocessor) for name, data in prepared.tensors.items()}
    candidates = _text_candidates(prepared) if spec.kind == "text" else _table_candidates(prepared, seed)
    results: dict[str, dict[str, Any]] = {}
    spent = 0.0
    for name, make, skip in candidates:
        label = LABELS[name, spec.task]
        if skip is None and spent > BUDGET_S:
            skip = f"the baselines before it took {spent:.0f} s (limit {BUDGET_S:.0f} s)"
        if skip is not None:
            results[name] = {"model": label, "skipped": skip}
            continue
        started = time.perf_counter()
        with threadpool_limits(1 if len(prepared.frames["train"]) < SMALL_ROWS else None):
            results[name] = {"model": label, **_fit_and_score(make(), prepared, targets, spec)}
        seconds = time.perf_counter() - started
        results[name]["seconds"] = round(seconds, 3)
        spent += seconds
    return results


Candidate = tuple[str, Callable[[], Any], str | None]  # (name, estimator factory, why it is skipped or None)


def _fit_and_score(estimator: Any, prepared: Any, targets: dict[str, np.ndarray], spec: Any) -> dict[str, Any]:
    frames = prepared.frames
    estimator.fit(frames["train"], targets["train"])
    scores = {}
    for split in ("validation", "test"):  # each split predicted once, like the network's test split
        if split in prepared.tensors:
            scores[split] = score(estimator, frames[split], targets[split], spec)
    return scores


def score(estimator: Any, frame: pd.DataFrame, y: np.ndarray, spec: Any) -> dict[str, Any]:
    """The task's report (``metrics.py``) of a fitted estimator's predictions, scalars only."""
    if spec.task == "classification":
        n_classes = len(spec.class_names)
        proba = np.zeros((len(frame), n_classes))
        proba[:, np.asarray(estimator.classes_, dtype=np.int64)] = estimator.predict_proba(frame)
        report = M.classification_report(y, proba, [str(c) for c in spec.class_names])
    else:
        report = M.regression_report(y, np.asarray(estimator.predict(frame), dtype=np.float64))
    return {k: v for k, v in report.items() if k not in _DROPPED}


def _target(target: Any, task: str, preprocessor: Any) -> np.ndarray:
    """The targets the network was scored against: class indices, or values in the target's units."""
    from deepfit.evaluation.evaluate import target_scale

    y = target.cpu().numpy()
    if task == "classification":
        return y.astype(np.int64)
    mean, std = target_scale(preprocessor)
    return (y.astype(np.float64) * std + mean).reshape(len(y))


# ---------------------------------------------------------------- tables
def table_columns(state: dict[str, Any]) -> dict[str, list[str]]:
    """The feature columns of a fitted TabularPreprocessor by how the baselines read them: ``numeric``,
    ``date`` (as a number of days), ``categorical`` (yes/no columns too: two one-hot columns are the same
    model as one 0/1 column) and ``unused`` (free text)."""
    return {
        "numeric": list(state["numeric"]["columns"]),
        "date": list(state.get("date") or {}),
        "categorical": [*state["boolean"]["columns"], *state["onehot"], *state["embedding"]],
        "unused": list((state.get("text") or {}).get("columns") or []),
    }


def _table_candidates(prepared: Any, seed: int) -> list[Candidate]:
    state = prepared.preprocessor.state
    columns = table_columns(state)
    numeric, categorical = columns["numeric"], columns["categorical"]
    dated = {c: state["date"][c]["format"] for c in columns["date"]}
    train = prepared.frames["train"]
    rows, outputs = len(train), max(1, len(prepared.spec.class_names))
    width = {
        "linear": len(numeric) + len(dated) + sum(int(train[c].nunique()) + 1 for c in categorical),  # one-hot
        "hgb": len(numeric) + len(dated) + len(categorical),
    }
    task = prepared.spec.task

    def too_costly(name: str) -> str | None:
        if rows * width[name] * outputs <= MAX_COST[name]:
            return None
        what = f"{rows:,} rows x {width[name]:,} columns" + (f" x {outputs} classes" if outputs > 1 else "")
        return f"{what} is beyond the {MAX_COST[name] / 1e6:g}M of a quick baseline"

    return [
        ("linear", lambda: _linear_table(numeric, dated, categorical, task), too_costly("linear")),
        ("hgb", lambda: _boosted_table(numeric, dated, categorical, task, seed), too_costly("hgb")),
    ]


def _linear_table(numeric: list[str], dated: dict[str, str], categorical: list[str], task: str) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def scaled(reader: Any) -> Any:
        return make_pipeline(reader, SimpleImputer(strategy="median"), StandardScaler())

    onehot = OneHotEncoder(handle_unknown="ignore")
    columns = ColumnTransformer(
        [
            ("numeric", scaled(_reader(_as_numbers)), numeric),
            ("date", scaled(_reader(_as_days, formats=dated)), list(dated)),
            ("categorical", make_pipeline(_reader(_as_categories), onehot), categorical),
        ]
    )
    model = LogisticRegression(max_iter=1000) if task == "classification" else Ridge()
    return make_pipeline(columns, model)


def _boosted_table(numeric: list[str], dated: dict[str, str], categorical: list[str], task: str, seed: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    # codes 0..254 (the rarest categories share one) and NaN for missing or unseen: what the trees take
    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan, max_categories=255
    )
    columns = ColumnTransformer(
        [
            ("numeric", _reader(_as_numbers), numeric),
            ("date", _reader(_as_days, formats=dated), list(dated)),
            ("categorical", make_pipeline(_reader(_as_categories), ordinal), categorical),
        ]
    )
    kinds = [False] * (len(numeric) + len(dated)) + [True] * len(categorical)
    trees = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return make_pipeline(columns, trees(categorical_features=kinds if any(kinds) else None, random_state=seed))


def _reader(function: Callable[..., np.ndarray], **kwargs: Any) -> Any:
    """Raw cells to an array, as a pipeline step (no state: nothing is learned from the rows)."""
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(function, kw_args=kwargs or None)


def _as_numbers(frame: pd.DataFrame) -> np.ndarray:
    from deepfit.data.schema import parse_numbers

    if frame.shape[1] == 0:
        return np.zeros((len(frame), 0))
    return np.column_stack([parse_numbers(frame[c])[0].to_numpy(dtype=float) for c in frame.columns])


def _as_days(frame: pd.DataFrame, formats: dict[str, str]) -> np.ndarray:
    """Date cells as days since 1970 (NaN where missing or unreadable), read in the format training found."""
    from deepfit.data import dates

    days = [
        (dates.parse_dates(frame[c], formats[c]) - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
        for c in frame.columns
    ]
    return np.column_stack([d.to_numpy(dtype=float) for d in days]) if days else np.zeros((len(frame), 0))


def _as_categories(frame: pd.DataFrame) -> np.ndarray:
    if frame.shape[1] == 0:
        return np.zeros((len(frame), 0), dtype=object)
    return np.column_stack([_keys(frame[c]) for c in frame.columns]).astype(object)


def _keys(values: pd.Series) -> np.ndarray:
    """Categories as text, whole numbers without their ``.0`` (as the network's encoder keys them)."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype=float)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        text = np.where(whole, np.nan_to_num(numbers).astype(np.int64).astype(str), numbers.astype(str))
    else:
        text = values.astype(str).to_numpy()
    keys = text.astype(object)
    keys[missing] = np.nan
    return keys


# ---------------------------------------------------------------- text
def _text_candidates(prepared: Any) -> list[Candidate]:
    pre, train = prepared.preprocessor, prepared.frames["train"]
    chars = int(train[pre.state["text_column"]].astype(str).str.len().sum())
    skip = None
    if chars > MAX_TEXT_CHARS:
        skip = f"{chars:,} characters of training text is beyond the {MAX_TEXT_CHARS / 1e6:.0f}M of a quick baseline"
    return [("tfidf", lambda: _tfidf(pre, prepared.spec.task), skip)]


def _tfidf(preprocessor: Any, task: str) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    texts = FunctionTransformer(preprocessor.texts)  # the text column, cleaned as the network's input is
    model = LogisticRegression(max_iter=1000) if task == "classification" else Ridge()
    return make_pipeline(texts, TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)), model)


# ---------------------------------------------------------------- against the network
def beats(network: dict[str, Any], baseline: dict[str, Any], task: str) -> bool:
    """Whether a baseline's validation scores beat the network's by a clear margin: accuracy higher by
    ``ACCURACY_MARGIN`` and by two validation rows at least, or an RMSE at most ``RMSE_RATIO`` of the network's."""
    if task == "classification":
        rows = max(int(network.get("n_samples") or 1), 1)
        return baseline["accuracy"] - network["accuracy"] >= max(ACCURACY_MARGIN, 2 / rows) - 1e-12
    return baseline["rmse"] <= RMSE_RATIO * network["rmse"]


def mark_winners(network: dict[str, Any] | None, baselines: dict[str, dict[str, Any]], task: str) -> list[str]:
    """Set ``beats_network`` on each scored baseline (validation split); the names of those that do, best first."""
    if not network:
        return []
    metric = "accuracy" if task == "classification" else "rmse"
    winners = []
    for name, result in baselines.items():
        if "validation" in result:
            result["beats_network"] = beats(network, result["validation"], task)
            if result["beats_network"]:
                winners.append(name)
    return sorted(winners, key=lambda n: baselines[n]["validation"][metric], reverse=task == "classification")


def finding(
    network: dict[str, Any] | None,
    baselines: dict[str, dict[str, Any]],
    task: str,
    config: Any,
    *,
    epochs: int,
    best_epoch: int,
) -> Any:
    """A diagnostics ``Finding`` when a baseline clearly beats the network on validation, else None.

    ``config`` is the run's ``Config``; ``epochs`` and ``best_epoch`` what training did. Also sets
    ``beats_network`` on the baselines.
    """
    from deepfit.training.findings import Finding

    winners = mark_winners(network, baselines, task)
    if not winners or network is None:
        return None
    best = baselines[winners[0]]
    metric = "accuracy" if task == "classification" else "RMSE"
    key = metric.lower()
    message = (
        f"on the validation split, a {best['model']} fitted in {best.get('seconds', 0):.1f} s on the same training "
        f"rows scores {metric} {best['validation'][key]:.4g} against the network's {network[key]:.4g}: the network "
        "misses what a simple model finds in these features."
    )
    options, advice = [], {}
    train = config.train
    if best_epoch >= epochs and epochs >= train.epochs:  # still improving when it ran out of epochs
        options.append(f"train.epochs: {2 * train.epochs} (now {train.epochs}; the last epoch was the best)")
        advice["train.epochs"] = 2 * train.epochs
    if train.lr != "auto":
        options.append(f"train.lr: auto (now {train.lr:g}; the range test picks one)")
        advice["train.lr"] = "auto"
    if not options:
        options.append("a look at the learning curves in report.html (early stopping, model size, regularisation)")
    if winners[0] == "hgb":
        options.append("keeping the gradient-boosted trees: on small tables they are often the better model")
    return Finding("baseline_beats_network", epochs, [], message, ", or ".join(options), "warning", advice)
