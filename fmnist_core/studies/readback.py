"""Reading a study back from the store: one row per run, its metric points, whether it is active.

Each run is judged by the weights it kept: its last epoch's, or, with early stopping (Keras'
EarlyStopping with restore_best_weights), its best epoch's, whose validation accuracy comes from the
run's own epoch points (`kept_validation`).
"""

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
    "kept_val_accuracy",
    "kept_epoch",
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
    "early_stopping",
    "kept_exact",
    "phase",
    "error",
]
SELECT, FINAL = "select", "final"  # a sweep's phases: choosing the rates, then comparing on fresh seeds


def kept_validation(points: pd.DataFrame, *, early_stopping: bool) -> tuple[float, float]:
    """(validation accuracy, epoch) of the weights a run kept, from its epoch points: the last epoch's,
    or with early stopping the best epoch's (Keras restores it at the end of fit, stopped early or not;
    it counts only strict improvements, so the first epoch to reach the maximum). (NaN, NaN) without
    validation points."""
    rows = points[points["kind"] == "epoch"] if "kind" in points else points
    rows = rows.dropna(subset=["val_accuracy"]).sort_values("epoch", kind="stable")
    rows = rows.drop_duplicates(subset=["epoch"], keep="last")
    if not len(rows):
        return math.nan, math.nan
    row = rows.iloc[int(rows["val_accuracy"].to_numpy(float).argmax())] if early_stopping else rows.iloc[-1]
    return float(row["val_accuracy"]), float(row["epoch"])


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
    kind, target, final_seeds = "optimizer", DEFAULT_TARGET, set()
    if study is not None:
        kind = study["spec"].get("kind", kind)
        target = float(study["spec"].get("target", target))
        members = {int(m["run_id"]): m for m in study["spec"].get("members", [])}
        final_seeds = set(study["spec"].get("final_seeds", ()))
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
                "kept_val_accuracy": math.nan,
                "kept_epoch": math.nan,
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
                "early_stopping": cfg.early_stopping,
                # a resumed run's EarlyStopping started afresh at the resume: its best epoch may differ
                "kept_exact": not (cfg.early_stopping and getattr(r, "resumes", 0)),
                "phase": FINAL if kind == "sweep" and int(m["seed"]) in final_seeds else SELECT,
                "error": r.error,
            }
        )
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    if len(df):
        points = store.points_for(df["run_id"].tolist())
        reached = epochs_to_target(points, target)
        df["epochs_to_target"] = df["run_id"].map(reached).astype(float)
        by_run = dict(tuple(points.groupby("run_id"))) if len(points) else {}
        early = [_early(es) for es in df["early_stopping"]]
        kept = [
            kept_validation(by_run.get(rid, points.iloc[0:0]), early_stopping=es)
            for rid, es in zip(df["run_id"], early, strict=True)
        ]
        # no epoch points to read (not expected): the run row's own numbers, best epoch where restored
        fallback = df["best_val_accuracy"].where(early, df["last_val_accuracy"])
        df["kept_val_accuracy"] = pd.Series([v for v, _ in kept], index=df.index).fillna(fallback)
        df["kept_epoch"] = [e for _, e in kept]
        order = _member_order(study["spec"]) if study else {}
        df = df.assign(_o=df["variant"].map(order)).sort_values(["_o", "variant", "seed"]).drop(columns="_o")
    for col in (
        "kept_val_accuracy",
        "kept_epoch",
        "best_val_accuracy",
        "last_val_accuracy",
        "test_accuracy",
        "test_loss",
        "seconds",
    ):
        df[col] = df[col].astype(float)
    return df.reset_index(drop=True)


def _early(patience: Any) -> bool:
    return patience is not None and not (isinstance(patience, float) and math.isnan(patience))


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
