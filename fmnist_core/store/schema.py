"""The run store's schema: ordered migrations under `PRAGMA user_version`, and pooled connections.

Version 1 is the schema the store had before it was versioned (`CREATE ... IF NOT EXISTS`, so a
database written then counts as version 0 and passes through it unchanged). Add a migration by
appending to MIGRATIONS; never edit one that has shipped. The schema is checked once per process
and database file; connections are pooled per file and reused across threads (one thread at a time).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_V1 = """
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
)
"""

# Version 2: what a run was trained on (reuse that cannot lie), the work left after a stop, resume.
SCHEMA_V2 = """
ALTER TABLE runs ADD COLUMN env_key TEXT;  -- data fingerprint + library versions; 'unknown' before v2
ALTER TABLE runs ADD COLUMN finalizing INTEGER NOT NULL DEFAULT 0;  -- 1 while a stopped run saves/tests
ALTER TABLE runs ADD COLUMN checkpoint_epoch INTEGER;  -- epochs held by the run's last checkpoint
ALTER TABLE runs ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET env_key = 'unknown' WHERE status = 'finished';
CREATE INDEX IF NOT EXISTS points_run_epoch ON points(run_id, epoch)
"""

# Version 3: validation confusion counts at each epoch end (how the errors evolved), imported runs.
SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS epoch_confusion (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,         -- 1-based, the epoch that just ended
    counts TEXT NOT NULL,           -- JSON (10, 10) ints: rows true class, columns predicted
    seconds REAL,                   -- what the prediction pass cost
    PRIMARY KEY (run_id, epoch)
);
ALTER TABLE runs ADD COLUMN imported INTEGER NOT NULL DEFAULT 0  -- 1: from a run bundle (no model)
"""

# Version 4: queue priority. Users' runs (0) are claimed before background ones (the Sketch page's default
# model, -1), and a running background run yields to a user's run that waits (fmnist_core.jobs).
SCHEMA_V4 = """
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
"""

# MIGRATIONS[i] takes a database to version i + 1
MIGRATIONS: list[str] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4]
LATEST = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the app."""


def _statements(script: str) -> list[str]:
    # our DDL has no "--" or ";" inside string literals: strip comments, then split
    text = "\n".join(ln.split("--", 1)[0] for ln in script.splitlines())
    return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to LATEST in one write transaction; returns the version found."""
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found == LATEST:
        return found
    if found > LATEST:
        raise SchemaTooNew(f"the run store is schema version {found}; this app knows up to {LATEST}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        (found,) = conn.execute("PRAGMA user_version").fetchone()  # another process may have migrated
        for version in range(found, LATEST):
            for stmt in _statements(MIGRATIONS[version]):
                conn.execute(stmt)
        conn.execute(f"PRAGMA user_version = {LATEST}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found


def connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class ConnectionPool:
    """Idle connections to one database file, handed to one thread at a time (Streamlit runs every
    rerun in a new thread: opening a connection per rerun was measurable)."""

    MAX_IDLE = 8

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrated = False

    def _get(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = connect(self.db_path)
        if not self._migrated:  # once per process and file
            migrate(conn)
            self._migrated = True
        return conn

    def _put(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # never hand on a connection in an unknown state
            conn.close()
            return
        with self._lock:
            if len(self._idle) < self.MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def borrow(self) -> Iterator[sqlite3.Connection]:
        conn = self._get()
        try:
            yield conn
        finally:
            self._put(conn)

    def close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()


_POOLS: dict[tuple[int, str], ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(db_path: Path) -> ConnectionPool:
    """The process's pool for a database file (a connection must not cross a fork: keyed by pid)."""
    key = (os.getpid(), str(Path(db_path).resolve()))
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ConnectionPool(Path(db_path))
        return pool
