"""Comparison studies: one base config x variants (optimizers or regularizers) x seeds, summarised honestly.

The lab trained each optimizer once and ranked them on one last-epoch validation accuracy; one run
per optimizer cannot separate two that differ by less than the seed-to-seed spread. A study trains
every variant with several seeds (the same seeds for every variant, so for a given seed every
variant starts from the same weights and sees the same batches), then reports mean, sample standard
deviation (ddof=1), min and max per variant and says in one sentence whether the top two are
separated by more than their spread.

Scheduling goes through the job runner (a study is a group of runs sharing a study id); a run whose
config and seed are identical to a finished one (same `TrainConfig.key()`) is reused, not retrained.
Nothing here imports Keras or Streamlit: the CLI imports training only when something must train.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from fmnist_core.models import OPTIMIZERS, PRESETS, ModelSpec
from fmnist_core.store import ACTIVE, RunStore
from fmnist_core.training import TrainConfig

if TYPE_CHECKING:
    from fmnist_core.jobs import JobRunner

StudyKind = Literal["optimizer", "regularization"]
LrPolicy = Literal["default", "shared"]

DEFAULT_OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adagrad", "adam", "rmsprop")  # what the lab ran
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2)
DEFAULT_TARGET = 0.85  # validation accuracy for "epochs to target"
MAX_RUNS = 120  # one study; beyond this the page refuses (hours of CPU)
L2_STRENGTH = 1e-4
# The metric the ranking and the verdict use: last-epoch validation accuracy, as the lab did.
# (Best-epoch accuracy picks the maximum over epochs on the validation set, an optimistic choice.)
RANK_BY = "last_val"

# Seconds-per-image prior when the store has no similar finished run: lab MLP, batch 64, 48,000 images
# ~1.3 s/epoch incl. validation (DESIGN.md: ~1 s/epoch fit with steps_per_execution; bench_compare
# measured 2.8-5 s/epoch with the 2 cores shared three ways). Estimates switch to measured runs asap.
PRIOR_SEC_PER_IMAGE = {"mlp": 2.8e-5, "cnn": 6e-4}
RUN_OVERHEAD_S = 2.0  # build + compile + test-set evaluation + save, per run

# -- regularization variants ------------------------------------------------------------------------
# Each isolates one regularizer against "none", so differences are attributable to it.


def _no_dropout(m: ModelSpec) -> ModelSpec:
    return replace(m, dropout=(), conv_dropout=0.0, l2=0.0, batch_norm=False)


def _dropout_first(m: ModelSpec) -> ModelSpec:
    return replace(_no_dropout(m), dropout=(0.5,))


def _dropout_all(m: ModelSpec) -> ModelSpec:
    return replace(_no_dropout(m), dropout=(0.5,) * len(m.hidden))


def _l2(m: ModelSpec) -> ModelSpec:
    return replace(_no_dropout(m), l2=L2_STRENGTH)


def _batch_norm(m: ModelSpec) -> ModelSpec:
    return replace(_no_dropout(m), batch_norm=True)


REGULARIZATION_VARIANTS: dict[str, Callable[[ModelSpec], ModelSpec]] = {
    "none": _no_dropout,
    "dropout": _dropout_first,
    "dropout_all": _dropout_all,
    "l2": _l2,
    "batch_norm": _batch_norm,
}
REGULARIZATION_LABELS: dict[str, str] = {
    "none": "No dropout",
    "dropout": "Dropout 0.5 (lab)",
    "dropout_all": "Dropout 0.5 on every layer",
    "l2": f"L2 {L2_STRENGTH:g}, no dropout",
    "batch_norm": "Batch norm, no dropout",
}


# -- the study spec ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySpec:
    """What to compare. Every variant runs with every seed; everything else comes from `base`."""

    base: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = DEFAULT_OPTIMIZERS
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    kind: StudyKind = "optimizer"
    # "default": each optimizer's own Keras default rate (as the lab did); "shared": `shared_lr` for all.
    lr_policy: LrPolicy = "default"
    shared_lr: float | None = None
    target: float = DEFAULT_TARGET  # validation accuracy that "epochs to target" counts up to

    def __post_init__(self) -> None:
        if isinstance(self.base, dict):
            object.__setattr__(self, "base", TrainConfig.from_dict(self.base))
        object.__setattr__(self, "variants", tuple(str(v) for v in self.variants))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        problems = study_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def n_runs(self) -> int:
        return len(self.variants) * len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.to_dict(),
            "variants": list(self.variants),
            "seeds": list(self.seeds),
            "kind": self.kind,
            "lr_policy": self.lr_policy,
            "shared_lr": self.shared_lr,
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudySpec:
        known = set(cls.__dataclass_fields__)
        d = {k: v for k, v in d.items() if k in known}
        d["base"] = TrainConfig.from_dict(d.get("base", {}))
        return cls(**d)


def study_problems(spec: StudySpec) -> list[str]:
    """Plain-language reasons a study cannot run (empty when fine)."""
    out = []
    if spec.kind not in ("optimizer", "regularization"):
        out.append(f"study kind must be 'optimizer' or 'regularization', not {spec.kind!r}")
        return out
    known = OPTIMIZERS if spec.kind == "optimizer" else REGULARIZATION_VARIANTS
    unknown = [v for v in spec.variants if v not in known]
    if unknown:
        out.append(f"unknown {spec.kind} variant(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if len(set(spec.variants)) != len(spec.variants):
        out.append("each variant may appear only once")
    if len(spec.variants) < 2:
        out.append("a comparison needs at least two variants")
    if not spec.seeds:
        out.append("a study needs at least one seed")
    if len(set(spec.seeds)) != len(spec.seeds):
        out.append("each seed may appear only once")
    if any(not 0 <= s < 2**31 for s in spec.seeds):
        out.append("seeds must be from 0 to 2^31-1")
    if spec.n_runs > MAX_RUNS:
        out.append(f"{spec.n_runs} runs is too many for one study (at most {MAX_RUNS})")
    if spec.lr_policy not in ("default", "shared"):
        out.append("learning-rate policy must be 'default' or 'shared'")
    elif spec.lr_policy == "shared" and spec.shared_lr is None:
        out.append("a shared learning rate needs a value")
    if not 0.0 < spec.target < 1.0:
        out.append("the target accuracy must be between 0 and 1")
    if spec.base.train_subset is not None and spec.base.batch_size > spec.base.train_subset:
        out.append("the batch size is larger than the training subset")
    return out


def variant_label(kind: str, variant: str) -> str:
    if kind == "regularization":
        return REGULARIZATION_LABELS.get(variant, variant)
    info = OPTIMIZERS.get(variant)
    return info.label if info else variant


def variant_config(spec: StudySpec, variant: str, seed: int) -> TrainConfig:
    """The exact config of one run of the study (its key decides reuse)."""
    lr = spec.shared_lr if spec.lr_policy == "shared" else None
    if spec.kind == "optimizer":
        return spec.base.with_(optimizer=variant, learning_rate=lr, seed=int(seed))
    model = REGULARIZATION_VARIANTS[variant](spec.base.model)
    return spec.base.with_(model=model, learning_rate=lr, seed=int(seed))


def preset_name(model: ModelSpec) -> str | None:
    return next((name for name, m in PRESETS.items() if m == model), None)


def describe(spec: StudySpec) -> str:
    """A short default name: '5 optimizers × 3 seeds · lab_mlp · 10 epochs'."""
    what = "optimizers" if spec.kind == "optimizer" else "regularizers"
    model = preset_name(spec.base.model) or spec.base.model.kind
    parts = [
        f"{len(spec.variants)} {what} × {len(spec.seeds)} seed{'s' if len(spec.seeds) > 1 else ''}",
        model,
    ]
    parts.append(f"{spec.base.epochs} epoch{'s' if spec.base.epochs > 1 else ''}")
    if spec.kind == "regularization":
        parts.append(OPTIMIZERS[spec.base.optimizer].label)
    if spec.lr_policy == "shared":
        parts.append(f"lr {spec.shared_lr:g}")
    if spec.base.train_subset:
        parts.append(f"{spec.base.train_subset:,} train images")
    return " · ".join(parts)


def new_study_id() -> str:
    """URL-safe and sortable: '20260131-142501-a3f9c2'."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


