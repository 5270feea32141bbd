"""Seeing inside a trained model: the images in a confusion-matrix cell, what the first layer learned,
feature maps, and the validation confusion counts recorded at each epoch end.

Pure numpy where it can be (the gallery filter, template images); Keras only in the functions that take
a model, imported lazily by their callers' models.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fmnist_core.data import NUM_CLASSES

# ----------------------------------------------------------------------------- the gallery of one cell


def parse_cell(raw: object, *, num_classes: int = NUM_CLASSES) -> tuple[int, int] | None:
    """`"6,0"` (true 6, predicted 0) from a URL into (6, 0); None for anything else."""
    if not isinstance(raw, str) or raw.count(",") != 1 or len(raw) > 7:
        return None
    a, b = (p.strip() for p in raw.split(","))
    if not (a.isdigit() and b.isdigit()):
        return None
    t, p = int(a), int(b)
    return (t, p) if 0 <= t < num_classes and 0 <= p < num_classes else None


def cell_images(y_true: np.ndarray, probs: np.ndarray, true_class: int, pred_class: int) -> pd.DataFrame:
    """The images of one confusion-matrix cell: true `true_class`, predicted `pred_class`.

    Columns: index (into the test set), confidence (probability of the predicted class), top3 (three
    (class, probability) pairs, highest first). A mistake cell lists the most confident first; the
    diagonal lists the least confident correct answers first (the ones the model nearly got wrong).
    Ties keep index order.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"probs must be (n, classes) with n = {len(y_true)}, got shape {probs.shape}")
    pred = probs.argmax(axis=1)
    idx = np.flatnonzero((y_true == true_class) & (pred == pred_class))
    conf = probs[idx, pred_class]
    key = conf if true_class == pred_class else -conf
    idx = idx[np.argsort(key, kind="stable")]
    top = np.argsort(-probs[idx], axis=1, kind="stable")[:, :3]
    return pd.DataFrame(
        {
            "index": idx.astype(np.int64),
            "confidence": probs[idx, pred_class],
            "top3": [[(int(c), float(probs[i, c])) for c in row] for i, row in zip(idx, top, strict=True)],
        }
    )


def page_of(frame: pd.DataFrame, page: int, per_page: int) -> tuple[pd.DataFrame, int, int]:
    """(rows of page `page`, clamped to the pages there are, that page (1-based), number of pages)."""
    pages = max(1, -(-len(frame) // per_page))
    page = min(max(1, int(page)), pages)
    return frame.iloc[(page - 1) * per_page : page * per_page], page, pages


# ----------------------------------------------------------------------------- what the first layer learned


def dense_templates(kernel: np.ndarray, *, top: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first Dense layer's weights as images: `kernel` is (784, units).

    Returns (images (k, 28, 28) float32, their unit numbers, their L2 norms), the k = min(top, units)
    units with the largest weight norm first (the units that respond most strongly to some input).
    The weights are not rescaled: a diverging colour scale centred on 0 shows them as they are.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2 or kernel.shape[0] != 784:
        raise ValueError(f"expected a (784, units) kernel, got shape {kernel.shape}")
    norms = np.linalg.norm(kernel, axis=0)
    units = np.argsort(-norms, kind="stable")[: max(1, top)]
    return kernel[:, units].T.reshape(-1, 28, 28), units.astype(np.int64), norms[units]


def conv_templates(kernel: np.ndarray) -> np.ndarray:
    """The first Conv2D layer's filters as images: `kernel` is (kh, kw, 1, filters) -> (filters, kh, kw)."""
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 4 or kernel.shape[2] != 1:
        raise ValueError(f"expected a (kh, kw, 1, filters) kernel on grey images, got shape {kernel.shape}")
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1))


def first_layer(model: Any) -> tuple[str, np.ndarray] | None:
    """("dense" or "conv", kernel) of the model's first Dense or Conv2D layer; None if it has neither."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Dense", "Conv2D"):
            return ("dense" if kind == "Dense" else "conv"), np.asarray(layer.kernel.numpy())
    return None


def conv_stages(model: Any) -> list[Any]:
    """For each Conv2D layer, the layer whose output is that convolution after its activation (the
    Activation after a batch norm, else the conv itself, which applies its own activation)."""
    layers = list(model.layers)
    out = []
    for i, layer in enumerate(layers):
        if type(layer).__name__ != "Conv2D":
            continue
        stage = layer
        for nxt in layers[i + 1 : i + 3]:
            if type(nxt).__name__ in ("BatchNormalization", "Activation"):
                stage = nxt
            else:
                break
        out.append(stage)
    return out


def feature_maps(model: Any, image: np.ndarray, *, per_layer: int = 16) -> list[tuple[str, np.ndarray]]:
    """Each conv layer's output for one image: [(caption, (k, h, w) float32)], the k = min(per_layer,
    channels) channels with the strongest mean activation first. `image` is (28, 28) uint8 or in [0, 1]."""
    import keras

    stages = conv_stages(model)
    if not stages:
        return []
    x = np.asarray(image, dtype=np.float32)
    if x.max() > 1.0:
        x = x / 255.0
    x = x.reshape(1, 28, 28, 1)
    probe = keras.Model(model.inputs[0], [s.output for s in stages])
    outs = probe(x, training=False)
    outs = outs if isinstance(outs, list | tuple) else [outs]
    result = []
    for n, out in enumerate(outs, start=1):
        maps = np.transpose(np.asarray(out)[0], (2, 0, 1))  # (channels, h, w)
        order = np.argsort(-maps.mean(axis=(1, 2)), kind="stable")[:per_layer]
        h, w = maps.shape[1:]
        result.append((f"Conv layer {n}: {len(maps)} maps of {h}×{w}", maps[order]))
    return result


# ----------------------------------------------------------------------------- how the errors evolved


def validation_confusion(
    model: Any, x_val: np.ndarray, y_val: np.ndarray, *, should_stop: Any = None, chunk: int = 512
) -> tuple[np.ndarray, float] | None:
    """((10, 10) int64 confusion counts of `model` on the validation images, seconds it took), or None
    when `should_stop()` turned true between chunks (a Stop must not wait for a whole pass: ~7 s on
    the strongest CNN). Chunks are called in place (`predict_on_batch`): no data adapter per call."""
    from fmnist_core.evaluate import confusion_matrix

    t0 = time.perf_counter()
    preds = []
    for start in range(0, len(x_val), chunk):
        if should_stop is not None and should_stop():
            return None
        preds.append(np.asarray(model.predict_on_batch(x_val[start : start + chunk])).argmax(1))
    pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
    cm = confusion_matrix(y_val, pred)
    return cm, time.perf_counter() - t0


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall per true class from confusion counts (NaN for a class with no images)."""
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals > 0, np.diag(cm) / totals, np.nan)


