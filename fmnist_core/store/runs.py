"""The queue and the run lifecycle: create, claim, heartbeat, stop, finish, reconcile, resume, delete.

Every status change is a compare-and-set on (id, status[, worker pid]): a change that lost a race
(the run was reconciled, stopped, deleted or claimed by someone else meanwhile) is logged and
ignored, never applied over the winner's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from fmnist_core import settings

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
ACTIVE = ("queued", "running")
TERMINAL = ("finished", "stopped", "failed", "interrupted")
UNKNOWN_ENV = "unknown"  # runs recorded before the store knew what data they were trained on
# A run's Keras backend from its config JSON (configs without the field train on TensorFlow).
BACKEND_SQL = "COALESCE(json_extract(config, '$.backend'), 'tensorflow')"
# Queue priorities: workers claim the highest first (then the oldest). Users' runs are 0; a background run
# (the Sketch page's default model, queued by the app itself) waits behind them and yields to them.
USER_PRIORITY = 0
BACKGROUND_PRIORITY = -1


class QueueFull(ValueError):
    """The server already has its maximum of queued runs ($FMNIST_MAX_QUEUED)."""


class RunLost(RuntimeError):
    """A worker's run is no longer its own (reconciled, deleted or claimed elsewhere): abandon it."""


@dataclass
class Run:
    id: int
    config: dict[str, Any]
    config_key: str
    label: str
    study_id: str | None
    variant: str | None
    status: str
    error: str | None
    created: float
    started: float | None
    finished: float | None
    heartbeat: float | None
    worker_pid: int | None
    stop_requested: int
    epochs_done: int
    best_val_accuracy: float | None
    last_val_accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    seconds: float | None
    params: int | None
    model_path: str | None
    env_key: str | None = None
    finalizing: int = 0  # 1 while a stopped run's model is saved and its test evaluation runs
    checkpoint_epoch: int | None = None
    resumes: int = 0
    imported: int = 0  # 1: config, metrics and summary from a run bundle; no model
    priority: int = USER_PRIORITY  # BACKGROUND_PRIORITY: claimed after users' runs, and yields to them

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0))

    @property
    def stopping(self) -> bool:
        """Stop was asked and the worker has not ended the run yet (show "stopping…")."""
        return self.status == "running" and bool(self.stop_requested)

    @property
    def resumable(self) -> bool:
        return self.status == "interrupted"


_RUN_FIELDS = {f.name for f in fields(Run)}


