"""Run the app on uvicorn: ``serve(path, host=..., port=..., workers=...)``, what ``deepfit serve`` calls.

One worker serves the app object built here (the model is loaded before the port is bound, so a bad folder is
one error and no server). Several workers are separate processes started by uvicorn, each importing
:func:`app_from_env` (an import string and a factory, as uvicorn requires): the model folder, the settings and
the trust flag reach them through environment variables, and each worker loads its own copy of the model and
takes ``cores / workers`` threads for PyTorch (``--threads``), so the workers do not fight over the cores.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from deepfit.errors import ConfigError

ENV_MODEL, ENV_SETTINGS, ENV_TRUST, ENV_THREADS = (
    "DEEPFIT_SERVE_MODEL",
    "DEEPFIT_SERVE_SETTINGS",
    "DEEPFIT_SERVE_TRUST_CODE",
    "DEEPFIT_SERVE_THREADS",
)


def require_serving() -> None:
    """FastAPI, uvicorn and python-multipart are the ``serve`` extra, not core dependencies."""
    import importlib.util

    missing = [name for name in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"deepfit serve needs {', '.join(missing)}, which is not installed",
            hint="pip install 'deepfit[serve]'",
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    settings: Any = None,
    trust_code: bool = False,
    threads: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve a run directory or an exported folder until Ctrl-C (or SIGTERM).

    ``threads``: PyTorch's threads in each worker (default: PyTorch's own for one worker, the cores shared out
    among several).
    """
    require_serving()
    import uvicorn

    from deepfit.serve.app import ServeSettings, create_app
    from deepfit.serve.backends import load_backend

    if workers < 1 or (threads is not None and threads < 1):
        raise ConfigError(f"--workers and --threads must be 1 or more; got {workers} and {threads}")
    settings = settings or ServeSettings()
    if threads is None and workers > 1:  # one worker keeps PyTorch's default
        threads = max(1, (os.cpu_count() or 1) // workers)
    backend = load_backend(path, trust_code=trust_code)  # a bad folder fails here, before the port is bound
    if threads is not None:
        _set_threads(backend, threads)
    if not is_loopback(host):
        print(
            f"warning: serving on {host}: anyone who can reach this machine can call the model (no authentication; "
            "put a proxy with authentication in front of it)",
            file=sys.stderr,
        )
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    print(f"serving {path} at {where} (API docs: {where}/docs; Ctrl-C to stop)", file=sys.stderr)
    if workers == 1:
        uvicorn.run(create_app(backend, settings), host=host, port=port, log_level=log_level)
        return
    del backend
    os.environ.update(
        {
            ENV_MODEL: str(Path(path).expanduser().resolve()),
            ENV_SETTINGS: json.dumps(settings.to_dict()),
            ENV_TRUST: "1" if trust_code else "",
            ENV_THREADS: str(threads or ""),
        }
    )
    uvicorn.run(
        "deepfit.serve.server:app_from_env", factory=True, host=host, port=port, workers=workers, log_level=log_level
    )


def app_from_env() -> Any:
    """The app of one uvicorn worker process, from the environment :func:`serve` set."""
    from deepfit.serve.app import ServeSettings, create_app
    from deepfit.serve.backends import load_backend

    path = os.environ.get(ENV_MODEL)
    if not path:
        raise ConfigError(f"{ENV_MODEL} is not set", hint="start the server with: deepfit serve RUN_DIR --workers N")
    settings = replace(ServeSettings(), **json.loads(os.environ.get(ENV_SETTINGS) or "{}"))
    backend = load_backend(path, trust_code=bool(os.environ.get(ENV_TRUST)))
    if os.environ.get(ENV_THREADS):
        _set_threads(backend, int(os.environ[ENV_THREADS]))
    return create_app(backend, settings)


def _set_threads(backend: Any, threads: int) -> None:
    """PyTorch's intra-op threads for a run's model (an exported model's threads are onnxruntime's)."""
    from deepfit.serve.backends import RunBackend

    if isinstance(backend, RunBackend):
        import torch

        torch.set_num_threads(threads)
