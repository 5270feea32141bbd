"""RunStore: rows, points (NaN kept distinct from missing), stop requests, reconcile, two writers."""

from __future__ import annotations

import math
import multiprocessing as mp
import time

import numpy as np
import pytest

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


# ------------------------------------------------------------------------------- guarded states, limits


def test_status_changes_are_compare_and_set(tmp_path, caplog):
    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig(seed=1))
    assert s.claim_next(worker_pid=111).id == r
    # a page's reconcile took the run for dead meanwhile...
    assert s.reconcile(alive=lambda pid: False) == [r]
    # ...so the worker's late "finished" lost the race: logged and ignored, not applied
    assert s.finish_run(r, status="finished", worker_pid=111, test_accuracy=0.9) is False
    run = s.get_run(r)
    assert run.status == "interrupted" and run.test_accuracy is None
    assert "lost a race" in caplog.text
    # another worker's pid cannot end a run it does not own
    q = s.create_run(TrainConfig(seed=2))
    s.claim_next(worker_pid=222)
    assert s.finish_run(q, status="failed", worker_pid=333) is False
    assert s.finish_run(q, status="finished", worker_pid=222) is True


def test_a_worker_whose_run_was_taken_cannot_add_points(tmp_path):
    from fmnist_core.store import RunLost

    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig())
    s.claim_next(worker_pid=5)
    point = {"kind": "batch", "epoch": 1, "step": 1, "progress": 0.1, "loss": 1.0, "accuracy": 0.5, "time": 1}
    s.add_point(r, point, worker_pid=5)
    s.reconcile(alive=lambda pid: False)
    with pytest.raises(RunLost):
        s.add_point(r, point, worker_pid=5)
    assert len(s.points(r)) == 1


def test_cli_run_is_running_with_its_pid_from_the_first_moment(tmp_path):
    import os

    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig(), status="running")
    run = s.get_run(r)
    assert run.worker_pid == os.getpid() and run.started is not None and run.heartbeat is not None
    assert s.reconcile() == []  # alive: this process


def test_running_and_finalizing_runs_cannot_be_deleted(tmp_path):
    s = RunStore(tmp_path)
    r = s.create_run(TrainConfig())
    s.claim_next(worker_pid=1)
    assert not s.delete_run(r)
    s.finish_run(r, status="stopped", finalizing=1)  # saving the model after a stop
    assert not s.delete_run(r)
    s.set_fields(r, finalizing=0)
    assert s.delete_run(r)


def test_queue_limit_refuses_with_a_reason(tmp_path, monkeypatch):
    from fmnist_core.store import QueueFull

    monkeypatch.setenv("FMNIST_MAX_QUEUED", "2")
    s = RunStore(tmp_path)
    s.create_run(TrainConfig(seed=1))
    s.create_run_once(TrainConfig(seed=2))
    with pytest.raises(QueueFull, match="FMNIST_MAX_QUEUED"):
        s.create_run(TrainConfig(seed=3))
    with pytest.raises(QueueFull):
        s.create_run_once(TrainConfig(seed=3))
    assert s.create_run_once(TrainConfig(seed=2))[1] is False  # joining a queued run is no new run