def to_run(row: Any) -> Run:
    d = {k: row[k] for k in row.keys() if k in _RUN_FIELDS}
    d["config"] = json.loads(d["config"])
    return Run(**d)


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that was not reaped yet is a zombie: gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class RunsMixin:
    """Runs and studies. Needs `_read()`, `_write()` and `_clean()` from the store."""

    # -- creating -----------------------------------------------------------------------------------

    def _check_queue_room(self, c: Any) -> None:
        limit = settings.max_queued_runs()
        (n,) = c.execute("SELECT COUNT(*) FROM runs WHERE status = 'queued'").fetchone()
        if n >= limit:
            raise QueueFull(
                f"{n} runs are already waiting (the limit is {limit}, setting FMNIST_MAX_QUEUED): "
                "stop some or wait for them to finish"
            )

    def create_run(
        self,
        config: Any,
        *,
        label: str = "",
        study_id: str | None = None,
        variant: str | None = None,
        status: str = "queued",
        params: int | None = None,
        worker_pid: int | None = None,
    ) -> int:
        """Record a new run (queued by default) and return its id. `config` is a TrainConfig.

        status="running" records a run this process trains itself (the CLI): its pid (default: ours),
        start time and heartbeat are set in the same transaction, so no reconcile sees it pid-less.
        """
        assert status in STATUSES
        now = time.time()
        running = status == "running"
        pid = (worker_pid or os.getpid()) if running else None
        with self._write() as c:
            if status == "queued":
                self._check_queue_room(c)
            cur = c.execute(
                "INSERT INTO runs (config, config_key, label, study_id, variant, status, created, params,"
                " worker_pid, started, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    config.to_json(),
                    config.key(),
                    label,
                    study_id,
                    variant,
                    status,
                    now,
                    params,
                    pid,
                    now if running else None,
                    now if running else None,
                ),
            )
            return int(cur.lastrowid)

    def create_run_once(
        self,
        config: Any,
        *,
        label: str = "",
        study_id: str | None = None,
        variant: str | None = None,
        priority: int = USER_PRIORITY,
    ) -> tuple[int, bool]:
        """Queue `config` unless an identical config is already queued or running, in one transaction
        (two sessions clicking Start, or two studies scheduled at once, share one run).
        Returns (run id, created)."""
        with self._write() as c:
            row = c.execute(
                "SELECT id FROM runs WHERE config_key = ? AND status IN ('queued','running') ORDER BY id LIMIT 1",
                (config.key(),),
            ).fetchone()
            if row is not None:
                return int(row["id"]), False
            self._check_queue_room(c)
            cur = c.execute(
                "INSERT INTO runs (config, config_key, label, study_id, variant, status, created, priority)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                (config.to_json(), config.key(), label, study_id, variant, time.time(), int(priority)),
            )
            return int(cur.lastrowid), True

    # -- reading ------------------------------------------------------------------------------------

    def get_run(self, run_id: int) -> Run | None:
        try:
            run_id = int(run_id)
        except (TypeError, ValueError):
            return None
        if not -(2**63) <= run_id < 2**63:  # SQLite integers are 64-bit: a huge id is simply not there
            return None
        with self._read() as c:
            row = c.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return to_run(row) if row else None

    def runs(
        self, *, status: str | tuple[str, ...] | None = None, study_id: str | None = None, limit: int = 500
    ) -> list[Run]:
        q, args = "SELECT * FROM runs WHERE 1=1", []
        if status is not None:
            statuses = (status,) if isinstance(status, str) else tuple(status)
            q += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        if study_id is not None:
            q += " AND study_id = ?"
            args.append(study_id)
        q += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._read() as c:
            rows = c.execute(q, args).fetchall()
        return [to_run(r) for r in rows]

    def newest_user_run(self) -> Run | None:
        """The run a page opens on by itself: the newest active run a user started, else the newest run a
        user started. Background runs (the Sketch page's default model, queued by the app) are left out:
        a teacher opening the Train page on a fresh server expects the lab's set-up, not that model's."""
        active = ",".join("?" * len(ACTIVE))
        with self._read() as c:
            row = c.execute(
                f"SELECT * FROM runs WHERE priority >= ? ORDER BY status IN ({active}) DESC, id DESC LIMIT 1",
                (USER_PRIORITY, *ACTIVE),
            ).fetchone()
        return to_run(row) if row else None

    def runs_frame(self, **kwargs: Any) -> pd.DataFrame:
        """Runs as a table, newest first, with the main config fields flattened."""
        rows = []
        for r in self.runs(**kwargs):
            cfg = r.config
            rows.append(
                {
                    "id": r.id,
                    "label": r.label,
                    "status": f"{r.status} (imported)" if r.imported else r.status,
                    "model": cfg.get("model", {}).get("kind", ""),
                    "optimizer": cfg.get("optimizer"),
                    "lr": cfg.get("learning_rate"),
                    "epochs": f"{r.epochs_done}/{cfg.get('epochs')}",
                    "batch": cfg.get("batch_size"),
                    "seed": cfg.get("seed"),
                    "subset": cfg.get("train_subset"),
                    "best val acc": r.best_val_accuracy,
                    "test acc": r.test_accuracy,
                    "seconds": r.seconds,
                    "created": pd.to_datetime(r.created, unit="s"),
                    "study": r.study_id,
                }
            )
        return pd.DataFrame(rows)

    def find_finished(self, config_key: str, *, env_key: str | None | bool = True) -> Run | None:
        """The newest finished run with this config key trained on the same data and libraries as now
        (`env_key=True`: computed from the data the loader would use), whose model file exists.

        Rows written by hand (tests, imports: no env recorded, no model path) match on the config.
        """
        if env_key is True:
            from fmnist_core.store.env import env_key as current_env

            env_key = current_env()
        with self._read() as c:
            rows = c.execute(
                "SELECT * FROM runs WHERE config_key = ? AND status = 'finished' ORDER BY id DESC",
                (config_key,),
            ).fetchall()
        for row in rows:
            run = to_run(row)
            if run.env_key is not None and (env_key is None or run.env_key != env_key):
                continue  # other data or other libraries (or unknown: recorded before v2)
            if run.model_path is not None and not Path(run.model_path).exists():
                continue
            if run.model_path is None and run.error == "model file missing":
                continue
            return run
        return None

    def find_active(self, config_key: str) -> Run | None:
        with self._read() as c:
            row = c.execute(
                "SELECT * FROM runs WHERE config_key = ? AND status IN ('queued','running') ORDER BY id LIMIT 1",
                (config_key,),
            ).fetchone()
        return to_run(row) if row else None

    def queue_position(self, run_id: int) -> int | None:
        """1 for the next run to start, or None if the run is not queued (claim order: priority, then id)."""
        run = self.get_run(run_id)
        if run is None or run.status != "queued":
            return None
        with self._read() as c:
            (n,) = c.execute(
                "SELECT COUNT(*) FROM runs WHERE status='queued' AND stop_requested=0 "
                "AND (priority > ? OR (priority = ? AND id <= ?))",
                (run.priority, run.priority, run.id),
            ).fetchone()
        return int(n)

    def outranked(self, run_id: int, *, backend: str = "tensorflow", waited: float = 0.0) -> bool:
        """Whether a queued run of higher priority than this one, for the same Keras backend, has waited
        at least `waited` seconds (longer than an idle worker takes to claim it): a background run
        then yields its worker."""
        with self._read() as c:
            row = c.execute(
                "SELECT 1 FROM runs WHERE status='queued' AND stop_requested=0 AND created <= ? "
                f"AND {BACKEND_SQL} = ? AND priority > (SELECT priority FROM runs WHERE id = ?) LIMIT 1",
                (time.time() - waited, backend, run_id),
            ).fetchone()
        return row is not None

    # -- the lifecycle (compare-and-set) ------------------------------------------------------------

    def claim_next(self, worker_pid: int, backend: str | None = None) -> Run | None:
        """Atomically take the next queued run for a worker (marks it running): the highest priority
        first (users' runs before background ones), then the oldest; with `backend`, only
        a run that trains on that Keras backend (a config without one trains on "tensorflow").

        Idle workers poll this: they read first and take the write lock only when there is work.
        """
        where = "status='queued' AND stop_requested=0"
        args: tuple = ()
        if backend is not None:
            where += f" AND {BACKEND_SQL} = ?"
            args = (backend,)
        with self._read() as c:
            waiting = c.execute(f"SELECT 1 FROM runs WHERE {where} LIMIT 1", args).fetchone()
        if waiting is None:
            return None
        now = time.time()
        with self._write() as c:
            row = c.execute(
                "UPDATE runs SET status='running', started=COALESCE(started, ?), heartbeat=?, worker_pid=?, "
                "finished=NULL, error=NULL "
                f"WHERE id = (SELECT id FROM runs WHERE {where} ORDER BY priority DESC, id LIMIT 1) "
                "RETURNING *",
                (now, now, worker_pid, *args),
            ).fetchone()
        return to_run(row) if row else None

    def queued_backends(self) -> set[str]:
        """The Keras backends that queued runs wait for (the job runner starts a worker for each)."""
        with self._read() as c:
            rows = c.execute(f"SELECT DISTINCT {BACKEND_SQL} AS b FROM runs WHERE status='queued'").fetchall()
        return {r["b"] for r in rows}

    def transition(
        self,
        run_id: int,
        *,
        expect: str | tuple[str, ...],
        to: str,
        worker_pid: int | None = None,
        **fields: Any,
    ) -> bool:
        """Set status `to` (and `fields`) only if the run is in `expect` [and owned by `worker_pid`].
        Returns False, logging it, when the run moved on meanwhile."""
        assert to in STATUSES
        expect = (expect,) if isinstance(expect, str) else tuple(expect)
        sets = {"status": to, **fields}
        q = (
            f"UPDATE runs SET {', '.join(f'{k} = ?' for k in sets)} "
            f"WHERE id = ? AND status IN ({','.join('?' * len(expect))})"
        )
        args = [self._clean(v) for v in sets.values()] + [run_id, *expect]
        if worker_pid is not None:
            q += " AND worker_pid = ?"
            args.append(worker_pid)
        with self._write() as c:
            changed = c.execute(q, args).rowcount
        if not changed:
            run = self.get_run(run_id)
            log.warning(
                "run %s: %s -> %s lost a race (now %s, pid %s); ignored",
                run_id,
                "/".join(expect),
                to,
                run.status if run else "deleted",
                run.worker_pid if run else None,
            )
        return bool(changed)

    def mark_running(self, run_id: int, worker_pid: int) -> bool:
        now = time.time()
        with self._write() as c:
            changed = c.execute(
                "UPDATE runs SET status='running', started=COALESCE(started, ?), heartbeat=?, worker_pid=? "
                "WHERE id = ? AND (status = 'queued' OR (status = 'running' AND "
                "(worker_pid IS NULL OR worker_pid = ?)))",
                (now, now, worker_pid, run_id, worker_pid),
            ).rowcount
        if not changed:
            log.warning("run %s: could not be marked running by pid %s; ignored", run_id, worker_pid)
        return bool(changed)

    def heartbeat(self, run_id: int, worker_pid: int | None = None) -> bool:
        """Refresh a running run's heartbeat; False when the run is no longer this worker's."""
        q, args = "UPDATE runs SET heartbeat = ? WHERE id = ? AND status = 'running'", [time.time(), run_id]
        if worker_pid is not None:
            q += " AND worker_pid = ?"
            args.append(worker_pid)
        with self._write() as c:
            return bool(c.execute(q, args).rowcount)

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
        """End an active run (compare-and-set); False if it had already ended or changed hands."""
        assert status in STATUSES
        return self.transition(
            run_id,
            expect=expect,
            to=status,
            worker_pid=worker_pid,
            error=error,
            finished=time.time(),
            **fields,
        )

    def set_fields(self, run_id: int, **fields: Any) -> None:
        """Update non-status fields (results arriving after a stop, checkpoints)."""
        assert "status" not in fields, "status changes go through transition()/finish_run()"
        self._update(run_id, **fields)

    def _update(self, run_id: int, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._write() as c:
            c.execute(
                f"UPDATE runs SET {cols} WHERE id = ?", [self._clean(v) for v in fields.values()] + [run_id]
            )

    def request_stop(self, run_id: int) -> str | None:
        """Ask a run to stop. A queued run is cancelled at once; returns the run's new status."""
        with self._write() as c:
            c.execute(
                "UPDATE runs SET stop_requested = 1 WHERE id = ? AND status IN ('queued','running')",
                (run_id,),
            )
            c.execute(
                "UPDATE runs SET status='stopped', finished=?, error='cancelled before it started' "
                "WHERE id = ? AND status = 'queued'",
                (time.time(), run_id),
            )
            row = c.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row["status"] if row else None

    def stop_requested(self, run_id: int) -> bool:
        with self._read() as c:
            row = c.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def delete_run(self, run_id: int) -> bool:
        """Delete an ended run, its points and files. Refuses (False) while it is queued, running, or
        still saving/testing after a stop."""
        with self._write() as c:
            row = c.execute("SELECT status, finalizing FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row["status"] in ACTIVE or row["finalizing"]:
                return False
            c.execute("DELETE FROM points WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.run_dir(run_id, create=False), ignore_errors=True)
        return True

    # -- recovery -----------------------------------------------------------------------------------

    def reconcile(self, *, stale_after: float = 120.0, alive: Any = None) -> list[int]:
        """Mark runs 'running' whose worker is gone (dead pid or stale heartbeat), or that ran far past
        the time limit, as interrupted. Cheap (running runs only): pages call it while polling.
        Returns the ids marked interrupted."""
        alive = alive or pid_alive
        now = time.time()
        limit = settings.run_time_limit()
        gone = []
        for r in self.runs(status="running"):
            dead = r.worker_pid is None or not alive(r.worker_pid)
            stale = r.heartbeat is not None and now - r.heartbeat > stale_after
            overdue = bool(limit) and r.started is not None and now - r.started > limit + stale_after
            if not (dead or stale or overdue):
                continue
            error = (
                f"ran past the time limit of {limit:g} s (FMNIST_RUN_TIME_LIMIT) and its worker did not end it"
                if overdue and not dead
                else "the training worker stopped unexpectedly (app restarted or process killed)"
            )
            with self._write() as c:
                changed = c.execute(
                    "UPDATE runs SET status='interrupted', finished=?, error=?, finalizing=0 "
                    "WHERE id = ? AND status='running' AND worker_pid IS ? AND heartbeat IS ?",
                    (now, error, r.id, r.worker_pid, r.heartbeat),
                ).rowcount
            if changed:
                gone.append(r.id)
        self._reconcile_finalizing(alive)
        return gone

    def _reconcile_finalizing(self, alive: Any) -> None:
        # A worker killed while saving a stopped run leaves `finalizing` set: clear it so it can be deleted.
        with self._read() as c:
            rows = c.execute("SELECT id, worker_pid FROM runs WHERE finalizing = 1").fetchall()
        for row in rows:
            if row["worker_pid"] is None or not alive(row["worker_pid"]):
                self._update(row["id"], finalizing=0)

    def forget_missing_models(self) -> list[int]:
        """Finished runs whose model file vanished lose their model path (checked once, at start-up)."""
        missing = [
            r.id
            for r in self.runs(status="finished", limit=100_000)
            if r.model_path and not Path(r.model_path).exists()
        ]
        for run_id in missing:
            self._update(run_id, model_path=None, error="model file missing")
        return missing

    def requeue_for_resume(self, run_id: int) -> bool:
        """Put an interrupted run back in the queue under its id (a worker resumes it from its last
        checkpoint). Returns False if the run is not interrupted (reconcile first)."""
        return self.transition(
            run_id,
            expect="interrupted",
            to="queued",
            error=None,
            finished=None,
            stop_requested=0,
            finalizing=0,
        )

    def yield_run(self, run_id: int, worker_pid: int) -> bool:
        """Put a running background run back in the queue (it resumes from its last checkpoint when a
        worker claims it again). Compare-and-set on the worker's pid; False if it lost a race."""
        return self.transition(run_id, expect="running", to="queued", worker_pid=worker_pid, heartbeat=None)

    # -- studies ------------------------------------------------------------------------------------

    def save_study(self, study_id: str, name: str, spec: dict[str, Any]) -> None:
        with self._write() as c:
            c.execute(
                "INSERT OR REPLACE INTO studies (id, name, spec, created) VALUES (?, ?, ?, ?)",
                (study_id, name, json.dumps(spec, sort_keys=True), time.time()),
            )

    def studies(self) -> list[dict[str, Any]]:
        with self._read() as c:
            rows = c.execute("SELECT * FROM studies ORDER BY created DESC").fetchall()
        return [{**dict(r), "spec": json.loads(r["spec"])} for r in rows]

    def get_study(self, study_id: str) -> dict[str, Any] | None:
        with self._read() as c:
            r = c.execute("SELECT * FROM studies WHERE id = ?", (study_id,)).fetchone()
        return {**dict(r), "spec": json.loads(r["spec"])} if r else None
