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


EXECUTORS = ("local", "ray")


def executor() -> str:
    """$FMNIST_EXECUTOR: where runs train. "local" (the default): worker processes on this machine;
    "ray": tasks on a Ray cluster (docs/scaling.md). Anything else falls back to "local" with a warning
    in the server log."""
    value = os.environ.get("FMNIST_EXECUTOR", "local").strip().lower() or "local"
    if value not in EXECUTORS:
        import logging

        logging.getLogger(__name__).warning(
            "FMNIST_EXECUTOR=%r is not one of %s: using 'local'", value, ", ".join(EXECUTORS)
        )
        return "local"
    return value


def ray_address() -> str:
    """$FMNIST_RAY_ADDRESS: the Ray cluster to use with FMNIST_EXECUTOR=ray. "auto" (a cluster started
    on this machine with `ray start`), "ray://host:10001" (Ray Client), or empty (the default): the app
    starts a private local Ray on 127.0.0.1."""
    return os.environ.get("FMNIST_RAY_ADDRESS", "").strip()


def ray_cpus_per_run() -> float:
    """$FMNIST_RAY_CPUS_PER_RUN: CPUs each run asks Ray for, and TensorFlow threads it trains with
    (default 2: the lab MLP gains little from more threads; more runs side by side gain more)."""
    return _env_number("FMNIST_RAY_CPUS_PER_RUN", 2, lo=0.25, hi=256)


def ray_local_cpus() -> int:
    """$FMNIST_RAY_LOCAL_CPUS: CPUs of the private local Ray the app starts (default 0: every core)."""
    return int(_env_number("FMNIST_RAY_LOCAL_CPUS", 0, lo=0, hi=4096))
