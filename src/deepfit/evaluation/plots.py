"""Report figures as PNG bytes: learning curves, confusion matrix, predicted vs actual, gradient norms.

matplotlib is imported inside the functions (``pyplot`` alone costs ~0.7 s) with the Agg backend, so
the CLI and the API stay fast and nothing needs a display. Every figure shares one palette and style.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

TRAIN, VALID, TEST, BEST, LR = "#2563eb", "#f97316", "#0f766e", "#16a34a", "#7c3aed"
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
DPI = 110
_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": "#d1d5db",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": GRID,
    "grid.linewidth": 0.7,
    "axes.axisbelow": True,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 10,
    "axes.labelsize": 10,
    "axes.labelcolor": INK,
    "text.color": INK,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "font.family": "DejaVu Sans",
    "lines.linewidth": 2.0,
}


_LABELS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "mse": "MSE",
    "mape": "MAPE",
    "smape": "sMAPE",
    "r2": "R²",
    "roc_auc": "ROC AUC",
    "f1_macro": "F1 macro",
}


def metric_label(name: str) -> str:
    """How a metric is named for people: ``rmse`` -> ``RMSE``, ``f1_weighted`` -> ``F1 weighted``."""
    if name in _LABELS:
        return _LABELS[name]
    words = name.replace("_", " ")
    return words[:1].upper() + words[1:]


# ---------------------------------------------------------------- tick labels that stay short
_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_COMPACT_FROM = 1e4  # below this, matplotlib's own labels are short enough


def compact_ticks(values: Sequence[float]) -> list[str] | None:
    """Labels for ticks of large numbers, with a unit and the decimals the ticks need, all alike.

    None when the numbers are small (under 10,000) or too close together to tell apart this way: the
    default labels do then.

    >>> compact_ticks([0, 50_000, 100_000, 150_000])
    ['0', '50k', '100k', '150k']
    >>> compact_ticks([-500_000, 0, 500_000, 1_000_000, 1_500_000])
    ['−0.5M', '0', '0.5M', '1.0M', '1.5M']
    >>> compact_ticks([0.0, 0.5, 1.0]) is None
    True
    """
    finite = [float(v) for v in values if math.isfinite(v)]
    big = max((abs(v) for v in finite), default=0.0)
    if big < _COMPACT_FROM:
        return None
    scale, unit = next((scale, unit) for scale, unit in _UNITS if big >= scale)
    decimals = max((_decimals(v / scale) for v in finite), default=0)
    if decimals > 3:
        return None
    labels = ["0" if v == 0 else f"{v / scale:.{decimals}f}{unit}".replace("-", "−") for v in values]
    return labels if len(set(labels)) == len(labels) else None


def _decimals(value: float) -> int:
    """Decimals that show ``value`` exactly (up to 4: more means these ticks need other labels)."""
    for decimals in range(4):
        if abs(round(value, decimals) - value) <= 1e-9 * max(1.0, abs(value)):
            return decimals
    return 4


@functools.cache
def _compact_formatter_class() -> type:
    from matplotlib.ticker import ScalarFormatter

    class CompactFormatter(ScalarFormatter):
        """matplotlib's labels, except for large numbers: 50k, 1.5M, and no ×1e6 in the corner to multiply by."""

        compact: list[str] | None = None

        def set_locs(self, locs: Any) -> None:
            super().set_locs(locs)
            self.compact = compact_ticks(list(locs))

        def __call__(self, x: float, pos: int | None = None) -> str:
            if self.compact is not None and pos is not None and pos < len(self.compact):
                return self.compact[pos]
            if self.compact is not None:  # a lone value (the cursor readout): the same style
                return (compact_ticks([x]) or [super().__call__(x, pos)])[0]
            return super().__call__(x, pos)

        def get_offset(self) -> str:
            return "" if self.compact is not None else super().get_offset()

    return CompactFormatter


