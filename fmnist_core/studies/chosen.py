"""Comparing runs the user picks (local or imported from a run bundle), outside any study.

Everything here reads the run rows and their metric points only: an imported run has its config,
metrics and summary but no model file, and nothing here needs one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from fmnist_core.models import OPTIMIZERS
from fmnist_core.progress import n_train_images
from fmnist_core.store import Run
from fmnist_core.studies.readback import kept_validation
from fmnist_core.studies.spec import preset_name
from fmnist_core.training import TrainConfig

MAX_CHOSEN = 8  # curves on one chart that can still be told apart
COLUMNS = [
    "run",
    "source",
    "model",
    "optimizer",
    "learning rate",
    "epochs",
    "seed",
    "train images",
    "val acc (kept)",
    "kept epoch",
    "best val acc",
    "test acc",
    "test loss",
    "seconds",
]
# config fields whose differences the page names ("they differ in optimizer and seed")
DIFF_FIELDS = {
    "model": "model",
    "optimizer": "optimizer",
    "learning_rate": "learning rate",
    "epochs": "epochs",
    "batch_size": "batch size",
    "seed": "seed",
    "train_subset": "training images",
    "val_fraction": "validation split",
    "augment": "augmentation",
    "lr_schedule": "rate schedule",
    "early_stopping": "early stopping",
    "backend": "backend",
}


def _config(run: Run) -> TrainConfig | None:
    try:
        return TrainConfig.from_dict(run.config)
    except (TypeError, ValueError, KeyError):  # a config this version cannot read (an old bundle)
        return None


def chosen_table(runs: Sequence[Run], names: Sequence[str], points: pd.DataFrame) -> pd.DataFrame:
    """One row per run, in order, named by `names`: where it comes from, its set-up, and its numbers.

    "val acc (kept)" is the validation accuracy of the weights the run kept (its last epoch's, or its
    best epoch's where early stopping restored them), from its epoch points, else from the run row."""
    rows = []
    for run, name in zip(runs, names, strict=True):
        cfg = _config(run)
        own = points[points["run_id"] == run.id] if len(points) else points
        early = bool(cfg and cfg.early_stopping)
        kept, epoch = kept_validation(own, early_stopping=early) if len(own) else (math.nan, math.nan)
        if math.isnan(kept):
            kept = _num(run.best_val_accuracy if early else run.last_val_accuracy)
        rows.append(
            {
                "run": name,
                "source": "imported" if getattr(run, "imported", 0) else "local",
                "model": (preset_name(cfg.model) or cfg.model.kind) if cfg else "?",
                "optimizer": OPTIMIZERS[cfg.optimizer].label if cfg and cfg.optimizer in OPTIMIZERS else "?",
                "learning rate": cfg.effective_lr if cfg else math.nan,
                "epochs": f"{run.epochs_done or 0}/{run.epochs}",
                "seed": cfg.seed if cfg else None,
                "train images": n_train_images(run.config) if cfg else None,
                "val acc (kept)": kept,
                "kept epoch": epoch,
                "best val acc": _num(run.best_val_accuracy),
                "test acc": _num(run.test_accuracy),
                "test loss": _num(run.test_loss),
                "seconds": _num(run.seconds),
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    for c in (
        "learning rate",
        "val acc (kept)",
        "kept epoch",
        "best val acc",
        "test acc",
        "test loss",
        "seconds",
    ):
        table[c] = pd.to_numeric(table[c], errors="coerce")
    return table


def _num(v: Any) -> float:
    return float(v) if v is not None else math.nan


def differences(runs: Sequence[Run]) -> list[str]:
    """The set-up fields (plain names) whose values differ among `runs`; [] when they all agree."""
    configs = []
    for r in runs:
        cfg = _config(r)
        d = dict(cfg.to_dict() if cfg else r.config)
        if cfg:
            d["learning_rate"] = cfg.effective_lr  # Keras' default rate named or not: the same rate
        configs.append(d)
    return [
        name
        for field, name in DIFF_FIELDS.items()
        if len({json.dumps(c.get(field), sort_keys=True, default=str) for c in configs}) > 1
    ]


def parse_run_ids(raw: Any, *, limit: int = MAX_CHOSEN) -> tuple[list[int], bool]:
    """'12,15' from a link -> ([12, 15], all read); anything that is not a run id is dropped (and
    reported by the flag, never echoed); at most `limit` ids."""
    from fmnist_core.forms import parse_run_id

    text = str(raw or "")
    if len(text) > 200:
        return [], False
    ids, ok = [], True
    for part in text.split(","):
        if not part.strip():
            continue
        rid = parse_run_id(part)
        if rid is None:
            ok = False
        elif rid not in ids:
            ids.append(rid)
    if len(ids) > limit:
        ids, ok = ids[:limit], False
    return ids, ok
