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

from fmnist_core import settings
from fmnist_core.settings import studio_home
from fmnist_core.store import ACTIVE, USER_PRIORITY, RunLost, RunStore, pid_alive
from fmnist_core.training import TrainConfig, TrainingDiverged

log = logging.getLogger(__name__)
WORKERS_ENV = "FMNIST_WORKERS"
POLL_SECONDS = 0.3
DEFAULT_BACKEND = "tensorflow"  # the app's own; workers for other backends start when a run needs one


def default_workers() -> int:
    """How many trainings run at once: $FMNIST_WORKERS, else 1 (TensorFlow already uses every core)."""
    try:
        return max(1, min(8, int(os.environ.get(WORKERS_ENV, "1"))))
    except ValueError:
        return 1


class WorkerGone(BaseException):
    """Raised inside training when the worker must end (parent died or SIGTERM)."""


class RunYielded(BaseException):
    """Raised inside a background run's training when a user's run waits for its worker: the background
    run goes back to the queue and resumes from its last checkpoint once users' runs are done."""


# A background run looks this often for a user's run waiting longer than an idle worker would take to
# claim it (so with a second, idle worker it keeps training).
YIELD_CHECK_SECONDS = 1.0
YIELD_AFTER_SECONDS = 1.0


HEARTBEAT_SECONDS = 2.0


class Heartbeat:
    """A thread that refreshes a run's heartbeat for the whole life of the run (data load, fit,
    validation, test prediction, save), so that `reconcile` never takes a live run for a dead one.
    `lost` is set when the run is no longer this worker's (reconciled or deleted meanwhile)."""

    def __init__(self, store: RunStore, run_id: int, worker_pid: int, every: float = HEARTBEAT_SECONDS):
        self.store, self.run_id, self.pid, self.every = store, run_id, worker_pid, every
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        while not self._done.wait(self.every):
            try:
                if not self.store.heartbeat(self.run_id, self.pid) and not self._done.is_set():
                    run = self.store.get_run(self.run_id)
                    if run is None or run.worker_pid != self.pid or run.status in ("queued", "interrupted"):
                        self.lost.set()
            except Exception:  # a busy or full disk must not kill the beat; the next one retries
                log.exception("heartbeat of run %s failed", self.run_id)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(5)


def _save_failed_message(store: RunStore, exc: BaseException) -> str:
    return (
        f"could not save the results ({type(exc).__name__}: {exc}). Free some disk space, or make "
        f"{store.home} writable (setting FMNIST_HOME), then train again"
    )


def _store_results(store: RunStore, run_id: int, model, config: TrainConfig, data) -> dict:
    """Test-evaluate and save the model and test probabilities; returns the run fields to record."""
    from fmnist_core.training import evaluate_on_test

    test_loss, test_acc, probs = evaluate_on_test(model, config, data)
    model_path = store.save_model(run_id, model)
    store.save_test_probs(run_id, probs)
    store.prune_checkpoints(run_id, keep=None)  # the final model supersedes them
    return {"test_loss": test_loss, "test_accuracy": test_acc, "model_path": str(model_path)}


def execute_run(
    store: RunStore,
    run_id: int,
    config: TrainConfig,
    data,
    *,
    must_quit: Callable[[], bool] = lambda: False,
    on_point: Callable[[dict], None] | None = None,
    worker_pid: int | None = None,
) -> str:
    """Train one recorded, running run, streaming into the store; returns its final status.

    Shared by the worker process and the CLI, so both record runs the same way. `data` is the
    dataset or a function that loads it (then the load is covered by the heartbeat too). A run that
    has a checkpoint (an interrupted run put back in the queue) resumes from it under its own id.
    Every failure ends the run as failed with a message; only WorkerGone propagates.
    """
    pid = worker_pid or os.getpid()
    with Heartbeat(store, run_id, pid) as beat:
        try:
            return _execute(store, run_id, config, data, beat, pid, must_quit=must_quit, on_point=on_point)
        except RunLost as exc:
            log.warning("abandoning run %s: %s", run_id, exc)
            return "lost"


