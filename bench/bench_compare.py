"""What a comparison study costs next to one run, in the same job runner (one worker).

Target: the default study (5 optimizers x 3 seeds x 10 epochs of the lab MLP) costs at most 15x one
run plus a little, i.e. no TensorFlow import or data reload per run. Measured here: a warm-up run
(TensorFlow import + dataset load in the worker, paid once), one lab_mlp run, then a study of
n runs with the same epochs; prints both wall times, their ratio and the ratio per run (1.00 = no
per-run overhead beyond what a single run pays), then schedules the study again (all reused).

The default is reduced to stay light on a shared 2-core machine (3 epochs, 1 seed: 5 runs);
`python -m bench.bench_compare --epochs 10 --seeds 3` measures the full default study.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from fmnist_core import compare
from fmnist_core.jobs import JobRunner
from fmnist_core.training import TrainConfig

POLL = 0.2


def wait_for(runner: JobRunner, run_ids: list[int]) -> None:
    store = runner.store
    while True:
        runs = [store.get_run(r) for r in run_ids]
        if all(not r.active for r in runs):
            bad = [(r.id, r.status, r.error) for r in runs if r.status != "finished"]
            if bad:
                raise RuntimeError(f"runs did not finish: {bad}")
            return
        time.sleep(POLL)  # the worker reports only through the store


def timed_run(runner: JobRunner, config: TrainConfig, label: str) -> tuple[float, float]:
    """(wall seconds from submit to finished, fit seconds the run recorded)."""
    t0 = time.perf_counter()
    rid = runner.submit(config, label=label)
    wait_for(runner, [rid])
    return time.perf_counter() - t0, float(runner.store.get_run(rid).seconds)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.bench_compare", description=__doc__)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--optimizers", default=",".join(compare.DEFAULT_OPTIMIZERS))
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--home", default=None, help="store folder (default: a fresh temporary one)")
    args = p.parse_args(argv or [])

    home = args.home or tempfile.mkdtemp(prefix="bench_compare_")
    base = TrainConfig(epochs=args.epochs, train_subset=args.train_subset)
    spec = compare.StudySpec(
        base=base, variants=tuple(args.optimizers.split(",")), seeds=tuple(range(args.seeds))
    )
    print(
        f"store {home}; lab_mlp, batch {base.batch_size}, {args.epochs} epochs, "
        f"{args.train_subset or 48000} training images; study: {compare.describe(spec)} = {spec.n_runs} runs"
    )
    runner = JobRunner(home, workers=1)
    try:
        warm, _ = timed_run(runner, TrainConfig(epochs=1, train_subset=1000, seed=999), "warm-up")
        print(f"warm-up run (worker start, TensorFlow import, dataset load, 1 tiny epoch): {warm:6.1f} s")

        # One run before and one after the study (seeds the study does not use): the machine is shared,
        # so bracketing the study and averaging keeps a load change from skewing the ratio.
        before = timed_run(runner, base.with_(seed=1000), "one run (before)")
        t0 = time.perf_counter()
        study_id, counts = compare.schedule_study(runner, spec, name="bench")
        runs = compare.study_runs(runner.store, study_id)
        wait_for(runner, runs["run_id"].tolist())
        study = time.perf_counter() - t0
        runs = compare.study_runs(runner.store, study_id)
        fit = float(runs["seconds"].sum())
        after = timed_run(runner, base.with_(seed=1001), "one run (after)")
        one, one_fit = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        print(
            f"one run  (adam, before/after the study): {before[0]:.1f} / {after[0]:.1f} s wall -> mean {one:6.1f} s, "
            f"{one_fit:6.1f} s in fit ({one_fit / args.epochs:.2f} s/epoch)"
        )
        n = spec.n_runs
        print(f"study    ({n} runs, {counts}): {study:6.1f} s wall, {fit:6.1f} s in fit")
        print(
            f"ratio study / one run: {study / one:.2f} for {n} runs -> {study / one / n:.3f} per run "
            f"(1.00 = each run costs exactly one run)"
        )
        print(f"overhead outside fit: one run {one - one_fit:.1f} s; study {(study - fit) / n:.1f} s per run")
        per_optimizer = runs.groupby("label")["seconds_per_epoch"].mean().round(2).to_dict()
        print(f"seconds per epoch by optimizer: {per_optimizer}")
        default_one = (one - one_fit) + 10 * one_fit / args.epochs
        default_study = 15 * ((study - fit) / n + 10 * fit / n / args.epochs)
        print(
            f"extrapolated default (15 runs x 10 epochs): one run ~{default_one:.0f} s, study "
            f"~{default_study:.0f} s = {default_study / default_one:.1f}x one run (target <= 15x + a little)"
        )

        t0 = time.perf_counter()
        _, again = compare.schedule_study(runner, spec, name="bench again")
        print(f"same study again: {again} in {time.perf_counter() - t0:.3f} s (nothing trained)")
        summary = compare.summarize(runs)
        print(compare.leaderboard_table(summary, runs, target=spec.target).to_string(index=False))
        print(compare.verdict(summary, runs))
    finally:
        runner.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
