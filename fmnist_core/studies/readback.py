"""Reading a study back from the store: one row per run, its metric points, whether it is active."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from fmnist_core.store import ACTIVE, RunStore
from fmnist_core.studies.spec import DEFAULT_TARGET, StudySpec, study_members, variant_label
from fmnist_core.training import TrainConfig

RUN_COLUMNS = [
    "run_id",
    "variant",
    "label",
    "seed",
    "status",
    "source",
    "epochs",
    "epochs_done",
    "best_val_accuracy",
    "last_val_accuracy",
    "test_accuracy",
    "test_loss",
    "epochs_to_target",
    "seconds",
    "seconds_per_epoch",
    "optimizer",
    "learning_rate",
    "batch_size",
    "train_subset",
    "val_subset",
    "study_id",
    "config_key",
    "error",
]


def epochs_to_target(points: pd.DataFrame, target: float) -> pd.Series:
    """Per run_id: the first epoch whose validation accuracy reached `target` (NaN if none did)."""
    if points is None or not len(points):
        return pd.Series(dtype=float)
    ep = points[(points["kind"] == "epoch") & (points["val_accuracy"] >= target)]
    return ep.groupby("run_id")["epoch"].min().astype(float)


def study_runs(store: RunStore, study_id: str) -> pd.DataFrame:
    """One row per run of the study (columns RUN_COLUMNS), ordered by variant then seed."""
    study = store.get_study(study_id)
    members: dict[int, dict[str, Any]] = {}
    kind, target = "optimizer", DEFAULT_TARGET
    if study is not None:
        kind = study["spec"].get("kind", kind)
        target = float(study["spec"].get("target", target))
        members = {int(m["run_id"]): m for m in study["spec"].get("members", [])}
    for r in store.runs(study_id=study_id, limit=10_000):  # also runs queued before the record was saved
        members.setdefault(r.id, {"variant": r.variant, "seed": r.config.get("seed"), "source": "new"})
    rows = []
    for run_id, m in members.items():
        r = store.get_run(run_id)
        if r is None:  # deleted since
            continue
        cfg = TrainConfig.from_dict(r.config)
        per_epoch = r.seconds / r.epochs_done if r.seconds and r.epochs_done else math.nan
        rows.append(
            {
                "run_id": r.id,
                "variant": m["variant"],
                "label": variant_label(kind, m["variant"]),
                "seed": int(m["seed"]),
                "status": r.status,
                "source": m.get("source", "new"),
                "epochs": cfg.epochs,
                "epochs_done": r.epochs_done,
                "best_val_accuracy": r.best_val_accuracy,
                "last_val_accuracy": r.last_val_accuracy,
                "test_accuracy": r.test_accuracy,
                "test_loss": r.test_loss,
                "epochs_to_target": math.nan,
                "seconds": r.seconds,
                "seconds_per_epoch": per_epoch,
                "optimizer": cfg.optimizer,
                "learning_rate": cfg.effective_lr,
                "batch_size": cfg.batch_size,
                "train_subset": cfg.train_subset,
                "val_subset": cfg.val_subset,
                "study_id": r.study_id,
                "config_key": r.config_key,
                "error": r.error,
            }
        )
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    if len(df):
        reached = epochs_to_target(store.points_for(df["run_id"].tolist()), target)
        df["epochs_to_target"] = df["run_id"].map(reached).astype(float)
        order = _member_order(study["spec"]) if study else {}
        df = df.assign(_o=df["variant"].map(order)).sort_values(["_o", "variant", "seed"]).drop(columns="_o")
    for col in ("best_val_accuracy", "last_val_accuracy", "test_accuracy", "test_loss", "seconds"):
        df[col] = df[col].astype(float)
    return df.reset_index(drop=True)


def _member_order(record: dict[str, Any]) -> dict[str, int]:
    """Variant -> position in the study's own order (a sweep: optimizer, then rate)."""
    try:
        spec = StudySpec.from_dict(record)
    except (TypeError, ValueError):  # a record this version cannot read: alphabetical order
        return {}
    return {v: i for i, v in enumerate(dict.fromkeys(v for v, _ in _by_variant(spec)))}


def _by_variant(spec: StudySpec) -> list[tuple[str, int]]:
    return sorted(study_members(spec), key=lambda vs: spec.variants.index(vs[0].partition("@")[0]))


def study_points(store: RunStore, runs: pd.DataFrame) -> pd.DataFrame:
    """Every metric point of the study's runs, with the run's variant (display label) and seed,
    as charts.compare_curves / train_val_gap take them."""
    points = store.points_for(runs["run_id"].astype(int).tolist() if len(runs) else [])
    if not len(points):
        return points.assign(variant=pd.Series(dtype=str), seed=pd.Series(dtype=int))
    meta = runs.set_index("run_id")
    return points.assign(variant=points["run_id"].map(meta["label"]), seed=points["run_id"].map(meta["seed"]))


def is_active(runs: pd.DataFrame) -> bool:
    return bool(len(runs)) and bool(runs["status"].isin(ACTIVE).any())


def runs_csv(runs: pd.DataFrame) -> bytes:
    """Every run of a study as CSV (UTF-8), one row per run."""
    return runs.to_csv(index=False).encode()
