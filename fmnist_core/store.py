"""The run store: SQLite (WAL) for runs and their metric points, files for models.

One `RunStore` per thread/process (each opens its own connection). The worker writes;
pages read. Writes use BEGIN IMMEDIATE so that a busy database waits (busy_timeout)
instead of failing at once.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fmnist_core.settings import studio_home

STATUSES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
ACTIVE = ("queued", "running")
POINT_COLUMNS = ["kind", "epoch", "step", "progress", "loss", "accuracy", "val_loss", "val_accuracy", "time"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    config TEXT NOT NULL,           -- TrainConfig as JSON
    config_key TEXT NOT NULL,       -- TrainConfig.key(): identical key, identical numbers
    label TEXT NOT NULL DEFAULT '',
    study_id TEXT,                  -- set when the run belongs to a comparison study
    variant TEXT,
    status TEXT NOT NULL DEFAULT 'queued',
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    heartbeat REAL,
    worker_pid INTEGER,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    best_val_accuracy REAL,
    last_val_accuracy REAL,
    test_loss REAL,
    test_accuracy REAL,
    seconds REAL,
    params INTEGER,
    model_path TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_key ON runs(config_key, status);
CREATE INDEX IF NOT EXISTS runs_study ON runs(study_id);
CREATE TABLE IF NOT EXISTS points (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,             -- 'batch' (running means within the epoch) or 'epoch'
    epoch INTEGER NOT NULL,         -- 1-based
    step INTEGER NOT NULL,          -- batches done in that epoch
    progress REAL NOT NULL,         -- epochs done, fractional
    loss REAL, accuracy REAL, val_loss REAL, val_accuracy REAL,
    nonfinite TEXT,                 -- SQLite stores NaN as NULL: names of metrics that were NaN/inf
    time REAL NOT NULL              -- unix seconds
);
CREATE INDEX IF NOT EXISTS points_run ON points(run_id, progress);
CREATE TABLE IF NOT EXISTS studies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,             -- the study as JSON (base config, variants, seeds)
    created REAL NOT NULL
);
"""


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

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0))


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


