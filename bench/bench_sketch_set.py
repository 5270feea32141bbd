"""Sketch-set accuracy: the 70 drawings of bench/sketch_set (the 60 of its held-out set, the 80 of its
third, untouched set) through `classify_canvas` with the page's defaults, per class and overall (top-2 for
the upper-body group), plus how honest answers behave on the drawings and on random scribbles.

    python -m bench sketch_set                    # the default sketch model, trained fresh here
    python -m bench sketch_set --run 12           # a stored model ($FMNIST_HOME)
    python -m bench sketch_set --model m.keras    # a model file saved by --save
    python -m bench sketch_set --set heldout      # only the held-out set (default: all three)
    python -m bench sketch_set --set both         # our set and the held-out one
    python -m bench sketch_set --set third --quiet  # totals only (how the third set is read)
    python -m bench sketch_set --augment none     # the default config without augmentation
    python -m bench sketch_set --epochs 2 --train-subset 20000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.sketch_set import SETS, SKETCHES, load_sketches, render, scribbles
from fmnist_core import sketch
from fmnist_core.data import CLASS_NAMES

UPPER_BODY = (0, 2, 4, 6)  # T-shirt/top, Pullover, Coat, Shirt: judged on top-2
N_SCRIBBLES = 100


def evaluate(model, *, verbose: bool = True, path=SKETCHES, honest: bool = True) -> dict:
    """Per-drawing top-1/top-2 results with the page's defaults, and honest-answer rates."""
    sketches = load_sketches(path)
    rows = []
    for s in sketches:
        probs = sketch.classify_canvas(model, render(s.strokes))
        order = np.argsort(-probs)
        rows.append((s, int(order[0]), int(order[1]), float(probs[order[0]])))
    y = np.array([s.label for s, *_ in rows])
    top1 = np.array([p1 for _, p1, _, _ in rows])
    top2 = np.array([p2 for _, _, p2, _ in rows])
    hit1, hit2 = top1 == y, (top1 == y) | (top2 == y)
    out = {"overall": float(hit1.mean()), "overall_top2": float(hit2.mean()), "per_class": {}}
    if verbose:
        print(f"  {'class':<12} {'top-1':>6} {'top-2':>6}   misses")
    for c, name in enumerate(CLASS_NAMES):
        m = y == c
        a1, a2 = float(hit1[m].mean()), float(hit2[m].mean())
        out["per_class"][name] = (a1, a2)
        misses = ", ".join(
            f"{s.name.split('/')[1]}->{CLASS_NAMES[p1]}" for s, p1, _, _ in rows if s.label == c and p1 != c
        )
        if verbose:
            group = "*" if c in UPPER_BODY else " "
            print(f"  {name:<12}{group}{a1:6.0%} {a2:6.0%}   {misses}")
    ok = all(
        (a2 if CLASS_NAMES.index(n) in UPPER_BODY else a1) >= 0.5 for n, (a1, a2) in out["per_class"].items()
    )
    out["floors_ok"] = ok
    if verbose:
        print(
            f"  overall top-1 {out['overall']:.1%} ({hit1.sum()}/{len(y)}), top-2 {out['overall_top2']:.1%}; "
            f"* upper-body group judged on top-2; every class >= 50%: {'yes' if ok else 'NO'}"
        )
    if honest:
        out.update(honesty(model, sketches, verbose=verbose))
    return out


def honesty(model, sketches, *, verbose: bool = True) -> dict:
    """How often honest answers accept the drawings and reject random scribbles."""
    from bench.sketch_set import CANVAS  # noqa: F401  (the drawings' canvas size)
    from fmnist_core.data import load_fashion_mnist

    data = load_fashion_mnist()
    bank = sketch.make_bank(data.x_test)  # the page's bank

    def verdict(rgba):
        try:
            return sketch.judge_canvas(model, rgba, bank).garment
        except sketch.EmptyCanvasError:
            return False  # refused outright (a dot, a painted canvas): not called a garment

    accepted = np.mean([verdict(render(s.strokes)) for s in sketches])
    scribbled = np.mean([verdict(r) for r in scribbles(N_SCRIBBLES, seed=1)])
    if verbose:
        print(
            f"  honest answers: drawings accepted as garments {accepted:.0%}; "
            f"random scribbles called a garment {scribbled:.0%} (rejected {1 - scribbled:.0%}, n={N_SCRIBBLES})"
        )
    return {"sketch_accepted": float(accepted), "scribbles_accepted": float(scribbled)}


def trained_default(args) -> object:
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.sketch.default import default_model_config
    from fmnist_core.training import train

    config = default_model_config()
    changes = {}
    if args.augment is not None:
        changes["augment"] = None if args.augment == "none" else args.augment
    if args.epochs:
        changes["epochs"] = args.epochs
    if args.train_subset:
        changes["train_subset"] = args.train_subset
    config = config.with_(**changes)
    print(f"training {config.to_json()}", flush=True)
    t0 = time.perf_counter()
    result = train(config, load_fashion_mnist())
    print(
        f"  trained in {time.perf_counter() - t0:.0f} s (fit {result.seconds:.0f} s); "
        f"test accuracy {result.test_accuracy:.4f}",
        flush=True,
    )
    return result.model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench sketch_set")
    parser.add_argument("--run", type=int, default=None, help="a stored run's model ($FMNIST_HOME)")
    parser.add_argument("--augment", choices=["none", "flip", "sketch"], default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--save", default=None, help="save the freshly trained model to this .keras path")
    parser.add_argument("--model", default=None, help="a .keras file saved by --save (loaded with safe_mode)")
    parser.add_argument(
        "--set",
        choices=[*SETS, "both", "all"],
        default="all",
        help="which drawings: main, heldout, third, both (main and heldout) or all (default)",
    )
    parser.add_argument("--quiet", action="store_true", help="totals only, no per-class lines")
    args = parser.parse_args(argv or [])
    if args.run is not None:
        from fmnist_core import models_io
        from fmnist_core.store import RunStore

        store = RunStore()
        model = models_io.load_stored_model(store, args.run)
        run = store.get_run(args.run)
        print(f"run #{args.run}: {run.label} · test accuracy {run.test_accuracy}")
    elif args.model is not None:
        import keras

        model = keras.saving.load_model(args.model, safe_mode=True, compile=False)
    else:
        model = trained_default(args)
        if args.save:
            model.save(args.save)
    for name in set_names(args.set):
        print(f"-- {name} set ({SETS[name].name})")
        result = evaluate(model, path=SETS[name], honest=name == "main", verbose=not args.quiet)
        if args.quiet:
            print(f"  overall top-1 {result['overall']:.1%}, top-2 {result['overall_top2']:.1%}")


def set_names(choice: str) -> list[str]:
    """The drawing sets a --set choice names."""
    if choice == "all":
        return list(SETS)
    if choice == "both":
        return ["main", "heldout"]
    return [choice]


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
