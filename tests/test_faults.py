"""Fault injection: Stop within its bound on real data, SIGKILL at seeded random moments with resume,
two workers, two studies at once, a full disk, a read-only home. (Issue 9's suite, issue 15's Stop.)"""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fmnist_core.jobs import JobRunner, execute_run, resume_run
from fmnist_core.models import PRESETS
from fmnist_core.store import TERMINAL, RunStore
from fmnist_core.training import TrainConfig
from tests.conftest import ROOT, make_tiny_dataset

pytestmark = pytest.mark.slow


def wait_until(pred, timeout=120.0, what="condition", every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)  # polling another process's state through the store
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def tiny_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(make_tiny_dataset(tmp_path / "data", n_train=500, n_test=50)))
    home = tmp_path / "home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    return home


def point_keys(store: RunStore, run_id: int) -> list[tuple]:
    df = store.points(run_id)
    return [(r.kind, int(r.epoch), int(r.step), float(r.time)) for r in df.itertuples()]


# ------------------------------------------------------------------------------------ Stop (issue 15)


def test_stop_ends_a_real_run_within_its_bound_and_the_results_follow(tmp_path, monkeypatch):
    """Lab MLP: stopped within 2 s of the request; the strongest CNN within 5 s (old code: 22 s)."""
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)  # the real data
    runner = JobRunner(tmp_path / "home", workers=1)
    s = runner.store
    try:
        cases = [
            (
                TrainConfig(epochs=50, train_subset=20000, val_subset=2000),
                2.0,
                lambda p: (p["epoch"] >= 2).any(),
            ),
            (
                TrainConfig(
                    model=PRESETS["cnn_best"], batch_size=128, epochs=5, train_subset=6000, val_subset=1000
                ),
                5.0,
                lambda p: len(p) >= 2,
            ),
        ]
        for config, bound, ready in cases:
            rid = runner.submit(config)
            wait_until(lambda rid=rid, ready=ready: ready(s.points(rid)), timeout=300, what="points")
            t0 = time.monotonic()
            runner.stop(rid)
            assert s.get_run(rid).stopping  # the page can say "stopping…" at once
            wait_until(lambda rid=rid: s.get_run(rid).status == "stopped", timeout=30, what="stopped")
            latency = time.monotonic() - t0
            print(f"stop latency {config.model.kind}: {latency:.2f} s (bound {bound} s)")
            assert latency < bound
            run = wait_until(lambda rid=rid: (r := s.get_run(rid)).finalizing == 0 and r, what="results")
            assert run.status == "stopped" and run.epochs_done < config.epochs
            assert run.test_accuracy is not None and Path(run.model_path).exists()  # arrive after "stopped"
            points = s.points(rid)
            assert points["step"].max() <= -(-min(config.train_subset, 48000) // config.batch_size)
            # the partial epoch's points are kept; no epoch end pretends it finished
            assert points["epoch"].max() == run.epochs_done + 1
            assert (points[points["kind"] == "epoch"]["epoch"] <= run.epochs_done).all()
    finally:
        runner.shutdown()


# ------------------------------------------------------------------------------------ SIGKILL + resume


def start_worker(home: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FMNIST_TEST_SAVE_DELAY": "0.1", "FMNIST_WORKER_NICE": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "fmnist_core.jobs", str(home), str(os.getpid())],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def valid_keras_file(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None and "model.weights.h5" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def test_sigkill_at_seeded_random_moments_then_resume(tiny_env):
    kills_wanted = int(os.environ.get("FMNIST_FAULT_KILLS", "20"))
    rng = random.Random(20261125)
    s = RunStore(tiny_env)
    config = TrainConfig(epochs=6, batch_size=8, val_subset=50)  # 50 steps an epoch, 10 points
    runs = [s.create_run(config.with_(seed=0))]
    seen: dict[int, set] = {}  # points that existed right after each kill, per run
    kills = 0
    while kills < kills_wanted:
        rid = runs[-1]
        worker = start_worker(tiny_env)
        try:
            wait_until(
                lambda rid=rid, pid=worker.pid: (
                    (r := s.get_run(rid)).status == "running" and r.worker_pid == pid
                ),
                what="claim",
                every=0.02,
            )
            time.sleep(rng.uniform(0.0, 2.5))  # a seeded random moment: load, fit, validation, saves
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        kills += 1
        seen.setdefault(rid, set()).update(point_keys(s, rid))
        s.reconcile()
        run = s.get_run(rid)
        if run.status == "interrupted":
            assert resume_run(rid, store=s)[0]
        else:  # it ended before the kill landed: carry on with a fresh run
            assert run.status == "finished", (run.status, run.error)
            runs.append(s.create_run(config.with_(seed=len(runs))))
    worker = start_worker(tiny_env)
    try:
        wait_until(lambda: all(s.get_run(r).status in TERMINAL for r in runs), timeout=300, what="all done")
    finally:
        worker.terminate()
        worker.wait(30)
    lost = duplicates = corrupt = 0
    for rid in runs:
        run = s.get_run(rid)
        assert run.status == "finished", (rid, run.status, run.error)
        keys = point_keys(s, rid)
        positions = [(k[0], k[1], k[2]) for k in keys]
        duplicates += len(positions) - len(set(positions))
        lost += len(seen.get(rid, set()) - set(keys))
        corrupt += not valid_keras_file(Path(run.model_path))
        epochs = sorted(e for kind, e, _, _ in keys if kind == "epoch")
        assert epochs == list(range(1, config.epochs + 1))  # no gap, no repeat
        leftovers = [p.name for p in s.run_dir(rid).iterdir() if "tmp" in p.name or "checkpoint" in p.name]
        assert leftovers == []
    print(
        f"kills tried {kills}, runs {len(runs)}, resumes {sum(s.get_run(r).resumes for r in runs)}, "
        f"points lost {lost}, duplicates {duplicates}, corrupt files {corrupt}"
    )
    assert (lost, duplicates, corrupt) == (0, 0, 0)
    assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_cli_resume_continues_an_interrupted_run_under_its_id(tiny_env):
    s = RunStore(tiny_env)
    rid = s.create_run(TrainConfig(epochs=4, batch_size=8, val_subset=50, seed=3))
    worker = start_worker(tiny_env)
    try:
        wait_until(lambda: (s.get_run(rid).checkpoint_epoch or 0) >= 1, what="a checkpoint")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    before = point_keys(s, rid)
    assert s.get_run(rid).status == "running"  # nobody noticed yet: `resume` reconciles first
    out = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "resume", str(rid)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert (
        f"Run #{rid} is queued to resume after epoch" in out.stdout
        and "finished: test accuracy" in out.stdout
    )
    run = s.get_run(rid)
    after = point_keys(s, rid)
    assert run.status == "finished" and run.resumes == 1 and run.epochs_done == 4
    assert set(before) <= set(after) and len({k[:3] for k in after}) == len(after)
    again = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "resume", str(rid)], cwd=ROOT, capture_output=True, text=True
    )
    assert again.returncode == 1 and "only an interrupted run can be resumed" in again.stdout
    # the same seed trained without a break ends where the killed and resumed run ended
    from fmnist_core.data import load_fashion_mnist

    unbroken = s.create_run(run_config := TrainConfig.from_dict(run.config), status="running")
    assert execute_run(s, unbroken, run_config, load_fashion_mnist()) == "finished"
    a, b = s.get_run(unbroken).last_val_accuracy, run.last_val_accuracy
    print(f"final val accuracy: unbroken {a:.4f}, killed after a checkpoint and resumed {b:.4f}")
    assert abs(a - b) <= 0.005
    assert s.get_run(unbroken).test_accuracy == pytest.approx(run.test_accuracy, abs=0.005)


