"""The GAN loop: a discriminator step and a generator step per batch, two optimizers, its own checkpoints.

``deepfit train`` comes here when ``model.name`` is ``gan`` (after the data pipeline has prepared the data):
tables are re-encoded with every column generated (the target too), images are rescaled to [-1, 1] for the
generator's tanh. Losses: non-saturating (DCGAN; D(real) and D(fake) are probabilities) or WGAN-GP (the
critic's scores; ``model.gan_n_critic`` critic steps per generator step). Each epoch writes a row of
metrics.jsonl and ``checkpoints/last.pt``; the end writes samples.csv or samples.png, ``model/`` and eval.json.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from deepfit.config import Config
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError, RunError, TrainingError
from deepfit.evaluation import gan_eval
from deepfit.models.gan import GAN, GanCodec, build_gan, write_samples
from deepfit.runs import (
    CHECKPOINTS,
    CONFIG,
    DATA_REPORT,
    EVAL,
    METRICS,
    write_json,
    write_jsonl,
    write_text,
)
from deepfit.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from deepfit.training.interrupts import Interrupts
from deepfit.training.trainer import TrainingInterrupted, resolve_device, seed_everything

GRID = 64  # images in samples.png
SMALL = 2_000_000  # parameters: below this, a GAN trains on one CPU thread


@dataclass
class GanData:
    """Real data in the generator's space; ``real`` is what the end scores are measured against."""

    spec: DataSpec
    codec: GanCodec
    train: torch.Tensor
    validation: torch.Tensor | None
    real: torch.Tensor
    real_split: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # tables: rows as read, per split
    labels: dict[str, torch.Tensor] = field(default_factory=dict)  # images: class of each real image