# -- planning and scheduling ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRun:
    variant: str
    seed: int
    config: TrainConfig
    source: Literal["new", "reused", "already_running"]
    run_id: int | None = None  # the existing run for "reused" / "already_running"


def plan_study(store: RunStore, spec: StudySpec, *, attach_queued: bool = True) -> list[PlannedRun]:
    """For every (seed, variant): reuse a finished identical run, attach to one already queued or
    running, or mark it new. Ordered seed-major, so the first few runs already cover every variant.

    attach_queued=False attaches only to runs a live worker is training (the CLI trains queued ones itself,
    since no app worker may be there to take them).
    """
    out = []
    for seed in spec.seeds:
        for variant in spec.variants:
            config = variant_config(spec, variant, seed)
            key = config.key()
            done = store.find_finished(key)
            if done is not None:
                out.append(PlannedRun(variant, seed, config, "reused", done.id))
                continue
            active = store.find_active(key)
            if active is not None and (attach_queued or active.status == "running"):
                out.append(PlannedRun(variant, seed, config, "already_running", active.id))
                continue
            out.append(PlannedRun(variant, seed, config, "new"))
    return out


def _counts(sources: list[str]) -> dict[str, int]:
    """{"queued", "reused", "already_running"} counts from plan sources ("new" counts as queued)."""
    counts = {"queued": 0, "reused": 0, "already_running": 0}
    for source in sources:
        counts["queued" if source == "new" else source] += 1
    return counts


