"""Command line: `python -m fmnist_core train | resume | compare | sweep | reproduce-lab ...`.

Runs are recorded in the same store the app uses ($FMNIST_HOME), so the app shows them.
"""

from __future__ import annotations

import argparse
import os
import sys

from fmnist_core.models import OPTIMIZERS, PRESETS


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset", default="lab_mlp", choices=sorted(PRESETS), help="model preset (default lab_mlp)"
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--lr", type=float, default=None, help="learning rate (default: Keras' default per optimizer)"
    )
    p.add_argument("--train-subset", type=int, default=None, help="train on only the first N training images")
    p.add_argument(
        "--val-subset", type=int, default=None, help="validate on only the first N validation images"
    )
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--data-dir", default=None, help="folder with the four IDX files")


def config_from_args(args: argparse.Namespace):
    """The TrainConfig the flags ask for (train, and the base of compare / sweep / reproduce-lab):
    the preset's own recipe (epochs, batch, optimizer, rate, schedule, augmentation), flags override it.
    Flags a command does not have count as not given."""
    from fmnist_core.models import preset_recipe
    from fmnist_core.training import TrainConfig

    def arg(name: str):
        return getattr(args, name, None)

    # The preset's own recipe (epochs, batch, optimizer, rate, schedule, augmentation); flags override it.
    recipe = preset_recipe(args.preset)
    given = {
        "optimizer": arg("optimizer"),
        "learning_rate": arg("lr"),
        "epochs": arg("epochs"),
        "batch_size": arg("batch_size"),
        "augment": arg("augment"),
        "lr_schedule": arg("lr_schedule"),
    }
    if arg("optimizer") is not None and arg("lr") is None:
        recipe.pop("learning_rate", None)  # another optimizer: its own default rate, not the recipe's
    recipe.update({k: v for k, v in given.items() if v is not None})
    for k in ("augment", "lr_schedule"):
        if recipe.get(k) == "none":
            recipe[k] = None
    config = TrainConfig(
        model=PRESETS[args.preset],
        val_fraction=args.val_fraction,
        seed=arg("seed") if arg("seed") is not None else arg("first_seed") or 0,
        train_subset=args.train_subset,
        val_subset=args.val_subset,
        backend=arg("backend") or "tensorflow",
        **recipe,
    )
    return config


def cmd_train(args: argparse.Namespace) -> int:
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.jobs import execute_run
    from fmnist_core.store import RunStore

    config = config_from_args(args)
    args.optimizer, args.epochs, args.batch_size = config.optimizer, config.epochs, config.batch_size
    # Keras fixes its backend when it is first imported, which happens only below (in training).
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != config.backend:
        print(f"error: Keras is already running on {sys.modules['keras'].backend.backend()}", file=sys.stderr)
        return 2
    os.environ["KERAS_BACKEND"] = config.backend
    data = load_fashion_mnist(args.data_dir)
    store = RunStore()
    # running, with our pid, in one transaction: a page's reconcile never sees it without a worker
    run_id = store.create_run(
        config, label=f"cli {args.preset}/{args.optimizer}", status="running", worker_pid=os.getpid()
    )
    print(
        f"run {run_id}: {args.preset}, {args.optimizer} (lr {config.effective_lr:g}), {args.epochs} epochs, "
        f"batch {args.batch_size}, seed {args.seed}; data from {data.source}; store {store.home}",
        flush=True,
    )

    try:
        status = execute_run(store, run_id, config, data, on_point=_show_epoch(config))
    except KeyboardInterrupt:
        store.finish_run(run_id, status="interrupted", error="interrupted from the keyboard")
        print("interrupted", file=sys.stderr)
        return 130
    return _report(store, run_id, status)


def cmd_resume(args: argparse.Namespace) -> int:
    """Resume an interrupted run in this process, under its id, from its last checkpoint."""
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.jobs import execute_run, resume_run
    from fmnist_core.store import RunStore
    from fmnist_core.training import TrainConfig

    store = RunStore()
    ok, message = resume_run(args.run_id, store=store)  # reconciles first: a dead "running" run counts
    print(message, flush=True)
    if not ok:
        return 1
    if not store.mark_running(args.run_id, os.getpid()):
        print("another worker took the run first; it resumes there", file=sys.stderr)
        return 0
    run = store.get_run(args.run_id)
    config = TrainConfig.from_dict(run.config)
    try:
        status = execute_run(
            store, run.id, config, lambda: load_fashion_mnist(args.data_dir), on_point=_show_epoch(config)
        )
    except KeyboardInterrupt:
        store.finish_run(run.id, status="interrupted", error="interrupted from the keyboard")
        print("interrupted", file=sys.stderr)
        return 130
    return _report(store, run.id, status)


def _show_epoch(config):
    def show(p: dict) -> None:
        if p["kind"] == "epoch":
            print(
                f"epoch {p['epoch']:>3}/{config.epochs}  loss {p['loss']:.4f}  acc {p['accuracy']:.4f}  "
                f"val_loss {p['val_loss']:.4f}  val_acc {p['val_accuracy']:.4f}",
                flush=True,
            )

    return show