def test_idle_claim_reads_without_taking_the_write_lock(tmp_path):
    import sqlite3

    s = RunStore(tmp_path)
    other = sqlite3.connect(tmp_path / "studio.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # someone holds the write lock
    try:
        t0 = time.monotonic()
        assert s.claim_next(worker_pid=1) is None  # nothing queued: no write lock wanted
        assert time.monotonic() - t0 < 1.0  # (taking it would wait for busy_timeout, 30 s)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_one_pool_of_connections_serves_many_threads(tmp_path):
    import threading

    from fmnist_core.store.schema import pool_for

    s = RunStore(tmp_path)
    s.create_run(TrainConfig())
    pool = pool_for(s.db_path)
    made = []
    orig = pool._get

    def counting_get():
        c = orig()
        made.append(id(c))
        return c

    pool._get = counting_get
    for _ in range(30):  # Streamlit runs every rerun in a new thread
        t = threading.Thread(target=lambda: s.runs())
        t.start()
        t.join()
    assert len(set(made)) <= 2  # reused, not one per thread


# ------------------------------------------------------------------------------- reuse, schema, files


def test_find_finished_needs_the_model_file_and_the_same_data_and_libraries(tmp_path):
    s = RunStore(tmp_path)
    cfg = TrainConfig(seed=4)
    r = s.create_run(cfg)
    path = s.model_path(r)
    path.write_bytes(b"model")
    s.finish_run(r, status="finished", model_path=str(path), env_key="env-A")
    assert s.find_finished(cfg.key(), env_key="env-A").id == r
    assert s.find_finished(cfg.key(), env_key="env-B") is None  # other data or other Keras
    assert s.find_finished(cfg.key(), env_key=None) is None  # data unknown: no reuse
    path.unlink()
    assert s.find_finished(cfg.key(), env_key="env-A") is None  # model file gone


def test_env_key_changes_with_the_data(tmp_path, monkeypatch):
    from fmnist_core.store.env import env_key
    from tests.conftest import make_tiny_dataset

    a = make_tiny_dataset(tmp_path / "a", seed=0)
    b = make_tiny_dataset(tmp_path / "b", seed=1)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(a))
    ka = env_key()
    monkeypatch.setenv("FMNIST_DATA_DIR", str(b))
    assert env_key() != ka and env_key() is not None
    monkeypatch.setenv("FMNIST_DATA_DIR", str(a))
    assert env_key() == ka


def test_a_database_written_by_the_unversioned_schema_upgrades_with_its_runs_intact(tmp_path):
    import sqlite3

    from fmnist_core.store import SCHEMA, SCHEMA_VERSION

    db = sqlite3.connect(tmp_path / "studio.db")
    db.executescript(SCHEMA)  # today's DDL before versioning (user_version 0)
    cfg = TrainConfig(seed=9)
    db.execute(
        "INSERT INTO runs (config, config_key, label, status, created, epochs_done, test_accuracy, model_path)"
        " VALUES (?, ?, 'old', 'finished', 1.0, 3, 0.87, NULL)",
        (cfg.to_json(), cfg.key()),
    )
    db.execute(
        "INSERT INTO points (run_id, kind, epoch, step, progress, loss, time) VALUES (1, 'epoch', 1, 10, 1.0, 0.5, 2)"
    )
    db.commit()
    db.close()
    s = RunStore(tmp_path)
    (version,) = s.conn.execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION >= 2
    run = s.get_run(1)
    assert (run.label, run.status, run.epochs_done, run.test_accuracy) == ("old", "finished", 3, 0.87)
    assert run.env_key == "unknown" and run.finalizing == 0 and len(s.points(1)) == 1
    assert s.find_finished(cfg.key(), env_key="x") is None  # trained on data we cannot vouch for
    assert s.create_run(TrainConfig(seed=10)) == 2  # and it keeps working
    RunStore(tmp_path)  # a second open changes nothing
    assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_newer_schema_is_refused(tmp_path):
    import sqlite3

    from fmnist_core.store.schema import SchemaTooNew, connect, migrate

    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(SchemaTooNew):
        migrate(connect(tmp_path / "x.db"))


def test_a_failed_write_leaves_no_temp_file_and_no_partial_file(tmp_path):
    from fmnist_core.store import write_atomically

    final = tmp_path / "model.keras"
    final.write_bytes(b"old")

    def half_write(p):
        p.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomically(final, half_write, suffix=".keras")
    assert final.read_bytes() == b"old" and sorted(x.name for x in tmp_path.iterdir()) == ["model.keras"]


def test_newest_user_run_prefers_active_runs_and_skips_background_ones(tmp_path):
    from fmnist_core.store.runs import BACKGROUND_PRIORITY

    s = RunStore(tmp_path)
    assert s.newest_user_run() is None
    done = s.create_run(TrainConfig(seed=1))
    s.finish_run(done, status="finished")
    assert s.newest_user_run().id == done
    queued = s.create_run(TrainConfig(seed=2))
    later = s.create_run(TrainConfig(seed=3))
    s.finish_run(later, status="stopped")
    assert s.newest_user_run().id == queued  # an active run first, though older
    s.create_run_once(TrainConfig(seed=4), priority=BACKGROUND_PRIORITY)
    assert s.newest_user_run().id == queued
    s.request_stop(queued)  # cancelled: now the newest user run, of any status
    assert s.newest_user_run().id == later