def _member(p: PlannedRun, run_id: int) -> dict[str, Any]:
    return {"variant": p.variant, "seed": p.seed, "run_id": int(run_id), "source": p.source}


def _record(spec: StudySpec, members: list[dict[str, Any]], counts: dict[str, int]) -> dict[str, Any]:
    # Runs reused from elsewhere keep their own study id, so membership lives in the study record.
    return {**spec.to_dict(), "members": members, "counts": counts}


def schedule_study(
    runner: JobRunner, spec: StudySpec, *, name: str = "", study_id: str | None = None
) -> tuple[str, dict[str, int]]:
    """Queue the study's missing runs on the job runner as one group; returns (study_id, counts).

    counts: {"queued": new runs, "reused": finished identical runs, "already_running": identical runs
    already queued or training}. Idempotent for a given `study_id`: calling again (a double click, a
    replayed rerun) returns the existing study and queues nothing.
    """
    store = runner.store
    if study_id is not None:
        existing = store.get_study(study_id)
        if existing is not None:
            return study_id, dict(existing["spec"].get("counts", {}))
    study_id = study_id or new_study_id()
    # Runs an interrupted earlier attempt with this id already queued are adopted, not duplicated.
    own = {
        (r.variant, int(r.config.get("seed", -1))): r.id for r in store.runs(study_id=study_id, limit=10_000)
    }
    plan = plan_study(store, spec)
    members = []
    for p in plan:
        if (p.variant, p.seed) in own:
            p = replace(p, source="new")
            run_id = own[(p.variant, p.seed)]
        elif p.source == "new":
            label = f"{name or describe(spec)}: {variant_label(spec.kind, p.variant)}, seed {p.seed}"
            # create-once: a second study scheduling the same config at the same moment shares the run
            submit_once = getattr(runner, "submit_once", None)
            if submit_once is not None:
                run_id, created = submit_once(p.config, label=label, study_id=study_id, variant=p.variant)
                if not created:
                    p = replace(p, source="already_running")
            else:
                run_id = runner.submit(p.config, label=label, study_id=study_id, variant=p.variant)
        else:
            run_id = p.run_id
        members.append(_member(p, run_id))
    counts = _counts([m["source"] for m in members])
    store.save_study(study_id, name or describe(spec), _record(spec, members, counts))
    return study_id, counts


def get_spec(store: RunStore, study_id: str) -> StudySpec | None:
    study = store.get_study(study_id)
    return StudySpec.from_dict(study["spec"]) if study else None


