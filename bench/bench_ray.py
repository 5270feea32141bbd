"""Per-run overhead of the Ray executor against the local one, on this machine, side by side in one run.

Both executors get a warm-up run first (the local worker's start and TensorFlow import; Ray's start, a
Ray worker's TensorFlow import, the dataset into the object store), then the same lab MLP runs
(default 3 epochs on the full 48,000 training images, the same seeds), alternating local / Ray / Ray /
local so a change in the shared machine's load hits both. Wall time is from submit until the store says
"finished" (model saved, test set evaluated), as a user waits for it. Goal: Ray <= 10% slower.

Then a simulated table of a 75-run sweep (5 optimizers x 5 rates x 3 seeds, 10 epochs) on 1, 4 and 16
nodes like this one, from the measured per-run times: Ray places every run at once, so the sweep takes
ceil(75 / slots) waves of one run each (slots = nodes x node CPUs / CPUs per run).

    python -m bench ray [--epochs 3] [--repeats 2] [--cpus-per-run 2] [--address ADDR]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fmnist_core.jobs import JobRunner
from fmnist_core.training import TrainConfig

POLL = 0.05
SWEEP_RUNS, SWEEP_EPOCHS = 75, 10


def wait_finished(runner: JobRunner, run_id: int, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = runner.store.get_run(run_id)
        if not run.active and not run.finalizing:
            if run.status != "finished":
                raise RuntimeError(f"run {run_id} ended {run.status}: {run.error}")
            return
        time.sleep(POLL)  # the executors report only through the store
    raise TimeoutError(f"run {run_id} did not finish")


def tree_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process and every process under it: the local
    worker, or the private Ray's raylet, GCS, hub and Ray workers. Independent of the machine's load."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def timed_run(runner: JobRunner, config: TrainConfig, label: str) -> tuple[float, float, int | None, float]:
    """(wall seconds from submit to finished, fit seconds the run recorded, pid of the process that
    trained it (a new pid is a worker that had to import TensorFlow first), CPU seconds of this process
    tree meanwhile)."""
    cpu0 = tree_cpu_seconds()
    t0 = time.perf_counter()
    run_id = runner.submit(config, label=label)
    wait_finished(runner, run_id)
    wall = time.perf_counter() - t0
    cpu = tree_cpu_seconds() - cpu0
    worker = runner.ray.worker_of(run_id) if runner.ray is not None else None
    pid = worker["pid"] if worker else (runner.worker_pids() or [None])[0]
    return wall, float(runner.store.get_run(run_id).seconds), pid, cpu


def sweep_table(per_run: dict[str, float], *, slots_per_node: int) -> list[str]:
    lines = [
        f"| executor | nodes | runs at once | 75-run sweep ({SWEEP_EPOCHS} epochs) |",
        "|---|---:|---:|---:|",
        f"| local (1 worker) | 1 | 1 | {_hours(SWEEP_RUNS * per_run['local'])} |",
    ]
    for nodes in (1, 4, 16):
        slots = nodes * slots_per_node
        waves = math.ceil(SWEEP_RUNS / slots)
        lines.append(f"| ray | {nodes} | {slots} | {_hours(waves * per_run['ray'])} |")
    return lines


def _hours(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench ray", description=__doc__)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2, help="runs per executor (alternating)")
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--cpus-per-run", type=float, default=float(os.cpu_count() or 2))
    p.add_argument("--address", default="", help="FMNIST_RAY_ADDRESS (default: a private local Ray)")
    args = p.parse_args(argv or [])
    os.environ["FMNIST_RAY_CPUS_PER_RUN"] = str(args.cpus_per_run)
    os.environ["FMNIST_RAY_ADDRESS"] = args.address

    base = TrainConfig(epochs=args.epochs, train_subset=args.train_subset)
    print(
        f"lab_mlp, batch {base.batch_size}, {args.epochs} epochs, {args.train_subset or 48000} training images; "
        f"Ray: {args.cpus_per_run:g} CPUs per run, {args.address or 'private local Ray on 127.0.0.1'}"
    )
    runners = {
        "local": JobRunner(tempfile.mkdtemp(prefix="bench_ray_local_"), workers=1, executor="local"),
        "ray": JobRunner(tempfile.mkdtemp(prefix="bench_ray_ray_"), workers=1, executor="ray"),
    }
    walls: dict[str, list[float]] = {k: [] for k in runners}
    fits: dict[str, list[float]] = {k: [] for k in runners}
    cpus: dict[str, list[float]] = {k: [] for k in runners}
    try:
        for name, runner in runners.items():
            warm, _, _, _ = timed_run(runner, TrainConfig(epochs=1, train_subset=1000, seed=999), "warm-up")
            print(f"{name:5s} warm-up (start, TensorFlow import, dataset load, 1 tiny epoch): {warm:6.1f} s")
        for i in range(args.repeats):
            # ABBA order: a drift in the machine's load cancels out
            order = list(runners.items()) if i % 2 == 0 else list(runners.items())[::-1]
            for name, runner in order:
                wall, fit, pid, cpu = timed_run(runner, base.with_(seed=1000 + i), f"{name} {i}")
                cpus[name].append(cpu)
                walls[name].append(wall)
                fits[name].append(fit)
                print(
                    f"{name:5s} run {i}: {wall:6.2f} s wall, {fit:6.2f} s in fit, {wall - fit:5.2f} s outside, "
                    f"{cpu:6.2f} CPU s (worker pid {pid})"
                )
        slots = runners["ray"].ray.slots
    finally:
        for runner in runners.values():
            runner.shutdown()

    median = {k: statistics.median(v) for k, v in walls.items()}
    print(
        f"\nmedian wall per run: local {median['local']:.2f} s, ray {median['ray']:.2f} s -> "
        f"{100 * (median['ray'] / median['local'] - 1):+.1f}%"
    )
    wall = {k: statistics.mean(v) for k, v in walls.items()}
    fit = {k: statistics.mean(v) for k, v in fits.items()}
    outside = {k: wall[k] - fit[k] for k in wall}
    print(
        f"mean wall per run: local {wall['local']:.2f} s, ray {wall['ray']:.2f} s -> Ray overhead "
        f"{100 * (wall['ray'] / wall['local'] - 1):+.1f}% (goal <= +10%)"
    )
    print(
        f"outside fit (build, compile, test evaluation, save, relay): local {outside['local']:.2f} s, "
        f"ray {outside['ray']:.2f} s; fit itself: ray / local = {fit['ray'] / fit['local']:.3f}"
    )
    cpu = {k: statistics.mean(v) for k, v in cpus.items()}
    print(
        f"CPU seconds per run (load-independent): local {cpu['local']:.2f}, ray {cpu['ray']:.2f} -> "
        f"{100 * (cpu['ray'] / cpu['local'] - 1):+.1f}%"
    )
    per_run = {k: outside[k] + SWEEP_EPOCHS * fit[k] / args.epochs for k in wall}
    cpus = os.cpu_count() or 2
    node_slots = max(1, int(cpus // args.cpus_per_run))
    print(
        f"\nsimulated 75-run sweep, {SWEEP_EPOCHS} epochs a run, nodes like this one ({cpus} CPUs, "
        f"{node_slots} run(s) at once each; measured per run: local {per_run['local']:.0f} s, "
        f"ray {per_run['ray']:.0f} s; this Ray had {slots} slot(s)):"
    )
    print("\n".join(sweep_table(per_run, slots_per_node=node_slots)))


if __name__ == "__main__":
    main(sys.argv[1:])
