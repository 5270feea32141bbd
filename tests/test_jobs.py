"""Job runner: worker processes train queued runs, honour stop, and die cleanly or are detected dead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fmnist_core.jobs import JobRunner
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig
from tests.conftest import make_tiny_dataset

pytestmark = pytest.mark.slow


def wait_until(pred, timeout=90.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)  # polling another process's progress through the store
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(make_tiny_dataset(tmp_path / "data", n_train=400, n_test=50)))
    home = tmp_path / "home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    return home


def test_runs_queue_in_order_finish_and_stop(env):
    runner = JobRunner(env, workers=1)
    try:
        long = runner.submit(TrainConfig(epochs=200, batch_size=8, seed=1), label="long")
        short = runner.submit(TrainConfig(epochs=1, batch_size=8, seed=2), label="short")
        s = runner.store
        assert s.get_run(short).status == "queued" and s.queue_position(short) >= 1
        wait_until(lambda: len(s.points(long)) >= 3, what="points of the long run")
        assert s.get_run(short).status == "queued"  # one worker: the second waits its turn
        t0 = time.monotonic()
        runner.stop(long)
        wait_until(lambda: s.get_run(long).status == "stopped", what="stop")
        assert time.monotonic() - t0 < 2
        # the model and the test evaluation arrive after the run says "stopped"
        stopped = wait_until(
            lambda: (r := s.get_run(long)).finalizing == 0 and r.model_path and r, what="model"
        )
        assert stopped.epochs_done < 200 and os.path.exists(stopped.model_path)
        assert stopped.test_accuracy is not None
        wait_until(lambda: s.get_run(short).status == "finished", what="queued run to finish")
        done = s.get_run(short)
        assert done.test_accuracy is not None and os.path.exists(done.model_path)
        assert set(s.points(short)["kind"]) == {"batch", "epoch"}
        assert runner.workers_alive() == 1  # the same worker took both jobs
    finally:
        runner.shutdown()


def test_killed_worker_is_detected_as_interrupted(env):
    runner = JobRunner(env, workers=1)
    try:
        rid = runner.submit(TrainConfig(epochs=200, batch_size=8, seed=3))
        s = runner.store
        wait_until(lambda: len(s.points(rid)) >= 2, what="points")
        pid = s.get_run(rid).worker_pid
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not runner.workers_alive(), what="worker death")
        n_points = len(s.points(rid))
    finally:
        runner.shutdown()
    fresh = JobRunner(env, workers=1)  # as after an app restart
    run = fresh.store.get_run(rid)
    assert run.status == "interrupted"
    assert len(fresh.store.points(rid)) == n_points >= 2


def test_app_killed_mid_run_marks_run_interrupted(env):
    """The app process (parent) is SIGKILLed: its worker notices, marks the run interrupted, exits."""
    script = textwrap.dedent(
        f"""
        import time
        from fmnist_core.jobs import JobRunner
        from fmnist_core.training import TrainConfig
        r = JobRunner({str(env)!r}, workers=1)
        rid = r.submit(TrainConfig(epochs=200, batch_size=8, seed=4))
        print(rid, flush=True)
        time.sleep(600)
        """
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    rid = int(app.stdout.readline())
    s = RunStore(env)
    wait_until(lambda: len(s.points(rid)) >= 2, what="points")
    worker = s.get_run(rid).worker_pid
    app.kill()
    app.wait()
    wait_until(lambda: s.get_run(rid).status == "interrupted", timeout=30, what="interrupted")
    wait_until(lambda: not _alive(worker), timeout=30, what="worker exit")


def _alive(pid: int) -> bool:
    from fmnist_core.store import pid_alive

    return pid_alive(pid)


def test_failed_dataset_fails_the_run_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "missing"))
    runner = JobRunner(tmp_path / "h", workers=1)
    try:
        rid = runner.submit(TrainConfig(epochs=1))
        wait_until(lambda: runner.store.get_run(rid).status == "failed", what="failure")
        assert "dataset" in runner.store.get_run(rid).error
    finally:
        runner.shutdown()
