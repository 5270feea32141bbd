"""The app's side of the Ray executor (FMNIST_EXECUTOR=ray): every queued run becomes a Ray task.

One dispatcher thread in the app process does all of it, every POLL_SECONDS (0.15 s):
  - submits each queued run as a Ray task (max_retries=0) asking for $FMNIST_RAY_CPUS_PER_RUN CPUs,
    all at once: Ray places them on the cluster. The dataset is in Ray's object store once (ray.put);
  - drains the hub actor (a mailbox in the cluster, since Ray Client drivers host no actors) of the
    messages the tasks' RelayStores pushed, and writes them into the run store: the app stays the
    store's one writer, and the store's file never leaves this machine;
  - passes stop requests (and runs it no longer owns) back through the hub;
  - refreshes the heartbeat of every run whose task still pushes;
  - marks a run whose Ray worker or node died "interrupted" (points and checkpoints kept, resumable).

A run is recorded as running in the app's pid (the process that writes it): `RunStore.reconcile` then
marks it interrupted if the app dies, as for local workers. Ray never retries a task (a retry would
train the run again into the same id): a task that died before its run started is resubmitted by the
dispatcher itself, at most MAX_ATTEMPTS times; one that died mid-run leaves the run interrupted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core import settings
from fmnist_core.executors import set_cluster_slots
from fmnist_core.store import RunLost, RunStore, write_atomically

log = logging.getLogger(__name__)
POLL_SECONDS = 0.15  # stop requests out, points and statuses in: a stop lands in well under 2 s
HEARTBEAT_SECONDS = 2.0
SILENT_AFTER = 30.0  # a task that has not pushed for this long gets no more heartbeats from the app
MAX_ATTEMPTS = 3  # tasks of one run that may die before the run starts
NAMESPACE = "fmnist-studio"
DEFAULT_BACKEND = "tensorflow"
ROOT = Path(__file__).resolve().parents[2]


class Hub:
    """The mailbox between the tasks and the app (a Ray actor with no CPU). Tasks push their messages
    and learn whether to stop; the app drains the messages and says which runs must stop."""

    def __init__(self) -> None:
        self.outbox: list[tuple[int, str, tuple]] = []
        self.stops: set[int] = set()
        self.lost: set[int] = set()
        self.seen: dict[int, float] = {}

    def push(self, run_id: int, messages: list[tuple[str, tuple]]) -> tuple[bool, bool]:
        self.outbox.extend((run_id, kind, payload) for kind, payload in messages)
        self.seen[run_id] = time.time()
        return run_id in self.stops, run_id in self.lost

    def drain(self, stops: list[int], lost: list[int]) -> tuple[list, dict[int, float]]:
        self.stops, self.lost = set(stops), set(lost)
        out, self.outbox = self.outbox, []
        seen, self.seen = self.seen, {}
        return out, seen


@dataclass
class Flight:
    """A run submitted to Ray, as the dispatcher knows it."""

    run_id: int
    ref: Any
    owned: bool = False  # its task said hello and the store marked it running for us
    lost: bool = False  # no longer ours (cancelled, reconciled, deleted): the task must give up
    ended: bool = False  # its status was set (a stopped run's model and test results still follow)
    seen: float = field(default_factory=time.time)
    versions: dict[str, str] | None = None
    worker: dict[str, Any] | None = None  # pid and host of the Ray worker process training it


class RayExecutor:
    """Trains the store's queued runs on a Ray cluster. `ensure()` never blocks: connecting to Ray (or
    starting a local one, ~5-10 s) happens in the dispatcher thread."""

    def __init__(self, store: RunStore, *, address: str | None = None, cpus_per_run: float | None = None):
        self.store = store
        self.address = settings.ray_address() if address is None else address
        self.cpus_per_run = settings.ray_cpus_per_run() if cpus_per_run is None else cpus_per_run
        self.pid = os.getpid()
        self.flights: dict[int, Flight] = {}
        self.attempts: dict[int, int] = {}
        self.workers: dict[int, dict[str, Any]] = {}  # run id -> the Ray worker that trained it last
        self.error: str | None = None  # why the cluster cannot be used (server log and docs say more)
        self.problem: str | None = None  # the same in a sentence for the pages (no exception text)
        self.connected = threading.Event()
        self._quit = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started_ray = False
        self._hub = self._data_ref = self._task = None
        self._last_beat = 0.0
        self._last_slots = 0.0

    # -- lifecycle ----------------------------------------------------------------------------------

    def ensure(self) -> int:
        """Start the dispatcher if it is not running; returns the runs the cluster trains at once (0
        until connected)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._quit.clear()
                self._thread = threading.Thread(target=self._main, name="ray-dispatcher", daemon=True)
                self._thread.start()
        return self.slots if self.connected.is_set() else 0

    @property
    def slots(self) -> int:
        from fmnist_core.executors import _cluster_slots

        return _cluster_slots or 0

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop dispatching. Runs training now end as interrupted (their points and checkpoints kept);
        queued ones stay queued. A local Ray the app started is shut down."""
        self._quit.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            import ray
        except ImportError:  # never connected: nothing to stop
            return
        if not ray.is_initialized():
            return
        for f in list(self.flights.values()):
            try:
                ray.cancel(f.ref, force=True)
            except Exception:  # already ended
                pass
            if f.owned and not f.lost:
                self.store.finish_run(
                    f.run_id,
                    status="interrupted",
                    worker_pid=self.pid,
                    error="the app stopped while this run was training",
                )
        self.flights.clear()
        set_cluster_slots(None)
        if self._started_ray:
            ray.shutdown()

    def worker_of(self, run_id: int) -> dict[str, Any] | None:
        """{"pid", "host"} of the Ray worker process training `run_id`, once its task said hello."""
        worker = self.workers.get(int(run_id))
        return dict(worker) if worker else None

    def _main(self) -> None:
        while not self._quit.is_set():
            try:
                self._connect()
                break
            except ImportError as exc:
                self.error = (
                    f"FMNIST_EXECUTOR=ray needs Ray: pip install -r requirements-ray.txt ({exc}); "
                    "queued runs wait until then"
                )
                log.error("%s", self.error)
                self.problem = (
                    "Runs wait in the queue: this server trains on Ray (FMNIST_EXECUTOR=ray) but Ray is not "
                    "installed here. Install it with `pip install -r requirements-ray.txt` and restart the app."
                )
                return
            except Exception as exc:  # a wrong address, a cluster not up yet: say so, try again later
                self.error = f"could not connect to Ray at {self.address or '(local)'}: {exc}"
                log.error("%s; retrying in 30 s", self.error)
                self.problem = (
                    "Runs wait in the queue: this server cannot reach its Ray cluster (FMNIST_RAY_ADDRESS); "
                    "it tries again every 30 s, and the server log says why."
                )
                if self._quit.wait(30):
                    return
        while not self._quit.wait(POLL_SECONDS):
            try:
                self.tick()
            except Exception:  # one bad tick (a busy store, a hub restart) must not end dispatching
                log.exception("Ray dispatcher tick failed")

    def _connect(self) -> None:
        import ray

        if not ray.is_initialized():
            # Workers import fmnist_core from this checkout on this machine; cluster nodes need the
            # same checkout and venv (docs/scaling.md), or, through Ray Client, get the package shipped.
            # Ray's workers run at niceness 15 by default: training then yields to anything else on a
            # node (measured: +25% wall time on the shared 2-core machine). Use the local worker's.
            env = {
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "KERAS_BACKEND": DEFAULT_BACKEND,
                "RAY_worker_niceness": str(settings.worker_nice()),
            }
            runtime_env: dict[str, Any] = {"env_vars": {**env, "PYTHONPATH": str(ROOT)}}
            if self.address.startswith("ray://"):
                runtime_env = {"env_vars": env, "py_modules": [str(ROOT / "fmnist_core")]}
                ray.init(address=self.address, namespace=NAMESPACE, runtime_env=runtime_env)
            elif self.address:
                ray.init(
                    address=self.address,
                    namespace=NAMESPACE,
                    runtime_env=runtime_env,
                    log_to_driver=False,
                )
            else:  # a private Ray on loopback, for one machine (and tests)
                ray.init(
                    address="local",
                    num_cpus=settings.ray_local_cpus() or None,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    namespace=NAMESPACE,
                    runtime_env=runtime_env,
                    log_to_driver=False,
                )
                self._started_ray = True
        self._hub = ray.remote(num_cpus=0, max_restarts=0)(Hub).remote()
        ray.get(self._hub.drain.remote([], []))  # up and answering
        from fmnist_core.data import load_fashion_mnist

        data = load_fashion_mnist()
        self._data_ref = ray.put((data.x_train, data.y_train, data.x_test, data.y_test, data.source))
        from fmnist_core.executors.relay import train_task

        self._task = ray.remote(train_task)
        self._refresh_slots(force=True)
        self.error = self.problem = None
        self.connected.set()
        log.info("Ray executor connected: %s runs at once", self.slots)

    def _refresh_slots(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_slots < 10:
            return
        import ray

        self._last_slots = time.monotonic()
        cpus = float(ray.cluster_resources().get("CPU", 0))
        set_cluster_slots(max(1, int(cpus // self.cpus_per_run)) if cpus else 1)

    # -- one round ----------------------------------------------------------------------------------

    def tick(self) -> None:
        """Submit new queued runs, take in what the tasks sent, pass stops back, end finished tasks."""
        import ray

        self._refresh_slots()
        queued = {r.id: r for r in self.store.runs(status="queued", limit=100_000)}
        running = {r.id: r for r in self.store.runs(status="running", limit=100_000)}
        # in the store's claim order (users' runs before background ones, then oldest first): Ray
        # starts tasks of one shape in the order they were submitted
        for run in sorted(queued.values(), key=lambda r: (-getattr(r, "priority", 0), r.id)):
            if run.id not in self.flights and not run.stop_requested:
                self._submit(run)
        refs = [f.ref for f in self.flights.values()]
        ready = set(ray.wait(refs, num_returns=len(refs), timeout=0)[0]) if refs else set()
        for f in self.flights.values():
            if f.owned and not f.lost and not f.ended:
                r = running.get(f.run_id)
                if r is None or r.worker_pid != self.pid:  # reconciled, deleted or taken meanwhile
                    f.lost = True
            elif not f.owned and not f.lost and f.run_id not in queued and f.ref not in ready:
                ray.cancel(f.ref)  # cancelled while waiting for a place (its hello, if any, will be refused)
                f.lost = True
        stops = [
            i for i, f in self.flights.items() if f.owned and running.get(i) and running[i].stop_requested
        ]
        self._drain(stops)
        for f in [f for f in self.flights.values() if f.ref in ready]:
            self._ended(f)
        self._beat()

    def _submit(self, run) -> None:

        epochs, path = self.store.recorded_checkpoint(run.id)
        start = {
            "home": str(self.store.home),
            "model_path": str(self.store.model_path(run.id)),
            "checkpoint": (epochs, path.read_bytes()) if path is not None else None,
            "logged": self.store.last_position(run.id),
            "threads": max(1, int(self.cpus_per_run)),
        }
        backend = run.config.get("backend", DEFAULT_BACKEND)
        options: dict[str, Any] = {}
        if backend != DEFAULT_BACKEND:
            # Keras fixes its backend per process: these tasks get Ray workers of their own. TensorFlow
            # runs use the job's own workers, which Ray starts ahead and keeps (workers of another
            # runtime environment are killed after a second idle: each run would import TensorFlow again).
            options["runtime_env"] = {"env_vars": {"KERAS_BACKEND": backend}}
        ref = self._task.options(
            **options,
            num_cpus=self.cpus_per_run,
            max_retries=0,  # never train a run twice into its id: the dispatcher decides (see above)
            retry_exceptions=False,
            name=f"fmnist-run-{run.id}",
        ).remote(self._hub, run.id, run.config, start, [self._data_ref])
        self.flights[run.id] = Flight(run.id, ref)

    def _drain(self, stops: list[int]) -> None:
        import ray

        lost = [i for i, f in self.flights.items() if f.lost]
        messages, seen = ray.get(self._hub.drain.remote(stops, lost))
        for run_id, when in seen.items():
            if run_id in self.flights:
                self.flights[run_id].seen = when
        for run_id, kind, payload in messages:
            f = self.flights.get(run_id)
            if f is None or (f.lost and kind != "hello"):
                continue  # a task we gave up on (or from before a restart of the app)
            try:
                self._apply(f, kind, payload)
            except RunLost:
                f.lost = True
            except Exception:  # one message that cannot be written (full disk): the run fails, not the app
                log.exception("run %s: could not record a %r message", run_id, kind)
                if kind in ("checkpoint", "model", "probs"):
                    f.lost = True
                    self.store.finish_run(
                        run_id,
                        status="failed",
                        worker_pid=self.pid,
                        expect=("running", "stopped"),
                        error=f"could not save the results it sent (see the server log); free some space "
                        f"in {self.store.home} and train again",
                        finalizing=0,
                    )

    def _apply(self, f: Flight, kind: str, payload: tuple) -> None:
        """Write one message of a task into the store, as the local worker would have."""
        store, run_id = self.store, f.run_id
        if kind == "hello":
            f.versions, f.worker = payload[0]["versions"], {k: payload[0][k] for k in ("pid", "host")}
            if len(self.workers) > 10_000:
                self.workers.clear()
            self.workers[run_id] = f.worker
            if f.lost or not store.mark_running(run_id, self.pid):
                f.lost = True  # cancelled meanwhile, or another worker took it: this task gives up
            else:
                f.owned = True
            return
        if not f.owned:
            return
        if kind == "point":
            store.add_point(run_id, payload[0], worker_pid=self.pid)
        elif kind == "set":
            fields = dict(payload[0])
            if "env_key" in fields:  # the data is the app's (shipped from here); the libraries the worker's
                from fmnist_core.store.env import env_key

                fields["env_key"] = env_key(versions=f.versions)
            store.set_fields(run_id, **fields)
        elif kind == "finish":
            fields = dict(payload[0])
            if store.finish_run(run_id, worker_pid=self.pid, **fields):
                f.ended = True
            else:
                f.lost = True
        elif kind == "confusion":
            epoch, counts, seconds = payload
            store.add_epoch_confusion(run_id, epoch, np.asarray(counts), seconds=seconds)
        elif kind == "prune":
            store.prune_checkpoints(run_id, keep=payload[0])
        elif kind == "checkpoint":  # as RunStore.save_checkpoint: complete file, record, then prune
            epoch, blob = payload
            _write_bytes(store.checkpoint_path(run_id, epoch), blob)
            store.set_fields(run_id, checkpoint_epoch=int(epoch))
            store.prune_checkpoints(run_id, keep=int(epoch))
        elif kind == "model":
            _write_bytes(store.model_path(run_id), payload[0])
        elif kind == "probs":
            store.save_test_probs(run_id, payload[0])
        else:
            log.warning("run %s: unknown message %r ignored", run_id, kind)

    def _ended(self, f: Flight) -> None:
        """The task returned or died: forget it, and mark its run interrupted if it died mid-run."""
        import ray

        del self.flights[f.run_id]
        try:
            status = ray.get(f.ref)
            died = None
        except Exception as exc:  # WorkerCrashedError, NodeDiedError, TaskCancelledError, RayTaskError...
            status, died = None, exc
        if f.lost:
            return
        if not f.owned:  # died before its run started: nothing trained, so it may go again
            self.attempts[f.run_id] = n = self.attempts.get(f.run_id, 0) + 1
            if died is not None and n >= MAX_ATTEMPTS:
                self.store.finish_run(
                    f.run_id,
                    status="failed",
                    expect=("queued",),
                    error=f"its Ray task failed {n} times before it started ({type(died).__name__}; "
                    "the server log has the details)",
                )
            if died is not None:
                log.error("Ray task of run %s failed before it started: %s", f.run_id, died)
            return
        run = self.store.get_run(f.run_id)
        if run is None or run.status != "running" or run.worker_pid != self.pid:
            return  # ended properly through its messages
        reason = (
            f"the Ray worker training it died ({type(died).__name__}); resume it to continue"
            if died is not None
            else f"its Ray task ended ({status}) without a result"
        )
        log.warning("run %s interrupted: %s", f.run_id, died or status)
        self.store.finish_run(f.run_id, status="interrupted", worker_pid=self.pid, error=reason, finalizing=0)

    def _beat(self) -> None:
        now = time.time()
        if now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        for f in self.flights.values():
            if f.owned and not f.lost and not f.ended and now - f.seen < SILENT_AFTER:
                if not self.store.heartbeat(f.run_id, self.pid):
                    f.lost = True


def _write_bytes(final: Path, blob: bytes) -> Path:
    def write(tmp: Path) -> None:
        tmp.write_bytes(blob)

    return write_atomically(final, write, suffix=final.suffix)
