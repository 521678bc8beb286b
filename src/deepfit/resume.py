"""What a resume checks before it writes anything: the run's own config (a config whose data or model differ
is refused), trusted and unchanged code, and the same data (its fingerprint in the checkpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfit.config import Config, flatten, load_config, load_saved_config


def resume_config(
    run_dir: str | Path, config: Any, overrides: list[str] | dict[str, Any] | None, trust_code: bool = False
) -> tuple[Config, dict[str, Any]]:
    """The config to resume with, and the checkpoint; a config whose data or model differ is refused."""
    from deepfit.errors import ConfigError, RunError
    from deepfit.models.select import chosen_config
    from deepfit.runs import CHECKPOINTS
    from deepfit.training.checkpoint import load_checkpoint

    if not Path(run_dir).is_dir():
        raise RunError(f"no run directory {run_dir}", hint="pass the directory printed by `deepfit train`")
    checkpoint = load_checkpoint(Path(run_dir) / CHECKPOINTS / "last.pt")
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("config"), dict):
        raise RunError(f"{run_dir}: its checkpoint holds no config; it was not written by deepfit train")
    saved = load_saved_config(checkpoint["config"])  # a run of an older deepfit saved every model key
    cfg = load_config(config if config is not None else saved, overrides).with_absolute_paths()
    if cfg.model.name == "auto":  # auto was resolved when the run started; keys the user set still count
        kept = {k: v for k, v in saved.model.model_dump().items() if k not in cfg.model.model_fields_set}
        try:
            cfg.model = chosen_config(cfg.model, {**kept, "name": saved.model.name}, "when the run started")
        except ConfigError as exc:  # a key of another architecture: it cannot change the saved model
            raise RunError(f"{run_dir}: {exc.message}", hint=exc.hint) from None
    if config is not None and cfg.data.kind == "auto":
        cfg.data.kind = saved.data.kind  # so was the data's kind
    if config is not None and cfg.data.preprocess.scaling == "auto":
        cfg.data.preprocess.scaling = saved.data.preprocess.scaling  # and the scaling
    if config is not None:  # train keys the config leaves unset keep the run's (an architecture's defaults)
        cfg.train = saved.train.model_copy(update={k: getattr(cfg.train, k) for k in cfg.train.model_fields_set})
    changed = [
        key
        for section in ("data", "model")
        for key, value in flatten(getattr(cfg, section).model_dump(mode="json"), f"{section}.").items()
        if flatten(getattr(saved, section).model_dump(mode="json"), f"{section}.").get(key) != value
    ]
    if changed:
        raise RunError(
            f"{run_dir}: its checkpoint was trained with a different config ({', '.join(changed[:8])} differ)",
            hint="resume with the run's own config (deepfit train --resume RUN_DIR, no CONFIG), or start a new run",
        )
    from deepfit.code import check_trusted

    where = f"the run {run_dir}"
    if cfg.model.name == "custom":
        check_trusted(checkpoint.get("builder"), getattr(cfg.model, "builder", None), trust_code, where)
    for key, value in cfg.code_names().items():  # train.optimizer: opt.py:make and the like
        if key != "model.builder":
            check_trusted((checkpoint.get("code") or {}).get(key), value, trust_code, where, key=key)
    return cfg, checkpoint


def check_same_data(
    run: Path, checkpoint: dict[str, Any], now: dict[str, Any], allow_changed: bool, console: Any
) -> None:
    from deepfit.data.fingerprint import changes
    from deepfit.errors import RunError

    saved = checkpoint.get("data_fingerprint")
    found = changes(saved, now) if saved is not None else []
    if found and not allow_changed:
        raise RunError(
            f"{run}: the data changed since the run started: {'; '.join(found)}",
            hint="restore the data the run started with, or pass --allow-changed-data to go on training on it "
            "(the resumed run will no longer be reproducible)",
        )
    for line in found:
        console.print(f"warning: {line} (--allow-changed-data)")
    position = (checkpoint.get("extra") or {}).get("position")
    epoch = checkpoint.get("epoch", 0) + (position is not None)
    within = f" (mid-epoch {epoch}, batch {position['batch']})" if position else ""
    console.print(f"resuming {run} from epoch {checkpoint.get('epoch', 0)}, step {checkpoint.get('step', 0)}{within}")
