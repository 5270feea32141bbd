"""Executors behind the job runner: where a queued run trains.

    local  fmnist_core.jobs: worker processes on this machine (the default, no Ray needed)
    ray    ray_executor.py (the app's side: submits runs, writes the store) and relay.py (the Ray
           worker's side: trains with a store stand-in that sends every write back to the app)

Nothing here imports Ray: the default path never loads it.
"""

from __future__ import annotations

from fmnist_core import settings

_cluster_slots: int | None = None  # set by a running Ray executor: runs the cluster can train at once


def set_cluster_slots(slots: int | None) -> None:
    global _cluster_slots
    _cluster_slots = slots


def parallel_runs() -> int:
    """How many runs train at the same time, for estimates: with the Ray executor, the connected
    cluster's CPUs over the CPUs a run asks for; otherwise 1 (the local worker trains one run at a time
    per backend)."""
    if settings.executor() == "ray" and _cluster_slots:
        return max(1, int(_cluster_slots))
    return 1
