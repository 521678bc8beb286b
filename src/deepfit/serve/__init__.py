"""``deepfit serve``: a run directory or an exported model behind an HTTP API (FastAPI on uvicorn).

``app.py`` (``create_app(backend, settings)``: routes, validation, limits), ``batching.py`` (the micro-batcher),
``backends.py`` (``RunBackend`` on PyTorch, ``ExportBackend`` on ``deepfit.runtime``), ``schema.py`` (request
models from the input schema), ``server.py`` (uvicorn, ``--workers``). See docs/serving.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServeSettings", "create_app", "load_backend", "serve"]


def __getattr__(name: str) -> Any:  # FastAPI loads with the first use, not with the package
    if name in ("ServeSettings", "create_app"):
        from deepfit.serve import app

        return getattr(app, name)
    if name == "load_backend":
        from deepfit.serve.backends import load_backend

        return load_backend
    if name == "serve":
        from deepfit.serve.server import serve

        return serve
    raise AttributeError(f"module 'deepfit.serve' has no attribute {name!r}")
