"""Evaluation of predictions: accuracy, confusion matrix, per-class report, confident mistakes.

Pure numpy/pandas (no sklearn, no TensorFlow): the Train page calls these on every refresh.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fmnist_core.data import CLASS_NAMES, NUM_CLASSES


def _labels(y: np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class ids, got shape {y.shape}")
    return y.astype(np.int64, copy=False)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of predictions equal to the truth (NaN for no samples)."""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, *, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; rows are the true class, columns the predicted one."""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} has class ids outside 0..{num_classes - 1}")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def per_class_report(
    y_true: np.ndarray, y_pred: np.ndarray, *, class_names: Sequence[str] = CLASS_NAMES
) -> pd.DataFrame:
    """One row per class (no average rows): class, precision, recall, f1, support.

    A ratio whose denominator is zero (class never predicted, or never present) is 0, as
    sklearn's `zero_division=0`.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes=len(class_names))
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    return pd.DataFrame(
        {
            "class": list(class_names),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(np.int64),
        }
    )


def misclassified(y_true: np.ndarray, probs: np.ndarray, *, k: int = 24) -> pd.DataFrame:
    """The k most confident mistakes: columns index, true, pred, confidence (probability of the
    predicted class), sorted by confidence descending. `probs` is (n, num_classes)."""
    y_true = _labels(y_true, "y_true")
    probs = np.asarray(probs)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"probs must be (n, classes) with n = {len(y_true)}, got shape {probs.shape}")
    pred = probs.argmax(axis=1)
    confidence = probs[np.arange(len(pred)), pred]
    wrong = np.flatnonzero(pred != y_true)
    # Stable sort on -confidence: ties keep index order, so the result is deterministic.
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][: max(k, 0)]
    return pd.DataFrame(
        {
            "index": order.astype(np.int64),
            "true": y_true[order],
            "pred": pred[order].astype(np.int64),
            "confidence": confidence[order].astype(np.float64),
        }
    )