class RunStore:
    def __init__(self, home: str | os.PathLike | None = None):
        self.home = Path(home) if home is not None else studio_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.runs_dir = self.home / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        self.db_path = self.home / "studio.db"
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        self.conn.executescript(SCHEMA)  # idempotent; safe with concurrent openers (busy_timeout)

    # -- connection -------------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        # A connection must not cross a fork; reopen in a child process.
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- runs -------------------------------------------------------------------------------------

    def create_run(
        self,
        config: Any,
        *,
        label: str = "",
        study_id: str | None = None,
        variant: str | None = None,
        status: str = "queued",
        params: int | None = None,
    ) -> int:
        """Record a new run (queued by default) and return its id. `config` is a TrainConfig."""
        now = time.time()
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO runs (config, config_key, label, study_id, variant, status, created, params)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (config.to_json(), config.key(), label, study_id, variant, status, now, params),
            )
            return int(cur.lastrowid)

    def create_run_once(self, config: Any, *, label: str = "") -> tuple[int, bool]:
        """Queue `config` unless an identical config is already queued or running, in one transaction
        (two sessions clicking Start at the same instant get the same run). Returns (run id, created)."""
        with self._write() as c:
            row = c.execute(
                "SELECT id FROM runs WHERE config_key = ? AND status IN ('queued','running') ORDER BY id LIMIT 1",
                (config.key(),),
            ).fetchone()
            if row is not None:
                return int(row["id"]), False
            cur = c.execute(
                "INSERT INTO runs (config, config_key, label, status, created) VALUES (?, ?, ?, 'queued', ?)",
                (config.to_json(), config.key(), label, time.time()),
            )
            return int(cur.lastrowid), True

    def get_run(self, run_id: int) -> Run | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._to_run(row) if row else None

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
        return [self._to_run(r) for r in self.conn.execute(q, args).fetchall()]

    def runs_frame(self, **kwargs: Any) -> pd.DataFrame:
        """Runs as a table, newest first, with the main config fields flattened."""
        rows = []
        for r in self.runs(**kwargs):
            cfg = r.config
            rows.append(
                {
                    "id": r.id,
                    "label": r.label,
                    "status": r.status,
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

    def find_finished(self, config_key: str) -> Run | None:
        """The newest finished run with this config key, whose model file still exists."""
        for row in self.conn.execute(
            "SELECT * FROM runs WHERE config_key = ? AND status = 'finished' ORDER BY id DESC", (config_key,)
        ):
            run = self._to_run(row)
            if run.model_path is None or Path(run.model_path).exists():
                return run
        return None

    def find_active(self, config_key: str) -> Run | None:
        row = self.conn.execute(
            "SELECT * FROM runs WHERE config_key = ? AND status IN ('queued','running') ORDER BY id LIMIT 1",
            (config_key,),
        ).fetchone()
        return self._to_run(row) if row else None

    def claim_next(self, worker_pid: int) -> Run | None:
        """Atomically take the oldest queued run for a worker (marks it running)."""
        now = time.time()
        with self._write() as c:
            row = c.execute(
                "UPDATE runs SET status='running', started=?, heartbeat=?, worker_pid=? "
                "WHERE id = (SELECT id FROM runs WHERE status='queued' AND stop_requested=0 ORDER BY id LIMIT 1) "
                "RETURNING *",
                (now, now, worker_pid),
            ).fetchone()
        return self._to_run(row) if row else None

    def mark_running(self, run_id: int, worker_pid: int) -> None:
        now = time.time()
        self._update(run_id, status="running", started=now, heartbeat=now, worker_pid=worker_pid)

    def heartbeat(self, run_id: int) -> None:
        self._update(run_id, heartbeat=time.time())

    def finish_run(self, run_id: int, *, status: str, error: str | None = None, **fields: Any) -> None:
        assert status in STATUSES
        self._update(run_id, status=status, error=error, finished=time.time(), **fields)

    def set_fields(self, run_id: int, **fields: Any) -> None:
        self._update(run_id, **fields)

    def _update(self, run_id: int, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._write() as c:
            c.execute(f"UPDATE runs SET {cols} WHERE id = ?", [_clean(v) for v in fields.values()] + [run_id])

    def request_stop(self, run_id: int) -> str | None:
        """Ask a run to stop. A queued run is cancelled at once; returns the run's new status."""
        with self._write() as c:
            c.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))
            c.execute(
                "UPDATE runs SET status='stopped', finished=?, error='cancelled before it started' "
                "WHERE id = ? AND status = 'queued'",
                (time.time(), run_id),
            )
            row = c.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row["status"] if row else None

    def stop_requested(self, run_id: int) -> bool:
        row = self.conn.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def delete_run(self, run_id: int) -> bool:
        """Delete a finished run, its points and files. Refuses (False) while it is queued or running."""
        with self._write() as c:
            row = c.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row["status"] in ACTIVE:
                return False
            c.execute("DELETE FROM points WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.run_dir(run_id, create=False), ignore_errors=True)
        return True

    def queue_position(self, run_id: int) -> int | None:
        """1 for the next run to start, or None if the run is not queued."""
        row = self.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if not row or row[0] != "queued":
            return None
        (n,) = self.conn.execute(
            "SELECT COUNT(*) FROM runs WHERE status='queued' AND stop_requested=0 AND id <= ?", (run_id,)
        ).fetchone()
        return int(n)

    # -- points -----------------------------------------------------------------------------------

    def add_point(self, run_id: int, point: dict[str, Any]) -> None:
        nonfinite = [
            k
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
            if isinstance(point.get(k), float) and not math.isfinite(point[k]) and k in point
        ]
        # batch points have no validation metrics: that is missing, not NaN
        if point.get("kind") == "batch":
            nonfinite = [k for k in nonfinite if not k.startswith("val_")]
        values = [run_id] + [_clean(point.get(k)) for k in POINT_COLUMNS] + [",".join(nonfinite) or None]
        with self._write() as c:
            c.execute(
                f"INSERT INTO points (run_id, {', '.join(POINT_COLUMNS)}, nonfinite) VALUES ({', '.join('?' * 11)})",
                values,
            )
            updates = {"heartbeat": time.time()}
            if point.get("kind") == "epoch":
                updates["epochs_done"] = int(point["epoch"])
                va = _clean(point.get("val_accuracy"))
                if va is not None:
                    updates["last_val_accuracy"] = va
            cols = ", ".join(f"{k} = ?" for k in updates)
            c.execute(f"UPDATE runs SET {cols} WHERE id = ?", [*updates.values(), run_id])
            if point.get("kind") == "epoch" and _clean(point.get("val_accuracy")) is not None:
                c.execute(
                    "UPDATE runs SET best_val_accuracy = MAX(COALESCE(best_val_accuracy, 0), ?) WHERE id = ?",
                    (point["val_accuracy"], run_id),
                )

    def points(self, run_id: int, *, since: float | None = None) -> pd.DataFrame:
        """A run's points in order; NaN where a metric is missing or was non-finite."""
        return self.points_for([run_id], since=since)

    def points_for(self, run_ids: list[int], *, since: float | None = None) -> pd.DataFrame:
        if not run_ids:
            return pd.DataFrame(columns=["run_id", *POINT_COLUMNS])
        q = (
            f"SELECT run_id, {', '.join(POINT_COLUMNS)} FROM points "
            f"WHERE run_id IN ({','.join('?' * len(run_ids))})"
        )
        args: list[Any] = list(run_ids)
        if since is not None:
            q += " AND time > ?"
            args.append(since)
        q += " ORDER BY run_id, progress, kind DESC"
        df = pd.read_sql_query(q, self.conn, params=args)
        for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
            df[k] = df[k].astype(float)
        return df

    # -- files ------------------------------------------------------------------------------------

    def run_dir(self, run_id: int, *, create: bool = True) -> Path:
        d = self.runs_dir / f"run-{int(run_id):06d}"  # built from an integer id only, never user text
        if create:
            d.mkdir(parents=True, exist_ok=True)
        return d

    def model_path(self, run_id: int) -> Path:
        return self.run_dir(run_id) / "model.keras"

    def save_model(self, run_id: int, model: Any) -> Path:
        """Save atomically (temp file in the same folder, then os.replace); return the final path."""
        final = self.model_path(run_id)
        tmp = final.with_name("model.tmp.keras")
        model.save(tmp)
        os.replace(tmp, final)
        return final

    def save_test_probs(self, run_id: int, probs: np.ndarray) -> Path:
        final = self.run_dir(run_id) / "test_probs.npy"
        tmp = final.with_name("test_probs.tmp.npy")
        np.save(tmp, np.asarray(probs, dtype=np.float32), allow_pickle=False)
        os.replace(tmp, final)
        return final

    def load_test_probs(self, run_id: int) -> np.ndarray | None:
        p = self.run_dir(run_id, create=False) / "test_probs.npy"
        return np.load(p, allow_pickle=False) if p.exists() else None

    # -- studies ----------------------------------------------------------------------------------

    def save_study(self, study_id: str, name: str, spec: dict[str, Any]) -> None:
        with self._write() as c:
            c.execute(
                "INSERT OR REPLACE INTO studies (id, name, spec, created) VALUES (?, ?, ?, ?)",
                (study_id, name, json.dumps(spec, sort_keys=True), time.time()),
            )

    def studies(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM studies ORDER BY created DESC").fetchall()
        return [{**dict(r), "spec": json.loads(r["spec"])} for r in rows]

    def get_study(self, study_id: str) -> dict[str, Any] | None:
        r = self.conn.execute("SELECT * FROM studies WHERE id = ?", (study_id,)).fetchone()
        return {**dict(r), "spec": json.loads(r["spec"])} if r else None

    # -- recovery ---------------------------------------------------------------------------------

    def reconcile(self, *, stale_after: float = 120.0, alive: Any = None) -> list[int]:
        """Mark runs 'running' whose worker is gone (dead pid or stale heartbeat) as interrupted.
        Cheap (running runs only): pages call it while polling. Returns the ids marked interrupted."""
        alive = alive or pid_alive
        now = time.time()
        gone = []
        for r in self.runs(status="running"):
            dead = r.worker_pid is None or not alive(r.worker_pid)
            stale = r.heartbeat is not None and now - r.heartbeat > stale_after
            if dead or stale:
                gone.append(r.id)
        for run_id in gone:
            with self._write() as c:
                c.execute(
                    "UPDATE runs SET status='interrupted', finished=?, "
                    "error='the training worker stopped unexpectedly (app restarted or process killed)' "
                    "WHERE id = ? AND status='running'",
                    (now, run_id),
                )
        return gone

    def forget_missing_models(self) -> list[int]:
        """Finished runs whose model file vanished lose their model path (checked once, at start-up)."""
        missing = [
            r.id for r in self.runs(status="finished") if r.model_path and not Path(r.model_path).exists()
        ]
        for run_id in missing:
            self._update(run_id, model_path=None, error="model file missing")
        return missing

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _to_run(row: sqlite3.Row) -> Run:
        d = dict(row)
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
