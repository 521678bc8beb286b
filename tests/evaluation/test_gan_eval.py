"""GAN scores mean what they say: 0 for the same data, large for different data, collapse named with its fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from deepfit.config import CleanConfig
from deepfit.data.schema import Schema
from deepfit.evaluation.gan_eval import (
    class_coverage,
    column_distances,
    coverage,
    diversity,
    evaluate_images,
    evaluate_tabular,
    findings,
    ks_statistic,
    sample_scores,
    total_variation,
    two_sample_test,
    wasserstein_1d,
)
from deepfit.models.gan import GanCodec

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def rows(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Two clusters of points with their names and a count."""
    rng = np.random.default_rng(seed)
    side = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "x": rng.normal(np.where(side, 2.0, -2.0) + shift, 0.3),
            "y": rng.normal(0.0, 0.3, n),
            "count": rng.poisson(3, n),
            "side": np.where(side, "right", "left"),
        }
    )


def codec_for(frame: pd.DataFrame) -> GanCodec:
    schema = Schema(target="side", task="classification", kinds={"x": "numeric", "y": "numeric", "count": "numeric"})
    return GanCodec.fit_tabular(frame, schema, CleanConfig())


def test_one_dimensional_distances() -> None:
    a = np.random.default_rng(0).normal(size=500)
    assert wasserstein_1d(a, a) == 0.0 and ks_statistic(a, a) == 0.0
    assert wasserstein_1d(a, a + 3.0) == pytest.approx(3.0)
    assert ks_statistic(a, a + 10.0) == 1.0
    from scipy.stats import wasserstein_distance

    b = np.random.default_rng(1).exponential(size=300)
    assert wasserstein_1d(a, b) == pytest.approx(wasserstein_distance(a, b))
    assert total_variation(pd.Series(["a", "b"] * 5), pd.Series(["b", "a"] * 5)) == 0.0
    assert total_variation(pd.Series(["a"] * 4), pd.Series(["b"] * 4)) == 1.0


def test_column_distances_zero_for_identical_rows_and_large_for_shifted_ones() -> None:
    real = rows(600, 0)
    codec = codec_for(real)
    same = column_distances(real, real, codec)
    assert all(c.get("wasserstein", 0) == 0 and c.get("ks", 0) == 0 and c.get("tvd", 0) == 0 for c in same.values())
    shifted = real.assign(x=real["x"] + 6.0, side="left")
    far = column_distances(real, shifted, codec)
    assert far["x"]["wasserstein"] > 2.0 and far["x"]["ks"] > 0.9  # in training standard deviations (about 2)
    assert far["side"]["tvd"] == pytest.approx((real["side"] == "right").mean())
    assert far["y"]["wasserstein"] == 0.0


def test_two_sample_test_is_half_for_one_distribution_and_one_for_two() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 4, generator=gen), torch.randn(600, 4, generator=gen)
    same = two_sample_test(a, b)
    assert abs(same["accuracy"] - 0.5) < 0.06, same
    assert same["standard_error"] == pytest.approx(0.5 / np.sqrt(1200))
    assert two_sample_test(a, b + 3.0)["accuracy"] > 0.97


def test_mode_collapse_is_found_on_a_constant_generator_and_not_on_a_good_one() -> None:
    real, good = rows(800, 0), rows(800, 1)
    codec = codec_for(real)
    fine = evaluate_tabular(real, good, codec)
    assert not any("mode collapse" in line for line in fine["findings"])
    assert fine["diversity_ratio"] == pytest.approx(1.0, abs=0.1) and fine["coverage"] > 0.8
    assert abs(fine["two_sample"]["accuracy"] - 0.5) < 0.07

    constant = pd.DataFrame([real.iloc[0]] * 800).reset_index(drop=True)  # one row, over and over
    collapsed = evaluate_tabular(real, constant, codec)
    assert collapsed["diversity_ratio"] == 0.0 and collapsed["coverage"] < 0.05
    assert collapsed["two_sample"]["accuracy"] > 0.95
    message = next(line for line in collapsed["findings"] if "mode collapse" in line)
    assert "far less varied than real data" in message and "model.gan_loss: wgan_gp" in message
    assert "tells them apart almost always" in collapsed["findings"][0]


def test_collapse_onto_a_few_modes_is_seen_by_coverage() -> None:
    """Samples that are varied but all from one of two clusters: diversity may pass, coverage does not."""
    real, other = rows(800, 0), rows(1600, 1)
    one_side = other[other["side"] == "left"].head(800).reset_index(drop=True)
    report = evaluate_tabular(real, one_side, codec_for(real))
    assert report["coverage"] < 0.6
    assert any("mode collapse" in line for line in report["findings"])


def test_fix_leaves_out_what_the_run_does() -> None:
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(300, 3, generator=gen)
    report = sample_scores(real, torch.zeros(300, 3))
    from deepfit.evaluation.gan_eval import fix_hint

    line = findings(report, fix_hint("wgan_gp"))[-1]
    assert "mode collapse" in line and "wgan_gp" not in line and "model.gan_lr_d" in line


def test_diversity_and_coverage_on_points() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 2, generator=gen), torch.randn(500, 2, generator=gen)
    assert diversity(a) / diversity(b) == pytest.approx(1.0, abs=0.1)
    assert diversity(torch.zeros(10, 2)) == 0.0
    assert coverage(a, b) > 0.9
    assert coverage(a, b + 10) == 0.0


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32)[:, None] / 8.0 - 1.0  # [-1, 1]
    return images, torch.as_tensor(bunch.target)


