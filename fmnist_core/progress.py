"""Progress of a run from its stored points: epoch, batch, fraction done and ETA (UI-free)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fmnist_core.augment import drawings_added

N_TRAIN_TOTAL = 60000

LIVE_POLL_SECONDS = 0.5  # a live chart trails the store by at most about this much (plus drawing)
# Until a started run's first point is on screen the page polls faster: the first second of a demo is the one
# people watch. One full redraw then slows it to LIVE_POLL_SECONDS (redrawing charts 5 times a second takes
# CPU the training needs).
FIRST_POINT_POLL_SECONDS = 0.2


def live_poll_seconds(status: str, has_points: bool) -> float:
    """How often a page should poll the store for a queued or running run."""
    return FIRST_POINT_POLL_SECONDS if status == "queued" or not has_points else LIVE_POLL_SECONDS


def n_train_images(config: dict[str, Any], *, n_total: int = N_TRAIN_TOTAL) -> int:
    """Images in the training split of a config (after the validation split and any subset), with the
    procedural drawings that "sketch" augmentation adds."""
    n = n_total - math.ceil(float(config.get("val_fraction", 0.2)) * n_total)
    subset = config.get("train_subset")
    n = min(n, int(subset)) if subset else n
    return n + drawings_added(n, config.get("augment"))


def steps_per_epoch(config: dict[str, Any], *, n_total: int = N_TRAIN_TOTAL) -> int:
    return math.ceil(n_train_images(config, n_total=n_total) / int(config.get("batch_size", 64)))


@dataclass(frozen=True)
class RunProgress:
    epoch: int  # the epoch in progress (1-based), or the last one done
    epochs: int
    step: int  # batches done in that epoch
    steps: int
    fraction: float  # of the whole run, 0..1
    elapsed: float  # seconds since the run started
    eta: float | None  # seconds left, None until there is a first point

    @property
    def text(self) -> str:
        eta = "estimating…" if self.eta is None else f"about {format_seconds(self.eta)} left"
        return (
            f"Epoch {self.epoch}/{self.epochs} · batch {self.step:,}/{self.steps:,} · "
            f"{self.fraction:.0%} · {format_seconds(self.elapsed)} elapsed · {eta}"
        )


def run_progress(
    config: dict[str, Any],
    points: pd.DataFrame,
    *,
    started: float | None,
    now: float | None = None,
    n_total: int = N_TRAIN_TOTAL,
) -> RunProgress:
    """Where a run stands, from its config and stored points."""
    now = time.time() if now is None else now
    epochs = int(config.get("epochs", 1))
    steps = steps_per_epoch(config, n_total=n_total)
    elapsed = max(0.0, now - started) if started else 0.0
    if points is None or points.empty:
        return RunProgress(1, epochs, 0, steps, 0.0, elapsed, None)
    last = points.iloc[-1]
    progress = float(points["progress"].max())
    fraction = min(1.0, progress / epochs)
    if last["kind"] == "epoch":
        epoch, step = int(last["epoch"]), steps
    else:  # points stored before the step bound could say 341/313: never show more than the epoch has
        epoch, step = int(last["epoch"]), min(int(last["step"]), steps)
    # Rate from the first point on, so model building and the first compile don't skew it.
    t0 = float(points["time"].iloc[0])
    p0 = float(points["progress"].iloc[0])
    rate = (
        (progress - p0) / (float(points["time"].iloc[-1]) - t0) if progress > p0 and len(points) > 1 else None
    )
    eta = (epochs - progress) / rate if rate else None
    return RunProgress(epoch, epochs, step, steps, fraction, elapsed, eta)


def format_seconds(s: float) -> str:
    """The one duration formatter: '42 s', '3 min 05 s', '2 h 10 min' ('unknown' for NaN/inf)."""
    if not math.isfinite(s):
        return "unknown"
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