def test_a_run_past_its_wall_clock_limit_is_stopped_with_a_reason(tiny_env, tiny_data, monkeypatch):
    """FMNIST_RUN_TIME_LIMIT: the worker stops the run at the limit (its results are kept, the error
    says why), and `reconcile` ends a run whose worker outlived the limit without ending it."""
    monkeypatch.setenv("FMNIST_RUN_TIME_LIMIT", "1.5")
    s = RunStore(tiny_env)
    cfg = TrainConfig(epochs=200, batch_size=8, val_subset=50)  # minutes of training without a limit
    rid = s.create_run(cfg, status="running")
    t0 = time.monotonic()
    assert execute_run(s, rid, cfg, tiny_data) == "stopped"
    took = time.monotonic() - t0
    run = s.get_run(rid)
    assert (
        run.status == "stopped"
        and "time limit of 1.5 s" in run.error
        and "FMNIST_RUN_TIME_LIMIT" in run.error
    )
    assert run.epochs_done < cfg.epochs and len(s.points(rid)) > 0
    assert took < 15  # stopped at the limit (plus a test evaluation and a save), not after 200 epochs
    assert run.model_path and Path(run.model_path).exists() and run.test_accuracy is not None
    # a worker that does not end its run: the store ends it once the limit (and the grace) are past
    stuck = s.create_run(cfg.with_(seed=1), status="running")
    s.conn.execute(
        "UPDATE runs SET started = ?, heartbeat = ? WHERE id = ?", (time.time() - 10, time.time(), stuck)
    )
    s.conn.commit()
    assert s.reconcile(stale_after=5.0, alive=lambda pid: True) == [stuck]
    run = s.get_run(stuck)
    assert run.status == "interrupted" and "ran past the time limit of 1.5 s" in run.error
    # under the limit nothing happens
    fresh = s.create_run(cfg.with_(seed=2), status="running")
    assert s.reconcile(stale_after=5.0, alive=lambda pid: True) == []
    assert s.get_run(fresh).status == "running"


