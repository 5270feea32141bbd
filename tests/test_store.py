"""RunStore: rows, points (NaN kept distinct from missing), stop requests, reconcile, two writers."""

from __future__ import annotations

import math
import multiprocessing as mp
import time

import numpy as np

from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig


def test_create_claim_finish_and_points(tmp_path):
    s = RunStore(tmp_path)
    a = s.create_run(TrainConfig(seed=1), label="a")
    b = s.create_run(TrainConfig(seed=2), label="b")
    assert s.queue_position(a) == 1 and s.queue_position(b) == 2
    claimed = s.claim_next(worker_pid=123)
    assert claimed.id == a and claimed.status == "running"  # oldest first
    assert s.queue_position(b) == 1
    s.add_point(
        a,
        {"kind": "batch", "epoch": 1, "step": 5, "progress": 0.5, "loss": 1.0, "accuracy": 0.5, "time": 1.0},
    )
    s.add_point(
        a,
        {
            "kind": "epoch",
            "epoch": 1,
            "step": 10,
            "progress": 1.0,
            "loss": 0.9,
            "accuracy": 0.6,
            "val_loss": 0.8,
            "val_accuracy": 0.7,
            "time": 2.0,
        },
    )
    s.add_point(
        a,
        {
            "kind": "epoch",
            "epoch": 2,
            "step": 10,
            "progress": 2.0,
            "loss": 0.8,
            "accuracy": 0.7,
            "val_loss": 0.9,
            "val_accuracy": 0.65,
            "time": 3.0,
        },
    )
    run = s.get_run(a)
    assert run.epochs_done == 2 and run.best_val_accuracy == 0.7 and run.last_val_accuracy == 0.65
    df = s.points(a)
    assert list(df["kind"]) == ["batch", "epoch", "epoch"]
    assert math.isnan(df["val_accuracy"].iloc[0]) and df["val_accuracy"].iloc[1] == 0.7
    s.finish_run(a, status="finished", test_accuracy=0.66)
    assert s.get_run(a).status == "finished" and s.get_run(a).finished is not None
    assert s.find_finished(TrainConfig(seed=1).key()).id == a
    assert s.find_finished(TrainConfig(seed=3).key()) is None


def test_nan_loss_is_recorded_as_nonfinite(tmp_path):
    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig())
    s.add_point(
        r,
        {
            "kind": "epoch",
            "epoch": 1,
            "step": 1,
            "progress": 1.0,
            "loss": float("nan"),
            "accuracy": 0.1,
            "val_loss": float("inf"),
            "val_accuracy": 0.1,
            "time": 1.0,
        },
    )
    row = s.conn.execute("SELECT loss, nonfinite FROM points WHERE run_id=?", (r,)).fetchone()
    assert row["loss"] is None and row["nonfinite"] == "loss,val_loss"


def test_stop_request_cancels_queued_and_flags_running(tmp_path):
    s = RunStore(tmp_path)
    q = s.create_run(TrainConfig(seed=1))
    r = s.create_run(TrainConfig(seed=2))
    s.mark_running(r, 1)
    assert s.request_stop(q) == "stopped"
    assert s.claim_next(5) is None  # the cancelled run is not picked up
    assert s.request_stop(r) == "running" and s.stop_requested(r)


def test_delete_refuses_active_and_removes_files(tmp_path):
    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig())
    assert not s.delete_run(r)
    s.save_test_probs(r, np.ones((3, 10)))
    s.finish_run(r, status="finished")
    assert s.delete_run(r) and s.get_run(r) is None
    assert not s.run_dir(r, create=False).exists()


def test_reconcile_marks_dead_workers_interrupted_and_keeps_points(tmp_path):
    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig())
    s.mark_running(r, 999_999)
    s.add_point(
        r, {"kind": "batch", "epoch": 1, "step": 1, "progress": 0.1, "loss": 1.0, "accuracy": 0.5, "time": 1}
    )
    alive = s.create_run(TrainConfig(seed=5))
    s.mark_running(alive, 1)
    assert s.reconcile(alive=lambda pid: pid == 1) == [r]
    assert s.get_run(r).status == "interrupted" and "worker" in s.get_run(r).error
    assert s.get_run(alive).status == "running"
    assert len(s.points(r)) == 1


def _writer(home: str, run_id: int, n: int, tag: int) -> None:
    s = RunStore(home)
    for i in range(n):
        s.add_point(
            run_id,
            {
                "kind": "batch",
                "epoch": tag,
                "step": i,
                "progress": tag + i / n,
                "loss": 1.0,
                "accuracy": 0.5,
                "time": time.time(),
            },
        )


def test_two_writer_processes_lose_nothing(tmp_path):
    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig())
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), r, 200, t)) for t in (1, 2)]
    for p in procs:
        p.start()
    _writer(str(tmp_path), r, 100, 3)  # and the reader process writes too
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    df = s.points(r)
    assert len(df) == 500 and sorted(df["epoch"].value_counts().to_dict().items()) == [
        (1, 200),
        (2, 200),
        (3, 100),
    ]


def _submit_once(home: str, seed: int, out) -> None:
    run_id, created = RunStore(home).create_run_once(TrainConfig(seed=seed), label="race")
    out.put((run_id, created))


def test_create_run_once_is_atomic_across_processes(tmp_path):
    """Several sessions press Start on the same config at once: exactly one run is queued."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_submit_once, args=(str(tmp_path), 11, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    s = RunStore(tmp_path)
    assert len(s.runs()) == 1
    assert sum(created for _, created in results) == 1 and len({rid for rid, _ in results}) == 1
    # once it has ended, the same config can be queued again (e.g. "train again anyway")
    s.finish_run(results[0][0], status="finished")
    assert s.create_run_once(TrainConfig(seed=11))[1] is True
