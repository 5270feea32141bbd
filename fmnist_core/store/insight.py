"""Per-epoch validation confusion counts, imported runs and their summaries."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from fmnist_core.store.artifacts import write_atomically


class InsightMixin:
    # -- how the errors evolved -----------------------------------------------------------------------

    def add_epoch_confusion(
        self, run_id: int, epoch: int, counts: np.ndarray, *, seconds: float | None
    ) -> None:
        """Record the validation confusion counts after `epoch` epochs (a resumed epoch replaces its row)."""
        counts = np.asarray(counts, dtype=np.int64)
        with self._write() as c:
            c.execute(
                "INSERT OR REPLACE INTO epoch_confusion (run_id, epoch, counts, seconds) VALUES (?, ?, ?, ?)",
                (int(run_id), int(epoch), json.dumps(counts.tolist()), seconds),
            )

    def epoch_confusions(self, run_id: int) -> tuple[list[int], np.ndarray, np.ndarray]:
        """(epochs, counts (n, 10, 10) int64, seconds (n,) float with NaN where unknown), by epoch."""
        with self._read() as c:
            rows = c.execute(
                "SELECT epoch, counts, seconds FROM epoch_confusion WHERE run_id = ? ORDER BY epoch",
                (int(run_id),),
            ).fetchall()
        if not rows:
            return [], np.zeros((0, 10, 10), dtype=np.int64), np.zeros(0)
        epochs = [int(r["epoch"]) for r in rows]
        counts = np.array([json.loads(r["counts"]) for r in rows], dtype=np.int64)
        secs = np.array([np.nan if r["seconds"] is None else float(r["seconds"]) for r in rows])
        return epochs, counts, secs

    # -- imported runs ---------------------------------------------------------------------------------

    def create_imported_run(
        self,
        config: Any,
        *,
        label: str,
        points: list[dict[str, Any]],
        fields: dict[str, Any],
        summary: dict[str, Any],
        env_key: str,
    ) -> int:
        """Record a run from a bundle as finished and imported, with its points, in one transaction;
        its summary goes beside it as summary.json. No model: nothing here loads or stores one."""
        from fmnist_core.store.points import POINT_COLUMNS

        now = time.time()
        allowed = {
            "test_loss",
            "test_accuracy",
            "best_val_accuracy",
            "last_val_accuracy",
            "seconds",
            "params",
            "epochs_done",
        }
        fields = {k: self._clean(v) for k, v in fields.items() if k in allowed}
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO runs (config, config_key, label, status, created, started, finished, imported, env_key)"
                " VALUES (?, ?, ?, 'finished', ?, ?, ?, 1, ?)",
                (config.to_json(), config.key(), label, now, now, now, env_key),
            )
            run_id = int(cur.lastrowid)
            if fields:
                cols = ", ".join(f"{k} = ?" for k in fields)
                c.execute(f"UPDATE runs SET {cols} WHERE id = ?", [*fields.values(), run_id])
            c.executemany(
                f"INSERT INTO points (run_id, {', '.join(POINT_COLUMNS)}) VALUES ({', '.join('?' * 10)})",
                [[run_id] + [self._clean(p.get(k)) for k in POINT_COLUMNS] for p in points],
            )
        data = json.dumps(summary, sort_keys=True, indent=1).encode()
        write_atomically(self.run_dir(run_id) / "summary.json", lambda p: p.write_bytes(data), suffix=".json")
        return run_id

    def imported_summary(self, run_id: int) -> dict[str, Any] | None:
        p = self.run_dir(run_id, create=False) / "summary.json"
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None