@pytest.mark.parametrize("augment", [None, "flip"])
def test_a_resumed_run_trains_exactly_as_an_unbroken_one(tmp_path, augment):
    """Real data, the lab MLP with its dropout, shuffled batches of 64: break during epoch 3 (the
    checkpoint holds epoch 2), resume, and end with the very weights of an unbroken run (issue 9 asks
    for the final validation accuracy within 0.005). Each epoch's batch order, augmentations and
    dropout masks are functions of (seed, epoch), and the checkpoint holds weights and optimizer state."""
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.training import train

    data = load_fashion_mnist(download=False)
    cfg = TrainConfig(epochs=4, train_subset=2000, val_subset=1000, seed=5, augment=augment)
    unbroken = train(cfg, data, evaluate_test=False)
    path = tmp_path / "checkpoint.keras"
    points: list[dict] = []
    first = train(
        cfg,
        data,
        on_metrics=points.append,
        on_epoch_done=lambda model, done: model.save(path) if done == 2 else None,
        should_stop=lambda: sum(p["kind"] == "epoch" for p in points) >= 2 and points[-1]["kind"] == "batch",
        evaluate_test=False,
    )
    assert first.stopped and first.epochs_done == 2  # the kill landed inside epoch 3
    resumed = train(cfg, data, resume_from=path, initial_epoch=2, evaluate_test=False)
    assert resumed.epochs_done == 4 and len(resumed.history["val_accuracy"]) == 2
    a, b = unbroken.history["val_accuracy"][-1], resumed.history["val_accuracy"][-1]
    print(f"final val accuracy: unbroken {a:.4f}, resumed {b:.4f}")
    assert abs(a - b) <= 0.005
    assert resumed.history == {k: v[2:] for k, v in unbroken.history.items()}  # epochs 3 and 4, to the bit
    for w_resumed, w_unbroken in zip(resumed.model.get_weights(), unbroken.model.get_weights(), strict=True):
        assert np.array_equal(w_resumed, w_unbroken)
    # and the order did matter: another seed's run ends elsewhere
    other = train(cfg.with_(seed=6), data, evaluate_test=False)
    assert other.history["loss"] != unbroken.history["loss"]


JAX_RESUME = """
import os, sys, tempfile
import numpy as np
from fmnist_core.data import load_fashion_mnist
from fmnist_core.training import TrainConfig, train
data = load_fashion_mnist(download=False)
cfg = TrainConfig(epochs=4, train_subset=2000, val_subset=1000, seed=5, backend="jax")
unbroken = train(cfg, data, evaluate_test=False)
path = os.path.join(tempfile.mkdtemp(), "c.keras")
pts = []
train(cfg, data, on_metrics=pts.append, on_epoch_done=lambda m, d: m.save(path) if d == 2 else None,
      should_stop=lambda: sum(p["kind"] == "epoch" for p in pts) >= 2 and pts[-1]["kind"] == "batch",
      evaluate_test=False)
resumed = train(cfg, data, resume_from=path, initial_epoch=2, evaluate_test=False)
same = all(np.array_equal(a, b) for a, b in zip(unbroken.model.get_weights(), resumed.model.get_weights()))
print("RESULT", unbroken.history["val_accuracy"][-1], resumed.history["val_accuracy"][-1], same)
"""