def _compact(ax: Any, axes: str = "xy", bins: int | None = None) -> None:
    """Short labels on the axes (``"x"``, ``"y"`` or both) that show data values; ``bins``: at most that many
    intervals between ticks, for a narrow panel whose labels would otherwise run into each other."""
    from matplotlib.ticker import MaxNLocator

    for name in axes:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_formatter(_compact_formatter_class()())
        if bins is not None:
            axis.set_major_locator(MaxNLocator(nbins=bins, steps=[1, 2, 5, 10]))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display, and no GUI toolkit import
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    _pyplot().close(fig)  # figures are global in pyplot; an unclosed one leaks memory per report
    return buffer.getvalue()


def learning_curves(history: Sequence[dict[str, Any]], metric: str | None, best_epoch: int | None = None) -> bytes:
    """Loss (train and validation) and ``metric`` per epoch, the best epoch marked; the learning rate below."""
    plt = _pyplot()
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    has_lr = any(row.get("lr") is not None for row in history)
    with plt.rc_context(_STYLE):
        fig = plt.figure(figsize=(11, 6.2 if has_lr else 4.2))
        grid = fig.add_gridspec(2 if has_lr else 1, 2, height_ratios=[3, 1.15] if has_lr else [1], hspace=0.45)
        loss_ax, metric_ax = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        _series(loss_ax, epochs, history, "train_loss", "train", TRAIN)
        _series(loss_ax, epochs, history, "val_loss", "validation", VALID)
        _finish(loss_ax, "Loss", "loss", best_epoch, epochs, history, "val_loss")
        if metric:
            name = metric.removeprefix("val_")
            _series(metric_ax, epochs, history, f"train_{name}", "train", TRAIN)
            _series(metric_ax, epochs, history, f"val_{name}", "validation", VALID)
            label = metric_label(name)
            _finish(metric_ax, label, label, best_epoch, epochs, history, f"val_{name}")
        else:
            metric_ax.set_axis_off()
        if has_lr:
            lr_ax = fig.add_subplot(grid[1, :])
            lrs = [row.get("lr") for row in history]
            lr_ax.plot(epochs, [math.nan if v is None else v for v in lrs], color=LR, linewidth=1.8)
            lr_ax.fill_between(epochs, [0 if v is None else v for v in lrs], color=LR, alpha=0.08, linewidth=0)
            lr_ax.set_title("Learning rate")
            lr_ax.set_xlabel("epoch")
            lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
            lr_ax.set_ylim(bottom=0)
            lr_ax.margins(x=0.01)
            if best_epoch:
                lr_ax.axvline(best_epoch, color=BEST, linestyle="--", linewidth=1.1, alpha=0.8)
        return _png(fig)


def _series(ax: Any, epochs: list[int], history: Sequence[dict[str, Any]], key: str, label: str, color: str) -> None:
    values = [row.get(key) for row in history]
    if any(v is not None for v in values):
        ax.plot(epochs, [math.nan if v is None else v for v in values], color=color, label=label)


def _finish(
    ax: Any,
    title: str,
    ylabel: str,
    best_epoch: int | None,
    epochs: list[int],
    history: Sequence[dict[str, Any]],
    best_key: str,
) -> None:
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    _compact(ax, "y")  # a loss or metric in the target's units (an RMSE of 150k)
    ax.margins(x=0.02)
    if best_epoch and best_epoch in epochs:
        ax.axvline(best_epoch, color=BEST, linestyle="--", linewidth=1.1, alpha=0.8, label=f"best epoch {best_epoch}")
        value = history[epochs.index(best_epoch)].get(best_key)
        if value is not None:
            ax.scatter([best_epoch], [value], s=42, color=BEST, zorder=5, edgecolors="white", linewidths=1.2)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


