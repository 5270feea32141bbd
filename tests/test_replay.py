"""Replays: what a replay shows at a given moment (a fake clock), and the recording that ships."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fmnist_core import replay
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig


def points(times: list[float]) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame(
        {
            "kind": ["batch"] * (n - 1) + ["epoch"],
            "epoch": [1] * n,
            "step": list(range(1, n + 1)),
            "progress": [(i + 1) / n for i in range(n)],
            "loss": [1.0 / (i + 1) for i in range(n)],
            "accuracy": [0.1 * i for i in range(n)],
            "val_loss": [None] * (n - 1) + [0.5],
            "val_accuracy": [None] * (n - 1) + [0.8],
            "time": times,
        }
    )


def test_replay_shows_what_the_run_had_logged_at_that_moment():
    pts = points([100.0, 101.0, 102.0, 104.0, 108.0])  # 8 s of logging
    lead = replay.LEAD_SECONDS
    assert len(replay.replay_at(pts, 0.0, 1).shown) == 0
    assert len(replay.replay_at(pts, lead, 1).shown) == 1  # the first point arrives after the lead
    assert len(replay.replay_at(pts, lead + 2.0, 1).shown) == 3
    state = replay.replay_at(pts, lead + 3.9, 1)
    assert len(state.shown) == 3 and not state.done
    # 4x: the same moment of the run comes four times sooner
    assert len(replay.replay_at(pts, (lead + 4.0) / 4, 4).shown) == 4
    end = replay.replay_at(pts, (lead + 8.0) / 16, 16)
    assert end.done and end.fraction == 1.0 and len(end.shown) == 5
    assert replay.replay_duration(pts, 16) == pytest.approx((8.0 + lead) / 16)


def test_replay_fraction_and_time_left_move_with_the_clock():
    pts = points([0.0, 10.0])
    a, b = replay.replay_at(pts, 1.0, 1), replay.replay_at(pts, 5.0, 1)
    assert 0 < a.fraction < b.fraction < 1
    assert a.seconds_left > b.seconds_left > 0


@pytest.mark.parametrize(
    "raw,expected", [("4", 4), ("1", 1), ("16", 16), ("3", None), ("x", None), ("9" * 50, None)]
)
def test_replay_speeds_from_links(raw, expected):
    assert replay.parse_speed(raw) == expected


def test_bad_speed_is_refused():
    with pytest.raises(ValueError):
        replay.replay_at(points([0.0, 1.0]), 1.0, 0)


def test_shipped_recording_imports_once_and_is_never_reused_for_a_start(tmp_path):
    store = RunStore(tmp_path)
    recording = json.loads(replay.RECORDING.read_text())
    assert recording["config"]["model"]["kind"] == "mlp" and len(recording["points"]) >= 20
    rid = replay.ensure_recorded_run(store)
    assert rid is not None and replay.ensure_recorded_run(store) is None  # once per home
    run = store.get_run(rid)
    assert run.status == "finished" and run.model_path is None and run.label == replay.RECORDED_LABEL
    assert run.test_accuracy == pytest.approx(recording["summary"]["test_accuracy"])
    pts = store.points(rid)
    assert len(pts) == len(recording["points"])
    assert pts["val_accuracy"].notna().sum() == recording["config"]["epochs"]
    # The lab config trains for real when a user presses Start: the recording is not a finished twin.
    assert store.find_finished(TrainConfig.from_dict(run.config).key()) is None
    store.delete_run(rid)
    assert replay.ensure_recorded_run(store) is None  # deleted by the user: not brought back


def test_export_then_import_round_trips(tmp_path):
    store = RunStore(tmp_path)
    recording = json.loads(replay.RECORDING.read_text())
    rid = replay.import_recording(store, recording, label="copy")
    again = replay.export_run(store, rid)
    assert again["config"] == recording["config"]
    assert len(again["points"]) == len(recording["points"])
    assert [p["progress"] for p in again["points"]] == [p["progress"] for p in recording["points"]]
