"""Our training path (streaming into the run store) vs the lab's plain `model.fit`, side by side.

Same config (lab MLP, Adam, batch 64, 48,000 images, seed 42), same process, interleaved.
Prints seconds per epoch for both, the speed ratio, and the validation accuracies.
    python -m bench training            # 10 epochs (the lab's run)
    BENCH_EPOCHS=3 python -m bench training
"""

from __future__ import annotations

import os
import tempfile
import time

from fmnist_core.data import load_fashion_mnist
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig, lab_fit_baseline, train


def main() -> None:
    epochs = int(os.environ.get("BENCH_EPOCHS", "10"))
    data = load_fashion_mnist()
    config = TrainConfig(epochs=epochs)  # the lab: lab_mlp, adam, batch 64, 80/20 split, seed 42
    # Warm-up: TensorFlow start-up and first graph tracing are paid by neither side below.
    train(config.with_(epochs=1, train_subset=2000), data, evaluate_test=False)
    lab_fit_baseline(config.with_(epochs=1, train_subset=2000), data)

    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        run_id = store.create_run(config)
        n_points = [0]

        def on_metrics(p: dict) -> None:
            store.add_point(run_id, p)
            n_points[0] += 1

        lab_s, lab_hist = lab_fit_baseline(config, data)
        t0 = time.perf_counter()
        ours = train(
            config,
            data,
            on_metrics=on_metrics,
            should_stop=lambda: store.stop_requested(run_id),
            evaluate_test=False,
        )
        ours_s = time.perf_counter() - t0
    lab_pe, ours_pe = lab_s / epochs, ours_s / epochs
    print(f"lab MLP, adam, batch 64, 48,000 train / 12,000 val images, {epochs} epochs, seed 42")
    print(
        f"  plain model.fit (lab)     : {lab_pe:6.2f} s/epoch   final val_acc {lab_hist['val_accuracy'][-1]:.4f}"
    )
    print(
        f"  ours (streaming to store) : {ours_pe:6.2f} s/epoch   final val_acc {ours.history['val_accuracy'][-1]:.4f}"
        f"   ({n_points[0]} points streamed, {n_points[0] / epochs:.0f}/epoch)"
    )
    print(
        f"  speed-up: {lab_pe / ours_pe:.2f}x   |val_acc difference| "
        f"{abs(lab_hist['val_accuracy'][-1] - ours.history['val_accuracy'][-1]):.4f}"
    )


if __name__ == "__main__":
    main()
