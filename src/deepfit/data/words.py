"""Free text inside a table: a string column with a distinct value on most rows and several words per value.

Such a column is neither a category (thousands of levels seen once) nor an identifier (a single token like
``C00012``). It becomes a fixed number of numeric features by latent semantic analysis (Deerwester et al.
1990), fitted on the training split only: word unigrams and bigrams hashed into ``HASH_BUCKETS`` (CRC-32,
stable across processes), ``log1p`` of the counts, weighted by inverse document frequency, rows
L2-normalised, then projected on the top singular vectors of the training rows (scikit-learn's
``TruncatedSVD``) and standardised. Words that occur together (the good words of a review, say) share a
direction, which a network reads far better than dozens of colliding hash buckets.
"""

from __future__ import annotations

import itertools
import re
import zlib
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

MIN_WORDS = 3  # median words per value from which a column reads as free text
MIN_DISTINCT = 0.5  # share of distinct values (a categorical repeats its levels)
MIN_ROWS = 20  # fewer values tell nothing
HASH_BUCKETS = 2048  # hashed unigram+bigram counts before the projection
_WORD = re.compile(r"\w+")


def is_free_text(column: pd.Series) -> bool:
    """Several words per value (median >= 3) and a distinct value on most rows (>= 50 %)."""
    values = column.dropna()
    if len(values) < MIN_ROWS or values.dtype == bool or pd.api.types.is_numeric_dtype(values):
        return False
    text = values.astype(str).head(5000)
    if pd.to_numeric(text, errors="coerce").notna().mean() >= 0.9:
        return False
    words = float(text.str.split().str.len().median())
    return words >= MIN_WORDS and text.nunique() / len(text) >= MIN_DISTINCT


def grams(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams."""
    tokens = _WORD.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def hashed_words(values: pd.Series, buckets: int) -> np.ndarray:
    """(rows, buckets) float array: log1p of hashed unigram+bigram counts, rows L2-normalised (missing: zeros)."""
    return _normalised(hashed_counts(values, buckets).toarray())


def hashed_counts(values: pd.Series, buckets: int) -> sparse.csr_matrix:
    """(rows, buckets) sparse matrix: ``log1p`` of hashed unigram+bigram counts (missing text: an empty row)."""
    rows, cols = [], []
    memo: dict[str, int] = {}
    for row, value in enumerate(values.to_numpy(dtype=object)):
        if pd.isna(value):
            continue
        for gram in grams(str(value)):
            bucket = memo.get(gram)
            if bucket is None:
                bucket = memo[gram] = zlib.crc32(gram.encode("utf-8")) % buckets
            rows.append(row)
            cols.append(bucket)
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(values), buckets))
    counts.sum_duplicates()
    counts.data = np.log1p(counts.data)
    return counts


def _normalised(x: Any) -> Any:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1) if sparse.issparse(x) else (x * x).sum(axis=1)))
    scale = 1.0 / np.where(norms > 0, norms, 1.0).reshape(-1, 1)
    return x.multiply(scale).tocsr() if sparse.issparse(x) else x * scale


def fit_text_features(values: pd.Series, n_features: int, seed: int = 0) -> dict[str, Any]:
    """The JSON state of one free-text column's features, fitted on its training values (see the module)."""
    from sklearn.decomposition import TruncatedSVD

    counts = hashed_counts(values, HASH_BUCKETS)
    df = np.bincount(counts.indices, minlength=HASH_BUCKETS)
    idf = np.log((1 + counts.shape[0]) / (1 + df)) + 1.0
    weighted = _normalised(counts.multiply(idf.reshape(1, -1)).tocsr())
    k = max(1, min(n_features, int((df > 0).sum()) - 1, counts.shape[0] - 1))
    svd = TruncatedSVD(n_components=k, random_state=seed, algorithm="randomized", n_iter=7).fit(weighted)
    projected = weighted @ svd.components_.T
    mean, std = projected.mean(axis=0), projected.std(axis=0)
    return {
        "idf": _rounded(idf),
        "components": [_rounded(row) for row in svd.components_],
        "mean": _rounded(mean),
        "std": _rounded(np.where(std > 1e-12, std, 1.0)),
        "explained": float(svd.explained_variance_ratio_.sum()),
    }


def text_features(values: pd.Series, state: dict[str, Any]) -> np.ndarray:
    """(rows, n_features) standardised projections of a free-text column (missing text: the training mean)."""
    idf = np.asarray(state["idf"])
    weighted = _normalised(hashed_counts(values, len(idf)).multiply(idf.reshape(1, -1)).tocsr())
    projected = np.asarray(weighted @ np.asarray(state["components"]).T)
    return (projected - np.asarray(state["mean"])) / np.asarray(state["std"])


def _rounded(values: Any) -> list[float]:
    """Float32 precision in the saved JSON (a third of the characters of full floats)."""
    return [float(f"{v:.7g}") for v in np.asarray(values, dtype=float)]