def confusion_matrix(matrix: Sequence[Sequence[int]], class_names: Sequence[str]) -> bytes:
    """Counts and row-normalised rates (recall on the diagonal) side by side, true classes down the rows."""
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.int64)
    n = len(counts)
    support = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, support, out=np.zeros(counts.shape, dtype=float), where=support > 0)
    # Up to 12 classes the two panels sit side by side; past that they are stacked so each keeps the full
    # page width, and cells stay big enough for their numbers up to ~30 classes (colour alone after that).
    stacked = n > 12
    side = min(max(3.6, 0.42 * n + 1.6), 5.6) if not stacked else min(0.36 * n + 2.0, 11.0)
    annotate = n <= 30
    font = 9 if n <= 12 else 8 if n <= 20 else 7
    names = [_short(str(c)) for c in class_names]
    # Long or many labels collide on the x axis; slanted and anchored at their end they stay legible.
    slant = n > 12 or max(map(len, names), default=0) > 3
    tick_style = {"rotation": 45, "ha": "right", "rotation_mode": "anchor"} if slant else {}
    with plt.rc_context({**_STYLE, "axes.grid": False, "axes.spines.left": False, "axes.spines.bottom": False}):
        shape, size = ((2, 1), (side + 0.6, 2 * side + 1.2)) if stacked else ((1, 2), (2 * side + 1.6, side + 0.4))
        fig, axes = plt.subplots(*shape, figsize=size, layout="constrained")
        for ax, values, title, fmt in (
            (axes[0], counts, "Counts", "{:d}"),
            (axes[1], rates, "Row-normalised (recall on the diagonal)", "{:.2f}"),
        ):
            scaled = values / values.max() if values.max() > 0 else values.astype(float)
            ax.imshow(scaled, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_xticks(range(n), names, **tick_style)
            ax.set_yticks(range(n), names)
            ax.tick_params(length=0)
            if annotate:
                for i in range(n):
                    for j in range(n):
                        if values[i, j] == 0:
                            continue  # empty cells stay blank: the eye goes to the mistakes
                        colour = "white" if scaled[i, j] > 0.55 else INK
                        ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=font, color=colour)
        return _png(fig)