def test_class_coverage_counts_the_classes_a_generator_makes(digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = digits
    train, test = (images[:1200], labels[:1200]), (images[1200:], labels[1200:])
    classes = list(range(10))
    real = class_coverage(train, test, images[1200:], classes)
    assert real["share_of_classes"] == 1.0 and real["entropy"] > 0.95
    assert real["classifier_accuracy_on_real_test"] > 0.85

    only_threes = images[1200:][labels[1200:] == 3]
    report = evaluate_images(images[1200:], only_threes, train=train, real_labels=labels[1200:], classes=classes)
    collapsed = report["class_coverage"]
    assert collapsed["share_of_classes"] <= 0.2 and collapsed["predicted"]["3"] > 0.8
    assert any("mode collapse" in line and "of 10 classes" in line for line in report["findings"])


# ---------------------------------------------------------------- the two-sample verdict is a test against 0.5
def scores(accuracy: float, n: int) -> dict:
    """A report with nothing wrong but the two-sample accuracy, as eval.json holds it."""
    test = {"accuracy": accuracy, "n": n, "standard_error": 0.5 / np.sqrt(n) if n else np.nan}
    return {"two_sample": test, "diversity_ratio": 1.0, "coverage": 1.0}


def test_two_sample_p_value_is_the_exact_one_sided_binomial_test() -> None:
    from scipy.stats import binomtest

    from deepfit.evaluation.gan_report import two_sample_significance

    for accuracy, n in [(0.6, 626), (0.545, 400), (0.6, 20), (0.4, 100), (1.0, 50)]:
        found = two_sample_significance(accuracy, n)
        expected = binomtest(round(accuracy * n), n, 0.5, alternative="greater").pvalue
        assert found["p_value"] == pytest.approx(expected, rel=1e-9, abs=1e-300)
        assert found["standard_error"] == pytest.approx(0.5 / np.sqrt(n))
        assert found["z"] == pytest.approx((accuracy - 0.5) / (0.5 / np.sqrt(n)))


def test_an_accuracy_five_standard_errors_above_half_is_told_apart() -> None:
    # The tester's case: 0.60, five standard errors from 0.5, was called "can hardly tell them apart".
    [line] = findings(scores(0.6, 626))
    assert line == (
        "a classifier telling real from generated scores 0.600 on 626 held-out samples (0.5 is ideal; standard "
        "error 0.020, 5.0 standard errors above 0.5, one-sided p < 0.001): it can tell them apart, if only a "
        "little better than chance (a small but real difference)"
    )


def test_the_verdict_follows_significance_not_the_accuracy_alone() -> None:
    # 1.8 standard errors (one-sided p = 0.040): significant, where "within two standard errors" said ideal
    [line] = findings(scores(0.545, 400))
    assert "one-sided p = 0.040): it can tell them apart" in line
    # the same 0.60 on 20 samples is no evidence of a difference
    [line] = findings(scores(0.6, 20))
    assert "0.600 on 20 held-out samples" in line and "one-sided p = 0.252" in line
    verdict = "no evidence that it can tell them apart (ideal): not significantly above 0.5 at the 0.05 level"
    assert line.endswith(f"{verdict} (only 20 samples: a weak test)")
    [line] = findings(scores(0.45, 400))
    assert "2.0 standard errors below 0.5" in line and "no evidence that it can tell them apart" in line
    assert findings(scores(0.8, 400))[0].endswith("one-sided p < 0.001): it tells them apart often")
    assert findings(scores(0.95, 400))[0].endswith("it tells them apart almost always")


def test_two_sample_test_reports_its_significance() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 4, generator=gen), torch.randn(300, 4, generator=gen)
    same, apart = two_sample_test(a, b), two_sample_test(a, b + 3.0)
    assert same["n"] == 600 and same["p_value"] > 0.05 and apart["p_value"] < 1e-6
    assert apart["z"] == pytest.approx((apart["accuracy"] - 0.5) / same["standard_error"])
    assert "no evidence that it can tell them apart" in findings({**scores(0, 0), "two_sample": same})[0]


def test_the_report_shows_the_test_and_rewrites_an_old_verdict(tmp_path) -> None:
    from datetime import datetime

    from deepfit.evaluation import gan_report
    from deepfit.run_summary import RunSummary

    old = "a classifier telling real from generated scores 0.60 (0.5 is ideal, ±0.02): can hardly tell them apart"
    evaluation = {"test": {**scores(0.6, 626), "n_real": 313, "n_generated": 313, "findings": [old]}}
    run = RunSummary(tmp_path, "gan", datetime.now(), "generation", "x.csv", 1, 1, "loss", evaluation=evaluation)
    rows = gan_report.score_rows(evaluation["test"])
    assert rows[1][0] == "two-sample p-value (above 0.5? n=626)" and rows[1][1] < 1e-6 and rows[1][2] == "≥ 0.05"
    assert "ideal 0.5 · p &lt; 0.001, n=626" in gan_report.cards(run)[0]
    [(_, _, page)] = [s for s in gan_report.sections(run) if s[0] == "gan-scores"]
    assert "hardly" not in page and "one-sided p &lt; 0.001): it can tell them apart" in page
