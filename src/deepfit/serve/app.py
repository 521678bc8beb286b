"""The HTTP API of a model: ``create_app(backend, settings)`` → a FastAPI app.

``POST /predict`` takes JSON ``{"records": [...]}``, a CSV body (``text/csv``), texts one per line
(``text/plain``, text runs), or multipart files (images, or CSV files); every row is validated against the
backend's input schema (a missing or mistyped field is a 422 naming it) and answered with the columns
``deepfit predict`` writes. ``GET /health`` (the process is up), ``/ready`` (the model is loaded and the
batcher runs), ``/metadata`` (task, classes, metrics, input schema), ``/stats`` (batches the model ran) and
``/docs`` (OpenAPI). Limits: the body size (413), rows per request (422), rows queued (503). Nothing in a
request is ever used as a path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from deepfit.errors import DataError, DeepfitError
from deepfit.serve.backends import IMAGE_FIELD, Backend
from deepfit.serve.batching import MicroBatcher, Overloaded
from deepfit.serve.schema import error_list, plain_records, record_model, request_model

log = logging.getLogger("deepfit.serve")
Records = list[dict[str, Any]]


@dataclass(frozen=True)
class ServeSettings:
    """The server's limits and batching (``deepfit serve`` flags of the same names)."""

    max_batch: int = 256  # rows per model call
    max_wait_ms: float = 2.0  # how long the first request of a batch waits for others
    batching: bool = True  # False: every request runs the model by itself, in a thread of its own
    max_queue: int = 8192  # rows waiting for the model; more → 503
    max_rows: int = 1024  # rows per request; more → 422
    max_body_bytes: int = 16 * 1024 * 1024  # request body; more → 413

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_input_error(exc: BaseException) -> bool:
    """The request's fault (a 422): what deepfit says about data, and values the model cannot take."""
    return isinstance(exc, DataError | ValueError)


def create_app(backend: Backend, settings: ServeSettings | None = None) -> FastAPI:
    """The app serving ``backend``; the batcher starts with the app's lifespan (uvicorn, ``with TestClient``)."""
    from deepfit import __version__

    settings = settings or ServeSettings()
    metadata, schema = backend.metadata(), backend.schema()
    kind = str(schema.get("kind") or metadata.get("kind") or "tabular")
    record, names = record_model(schema)
    known = set(names.values())
    request = request_model(record, settings.max_rows)
    adapter = TypeAdapter(request)
    batcher = MicroBatcher(
        backend.predict,
        max_batch=settings.max_batch,
        max_wait_ms=settings.max_wait_ms,
        max_queue=settings.max_queue,
        is_input_error=is_input_error,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title=f"deepfit: {metadata.get('name', 'model')}",
        description=_description(metadata, kind),
        version=str(metadata.get("deepfit_version") or __version__),
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.state.backend, app.state.batcher, app.state.settings = backend, batcher, settings

    async def run(records: Records) -> Records:
        if settings.batching:
            return await batcher.submit(records)
        import anyio

        batcher.stats.add(1, len(records))
        return await anyio.to_thread.run_sync(backend.predict, records)

    def validated(rows: Any) -> Records:
        try:
            return plain_records(adapter.validate_python({"records": rows}), names)
        except ValidationError as exc:
            raise RequestValidationError(error_list(exc, known)) from None

    @app.exception_handler(DataError)
    async def data_error(http: Request, exc: DataError) -> JSONResponse:
        return _input_error(exc)

    _document_request(app, request)

    @app.get("/health", summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="The model is loaded and takes requests")
    async def ready() -> JSONResponse:
        up = batcher.running or not settings.batching
        return JSONResponse({"ready": up}, status_code=200 if up else 503)

    @app.get("/metadata", summary="The model: task, classes, metrics of the run, input schema, limits")
    async def get_metadata() -> dict[str, Any]:
        return {**metadata, "input": schema, "settings": settings.to_dict()}

    @app.get("/stats", summary="Requests, batches and rows the model has run since start")
    async def stats() -> dict[str, Any]:
        return {**batcher.stats.to_dict(), "queued_rows": batcher.queued_rows}

    @app.post(
        "/predict",
        summary="Predict rows: JSON records, a CSV body, or multipart files (images or CSV)",
        openapi_extra={"requestBody": _request_body(kind)},
        responses={
            413: {"description": "The body is larger than the server takes"},
            422: {"description": "A field is missing or has the wrong type; too many rows"},
            503: {"description": "The queue is full; retry later"},
        },
    )
    async def predict(http: Request) -> JSONResponse:
        content_type = http.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        files: list[str] = []
        if content_type == "application/json":
            try:
                records = plain_records(adapter.validate_json(await http.body()), names)
            except ValidationError as exc:
                raise RequestValidationError(error_list(exc, known)) from None
        elif content_type in ("text/csv", "application/csv"):
            import anyio

            body = await http.body()  # parsed in a thread: a large CSV does not hold up the other requests
            records = validated(await anyio.to_thread.run_sync(_csv_rows, body, "the CSV body"))
        elif content_type == "text/plain" and kind == "text":
            records = validated(_text_rows(await http.body(), names[next(iter(names))]))
        elif content_type == "multipart/form-data":
            rows, files = await _uploads(http, kind, settings.max_rows)
            records = rows if kind == "image" else validated(rows)  # images: bytes, checked when decoded
        else:
            plain = ", text/plain" if kind == "text" else ""
            accepted = f"application/json, text/csv{plain} or multipart/form-data"
            return _error(415, f"unsupported content type {content_type}; send {accepted}")
        try:
            results = await run(records)
        except Overloaded as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})
        except Exception as exc:
            if is_input_error(exc):
                return _input_error(exc)
            log.exception("prediction failed")
            return _error(500, f"the model failed on this request: {type(exc).__name__}")
        if files:
            results = [{"file": name, **row} for name, row in zip(files, results, strict=True)]
        return JSONResponse({"predictions": results})

    return app


