"""``deepfit export RUN_DIR``: a trained run as a folder that predicts without deepfit's training code.

The folder holds the network (ONNX through ``torch.onnx.export(dynamo=True)``, or ``torch.export``'s .pt2),
the fitted preprocessing as JSON, ``schema.json``, ``metadata.json``, ``parity.json``, a ``Dockerfile``, a
README and, for ONNX, the NumPy + onnxruntime runtime (``deepfit.runtime``, copied as ``deepfit_runtime.py``,
and ``predict.py``). Parity is proven before anything is written: the exported file runs on held-out rows at
batch 1, 8 and N and must agree with PyTorch (``parity.py``); for tables the runtime's own preprocessing and
predictions must equal ``Predictor``'s on the same raw rows (image files, texts).

Held-out rows: the run's ``config.yaml`` is read again and its data prepared as in training (same seed, same
split), and the test split taken (validation when there is no test split); the saved preprocessor, not a
refitted one, turns raw table rows into inputs. ``data=`` (``--data FILE``) gives rows of your own instead,
for a run whose data has moved or was passed as a DataFrame. A GAN run exports its generator (``gan.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfit.errors import ConfigError, RunError

__all__ = ["ExportResult", "export_run"]


@dataclass
class ExportResult:
    path: Path
    format: str
    parity: dict[str, Any]


def export_run(
    run_dir: str | Path,
    output: str | Path | None = None,
    *,
    format: str = "onnx",
    data: Any = None,
    overwrite: bool = False,
    tolerance: float | None = None,
    trust_code: bool = False,
) -> ExportResult:
    """Export ``run_dir`` to ``output`` (default ``RUN_DIR/export-<format>``) and return the parity figures."""
    from deepfit.export.capture import FORMATS

    if format not in FORMATS:
        raise ConfigError(f"unknown export format '{format}'", hint="use --format onnx or --format pt2")
    from deepfit.runs import require_run_dir

    run = require_run_dir(run_dir)  # before anything is created
    target = Path(output) if output is not None else run / f"export-{format}"
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise RunError(f"{target} already exists", hint="pass --overwrite to replace it, or -o another folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        parity = _write(run, staging, format, data, tolerance, trust_code)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(target, format, parity)


def _swap(staging: Path, target: Path) -> None:
    """The new folder in place of the old one: the old one is renamed away first, removed last."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(run: Path, folder: Path, fmt: str, data: Any, tolerance: float | None, trust_code: bool) -> dict[str, Any]:
    import torch

    from deepfit import __version__
    from deepfit.export.capture import FORMATS, capture, runner
    from deepfit.export.folder import PREDICT_PY, RUNTIME_COPY, dockerfile, readme, schema
    from deepfit.export.heldout import held_out, input_arrays, run_metrics
    from deepfit.export.parity import ATOL, RTOL, check_parity
    from deepfit.predictor import Predictor, read_meta
    from deepfit.runs import MODEL, write_json, write_text

    meta = read_meta(Path(run) / MODEL)
    name = meta["model"].get("name", "?")
    torch.manual_seed(0)
    predictor, raw = None, None
    if meta["spec"].get("task") == "generation" or name == "gan":
        from deepfit.export.gan import generator_parts

        model, inputs, saved, about = generator_parts(run)
    else:
        predictor = Predictor.load(run, trust_code=trust_code)
        model, pre = predictor.model.cpu().eval(), predictor.preprocessor
        inputs, raw = held_out(run, predictor, data)
        saved = pre.to_dict()
        about = {
            "task": predictor.spec.task,
            "target": pre.state.get("target"),
            "classes": list(predictor.classes) if predictor.spec.task == "classification" else None,
            "kind": saved.get("kind", predictor.spec.kind),
            "output_names": pre.output_names,
        }
    model_file = folder / FORMATS[fmt]
    capture(model, inputs, fmt, model_file, name)
    atol, rtol = (tolerance, tolerance) if tolerance is not None else (ATOL, RTOL)
    parity = check_parity(model, runner(fmt, model_file), inputs, task=about["task"], atol=atol, rtol=rtol)
    parity["format"] = fmt
    metadata = {
        **about,
        "architecture": name,
        "model": meta["model"],
        "metrics": run_metrics(run),
        "deepfit_version": __version__,
        "torch_version": torch.__version__,
        "format": fmt,
        "model_file": FORMATS[fmt],
        "run": Path(run).resolve().name,  # its name only: the folder is shipped elsewhere
        "inputs": input_arrays(inputs),
        **(_onnx_versions(model_file) if fmt == "onnx" else {}),
    }
    write_json(folder / "preprocessing.json", saved)
    write_json(folder / "metadata.json", metadata)
    write_json(folder / "schema.json", schema(saved, metadata["inputs"]))
    if fmt == "onnx":
        from deepfit import runtime

        write_text(folder / RUNTIME_COPY, Path(runtime.__file__).read_text(encoding="utf-8"))
        write_text(folder / "predict.py", PREDICT_PY)
        if predictor is not None and raw is not None and metadata["kind"] in ("tabular", "image", "text"):
            from deepfit.export.heldout import runtime_parity

            parity["runtime"] = runtime_parity(folder, predictor, raw, atol, rtol)
    write_json(folder / "parity.json", parity)
    write_text(folder / "Dockerfile", dockerfile(fmt, __version__))
    write_text(folder / "README.md", readme(metadata, parity, fmt))
    with contextlib.suppress(OSError):
        folder.chmod(0o755)  # mkdtemp made it private; the folder is meant to be shipped
    return parity


def _onnx_versions(path: Path) -> dict[str, Any]:
    """The opset the file was written for and the onnxruntime its parity was checked with."""
    import onnx
    import onnxruntime

    opsets = {
        op.domain or "ai.onnx": int(op.version) for op in onnx.load(str(path), load_external_data=False).opset_import
    }
    return {"onnx_opset": opsets.get("ai.onnx"), "onnxruntime_version": onnxruntime.__version__}
