"""The files of an export folder besides the model: schema, metadata, Dockerfile, README, predict.py.

Everything here is plain text or JSON made from the run's saved files; the folder is written to a temporary
sibling and renamed into place (``deepfit.export.export_run``), so a failed export leaves nothing behind.
"""

from __future__ import annotations

import platform
from importlib import metadata as dist
from typing import Any

RUNTIME_COPY = "deepfit_runtime.py"  # the runtime module, copied so the folder works without deepfit


def version(package: str) -> str | None:
    try:
        return dist.version(package)
    except dist.PackageNotFoundError:
        return None


def feature_types(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each feature column of a table's preprocessing: its JSON type and what it accepts."""
    types: dict[str, dict[str, Any]] = {c: {"type": "number"} for c in state["numeric"]["columns"]}
    types.update({c: {"type": "boolean"} for c in state["boolean"]["columns"]})
    for group in ("onehot", "embedding"):
        for column, info in state[group].items():
            types[column] = {"type": "string", "categories": list(info["categories"])}
    for column, info in state.get("date", {}).items():
        types[column] = {"type": "date", "format": info["format"]}
    for column in state.get("text", {}).get("columns", []):
        types[column] = {"type": "text"}
    return types


def schema(preprocessing: dict[str, Any], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """``fields`` (raw columns, tables only) and ``inputs`` (the model's arrays, batch first)."""
    state = preprocessing.get("state", preprocessing)  # a GAN's codec keeps its keys at the top
    result: dict[str, Any] = {"kind": preprocessing["kind"], "inputs": inputs, "target": state.get("target")}
    if preprocessing["kind"] == "tabular":
        types = feature_types(state)
        result["fields"] = [
            {"name": c, **types.get(c, {"type": "string"}), "required": True, "nullable": True}
            for c in state["features"]
        ]
        result["raw_input"] = "records: a list of objects, one key per field; null or a missing key is a missing value"
    elif preprocessing["kind"] == "image":
        size, mode = state["size"], state["mode"]
        result["fields"] = [{"name": "image", "type": "image", "required": True, "size": size, "mode": mode}]
        result["raw_input"] = (
            f"records {{'image': pixels}} (0..255, H x W or H x W x C; {size[0]} x {size[1]} {mode} needs NumPy "
            "only) or {'image': bytes of an image file} (Pillow decodes and resizes, as in training)"
        )
    elif preprocessing["kind"] == "text":
        column = state["text_column"]
        result["fields"] = [{"name": column, "type": "text", "required": True, "nullable": True}]
        result["raw_input"] = f"records {{'{column}': 'a text'}}; needs the tokenizers package (the fitted tokenizer)"
    elif preprocessing["kind"] == "gan":
        result["fields"] = []
        result["raw_input"] = "none: a GAN's generator takes noise; Runtime.sample(n) draws and decodes n samples"
    else:
        result["fields"] = []
        kind = preprocessing["kind"]
        result["raw_input"] = f"model-input arrays only (Runtime.run): raw {kind} input is not supported"
    return result


def dockerfile(fmt: str, deepfit_version: str) -> str:
    """A Dockerfile serving the folder with ``deepfit serve``, every package pinned to the versions here."""
    python = ".".join(platform.python_version_tuple()[:2])
    pins = {name: version(name) for name in ("numpy", "onnxruntime", "torch", "fastapi", "uvicorn")}
    torch_pin = (pins["torch"] or "2.13.0").split("+")[0] + "+cpu"
    packages = [f'"deepfit[serve]=={deepfit_version}"', f"torch=={torch_pin}", f"numpy=={pins['numpy']}"]
    if fmt == "onnx":
        packages.append(f"onnxruntime=={pins['onnxruntime']}")
    packages += [f"{name}=={pins[name]}" for name in ("fastapi", "uvicorn") if pins[name]]
    lines = [
        f"# Serves this exported model ({fmt}) with `deepfit serve`. Made by `deepfit export`; build it with",
        "#   docker build -t my-model . && docker run -p 8000:8000 my-model",
        "# The versions are those the export was made and checked with. torch is the CPU build (deepfit depends",
        "# on it; the default index would pull a CUDA build of several GB).",
        f"FROM python:{python}-slim",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1",
        "RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \\",
        "    " + " \\\n    ".join(packages),
        "WORKDIR /model",
        "COPY . /model",
        "RUN useradd --create-home serve",
        "USER serve",
        "EXPOSE 8000",
        'CMD ["deepfit", "serve", "/model", "--host", "0.0.0.0", "--port", "8000"]',
    ]
    return "\n".join(lines) + "\n"


PREDICT_PY = f'''"""Predict with this exported model: python predict.py input.csv [-o predictions.csv]

Needs only numpy and onnxruntime (pip install numpy onnxruntime). Written by `deepfit export`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from {RUNTIME_COPY[:-3]} import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(export_dir=Path(__file__).resolve().parent))
'''


def readme(meta: dict[str, Any], parity: dict[str, Any], fmt: str) -> str:
    batches = ", ".join(f"batch {b['batch']}: {b['max_abs_diff']:.2g}" for b in parity["batches"])
    fields = {
        "tabular": "raw rows (CSV or JSON records)",
        "image": "images ({'image': pixels or file bytes})",
        "text": "texts (CSV or JSON records; pip install tokenizers)",
    }.get(meta["kind"], "model-input arrays")
    lines = [
        f"# Exported deepfit model: {meta['architecture']} ({meta['task']}, target `{meta['target']}`)",
        "",
        f"Exported from `{meta['run']}` by deepfit {meta['deepfit_version']} as {fmt.upper()}.",
        "",
        "| file | what |",
        "|---|---|",
        f"| `{meta['model_file']}` | the network, batch dimension dynamic |",
        "| `preprocessing.json` | the preprocessing fitted on the training split |",
        "| `schema.json` | the input: raw fields and the model's arrays |",
        "| `metadata.json` | task, classes, metrics of the run, versions |",
        "| `parity.json` | exported vs PyTorch outputs on held-out rows |",
        *([f"| `{RUNTIME_COPY}`, `predict.py` | the runtime: numpy + onnxruntime only |"] if fmt == "onnx" else []),
        "| `Dockerfile` | serves the folder with `deepfit serve` |",
        "",
        f"Parity with PyTorch on {parity['rows']} held-out rows (largest absolute difference): {batches}.",
        "",
    ]
    if fmt == "onnx" and meta["task"] == "generation":
        lines += [
            "A GAN's generator: noise in, samples out. Draw rows with numpy and onnxruntime only:",
            "",
            "```",
            "pip install numpy onnxruntime",
            "python predict.py 100 > samples.csv",
            "```",
            "",
            "or from Python: `import deepfit_runtime as rt; rt.load('.').sample(100)` (images: uint8 N x H x W x C).",
        ]
    elif fmt == "onnx":
        lines += [
            f"Predict on {fields} with numpy and onnxruntime only:",
            "",
            "```",
            "pip install numpy onnxruntime" + {"image": " pillow", "text": " tokenizers"}.get(meta["kind"], ""),
            "python predict.py "
            + ("photo1.png photo2.jpg" if meta["kind"] == "image" else "input.csv")
            + " > predictions.csv",
            "```",
            "",
            "or from Python: `import deepfit_runtime as rt; rt.load('.').predict([{...}])`.",
        ]
    else:
        lines += ["Load it with PyTorch: `torch.export.load('model.pt2').module()(x)` on model-input tensors."]
    return "\n".join(lines) + "\n"
