"""How long a study will take, before it starts and while it runs, and the budget a study must fit in.

Seconds per image come from similar finished runs in the store (else a prior measured on this machine);
the training-set size is `progress.n_train_images`, the one place that computes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fmnist_core.executors import parallel_runs
from fmnist_core.progress import format_seconds, n_train_images
from fmnist_core.settings import study_budget_seconds
from fmnist_core.store import ACTIVE, RunStore
from fmnist_core.studies.schedule import PlannedRun, plan_study
from fmnist_core.studies.spec import StudySpec, study_members, variant_config
from fmnist_core.training import TrainConfig

# Seconds-per-image prior when the store has no similar finished run: lab MLP, batch 64, 48,000 images
# ~1.3 s/epoch incl. validation (about 1 s/epoch of fit with steps_per_execution, `python -m bench training`; bench_compare
# measured 2.8-5 s/epoch with the 2 cores shared three ways). Estimates switch to measured runs asap.
PRIOR_SEC_PER_IMAGE = {"mlp": 2.8e-5, "cnn": 6e-4}
RUN_OVERHEAD_S = 5.0  # build + compile + test-set evaluation + save, per run (measured 4-7 s on tiny subsets)
SHRINK_SUBSET = 5000  # the training subset a refusal suggests


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
    n = n_train_images(config.to_dict())
    if store is not None:
        for r in store.runs(status="finished", limit=300):
            if r.seconds and r.epochs_done and _similar(r.config, config):
                m = n_train_images(r.config)
                # Only runs of a similar size: an epoch's fixed costs (validation, set-up) dominate small
                # subsets, and scaling 300-image runs up to 48,000 images overestimated tenfold.
                if n / 2 <= m <= n * 2 and r.config.get("val_subset") == config.val_subset:
                    per_image.append(r.seconds / r.epochs_done / m)
    if per_image:
        return float(np.median(per_image)) * n
    prior = PRIOR_SEC_PER_IMAGE.get(config.model.kind, PRIOR_SEC_PER_IMAGE["cnn"])
    # Bigger batches amortise the per-step cost; a rough square-root law around batch 64.
    return prior * n * math.sqrt(64 / config.batch_size)


def estimate_seconds(spec: StudySpec, store: RunStore | None = None, *, parallel: int | None = None) -> float:
    """Wall-clock seconds to train the study's runs that are not already finished, a sweep's final
    comparison on fresh seeds included, `parallel` runs at a time (default: as many as the executor
    trains at once, `fmnist_core.executors.parallel_runs`: 1 locally, the Ray cluster's share)."""
    plan = (
        plan_study(store, spec)
        if store is not None
        else [PlannedRun(v, s, variant_config(spec, v, s), "new") for v, s in study_members(spec)]
    )
    todo = [p for p in plan if p.source != "reused"]
    # a sweep's final comparison: its rates are not chosen yet, so each of its runs counts as new
    n = len(todo) + spec.n_final_runs
    if not n:
        return 0.0
    per_epoch = sec_per_epoch_estimate(todo[0].config if todo else spec.base, store)
    at_once = max(1, parallel or parallel_runs())
    # the final comparison waits for the sweep's choice of rates: two rounds of waves, not one
    waves = math.ceil(len(todo) / at_once) + math.ceil(spec.n_final_runs / at_once)
    return waves * (spec.base.epochs * per_epoch + RUN_OVERHEAD_S)


format_duration = format_seconds  # the one duration formatter, under the name pages and CLI have used


def budget_problem(
    spec: StudySpec, store: RunStore | None = None, *, seconds: float | None = None
) -> str | None:
    """Why the study is refused (its estimate is beyond the $FMNIST_STUDY_BUDGET setting) and how to
    shrink it, or None when it fits."""
    budget = study_budget_seconds()
    seconds = estimate_seconds(spec, store) if seconds is None else seconds
    if budget <= 0 or seconds <= budget:
        return None
    per_run = seconds / max(1, spec.n_runs)
    fit = max(0, int(budget // per_run)) if per_run > 0 else 0
    ways = [f"about {fit} of its {spec.n_runs} runs fit"] if fit else []
    if spec.kind == "sweep":
        ways.append("fewer learning rates or optimizers")
    ways.append("fewer seeds or epochs")
    if not spec.base.train_subset or spec.base.train_subset > SHRINK_SUBSET:
        smaller = spec.base.with_(
            train_subset=SHRINK_SUBSET, batch_size=min(spec.base.batch_size, SHRINK_SUBSET)
        )
        quick = StudySpec.from_dict({**spec.to_dict(), "base": smaller.to_dict()})
        ways.append(
            f"or a training subset (--train-subset {SHRINK_SUBSET}, the page's quick demo: about "
            f"{format_duration(estimate_seconds(quick, store))})"
        )
    return (
        f"This study would take about {format_duration(seconds)}, beyond the budget of "
        f"{format_duration(budget)} (setting FMNIST_STUDY_BUDGET). Shrink it: " + "; ".join(ways) + "."
    )


@dataclass(frozen=True)
class StudyProgress:
    done: int  # runs that ended (finished, stopped, failed, interrupted)
    total: int
    finished: int
    running: int
    queued: int
    failed: int  # failed or interrupted
    stopped: int
    eta_seconds: float  # remaining, with the runs the executor trains at once

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def study_progress(
    runs: pd.DataFrame, *, sec_per_epoch: float | None = None, parallel: int | None = None
) -> StudyProgress:
    """Runs done / total and an ETA from this study's own finished runs (else `sec_per_epoch`), with
    `parallel` runs training at once (default as in `estimate_seconds`)."""
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
        eta_seconds=(remaining_epochs * spe + len(active) * RUN_OVERHEAD_S)
        / max(1, min(parallel or parallel_runs(), len(active))),
    )
