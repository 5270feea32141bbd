"""Command line: `python -m fmnist_core train ...` and `python -m fmnist_core compare ...`.

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


def cmd_train(args: argparse.Namespace) -> int:
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.jobs import execute_run
    from fmnist_core.store import RunStore
    from fmnist_core.training import TrainConfig

    config = TrainConfig(
        model=PRESETS[args.preset],
        optimizer=args.optimizer,
        learning_rate=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_fraction=args.val_fraction,
        seed=args.seed,
        train_subset=args.train_subset,
        val_subset=args.val_subset,
        augment=None if args.augment == "none" else args.augment,
    )
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

    def show(p: dict) -> None:
        if p["kind"] == "epoch":
            print(
                f"epoch {p['epoch']:>3}/{config.epochs}  loss {p['loss']:.4f}  acc {p['accuracy']:.4f}  "
                f"val_loss {p['val_loss']:.4f}  val_acc {p['val_accuracy']:.4f}",
                flush=True,
            )

    try:
        status = execute_run(store, run_id, config, data, on_point=show)
    except KeyboardInterrupt:
        store.finish_run(run_id, status="interrupted", error="interrupted from the keyboard")
        print("interrupted", file=sys.stderr)
        return 130
    run = store.get_run(run_id)
    if status in ("finished", "stopped"):
        print(
            f"{status}: test accuracy {run.test_accuracy:.4f}  test loss {run.test_loss:.4f}  "
            f"({run.seconds:.1f} s training)  model {run.model_path}"
        )
        return 0
    print(f"{status}: {run.error}", file=sys.stderr)
    return 1


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


def cmd_compare(args: argparse.Namespace) -> int:
    from fmnist_core.compare import run_study_cli

    return run_study_cli(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist_core", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one model and record the run")
    _add_common(t)
    t.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    t.add_argument("--seed", type=int, default=42)
    t.add_argument(
        "--augment",
        default="none",
        choices=["none", "flip", "sketch"],
        help="on-the-fly training augmentation: flips, or sketch-like silhouettes/outlines (default none)",
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
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # bad settings: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
