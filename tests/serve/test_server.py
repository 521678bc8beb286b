"""A real uvicorn server on 127.0.0.1 under concurrent requests; the command line; export folders."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

import deepfit
from deepfit.cli import main
from deepfit.serve.app import ServeSettings, create_app
from deepfit.serve.backends import ExportBackend, RunBackend, load_backend
from deepfit.serve.server import ENV_MODEL, ENV_SETTINGS, app_from_env, is_loopback
from tests.conftest import ROOT
from tests.serve.conftest import table


class Recording(RunBackend):
    """The run's backend, noting how many rows each model call took."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.sizes: list[int] = []

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.sizes.append(len(records))
        time.sleep(0.02)  # a model slow enough that requests pile up behind it
        return super().predict(records)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live(table_run: Path) -> Iterator[tuple[str, Recording]]:
    """A uvicorn server in a thread of this process (so the test can see what the model saw), stopped after."""
    backend = Recording(table_run)
    app = create_app(backend, ServeSettings(max_batch=64, max_wait_ms=20))
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield url, backend
    server.should_exit = True
    thread.join(timeout=10)


def test_concurrent_requests_to_a_real_server_are_batched(live: tuple[str, Recording]) -> None:
    url, backend = live
    records = json.loads(table(16, seed=2).drop(columns=["label"]).to_json(orient="records"))

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.get("/ready")).json() == {"ready": True}
            return await asyncio.gather(*(client.post("/predict", json={"records": [r]}) for r in records))

    answers = asyncio.run(send())
    assert [a.status_code for a in answers] == [200] * 16
    assert sum(backend.sizes) == 16 and max(backend.sizes) > 1  # fewer model calls than requests
    stats = httpx.get(f"{url}/stats").json()
    assert (stats["requests"], stats["rows"], stats["batches"]) == (16, 16, len(backend.sizes))
    alone = backend.predict(records)  # the same rows in one call: equal, to float32 rounding
    for answer, expected in zip(answers, alone, strict=True):
        (got,) = answer.json()["predictions"]
        assert got["prediction"] == expected["prediction"]
        assert got["proba_yes"] == pytest.approx(expected["proba_yes"], abs=1e-6)


def test_serve_refuses_what_it_cannot_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path)]) == 2
    assert "neither a run directory" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "absent")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--max-batch", "0"]) == 2
    assert "--max-batch must be 1 or more" in capsys.readouterr().err


def test_loopback_is_the_default_and_is_recognised() -> None:
    from deepfit.cli import build_parser

    args = build_parser().parse_args(["serve", "runs/x"])
    assert (args.host, args.port, args.workers, args.max_batch, args.no_batching) == ("127.0.0.1", 8000, 1, 256, False)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_worker_processes_build_the_app_from_the_environment(table_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MODEL, str(table_run))
    monkeypatch.setenv(ENV_SETTINGS, json.dumps({"max_rows": 3, "batching": False}))
    app = app_from_env()
    assert app.state.settings == ServeSettings(max_rows=3, batching=False)
    record = json.loads(table(1).drop(columns=["label"]).to_json(orient="records"))[0]
    with TestClient(app) as client:
        assert client.post("/predict", json={"records": [record] * 3}).status_code == 200
        assert client.post("/predict", json={"records": [record] * 4}).status_code == 422
        assert client.get("/stats").json()["batches"] == 1  # without batching each request is a call


class FakeRuntime:
    """Stands for ``deepfit.runtime`` (written beside this package): the API the export backend codes against."""

    metadata: ClassVar[dict[str, Any]] = {
        "task": "classification",
        "target": "y",
        "classes": ["a", "b"],
        "kind": "tabular",
    }
    schema: ClassVar[dict[str, Any]] = {"fields": [{"name": "x", "type": "number", "required": True}]}

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"prediction": "a" if r["x"] < 0 else "b", "proba_a": 0.5, "proba_b": 0.5} for r in records]


def test_an_export_folder_is_served_by_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import deepfit

    (tmp_path / "metadata.json").write_text("{}")
    (tmp_path / "model.onnx").write_bytes(b"")
    runtime = types.ModuleType("deepfit.runtime")
    runtime.load = lambda folder: FakeRuntime()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "deepfit.runtime", runtime)
    monkeypatch.setattr(deepfit, "runtime", runtime, raising=False)  # once imported, the package attribute wins
    monkeypatch.setattr(deepfit, "runtime", runtime, raising=False)
    backend = load_backend(tmp_path)
    assert isinstance(backend, ExportBackend)
    with TestClient(create_app(backend)) as client:
        answer = client.post("/predict", json={"records": [{"x": -1}, {"x": "2"}]})
        assert [p["prediction"] for p in answer.json()["predictions"]] == ["a", "b"]
        assert client.post("/predict", json={"records": [{"x": "two"}]}).status_code == 422
        assert client.get("/metadata").json()["source"] == "export"