def test_a_resumed_run_on_jax_trains_exactly_as_an_unbroken_one():
    """The JAX backend (Keras' array batches, shuffled from NumPy's generator seeded per epoch): same."""
    out = subprocess.run(
        [sys.executable, "-c", JAX_RESUME],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, out.stderr[-2000:]
    unbroken, resumed, same = line.split()[1:]
    print(f"JAX final val accuracy: unbroken {unbroken}, resumed {resumed}")
    assert abs(float(unbroken) - float(resumed)) <= 0.005 and same == "True"


def test_each_epoch_draws_its_batches_from_seed_and_epoch_only(tiny_data):
    """The pipeline started at epoch 2 yields what an unbroken one yields in its third pass."""
    from fmnist_core.training import epoch_dataset, prepare_data

    prepared = prepare_data(TrainConfig(batch_size=16, val_subset=50), tiny_data)

    def passes(first_epoch: int, n: int) -> list[np.ndarray]:
        ds = epoch_dataset(prepared, batch_size=16, seed=3, first_epoch=first_epoch, augment="flip")
        return [np.concatenate([xb.numpy().ravel() for xb, _ in ds]) for _ in range(n)]

    unbroken, resumed = passes(0, 3), passes(2, 1)
    assert np.array_equal(unbroken[2], resumed[0])
    assert not np.array_equal(unbroken[1], unbroken[2])  # each epoch has its own order
    labels = np.concatenate([yb.numpy() for _, yb in epoch_dataset(prepared, batch_size=16, seed=3)])
    assert sorted(labels.tolist()) == sorted(prepared.y_train.tolist())  # one pass: every image once


# ------------------------------------------------------------------------------------ concurrency


def test_two_workers_train_each_of_six_runs_exactly_once(tiny_env, monkeypatch):
    monkeypatch.setenv("FMNIST_WORKERS", "2")
    runner = JobRunner(tiny_env)
    assert runner.n_workers == 2
    try:
        ids = [runner.submit(TrainConfig(epochs=2, batch_size=16, val_subset=50, seed=i)) for i in range(6)]
        s = runner.store
        wait_until(lambda: all(s.get_run(r).status in TERMINAL for r in ids), timeout=300, what="six runs")
        pids = set()
        for rid in ids:
            run = s.get_run(rid)
            assert run.status == "finished", run.error
            keys = [k[:3] for k in point_keys(s, rid)]
            assert len(keys) == len(set(keys))
            assert [k for k in keys if k[0] == "epoch"] == [
                ("epoch", 1, 25),
                ("epoch", 2, 25),
            ]  # 400 images / 16
            pids.add(run.worker_pid)
        assert len(pids) == 2  # both workers took runs
    finally:
        runner.shutdown()


class _QueueRunner:
    def __init__(self, home):
        self.store = RunStore(home)

    def submit(self, config, **kw):
        return self.store.create_run(config, **kw)

    def submit_once(self, config, **kw):
        return self.store.create_run_once(config, **kw)


def _schedule(home: str, go, out) -> None:
    from fmnist_core import compare

    spec = compare.StudySpec(base=TrainConfig(epochs=1), variants=("sgd", "adam", "rmsprop"), seeds=(0, 1, 2))
    runner = _QueueRunner(home)
    go.wait(30)
    out.put(compare.schedule_study(runner, spec, name="race")[1])


def test_two_studies_scheduled_at_once_queue_each_run_once(tmp_path):
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_schedule, args=(str(tmp_path), go, out)) for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let both processes import and wait at the gate (the gate, not the sleep, syncs them)
    go.set()
    counts = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    runs = RunStore(tmp_path).runs()
    keys = [r.config_key for r in runs]
    assert len(runs) == 9 and len(set(keys)) == 9
    assert sorted(c["queued"] for c in counts) == [0, 9] or sum(c["queued"] for c in counts) == 9
    assert sum(c["already_running"] for c in counts) == 9


# ------------------------------------------------------------------------------------ full disk, read-only


@pytest.fixture
def tiny_data(tiny_env):
    from fmnist_core.data import load_fashion_mnist

    return load_fashion_mnist()


def _fail_writes(monkeypatch, err: OSError, times: int) -> None:
    import fmnist_core.store.artifacts as artifacts

    real = artifacts.os.fsync
    left = {"n": times}

    def fsync(fd):
        if left["n"] > 0:
            left["n"] -= 1
            raise err
        return real(fd)

    monkeypatch.setattr(artifacts.os, "fsync", fsync)


@pytest.mark.parametrize(
    "err, says",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "Free some disk space"),
        (OSError(errno.EROFS, "Read-only file system"), "writable"),
    ],
)
def test_a_failed_save_fails_the_run_and_the_next_run_succeeds(tiny_env, tiny_data, monkeypatch, err, says):
    s = RunStore(tiny_env)
    cfg = TrainConfig(epochs=2, batch_size=16, val_subset=50)
    first = s.create_run(cfg, status="running")
    _fail_writes(monkeypatch, err, times=100)
    assert execute_run(s, first, cfg, tiny_data) == "failed"  # returns: the worker keeps serving
    run = s.get_run(first)
    assert run.status == "failed" and says in run.error and "Traceback" not in run.error
    assert run.model_path is None
    assert [p.name for p in s.run_dir(first).iterdir() if "tmp" in p.name or p.suffix == ".keras"] == []
    monkeypatch.undo()
    monkeypatch.setenv("FMNIST_HOME", str(tiny_env))
    second = s.create_run(cfg.with_(seed=1), status="running")
    assert execute_run(s, second, cfg.with_(seed=1), tiny_data) == "finished"
    assert valid_keras_file(Path(s.get_run(second).model_path))
