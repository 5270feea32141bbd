"""Running a study in this process (the command line): reuse finished runs from the store, train the
rest one after another through the shared run path (`jobs.execute_run`, which the app's workers use
too), with TensorFlow imported and the data loaded once, and only if something must train. A sweep then
runs its final comparison at each optimizer's best rate on fresh seeds, the same way."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from fmnist_core.store import RunStore
from fmnist_core.studies.estimate import estimate_seconds, format_duration
from fmnist_core.studies.readback import study_runs
from fmnist_core.studies.schedule import (
    PlannedRun,
    member_row,
    plan_counts,
    plan_members,
    plan_study,
    study_record,
)
from fmnist_core.studies.spec import StudySpec, describe, new_study_id, variant_label
from fmnist_core.studies.sweep import best_rates, final_members, final_state


class Interrupted(Exception):
    """Ctrl-C during a run: the run is recorded as interrupted; finished runs are kept for reuse."""


def run_inline(
    store: RunStore,
    spec: StudySpec,
    *,
    name: str = "",
    data_dir: str | None = None,
    log: Callable[[str], None] = lambda s: print(s, flush=True),
) -> str:
    """Train the study's missing runs here and wait for identical ones other processes are training;
    returns the study id (its record lists every member, reused ones included)."""
    plan = plan_study(store, spec, attach_queued=False)
    study_id = new_study_id()
    name = name or describe(spec)
    counts = plan_counts([p.source for p in plan])
    todo = [p for p in plan if p.source == "new"]
    log(f"Study {study_id}: {name}; {spec.n_runs} runs; store {store.home}")
    log(
        f"  {counts['reused']} reused (identical config and seed already trained), "
        f"{counts['already_running']} already training elsewhere, {len(todo)} to train"
        + (f" (about {format_duration(estimate_seconds(spec, store))})" if todo else "")
    )
    if spec.n_final_runs:
        log(
            f"  then the final comparison: each optimizer at its best rate on fresh seeds "
            f"{', '.join(map(str, spec.final_seeds))} ({spec.n_final_runs} runs)"
        )
    record: dict[str, Any] = study_record(spec, [], counts)
    members = record["members"] = [member_row(p, p.run_id) for p in plan if p.run_id is not None]
    store.save_study(study_id, name, record)
    data: list = []  # loaded on the first run that must train: a repeated command loads nothing
    _train_here(store, spec, study_id, name, record, todo, data, data_dir, log)
    _wait_for(store, [p for p in plan if p.source == "already_running"], log)

    if spec.kind == "sweep" and spec.final_seeds:
        runs = study_runs(store, study_id)
        state = final_state(spec, runs, scheduled=False)
        best = best_rates(runs)
        if state != "ready":
            log(f"final comparison skipped: some runs of the sweep did not finish ({state})")
            return study_id
        final = plan_members(store, spec, final_members(spec, best), attach_queued=False)
        fc = plan_counts([p.source for p in final])
        todo = [p for p in final if p.source == "new"]
        log(
            "Final comparison at the best rates ("
            + ", ".join(f"{o} {lr:g}" for o, lr in best.items())
            + f") on fresh seeds: {fc['reused']} reused, {len(todo)} to train"
        )
        members += [member_row(p, p.run_id) for p in final if p.run_id is not None]
        record["final"] = {"best": best, "counts": fc, "forced": False}
        store.save_study(study_id, name, record)
        _train_here(store, spec, study_id, name, record, todo, data, data_dir, log, what="final comparison, ")
        _wait_for(store, [p for p in final if p.source == "already_running"], log)
    return study_id


def _train_here(
    store: RunStore,
    spec: StudySpec,
    study_id: str,
    name: str,
    record: dict[str, Any],
    todo: list[PlannedRun],
    data: list,
    data_dir: str | None,
    log: Callable[[str], None],
    *,
    what: str = "",
) -> None:
    """Train `todo` one after another here, adding each to the study's record as it starts."""
    if not todo:
        return
    from fmnist_core.jobs import execute_run  # imports nothing heavy until a run trains

    for i, p in enumerate(todo, 1):
        if not data:
            from fmnist_core.data import load_fashion_mnist

            data.append(load_fashion_mnist(data_dir))
        label = f"{name}: {what}{variant_label(spec.kind, p.variant)}, seed {p.seed}"
        run_id = store.create_run(
            p.config,
            label=label,
            study_id=study_id,
            variant=p.variant,
            status="running",
            worker_pid=os.getpid(),
        )
        record["members"].append(member_row(p, run_id))
        store.save_study(study_id, name, record)
        log(f"[{i}/{len(todo)}] {what}{variant_label(spec.kind, p.variant)}, seed {p.seed} (run {run_id})")

        def show(pt: dict, epochs: int = p.config.epochs) -> None:
            if pt["kind"] == "epoch":
                log(
                    f"    epoch {pt['epoch']:>3}/{epochs}  loss {pt['loss']:.4f}  val_loss {pt['val_loss']:.4f}  "
                    f"val_acc {pt['val_accuracy']:.4f}"
                )

        try:
            status = execute_run(store, run_id, p.config, data[0], on_point=show)
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", error="interrupted from the keyboard")
            raise Interrupted from None
        if status != "finished":
            print(f"    {status}: {store.get_run(run_id).error}", file=sys.stderr)


def _wait_for(store: RunStore, waiting: list[PlannedRun], log: Callable[[str], None]) -> None:
    if not waiting:
        return
    log(f"waiting for {len(waiting)} identical run(s) another process is training…")
    while any((r := store.get_run(p.run_id)) is not None and r.active for p in waiting):
        time.sleep(1.0)  # another process's progress is only visible through the store
        store.reconcile()
