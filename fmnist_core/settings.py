"""Where Fashion-MNIST Studio keeps its state (run store, models)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "FMNIST_HOME"


def studio_home() -> Path:
    """$FMNIST_HOME if set, else ~/.local/share/fmnist-studio (XDG_DATA_HOME respected). Created if missing."""
    if os.environ.get(HOME_ENV):
        home = Path(os.environ[HOME_ENV]).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        home = Path(base) / "fmnist-studio"
    home.mkdir(parents=True, exist_ok=True)
    return home


def _env_number(name: str, default: float, *, lo: float, hi: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return min(hi, max(lo, value)) if value == value else default  # NaN: the default


def max_queued_runs() -> int:
    """$FMNIST_MAX_QUEUED: how many runs may wait in the queue at once (default 200)."""
    return int(_env_number("FMNIST_MAX_QUEUED", 200, lo=1, hi=1_000_000))


def run_time_limit() -> float:
    """$FMNIST_RUN_TIME_LIMIT: wall-clock seconds a run may train before it is stopped (default 6 h;
    0 means no limit)."""
    return _env_number("FMNIST_RUN_TIME_LIMIT", 6 * 3600, lo=0, hi=30 * 24 * 3600)


def auto_resume() -> bool:
    """$FMNIST_AUTO_RESUME=1: the app resumes interrupted runs when it starts (default off)."""
    return os.environ.get("FMNIST_AUTO_RESUME", "0").strip().lower() in ("1", "true", "yes", "on")


def worker_nice() -> int:
    """$FMNIST_WORKER_NICE: how much lower the training worker's CPU priority is (default 10)."""
    return int(_env_number("FMNIST_WORKER_NICE", 10, lo=0, hi=19))


def worker_threads() -> int:
    """$FMNIST_WORKER_THREADS: TensorFlow threads per worker; 0 (the default) = TensorFlow's own
    (every core). Measured on 2 cores with cnn_fast: one thread cost ~40% of training speed and did
    not make the server faster; the lower priority (worker_nice) is what keeps it responsive."""
    return int(_env_number("FMNIST_WORKER_THREADS", 0, lo=0, hi=256))


def study_budget_seconds() -> float:
    """$FMNIST_STUDY_BUDGET: the longest a comparison study or sweep may be estimated to take, in
    seconds (default 4 h; 0 means no limit). A study beyond it is refused with ways to shrink it."""
    return _env_number("FMNIST_STUDY_BUDGET", 4 * 3600, lo=0, hi=30 * 24 * 3600)
