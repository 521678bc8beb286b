from __future__ import annotations

import pandas as pd
import pytest

from deepfit.config import CleanConfig, DataConfig
from deepfit.data.clean import clean, summarize
from deepfit.data.schema import coerce_numeric, infer_schema
from deepfit.errors import DataError


def run_clean(frame: pd.DataFrame, target: str = "label", **clean_options) -> tuple[pd.DataFrame, dict]:
    schema = infer_schema(frame, DataConfig(target=target), target)
    frame = coerce_numeric(frame, schema, line_offset=2)
    return clean(frame, schema, CleanConfig(**clean_options))


def test_messy_table_report(messy_frame: pd.DataFrame) -> None:
    cleaned, report = run_clean(messy_frame)
    assert report["rows_in"] == 243
    assert report["missing_target_rows"] == 2
    assert report["duplicate_rows"] == 2
    assert report["conflicts"]["groups"] == 1 and report["conflicts"]["rows"] == 2
    assert report["conflicts"]["rows_removed"] == 1  # majority of a 1-1 tie keeps the first label seen
    assert report["dropped_columns"] == {
        "customer_id": "identifier-like (a distinct value on nearly every row)",
        "const": "constant (a single value)",
    }
    assert report["unparseable_cells"]["x2"] == {"count": 2, "lines": [14, 42], "values": ["n/a?", "n/a?"]}
    assert report["missing_values"] == {"x1": 3, "x2": 2, "color": 1}
    assert report["columns"] == {"x1": "numeric", "x2": "numeric", "color": "categorical", "member": "boolean"}
    assert report["rows_out"] == len(cleaned) == 243 - 2 - 2 - 1
    text = "\n".join(summarize(report))
    assert "'n/a?'" in text and "lines 14, 42" in text


@pytest.mark.parametrize(("policy", "removed"), [("keep", 0), ("drop", 2), ("majority", 1)])
def test_conflict_policies(messy_frame: pd.DataFrame, policy: str, removed: int) -> None:
    _, report = run_clean(messy_frame, conflicts=policy)
    assert report["conflicts"]["rows_removed"] == removed


def test_majority_keeps_the_most_frequent_label() -> None:
    frame = pd.DataFrame({"a": [1, 1, 1, 2, 3] * 5, "label": ["x", "y", "y", "x", "y"] * 5})
    frame = frame.drop_duplicates().reset_index(drop=True)  # a=1 -> x, y ; 2 -> x ; 3 -> y
    frame = pd.concat([frame, pd.DataFrame({"a": [1], "label": ["y"]})], ignore_index=True)
    cleaned, report = run_clean(frame, drop_duplicates=False)
    assert set(cleaned.loc[cleaned["a"] == 1, "label"]) == {"y"}
    assert report["conflicts"]["rows_removed"] == 1


def test_missing_policy_drop_removes_rows(messy_frame: pd.DataFrame) -> None:
    cleaned, report = run_clean(messy_frame, missing="drop")
    assert report["rows_dropped_missing"] == 6
    assert not cleaned.drop(columns=["label"]).isna().any().any()


def test_single_class_is_an_error() -> None:
    frame = pd.DataFrame({"a": range(30), "b": [0.5] * 15 + [1.5] * 15, "label": ["only"] * 30})
    with pytest.raises(DataError, match=r"the target 'label' has a single class \('only'\)"):
        run_clean(frame)


def test_empty_after_cleaning_is_an_error() -> None:
    frame = pd.DataFrame({"a": [1.0, None, 3.0, None], "b": [None, 2.0, None, 4.0], "label": [0, 1, 0, 1]})
    with pytest.raises(DataError, match="no rows are left after cleaning"):
        run_clean(frame, missing="drop")
