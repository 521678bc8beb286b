"""Per-row decisions that need no other row: the split, the sample, and which rows are usable.

The split of a streamed table is a seeded hash of each row (pandas' SipHash of the row's values, keyed by
the split seed) mapped to [0, 1) and cut at the split fractions, so it is decided chunk by chunk without
reading the file first, is the same on every pass, and puts identical rows in the same split (a duplicate
cannot leak from train into test). With ``data.split.group_column`` the hash is of the group's value, so a
group stays in one split. The fractions hold in expectation, not to the row.

The samples (training rows for what one pass cannot fit; validation and test rows held in memory) are
bottom-k samples: the k rows of smallest priority, a second hash under another key. That is a uniform
sample without replacement, decided by the rows alone, not by their order in the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepfit.data.schema import parse_numbers

SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}


def _key(seed: int, salt: str) -> str:
    return f"{salt}{seed:x}".rjust(16, "0")[-16:]  # SipHash wants a 16-character key


def row_hash(frame: pd.DataFrame, seed: int, salt: str = "s") -> np.ndarray:
    """A uint64 hash of each row's values, keyed by ``seed``."""
    if len(frame) == 0:
        return np.zeros(0, dtype=np.uint64)
    hashed = pd.util.hash_pandas_object(frame, index=False, hash_key=_key(seed, salt))
    return hashed.to_numpy(dtype=np.uint64)


def uniform(hashes: np.ndarray) -> np.ndarray:
    """Hashes as numbers in [0, 1) (their top 53 bits)."""
    return (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass
class RowRule:
    """Which rows of a chunk are usable and which split each belongs to."""

    target: str
    task: str
    features: list[str]
    fractions: tuple[float, float, float]  # train, validation, test (a split read from its own file: 0)
    seed: int
    group_column: str | None = None
    drop_missing: bool = False  # data.clean.missing: drop
    text_column: str | None = None  # text: a row with an empty (or missing) text is not usable, as in memory
    path_column: str | None = None  # images: a row whose file is in ``unreadable`` is not usable
    unreadable: frozenset[str] = frozenset()

    def usable(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows with a target (a finite one for regression), a text that is not empty (text), a file that can
        be decoded (images) and, under missing: drop, every feature."""
        keep = frame[self.target].notna().to_numpy()
        if self.text_column is not None:
            text = frame[self.text_column]
            keep = keep & (text.notna() & (text.astype(str).str.strip() != "")).to_numpy()
        if self.path_column is not None:
            paths = frame[self.path_column]
            keep = keep & (paths.notna() & ~paths.astype(str).isin(self.unreadable)).to_numpy()
        if self.task == "regression":
            keep = keep & ~np.isnan(floats(frame[self.target]))
        if self.drop_missing:
            keep = keep & ~frame[self.features].isna().any(axis=1).to_numpy()
        return keep

    def codes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The split code of each row (``SPLIT_CODES``) and its bottom-k sampling priority.

        The priority is the row hash remixed (SplitMix64's finalizer), so one hash of the row serves both;
        with a group column the split hashes the group and the priority the row.
        """
        hashes = row_hash(frame[[*self.features, self.target]], self.seed)
        split = uniform(row_hash(frame[[self.group_column]], self.seed)) if self.group_column else uniform(hashes)
        cuts = np.cumsum(self.fractions)[:2]
        return np.searchsorted(cuts, split, side="right").astype(np.int8), mix(hashes)


def mix(hashes: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer (Steele et al. 2014): a bijection of uint64 whose output bits look independent."""
    with np.errstate(over="ignore"):
        z = hashes + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def floats(column: pd.Series) -> np.ndarray:
    """A column as floats, NaN where a cell is missing, text or infinite (as ``schema.parse_numbers`` reads it)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isinf(values), np.nan, values)
    return parse_numbers(column)[0].to_numpy(dtype=float)


class BottomK:
    """The ``k`` rows of smallest priority seen so far: a uniform sample of a stream, in bounded memory."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.rows: pd.DataFrame | None = None
        self.keys = np.zeros(0, dtype=np.uint64)
        self.seen = 0

    def add(self, frame: pd.DataFrame, keys: np.ndarray) -> None:
        self.seen += len(frame)
        if len(frame) == 0:
            return
        rows = frame if self.rows is None else pd.concat([self.rows, frame], ignore_index=True)
        keys = np.concatenate([self.keys, keys])
        if len(keys) > self.k:
            keep = np.sort(np.argpartition(keys, self.k - 1)[: self.k])
            rows, keys = rows.iloc[keep], keys[keep]
        self.rows, self.keys = rows.reset_index(drop=True), keys

    @property
    def complete(self) -> bool:
        """Whether the sample holds every row seen."""
        return self.seen <= self.k

    def frame(self, columns: list[str]) -> pd.DataFrame:
        """The sample in priority order (independent of the file's order)."""
        if self.rows is None:
            return pd.DataFrame(columns=columns)
        return self.rows.iloc[np.argsort(self.keys, kind="stable")].reset_index(drop=True)
