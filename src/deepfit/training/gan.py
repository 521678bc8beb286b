"""The GAN's training step, its data and its scores; ``Trainer.fit`` runs it like any other model.

``deepfit train`` comes here when ``model.name`` is ``gan`` (``api.train`` runs the whole recipe): tables are
re-encoded with every column generated (the target too), images are rescaled to [-1, 1] for the generator's
tanh. :class:`GanStep` is one batch: a discriminator step, and every ``model.gan_n_critic``-th batch a
generator step on the same samples and the generator's moving average. Losses: non-saturating (DCGAN; D(real)
and D(fake) are probabilities) or WGAN-GP (the critic's scores). The loop (``deepfit.training.trainer``) gives a
GAN run what it gives every run: precision, schedules, checkpoints with exact (mid-epoch) resume, Ctrl-C, the
non-finite stop, metrics.jsonl, the progress bar and callbacks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from deepfit.config import Config, ScheduleConfig, TrainConfig
from deepfit.data.batches import Batch, TensorData
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.evaluation import gan_eval
from deepfit.models.gan import GAN, GanCodec
from deepfit.training.schedules import Schedule
from deepfit.training.steps import Hook, TrainStep, backward, clip, precision
from deepfit.training.trainer import FitResult, Trainer, resolve_device

SMALL = 2_000_000  # parameters: below this, a GAN trains on one CPU thread
# train keys a GAN does not use, and what to set instead; set explicitly, they are refused rather than ignored
IGNORED = {
    "lr": "set model.gan_lr_g and model.gan_lr_d",
    "optimizer": "both nets use Adam; set model.gan_betas",
    "weight_decay": "remove it",
    "accumulate": "remove it (raise train.batch_size instead)",
    "loss": "set model.gan_loss",
    "label_smoothing": "remove it",
    "class_weights": "remove it",
    "huber_delta": "remove it",
    "l1": "remove it",
    "early_stopping": "remove it (a GAN trains for train.epochs)",
    "compile": "remove it",
    "diagnostics": "remove it",
    "freeze": "remove it",
    "fine_tune": "remove it",
}


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


def gan_training(train: TrainConfig) -> TrainConfig:
    """A new GAN run's train settings: keys it would not use are refused when set, and the schedule is constant
    unless set (GANs train at fixed rates, as DCGAN does). Saved resolved, so a resume never re-applies it."""
    refused = sorted(train.model_fields_set & IGNORED.keys())
    if refused:
        names = ", ".join(f"train.{key}" for key in refused)
        raise ConfigError(
            f"{names} {'does' if len(refused) == 1 else 'do'} not apply to model.name gan "
            "(two nets, each with its own Adam and loss)",
            hint="; ".join(f"train.{key}: {IGNORED[key]}" for key in refused),
        )
    if "schedule" in train.model_fields_set:
        return train
    return train.model_copy(update={"schedule": ScheduleConfig(name="constant")})


def fit_gan(
    model: GAN,
    data: GanData,
    cfg: Config,
    *,
    callbacks: list[Any] | tuple[Any, ...] = (),
    resume: dict[str, Any] | None = None,
) -> FitResult:
    """Train both nets for ``train.epochs`` with ``Trainer.fit`` (from the checkpoint ``resume``, if given)."""
    step = GanStep(cfg.model, scores=lambda gan: epoch_scores(gan, data, cfg.train.seed))
    rows = TensorData((data.train,), torch.zeros(len(data.train)))  # no target: every column is generated
    return Trainer(cfg.train, callbacks=callbacks).fit(model, rows, resume=resume, step=step)


class GanStep(TrainStep):
    """A discriminator step per batch, a generator step (and its moving average) every ``n_critic``-th.

    Two Adam optimizers at ``model.gan_lr_d`` and ``model.gan_lr_g``, both following ``train.schedule`` over
    the run's batches; ``train.clip_grad_*`` clips each net's gradients; one gradient scaler (fp16) serves both.
    Callbacks' ``after_backward`` sees the discriminator's gradients. Batches are full ones only (batch norm
    needs several rows): an epoch's last, shorter batch is skipped.
    """

    watch = ("d_loss", "g_loss")
    subject = "GAN's "

    def __init__(self, model_config: Any, scores: Callable[[GAN], dict[str, float]] | None = None) -> None:
        self.mcfg, self.scores = model_config, scores

    def begin(self, model: nn.Module, net: nn.Module, train: TensorData, config: TrainConfig, device: Any) -> None:
        mcfg = self.mcfg
        if not isinstance(model, GAN):
            raise TypeError(f"GanStep trains a deepfit.models.gan.GAN; got {type(model).__name__}")
        self.model: GAN = model
        self.config, self.device = config, device
        self.autocast, self.scaler = precision(config, device)
        self.wgan = mcfg.gan_loss == "wgan_gp"
        self.n_critic = mcfg.gan_n_critic or (5 if self.wgan else 1)
        self.batch = min(config.batch_size, len(train))
        per_epoch = max(len(train) // self.batch, 1)
        total = config.epochs * per_epoch
        self.opt_g = torch.optim.Adam(model.generator.parameters(), lr=mcfg.gan_lr_g, betas=mcfg.gan_betas)
        self.opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=mcfg.gan_lr_d, betas=mcfg.gan_betas)
        self.schedule_g = Schedule(self.opt_g, config.schedule, mcfg.gan_lr_g, total, per_epoch)
        self.schedule_d = Schedule(self.opt_d, config.schedule, mcfg.gan_lr_d, total, per_epoch)
        self.optimizer, self.schedule, self.lr = self.opt_g, self.schedule_g, mcfg.gan_lr_g  # what callbacks see
        self.d_steps = 0

    def start_epoch(self, partial: dict[str, Any] | None) -> None:
        self.started = time.perf_counter()
        if partial is None:
            self.sums = {k: torch.zeros((), device=self.device) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
            self.batches = self.g_steps = 0
        else:
            self.sums = {k: v.to(self.device) for k, v in partial["sums"].items()}
            self.batches, self.g_steps = partial["batches"], partial["g_steps"]

    def step(self, index: int, batch: Batch, after_backward: Hook) -> bool:
        (real,), _ = batch
        if len(real) < self.batch:
            return False  # the epoch's last, shorter batch
        fake = self._discriminator_step(real, after_backward)
        self.d_steps += 1
        if self.d_steps % self.n_critic == 0:
            self._generator_step(fake)
        self.scaler.update()  # once for both optimizers
        self.schedule_d.step()
        self.schedule_g.step()
        return True

    def _discriminator_step(self, real: torch.Tensor, after_backward: Hook) -> torch.Tensor:
        """Real scored high, generated low; returns the generated batch (with its graph, for the generator)."""
        gen, disc = self.model.generator, self.model.discriminator
        with self.autocast():
            fake = gen(torch.randn(len(real), self.model.latent_dim, device=real.device))
            score_real, score_fake = disc(real).float(), disc(fake.detach()).float()
            d_loss = score_fake.mean() - score_real.mean() if self.wgan else bce(score_real, 1.0) + bce(score_fake, 0.0)
        if self.wgan:  # gradients of norm 1 in between; outside autocast: a second derivative in full precision
            d_loss = d_loss + self.mcfg.gan_gp_weight * gradient_penalty(disc, real, fake.float())
        self.opt_d.zero_grad(set_to_none=True)
        backward(d_loss, self.scaler)
        unscaled = after_backward is not None and self.scaler.is_enabled()
        if unscaled:
            self.scaler.unscale_(self.opt_d)  # callbacks see the true gradients
        if after_backward is not None:
            after_backward()
        self._update(self.opt_d, disc, unscaled)
        show = (lambda s: s) if self.wgan else torch.sigmoid  # the critic's scores, or probabilities
        self.batches += 1
        self.sums["d_loss"] += d_loss.detach()
        self.sums["d_real"] += show(score_real.detach()).mean()
        self.sums["d_fake"] += show(score_fake.detach()).mean()
        return fake

    def _generator_step(self, fake: torch.Tensor) -> None:
        """The updated discriminator on the same samples, as DCGAN does; then the moving average moves."""
        with self.autocast():
            score = self.model.discriminator(fake).float()
            # non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z))), which vanishes early
            g_loss = -score.mean() if self.wgan else bce(score, 1.0)
        self.opt_g.zero_grad(set_to_none=True)
        backward(g_loss, self.scaler)
        self._update(self.opt_g, self.model.generator)
        self.model.update_average(self.d_steps // self.n_critic)
        self.sums["g_loss"] += g_loss.detach()
        self.g_steps += 1

    def _update(self, optimizer: torch.optim.Optimizer, net: nn.Module, unscaled: bool = False) -> None:
        """Clip the net's gradients and step its optimizer (the scaler skips the step on an fp16 overflow)."""
        cfg = self.config
        if self.scaler.is_enabled() and not unscaled and (cfg.clip_grad_norm or cfg.clip_grad_value):
            self.scaler.unscale_(optimizer)  # clipping sees the true gradients
        clip(net.parameters(), cfg)
        self.scaler.step(optimizer)

    def partial(self) -> dict[str, Any]:
        sums = {k: v.detach().cpu() for k, v in self.sums.items()}
        return {"sums": sums, "batches": self.batches, "g_steps": self.g_steps}

    def epoch_logs(self, n_rows: int) -> dict[str, Any]:
        values = torch.stack(list(self.sums.values())).tolist()  # the epoch's one host sync
        counts = {k: self.g_steps if k == "g_loss" else self.batches for k in self.sums}
        row: dict[str, Any] = {k: v / max(counts[k], 1) for k, v in zip(self.sums, values, strict=True)}
        if not self.g_steps:  # n_critic larger than the batches of an epoch: no generator step this time
            row["g_loss"] = None
        return {**row, "lr_g": self.schedule_g.lr, "lr_d": self.schedule_d.lr}

    def validate(self, net: nn.Module, val: TensorData | None) -> dict[str, float]:
        scores = self.scores(self.model) if self.scores is not None else {}
        return {**scores, "seconds": round(time.perf_counter() - self.started, 3)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": {"generator": self.opt_g.state_dict(), "discriminator": self.opt_d.state_dict()},
            "schedule": {"generator": self.schedule_g.state_dict(), "discriminator": self.schedule_d.state_dict()},
            "scaler": self.scaler.state_dict(),
            "lr": self.mcfg.gan_lr_g,
            "d_steps": self.d_steps,
        }

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        self.opt_g.load_state_dict(checkpoint["optimizer"]["generator"])
        self.opt_d.load_state_dict(checkpoint["optimizer"]["discriminator"])
        self.schedule_g.load_state_dict(checkpoint["schedule"]["generator"])
        self.schedule_d.load_state_dict(checkpoint["schedule"]["discriminator"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.d_steps = checkpoint["d_steps"]

    def lr_hint(self) -> str:
        lr_g, lr_d = self.mcfg.gan_lr_g, self.mcfg.gan_lr_d
        return (
            f"lower the learning rates (now gan_lr_g {lr_g:g}, gan_lr_d {lr_d:g}; try "
            f"--set model.gan_lr_g={lr_g / 4:g} --set model.gan_lr_d={lr_d / 4:g}), or --set model.gan_loss=wgan_gp"
        )


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


def status(row: dict[str, Any]) -> str:
    """Short enough for an 80-column terminal: losses, D(real) and D(fake), the first validation score."""
    g_loss = "—" if row["g_loss"] is None else f"{row['g_loss']:.2f}"
    parts = [f"d {row['d_loss']:.2f}", f"g {g_loss}", f"D {row['d_real']:.2f}/{row['d_fake']:.2f}"]
    scores = [f"{k.removeprefix('val_')} {row[k]:.3f}" for k in row if k.startswith("val_")]
    return " ".join(parts + scores[:1])


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
