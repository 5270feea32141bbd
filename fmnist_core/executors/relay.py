"""The Ray worker's side of the Ray executor: train one run with `fmnist_core.jobs.execute_run`, exactly
as a local worker does, through a store stand-in that relays every write to the app.

A Ray worker may sit on another machine with no access to the app's SQLite file, so `RelayStore` turns
each write (points, heartbeats, status changes, confusion counts, checkpoints, the model and the test
probabilities as bytes) into a message. A pump thread pushes the messages, in order, to the hub actor
every PUSH_SECONDS; the hub's answer says whether the app asked the run to stop or took it away. Reads
(the checkpoint to resume from, the last logged point) come with the task.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.store.runs import ACTIVE, RunLost

log = logging.getLogger(__name__)
PUSH_SECONDS = 0.2  # a stop lands within one of these, two of the app's polls and one compiled call


class RelayStore:
    """What `execute_run` needs of a RunStore, on a Ray worker. Use as a context manager: entering sends
    "hello" and starts the pump; leaving pushes everything still queued before the task returns."""

    def __init__(self, hub: Any, run_id: int, start: dict[str, Any], *, push_every: float = PUSH_SECONDS):
        self.hub, self.run_id, self.push_every = hub, int(run_id), push_every
        self.home = Path(start["home"])  # the app's home, named in messages only
        self._model_path = Path(start["model_path"])  # where the app will write the model
        self._checkpoint: tuple[int, bytes] | None = start.get("checkpoint")
        self._logged = tuple(start["logged"]) if start.get("logged") else None
        self._tmp = Path(tempfile.mkdtemp(prefix=f"fmnist-run{self.run_id}-"))
        self._outbox: list[tuple[str, tuple]] = []
        self._outbox_lock = threading.Lock()
        self._push_lock = threading.Lock()  # one push at a time: messages reach the hub in order
        self.stop = threading.Event()
        self.lost = threading.Event()
        self._done = threading.Event()
        self._pump = threading.Thread(target=self._pump_loop, name=f"relay-{run_id}", daemon=True)

    # -- the channel --------------------------------------------------------------------------------

    def __enter__(self) -> RelayStore:
        from fmnist_core.store.env import library_versions

        self._send("hello", {"versions": library_versions(), "pid": os.getpid(), "host": os.uname().nodename})
        self.flush()
        self._pump.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._pump.join(10)
        try:
            self.flush()
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _send(self, kind: str, *payload: Any) -> None:
        with self._outbox_lock:
            self._outbox.append((kind, payload))

    def flush(self) -> None:
        """Push queued messages (or an empty push: a heartbeat) and take in the hub's answer."""
        import ray

        with self._push_lock:
            with self._outbox_lock:
                messages, self._outbox = self._outbox, []
            stop, lost = ray.get(self.hub.push.remote(self.run_id, messages))
        if stop:
            self.stop.set()
        if lost:
            self.lost.set()

    def _pump_loop(self) -> None:
        while not self._done.wait(self.push_every):
            try:
                self.flush()
            except Exception:  # the hub busy or restarting: the next push carries these messages too
                log.exception("relay of run %s could not push", self.run_id)

    # -- what execute_run calls ----------------------------------------------------------------------

    def heartbeat(self, run_id: int, worker_pid: int | None = None) -> bool:
        return not self.lost.is_set()  # every push is a heartbeat; the app refreshes the store's

    def get_run(self, run_id: int) -> None:
        return None  # asked only when heartbeat() said the run is no longer ours

    def stop_requested(self, run_id: int) -> bool:
        return self.stop.is_set()

    def add_point(self, run_id: int, point: dict[str, Any], *, worker_pid: int | None = None) -> None:
        if self.lost.is_set():
            raise RunLost(f"run {run_id} was taken from this Ray worker")
        self._send("point", dict(point))

    def set_fields(self, run_id: int, **fields: Any) -> None:
        self._send("set", fields)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        error: str | None = None,
        worker_pid: int | None = None,
        expect: tuple[str, ...] = ACTIVE,
        **fields: Any,
    ) -> bool:
        self._send("finish", {"status": status, "error": error, "expect": tuple(expect), **fields})
        try:  # at once, not at the next push: a stopped run shows "stopped" sooner
            self.flush()
        except Exception:  # the pump's next push carries it
            log.exception("relay of run %s could not push its status", self.run_id)
        return not self.lost.is_set()

    def add_epoch_confusion(self, run_id: int, epoch: int, counts: Any, *, seconds: float | None) -> None:
        self._send("confusion", int(epoch), np.asarray(counts, dtype=np.int64), seconds)

    def last_position(self, run_id: int) -> tuple[int, int, int] | None:
        return self._logged

    def recorded_checkpoint(self, run_id: int) -> tuple[int, Path | None]:
        if not self._checkpoint:
            return 0, None
        epochs, blob = self._checkpoint
        path = self._tmp / f"checkpoint-e{int(epochs):04d}.keras"
        path.write_bytes(blob)
        return int(epochs), path

    def prune_checkpoints(self, run_id: int, *, keep: int | None) -> None:
        self._send("prune", keep)

    def save_checkpoint(self, run_id: int, model: Any, epoch: int) -> Path:
        self._send("checkpoint", int(epoch), self._model_bytes(model))
        return self._tmp / "checkpoint.keras"

    def save_model(self, run_id: int, model: Any) -> Path:
        self._send("model", self._model_bytes(model))
        return self._model_path

    def save_test_probs(self, run_id: int, probs: Any) -> Path:
        self._send("probs", np.asarray(probs, dtype=np.float32))
        return self._model_path.with_name("test_probs.npy")

    def run_dir(self, run_id: int, *, create: bool = True) -> Path:
        return self._tmp  # only execute_run's error.log goes here; the Ray worker's log has the trace

    def _model_bytes(self, model: Any) -> bytes:
        path = self._tmp / "outgoing.keras"
        model.save(path)
        try:
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)


