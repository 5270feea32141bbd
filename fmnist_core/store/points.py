"""Metric points: a row every execution group and every epoch end, NaN kept distinct from missing."""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd

from fmnist_core.store.runs import RunLost

POINT_COLUMNS = ["kind", "epoch", "step", "progress", "loss", "accuracy", "val_loss", "val_accuracy", "time"]
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class PointsMixin:
    def add_point(self, run_id: int, point: dict[str, Any], *, worker_pid: int | None = None) -> None:
        """Append a point and refresh the run's heartbeat and epoch summary, in one transaction.

        With `worker_pid`, the point is only written while the run is running in that worker;
        otherwise RunLost is raised (the run was reconciled or deleted meanwhile: stop training it).
        """
        nonfinite = [k for k in METRICS if isinstance(point.get(k), float) and not math.isfinite(point[k])]
        # batch points have no validation metrics: that is missing, not NaN
        if point.get("kind") == "batch":
            nonfinite = [k for k in nonfinite if not k.startswith("val_")]
        values = [run_id] + [self._clean(point.get(k)) for k in POINT_COLUMNS] + [",".join(nonfinite) or None]
        with self._write() as c:
            if worker_pid is not None:
                row = c.execute("SELECT status, worker_pid FROM runs WHERE id = ?", (run_id,)).fetchone()
                if row is None or row["status"] != "running" or row["worker_pid"] != worker_pid:
                    raise RunLost(f"run {run_id} is no longer running in worker {worker_pid}")
            c.execute(
                f"INSERT INTO points (run_id, {', '.join(POINT_COLUMNS)}, nonfinite) VALUES ({', '.join('?' * 11)})",
                values,
            )
            updates: dict[str, Any] = {"heartbeat": time.time()}
            if point.get("kind") == "epoch":
                updates["epochs_done"] = int(point["epoch"])
                va = self._clean(point.get("val_accuracy"))
                if va is not None:
                    updates["last_val_accuracy"] = va
            cols = ", ".join(f"{k} = ?" for k in updates)
            c.execute(f"UPDATE runs SET {cols} WHERE id = ?", [*updates.values(), run_id])
            if point.get("kind") == "epoch" and self._clean(point.get("val_accuracy")) is not None:
                c.execute(
                    "UPDATE runs SET best_val_accuracy = MAX(COALESCE(best_val_accuracy, 0), ?) WHERE id = ?",
                    (point["val_accuracy"], run_id),
                )

    def last_position(self, run_id: int) -> tuple[int, int, int] | None:
        """(epoch, step, 1 if an epoch end) of the run's furthest point, or None without points."""
        with self._read() as c:
            row = c.execute(
                "SELECT epoch, step, kind = 'epoch' FROM points WHERE run_id = ? "
                "ORDER BY epoch DESC, step DESC, kind = 'epoch' DESC LIMIT 1",
                (run_id,),
            ).fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row else None

    def drop_points_after(self, run_id: int, epochs_kept: int) -> int:
        """Delete the points of epochs after `epochs_kept` (a resume retrains them) and recompute the
        run's epoch summary from what is left. Returns how many points were removed."""
        with self._write() as c:
            n = c.execute("DELETE FROM points WHERE run_id = ? AND epoch > ?", (run_id, epochs_kept)).rowcount
            best, last = c.execute(
                "SELECT MAX(val_accuracy), (SELECT val_accuracy FROM points WHERE run_id = ? AND kind = 'epoch' "
                "ORDER BY epoch DESC LIMIT 1) FROM points WHERE run_id = ? AND kind = 'epoch'",
                (run_id, run_id),
            ).fetchone()
            c.execute(
                "UPDATE runs SET epochs_done = ?, best_val_accuracy = ?, last_val_accuracy = ? WHERE id = ?",
                (epochs_kept, best, last, run_id),
            )
        return n

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
        with self._read() as c:
            df = pd.read_sql_query(q, c, params=args)
        for k in METRICS:
            df[k] = df[k].astype(float)
        return df