def _report(store, run_id: int, status: str) -> int:
    run = store.get_run(run_id)
    if status in ("finished", "stopped") and run.test_accuracy is not None:
        print(
            f"{status}: test accuracy {run.test_accuracy:.4f}  test loss {run.test_loss:.4f}  "
            f"({run.seconds:.1f} s training)  model {run.model_path}"
        )
        return 0
    print(f"{status}: {run.error if run else 'run deleted'}", file=sys.stderr)
    return 1


def cmd_export_run(args: argparse.Namespace) -> int:
    """A run as a replayable recording (config, summary, points; never the model file)."""
    import json

    from fmnist_core.replay import export_run
    from fmnist_core.store import RunStore

    text = json.dumps(export_run(RunStore(), args.run_id), indent=1, sort_keys=True)
    if args.output == "-":
        print(text)
    else:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


def study_spec_from_args(args: argparse.Namespace, kind: str):
    """The study `compare` or `sweep` asked for (raises ValueError with a reason)."""
    from fmnist_core.studies.spec import REGULARIZATION_VARIANTS, StudySpec, parse_rates

    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")
    base = config_from_args(args)
    seeds = tuple(range(args.first_seed, args.first_seed + args.seeds))
    lrs: tuple[float, ...] = ()
    if kind == "sweep":
        names = args.optimizers.split(",")
        if args.lrs:
            lrs, problem = parse_rates(args.lrs)
            if problem:
                raise ValueError(f"--lrs: {problem}")
    elif args.regularization:
        kind = "regularization"
        names = (
            list(REGULARIZATION_VARIANTS) if args.regularization == "all" else args.regularization.split(",")
        )
    else:
        names = list(OPTIMIZERS) if args.optimizers == "all" else args.optimizers.split(",")
    return StudySpec(
        base=base,
        variants=tuple(n.strip() for n in names if n.strip()),
        seeds=seeds,
        kind=kind,
        lr_policy="shared" if args.lr is not None and kind != "sweep" else "default",
        shared_lr=args.lr if kind != "sweep" else None,
        target=args.target,
        lrs=lrs,
    )


def _print_leaderboard(runs, *, target: float, rank_by: str | None = None) -> None:
    from fmnist_core.studies import stats

    rank_by = (
        rank_by or stats.RANK_BY
    )  # the page's ranking: the weights each run kept (early stopping's best)
    summary = stats.summarize(runs, rank_by=rank_by)
    print(
        f"\nLeaderboard ({stats.METRIC_TITLES[rank_by]}, mean ± sample sd over seeds, ddof=1; "
        "the top variant against each other, paired over seeds):"
    )
    print(stats.leaderboard_table(summary, runs, target=target).to_string(index=False))
    print()
    print(stats.verdict(summary, runs))


def _run_studies(specs: dict, args: argparse.Namespace) -> dict[str, str] | int:
    """Run studies in this process after the budget check; {name: study_id}, or an exit code."""
    from fmnist_core.store import RunStore
    from fmnist_core.studies.estimate import budget_problem
    from fmnist_core.studies.inline import Interrupted, run_inline

    store = RunStore()
    store.reconcile()
    for spec in specs.values():
        if problem := budget_problem(spec, store):
            print(f"error: {problem}", file=sys.stderr)
            return 2
    out = {}
    for name, spec in specs.items():
        try:
            out[name] = run_inline(store, spec, data_dir=args.data_dir)
        except Interrupted:
            print("interrupted: finished runs are kept and will be reused next time", file=sys.stderr)
            return 130
    return out


def cmd_compare(args: argparse.Namespace) -> int:
    """Run a comparison study here: reuse finished runs, train the rest, print the leaderboard."""
    from fmnist_core.store import RunStore
    from fmnist_core.studies.readback import study_runs

    spec = study_spec_from_args(args, "optimizer")
    ids = _run_studies({"study": spec}, args)
    if isinstance(ids, int):
        return ids
    runs = study_runs(RunStore(), ids["study"])
    _print_leaderboard(runs, target=spec.target)
    return 0 if (runs["status"] == "finished").all() else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    """The fair race: every optimizer at every rate x seeds, then the comparison at each one's best rate
    (chosen on validation, reported on test)."""
    from fmnist_core.store import RunStore
    from fmnist_core.studies import stats, sweep
    from fmnist_core.studies.readback import study_runs

    spec = study_spec_from_args(args, "sweep")
    ids = _run_studies({"sweep": spec}, args)
    if isinstance(ids, int):
        return ids
    runs = study_runs(RunStore(), ids["sweep"])
    table = sweep.sweep_table(runs)
    print("\nSweep (last-epoch validation accuracy and test accuracy, mean ± sample sd over seeds):")
    for r in table.itertuples():
        print(
            f"  {r.optimizer:>9} lr {r.learning_rate:<8g} val {stats.mean_sd(r.val_mean, r.val_std)}  "
            f"test {stats.mean_sd(r.test_mean, r.test_std)}  ({r.n} runs{f', {r.failed} failed' if r.failed else ''})"
        )
    best = sweep.best_rates(runs)
    print("\nBest rate on validation: " + ", ".join(f"{o} {lr:g}" for o, lr in best.items()))
    _print_leaderboard(sweep.comparison_runs(runs, best), target=spec.target, rank_by=sweep.REPORT_BY)
    return 0 if (runs["status"] == "finished").all() else 1