def stop_study(store: RunStore, study_id: str) -> dict[str, int]:
    """Cancel the study's queued runs and ask its running one to stop.

    Only runs this study created are stopped; identical runs it attached to from elsewhere (another
    study, the Train page) are left alone and counted as "elsewhere".
    """
    out = {"cancelled": 0, "stopping": 0, "elsewhere": 0}
    runs = study_runs(store, study_id)
    for r in runs.itertuples():
        if r.status not in ACTIVE:
            continue
        if r.study_id != study_id:
            out["elsewhere"] += 1
            continue
        new_status = store.request_stop(int(r.run_id))
        out["cancelled" if new_status == "stopped" else "stopping"] += 1
    return out


# -- reading a study back ---------------------------------------------------------------------------

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
        order = {v: i for i, v in enumerate(study["spec"]["variants"])} if study else {}
        df = df.assign(_o=df["variant"].map(order)).sort_values(["_o", "variant", "seed"]).drop(columns="_o")
    for col in ("best_val_accuracy", "last_val_accuracy", "test_accuracy", "test_loss", "seconds"):
        df[col] = df[col].astype(float)
    return df.reset_index(drop=True)


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


# -- summary and verdict (pure) ---------------------------------------------------------------------

METRICS = {  # summary prefix -> runs-table column
    "last_val": "last_val_accuracy",
    "best_val": "best_val_accuracy",
    "test": "test_accuracy",
    "epochs_to_target": "epochs_to_target",
    "sec_per_epoch": "seconds_per_epoch",
}
METRIC_TITLES = {
    "last_val": "last-epoch validation accuracy",
    "best_val": "best-epoch validation accuracy",
    "test": "test accuracy",
    "epochs_to_target": "epochs to target",
    "sec_per_epoch": "seconds per epoch",
}


def summarize(runs_table: pd.DataFrame, *, rank_by: str = RANK_BY) -> pd.DataFrame:
    """Per variant, over its *finished* runs: mean, sample std (ddof=1; NaN with one run), min and max
    of each metric in METRICS, plus counts and a rank (1 = highest mean of `rank_by`).

    Columns: variant, label, runs (finished), total (all runs), reached (runs that hit the target),
    `{metric}_{mean,std,min,max}`, rank, best. Rows sorted by rank; variants with no finished run last.
    Epochs-to-target statistics cover the runs that reached it.
    """
    if rank_by not in METRICS:
        raise ValueError(f"rank_by must be one of {', '.join(METRICS)}")
    rows = []
    df = runs_table
    if "label" not in df:
        df = df.assign(label=df["variant"])
    for variant, g in df.groupby("variant", sort=False):
        done = g[g["status"] == "finished"]
        row: dict[str, Any] = {
            "variant": variant,
            "label": str(g["label"].iloc[0]),
            "runs": len(done),
            "total": len(g),
            "reached": int(done["epochs_to_target"].notna().sum()) if "epochs_to_target" in done else 0,
        }
        for prefix, col in METRICS.items():
            v = done[col].astype(float).dropna() if col in done else pd.Series(dtype=float)
            row[f"{prefix}_mean"] = v.mean() if len(v) else math.nan
            row[f"{prefix}_std"] = v.std(ddof=1) if len(v) >= 2 else math.nan
            row[f"{prefix}_min"] = v.min() if len(v) else math.nan
            row[f"{prefix}_max"] = v.max() if len(v) else math.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    if not len(out):
        out = pd.DataFrame(columns=["variant", "label", "runs", "total", "reached", "rank", "best"])
        out.attrs["rank_by"] = rank_by
        return out
    key = f"{rank_by}_mean"
    out["rank"] = out[key].rank(ascending=False, method="min").astype("Int64")
    out = out.sort_values(key, ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    out["best"] = out["rank"].eq(1).fillna(False).astype(bool)
    out.attrs["rank_by"] = rank_by
    return out


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}" if np.isfinite(std) else f"{mean:.3f}"


def _top_two(summary: pd.DataFrame, rank_by: str) -> tuple[pd.Series | None, pd.Series | None]:
    key = f"{rank_by}_mean"
    ranked = summary[summary["runs"] > 0] if len(summary) else summary
    ranked = ranked.sort_values(key, ascending=False, kind="stable") if len(ranked) else ranked
    return (ranked.iloc[0] if len(ranked) else None), (ranked.iloc[1] if len(ranked) > 1 else None)


