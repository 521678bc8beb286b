"""deepfit.evaluation.metrics against scikit-learn, the reference implementation."""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from deepfit.evaluation import metrics as m

# --------------------------------------------------------------------------------------------------
# Seeded datasets
# --------------------------------------------------------------------------------------------------


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _informative_proba(rng: np.random.Generator, y: np.ndarray, n_classes: int, signal: float) -> np.ndarray:
    logits = rng.normal(size=(len(y), n_classes))
    logits[np.arange(len(y)), y] += signal
    return _softmax(logits)


def _binary_ties(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Scores rounded to one decimal: only 11 distinct values for 300 samples, so ties everywhere.
    y = rng.integers(0, 2, 300)
    p1 = np.clip(np.round(0.3 * y + 0.7 * rng.random(300), 1), 0.0, 1.0)
    return y, np.column_stack([1.0 - p1, p1])


def _binary_imbalanced(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(500) < 0.05).astype(int)
    return y, _informative_proba(rng, y, 2, signal=1.0)


def _three_class_tied_rows(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Every row is one of 6 distinct probability vectors: heavy ties within every column.
    pool = rng.dirichlet(np.ones(3), size=6)
    y = rng.integers(0, 3, 250)
    return y, pool[rng.integers(0, 6, 250)]


def _five_class_imbalanced(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.choice(5, size=400, p=[0.6, 0.2, 0.1, 0.07, 0.03])
    return y, _informative_proba(rng, y, 5, signal=1.5)


def _class_never_predicted(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Class 3 is in y_true but its probability never wins the argmax: precision 0/0 -> 0.0.
    y = rng.integers(0, 4, 200)
    proba = _informative_proba(rng, y, 4, signal=1.0)
    proba[:, 3] *= 0.01
    return y, proba / proba.sum(axis=1, keepdims=True)


def _confident_extremes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # One-hot rows, some of them wrong: log loss must clip exact 0 and 1 the way scikit-learn does.
    y = rng.integers(0, 3, 120)
    guess = np.where(rng.random(120) < 0.8, y, rng.integers(0, 3, 120))
    proba = np.eye(3)[guess]
    soft = rng.random(120) < 0.5
    proba[soft] = _informative_proba(rng, y[soft], 3, signal=2.0)
    return y, proba


CLASSIFICATION_CASES = {
    "binary_ties": _binary_ties,
    "binary_imbalanced": _binary_imbalanced,
    "three_class_tied_rows": _three_class_tied_rows,
    "five_class_imbalanced": _five_class_imbalanced,
    "class_never_predicted": _class_never_predicted,
    "confident_extremes": _confident_extremes,
}


@pytest.fixture(params=sorted(CLASSIFICATION_CASES), ids=str)
def clf_case(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    seed = sorted(CLASSIFICATION_CASES).index(request.param)
    y, proba = CLASSIFICATION_CASES[request.param](np.random.default_rng(seed))
    return y, proba, proba.argmax(axis=1), proba.shape[1]


def _sk_prf(y: np.ndarray, y_pred: np.ndarray, n_classes: int, average: str | None) -> tuple:
    return skm.precision_recall_fscore_support(y, y_pred, labels=np.arange(n_classes), average=average, zero_division=0)


def _sk_roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return skm.roc_auc_score(y, proba[:, 1])
    return skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")


# --------------------------------------------------------------------------------------------------
# Classification against scikit-learn
# --------------------------------------------------------------------------------------------------


def test_accuracy_matches_sklearn(clf_case: tuple) -> None:
    y, _, y_pred, _ = clf_case
    assert m.accuracy(y, y_pred) == pytest.approx(skm.accuracy_score(y, y_pred), rel=1e-9)


def test_balanced_accuracy_matches_sklearn(clf_case: tuple) -> None:
    y, _, y_pred, n_classes = clf_case
    expected = skm.balanced_accuracy_score(y, y_pred)
    assert m.balanced_accuracy(y, y_pred) == pytest.approx(expected, rel=1e-9)
    assert m.balanced_accuracy(y, y_pred, n_classes) == pytest.approx(expected, rel=1e-9)


def test_confusion_matrix_matches_sklearn_exactly(clf_case: tuple) -> None:
    y, _, y_pred, n_classes = clf_case
    cm = m.confusion_matrix(y, y_pred, n_classes)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, y_pred, labels=np.arange(n_classes)))


def test_precision_recall_f1_matches_sklearn(clf_case: tuple) -> None:
    y, _, y_pred, n_classes = clf_case
    scores = m.precision_recall_f1(y, y_pred, n_classes)
    precision, recall, f1, support = _sk_prf(y, y_pred, n_classes, average=None)
    np.testing.assert_allclose(scores["precision"], precision, rtol=1e-9)
    np.testing.assert_allclose(scores["recall"], recall, rtol=1e-9)
    np.testing.assert_allclose(scores["f1"], f1, rtol=1e-9)
    np.testing.assert_array_equal(scores["support"], support)


def test_roc_auc_matches_sklearn(clf_case: tuple) -> None:
    y, proba, _, _ = clf_case
    assert m.roc_auc(y, proba) == pytest.approx(_sk_roc_auc(y, proba), rel=1e-9)


def test_log_loss_matches_sklearn(clf_case: tuple) -> None:
    y, proba, _, n_classes = clf_case
    expected = skm.log_loss(y, y_proba=proba, labels=np.arange(n_classes))
    assert m.log_loss(y, proba) == pytest.approx(expected, rel=1e-9)


def test_classification_report_matches_sklearn(clf_case: tuple) -> None:
    y, proba, y_pred, n_classes = clf_case
    names = [f"class_{i}" for i in range(n_classes)]
    report = m.classification_report(y, proba, names)

    expected = {
        "accuracy": skm.accuracy_score(y, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, y_pred),
        "roc_auc": _sk_roc_auc(y, proba),
        "log_loss": skm.log_loss(y, y_proba=proba, labels=np.arange(n_classes)),
    }
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = _sk_prf(y, y_pred, n_classes, average=average)
        expected |= {f"precision_{average}": precision, f"recall_{average}": recall, f"f1_{average}": f1}
    for key, value in expected.items():
        assert report[key] == pytest.approx(value, rel=1e-9), key

    assert report["n_samples"] == len(y)
    assert report["class_names"] == names
    assert report["confusion_matrix"] == skm.confusion_matrix(y, y_pred, labels=np.arange(n_classes)).tolist()
    precision, recall, f1, support = _sk_prf(y, y_pred, n_classes, average=None)
    for i, name in enumerate(names):
        row = report["per_class"][name]
        assert row["precision"] == pytest.approx(precision[i], rel=1e-9)
        assert row["recall"] == pytest.approx(recall[i], rel=1e-9)
        assert row["f1"] == pytest.approx(f1[i], rel=1e-9)
        assert row["support"] == support[i]


def _assert_plain_json(value: object) -> None:
    """No NumPy scalars or arrays anywhere: only the types json writes back identically."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            _assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            _assert_plain_json(v)
    else:
        assert value is None or type(value) in (float, int, str), type(value)


def test_reports_are_plain_json(clf_case: tuple) -> None:
    y, proba, _, n_classes = clf_case
    report = m.classification_report(y, proba, [str(i) for i in range(n_classes)])
    _assert_plain_json(report)
    assert json.loads(json.dumps(report)) == report
    regression = m.regression_report(np.arange(5.0), np.arange(5.0) + 0.5)
    _assert_plain_json(regression)
    assert type(regression["n_samples"]) is int


def test_roc_auc_counts_ties_as_half_against_brute_force() -> None:
    rng = np.random.default_rng(42)
    y = rng.integers(0, 2, 150)
    score = rng.integers(0, 5, 150) / 4.0
    pos, neg = score[y == 1], score[y == 0]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert m.roc_auc(y, np.column_stack([1 - score, score])) == pytest.approx(pairs.mean(), rel=1e-12)


# --------------------------------------------------------------------------------------------------
# Classification edge cases
# --------------------------------------------------------------------------------------------------


def test_roc_auc_is_none_when_a_class_is_missing_from_y_true() -> None:
    rng = np.random.default_rng(7)
    proba3 = rng.dirichlet(np.ones(3), size=50)
    y_missing_class_2 = rng.integers(0, 2, 50)
    assert m.roc_auc(y_missing_class_2, proba3) is None
    assert m.roc_auc(np.ones(20, dtype=int), rng.dirichlet(np.ones(2), size=20)) is None


def test_report_with_class_absent_from_y_true_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 100)  # class 3 never true...
    proba = _informative_proba(rng, y, 4, signal=0.5)  # ...but sometimes predicted
    y_pred = proba.argmax(axis=1)
    assert (y_pred == 3).any()
    report = m.classification_report(y, proba, ["a", "b", "c", "d"])
    assert report["roc_auc"] is None
    assert report["per_class"]["d"]["recall"] == 0.0
    assert report["per_class"]["d"]["support"] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that y_pred has a class y_true lacks
        expected_balanced = skm.balanced_accuracy_score(y, y_pred)
    assert report["balanced_accuracy"] == pytest.approx(expected_balanced, rel=1e-9)
    f1_macro = _sk_prf(y, y_pred, 4, average="macro")[2]
    assert report["f1_macro"] == pytest.approx(f1_macro, rel=1e-9)
    assert report["log_loss"] == pytest.approx(skm.log_loss(y, y_proba=proba, labels=range(4)), rel=1e-9)


def test_float_labels_with_integer_values_are_accepted() -> None:
    assert m.accuracy(np.array([0.0, 1.0, 2.0]), [0, 1, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=re.escape("y_true must contain integer class indices. Got dtype")):
        m.accuracy([0.5, 1.0], [0, 1])


def test_classification_length_mismatch_message() -> None:
    with pytest.raises(
        ValueError, match=re.escape("y_true and y_pred must have the same length. Got 10 and 9 instead.")
    ):
        m.accuracy(np.zeros(10, dtype=int), np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match=re.escape("y_true and proba must have the same length. Got 3 and 2 instead.")):
        m.log_loss([0, 1, 0], [[0.5, 0.5], [0.5, 0.5]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: m.roc_auc([0, 1], [0.2, 0.8]),
            "proba must be a 2-D array of shape [n_samples, n_classes]. Got shape (2,) instead.",
        ),
        (
            lambda: m.confusion_matrix([0, 3], [0, 1], n_classes=3),
            "y_true must contain class indices in [0, 2]. Got 3 instead.",
        ),
        (
            lambda: m.confusion_matrix([[0, 1]], [[0, 1]], n_classes=2),
            "y_true must be a 1-D array of class indices. Got shape (1, 2) instead.",
        ),
        (lambda: m.accuracy([], []), "y_true must not be empty. Got 0 samples instead."),
        (
            lambda: m.log_loss([0, 1], [[2.0, -1.0], [0.5, 0.5]]),
            "proba must contain probabilities in [0, 1]. Got values from -1.0 to 2.0 instead.",
        ),
        (
            lambda: m.classification_report([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "b", "c"]),
            "proba must have one column per class name. Got 2 columns and 3 class names instead.",
        ),
        (
            lambda: m.mean_squared_error(np.zeros((10, 2)), np.zeros((10, 3))),
            "y_true and y_pred must have the same shape. Got (10, 2) and (10, 3) instead.",
        ),
        (
            lambda: m.r2_score(np.zeros((4, 2, 2)), np.zeros((4, 2, 2))),
            "y_true must be 1-D [n_samples] or 2-D [n_samples, n_outputs]. Got shape (4, 2, 2) instead.",
        ),
        (
            lambda: m.mean_absolute_error(np.zeros(10), np.zeros(9)),
            "y_true and y_pred must have the same length. Got 10 and 9 instead.",
        ),
    ],
    ids=[
        "proba_1d",
        "label_out_of_range",
        "labels_2d",
        "empty",
        "proba_not_probabilities",
        "class_names_mismatch",
        "regression_shape",
        "regression_3d",
        "regression_length",
    ],
)
def test_invalid_input_messages(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------------------------------
# Regression against scikit-learn
# --------------------------------------------------------------------------------------------------


def _regression_1d(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.normal(3.0, 2.0, 200)
    return y, y + rng.normal(0.0, 0.7, 200)


def _regression_2d(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Outputs on very different scales: uniform averaging differs from pooling all values together.
    y = rng.normal(size=(150, 3)) * np.array([1.0, 10.0, 0.1]) + np.array([5.0, -20.0, 1.0])
    return y, y + rng.normal(size=(150, 3)) * np.array([0.5, 8.0, 0.3])


def _regression_constant_column(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = np.column_stack([rng.normal(size=80), np.full(80, 4.0), np.full(80, -2.0)])
    pred = y + np.column_stack([rng.normal(0, 0.3, 80), rng.normal(0, 0.1, 80), np.zeros(80)])
    return y, pred  # output 1: constant and imperfect (R² 0.0); output 2: constant and perfect (1.0)


def _regression_with_zero_targets(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 4, 100).astype(float)  # zeros exercise MAPE's epsilon denominator
    return y, y + rng.normal(0, 0.5, 100)


REGRESSION_CASES = {
    "1d": _regression_1d,
    "2d": _regression_2d,
    "constant_column": _regression_constant_column,
    "zero_targets": _regression_with_zero_targets,
}

REGRESSION_PAIRS = [
    (m.mean_absolute_error, skm.mean_absolute_error, "mae"),
    (m.mean_squared_error, skm.mean_squared_error, "mse"),
    (m.root_mean_squared_error, skm.root_mean_squared_error, "rmse"),
    (m.r2_score, skm.r2_score, "r2"),
    (m.mean_absolute_percentage_error, skm.mean_absolute_percentage_error, "mape"),
]


@pytest.mark.parametrize("case", sorted(REGRESSION_CASES))
@pytest.mark.parametrize(("ours", "theirs", "key"), REGRESSION_PAIRS, ids=[p[2] for p in REGRESSION_PAIRS])
def test_regression_metric_matches_sklearn(case: str, ours: object, theirs: object, key: str) -> None:
    y, pred = REGRESSION_CASES[case](np.random.default_rng(100 + sorted(REGRESSION_CASES).index(case)))
    expected = theirs(y, pred)  # type: ignore[operator]
    assert ours(y, pred) == pytest.approx(expected, rel=1e-9)  # type: ignore[operator]
    assert m.regression_report(y, pred)[key] == pytest.approx(expected, rel=1e-9)


def test_regression_report_keys_and_count() -> None:
    report = m.regression_report(np.zeros((7, 2)), np.ones((7, 2)))
    assert set(report) == {"mae", "mse", "rmse", "r2", "mape", "n_samples"}
    assert report["n_samples"] == 7
    assert report["r2"] == 0.0  # constant targets, imperfect fit


def test_r2_constant_target_and_single_sample() -> None:
    assert m.r2_score([3.0, 3.0, 3.0], [3.0, 3.0, 3.0]) == 1.0
    assert m.r2_score([3.0, 3.0, 3.0], [3.0, 2.0, 3.0]) == 0.0
    assert math.isnan(m.r2_score([1.0], [2.0]))


def test_column_vector_and_flat_predictions_are_compatible() -> None:
    y = np.arange(6.0)
    assert m.mean_squared_error(y[:, None], y + 1.0) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------


def test_every_scalar_report_key_is_registered() -> None:
    rng = np.random.default_rng(0)
    y, proba = _three_class_tied_rows(rng)
    report = m.classification_report(y, proba, ["a", "b", "c"])
    scalar_keys = {k for k, v in report.items() if v is None or isinstance(v, (int, float))}
    scalar_keys |= set(m.regression_report([1.0, 2.0], [1.0, 2.5]))
    # every score is registered with its direction; n_samples is a count, not a score to select by
    assert scalar_keys - {"n_samples"} | {"loss"} == set(m.METRICS)
    assert all(m.METRICS[name].name == name for name in m.METRICS)


@pytest.mark.parametrize(
    ("name", "greater"),
    [
        ("accuracy", True),
        ("roc_auc", True),
        ("r2", True),
        ("loss", False),
        ("log_loss", False),
        ("mape", False),
    ],
)
def test_metric_info_direction(name: str, greater: bool) -> None:
    assert m.metric_info(name) == m.MetricInfo(name, greater_is_better=greater)


def test_metric_info_unknown_name_suggests_close_match() -> None:
    with pytest.raises(
        ValueError, match=re.escape("Unknown metric 'balanced_acc' (did you mean 'balanced_accuracy'?)")
    ):
        m.metric_info("balanced_acc")
    with pytest.raises(ValueError, match="Known metrics: accuracy, balanced_accuracy, f1_macro") as err:
        m.metric_info("zzz")
    assert "did you mean" not in str(err.value)


def test_metric_info_is_frozen() -> None:
    with pytest.raises(AttributeError):
        m.metric_info("accuracy").greater_is_better = False  # type: ignore[misc]


def test_is_better_greater_is_better() -> None:
    assert m.is_better("accuracy", 0.8, None)
    assert m.is_better("accuracy", 0.81, 0.80)
    assert not m.is_better("accuracy", 0.80, 0.80)
    assert not m.is_better("accuracy", 0.79, 0.80)
    assert not m.is_better("accuracy", 0.805, 0.80, min_delta=0.01)
    assert m.is_better("accuracy", 0.82, 0.80, min_delta=0.01)


def test_is_better_lower_is_better() -> None:
    assert m.is_better("loss", 3.0, None)
    assert m.is_better("loss", 0.4, 0.5)
    assert not m.is_better("loss", 0.5, 0.5)
    assert not m.is_better("rmse", 0.6, 0.5)
    assert not m.is_better("loss", 0.495, 0.5, min_delta=0.01)
    assert m.is_better("loss", 0.48, 0.5, min_delta=0.01)


def test_is_better_undefined_values_and_bad_arguments() -> None:
    assert not m.is_better("roc_auc", None, None)
    assert not m.is_better("loss", float("nan"), 0.5)
    assert m.is_better("loss", 0.5, float("nan"))
    with pytest.raises(ValueError, match="min_delta must be non-negative"):
        m.is_better("loss", 0.1, 0.2, min_delta=-0.1)
    with pytest.raises(ValueError, match="did you mean 'accuracy'"):
        m.is_better("acuracy", 0.1, 0.2)