class BodyLimit:
    """Refuse a body over ``max_bytes`` with 413: by its Content-Length, or while it streams in (chunked)."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _error(413, self._message())(scope, receive, send)
            return
        seen, started = 0, False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _error(413, self._message())(scope, receive, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes:,} bytes (deepfit serve --max-body-mb)"


class _TooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _input_error(exc: Exception) -> JSONResponse:
    """422 with deepfit's message and, apart, what to do."""
    if isinstance(exc, DeepfitError):
        return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=422)
    return _error(422, str(exc))


def _csv_rows(data: bytes, source: str) -> Records:
    """The rows of a CSV held in memory, read as ``deepfit predict`` reads a CSV file; empty cells are null."""
    import csv
    import io

    import pandas as pd

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source} is not UTF-8 text (byte {exc.start})", hint="send the CSV as UTF-8") from None
    header = next(csv.reader(io.StringIO(text)), [])
    twice = sorted({name.strip() for name in header if [h.strip() for h in header].count(name.strip()) > 1})
    if twice:
        raise DataError(f"{source}: duplicated column names: {', '.join(twice)}", hint="give every column its name")
    try:
        frame = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{source} cannot be read as a CSV: {str(exc).splitlines()[0][:200]}") from None
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict(orient="records")


def _text_rows(data: bytes, column: str) -> Records:
    """One text per line, as `deepfit predict` reads a .txt file (a blank line is an empty text)."""
    from deepfit.data.text.preprocess import text_lines

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"the text body is not UTF-8 (byte {exc.start})", hint="send the texts as UTF-8") from None
    return [{column: line} for line in text_lines(text)]


async def _uploads(http: Request, kind: str, max_rows: int) -> tuple[Records, list[str]]:
    """Rows of multipart files: each file an image (image models; bytes, decoded in memory) or a CSV."""
    form = await http.form(max_files=max_rows, max_fields=16)
    uploads = [value for _, value in form.multi_items() if hasattr(value, "read")]
    if not uploads:
        raise DataError("the multipart request holds no file", hint="send the files as form fields named files")
    rows: Records = []
    names: list[str] = []
    for upload in uploads:
        data = await upload.read()
        name = str(getattr(upload, "filename", "") or f"file {len(names) + 1}")
        if kind == "image":
            rows.append({IMAGE_FIELD: data, "file": name})
            names.append(name)
        else:
            rows.extend(_csv_rows(data, name))
    return rows, names if kind == "image" else []


def _document_request(app: FastAPI, request: type[BaseModel]) -> None:
    """Put the request model (built at run time, read by hand in /predict) into the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            schema = request.model_json_schema(ref_template="#/components/schemas/{model}")
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["PredictRequest"] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _request_body(kind: str) -> dict[str, Any]:
    """/predict's body in the OpenAPI document: JSON records (the schema below), CSV, or files."""
    files = {
        "type": "object",
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    }
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
        "multipart/form-data": {"schema": files},
    }
    if kind != "image":
        content["text/csv"] = {"schema": {"type": "string"}, "example": "column,...\nvalue,...\n"}
    if kind == "text":
        content["text/plain"] = {"schema": {"type": "string", "description": "one text per line"}}
    return {"required": True, "content": content}


def _description(metadata: dict[str, Any], kind: str) -> str:
    classes = metadata.get("classes")
    what = f"{metadata.get('task', 'prediction')} of {metadata.get('target', 'the target')} from {kind} input"
    listed = f"; classes: {', '.join(map(str, classes[:20]))}" if classes else ""
    return f"deepfit model `{metadata.get('name', '')}`: {what}{listed}. `GET /metadata` describes the input."