def gan_data(cfg: Config, prepared: Any) -> GanData:
    """Tables: all kept columns, encoded by a codec fitted on train; images: the pipeline's tensors in [-1, 1]."""
    spec, splits = prepared.spec, prepared.tensors
    real_split = next(s for s in ("test", "validation", "train") if s in splits)
    if spec.kind == "image":
        state = prepared.preprocessor.state
        mean = torch.tensor(state["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(state["std"]).view(1, -1, 1, 1)
        images = {name: (t.inputs[0] * std + mean) * 2 - 1 for name, t in splits.items()}  # undo, then [0,1] → [-1,1]
        classified = spec.task == "classification"
        codec = GanCodec.for_images(spec.input_shape, spec.class_names if classified else [], state["target"])
        labels = {name: t.target for name, t in splits.items()} if classified else {}
        gan_spec = DataSpec(
            "generation",
            spec.n_features,
            1,
            kind="image",
            input_shape=spec.input_shape,
            class_names=codec.classes,
            n_train=len(images["train"]),
        )
        return GanData(
            gan_spec, codec, images["train"], images.get("validation"), images[real_split], real_split, labels=labels
        )
    if spec.kind != "tabular":
        raise ConfigError(
            f"model.name gan works on tables and images; this data is {spec.kind}",
            hint="use data.kind: tabular or image, or another model.name",
        )
    frames = {name: prepared.frames[name] for name in splits}
    codec = GanCodec.fit_tabular(frames["train"], prepared.schema, cfg.data.clean)
    encoded = {name: codec.encode(frame) for name, frame in frames.items()}
    gan_spec = DataSpec(
        "generation", encoded["train"].shape[1], 1, extra={"gan_blocks": codec.blocks}, n_train=len(frames["train"])
    )
    return GanData(
        gan_spec, codec, encoded["train"], encoded.get("validation"), encoded[real_split], real_split, frames=frames
    )


def train_gan(
    cfg: Config,
    prepared: Any,
    *,
    run: Path,
    consoles: tuple[Any, Any],
    resume: dict | None,
    payload: dict[str, Any],
    started: float,
) -> Any:
    """The whole GAN run, from prepared data to eval.json; returns api.TrainResult like the supervised path.

    ``run`` is the claimed (locked) run directory; ``consoles`` are (messages on stderr, results on stdout).
    """
    from deepfit.api import TrainResult
    from deepfit.predictor import save_model

    console, out = consoles
    data = gan_data(cfg, prepared)
    cfg.data.kind = data.spec.kind
    seed_everything(cfg.train.seed)
    model = build_gan(data.spec, cfg.model)
    if resume is not None:
        _check_resumable(resume, model)  # before anything in the run directory is rewritten
    g, d = (sum(p.numel() for p in net.parameters()) for net in (model.generator, model.discriminator))
    console.print(f"[bold]Model[/bold] gan ({cfg.model.gan_loss}): generator {g:,} and discriminator {d:,} parameters")

    write_text(run / CONFIG, cfg.to_yaml())
    write_json(run / DATA_REPORT, prepared.report)
    payload = {**payload, "config": cfg.to_dict()}
    with small_on_one_thread(model, cfg.train.device):
        history = fit_gan(model, data, cfg, run, console, resume, payload)
        model.cpu()
        n = len(data.frames["train"]) if not data.codec.is_image else GRID
        samples_path = run / ("samples.png" if data.codec.is_image else "samples.csv")
        write_samples(data.codec.decode(model.sample(n, seed=cfg.train.seed)), samples_path)
        save_model(run, model, data.spec, data.codec, cfg.model)
        metrics = {data.real_split: evaluate(model, data, cfg.train.seed, cfg.model.gan_loss)}
    write_json(run / EVAL, metrics)  # last: a run with eval.json is finished
    print_results(out, metrics[data.real_split], data.real_split)
    if cfg.output.report:
        from deepfit.evaluation.report import write_report

        write_report(run, console)
    seconds = time.perf_counter() - started
    out.print(f"Samples: {samples_path}\nRun saved to [bold]{run}[/bold] ({seconds:.1f} s, {len(history)} epochs)")
    return TrainResult(run, metrics, history, len(history), "", seconds)


# ---------------------------------------------------------------- the loop
def fit_gan(
    model: GAN,
    data: GanData,
    cfg: Config,
    run: Path,
    console: Any,
    resume: dict | None = None,
    payload: dict[str, Any] | None = None,
) -> list[dict]:
    """Train both nets for ``train.epochs`` (from a checkpoint's epoch when resuming); returns the epoch rows."""
    train_cfg, mcfg = cfg.train, cfg.model
    device = resolve_device(train_cfg.device)
    model.to(device)
    real_data = data.train.to(device)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=mcfg.gan_lr_g, betas=mcfg.gan_betas)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=mcfg.gan_lr_d, betas=mcfg.gan_betas)
    shuffle = torch.Generator().manual_seed(train_cfg.seed)
    epoch, d_steps, history = 0, 0, []
    if resume is not None:
        epoch, d_steps, history = _restore(resume, model, opt_g, opt_d, shuffle)
    progress = _progress(console, train_cfg.epochs, epoch)
    interrupts = Interrupts()  # Ctrl-C / SIGTERM: the epoch under way finishes, is saved, and the run stops
    try:
        interrupts.install()
        while epoch < train_cfg.epochs:
            start = time.perf_counter()
            order = torch.randperm(len(real_data), generator=shuffle).to(device)
            row, d_steps = train_epoch(model, opt_g, opt_d, real_data[order], train_cfg.batch_size, mcfg, d_steps)
            epoch += 1
            row = {"epoch": epoch, **row}
            _stop_if_not_finite(row, run, cfg)
            row.update(epoch_scores(model, data, train_cfg.seed))
            row["seconds"] = round(time.perf_counter() - start, 3)
            history.append(row)
            last = epoch == train_cfg.epochs
            write_jsonl(run / METRICS, history, durable=last)  # atomic every epoch; fsynced at the end
            if epoch % cfg.output.checkpoint_every == 0 or last or interrupts.signal:
                state = {**(payload or {}), **_checkpoint(model, opt_g, opt_d, epoch, d_steps, history, shuffle, cfg)}
                save_checkpoint(run / CHECKPOINTS / "last.pt", state, durable=last or bool(interrupts.signal))
            if progress is not None:
                progress.update(progress.task_ids[0], completed=epoch, status=_status(row))
                progress.refresh()
            if interrupts.signal and not last:
                raise TrainingInterrupted(
                    f"interrupted by {interrupts.signal} after epoch {epoch}; a checkpoint was saved to "
                    f"{run / CHECKPOINTS / 'last.pt'}",
                    hint=f"continue with: deepfit train --resume {run}",
                )
    finally:
        interrupts.release()
        if progress is not None:
            progress.stop()
    return history