def test_an_export_without_raw_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfit.errors import RunError

    class ArraysOnly(FakeRuntime):
        schema: ClassVar[dict[str, Any]] = {"kind": "text", "fields": [], "inputs": [{"dtype": "int64"}]}

    (tmp_path / "metadata.json").write_text("{}")
    (tmp_path / "model.onnx").write_bytes(b"")
    runtime = types.ModuleType("deepfit.runtime")
    runtime.load = lambda folder: ArraysOnly()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "deepfit.runtime", runtime)
    monkeypatch.setattr(deepfit, "runtime", runtime, raising=False)  # once imported, the package attribute wins
    with pytest.raises(RunError, match="model-input arrays only") as error:
        load_backend(tmp_path)
    assert "deepfit serve RUN_DIR" in str(error.value)


def test_a_real_export_is_served_like_its_run(table_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("deepfit.runtime")
    assert main(["export", str(table_run), "-o", str(tmp_path / "export")]) == 0
    records = json.loads(table(6, seed=3).drop(columns=["label"]).to_json(orient="records"))
    expected = RunBackend(table_run).predict(records)
    with TestClient(create_app(load_backend(tmp_path / "export"))) as client:
        served = client.post("/predict", json={"records": records}).json()["predictions"]
    assert [s["prediction"] for s in served] == [e["prediction"] for e in expected]
    assert [s["proba_yes"] for s in served] == pytest.approx([e["proba_yes"] for e in expected], abs=1e-5)


def test_the_example_client_against_a_live_server(live: tuple[str, Recording], tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve_client", ROOT / "examples" / "serve_client.py")
    assert spec is not None and spec.loader is not None
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    url, backend = live
    rows = table(5, seed=4).drop(columns=["label"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    expected = backend.predict(json.loads(rows.to_json(orient="records")))
    assert client.predict_csv(url, tmp_path / "rows.csv") == expected
    with pytest.raises(SystemExit, match=r"refused: .*'x1'"):
        client.predict_records(url, [{"x 2": 1.0}])


def test_kinds_the_server_does_not_take_are_refused_before_serving(
    table_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepfit.errors import RunError
    from deepfit.predictor import Predictor

    stub = types.SimpleNamespace(
        preprocessor=types.SimpleNamespace(kind="sequence"), spec=types.SimpleNamespace(task="classification")
    )
    monkeypatch.setattr(Predictor, "load", classmethod(lambda cls, run, trust_code=False: stub))
    with pytest.raises(RunError, match=r"serving sequence data .* not supported yet") as error:
        load_backend(table_run)
    assert f"deepfit predict {table_run} INPUT" in str(error.value)


def test_serve_hands_uvicorn_an_app_or_for_workers_an_import_string(
    table_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], one_thread: None
) -> None:
    """(``one_thread`` restores PyTorch's thread count, which serve sets, after the test.)"""
    from fastapi import FastAPI

    from deepfit.serve.server import ENV_THREADS, ENV_TRUST, serve

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    for name in (ENV_MODEL, ENV_SETTINGS, ENV_TRUST, ENV_THREADS):
        monkeypatch.setenv(name, "")  # recorded, so that what serve() sets is removed after the test
        monkeypatch.delenv(name)
    serve(table_run, port=9999)
    (app, kwargs), _ = calls.pop(), capsys.readouterr()
    assert isinstance(app, FastAPI) and kwargs == {"host": "127.0.0.1", "port": 9999, "log_level": "info"}

    serve(table_run, host="0.0.0.0", workers=3, threads=1, settings=ServeSettings(max_batch=8))
    app, kwargs = calls.pop()
    assert app == "deepfit.serve.server:app_from_env"
    assert kwargs == {"factory": True, "host": "0.0.0.0", "port": 8000, "workers": 3, "log_level": "info"}
    assert "warning: serving on 0.0.0.0" in capsys.readouterr().err
    assert app_from_env().state.settings.max_batch == 8  # what each worker process builds from the environment
    assert (os.environ[ENV_THREADS], os.environ[ENV_MODEL]) == ("1", str(table_run.resolve()))


def test_without_the_serve_extra_the_command_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else find_spec(name, *a)
    )
    assert main(["serve", str(tmp_path)]) == 2
    assert (
        "deepfit serve needs fastapi, which is not installed\n  → pip install 'deepfit[serve]'"
        in capsys.readouterr().err
    )