def _short(name: str, limit: int = 14) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def predicted_vs_actual(y_true: np.ndarray, y_pred: np.ndarray) -> bytes:
    """Predicted against actual with the identity line, residuals against predicted, and their histogram."""
    plt = _pyplot()
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    residuals = y_true - y_pred
    alpha = 0.75 if len(y_true) <= 500 else 0.35
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.9), width_ratios=[1, 1, 0.75], layout="constrained")
        low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
        pad = 0.04 * (high - low or 1.0)
        ax = axes[0]
        ax.plot(
            [low - pad, high + pad], [low - pad, high + pad], color=MUTED, linestyle="--", linewidth=1.2, label="y = x"
        )
        ax.scatter(y_true, y_pred, s=18, color=TEST, alpha=alpha, edgecolors="none")
        ax.set(xlim=(low - pad, high + pad), ylim=(low - pad, high + pad), xlabel="actual", ylabel="predicted")
        ax.set_aspect("equal")
        _compact(ax, bins=6)  # hundreds of thousands in full run into each other on a panel this narrow
        ax.set_title("Predicted vs actual (test)")
        ax.legend(loc="upper left")
        ax = axes[1]
        ax.axhline(0, color=MUTED, linestyle="--", linewidth=1.2)
        ax.scatter(y_pred, residuals, s=18, color=TEST, alpha=alpha, edgecolors="none")
        ax.set(xlabel="predicted", ylabel="actual − predicted")
        _compact(ax, bins=6)
        ax.set_title("Residuals")
        ax = axes[2]
        ax.hist(residuals, bins=min(40, max(8, len(residuals) // 8)), color=TEST, alpha=0.85, edgecolor="white")
        ax.axvline(0, color=MUTED, linestyle="--", linewidth=1.2)
        ax.set(xlabel="actual − predicted", ylabel="rows")
        _compact(ax, bins=5)
        ax.set_title("Residual distribution")
        return _png(fig)


def gradient_norms(rows: Sequence[dict[str, Any]], max_layers: int = 16) -> bytes:
    """Per-layer gradient norm per step (log scale) and, when measured, the update size relative to the weights.

    Rows are those of ``grad_norms.jsonl``: ``{"step", "epoch", "grad_norm": {layer: value}, "update_ratio": ...}``
    (``"norms"`` is accepted for ``"grad_norm"``). Colours run from the input layer (dark) to the output.
    """
    plt = _pyplot()
    layers: list[str] = []
    for row in rows:
        layers.extend(name for name in layer_values(row, "grad_norm") if name not in layers)
    if len(layers) > max_layers:  # keep the first and last layers, where vanishing and exploding show first
        layers = layers[: max_layers // 2] + layers[-(max_layers // 2) :]
    has_updates = any(layer_values(row, "update_ratio") for row in rows)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(
            2 if has_updates else 1, 1, figsize=(11, 7.6 if has_updates else 4.2), sharex=True, layout="constrained"
        )
        axes = np.atleast_1d(axes)
        colours = plt.get_cmap("viridis")(np.linspace(0.05, 0.85, max(len(layers), 1)))
        panels = [("grad_norm", "Gradient norm per layer", "gradient L2 norm")]
        if has_updates:
            panels.append(("update_ratio", "Update size relative to the weights", "‖Δw‖ / ‖w‖ per step"))
        for ax, (key, title, ylabel) in zip(axes, panels, strict=True):
            for colour, layer in zip(colours, layers, strict=False):
                points = [(r.get("step", i), layer_values(r, key).get(layer)) for i, r in enumerate(rows)]
                points = [(x, y) for x, y in points if isinstance(y, int | float) and y > 0 and math.isfinite(y)]
                if points:
                    ax.plot(*zip(*points, strict=True), color=colour, linewidth=1.5, label=_short(layer, 32))
            ax.set_yscale("log")
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            ax.margins(x=0.01)
        if has_updates:  # a common rule of thumb: around 1e-3 per step is healthy; far below, a layer stalls
            axes[1].axhline(1e-3, color=MUTED, linestyle="--", linewidth=1.1)
            axes[1].annotate(
                "1e-3",
                (1.0, 1e-3),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                color=MUTED,
                fontsize=8,
            )
        axes[-1].set_xlabel("step")
        if layers:
            axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1 if len(layers) <= 10 else 2)
        return _png(fig)


def layer_values(row: dict[str, Any], key: str) -> dict[str, Any]:
    """``row[key]`` as a dict (empty when absent or malformed); ``grad_norm`` falls back to ``norms``."""
    value = row.get(key) or (row.get("norms") if key == "grad_norm" else None)
    return value if isinstance(value, dict) else {}


def gan_curves(history: Sequence[dict[str, Any]]) -> bytes:
    """A GAN's epochs: both losses (left); D's mean output on real and generated data, and diversity (right).

    D(real) and D(fake) drifting to 1 and 0 is a discriminator that has won; a diversity ratio falling
    towards 0 is mode collapse.
    """
    plt = _pyplot()
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    with plt.rc_context(_STYLE):
        fig, (loss_ax, d_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
        _series(loss_ax, epochs, history, "d_loss", "discriminator", TRAIN)
        _series(loss_ax, epochs, history, "g_loss", "generator", VALID)
        _finish(loss_ax, "Losses", "loss", None, epochs, history, "d_loss")
        _series(d_ax, epochs, history, "d_real", "D(real)", TEST)
        _series(d_ax, epochs, history, "d_fake", "D(generated)", VALID)
        _series(d_ax, epochs, history, "val_diversity_ratio", "diversity ratio", LR)
        _finish(d_ax, "Discriminator and diversity", "", None, epochs, history, "d_real")
        return _png(fig)
