"""The practitioner's baselines of bench/quality.py, fitted with scikit-learn on deepfit's own splits.

Columns are typed here, as a practitioner would type them, not by deepfit's schema: numbers are numeric;
text that parses as dates (>= 90 % of cells) becomes date parts (days since 1970, year, month, weekday,
day of year, and the hour when there is a time); text of >= 5 words per cell is free text; text with a
distinct value on >= 95 % of rows is an identifier and is left out; other text is categorical.

linear: median imputation + missing indicators + standard scaling for numerics, one-hot for categoricals
  (missing is a level), tf-idf for free text; LogisticRegression / Ridge with default strength.
hgb: HistGradientBoosting with defaults; categoricals ordinal-encoded and declared categorical (native
  support) when they have at most 255 levels; free text as tf-idf reduced to 32 SVD components.
majority: the most frequent training class / the training mean.
All three train on train + validation (deepfit uses validation for early stopping, not for fitting).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

# imported here, not in the timed fits: an import is not a baseline's cost
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, r2_score, root_mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler


def column_roles(frame: pd.DataFrame, target: str) -> dict[str, str]:
    roles = {}
    for column in frame.columns:
        if column == target:
            continue
        values = frame[column].dropna()
        if values.dtype == bool or pd.api.types.is_numeric_dtype(values):
            roles[column] = "numeric"
            continue
        text = values.astype(str)
        if pd.to_numeric(text, errors="coerce").notna().mean() >= 0.9:
            roles[column] = "numeric"
        elif len(text) and pd.to_datetime(text.head(500), errors="coerce", format="mixed").notna().mean() >= 0.9:
            roles[column] = "date"
        elif len(text) and text.str.split().str.len().median() >= 5:
            roles[column] = "text"
        elif len(text) and text.nunique() / len(text) >= 0.95:
            roles[column] = "identifier"
        else:
            roles[column] = "categorical"
    return roles


def expand(frame: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Stateless per-row typing: numbers as floats, dates as parts, categoricals as strings ('' = missing)."""
    out = {}
    for column, role in roles.items():
        values = frame[column]
        if role == "numeric":
            out[column] = pd.to_numeric(values, errors="coerce").astype(float)
        elif role == "date":
            when = pd.to_datetime(values, errors="coerce", format="mixed")
            out[f"{column}__days"] = (when - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400
            for part in ("year", "month", "dayofweek", "dayofyear", "hour"):
                out[f"{column}__{part}"] = getattr(when.dt, part).astype(float)
        elif role == "text":
            out[column] = values.fillna("").astype(str)
        elif role == "categorical":
            out[column] = values.astype(object).where(values.notna(), "__missing__").astype(str)
    expanded = pd.DataFrame(out, index=frame.index)
    constant_hours = [c for c in expanded if c.endswith("__hour") and expanded[c].nunique() <= 1]
    return expanded.drop(columns=constant_hours)


def _groups(frame: pd.DataFrame, roles: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    text = [c for c, r in roles.items() if r == "text"]
    categorical = [c for c, r in roles.items() if r == "categorical"]
    numeric = [c for c in frame.columns if c not in text and c not in categorical]
    return numeric, categorical, text


def linear_model(frame: pd.DataFrame, roles: dict[str, str], task: str) -> Any:

    numeric, categorical, text = _groups(frame, roles)
    parts = [
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        *[(f"text_{c}", TfidfVectorizer(sublinear_tf=True, min_df=2), c) for c in text],
    ]
    estimator = LogisticRegression(max_iter=2000) if task == "classification" else Ridge()
    return make_pipeline(ColumnTransformer([p for p in parts if len(p[2])]), estimator)


def hgb_model(frame: pd.DataFrame, roles: dict[str, str], task: str) -> Any:

    numeric, categorical, text = _groups(frame, roles)
    native = [c for c in categorical if frame[c].nunique() <= 255]
    wide = [c for c in categorical if c not in native]
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    svd_sizes = {c: min(32, frame[c].nunique() - 1) for c in text}
    parts = [
        ("num", "passthrough", numeric),
        ("native", encoder, native),
        ("wide", encoder, wide),
        *[
            (
                f"text_{c}",
                make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=2), TruncatedSVD(k, random_state=0)),
                c,
            )
            for c, k in svd_sizes.items()
        ],
    ]
    mask = [False] * len(numeric) + [True] * len(native) + [False] * (len(wide) + sum(svd_sizes.values()))
    model = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    transformer = ColumnTransformer([p for p in parts if len(p[2])], sparse_threshold=0)
    return make_pipeline(transformer, model(categorical_features=mask if any(mask) else None, random_state=0))


def text_model(task: str) -> Any:

    estimator = LogisticRegression(max_iter=2000) if task == "classification" else Ridge()
    return make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=2), estimator)


def score(task: str, truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:

    if task == "classification":
        return {
            "score": float(accuracy_score(truth, predicted)),
            "second": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        }
    return {"score": float(r2_score(truth, predicted)), "second": float(root_mean_squared_error(truth, predicted))}


def run_baselines(frames: dict[str, pd.DataFrame], target: str, task: str, text_column: str | None) -> dict[str, Any]:
    """Every baseline fitted on train + validation and scored on test: {name: {score, second, seconds} | {error}}."""
    fit_rows = pd.concat([frames["train"], frames.get("validation", frames["train"].iloc[:0])])
    test = frames["test"]
    y_fit, y_test = fit_rows[target].to_numpy(), test[target].to_numpy()
    if task == "classification":
        y_fit, y_test = y_fit.astype(str), y_test.astype(str)
    else:
        y_fit, y_test = y_fit.astype(float), y_test.astype(float)
    results: dict[str, Any] = {}
    if task == "classification":
        values, counts = np.unique(y_fit, return_counts=True)
        results["majority"] = score(task, y_test, np.full(len(y_test), values[counts.argmax()]))
    else:
        results["majority"] = score(task, y_test, np.full(len(y_test), y_fit.mean()))
    if text_column is not None:
        builders = {
            "linear": lambda: (text_model(task), fit_rows[text_column].astype(str), test[text_column].astype(str))
        }
    else:
        roles = column_roles(fit_rows, target)
        x_fit, x_test = expand(fit_rows, roles), expand(test, roles)
        builders = {
            "linear": lambda: (linear_model(x_fit, roles, task), x_fit, x_test),
            "hgb": lambda: (hgb_model(x_fit, roles, task), x_fit, x_test),
        }
    for name, build in builders.items():
        started = time.perf_counter()
        try:
            model, x_a, x_b = build()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(x_a, y_fit)
                results[name] = score(task, y_test, model.predict(x_b))
        except Exception as error:  # a baseline that fails is reported, not fatal
            results[name] = {"error": f"{type(error).__name__}: {error}"}
        results[name]["seconds"] = time.perf_counter() - started
    return results
