"""UI-free statistics behind the dataset explorer: summaries, per-class images, PCA, histograms, paging.

Pure numpy (no sklearn, no TensorFlow, no Streamlit), so the explorer page stays fast to import.
Images are (n, 28, 28) uint8 and labels (n,) integers 0-9 throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fmnist_core.data import CLASS_NAMES, NUM_CLASSES, FashionMNIST, class_counts


def caption(label: int, *, class_names: Sequence[str] = CLASS_NAMES) -> str:
    """How an image is captioned everywhere: "label id · name", e.g. "7 · Sneaker"."""
    return f"{int(label)} · {class_names[int(label)]}"


def value_counts(images: np.ndarray, *, chunk: int = 4096) -> np.ndarray:
    """(256,) int64: how many pixels take each value 0-255.

    Counted in chunks of images: np.bincount casts its input to int64, and 60,000 images at once
    would mean a 376 MB temporary.
    """
    images = np.asarray(images)
    flat = images.reshape(len(images), int(np.prod(images.shape[1:])))
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, len(flat), chunk):
        counts += np.bincount(flat[start : start + chunk].reshape(-1), minlength=256)
    return counts


def split_arrays(data: FashionMNIST, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of "train" or "test"."""
    if split == "train":
        return data.x_train, data.y_train
    if split == "test":
        return data.x_test, data.y_test
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def dataset_summary(data: FashionMNIST) -> pd.DataFrame:
    """One row per split: images, image shape, dtype, min/max/mean/std pixel value, share of pixels
    that are exactly 0 (background), classes present."""
    rows = []
    for split in ("train", "test"):
        x, y = split_arrays(data, split)
        # Mean and std from a 256-bin histogram: exact, and no float copy of 47M pixels.
        hist = value_counts(x).astype(np.float64)
        values = np.arange(256, dtype=np.float64)
        n = hist.sum()
        mean = float(hist @ values / n) if n else float("nan")
        std = float(np.sqrt(hist @ (values - mean) ** 2 / n)) if n else float("nan")
        lit = np.nonzero(hist)[0]
        rows.append(
            {
                "split": split,
                "images": len(x),
                "image shape": "×".join(str(d) for d in x.shape[1:]),
                "dtype": str(x.dtype),
                "min": int(lit[0]) if len(lit) else None,
                "max": int(lit[-1]) if len(lit) else None,
                "mean": mean,
                "std": std,
                "zero share": float(hist[0] / n) if n else float("nan"),
                "classes": int(np.count_nonzero(class_counts(y))),
            }
        )
    return pd.DataFrame(rows)


def summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    """`dataset_summary` transposed for reading: one row per statistic, one text column per split."""
    rows = {
        "images": lambda r: f"{int(r['images']):,}",
        "image shape": lambda r: str(r["image shape"]),
        "dtype": lambda r: str(r["dtype"]),
        "value range": lambda r: f"{r['min']}–{r['max']}",
        "mean pixel": lambda r: f"{r['mean']:.1f}",
        "std pixel": lambda r: f"{r['std']:.1f}",
        "pixels = 0": lambda r: f"{r['zero share']:.1%}",
        "classes": lambda r: str(int(r["classes"])),
    }
    return pd.DataFrame(
        {r["split"]: [fmt(r) for fmt in rows.values()] for _, r in summary.iterrows()},
        index=pd.Index(list(rows), name="statistic"),
    )


def class_table(data: FashionMNIST, *, class_names: Sequence[str] = CLASS_NAMES) -> pd.DataFrame:
    """Images per class: columns id, class, train, test."""
    return pd.DataFrame(
        {
            "id": np.arange(NUM_CLASSES),
            "class": list(class_names),
            "train": class_counts(data.y_train),
            "test": class_counts(data.y_test),
        }
    )