# The dataset per Ray worker process, keyed by its object ref: tasks reuse it (and training's cache of
# the prepared split, which is keyed by the dataset object), as a local worker does.
_DATA: dict[str, Any] = {}
_THREADS_SET = threading.Event()


def _limit_cpu_share(threads: int) -> None:
    """As a local worker: a lower CPU priority ($FMNIST_WORKER_NICE, so a Ray worker on the app's own
    machine leaves the server room) and TensorFlow's thread pools sized to the CPUs the run asked for.
    Once per Ray worker process, before TensorFlow's first op; later tasks in the process keep both."""
    if _THREADS_SET.is_set():
        return
    _THREADS_SET.set()
    from fmnist_core import settings
    from fmnist_core.jobs import limit_cpu_share

    # Ray starts its workers at a niceness of its own ($RAY_worker_niceness, 15 by default; the executor
    # asks for FMNIST_WORKER_NICE): bring it to the local worker's, never lower than Ray set it.
    nice = max(0, settings.worker_nice() - os.nice(0))
    tensorflow = os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"
    try:
        limit_cpu_share(nice=nice, threads=threads if tensorflow else 0)
    except RuntimeError:  # TensorFlow already ran in this process
        pass


def train_task(hub: Any, run_id: int, config: dict[str, Any], start: dict[str, Any], data_box: list) -> str:
    """The Ray task of one run: returns its final status ("finished", "stopped", "failed", "lost").
    `data_box` holds the dataset's object ref (in a list, so Ray hands over the ref, not the arrays)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _limit_cpu_share(int(start.get("threads") or 0))
    from fmnist_core.jobs import execute_run
    from fmnist_core.training import TrainConfig

    ref = data_box[0]

    def load():
        key = ref.hex()
        if key not in _DATA:
            import ray

            from fmnist_core.data import FashionMNIST

            x_train, y_train, x_test, y_test, source = ray.get(ref)
            _DATA.clear()
            _DATA[key] = FashionMNIST(x_train, y_train, x_test, y_test, source=source)
        return _DATA[key]

    with RelayStore(hub, run_id, start) as relay:
        try:
            train_config = TrainConfig.from_dict(config)
        except (TypeError, ValueError) as exc:
            relay.finish_run(run_id, status="failed", error=f"bad configuration: {exc}")
            return "failed"
        import keras

        if keras.backend.backend() != train_config.backend:
            relay.finish_run(
                run_id,
                status="failed",
                error=f"the Ray worker has Keras on {keras.backend.backend()}, not {train_config.backend}",
            )
            return "failed"
        return execute_run(relay, run_id, train_config, load, worker_pid=os.getpid())  # type: ignore[arg-type]
