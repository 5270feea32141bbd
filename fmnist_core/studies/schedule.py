"""Scheduling a study on the job runner: plan (reuse finished identical runs, attach to ones already
queued or training, else queue new ones), record the study's members, stop it.

A study is a group of runs sharing a study id; a run whose config and seed are identical to a finished
one (same `TrainConfig.key()`) is reused, not retrained. A sweep schedules in two phases: its members
(every optimizer x rate x selection seed) at once, then, once they have ended, the final comparison at
each optimizer's best rate on fresh seeds (`schedule_final`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from fmnist_core.store import ACTIVE, RunStore
from fmnist_core.studies.readback import study_runs
from fmnist_core.studies.spec import (
    StudySpec,
    describe,
    new_study_id,
    study_members,
    variant_config,
    variant_label,
)
from fmnist_core.studies.sweep import best_rates, final_members, final_state
from fmnist_core.training import TrainConfig

if TYPE_CHECKING:
    from fmnist_core.jobs import JobRunner


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
    return plan_members(store, spec, study_members(spec), attach_queued=attach_queued)


def plan_members(
    store: RunStore, spec: StudySpec, members: Iterable[tuple[str, int]], *, attach_queued: bool = True
) -> list[PlannedRun]:
    """`plan_study` for these (variant, seed) pairs of the study (a sweep's final comparison, say)."""
    out = []
    for variant, seed in members:
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


def plan_counts(sources: list[str]) -> dict[str, int]:
    """{"queued", "reused", "already_running"} counts from plan sources ("new" counts as queued)."""
    counts = {"queued": 0, "reused": 0, "already_running": 0}
    for source in sources:
        counts["queued" if source == "new" else source] += 1
    return counts


def member_row(p: PlannedRun, run_id: int) -> dict[str, Any]:
    return {"variant": p.variant, "seed": p.seed, "run_id": int(run_id), "source": p.source}


def study_record(spec: StudySpec, members: list[dict[str, Any]], counts: dict[str, int]) -> dict[str, Any]:
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
        else:
            p, run_id = _submit(
                runner, p, f"{name or describe(spec)}: {variant_label(spec.kind, p.variant)}", study_id
            )
        members.append(member_row(p, run_id))
    counts = plan_counts([m["source"] for m in members])
    store.save_study(study_id, name or describe(spec), study_record(spec, members, counts))
    return study_id, counts


def _submit(runner: JobRunner, p: PlannedRun, what: str, study_id: str) -> tuple[PlannedRun, int]:
    """Queue a planned run ("new") or take the existing one; returns (the plan as it went, run id)."""
    if p.source != "new":
        return p, int(p.run_id)
    label = f"{what}, seed {p.seed}"
    # create-once: a second study scheduling the same config at the same moment shares the run
    submit_once = getattr(runner, "submit_once", None)
    if submit_once is not None:
        run_id, created = submit_once(p.config, label=label, study_id=study_id, variant=p.variant)
        if not created:
            p = replace(p, source="already_running")
    else:
        run_id = runner.submit(p.config, label=label, study_id=study_id, variant=p.variant)
    return p, int(run_id)


def schedule_final(runner: JobRunner, study_id: str, *, force: bool = False) -> dict[str, int] | None:
    """Queue a sweep's final comparison: each optimizer at its best rate (chosen on the selection runs'
    validation accuracy) on the fresh seeds. Returns its counts (as `schedule_study`'s), or None when there
    is nothing to schedule yet (selection runs still active; not a sweep; a sweep saved before fresh
    seeds). Idempotent: a second call returns the first call's counts and queues nothing.

    When some selection run was stopped or interrupted (`final_state` "blocked") it schedules only with
    `force=True`: the rates would be chosen on fewer seeds than planned, which the user should decide."""
    store = runner.store
    study = store.get_study(study_id)
    if study is None:
        return None
    record = dict(study["spec"])
    if "final" in record:
        return dict(record["final"].get("counts", {}))
    spec = StudySpec.from_dict(record)
    if spec.kind != "sweep":
        return None
    runs = study_runs(store, study_id)
    state = final_state(spec, runs, scheduled=False)
    if state not in ("ready", "blocked") or (state == "blocked" and not force):
        return None
    best = best_rates(runs)
    if not best:
        return None
    members = list(record.get("members", []))
    rows = []
    for p in plan_members(store, spec, final_members(spec, best)):
        what = f"{study['name']}: final comparison, {variant_label(spec.kind, p.variant)}"
        p, run_id = _submit(runner, p, what, study_id)
        rows.append(member_row(p, run_id))
    counts = plan_counts([m["source"] for m in rows])
    record["members"] = members + rows
    record["final"] = {"best": best, "counts": counts, "forced": state == "blocked"}
    store.save_study(study_id, study["name"], record)
    return counts


def final_scheduled(store: RunStore, study_id: str) -> dict[str, Any] | None:
    """The sweep's final-comparison record ({"best", "counts", "forced"}) once scheduled, else None."""
    study = store.get_study(study_id)
    return dict(study["spec"]["final"]) if study and "final" in study["spec"] else None


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
