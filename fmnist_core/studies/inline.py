"""Running a study in this process (the command line): reuse finished runs from the store, train the
rest one after another through the shared run path (`jobs.execute_run`, which the app's workers use
too), with TensorFlow imported and the data loaded once, and only if something must train."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from fmnist_core.store import RunStore
from fmnist_core.studies.estimate import estimate_seconds, format_duration
from fmnist_core.studies.schedule import member_row, plan_counts, plan_study, study_record
from fmnist_core.studies.spec import StudySpec, describe, new_study_id, variant_label


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
    from fmnist_core.jobs import execute_run  # imports nothing heavy until a run trains

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
    members = [member_row(p, p.run_id) for p in plan if p.run_id is not None]
    store.save_study(study_id, name, study_record(spec, members, counts))

    data = None
    for i, p in enumerate(todo, 1):
        if data is None:  # only when something must train: a repeated command loads nothing
            from fmnist_core.data import load_fashion_mnist

            data = load_fashion_mnist(data_dir)
        label = f"{name}: {variant_label(spec.kind, p.variant)}, seed {p.seed}"
        run_id = store.create_run(
            p.config,
            label=label,
            study_id=study_id,
            variant=p.variant,
            status="running",
            worker_pid=os.getpid(),
        )
        members.append(member_row(p, run_id))
        store.save_study(study_id, name, study_record(spec, members, counts))
        log(f"[{i}/{len(todo)}] {variant_label(spec.kind, p.variant)}, seed {p.seed} (run {run_id})")

        def show(pt: dict, epochs: int = p.config.epochs) -> None:
            if pt["kind"] == "epoch":
                log(
                    f"    epoch {pt['epoch']:>3}/{epochs}  loss {pt['loss']:.4f}  val_loss {pt['val_loss']:.4f}  "
                    f"val_acc {pt['val_accuracy']:.4f}"
                )

        try:
            status = execute_run(store, run_id, p.config, data, on_point=show)
        except KeyboardInterrupt:
            store.finish_run(run_id, status="interrupted", error="interrupted from the keyboard")
            raise Interrupted from None
        if status != "finished":
            print(f"    {status}: {store.get_run(run_id).error}", file=sys.stderr)

    waiting = [p for p in plan if p.source == "already_running"]
    if waiting:
        log(f"waiting for {len(waiting)} identical run(s) another process is training…")
        while any((r := store.get_run(p.run_id)) is not None and r.active for p in waiting):
            time.sleep(1.0)  # another process's progress is only visible through the store
            store.reconcile()
    return study_id
