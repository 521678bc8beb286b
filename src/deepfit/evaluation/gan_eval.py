"""Is generated data like the real data? Scores for a GAN run's eval.json, with findings in plain words.

- Per column (tables): Wasserstein-1 distance on standardised values (in training standard deviations) and
  the Kolmogorov-Smirnov statistic for numbers, total variation distance for categories. 0 = the same.
- Classifier two-sample test: a small MLP learns to tell real from generated rows (or images) on one half
  and is scored on the other, both ways round. 0.5 = it cannot tell them apart (ideal), 1.0 = always can.
  Whether it can is decided by a one-sided binomial test of that accuracy against 0.5 over the samples
  scored (gan_report.two_sample_significance), not by the accuracy alone.
- Diversity: the mean distance between two generated samples over that between two real ones (1 = as
  varied). Coverage: the share of real samples that have a generated sample within the distance of
  their k-th nearest real neighbour (Naeem et al., 2020; about 1 when the generator covers the data).
- Images with labels: a classifier trained on the real training images names the class of each generated
  image; class coverage is the share of classes the generator produces.

A generator that makes a few kinds of samples only (mode collapse) shows up as low diversity, low coverage
or low class coverage; :func:`findings` says so, with what to try.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepfit.evaluation.gan_report import two_sample_line, two_sample_significance

COLLAPSE = 0.5  # diversity, coverage or class coverage below this: the generator misses much of the data


def fix_hint(gan_loss: str = "non_saturating") -> str:
    """What to try against mode collapse, leaving out what the run already does."""
    tries = ["model.gan_loss: wgan_gp"] if gan_loss != "wgan_gp" else []
    tries += ["a lower model.gan_lr_d (e.g. half of model.gan_lr_g)", "a larger model.latent_dim", "more epochs"]
    return "try " + ", ".join(tries[:-1]) + " or " + tries[-1]


# ---------------------------------------------------------------- distances between two samples of one column
def _cdfs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = np.sort(a), np.sort(b)
    points = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return points, cdf_a, cdf_b


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Earth mover's distance between two samples: the area between their empirical CDFs.

    >>> wasserstein_1d(np.array([0.0, 1.0]), np.array([2.0, 3.0]))
    2.0
    """
    points, cdf_a, cdf_b = _cdfs(np.asarray(a, float), np.asarray(b, float))
    return float(np.sum(np.abs(cdf_a - cdf_b)[:-1] * np.diff(points)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The largest gap between the two empirical CDFs (0 to 1)."""
    _, cdf_a, cdf_b = _cdfs(np.asarray(a, float), np.asarray(b, float))
    return float(np.max(np.abs(cdf_a - cdf_b)))


def total_variation(a: pd.Series, b: pd.Series) -> float:
    """Half the summed difference of category frequencies (0 to 1); values compared as text."""
    p = a.astype(str).value_counts(normalize=True)
    q = b.astype(str).value_counts(normalize=True)
    return float(0.5 * p.subtract(q, fill_value=0).abs().sum())


def column_distances(real: pd.DataFrame, fake: pd.DataFrame, codec: Any) -> dict[str, dict[str, Any]]:
    """Per column: numeric (wasserstein in training standard deviations, ks), categorical (tvd)."""
    state = codec.pre.state
    num = state["numeric"]
    out: dict[str, dict[str, Any]] = {}
    for column, scale in zip(num["columns"], num["scale"], strict=True):
        a = pd.to_numeric(real[column], errors="coerce").dropna().to_numpy() / scale
        b = pd.to_numeric(fake[column], errors="coerce").dropna().to_numpy() / scale
        out[column] = {"kind": "numeric", "wasserstein": wasserstein_1d(a, b), "ks": ks_statistic(a, b)}
    for column in state["onehot"]:
        out[column] = {"kind": "categorical", "tvd": total_variation(real[column].dropna(), fake[column])}
    return out


# ---------------------------------------------------------------- classifiers
def fit_classifier(
    x: torch.Tensor, y: torch.Tensor, n_classes: int, *, steps: int = 300, seed: int = 0, hidden: int = 64
) -> nn.Module:
    """A small MLP on flattened inputs, full-batch Adam: seconds at most on the CPU for a few thousand rows."""
    from deepfit.training.steps import backward  # the one training backward pass (tests/training/test_steps.py)

    torch.manual_seed(seed)
    x = x.flatten(1).float()
    model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
    model.append(nn.Linear(hidden, n_classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        backward(nn.functional.cross_entropy(model(x), y))
        optimizer.step()
    return model.eval()


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x.flatten(1).float()).argmax(1)


def two_sample_test(real: torch.Tensor, fake: torch.Tensor, *, seed: int = 0, steps: int = 300) -> dict[str, float]:
    """Held-out accuracy of a classifier telling real from generated (equal counts; 2-fold, both halves scored),
    the number of samples scored, and the one-sided test of that accuracy against 0.5 (``z``, ``p_value``)."""
    gen = torch.Generator().manual_seed(seed)
    n = min(len(real), len(fake))
    if n < 4:
        return {"accuracy": math.nan, "n": 2 * n, **two_sample_significance(math.nan, 2 * n)}
    x = torch.cat(
        [real[torch.randperm(len(real), generator=gen)[:n]], fake[torch.randperm(len(fake), generator=gen)[:n]]]
    )
    y = torch.cat([torch.ones(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)])
    halves = [torch.randperm(n, generator=gen) for _ in range(2)]  # each class split in half on its own
    fold = [
        torch.cat([halves[0][: n // 2], n + halves[1][: n // 2]]),
        torch.cat([halves[0][n // 2 :], n + halves[1][n // 2 :]]),
    ]
    correct = 0
    for train, test in (fold, fold[::-1]):
        model = fit_classifier(x[train], y[train], 2, steps=steps, seed=seed)
        correct += int((_predict(model, x[test]) == y[test]).sum())
    # every sample is scored once, by the classifier that did not train on it: 2n held-out samples
    return {"accuracy": correct / (2 * n), "n": 2 * n, **two_sample_significance(correct / (2 * n), 2 * n)}


# ---------------------------------------------------------------- diversity and coverage
def _subsample(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    x = x.flatten(1).float()
    return x if len(x) <= n else x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


def diversity(x: torch.Tensor, *, n: int = 1000, seed: int = 0) -> float:
    """Mean distance between two samples (of up to ``n``)."""
    x = _subsample(x, n, seed)
    return float(torch.pdist(x).mean()) if len(x) > 1 else 0.0


def coverage(real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, n: int = 2000, seed: int = 0) -> float:
    """Share of real samples with a generated one closer than their k-th nearest real neighbour."""
    real, fake = _subsample(real, n, seed), _subsample(fake, n, seed + 1)
    if len(real) <= k or not len(fake):
        return float("nan")
    radius = torch.cdist(real, real).kthvalue(k + 1, dim=1).values  # k + 1: each point is its own nearest
    return float((torch.cdist(real, fake).min(dim=1).values <= radius).float().mean())


def class_coverage(
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor] | None,
    fake: torch.Tensor,
    classes: list[Any],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Classes of the generated images, named by a classifier trained on the real training images.

    A class counts as produced when it gets at least half its share of the real training images: a few
    samples misread by the classifier do not make a class present.
    """
    k = len(classes)
    model = fit_classifier(*train, k, steps=400, seed=seed)
    share = torch.bincount(_predict(model, fake), minlength=k).double() / len(fake)
    expected = torch.bincount(train[1], minlength=k).double() / len(train[1])
    produced = int((share >= 0.5 * expected).sum())
    entropy = float(-(share[share > 0] * share[share > 0].log()).sum() / math.log(k)) if k > 1 else 1.0
    report = {
        "share_of_classes": produced / k,
        "classes_produced": produced,
        "entropy": entropy,  # of the predicted classes, over its maximum log(classes): 1 = all equally often
        "predicted": {str(c): float(s) for c, s in zip(classes, share, strict=True)},
    }
    if test is not None and len(test[0]):
        report["classifier_accuracy_on_real_test"] = float((_predict(model, test[0]) == test[1]).double().mean())
    return report


# ---------------------------------------------------------------- reports
def sample_scores(real: torch.Tensor, fake: torch.Tensor, *, seed: int = 0) -> dict[str, Any]:
    """What every GAN gets: the two-sample test, diversity against the real data's, coverage."""
    real_div = diversity(real, seed=seed)
    return {
        "two_sample": two_sample_test(real, fake, seed=seed),
        "diversity_ratio": diversity(fake, seed=seed) / real_div if real_div else float("nan"),
        "coverage": coverage(real, fake, seed=seed),
        "n_real": len(real),
        "n_generated": len(fake),
    }


def evaluate_tabular(
    real: pd.DataFrame, fake: pd.DataFrame, codec: Any, *, seed: int = 0, gan_loss: str = "non_saturating"
) -> dict[str, Any]:
    report = sample_scores(codec.encode(real), codec.encode(fake), seed=seed)
    columns = column_distances(real, fake, codec)
    numeric = [c for c in columns.values() if c["kind"] == "numeric"]
    categorical = [c for c in columns.values() if c["kind"] == "categorical"]
    if numeric:
        report["mean_wasserstein"] = float(np.mean([c["wasserstein"] for c in numeric]))
        report["mean_ks"] = float(np.mean([c["ks"] for c in numeric]))
    if categorical:
        report["mean_tvd"] = float(np.mean([c["tvd"] for c in categorical]))
    report["columns"] = columns
    report["findings"] = findings(report, fix_hint(gan_loss))
    return report


def evaluate_images(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    train: tuple[torch.Tensor, torch.Tensor] | None = None,
    real_labels: torch.Tensor | None = None,
    classes: list[Any] | None = None,
    seed: int = 0,
    gan_loss: str = "non_saturating",
) -> dict[str, Any]:
    report = sample_scores(real, fake, seed=seed)
    if train is not None and classes and len(classes) > 1:
        test = (real, real_labels) if real_labels is not None else None
        report["class_coverage"] = class_coverage(train, test, fake, classes, seed=seed)
    report["findings"] = findings(report, fix_hint(gan_loss))
    return report


def findings(report: dict[str, Any], fix: str | None = None) -> list[str]:
    """Plain-language lines: how distinguishable the samples are (a test, with its figures), mode collapse with
    its fix, the columns furthest from the real data."""
    lines = []
    test = report["two_sample"]
    if math.isfinite(test["accuracy"]):
        lines.append(two_sample_line(test))
    signs = []
    if report["diversity_ratio"] < COLLAPSE:
        signs.append(
            f"the samples are far less varied than real data (diversity {report['diversity_ratio']:.2f} of it)"
        )
    if report["coverage"] < COLLAPSE:
        signs.append(f"only {report['coverage']:.0%} of real samples have a generated one nearby")
    classes = report.get("class_coverage")
    if classes and classes["share_of_classes"] < COLLAPSE:
        signs.append(f"it makes {classes['classes_produced']} of {len(classes['predicted'])} classes")
    if signs:
        lines.append(
            "mode collapse: the generator covers only part of the data — " + "; ".join(signs) + f". {fix or fix_hint()}"
        )
    worst = sorted(
        ((name, c.get("wasserstein", c.get("tvd", 0.0))) for name, c in report.get("columns", {}).items()),
        key=lambda item: -item[1],
    )
    if worst and worst[0][1] > 0.25:
        lines.append("columns furthest from the real data: " + ", ".join(f"{n} ({d:.2f})" for n, d in worst[:3]))
    return lines