def train_epoch(
    model: GAN, opt_g: Any, opt_d: Any, real_data: torch.Tensor, batch_size: int, mcfg: Any, d_steps: int
) -> tuple[dict[str, Any], int]:
    """One pass over the (shuffled) real rows: a discriminator step per batch, a generator step every n_critic.

    Returns the epoch's mean losses and scores (one host sync, at the end) and the running discriminator steps.
    """
    gen, disc = model.generator, model.discriminator
    wgan = mcfg.gan_loss == "wgan_gp"
    n_critic = mcfg.gan_n_critic or (5 if wgan else 1)
    show = (lambda s: s) if wgan else torch.sigmoid  # D(real), D(fake): the critic's scores, or probabilities
    sums = {k: torch.zeros((), device=real_data.device) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    batch, batches, g_steps = min(batch_size, len(real_data)), 0, 0
    model.train()
    for first in range(0, len(real_data) - batch + 1, batch):  # full batches only: batch norm needs several rows
        real = real_data[first : first + batch]
        fake = gen(torch.randn(len(real), model.latent_dim, device=real.device))
        score_real, score_fake = disc(real), disc(fake.detach())
        if wgan:  # real scored high, generated low, with gradients of norm 1 in between
            d_loss = score_fake.mean() - score_real.mean() + mcfg.gan_gp_weight * gradient_penalty(disc, real, fake)
        else:
            d_loss = bce(score_real, 1.0) + bce(score_fake, 0.0)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d_steps, batches = d_steps + 1, batches + 1
        sums["d_loss"] += d_loss.detach()
        sums["d_real"] += show(score_real.detach()).mean()
        sums["d_fake"] += show(score_fake.detach()).mean()
        if d_steps % n_critic == 0:
            score = disc(fake)  # the updated discriminator on the same samples, as DCGAN does
            # non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z))), whose gradient vanishes early
            g_loss = -score.mean() if wgan else bce(score, 1.0)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            model.update_average(d_steps // n_critic)
            sums["g_loss"] += g_loss.detach()
            g_steps += 1
    row = {k: v.item() / max(g_steps if k == "g_loss" else batches, 1) for k, v in sums.items()}
    if not g_steps:  # n_critic larger than the batches of an epoch: no generator step this time
        row["g_loss"] = None
    return row, d_steps


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def gradient_penalty(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """(‖∇D(x̂)‖ − 1)² at random points x̂ between real and generated samples (Gulrajani et al., 2017)."""
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    mixed = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


# ---------------------------------------------------------------- scores
@torch.no_grad()
def epoch_scores(model: GAN, data: GanData, seed: int) -> dict[str, float]:
    """Cheap per-epoch scores against the validation split: per-column distances, or image diversity."""
    if data.validation is None:
        return {}
    n = min(len(data.validation), 1000)
    fake = model.sample(n, seed=seed)
    if data.codec.is_image:
        real_div = gan_eval.diversity(data.validation, n=256, seed=seed)
        return {"val_diversity_ratio": gan_eval.diversity(fake, n=256, seed=seed) / max(real_div, 1e-12)}
    columns = gan_eval.column_distances(data.frames["validation"], data.codec.decode(fake), data.codec)
    out = {}
    for key, kind in (("wasserstein", "numeric"), ("tvd", "categorical")):
        values = [c[key] for c in columns.values() if c["kind"] == kind]
        if values:
            out[f"val_{key}"] = sum(values) / len(values)
    return out


def evaluate(model: GAN, data: GanData, seed: int, gan_loss: str = "non_saturating") -> dict[str, Any]:
    """The end scores on held-out real data, against as many generated samples (as saved: decoded)."""
    fake = model.sample(len(data.real), seed=seed + 1)  # not the seed of the epoch scores
    if not data.codec.is_image:
        return gan_eval.evaluate_tabular(
            data.frames[data.real_split], data.codec.decode(fake), data.codec, seed=seed, gan_loss=gan_loss
        )
    fake = torch.as_tensor(data.codec.decode(fake)).permute(0, 3, 1, 2).float() / 127.5 - 1  # as in the PNGs
    labels = data.labels
    train = (data.train, labels["train"]) if labels else None
    return gan_eval.evaluate_images(
        data.real,
        fake,
        train=train,
        real_labels=labels.get(data.real_split),
        classes=data.codec.classes,
        seed=seed,
        gan_loss=gan_loss,
    )


def _status(row: dict[str, Any]) -> str:
    """Short enough for an 80-column terminal: losses, D(real) and D(fake), the first validation score."""
    g_loss = "—" if row["g_loss"] is None else f"{row['g_loss']:.2f}"
    parts = [f"d {row['d_loss']:.2f}", f"g {g_loss}", f"D {row['d_real']:.2f}/{row['d_fake']:.2f}"]
    scores = [f"{k.removeprefix('val_')} {row[k]:.3f}" for k in row if k.startswith("val_")]
    return " ".join(parts + scores[:1])


def print_results(console: Any, report: dict[str, Any], split: str) -> None:
    """The headline scores of eval.json as a table, then the findings (also ``deepfit evaluate RUN``)."""
    from rich.table import Table

    from deepfit.evaluation.gan_report import score_rows

    table = Table(title=f"GAN evaluation ({split} split)", title_justify="left")
    table.caption = f"{report['n_real']} real and {report['n_generated']} generated samples"
    table.add_column("score")
    table.add_column("value", justify="right")
    table.add_column("ideal", justify="right")
    for label, value, ideal in score_rows(report):
        table.add_row(label, f"{value:.3f}", ideal)
    console.print(table)
    for line in report["findings"]:
        console.print(f"  • {line}")


# ---------------------------------------------------------------- checkpoints, errors, progress
def _checkpoint(model: GAN, opt_g: Any, opt_d: Any, epoch: int, d_steps: int, history: list, shuffle: Any, cfg: Config):
    return {
        "model": model.state_dict(),  # generator, discriminator and the generator's moving average
        "optimizer_g": opt_g.state_dict(),
        "optimizer_d": opt_d.state_dict(),
        "epoch": epoch,
        "d_steps": d_steps,
        "history": history,
        "shuffle": shuffle.get_state(),
        "rng": rng_state(),
        "config": cfg.to_dict(),
    }


def _check_resumable(checkpoint: dict, model: GAN) -> None:
    if "optimizer_g" not in checkpoint:
        raise RunError("the checkpoint is not a GAN's", hint="resume with the run's own config")
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise RunError(
            f"the checkpoint does not fit this GAN: {str(exc).splitlines()[0][:200]}",
            hint="resume with the run's own config (the model or data settings differ)",
        ) from None


def _restore(checkpoint: dict, model: GAN, opt_g: Any, opt_d: Any, shuffle: Any) -> tuple[int, int, list]:
    _check_resumable(checkpoint, model)
    opt_g.load_state_dict(checkpoint["optimizer_g"])
    opt_d.load_state_dict(checkpoint["optimizer_d"])
    shuffle.set_state(checkpoint["shuffle"])
    set_rng_state(checkpoint["rng"])  # last: building the nets consumed random numbers
    return checkpoint["epoch"], checkpoint["d_steps"], list(checkpoint["history"])


def _stop_if_not_finite(row: dict[str, Any], run: Path, cfg: Config) -> None:
    bad = next((k for k in ("d_loss", "g_loss") if row[k] is not None and not math.isfinite(row[k])), None)
    if bad is None:
        return
    last = run / CHECKPOINTS / "last.pt"
    kept = (
        f" The last good checkpoint (epoch {load_checkpoint(last)['epoch']}) is kept at {last}."
        if last.exists()
        else ""
    )
    lr_g, lr_d = cfg.model.gan_lr_g, cfg.model.gan_lr_d
    raise TrainingError(
        f"the GAN's {bad.replace('_', ' ')} became {row[bad]} at epoch {row['epoch']}; training stopped.{kept}",
        hint=f"lower the learning rates (now gan_lr_g {lr_g:g}, gan_lr_d {lr_d:g}; try "
        f"--set model.gan_lr_g={lr_g / 4:g} --set model.gan_lr_d={lr_d / 4:g}), or --set model.gan_loss=wgan_gp",
    )


@contextlib.contextmanager
def small_on_one_thread(model: nn.Module, device: str) -> Iterator[None]:
    """Small nets on the CPU: one thread. Their layers are too small to share out, and the hand-offs between
    threads cost more than they gain (ten times more on a busy two-core machine)."""
    threads = torch.get_num_threads()
    if resolve_device(device).type == "cpu" and sum(p.numel() for p in model.parameters()) < SMALL:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _progress(console: Any, epochs: int, done: int) -> Any:
    """One bar over epochs, redrawn once per epoch; none when quiet."""
    if console is None or console.quiet:
        return None
    from deepfit.training.callbacks import epoch_progress

    return epoch_progress(console, epochs, done)