def separation(summary: pd.DataFrame, *, rank_by: str | None = None) -> str:
    """How the top two variants compare: "separated" (gap > their standard deviations combined, i.e. the
    mean ± std intervals do not overlap), "within", "unknown" (a single seed: no spread), or "none"
    (fewer than two variants with finished runs)."""
    rank_by = rank_by or summary.attrs.get("rank_by", RANK_BY)
    a, b = _top_two(summary, rank_by)
    if a is None or b is None:
        return "none"
    sa, sb = a[f"{rank_by}_std"], b[f"{rank_by}_std"]
    if a["runs"] < 2 or b["runs"] < 2 or not (np.isfinite(sa) and np.isfinite(sb)):
        return "unknown"
    return "separated" if a[f"{rank_by}_mean"] - b[f"{rank_by}_mean"] > sa + sb else "within"


def verdict(summary: pd.DataFrame, *, rank_by: str | None = None) -> str:
    """One plain sentence: are the top two variants separated by more than their spread? (see `separation`)"""
    rank_by = rank_by or summary.attrs.get("rank_by", RANK_BY)
    key, std = f"{rank_by}_mean", f"{rank_by}_std"
    a, b = _top_two(summary, rank_by)
    if a is None:
        return "No run has finished yet: nothing to compare."
    if b is None:
        return f"Only {a['label']} has finished runs so far: nothing to compare it with yet."
    kind = separation(summary, rank_by=rank_by)
    if kind == "unknown":
        return (
            f"{a['label']} ({a[key]:.3f}) is ahead of {b['label']} ({b[key]:.3f}), but with a single seed "
            "the spread is unknown: run more seeds before calling a winner."
        )
    na, nb = int(a["runs"]), int(b["runs"])
    seeds = f"{na} seeds" if na == nb else f"{na} and {nb} seeds"
    if kind == "separated":
        gap, spread = a[key] - b[key], a[std] + b[std]
        return (
            f"{a['label']} ({_pm(a[key], a[std])}) is ahead of {b['label']} ({_pm(b[key], b[std])}) by more "
            f"than the spread over {seeds}: the gap of {gap:.3f} exceeds their standard deviations combined "
            f"({spread:.3f})."
        )
    return (
        f"{a['label']} ({_pm(a[key], a[std])}) and {b['label']} ({_pm(b[key], b[std])}) are within each "
        f"other's spread over {seeds}: this comparison cannot tell them apart."
    )


def leaderboard_table(summary: pd.DataFrame, *, target: float = DEFAULT_TARGET) -> pd.DataFrame:
    """The summary as display strings (mean ± sample std, [min–max]) for a table or the terminal."""

    def pm(row: pd.Series, prefix: str, fmt: str = ".3f") -> str:
        m, s = row[f"{prefix}_mean"], row[f"{prefix}_std"]
        if not np.isfinite(m):
            return "–"
        return f"{m:{fmt}} ± {s:{fmt}}" if np.isfinite(s) else f"{m:{fmt}}"

    def span(row: pd.Series, prefix: str) -> str:
        lo, hi = row[f"{prefix}_min"], row[f"{prefix}_max"]
        return f"{lo:.3f}–{hi:.3f}" if np.isfinite(lo) else "–"

    rows = []
    for _, r in summary.iterrows():
        reach = "–"
        if r["runs"]:
            reach = pm(r, "epochs_to_target", ".1f") if r["reached"] else "never"
            if r["reached"] and r["reached"] < r["runs"]:
                reach += f" ({r['reached']}/{r['runs']} runs)"
        rows.append(
            {
                "rank": "" if pd.isna(r["rank"]) else int(r["rank"]),
                "variant": r["label"],
                "runs": f"{r['runs']}/{r['total']}",
                "last val acc": pm(r, "last_val"),
                "last min–max": span(r, "last_val"),
                "best val acc": pm(r, "best_val"),
                "test acc": pm(r, "test"),
                f"epochs to {target:.0%}": reach,
                "s / epoch": pm(r, "sec_per_epoch", ".2f"),
            }
        )
    return pd.DataFrame(rows)


def runs_csv(runs: pd.DataFrame) -> bytes:
    """Every run of a study as CSV (UTF-8), one row per run."""
    return runs.to_csv(index=False).encode()


# -- time estimates ---------------------------------------------------------------------------------


