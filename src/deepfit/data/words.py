"""Free text inside a table: a string column with a distinct value on most rows and several words per value.

Such a column is neither a category (thousands of levels seen once) nor an identifier (a single token like
``C00012``). It becomes a fixed number of numeric features: word unigrams and bigrams hashed into
``buckets`` (CRC-32, stable across processes), counted, ``log1p`` of the counts, each row L2-normalised.
Hashing fits nothing, so training and prediction agree by construction.
"""

from __future__ import annotations

import itertools
import re
import zlib

import numpy as np
import pandas as pd

MIN_WORDS = 3  # median words per value from which a column reads as free text
MIN_DISTINCT = 0.5  # share of distinct values (a categorical repeats its levels)
MIN_ROWS = 20  # fewer values tell nothing
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
    out = np.zeros((len(values), buckets))
    memo: dict[str, int] = {}
    for row, value in enumerate(values.to_numpy(dtype=object)):
        if pd.isna(value):
            continue
        for gram in grams(str(value)):
            bucket = memo.get(gram)
            if bucket is None:
                bucket = memo[gram] = zlib.crc32(gram.encode("utf-8")) % buckets
            out[row, bucket] += 1
    out = np.log1p(out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)
