"""The run store: SQLite (WAL) for runs and their metric points, files for models and checkpoints.

    runs.py       the queue and the run lifecycle (compare-and-set status changes), studies
    points.py     metric points
    artifacts.py  models, test probabilities, checkpoints (atomic, durable writes)
    schema.py     versioned schema (PRAGMA user_version) and pooled connections
    env.py        what a run was trained on: dataset fingerprint, library versions

One `RunStore` may be shared by every thread of a process: each call borrows a pooled connection.
The worker writes; pages read. Writes use BEGIN IMMEDIATE so that a busy database waits
(busy_timeout) instead of failing at once.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.settings import studio_home
from fmnist_core.store.artifacts import ArtifactsMixin, write_atomically
from fmnist_core.store.insight import InsightMixin
from fmnist_core.store.points import POINT_COLUMNS, PointsMixin
from fmnist_core.store.runs import (
    ACTIVE,
    BACKGROUND_PRIORITY,
    STATUSES,
    TERMINAL,
    USER_PRIORITY,
    QueueFull,
    Run,
    RunLost,
    RunsMixin,
    pid_alive,
)
from fmnist_core.store.schema import LATEST as SCHEMA_VERSION
from fmnist_core.store.schema import SCHEMA_V1 as SCHEMA
from fmnist_core.store.schema import pool_for

__all__ = [
    "ACTIVE",
    "BACKGROUND_PRIORITY",
    "POINT_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "STATUSES",
    "TERMINAL",
    "USER_PRIORITY",
    "QueueFull",
    "Run",
    "RunLost",
    "RunStore",
    "pid_alive",
    "write_atomically",
]


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


class RunStore(RunsMixin, PointsMixin, ArtifactsMixin, InsightMixin):
    def __init__(self, home: str | os.PathLike | None = None):
        self.home = Path(home) if home is not None else studio_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.runs_dir = self.home / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        self.db_path = self.home / "studio.db"
        self._local = threading.local()
        with self._read():  # opens (and on first use in this process, migrates) the database
            pass

    _clean = staticmethod(_clean)

    @property
    def _pool(self):
        return pool_for(self.db_path)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        held = getattr(self._local, "conn", None)
        if held is not None:  # inside a write on this thread: read in the same transaction
            yield held
            return
        with self._pool.borrow() as c:
            yield c

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._pool.borrow() as c:
            c.execute("BEGIN IMMEDIATE")
            self._local.conn = c
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            else:
                c.execute("COMMIT")
            finally:
                self._local.conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        """A connection for ad-hoc reads (tests, tools), owned by the calling thread."""
        conn = getattr(self._local, "own", None)
        if conn is None or getattr(self._local, "own_pid", None) != os.getpid():
            conn = self._local.own = self._pool._get()
            self._local.own_pid = os.getpid()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "own", None)
        if conn is not None:
            self._local.own = None
            self._pool._put(conn)

    @staticmethod
    def _to_run(row: sqlite3.Row) -> Run:
        from fmnist_core.store.runs import to_run

        return to_run(row)
