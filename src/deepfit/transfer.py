"""``model.init_from: RUN_DIR``: a new run that starts from an earlier run's weights (docs/transfer.md).

Not ``--resume``: a resumed run continues the same run (its optimizer, schedule, epoch counter, data and
config); ``init_from`` starts a new one, on other data if need be, whose model is initialised from a finished
run's ``model/`` (Ludwig keeps the two apart as ``model_load_path`` and ``model_resume_path``).

What is read from the source run is plain data: ``model/meta.json``, ``model/preprocessing.json`` and
``model/weights.pt`` with ``torch.load(weights_only=True)``. No code runs, unless the new run takes the source's
architecture (``model.name: auto``) and that is the source's own builder (``model.name: custom``): then only
with ``trust_code``, and only unchanged, as when loading that run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfit.errors import ConfigError, RunError

TRANSFER = "transfer.json"


@dataclass
class SourceRun:
    """A finished run's model, as stored: what ``init_from`` takes from it."""

    dir: Path
    meta: dict[str, Any]  # model/meta.json: the model config and the data spec
    preprocessor: Any  # the fitted preprocessing, reused for this run's inputs where the kinds allow
    weights: dict[str, Any]  # the state dict, tensors only
    trust_code: bool = False  # the source's own builder may run (model.name custom, taken by auto)
    preprocessing: dict[str, Any] | None = None  # whether the data kind reused its preprocessing, and why

    @property
    def architecture(self) -> str:
        return str(self.meta["model"].get("name"))

    def digest(self) -> str:
        """SHA-256 of the source's fitted preprocessing: a resumed run checks it is the one it started with."""
        import hashlib
        import json

        text = json.dumps(self.preprocessor.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_same_source(source: SourceRun, checkpoint: dict[str, Any]) -> None:
    """A resumed run re-reads its source's preprocessing: refuse one that changed since the run started."""
    recorded = checkpoint.get("init_from")
    if recorded is not None and recorded != source.digest():
        raise RunError(
            f"model.init_from: the preprocessing of {source.dir} changed since this run started",
            hint="restore that run directory as it was, or start a new run",
        )


def load_source(run_dir: str | Path, *, trust_code: bool = False) -> SourceRun:
    """The model of a finished run (its ``model/`` folder), read without running any code."""
    from deepfit.data.pipeline import load_preprocessor
    from deepfit.predictor import PREPROCESSING, WEIGHTS, read_meta
    from deepfit.runs import MODEL, read_json
    from deepfit.training.checkpoint import load_checkpoint

    path = Path(run_dir)
    folder = path / MODEL
    if not (folder / "meta.json").is_file():
        unfinished = (path / "checkpoints" / "last.pt").is_file()
        raise RunError(
            f"model.init_from: {path} holds no trained model ({folder / 'meta.json'} is missing)"
            + ("; the run is not finished" if unfinished else ""),
            hint=f"finish it first (deepfit train --resume {path})"
            if unfinished
            else "name a run directory printed by `deepfit train`",
        )
    meta = read_meta(folder)
    preprocessor = load_preprocessor(read_json(folder / PREPROCESSING))
    weights = load_checkpoint(folder / WEIGHTS, "model weights file")
    return SourceRun(path, meta, preprocessor, weights, trust_code)


def source_architecture(model: Any, source: SourceRun) -> Any:
    """``model.name: auto`` with ``init_from``: the source's architecture and keys (those set in the config
    still count), so that its layers fit; the source's own builder runs only with ``trust_code``."""
    from deepfit.config import ModelConfig, saved_model_config
    from deepfit.models.select import chosen_config

    saved = saved_model_config(source.meta["model"])
    if saved.name == "custom":
        from deepfit.code import check_trusted

        check_trusted(source.meta.get("builder"), getattr(saved, "builder", None), source.trust_code, str(source.dir))
    kept = {k: v for k, v in saved.model_dump().items() if k not in model.model_fields_set and k != "init_from"}
    chosen: ModelConfig = chosen_config(model, {**kept, "name": saved.name}, f"model.init_from's run {source.dir}")
    return chosen


def same_outputs(source: SourceRun, spec: Any) -> bool:
    """Whether the source's outputs mean this run's: the same task and classes (then its head is kept too)."""
    theirs = source.meta["spec"]
    if theirs.get("task") != spec.task:
        return False
    if spec.task == "classification":
        return [str(c) for c in theirs.get("class_names", [])] == [str(c) for c in spec.class_names]
    return int(theirs.get("n_outputs", 0)) == spec.n_outputs


def init_from(model: Any, source: SourceRun, spec: Any) -> dict[str, Any]:
    """Load the source's matching tensors into ``model``; the result ``transfer.json`` holds.

    Nothing matching at all (another architecture, say) is a ConfigError: a run that silently starts from
    scratch is not what ``init_from`` asks for.
    """
    from deepfit.models.transfer import load_matching

    result = load_matching(model, source.weights, keep_head=same_outputs(source, spec))
    if not result["loaded"]:
        raise ConfigError(
            f"model.init_from: no layer of {source.dir} (a {source.architecture}) matches this model by name and shape",
            hint=f"use the source's architecture (model.name: {source.architecture}, or auto) and sizes",
        )
    where = {"source": str(source.dir), "architecture": source.architecture}
    return {**where, **result, "preprocessing": source.preprocessing}


def print_transfer(console: Any, result: dict[str, Any], model: Any) -> None:
    """The table of what was loaded, skipped (shape differs) and new, per top-level module (to stderr)."""
    from rich.table import Table

    from deepfit.models.transfer import summary_rows

    table = Table(title=f"Initialised from {result['source']}", title_justify="left")
    for column in ("module", "loaded", "skipped", "new"):
        table.add_column(column, justify="left" if column == "module" else "right")
    for module, loaded, skipped, new in summary_rows(result, model):
        table.add_row(module, str(loaded), str(skipped or ""), str(new or ""))
    console.print(table)
    why = {"shape": "{source} in the source, {model} here", "outputs": "the source's outputs are other classes"}
    lines = [f"{s['name']} newly initialised: {why[s['reason']].format(**s)}" for s in result["skipped"]]
    if result["unused"]:
        unused = result["unused"]
        lines.append(f"{len(unused)} tensors of the source are not in this model: {', '.join(unused[:5])}")
    if result.get("preprocessing"):
        lines.append(result["preprocessing"]["line"])
    for line in lines:
        console.print(f"  • {line}")
