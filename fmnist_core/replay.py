"""Replaying a recorded run as if it were training live, and the recording that ships with the app.

A replay is a pure function of the stored points and a clock: at `elapsed` seconds into a replay at
`speed`x, it shows the points the run had logged `elapsed * speed` seconds after its first point.
The app ships one recorded lab run (config + metric points, no model file), made by the project's
own CLI (`python -m fmnist_core train --preset lab_mlp` then `python -m fmnist_core export-run ID`), so a
teacher can show live curves in the first minute, before anything has trained.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SPEEDS = (1, 4, 16)
RECORDING = Path(__file__).with_name("recordings") / "lab_mlp.json"
RECORDED_LABEL = "recorded lab run (replay it)"
RECORDED_ENV = "recorded"  # never the current environment: the recording is not reused for a Start
LEAD_SECONDS = 0.5  # a replay starts this long before the first point, so its first point "arrives"


@dataclass(frozen=True)
class ReplayState:
    shown: pd.DataFrame  # the points visible at this moment
    fraction: float  # of the replay, 0..1
    done: bool
    seconds_left: float


def replay_duration(points: pd.DataFrame, speed: float) -> float:
    """Seconds a replay at `speed` takes, from its start to its last point."""
    if points is None or points.empty:
        return 0.0
    t = points["time"].astype(float)
    return (float(t.max()) - float(t.min()) + LEAD_SECONDS) / float(speed)


def replay_at(points: pd.DataFrame, elapsed: float, speed: float) -> ReplayState:
    """What a replay at `speed`x shows `elapsed` replay seconds after it started (pause = stop the clock)."""
    if speed <= 0 or not math.isfinite(speed):
        raise ValueError(f"replay speed must be positive, got {speed}")
    if points is None or points.empty:
        return ReplayState(pd.DataFrame(columns=getattr(points, "columns", [])), 1.0, True, 0.0)
    order = points.sort_values(["time", "progress"], kind="stable")
    t0 = float(order["time"].min()) - LEAD_SECONDS
    cutoff = t0 + max(0.0, elapsed) * speed
    shown = order[order["time"].astype(float) <= cutoff]
    total = replay_duration(points, speed)
    done = len(shown) == len(order)
    fraction = 1.0 if done or total <= 0 else min(1.0, max(0.0, elapsed) / total)
    return ReplayState(shown, fraction, done, max(0.0, total - max(0.0, elapsed)))


def parse_speed(raw: Any) -> int | None:
    """A replay speed from a URL (`replay=4`): one of SPEEDS, else None."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        return None
    return value if value in SPEEDS else None


# -- the recording that ships with the app --------------------------------------------------------------


def export_run(store: Any, run_id: int) -> dict[str, Any]:
    """A run as a recording: its config, summary and metric points (no model)."""
    run = store.get_run(run_id)
    if run is None:
        raise ValueError(f"run {run_id} does not exist")
    points = store.points(run_id)
    return {
        "config": run.config,
        "summary": {
            "test_accuracy": run.test_accuracy,
            "test_loss": run.test_loss,
            "seconds": run.seconds,
            "epochs_done": run.epochs_done,
            "params": run.params,
        },
        "points": json.loads(points.to_json(orient="records")),
    }


def import_recording(store: Any, recording: dict[str, Any], *, label: str = RECORDED_LABEL) -> int:
    """Store a recording as a finished run with no model file; returns the new run's id."""
    from fmnist_core.training import TrainConfig

    config = TrainConfig.from_dict(recording["config"])
    summary = recording.get("summary", {})
    run_id = store.create_run(config, label=label)
    for point in recording["points"]:
        store.add_point(run_id, {k: (math.nan if v is None else v) for k, v in point.items()})
    fields = {k: v for k, v in summary.items() if v is not None}
    store.finish_run(run_id, status="finished", expect=("queued",), **fields)
    store.set_fields(run_id, env_key=RECORDED_ENV)
    return run_id


def ensure_recorded_run(store: Any, *, marker: Path | None = None) -> int | None:
    """On a fresh install, store the shipped recording once (a marker file remembers it, so a user who
    deletes the run does not get it back). Returns the new run's id, or None if nothing was added."""
    marker = marker or Path(store.home) / "recording-imported"
    if marker.exists() or not RECORDING.exists():
        return None
    run_id = import_recording(store, json.loads(RECORDING.read_text()))
    marker.write_text(str(run_id))
    return run_id