def _n_train(c: TrainConfig) -> int:
    n = int(round(60000 * (1 - c.val_fraction)))
    return min(n, c.train_subset) if c.train_subset else n


def _similar(a: dict[str, Any], b: TrainConfig) -> bool:
    """Same network shape and batch size: seconds per image carry over, dropout/L2/optimizer barely matter."""
    m = a.get("model", {})
    return (
        m.get("kind") == b.model.kind
        and tuple(m.get("hidden", ())) == b.model.hidden
        and tuple(m.get("conv_filters", ())) == b.model.conv_filters
        and bool(m.get("double_conv")) == b.model.double_conv
        and bool(m.get("batch_norm")) == b.model.batch_norm
        and a.get("batch_size") == b.batch_size
    )


def sec_per_epoch_estimate(config: TrainConfig, store: RunStore | None = None) -> float:
    """Seconds one epoch of `config` should take: the median over similar finished runs in the store
    (scaled by training-set size), else a prior measured on this machine."""
    per_image = []
    if store is not None:
        for r in store.runs(status="finished", limit=300):
            if r.seconds and r.epochs_done and _similar(r.config, config):
                try:
                    per_image.append(r.seconds / r.epochs_done / _n_train(TrainConfig.from_dict(r.config)))
                except ValueError:
                    continue
    if per_image:
        return float(np.median(per_image)) * _n_train(config)
    prior = PRIOR_SEC_PER_IMAGE.get(config.model.kind, PRIOR_SEC_PER_IMAGE["cnn"])
    # Bigger batches amortise the per-step cost; a rough square-root law around batch 64.
    return prior * _n_train(config) * math.sqrt(64 / config.batch_size)


def estimate_seconds(spec: StudySpec, store: RunStore | None = None) -> float:
    """Wall-clock seconds to train the study's runs that are not already finished (one worker)."""
    plan = (
        plan_study(store, spec)
        if store is not None
        else [PlannedRun(v, s, variant_config(spec, v, s), "new") for s in spec.seeds for v in spec.variants]
    )
    todo = [p for p in plan if p.source != "reused"]
    if not todo:
        return 0.0
    per_epoch = sec_per_epoch_estimate(todo[0].config, store)
    return len(todo) * (spec.base.epochs * per_epoch + RUN_OVERHEAD_S)


@dataclass(frozen=True)
class StudyProgress:
    done: int  # runs that ended (finished, stopped, failed, interrupted)
    total: int
    finished: int
    running: int
    queued: int
    failed: int  # failed or interrupted
    stopped: int
    eta_seconds: float  # remaining, with one worker

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def study_progress(runs: pd.DataFrame, *, sec_per_epoch: float | None = None) -> StudyProgress:
    """Runs done / total and an ETA from this study's own finished runs (else `sec_per_epoch`)."""
    status = runs["status"] if len(runs) else pd.Series(dtype=str)
    finished = runs[status == "finished"] if len(runs) else runs
    measured = finished["seconds_per_epoch"].dropna() if len(finished) else pd.Series(dtype=float)
    spe = float(measured.median()) if len(measured) else (sec_per_epoch or 1.5)
    active = runs[status.isin(ACTIVE)] if len(runs) else runs
    remaining_epochs = (
        float((active["epochs"] - active["epochs_done"]).clip(lower=0).sum()) if len(active) else 0.0
    )
    return StudyProgress(
        done=int((~status.isin(ACTIVE)).sum()),
        total=len(runs),
        finished=int((status == "finished").sum()),
        running=int((status == "running").sum()),
        queued=int((status == "queued").sum()),
        failed=int(status.isin(("failed", "interrupted")).sum()),
        stopped=int((status == "stopped").sum()),
        eta_seconds=remaining_epochs * spe + len(active) * RUN_OVERHEAD_S,
    )


def format_duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "unknown"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# -- command line -----------------------------------------------------------------------------------


