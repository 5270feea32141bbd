"""fmnist_core.evaluate against sklearn on random labels, plus hand-made edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from fmnist_core import evaluate
from fmnist_core.data import CLASS_NAMES


@pytest.fixture
def labels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    y_true = rng.integers(0, 10, size=500)
    # Mostly right, some noise, and class 9 never predicted (zero-division case for precision).
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 9, size=500))
    y_pred[y_pred == 9] = 8
    return y_true, y_pred


def test_accuracy_matches_sklearn(labels):
    y_true, y_pred = labels
    assert evaluate.accuracy(y_true, y_pred) == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert evaluate.accuracy(np.array([1, 2]), np.array([1, 3])) == 0.5
    assert np.isnan(evaluate.accuracy(np.array([], dtype=int), np.array([], dtype=int)))


def test_confusion_matrix_matches_sklearn(labels):
    y_true, y_pred = labels
    cm = evaluate.confusion_matrix(y_true, y_pred)
    assert cm.shape == (10, 10) and cm.dtype == np.int64
    np.testing.assert_array_equal(cm, metrics.confusion_matrix(y_true, y_pred, labels=range(10)))
    assert cm.sum() == 500
    assert cm[:, 9].sum() == 0  # never predicted


def test_confusion_matrix_rows_are_true_class():
    cm = evaluate.confusion_matrix(np.array([0, 0, 1]), np.array([1, 1, 1]), num_classes=3)
    assert cm.tolist() == [[0, 2, 0], [0, 1, 0], [0, 0, 0]]


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="outside"):
        evaluate.confusion_matrix(np.array([0, 10]), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        evaluate.confusion_matrix(np.array([0, 1]), np.array([0]))


def test_per_class_report_matches_sklearn(labels):
    y_true, y_pred = labels
    report = evaluate.per_class_report(y_true, y_pred)
    assert list(report.columns) == ["class", "precision", "recall", "f1", "support"]
    assert len(report) == 10  # no average rows
    assert report["class"].tolist() == list(CLASS_NAMES)
    p, r, f, s = metrics.precision_recall_fscore_support(y_true, y_pred, labels=range(10), zero_division=0)
    np.testing.assert_allclose(report["precision"], p)
    np.testing.assert_allclose(report["recall"], r)
    np.testing.assert_allclose(report["f1"], f)
    np.testing.assert_array_equal(report["support"], s)
    assert report.loc[9, "precision"] == 0.0 and report.loc[9, "f1"] == 0.0  # zero division -> 0


def test_per_class_report_absent_class_is_zero_not_nan():
    report = evaluate.per_class_report(np.array([0, 0]), np.array([0, 0]))
    assert report.loc[0, ["precision", "recall", "f1"]].tolist() == [1.0, 1.0, 1.0]
    assert not report[["precision", "recall", "f1"]].isna().any().any()
    assert report.loc[3, "support"] == 0


def test_misclassified_most_confident_first():
    y_true = np.array([0, 1, 2, 3, 4])
    probs = np.array(
        [
            [0.9, 0.1, 0, 0, 0],  # right
            [0.7, 0.3, 0, 0, 0],  # wrong, 0.7
            [0.05, 0, 0.05, 0.9, 0],  # wrong, 0.9
            [0, 0, 0.6, 0.4, 0],  # wrong, 0.6
            [0, 0, 0, 0, 1.0],  # right
        ]
    )
    df = evaluate.misclassified(y_true, probs, k=24)
    assert list(df.columns) == ["index", "true", "pred", "confidence"]
    assert df["index"].tolist() == [2, 1, 3]
    assert df["true"].tolist() == [2, 1, 3]
    assert df["pred"].tolist() == [3, 0, 2]
    np.testing.assert_allclose(df["confidence"], [0.9, 0.7, 0.6])
    assert evaluate.misclassified(y_true, probs, k=2)["index"].tolist() == [2, 1]


def test_misclassified_random_against_brute_force():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(300, 10))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_true = rng.integers(0, 10, 300)
    df = evaluate.misclassified(y_true, probs, k=10)
    pred = probs.argmax(1)
    wrong_conf = sorted(probs[i, pred[i]] for i in range(300) if pred[i] != y_true[i])[::-1]
    np.testing.assert_allclose(df["confidence"], wrong_conf[:10])
    assert (df["true"] != df["pred"]).all()
    assert df["confidence"].is_monotonic_decreasing


def test_misclassified_none_wrong_is_empty():
    df = evaluate.misclassified(np.array([1]), np.array([[0.2, 0.8]]))
    assert df.empty and list(df.columns) == ["index", "true", "pred", "confidence"]
