"""Files of a run: the model, test-set probabilities and per-epoch checkpoints, each written whole
(temp file in the same folder, fsync, rename, fsync the folder) or not at all."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_TEST_SAVE_DELAY = float(os.environ.get("FMNIST_TEST_SAVE_DELAY", "0") or 0)


def write_atomically(final: Path, write: Callable[[Path], None], *, suffix: str) -> Path:
    """Call `write(tmp)` for a temp path beside `final`, make it durable, then rename it into place.
    On any error the temp file is removed and the error propagates; `final` is untouched."""
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}{suffix}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if _TEST_SAVE_DELAY:  # fault-injection tests widen the window between write and rename
            time.sleep(_TEST_SAVE_DELAY)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself durable (not possible on every filesystem)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return final


class ArtifactsMixin:
    def run_dir(self, run_id: int, *, create: bool = True) -> Path:
        d = self.runs_dir / f"run-{int(run_id):06d}"  # built from an integer id only, never user text
        if create:
            d.mkdir(parents=True, exist_ok=True)
        return d

    def model_path(self, run_id: int) -> Path:
        return self.run_dir(run_id) / "model.keras"

    def save_model(self, run_id: int, model: Any) -> Path:
        """Save the whole model atomically; return the final path."""
        return write_atomically(self.model_path(run_id), lambda p: model.save(p), suffix=".keras")

    def save_test_probs(self, run_id: int, probs: np.ndarray) -> Path:
        final = self.run_dir(run_id) / "test_probs.npy"
        arr = np.asarray(probs, dtype=np.float32)
        return write_atomically(final, lambda p: np.save(p, arr, allow_pickle=False), suffix=".npy")

    def load_test_probs(self, run_id: int) -> np.ndarray | None:
        p = self.run_dir(run_id, create=False) / "test_probs.npy"
        return np.load(p, allow_pickle=False) if p.exists() else None

    # -- checkpoints --------------------------------------------------------------------------------

    def checkpoint_path(self, run_id: int, epoch: int) -> Path:
        return self.run_dir(run_id) / f"checkpoint-e{int(epoch):04d}.keras"

    def save_checkpoint(self, run_id: int, model: Any, epoch: int) -> Path:
        """Write the model (weights, optimizer state, seed states) after `epoch` epochs, then record it.

        The file is named by its epoch and recorded only once complete; the previous checkpoint is
        removed after the record, so a kill at any moment leaves a recorded, complete checkpoint."""
        path = write_atomically(self.checkpoint_path(run_id, epoch), lambda p: model.save(p), suffix=".keras")
        self.set_fields(run_id, checkpoint_epoch=int(epoch))
        self.prune_checkpoints(run_id, keep=int(epoch))
        return path

    def prune_checkpoints(self, run_id: int, *, keep: int | None) -> None:
        d = self.run_dir(run_id, create=False)
        if not d.exists():
            return
        for p in d.glob("checkpoint-e*.keras"):
            if keep is None or p != self.checkpoint_path(run_id, keep):
                with contextlib.suppress(OSError):
                    p.unlink()
        for p in d.glob(".*.tmp-*"):  # temp files of a worker killed mid-write
            with contextlib.suppress(OSError):
                p.unlink()

    def recorded_checkpoint(self, run_id: int) -> tuple[int, Path | None]:
        """(epochs held, file) of the run's recorded checkpoint; (0, None) when there is none usable."""
        run = self.get_run(run_id)
        if run is None or not run.checkpoint_epoch:
            return 0, None
        path = self.checkpoint_path(run_id, run.checkpoint_epoch)
        return (run.checkpoint_epoch, path) if path.exists() else (0, None)