def _execute(store, run_id, config, data, beat, pid, *, must_quit, on_point) -> str:
    from fmnist_core.store.env import env_key
    from fmnist_core.training import train

    try:
        if callable(data):
            data = data()
        store.set_fields(run_id, env_key=env_key())
    except Exception as exc:
        store.finish_run(run_id, status="failed", worker_pid=pid, error=f"could not load the dataset: {exc}")
        return "failed"
    epochs_kept, checkpoint = store.recorded_checkpoint(run_id)
    store.prune_checkpoints(run_id, keep=epochs_kept or None)
    # A resume retrains from the checkpoint; the points an earlier attempt logged after it are kept,
    # and the retrained ones up to the same place are not sent again (no duplicates, no gap).
    logged = store.last_position(run_id)
    limit = settings.run_time_limit()
    t0 = time.monotonic()
    timed_out = threading.Event()
    run = store.get_run(run_id)
    background = run is not None and run.priority < USER_PRIORITY
    next_yield_check = [0.0]

    def on_metrics(point: dict) -> None:
        if logged is not None and _position(point) <= logged:
            return
        store.add_point(run_id, point, worker_pid=pid)  # also refreshes the heartbeat
        if on_point:
            on_point(point)

    def should_stop() -> bool:
        if must_quit():
            raise WorkerGone("worker asked to quit")
        if beat.lost.is_set():
            raise RunLost(f"run {run_id} was taken from worker {pid}")
        if limit and time.monotonic() - t0 > limit:
            timed_out.set()
            return True
        if background and time.monotonic() >= next_yield_check[0]:
            next_yield_check[0] = time.monotonic() + YIELD_CHECK_SECONDS
            if store.outranked(run_id, backend=config.backend, waited=YIELD_AFTER_SECONDS):
                raise RunYielded(f"run {run_id} yields to a user's run")
        return store.stop_requested(run_id)

    from fmnist_core.insight import EpochConfusionRecorder

    confusion = EpochConfusionRecorder()

    def on_epoch_done(model, epochs_done: int) -> None:
        # The checkpoint first: a run that yields (or stops) during the confusion pass keeps this epoch.
        if epochs_done < config.epochs:  # the last epoch's model is saved as the result anyway
            store.save_checkpoint(run_id, model, epochs_done)
        _record_epoch_confusion(store, run_id, confusion, model, config, data, epochs_done, should_stop)

    try:
        result = train(
            config,
            data,
            on_metrics=on_metrics,
            should_stop=should_stop,
            evaluate_test=False,
            on_epoch_done=on_epoch_done,
            resume_from=checkpoint,
            initial_epoch=epochs_kept,
            reuse_compiled=True,  # the model is saved below, before this worker trains another
        )
    except TrainingDiverged as exc:
        store.finish_run(run_id, status="failed", worker_pid=pid, error=str(exc))
        return "failed"
    except WorkerGone:
        store.finish_run(
            run_id, status="interrupted", worker_pid=pid, error="the app stopped while this run was training"
        )
        raise
    except RunLost:
        raise
    except RunYielded:
        if not store.yield_run(run_id, pid):
            return "lost"
        log.info("run %s went back to the queue: a user's run goes first", run_id)
        return "queued"
    except OSError as exc:  # a checkpoint that could not be written: full disk, read-only home
        store.finish_run(run_id, status="failed", worker_pid=pid, error=_save_failed_message(store, exc))
        return "failed"
    except Exception as exc:  # a failed run must say why, not vanish
        _log_error(store, run_id)
        store.finish_run(run_id, status="failed", worker_pid=pid, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    summary = {
        "seconds": result.seconds,
        "epochs_done": result.epochs_done,
        "params": int(result.model.count_params()),
    }
    if result.stopped:
        # Say "stopped" at once; the model and the test evaluation follow (finalizing = 1 meanwhile).
        error = (
            f"stopped at the time limit of {limit:g} s (setting FMNIST_RUN_TIME_LIMIT)"
            if timed_out.is_set()
            else None
        )
        if not store.finish_run(
            run_id, status="stopped", worker_pid=pid, error=error, finalizing=1, **summary
        ):
            return "lost"
    try:
        fields = _store_results(store, run_id, result.model, config, data)
    except Exception as exc:
        _log_error(store, run_id)
        expect = ("stopped",) if result.stopped else ACTIVE
        store.finish_run(
            run_id,
            status="failed",
            worker_pid=pid,
            expect=expect,
            error=_save_failed_message(store, exc),
            finalizing=0,
        )
        return "failed"
    if result.stopped:
        store.set_fields(run_id, finalizing=0, **fields)
        return "stopped"
    if not store.finish_run(run_id, status="finished", worker_pid=pid, **summary, **fields):
        return "lost"
    return "finished"


def _record_epoch_confusion(
    store: RunStore, run_id: int, recorder, model, config: TrainConfig, data, epoch: int, should_stop
) -> None:
    """The validation confusion counts at this epoch end (fmnist_core.insight.EpochConfusionRecorder: at
    most ~10% of the epoch's time; $FMNIST_EPOCH_CONFUSION=0 off, =all every image). A stop request
    ends the pass between chunks (nothing recorded); the next batch then stops the run. A failure here
    is logged and never fails the run."""
    from fmnist_core.training import prepare_data

    try:
        prepared = prepare_data(config, data)
        result = recorder(model, prepared.x_val, prepared.y_val, should_stop=should_stop)
        if result is not None:
            store.add_epoch_confusion(run_id, epoch, result[0], seconds=result[1])
    except RunLost:
        raise  # the run is no longer this worker's: stop training it, as anywhere else
    except Exception:
        log.exception("could not record the validation confusion of run %s, epoch %s", run_id, epoch)


def _position(point: dict) -> tuple[int, int, int]:
    return int(point["epoch"]), int(point["step"]), int(point["kind"] == "epoch")


def _log_error(store: RunStore, run_id: int) -> None:
    log.error("run %s failed:\n%s", run_id, traceback.format_exc())
    try:
        (store.run_dir(run_id) / "error.log").write_text(traceback.format_exc())
    except OSError:
        pass  # the disk that failed the run may refuse the log too; the server log has it


def limit_cpu_share(*, nice: int | None = None, threads: int | None = None) -> None:
    """Leave the app's server room: lower this process's CPU priority, and size TensorFlow's thread
    pools (call before TensorFlow runs its first op). Measured numbers: see the README."""
    nice = settings.worker_nice() if nice is None else nice
    threads = settings.worker_threads() if threads is None else threads
    if nice:
        try:
            os.nice(nice)
        except OSError:
            log.warning("could not lower the worker's priority")
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def warm_up(load: Callable[[], object]) -> None:
    """Load the data, split it the lab's way and train the lab MLP for one execution, discarding the result:
    the first real run then skips the data load, the split and TensorFlow's one-time set-up, and a run of
    the default set-up the tracing too (measured by `python -m bench demo`). A failure here is left for
    the first run to report."""
    try:
        from fmnist_core.training import TrainConfig, prepare_data, train, validation_data

        data = load()
        config = TrainConfig()
        prepared = prepare_data(config, data)  # the lab split, cached in this process
        # The default lab run's training function, traced and kept (reuse_compiled): the first click on
        # Start with that set-up (any subset, seed or epochs) skips the tracing. One execution, then stop.
        result = train(config, data, evaluate_test=False, reuse_compiled=True, should_stop=lambda: True)
        # Its validation function too (fit keeps it): the first epoch's end then skips that tracing.
        val = validation_data(config, prepared)
        if hasattr(val, "take"):  # TensorFlow (JAX traces per shape: its first epoch end traces anyway)
            result.model.evaluate(val.take(1), verbose=0)
    except Exception as exc:  # noqa: BLE001 (a missing dataset, say: the run that needs it says why)
        log.warning("worker warm-up skipped: %s", exc)


def worker_main(
    home: str, parent_pid: int, poll: float = POLL_SECONDS, backend: str = DEFAULT_BACKEND
) -> None:
    """Entry point of a worker process: claim queued runs of `backend` from the store, one at a time,
    forever. Keras fixes its backend when first imported, so this sets KERAS_BACKEND before that."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = backend
    quitting = threading.Event()

    def on_term(signum, frame):  # turn SIGTERM into a clean "interrupted" for the current run
        quitting.set()
        raise WorkerGone("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal goes to the app, which stops us

    def parent_gone() -> bool:
        return quitting.is_set() or os.getppid() != parent_pid or not pid_alive(parent_pid)

    store = RunStore(home)
    limit_cpu_share(threads=None if backend == "tensorflow" else 0)  # thread pools: TensorFlow's only
    import keras  # (import the backend once, before the first job)

    if keras.backend.backend() != backend:  # Keras was imported before KERAS_BACKEND could be set
        raise SystemExit(f"worker for {backend} got Keras on {keras.backend.backend()}")

    cache: dict = {}

    def load():
        if "data" not in cache:
            from fmnist_core.data import load_fashion_mnist

            cache["data"] = load_fashion_mnist()
        return cache["data"]

    warm_up(load)  # before the first claim: a click on Start meets a worker with data and warm kernels
    try:
        while not parent_gone():
            run = store.claim_next(os.getpid(), backend=backend)
            if run is None:
                time.sleep(poll)  # idle: the store is the queue; nothing to block on across processes
                continue
            try:
                config = TrainConfig.from_dict(run.config)
            except (TypeError, ValueError) as exc:
                store.finish_run(
                    run.id, status="failed", worker_pid=os.getpid(), error=f"bad configuration: {exc}"
                )
                continue
            execute_run(store, run.id, config, load, must_quit=parent_gone)
    except WorkerGone:
        pass
    finally:
        store.close()


def resume_run(run_id: int, *, store: RunStore | None = None) -> tuple[bool, str]:
    """Put an interrupted run back in the queue under its id; a worker resumes it from its last
    checkpoint (its points stay, the partial epoch is retrained). Reconciles first, so a run still
    marked running whose process is dead counts as interrupted. Returns (queued, a sentence)."""
    store = store or RunStore()
    store.reconcile()
    run = store.get_run(run_id)
    if run is None:
        return False, f"Run #{int(run_id)} does not exist."
    if run.status != "interrupted":
        return False, f"Run #{run.id} is {run.status}: only an interrupted run can be resumed."
    if not store.requeue_for_resume(run.id):
        return False, f"Run #{run.id} changed meanwhile; look again."
    store.set_fields(run.id, resumes=run.resumes + 1)
    epochs, _ = store.recorded_checkpoint(run.id)
    where = f"after epoch {epochs}" if epochs else "from the start (no epoch had finished)"
    return True, f"Run #{run.id} is queued to resume {where}."


class JobRunner:
    """Starts and watches worker processes for one run store (or, with `executor="ray"`, hands the
    store's queued runs to a Ray cluster: fmnist_core.executors). Never blocks the caller."""

    def __init__(
        self,
        home: str | os.PathLike | None = None,
        *,
        workers: int | None = None,
        start: bool = False,
        executor: str | None = None,
    ):
        self.home = Path(home) if home is not None else studio_home()
        self._store = RunStore(self.home)  # shared by every thread: each call borrows a pooled connection
        self.n_workers = workers or default_workers()
        self._procs: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self.executor = executor or settings.executor()  # "local" or "ray" ($FMNIST_EXECUTOR)
        self.ray = None  # the RayExecutor, created on first use (Ray is imported only then)
        self.store.reconcile()
        self.store.forget_missing_models()
        if settings.auto_resume():
            for run in self.store.runs(status="interrupted", limit=1000):
                resume_run(run.id, store=self.store)
        if start:  # start now: the worker imports TensorFlow (~5-10 s) before the user clicks Start
            self.ensure_workers()

    @property
    def store(self) -> RunStore:
        return self._store

    def ensure_workers(self) -> int:
        """Start workers up to the configured count for the default backend and for every backend a
        queued run waits for (a worker per backend: Keras fixes it per process); returns how many are
        alive. With the Ray executor: make sure its dispatcher runs; returns the runs the cluster
        trains at once (0 while it connects)."""
        if self.executor == "ray":
            return self._ray_executor().ensure()
        try:
            wanted = {DEFAULT_BACKEND} | self.store.queued_backends()
        except Exception:  # a busy store must not keep the default worker from starting
            log.exception("could not read the queued runs' backends")
            wanted = {DEFAULT_BACKEND}
        with self._lock:
            self._procs = [p for p in self._procs if p.poll() is None]
            for backend in sorted(wanted):
                self._start_workers(backend)
            return len(self._procs)

    def problem(self) -> str | None:
        """Why queued runs cannot start here, in a sentence for the pages (None: nothing known)."""
        return getattr(self.ray, "problem", None) if self.executor == "ray" else None

    def _ray_executor(self):
        with self._lock:
            if self.ray is None:
                from fmnist_core.executors.ray_executor import RayExecutor

                self.ray = RayExecutor(self.store)
            return self.ray

    def _start_workers(self, backend: str) -> None:
        """Start workers for `backend` up to the configured count (holding the lock)."""
        while sum(getattr(p, "backend", DEFAULT_BACKEND) == backend for p in self._procs) < self.n_workers:
            # A fresh interpreter, not multiprocessing: "spawn" would re-import the parent's __main__,
            # which under Streamlit is the page script itself.
            log_file = open(self.home / "worker.log", "ab")  # noqa: SIM115 (owned by the child)
            root = str(Path(__file__).resolve().parents[1])
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
                "KERAS_BACKEND": backend,
            }
            p = subprocess.Popen(
                [sys.executable, "-m", "fmnist_core.jobs", str(self.home), str(os.getpid()), backend],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=root,
            )
            log_file.close()
            p.backend = backend  # type: ignore[attr-defined]
            self._procs.append(p)

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

    def submit_once(
        self,
        config: TrainConfig,
        *,
        label: str = "",
        study_id: str | None = None,
        variant: str | None = None,
    ) -> tuple[int, bool]:
        """Queue a run unless an identical one is queued or running (atomic); returns (run id, created)."""
        run_id, created = self.store.create_run_once(config, label=label, study_id=study_id, variant=variant)
        self.ensure_workers()
        return run_id, created

    def stop(self, run_id: int) -> str | None:
        return self.store.request_stop(run_id)

    def resume(self, run_id: int) -> tuple[bool, str]:
        """Resume an interrupted run under its id (see `resume_run`); returns (queued, a sentence)."""
        ok, message = resume_run(run_id, store=self.store)
        if ok:
            self.ensure_workers()
        return ok, message

    def reconcile(self) -> list[int]:
        """Mark runs whose worker died as interrupted (cheap; pages call it when polling)."""
        return self.store.reconcile()

    def workers_alive(self) -> int:
        return sum(p.poll() is None for p in self._procs)

    def worker_pids(self, backend: str | None = None) -> list[int]:
        """Live workers' pids (of one backend's workers only, when given)."""
        return [
            p.pid
            for p in self._procs
            if p.poll() is None and (backend is None or getattr(p, "backend", DEFAULT_BACKEND) == backend)
        ]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the workers (SIGTERM: a running run ends as interrupted, with its points kept)."""
        if self.ray is not None:
            self.ray.shutdown(timeout)
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


if __name__ == "__main__":  # the worker process: python -m fmnist_core.jobs HOME PARENT_PID [BACKEND]
    logging.basicConfig(level=logging.INFO)
    worker_main(sys.argv[1], int(sys.argv[2]), backend=sys.argv[3] if len(sys.argv) > 3 else DEFAULT_BACKEND)