EPOCH_CONFUSION_BUDGET = 0.10  # the per-epoch pass may cost at most this share of an epoch's time
MIN_CONFUSION_IMAGES = 1000


def epoch_confusion_mode() -> str:
    """$FMNIST_EPOCH_CONFUSION: "0" off, "all" every validation image at every epoch end, anything else
    (default) within the budget: as many validation images as fit in 10% of the epoch's time."""
    import os

    raw = os.environ.get("FMNIST_EPOCH_CONFUSION", "1").strip().lower()
    return "off" if raw in ("0", "off", "no") else "all" if raw == "all" else "budget"


class EpochConfusionRecorder:
    """Validation confusion counts at each epoch end, kept within a share of the epoch's time.

    The first pass covers every validation image; when a pass costs more than `budget` of the epoch
    it followed (a conv net: ~18% for cnn_fast on 2 cores), later passes use the first n validation
    images, n scaled to fit (at least MIN_CONFUSION_IMAGES). The counts' total says how many were used.
    """

    def __init__(self, *, budget: float = EPOCH_CONFUSION_BUDGET, mode: str | None = None):
        self.budget = budget
        self.mode = mode or epoch_confusion_mode()
        self.n: int | None = None  # images per pass; None: all
        self.last_end = time.monotonic()

    def __call__(
        self, model: Any, x_val: np.ndarray, y_val: np.ndarray, *, should_stop: Any = None
    ) -> tuple[np.ndarray, float] | None:
        """(counts, seconds) for this epoch end; None when off or interrupted by `should_stop`."""
        if self.mode == "off":
            return None
        epoch_seconds = time.monotonic() - self.last_end
        n = len(x_val) if self.n is None else min(self.n, len(x_val))
        result = validation_confusion(model, x_val[:n], y_val[:n], should_stop=should_stop)
        if result is None:
            return None
        counts, seconds = result
        if self.mode == "budget" and seconds > self.budget * epoch_seconds:
            self.n = max(MIN_CONFUSION_IMAGES, int(n * self.budget * epoch_seconds / seconds))
        self.last_end = time.monotonic()  # the next epoch's time excludes this pass
        return counts, seconds


# ----------------------------------------------------------------------------- where a sketch falls among the data


@dataclass(frozen=True)
class PcaMap:
    """The explorer's PCA map (same sample, same axes), with what it takes to place a new image on it."""

    coords: np.ndarray  # (n, 2) PC1, PC2 of each sampled image
    indices: np.ndarray  # (n,) which images of the split
    labels: np.ndarray  # (n,)
    mean: np.ndarray  # (784,) the sample's mean pixel, in [0, 1]
    components: np.ndarray  # (2, 784)
    explained: np.ndarray  # (2,) share of the variance on each axis

    def place(self, image: np.ndarray) -> np.ndarray:
        """(2,) coordinates of a 28x28 image (uint8 0-255 or float 0-1) on this map."""
        x = np.asarray(image, dtype=np.float64).reshape(-1)
        if x.max(initial=0.0) > 1.0:
            x = x / 255.0
        return (x - self.mean) @ self.components.T


def pca_map(images: np.ndarray, labels: np.ndarray, *, n: int = 2000, seed: int = 0) -> PcaMap:
    """PCA of a seeded sample of n images, as `explore.pca_2d` computes it (the same picture as the
    explorer's), keeping the mean and the two components so a drawing can be projected onto it."""
    from fmnist_core.explore import pca_2d

    proj = pca_2d(images, labels, n=n, seed=seed)
    x = images[proj.indices].reshape(len(proj.indices), -1).astype(np.float64) / 255.0
    mean = x.mean(axis=0)
    # coords = (x - mean) @ components.T: recover the components by least squares on the sample itself
    components = np.linalg.lstsq(x - mean, proj.coords, rcond=None)[0].T
    return PcaMap(proj.coords, proj.indices, proj.labels, mean, components, proj.explained_variance_ratio)
