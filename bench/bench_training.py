"""Our training path (streaming into the run store) vs the lab's plain `model.fit`, in one bench run.

Same config (lab MLP, Adam, batch 64, 48,000 images, seed 42). The plain fit runs in a fresh child
process with TensorFlow's defaults, exactly as the lab's notebook ran it (our path changes process-wide
TensorFlow settings, which would otherwise speed up the baseline too); ours runs here, streaming every
point into a run store and polling it for stop requests, as a worker does. Then, as a check, the plain
fit again (child), so that a load change during the run shows. Prints s/epoch, the speed ratio, the
validation accuracies and how many points streamed per epoch.

    python -m bench training            # 10 epochs (the lab's run)
    BENCH_EPOCHS=3 python -m bench training
    BENCH_BACKEND=jax python -m bench training   # our path on Keras' JAX backend (child process too)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(what: str, epochs: int, backend: str = "tensorflow") -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_training", f"--{what}", str(epochs)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(line[7:])


def plain(epochs: int) -> dict:
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.training import TrainConfig, lab_fit_baseline

    data = load_fashion_mnist()
    config = TrainConfig(epochs=epochs)
    lab_fit_baseline(config.with_(epochs=1, train_subset=2000), data)  # warm-up: start-up, first tracing
    seconds, hist = lab_fit_baseline(config, data)
    return {"s_per_epoch": seconds / epochs, "val_accuracy": hist["val_accuracy"][-1]}


def ours(epochs: int) -> dict:
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.store import RunStore
    from fmnist_core.training import TrainConfig, train

    data = load_fashion_mnist()
    config = TrainConfig(epochs=epochs, backend=os.environ.get("KERAS_BACKEND", "tensorflow"))
    train(config.with_(epochs=1, train_subset=2000), data, evaluate_test=False)  # warm-up, as above
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        run_id = store.create_run(config)
        batch_points = [0]

        def on_metrics(p: dict) -> None:
            store.add_point(run_id, p)
            batch_points[0] += p["kind"] == "batch"

        t0 = time.perf_counter()
        r = train(
            config,
            data,
            on_metrics=on_metrics,
            should_stop=lambda: store.stop_requested(run_id),
            evaluate_test=False,
        )
        seconds = time.perf_counter() - t0
    return {
        "s_per_epoch": seconds / epochs,
        "val_accuracy": r.history["val_accuracy"][-1],
        "batch_points_per_epoch": batch_points[0] / epochs,
    }


def main() -> None:
    epochs = int(os.environ.get("BENCH_EPOCHS", "10"))
    backend = os.environ.get("BENCH_BACKEND", "tensorflow")
    print(f"lab MLP, adam, batch 64, 48,000 train / 12,000 val images, {epochs} epochs, seed 42", flush=True)
    base = _child("plain", epochs)
    print(
        f"  plain model.fit (lab)        : {base['s_per_epoch']:6.2f} s/epoch   val_acc {base['val_accuracy']:.4f}"
    )
    mine = ours(epochs) if backend == "tensorflow" else _child("ours", epochs, backend)
    print(
        f"  ours on {backend:10s} (store) : {mine['s_per_epoch']:6.2f} s/epoch   val_acc {mine['val_accuracy']:.4f}"
        f"   ({mine['batch_points_per_epoch']:.0f} streamed points/epoch within the epoch, + 1 at its end)",
        flush=True,
    )
    again = _child("plain", epochs)
    print(
        f"  plain model.fit again        : {again['s_per_epoch']:6.2f} s/epoch   val_acc {again['val_accuracy']:.4f}"
    )
    ref = (base["s_per_epoch"] + again["s_per_epoch"]) / 2
    print(
        f"  speed-up vs the plain fit (mean of both): {ref / mine['s_per_epoch']:.2f}x   "
        f"|val_acc difference| {abs(base['val_accuracy'] - mine['val_accuracy']):.4f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--plain", "--ours"):
        result = plain(int(sys.argv[2])) if sys.argv[1] == "--plain" else ours(int(sys.argv[2]))
        print("RESULT " + json.dumps(result), flush=True)
    else:
        main()