def class_mean_std(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class mean and (population) standard deviation of each pixel.

    Returns (means, stds), each (10, 28, 28) float64 in pixel units (0-255). A class with no
    images gets NaN.
    """
    labels = np.asarray(labels)
    shape = (NUM_CLASSES, *images.shape[1:])
    means = np.full(shape, np.nan)
    stds = np.full(shape, np.nan)
    for c in range(NUM_CLASSES):
        sel = images[labels == c]
        if len(sel):
            sel = sel.astype(np.float64)
            means[c] = sel.mean(axis=0)
            stds[c] = sel.std(axis=0)
    return means, stds


def pixel_histograms(
    images: np.ndarray, labels: np.ndarray, *, bins: int = 32, exclude_zero: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-intensity counts per class over equal-width bins of 0-255.

    Returns (edges (bins+1,) float, counts (10, bins) int64). With exclude_zero, pure-black
    background pixels (value 0) are left out, which otherwise dwarf everything else.
    """
    if not 1 <= bins <= 256 or 256 % bins:
        raise ValueError(f"bins must divide 256 (1, 2, 4, ..., 256), got {bins}")
    labels = np.asarray(labels)
    per_value = np.zeros((NUM_CLASSES, 256), dtype=np.int64)
    for c in range(NUM_CLASSES):
        per_value[c] = value_counts(images[labels == c])
    if exclude_zero:
        per_value[:, 0] = 0
    counts = per_value.reshape(NUM_CLASSES, bins, 256 // bins).sum(axis=2)
    edges = np.linspace(0.0, 256.0, bins + 1)
    return edges, counts


@dataclass(frozen=True)
class Projection:
    coords: np.ndarray  # (n, 2) float64: PC1, PC2 of each sampled image
    indices: np.ndarray  # (n,) int64: which images of the split were sampled (sorted)
    labels: np.ndarray  # (n,) int64
    explained_variance_ratio: np.ndarray  # (2,) share of the sample's variance on each axis


def sample_indices(n_total: int, n: int, *, seed: int = 0) -> np.ndarray:
    """n distinct indices out of n_total (all of them if n >= n_total), sorted, reproducible by seed."""
    if n >= n_total:
        return np.arange(n_total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=n, replace=False)).astype(np.int64)


def pca_2d(images: np.ndarray, labels: np.ndarray, *, n: int = 2000, seed: int = 0) -> Projection:
    """PCA of a seeded random sample of n images onto its first two principal components.

    Pixels are scaled to 0-1 and centred on the sample mean. Component signs are fixed (largest
    loading positive, as sklearn's svd_flip does), so the same seed gives the same picture.
    """
    idx = sample_indices(len(images), n, seed=seed)
    if len(idx) < 2:
        raise ValueError("PCA needs at least 2 images")
    x = images[idx].reshape(len(idx), -1).astype(np.float64) / 255.0
    x -= x.mean(axis=0)
    # Eigenvectors of the 784x784 scatter matrix: ~0.1 s, where a thin SVD of the sample takes seconds.
    scatter = x.T @ x
    eigvals, eigvecs = np.linalg.eigh(scatter)  # ascending
    components = eigvecs[:, ::-1][:, :2].T  # (2, 784)
    top = np.clip(eigvals[::-1][:2], 0.0, None)
    signs = np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])
    signs[signs == 0] = 1.0
    components = components * signs[:, None]
    total = float(np.trace(scatter))
    ratio = top / total if total > 0 else np.zeros(2)
    return Projection(
        coords=x @ components.T,
        indices=idx,
        labels=np.asarray(labels)[idx].astype(np.int64),
        explained_variance_ratio=ratio,
    )


@dataclass(frozen=True)
class GridPage:
    indices: np.ndarray  # (<= per_page,) int64 indices into the split, in display order
    page: int  # 1-based page actually shown (clamped)
    n_pages: int  # >= 1, even when nothing matches
    n_matching: int  # images passing the class filter


def select_grid(
    labels: np.ndarray,
    *,
    classes: Iterable[int] | None = None,
    page: int = 1,
    per_page: int = 32,
    shuffle: bool = False,
    seed: int = 0,
) -> GridPage:
    """Which images to show in the grid: filter by classes (None or empty = all), optionally shuffle
    with a seed, then cut into pages of per_page and return the (1-based, clamped) page asked for.
    """
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, got {per_page}")
    labels = np.asarray(labels)
    wanted = sorted({int(c) for c in classes}) if classes else []
    matching = np.flatnonzero(np.isin(labels, wanted)) if wanted else np.arange(len(labels))
    if shuffle:
        matching = np.random.default_rng(seed).permutation(matching)
    n_pages = max(1, -(-len(matching) // per_page))
    page = min(max(1, int(page)), n_pages)
    start = (page - 1) * per_page
    return GridPage(
        indices=matching[start : start + per_page].astype(np.int64),
        page=page,
        n_pages=n_pages,
        n_matching=len(matching),
    )


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, (n, h, w) -> (n, h*factor, w*factor), so small images stay crisp
    when a browser shows them large (browsers smooth upscaled images)."""
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    return np.repeat(np.repeat(images, factor, axis=-2), factor, axis=-1)


def image_stats(image: np.ndarray) -> dict[str, float]:
    """Quick facts about one image: min, max, mean pixel value and share of lit (non-zero) pixels."""
    image = np.asarray(image)
    return {
        "min": int(image.min()),
        "max": int(image.max()),
        "mean": float(image.mean()),
        "lit": float(np.count_nonzero(image) / image.size),
    }


def selected_indices(points: Iterable[Mapping[str, Any]], *, valid: np.ndarray) -> list[int]:
    """Image indices from a Plotly selection (each point's customdata holds its index), in selection
    order, without duplicates, keeping only those in `valid` (a stale selection from another sample
    or split is dropped)."""
    allowed = {int(i) for i in np.asarray(valid).reshape(-1)}
    out: list[int] = []
    seen: set[int] = set()
    for point in points or []:
        data = point.get("customdata")
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if data is None:
            continue
        try:
            idx = int(data)
        except (TypeError, ValueError):
            continue
        if idx in allowed and idx not in seen:
            seen.add(idx)
            out.append(idx)
    return out
