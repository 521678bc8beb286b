"""Faults in the data a user brings: each is named (file, line, column, value) and either refused with a
``DataError`` that says what to do, or handled (cells made missing, rows kept in order) with a ``DataWarning``
or a line in the data report. Never a parser's traceback, a NaN loss blamed on the learning rate, or a run
that "succeeds" with empty splits."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from deepfit.config import DataConfig, SplitConfig, load_config
from deepfit.data.clean import summarize
from deepfit.data.pipeline import inspect_frame, load_frame, prepare
from deepfit.data.schema import infer_schema
from deepfit.data.sequence.io import read_npz
from deepfit.data.sources import read_source
from deepfit.data.split import split_frame
from deepfit.data.tabular.preprocess import TabularPreprocessor
from deepfit.data.text.preprocess import read_lines
from deepfit.errors import DataError, DataWarning


def table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n).round(3), rng.normal(size=n).round(3)
    return pd.DataFrame({"x1": x1, "x2": x2, "label": np.where(x1 + x2 > 0, "yes", "no")})


def config(source: Path | str, **data: Any) -> Any:
    return load_config({"data": {"source": str(source), "target": "label", **data}})


# ---------------------------------------------------------------- 1. ±inf in training data
@pytest.fixture
def inf_csv(tmp_path: Path) -> Path:
    frame = table().astype({"x1": object})
    frame.loc[3, "x1"], frame.loc[7, "x1"], frame.loc[9, "x2"] = "inf", "-Infinity", np.inf
    path = tmp_path / "inf.csv"
    frame.to_csv(path, index=False)
    return path


def test_inf_cells_are_named_by_line_and_imputed(inf_csv: Path) -> None:
    prepared = prepare(config(inf_csv))
    report = prepared.report
    assert report["infinite_cells"] == {
        "x1": {"count": 2, "lines": [5, 9], "values": ["inf", "-inf"]},
        "x2": {"count": 1, "lines": [11], "values": ["inf"]},
    }
    assert report["missing_values"] == {"x1": 2, "x2": 1}  # imputed as missing cells are
    assert report["rows_out"] == 120
    assert all(bool(t.inputs[0].isfinite().all()) for t in prepared.tensors.values())
    text = "\n".join(summarize(report))
    assert "column 'x1': 2 cells are infinite (lines 5, 9); treated as missing" in text
    assert "column 'x2': 1 cell is infinite (line 11); treated as missing" in text


def test_inf_cells_follow_the_drop_policy(inf_csv: Path) -> None:
    cleaned, _, report = inspect_frame(config(inf_csv, clean={"missing": "drop"}), read_source(inf_csv))
    assert report["rows_dropped_missing"] == 3
    assert {3, 7, 9}.isdisjoint(cleaned.index)


def test_inf_regression_target_rows_are_dropped_and_named(tmp_path: Path) -> None:
    frame = table().assign(label=np.linspace(0, 1, 120))
    frame.loc[[4, 6], "label"] = [np.inf, -np.inf]
    frame.to_csv(tmp_path / "r.csv", index=False)
    prepared = prepare(config(tmp_path / "r.csv"))
    assert prepared.report["infinite_target"] == {"count": 2, "lines": [6, 8], "values": ["inf", "-inf"]}
    assert prepared.report["rows_out"] == 118
    assert bool(prepared.tensors["train"].target.isfinite().all())
    assert "dropped 2 rows with an infinite target (lines 6, 8)" in summarize(prepared.report)


# ---------------------------------------------------------------- 2. the input of a prediction
@pytest.fixture
def fitted() -> TabularPreprocessor:
    train = table().assign(flag=["yes", "no"] * 60)
    schema = infer_schema(train, DataConfig(target="label"), "label")
    return TabularPreprocessor().fit(train, schema)


def test_prediction_names_inf_and_text_cells_and_imputes_them(fitted: TabularPreprocessor) -> None:
    new = pd.DataFrame({"x1": [0.5, np.inf, "abc"], "x2": [0.1, 0.2, -np.inf], "flag": ["yes", "maybe", "no"]})
    with pytest.warns(DataWarning) as caught:
        (x,) = fitted.transform(new, source="new.csv")
    messages = sorted(str(w.message) for w in caught)
    median = fitted.state["numeric"]["fill"]
    assert messages == [
        f"new.csv: column 'flag': 1 cell is not yes/no ('maybe'; row 2); treated as missing and filled with the "
        f"training mode {fitted.state['boolean']['fill']['flag']:g}",
        f"new.csv: column 'x1': 1 cell is infinite ('inf'; row 2); treated as missing and filled with the "
        f"training median {median[0]:g}",
        f"new.csv: column 'x1': 1 cell is not a number ('abc'; row 3); treated as missing and filled with the "
        f"training median {median[0]:g}",
        f"new.csv: column 'x2': 1 cell is infinite ('-inf'; row 3); treated as missing and filled with the "
        f"training median {median[1]:g}",
    ]
    assert bool(x.isfinite().all())
    imputed = fitted.transform(pd.DataFrame({"x1": [None], "x2": [None], "flag": [None]}))[0][0]
    assert x[1, 0] == imputed[0] and x[2, 0] == imputed[0] and x[2, 1] == imputed[1]


def test_prediction_cells_of_a_csv_are_named_by_line(fitted: TabularPreprocessor, tmp_path: Path) -> None:
    (tmp_path / "new.csv").write_text("x1,x2,flag\n1,2,yes\n-inf,3,no\n")
    with pytest.warns(DataWarning, match=r"column 'x1': 1 cell is infinite \('-inf'; line 3\)"):
        fitted.transform(read_source(tmp_path / "new.csv"), source="new.csv")


def test_prediction_column_of_text_is_an_error(fitted: TabularPreprocessor) -> None:
    new = pd.DataFrame({"x1": ["abc", "abc", None], "x2": [0.1, 0.2, 0.3], "flag": ["yes", "no", "no"]})
    with pytest.raises(DataError, match=r"feature column 'x1' of new.csv holds no numbers: 'abc' \(rows 1, 2\)"):
        fitted.transform(new, source="new.csv")


def test_prediction_with_a_feature_column_twice_is_an_error(fitted: TabularPreprocessor) -> None:
    new = pd.DataFrame([[1.0, 2.0, 3.0, "yes"]], columns=["x1", "x2", "x1", "flag"])
    with pytest.raises(DataError, match=r"feature columns of new.csv appear more than once: x1"):
        fitted.transform(new, source="new.csv")


def test_prediction_of_a_run_with_inf_input_is_finite(tmp_path: Path) -> None:
    import deepfit

    table().to_csv(tmp_path / "d.csv", index=False)
    cfg = {
        "data": {"source": str(tmp_path / "d.csv"), "target": "label"},
        "model": {"hidden": [8]},
        "train": {"epochs": 1, "diagnostics": {"enabled": False}},
    }
    deepfit.train(cfg, run_dir=tmp_path / "run")
    with pytest.warns(DataWarning, match=r"column 'x2': 1 cell is infinite \('inf'; row 1\)"):
        out = deepfit.predict(tmp_path / "run", pd.DataFrame({"x1": [0.3, 1.0], "x2": [np.inf, 0.0]}))
    assert out[["proba_no", "proba_yes"]].notna().all().all()


# ---------------------------------------------------------------- 3. splits too small to hold anything
def test_one_row_per_class_is_refused_naming_the_classes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=1000), "label": [f"c{i:03d}" for i in range(1000)]})
    frame.to_csv(tmp_path / "k.csv", index=False)
    with pytest.raises(DataError) as caught:
        prepare(config(tmp_path / "k.csv"))
    message = str(caught.value)
    assert message.startswith(
        "the validation split is empty: every class is too small to stratify (a class needs 4 rows to reach "
        "validation and test): 'c000' (1 row), 'c001' (1 row), 'c002' (1 row), 'c003' (1 row), 'c004' (1 row), "
        "… (1000 classes in all)"
    )
    assert "data.split.stratify: false" in message and "set data.split.validation: 0" in message


def test_one_row_per_class_unstratified_is_refused_too(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=1000), "label": [f"c{i:03d}" for i in range(1000)]})
    with pytest.raises(DataError, match=r"every row of the validation split \(150 rows; classes .*\) has a class"):
        split_frame(frame, SplitConfig(stratify=False), target="label", task="classification", seed=0)


def test_no_validation_or_test_asked_for_is_fine() -> None:
    frame = pd.DataFrame({"x": range(6), "label": list("abcabc")})
    parts = split_frame(
        frame, SplitConfig(train=1.0, validation=0, test=0), target="label", task="classification", seed=0
    )
    assert len(parts["train"]) == 6 and parts["validation"].empty and parts["test"].empty


def test_small_classes_are_named_in_a_warning() -> None:
    frame = pd.DataFrame({"x": range(108), "label": ["a"] * 100 + ["b"] * 5 + ["c"] * 2 + ["d"]})
    with pytest.warns(DataWarning) as caught:
        parts = split_frame(frame, SplitConfig(), target="label", task="classification", seed=0)
    assert str(caught[0].message) == (
        "2 classes have fewer than 4 rows, too few to stratify: only in the training split, so validation and "
        "test do not score them: 'd' (1 row), 'c' (2 rows)"
    )
    assert set(parts["train"]["label"]) == {"a", "b", "c", "d"}
    assert set(parts["test"]["label"]) == {"a", "b"}


def test_small_classes_are_in_the_data_report(tmp_path: Path) -> None:
    labels = ["a"] * 100 + ["b"] * 5 + ["c"] * 2 + ["d"]
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=108), "label": labels})
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.warns(DataWarning, match=r"2 classes have fewer than 4 rows"):
        prepared = prepare(config(tmp_path / "s.csv"))
    assert prepared.report["classes_not_in_validation_or_test"] == {"c": 2, "d": 1}


def test_empty_unstratified_split_is_refused() -> None:
    frame = pd.DataFrame({"x": np.linspace(0, 1, 3), "y": np.linspace(0, 1, 3)})
    with pytest.raises(DataError, match=r"the validation split is empty: a fraction of 0.15 of 3 rows rounds to none"):
        split_frame(frame, SplitConfig(), target="y", task="regression", seed=0)


def test_too_few_groups_are_refused() -> None:
    frame = pd.DataFrame({"x": range(40), "y": np.linspace(0, 1, 40), "g": [0] * 20 + [1] * 20})
    with pytest.raises(DataError, match=r"the test split is empty: the 2 groups of 'g' are too few to give it one"):
        split_frame(frame, SplitConfig(group_column="g"), target="y", task="regression", seed=0)


def test_training_split_of_a_single_class_is_refused() -> None:
    frame = pd.DataFrame({"x": range(100), "t": range(100), "label": ["early"] * 70 + ["late"] * 30})
    with pytest.raises(DataError, match=r"the training split holds a single class \('early'\)") as caught:
        split_frame(frame, SplitConfig(order_column="t"), target="label", task="classification", seed=0)
    assert "choose another data.split.order_column" in str(caught.value)


def test_classes_missing_from_train_are_reported_not_fatal() -> None:
    frame = pd.DataFrame({"x": range(100), "t": range(100), "label": ["a", "b"] * 45 + ["c"] * 10})
    parts = split_frame(frame, SplitConfig(order_column="t"), target="label", task="classification", seed=0)
    assert set(parts["train"]["label"]) == {"a", "b"} and set(parts["test"]["label"]) == {"a", "b", "c"}
    assert "left out rows whose class the training split lacks (not scored): 8 test" in summarize(
        {"rows_in": 1, "rows_out": 1, "rows_with_classes_unseen_in_train": {"test": 8}}
    )


# ---------------------------------------------------------------- 4. duplicated column names
def test_duplicate_csv_columns_are_refused(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("x,y, x,label,y,z\n1,2,3,a,4,5\n6,7,8,b,9,10\n")
    with pytest.raises(DataError, match=r"d.csv: duplicated column names: 'x' \(2 times\), 'y' \(2 times\)"):
        read_source(tmp_path / "d.csv")


def test_duplicate_dataframe_columns_are_refused() -> None:
    frame = pd.DataFrame([[1, 2, "a"], [3, 4, "b"]], columns=["x", "x", "label"])
    with pytest.raises(DataError, match=r"the DataFrame: duplicated column names: 'x' \(2 times\)"):
        read_source(frame)


def test_duplicate_parquet_columns_are_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array([1, 2]), pa.array([3, 4]), pa.array(["a", "b"])]
    pq.write_table(pa.Table.from_arrays(arrays, names=["x", "x", "label"]), tmp_path / "d.parquet")
    with pytest.raises(DataError, match=r"d.parquet: duplicated column names: 'x' \(2 times\)"):
        read_source(tmp_path / "d.parquet")


# ---------------------------------------------------------------- 5. nested Parquet columns
@pytest.fixture
def nested_parquet(tmp_path: Path) -> Path:
    frame = table(60).assign(tags=[[1, 2], [3], [4, 5, 6]] * 20, meta=[{"a": 1, "b": "x"}] * 60)
    frame.to_parquet(tmp_path / "n.parquet")
    return tmp_path / "n.parquet"


def test_nested_columns_are_left_out_with_a_note(nested_parquet: Path) -> None:
    import deepfit

    report = deepfit.inspect(nested_parquet, target="label")
    assert report["dropped_columns"] == {
        "tags": "holds lists, which cannot be a feature",
        "meta": "holds structs, which cannot be a feature",
    }
    assert report["columns"] == {"x1": "numeric", "x2": "numeric"}
    assert "dropped column 'tags': holds lists, which cannot be a feature" in summarize(report)


def test_nested_columns_named_as_features_are_an_error(nested_parquet: Path) -> None:
    with pytest.raises(DataError, match=r"n.parquet named in data.features .*: 'tags' \(lists\), 'meta' \(structs\)"):
        prepare(config(nested_parquet, features=["x1", "tags", "meta"]))


def test_nested_target_is_an_error(nested_parquet: Path) -> None:
    with pytest.raises(DataError, match=r"the target column 'tags' of .*n.parquet holds lists"):
        prepare(config(nested_parquet, target="tags"))


# ---------------------------------------------------------------- 6. damaged .npz
@pytest.fixture
def truncated_npz(tmp_path: Path) -> Path:
    np.savez(tmp_path / "full.npz", X=np.random.default_rng(0).normal(size=(50, 4, 2)), y=np.arange(50) % 2)
    data = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.npz"


def test_truncated_npz_is_one_error_naming_the_file(truncated_npz: Path) -> None:
    for read in (read_source, read_npz):
        with pytest.raises(DataError, match=r"cut.npz: not a readable .npz archive .*\n  → the file may be truncated"):
            read(truncated_npz)
    with pytest.raises(DataError, match=r"cut.npz: not a readable .npz archive"):
        prepare(load_config({"data": {"source": str(truncated_npz), "kind": "sequence"}}))


# ---------------------------------------------------------------- 7. what is really wrong
def test_all_missing_target_says_so(tmp_path: Path) -> None:
    table().assign(label=None).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        DataError, match=r"the target column 'label' of .*t.csv has no values \(all 120 rows are empty\)"
    ):
        prepare(config(tmp_path / "t.csv"))


def test_one_row_file_says_so(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0], "z": [2.0], "label": ["a"]}).to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(DataError, match=r"one.csv has 1 row: too few to split and train a model \(at least 4 are"):
        prepare(config(tmp_path / "one.csv"))
    with pytest.raises(DataError, match=r"one.csv has 1 row: too few .* \(at least 2 are needed\)"):
        inspect_frame(config(tmp_path / "one.csv"), read_source(tmp_path / "one.csv"))


def test_too_few_rows_with_a_target_says_how_many(tmp_path: Path) -> None:
    table(6).assign(label=["a", "b", None, None, None, None]).to_csv(tmp_path / "few.csv", index=False)
    with pytest.raises(DataError, match=r"few.csv has 6 rows, 2 with a target: too few .* \(at least 4 are needed\)"):
        prepare(config(tmp_path / "few.csv"))


def test_text_file_with_one_row_says_so(tmp_path: Path) -> None:
    pd.DataFrame({"review": ["a fine film with a plot"], "label": ["pos"]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"t.csv has 1 row: too few to split and train a model"):
        prepare(config(tmp_path / "t.csv", text={"text_column": "review"}))


# ---------------------------------------------------------------- 8. one prediction per line of a .txt
def test_text_lines_keep_one_row_per_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"good film\r\n\r\nbad \x0cfilm\n   \nlast\n")
    with pytest.warns(DataWarning, match=r"in.txt: 2 blank lines read as empty texts \(line 2, 4\)"):
        frame = read_lines(path, "review")
    assert frame["review"].tolist() == ["good film", "", "bad \x0cfilm", "   ", "last"]


# ---------------------------------------------------------------- 9. files and arrays nobody tried
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"e.csv is empty \(0 bytes\)"),
        (b"a,b,label\n", r"e.csv: the file holds no rows \(only a header: a, b, label\)"),
        (b"a,b,label\n1,2,x\n\n3,4,y,9\n", r"e.csv, line 4: 4 fields where the header has 3\n  → a value holding"),
        (
            "a,b,label\n1,2,x\n3,4,café\n".encode("latin-1"),
            r"e.csv is not UTF-8 text: byte 0xe9 on line 3 \(byte 23",
        ),
        ("a,b\n1,2\n".encode("utf-16"), r"e.csv is UTF-16 text\n  → save the file as UTF-8"),
        (bytes(range(256)) * 8, r"e.csv is a binary file, not a text table"),
    ],
    ids=["empty", "header-only", "ragged", "latin-1", "utf-16", "binary"],
)
def test_unreadable_csv_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "e.csv").write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_source(tmp_path / "e.csv")


def test_missing_target_column_suggests(tmp_path: Path) -> None:
    table().to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match=r"target column 'lable' is not in the data \(did you mean 'label'\?\)"):
        prepare(config(tmp_path / "d.csv", target="lable"))


def test_source_that_is_a_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(DataError, match=r"data.csv is a folder, not a data file"):
        load_frame(config(tmp_path / "data.csv", kind="tabular"))


def test_npz_without_x_or_y_is_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "no_x.npz", inputs=np.zeros((5, 2)), y=np.arange(5))
    np.savez(tmp_path / "no_y.npz", X=np.random.default_rng(0).normal(size=(30, 2)))
    with pytest.raises(DataError, match=r"no_x.npz: expected an array named 'X' .*found \['inputs', 'y'\]"):
        read_source(tmp_path / "no_x.npz")
    with pytest.raises(DataError, match=r"no_y.npz has no labels: expected an array named 'y' beside 'X'; found X"):
        prepare(load_config({"data": {"source": str(tmp_path / "no_y.npz")}}))


def test_nan_and_inf_in_npz_sequences_are_filled_and_named(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(40, 5, 2))
    x[3, 2, 1], x[7, 0, 0], x[8, 4, 1] = np.inf, -np.inf, np.nan
    np.savez(tmp_path / "s.npz", X=x, y=np.arange(40) % 2)
    with pytest.warns(DataWarning, match=r"s.npz: 2 values of 'X' are infinite \(sequence, step, feature: \[3, 2, 1\]"):
        seqs = read_npz(tmp_path / "s.npz")
    assert seqs.missing == 3 and np.isfinite(seqs.x).all()
    assert seqs.x[3, 2, 1] == x[3, 1, 1] and seqs.x[7, 0, 0] == x[7, 1, 0]  # carried forward (first: next step)


def test_inf_in_a_time_series_is_filled_and_named(tmp_path: Path) -> None:
    t = np.arange(200)
    frame = pd.DataFrame({"time": t, "value": np.sin(t / 8).round(3)}).astype({"value": object})
    frame.loc[[50, 90], "value"] = ["inf", "-inf"]
    frame.to_csv(tmp_path / "ts.csv", index=False)
    cfg = load_config({"data": {"source": str(tmp_path / "ts.csv"), "kind": "timeseries"}})
    with pytest.warns(DataWarning, match=r"column 'value' of .*ts.csv holds 2 infinite values at lines 52, 92"):
        prepared = prepare(cfg)
    assert all(bool(t.inputs[0].isfinite().all()) for t in prepared.tensors.values())


def test_clean_data_raises_no_data_warning(tmp_path: Path) -> None:
    table().to_csv(tmp_path / "d.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        prepared = prepare(config(tmp_path / "d.csv"))
        prepared.preprocessor.transform(read_source(tmp_path / "d.csv"))
    assert prepared.report["infinite_cells"] == {} and prepared.report["unparseable_cells"] == {}