def cmd_reproduce_lab(args: argparse.Namespace) -> int:
    """The lab's own experiments with N seeds, and a report of its claims against them (MD + CSV)."""
    from pathlib import Path

    from fmnist_core.settings import studio_home
    from fmnist_core.store import RunStore
    from fmnist_core.studies import lab

    specs = lab.lab_specs(
        args.seeds, epochs=args.epochs, train_subset=args.train_subset, val_subset=args.val_subset
    )
    ids = _run_studies(specs, args)
    if isinstance(ids, int):
        return ids
    report = lab.lab_report(lab.lab_runs(RunStore(), specs))
    md = lab.report_markdown(report, seeds=args.seeds, epochs=args.epochs, train_subset=args.train_subset)
    out = Path(args.out) if args.out else studio_home() / "reports"
    out.mkdir(parents=True, exist_ok=True)
    (out / "lab-report.md").write_text(md)
    (out / "lab-report.csv").write_bytes(lab.report_csv(report))
    print("\n" + md)
    print(f"report written to {out / 'lab-report.md'} and {out / 'lab-report.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist_core", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one model and record the run")
    _add_common(t)
    t.set_defaults(epochs=None, batch_size=None)  # train: the preset's recipe unless given
    t.add_argument(
        "--optimizer", default=None, choices=sorted(OPTIMIZERS), help="default: the preset's (adam)"
    )
    t.add_argument("--seed", type=int, default=42)
    t.add_argument(
        "--augment",
        default=None,
        choices=["none", "flip", "flip_shift", "sketch"],
        help="on-the-fly training augmentation: flips, flips and shifts, or sketch-like silhouettes/outlines "
        "with garment drawings (default: the preset's, none for most)",
    )
    t.add_argument(
        "--lr-schedule",
        default=None,
        choices=["none", "cosine", "onecycle"],
        help="learning-rate schedule over the run (default: the preset's, constant for most)",
    )
    t.add_argument(
        "--backend",
        default="tensorflow",
        choices=["tensorflow", "jax"],
        help="Keras backend to train on (default tensorflow); jax is faster for MLPs, slower for CNNs",
    )
    t.set_defaults(func=cmd_train)
    r = sub.add_parser("resume", help="resume an interrupted run from its last completed epoch")
    r.add_argument("run_id", type=int)
    r.add_argument("--data-dir", default=None, help="folder with the four IDX files")
    r.set_defaults(func=cmd_resume)
    c = sub.add_parser("compare", help="compare optimizers (or regularization variants) over several seeds")
    _add_common(c)
    c.add_argument("--optimizers", default="sgd,momentum,adagrad,adam,rmsprop")
    c.add_argument("--regularization", default=None, help="compare regularization variants instead, e.g. all")
    c.add_argument("--optimizer", default="adam", help="optimizer for a regularization study")
    c.add_argument("--seeds", type=int, default=3)
    c.add_argument("--first-seed", type=int, default=0)
    c.add_argument(
        "--target", type=float, default=0.85, help="validation accuracy target for epochs-to-target"
    )
    c.set_defaults(func=cmd_compare)
    w = sub.add_parser(
        "sweep", help="the fair race: optimizers x learning rates x seeds, then each at its best rate"
    )
    _add_common(w)
    w.add_argument("--optimizers", default="sgd,adagrad,adam,rmsprop")
    w.add_argument(
        "--lrs",
        default=None,
        help="comma-separated rates for every optimizer (default: 5 around each default)",
    )
    w.add_argument("--seeds", type=int, default=2)
    w.add_argument("--first-seed", type=int, default=0)
    w.add_argument(
        "--target", type=float, default=0.85, help="validation accuracy target for epochs-to-target"
    )
    w.set_defaults(func=cmd_sweep)
    lab = sub.add_parser(
        "reproduce-lab", help="the lab's experiments with N seeds, and a report of its claims"
    )
    lab.add_argument("--seeds", type=int, default=3)
    lab.add_argument("--epochs", type=int, default=10)
    lab.add_argument(
        "--train-subset", type=int, default=None, help="train on only the first N training images"
    )
    lab.add_argument(
        "--val-subset", type=int, default=None, help="validate on only the first N validation images"
    )
    lab.add_argument(
        "--out", default=None, help="folder for lab-report.md and .csv (default: $FMNIST_HOME/reports)"
    )
    lab.add_argument("--data-dir", default=None, help="folder with the four IDX files")
    lab.set_defaults(func=cmd_reproduce_lab)
    e = sub.add_parser("export-run", help="write a run's config and metric points as a JSON recording")
    e.add_argument("run_id", type=int)
    e.add_argument("--output", default="-", help="file to write (default: standard output)")
    e.set_defaults(func=cmd_export_run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # bad settings: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
