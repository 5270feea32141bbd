"""The job runner: training in worker processes that outlive Streamlit reruns.

The run store is the queue: `submit` inserts a queued run; each worker process claims the
oldest queued run atomically, trains it (TensorFlow imported and data loaded once per
worker), streams points into the store, and polls the store for stop requests. Workers
exit when the process that started them dies, marking their run interrupted, and
`RunStore.reconcile` catches workers that die without a word (SIGKILL).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from fmnist_core.settings import studio_home
from fmnist_core.store import RunStore, pid_alive
from fmnist_core.training import TrainConfig, TrainingDiverged

log = logging.getLogger(__name__)
WORKERS_ENV = "FMNIST_WORKERS"
POLL_SECONDS = 0.3


def default_workers() -> int:
    """How many trainings run at once: $FMNIST_WORKERS, else 1 (TensorFlow already uses every core)."""
    try:
        return max(1, min(8, int(os.environ.get(WORKERS_ENV, "1"))))
    except ValueError:
        return 1


class WorkerGone(BaseException):
    """Raised inside training when the worker must end (parent died or SIGTERM)."""


def execute_run(
    store: RunStore,
    run_id: int,
    config: TrainConfig,
    data,
    *,
    must_quit: Callable[[], bool] = lambda: False,
    on_point: Callable[[dict], None] | None = None,
) -> str:
    """Train one recorded run, streaming into the store; returns its final status.

    Shared by the worker process and the CLI, so both record runs the same way.
    """
    from fmnist_core.training import train

    last_beat = [0.0]

    def on_metrics(point: dict) -> None:
        store.add_point(run_id, point)  # also refreshes the heartbeat
        if on_point:
            on_point(point)

    def should_stop() -> bool:
        if must_quit():
            raise WorkerGone("worker asked to quit")
        now = time.monotonic()
        if now - last_beat[0] > 5:
            last_beat[0] = now
            store.heartbeat(run_id)
        return store.stop_requested(run_id)

    try:
        result = train(config, data, on_metrics=on_metrics, should_stop=should_stop)
    except TrainingDiverged as exc:
        store.finish_run(run_id, status="failed", error=str(exc))
        return "failed"
    except WorkerGone:
        store.finish_run(run_id, status="interrupted", error="the app stopped while this run was training")
        raise
    except Exception as exc:  # a failed run must say why, not vanish
        (store.run_dir(run_id) / "error.log").write_text(traceback.format_exc())
        store.finish_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        return "failed"
    model_path = store.save_model(run_id, result.model)
    if result.test_probs is not None:
        store.save_test_probs(run_id, result.test_probs)
    status = "stopped" if result.stopped else "finished"
    store.finish_run(
        run_id,
        status=status,
        test_loss=result.test_loss,
        test_accuracy=result.test_accuracy,
        seconds=result.seconds,
        epochs_done=result.epochs_done,
        model_path=str(model_path),
        params=int(result.model.count_params()),
    )
    return status


def worker_main(home: str, parent_pid: int, poll: float = POLL_SECONDS) -> None:
    """Entry point of a worker process: claim queued runs from the store, one at a time, forever."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quitting = threading.Event()

    def on_term(signum, frame):  # turn SIGTERM into a clean "interrupted" for the current run
        quitting.set()
        raise WorkerGone("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal goes to the app, which stops us

    def parent_gone() -> bool:
        return quitting.is_set() or os.getppid() != parent_pid or not pid_alive(parent_pid)

    store = RunStore(home)
    import keras  # noqa: F401  (import TensorFlow once, before the first job)

    data = None
    try:
        while not parent_gone():
            run = store.claim_next(os.getpid())
            if run is None:
                time.sleep(poll)  # idle: the store is the queue; nothing to block on across processes
                continue
            config = TrainConfig.from_dict(run.config)
            if data is None:
                try:
                    from fmnist_core.data import load_fashion_mnist

                    data = load_fashion_mnist()
                except Exception as exc:
                    store.finish_run(run.id, status="failed", error=f"could not load the dataset: {exc}")
                    continue
            execute_run(store, run.id, config, data, must_quit=parent_gone)
    except WorkerGone:
        pass
    finally:
        store.close()


class JobRunner:
    """Starts and watches worker processes for one run store. Never blocks the caller."""

    def __init__(
        self, home: str | os.PathLike | None = None, *, workers: int | None = None, start: bool = False
    ):
        self.home = Path(home) if home is not None else studio_home()
        self._local = (
            threading.local()
        )  # one SQLite connection per thread (Streamlit runs sessions in threads)
        self.n_workers = workers or default_workers()
        self._procs: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self.store.reconcile()
        self.store.forget_missing_models()
        if start:  # start now: the worker imports TensorFlow (~5-10 s) before the user clicks Start
            self.ensure_workers()

    @property
    def store(self) -> RunStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = RunStore(self.home)
        return store

    def ensure_workers(self) -> int:
        """Start workers up to the configured count; returns how many are alive."""
        with self._lock:
            self._procs = [p for p in self._procs if p.poll() is None]
            while len(self._procs) < self.n_workers:
                # A fresh interpreter, not multiprocessing: "spawn" would re-import the parent's __main__,
                # which under Streamlit is the page script itself.
                log_file = open(self.home / "worker.log", "ab")  # noqa: SIM115 (owned by the child)
                root = str(Path(__file__).resolve().parents[1])
                env = {
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
                }
                p = subprocess.Popen(
                    [sys.executable, "-m", "fmnist_core.jobs", str(self.home), str(os.getpid())],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=root,
                )
                log_file.close()
                self._procs.append(p)
            return len(self._procs)

    def submit(
        self,
        config: TrainConfig,
        *,
        label: str = "",
        study_id: str | None = None,
        variant: str | None = None,
    ) -> int:
        """Queue a run and make sure a worker will take it; returns the run id."""
        run_id = self.store.create_run(config, label=label, study_id=study_id, variant=variant)
        self.ensure_workers()
        return run_id

    def submit_once(self, config: TrainConfig, *, label: str = "") -> tuple[int, bool]:
        """Queue a run unless an identical one is queued or running (atomic); returns (run id, created)."""
        run_id, created = self.store.create_run_once(config, label=label)
        self.ensure_workers()
        return run_id, created

    def stop(self, run_id: int) -> str | None:
        return self.store.request_stop(run_id)

    def reconcile(self) -> list[int]:
        """Mark runs whose worker died as interrupted (cheap; pages call it when polling)."""
        return self.store.reconcile()

    def workers_alive(self) -> int:
        return sum(p.poll() is None for p in self._procs)

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.poll() is None]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the workers (SIGTERM: a running run ends as interrupted, with its points kept)."""
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
        for p in self._procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout)
        self._procs = []


if __name__ == "__main__":  # the worker process: python -m fmnist_core.jobs HOME PARENT_PID
    logging.basicConfig(level=logging.INFO)
    worker_main(sys.argv[1], int(sys.argv[2]))
