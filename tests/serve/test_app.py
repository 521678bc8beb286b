"""The HTTP API on trained runs: answers equal `deepfit predict`, validation, limits, and no path is opened."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from deepfit.cli import main
from deepfit.serve.app import ServeSettings, create_app
from deepfit.serve.backends import load_backend
from tests.serve.conftest import table

FEATURES = ["x1", "x 2", "color", "member", "day"]


@pytest.fixture(scope="module")
def client(table_run: Path) -> Iterator[TestClient]:
    with TestClient(create_app(load_backend(table_run))) as client:
        yield client


def cli_predict(run: Path, path: Path, capsys: pytest.CaptureFixture[str]) -> pd.DataFrame:
    capsys.readouterr()
    assert main(["predict", str(run), str(path)]) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out))


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))  # what a client sends: NaN is null


def assert_same(served: list[dict[str, Any]], expected: pd.DataFrame) -> None:
    """The same columns in the same order, class names equal, probabilities equal to the last bit of the CSV."""
    answered = pd.DataFrame(served)
    assert list(answered.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(answered, expected, check_exact=True, check_dtype=False)


def test_predict_equals_deepfit_predict_on_the_same_rows(
    client: TestClient, table_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = table(24, seed=1).drop(columns=["label"])
    rows.loc[[2, 5], "color"] = ["purple", None]  # an unseen level and a missing one
    rows.loc[4, "member"] = None
    rows.to_csv(tmp_path / "rows.csv", index=False)
    expected = cli_predict(table_run, tmp_path / "rows.csv", capsys)
    assert list(expected.columns) == ["prediction", "proba_no", "proba_yes"]

    answer = client.post("/predict", json={"records": records_of(rows)})
    assert answer.status_code == 200, answer.text
    assert_same(answer.json()["predictions"], expected)

    csv_body = (tmp_path / "rows.csv").read_bytes()
    answer = client.post("/predict", content=csv_body, headers={"content-type": "text/csv"})
    assert_same(answer.json()["predictions"], expected)
    answer = client.post("/predict", files={"files": ("rows.csv", csv_body, "text/csv")})
    assert_same(answer.json()["predictions"], expected)


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        (lambda r: r.pop("color"), "color", "missing"),
        (lambda r: r.update({"x1": "twelve"}), "x1", "float_parsing"),
        (lambda r: r.update({"member": "perhaps"}), "member", "bool_parsing"),
        (lambda r: r.update({"day": 20240101}), "day", "string_type"),
    ],
)
def test_a_missing_or_mistyped_field_is_a_422_naming_it(client: TestClient, change: Any, field: str, kind: str) -> None:
    record = records_of(table(3).drop(columns=["label"]))[0]
    change(record)
    answer = client.post("/predict", json={"records": [records_of(table(2).drop(columns=["label"]))[1], record]})
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert (error["type"], error["loc"]) == (kind, ["body", "records", 1, field])
    assert error.get("input") == record.get(field)  # the value sent, beside the message


def test_a_misspelt_key_is_named_beside_the_missing_field(client: TestClient) -> None:
    record = records_of(table(1).drop(columns=["label"]))[0]
    record["colour"] = record.pop("color")
    detail = client.post("/predict", json={"records": [record]}).json()["detail"]
    assert detail[0]["loc"] == ["body", "records", 0, "color"]
    assert detail[0]["msg"] == "Field required (the record has 'colour': a misspelling?)"


def test_malformed_bodies_and_limits(table_run: Path) -> None:
    settings = ServeSettings(max_rows=5, max_body_bytes=4000)
    record = records_of(table(1).drop(columns=["label"]))[0]
    with TestClient(create_app(load_backend(table_run), settings)) as client:
        json_type = {"content-type": "application/json"}
        assert client.post("/predict", content=b"{not json", headers=json_type).status_code == 422
        assert client.post("/predict", json=[record]).status_code == 422  # records, not a bare list
        assert client.post("/predict", json={"records": []}).status_code == 422
        too_many = client.post("/predict", json={"records": [record] * 6})
        assert too_many.status_code == 422 and too_many.json()["detail"][0]["type"] == "too_long"
        assert client.post("/predict", json={"records": [record] * 5}).status_code == 200
        big = client.post("/predict", json={"records": [{**record, "pad": "x" * 5000}]})
        assert big.status_code == 413 and "4,000 bytes" in big.json()["detail"]
        stream = iter([b"x" * 3000, b"x" * 3000])
        chunked = client.post("/predict", content=stream, headers={"content-type": "text/csv"})
        assert chunked.status_code == 413  # no Content-Length: counted as it streams in
        assert client.post("/predict", content=b"a", headers={"content-type": "text/plain"}).status_code == 415
        bad_csv = client.post("/predict", content=b"x1,x1\n1,2\n", headers={"content-type": "text/csv"})
        assert bad_csv.status_code == 422 and "duplicated column" in bad_csv.json()["detail"]


def test_health_ready_metadata_and_docs(client: TestClient, table_run: Path) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"ready": True}
    meta = client.get("/metadata").json()
    stored = json.loads((table_run / "eval.json").read_text())
    assert (meta["task"], meta["target"], meta["kind"]) == ("classification", "label", "tabular")
    assert meta["classes"] == ["no", "yes"]
    assert meta["metrics"]["test"]["accuracy"] == stored["test"]["accuracy"]
    fields = {f["name"]: f for f in meta["input"]["fields"]}
    assert list(fields) == FEATURES
    assert [fields[n]["type"] for n in FEATURES] == ["number", "number", "category", "boolean", "date"]
    assert fields["color"]["categories"] == ["blue", "green", "red"]
    assert client.get("/docs").status_code == 200
    document = client.get("/openapi.json").json()
    assert list(document["components"]["schemas"]["Record"]["properties"]) == FEATURES
    assert "text/csv" in document["paths"]["/predict"]["post"]["requestBody"]["content"]


class Opens:
    """Every file the process opens while active (PEP 578 audit hook: ``open`` and ``os.open`` both report)."""

    installed = False
    paths: list[str] | None = None

    def __enter__(self) -> list[str]:
        if not Opens.installed:
            sys.addaudithook(lambda event, args: Opens.record(event, args))
            Opens.installed = True
        Opens.paths = []
        return Opens.paths

    def __exit__(self, *exc: object) -> None:
        Opens.paths = None

    @staticmethod
    def record(event: str, args: tuple[Any, ...]) -> None:
        if Opens.paths is not None and event == "open" and args and isinstance(args[0], str | bytes):
            Opens.paths.append(str(args[0]))


def test_no_path_in_a_request_is_opened(client: TestClient, image_run: Path) -> None:
    record = {**records_of(table(1).drop(columns=["label"]))[0], "color": "/etc/passwd"}
    with Opens() as opened:
        answer = client.post("/predict", json={"records": [record]})
    assert answer.status_code == 200  # a category as any other: an unseen level
    assert not [p for p in opened if "passwd" in p]

    with TestClient(create_app(load_backend(image_run))) as images, Opens() as opened:
        as_field = images.post("/predict", json={"records": [{"image": "/etc//passwd"}]})  # valid base64, too
        as_upload = images.post("/predict", files={"files": ("/etc/passwd", b"\x89PNG not really", "image/png")})
        other = images.post("/predict", json={"records": [{"path": "/etc/passwd"}]})
        Path(__file__).read_bytes()  # the hook sees opens: this one is recorded
    assert __file__ in opened
    assert as_field.status_code == 422 and "not a readable image" in as_field.json()["detail"]
    assert as_upload.status_code == 422
    assert "/etc/passwd of the request: not a readable image" in as_upload.json()["detail"]
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["body", "records", 0, "image"]
    assert not [p for p in opened if "passwd" in p]


def test_images_as_uploads_and_base64_equal_deepfit_predict(
    image_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = image_run.parent / "shapes"  # where the fixture wrote the training images
    files = [source / "dark" / "0.png", source / "light" / "3.png"]
    for file in files:
        shutil.copy(file, tmp_path / f"{file.parent.name}{file.name}")
    expected = cli_predict(image_run, tmp_path, capsys).drop(columns=["path"])
    with TestClient(create_app(load_backend(image_run))) as client:
        uploads = [("files", (f"{f.parent.name}{f.name}", f.read_bytes(), "image/png")) for f in files]
        answer = client.post("/predict", files=uploads).json()["predictions"]
        assert [a.pop("file") for a in answer] == ["dark0.png", "light3.png"]
        assert_same(answer, expected)
        encoded = [{"image": base64.b64encode(f.read_bytes()).decode()} for f in files]
        assert_same(client.post("/predict", json={"records": encoded}).json()["predictions"], expected)
        assert client.get("/metadata").json()["input"]["fields"][0]["type"] == "base64"


def test_texts_equal_deepfit_predict(text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = ["good great film", "awful poor hate", "a film"]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    expected = cli_predict(text_run, tmp_path / "texts.txt", capsys)
    with TestClient(create_app(load_backend(text_run))) as client:
        answer = client.post("/predict", json={"records": [{"review": t} for t in texts]})
        assert_same(answer.json()["predictions"], expected)
        lines = (tmp_path / "texts.txt").read_bytes()  # the .txt deepfit predict read, as the body
        answer = client.post("/predict", content=lines, headers={"content-type": "text/plain"})
        assert_same(answer.json()["predictions"], expected)
        assert client.post("/predict", json={"records": [{"text": "x"}]}).json()["detail"][0]["loc"][-1] == "review"


def test_a_missing_field_is_not_taken_for_a_misspelling_of_another_field(client: TestClient) -> None:
    record = records_of(table(1).drop(columns=["label"]))[0]
    del record["x1"]  # 'x 2' is close to 'x1', but it is a field of its own
    (error,) = client.post("/predict", json={"records": [record]}).json()["detail"]
    assert (error["loc"][-1], error["msg"]) == ("x1", "Field required")


def test_regression_answers_equal_deepfit_predict(
    regression_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = table(7, seed=5).drop(columns=["label"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    expected = cli_predict(regression_run, tmp_path / "rows.csv", capsys)
    assert list(expected.columns) == ["prediction"]
    with TestClient(create_app(load_backend(regression_run))) as client:
        assert_same(client.post("/predict", json={"records": records_of(rows)}).json()["predictions"], expected)
        assert client.get("/metadata").json()["classes"] is None
        empty = client.post("/predict", files={"note": (None, "no file here")})
        assert empty.status_code == 422 and "holds no file" in empty.json()["detail"]


def test_a_nan_in_a_refused_record_does_not_break_the_answer(client: TestClient) -> None:
    body = b'{"records": [{"x1": NaN, "x 2": 1, "color": "red", "member": NaN, "day": null}]}'
    answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422  # NaN is a number (x1, imputed), not a yes/no (member)
    (error,) = answer.json()["detail"]
    assert error["loc"][-1] == "member" and "input" not in error