def spec_from_args(args: argparse.Namespace) -> StudySpec:
    """The study `python -m fmnist_core compare ...` asked for (raises ValueError with a reason)."""
    base = TrainConfig(
        model=PRESETS[args.preset],
        optimizer=args.optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_fraction=args.val_fraction,
        train_subset=args.train_subset,
        val_subset=args.val_subset,
        seed=args.first_seed,
    )
    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")
    seeds = tuple(range(args.first_seed, args.first_seed + args.seeds))
    if args.regularization:
        kind: StudyKind = "regularization"
        names = (
            list(REGULARIZATION_VARIANTS) if args.regularization == "all" else args.regularization.split(",")
        )
    else:
        kind = "optimizer"
        names = list(OPTIMIZERS) if args.optimizers == "all" else args.optimizers.split(",")
    return StudySpec(
        base=base,
        variants=tuple(n.strip() for n in names if n.strip()),
        seeds=seeds,
        kind=kind,
        lr_policy="shared" if args.lr is not None else "default",
        shared_lr=args.lr,
        target=args.target,
    )


def _print_leaderboard(store: RunStore, study_id: str, spec: StudySpec) -> pd.DataFrame:
    runs = study_runs(store, study_id)
    summary = summarize(runs)
    table = leaderboard_table(summary, target=spec.target)
    print(f"\nLeaderboard ({METRIC_TITLES[RANK_BY]}, mean ± sample std over seeds, ddof=1):")
    print(table.to_string(index=False))
    print()
    print(verdict(summary))
    return runs


def run_study_cli(args: argparse.Namespace) -> int:
    """Run a study in this process: reuse finished runs from the store, train the rest inline
    (TensorFlow imported and the data loaded once), then print the leaderboard and the verdict."""
    spec = spec_from_args(args)
    store = RunStore()
    store.reconcile()
    plan = plan_study(store, spec, attach_queued=False)
    study_id = new_study_id()
    name = describe(spec)
    counts = _counts([p.source for p in plan])
    todo = [p for p in plan if p.source == "new"]
    print(f"Study {study_id}: {name}; {spec.n_runs} runs; store {store.home}", flush=True)
    print(
        f"  {counts['reused']} reused (identical config and seed already trained), "
        f"{counts['already_running']} already training elsewhere, {len(todo)} to train"
        + (f" (about {format_duration(estimate_seconds(spec, store))})" if todo else ""),
        flush=True,
    )
    members = [_member(p, p.run_id) for p in plan if p.run_id is not None]
    store.save_study(study_id, name, _record(spec, members, counts))

    data = None
    for i, p in enumerate(todo, 1):
        if data is None:  # only when something must train: a repeated command loads nothing
            from fmnist_core.data import load_fashion_mnist

            data = load_fashion_mnist(args.data_dir)
        label = f"{name}: {variant_label(spec.kind, p.variant)}, seed {p.seed}"
        run_id = store.create_run(
            p.config, label=label, study_id=study_id, variant=p.variant, status="running"
        )
        store.mark_running(run_id, os.getpid())
        members.append(_member(p, run_id))
        store.save_study(study_id, name, _record(spec, members, counts))
        print(
            f"[{i}/{len(todo)}] {variant_label(spec.kind, p.variant)}, seed {p.seed} (run {run_id})",
            flush=True,
        )

        def show(pt: dict, epochs: int = p.config.epochs) -> None:
            if pt["kind"] == "epoch":
                print(
                    f"    epoch {pt['epoch']:>3}/{epochs}  loss {pt['loss']:.4f}  val_loss {pt['val_loss']:.4f}  "
                    f"val_acc {pt['val_accuracy']:.4f}",
                    flush=True,
                )

        from fmnist_core.jobs import execute_run

        try:
            status = execute_run(store, run_id, p.config, data, on_point=show)
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", error="interrupted from the keyboard")
            print("interrupted: finished runs are kept and will be reused next time", file=sys.stderr)
            return 130
        if status != "finished":
            print(f"    {status}: {store.get_run(run_id).error}", file=sys.stderr)

    waiting = [p for p in plan if p.source == "already_running"]
    if waiting:
        print(f"waiting for {len(waiting)} identical run(s) another process is training…", flush=True)
        while any((r := store.get_run(p.run_id)) is not None and r.active for p in waiting):
            time.sleep(1.0)  # another process's progress is only visible through the store
            store.reconcile()
    runs = _print_leaderboard(store, study_id, spec)
    return 0 if (runs["status"] == "finished").all() else 1
