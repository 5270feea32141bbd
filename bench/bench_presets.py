"""Time-to-accuracy of the CNN presets on 2 CPU cores (all 48,000 training images, test accuracy).

python -m bench presets                 # cnn_fast with its suggested epochs
BENCH_PRESETS=cnn_fast,cnn_best python -m bench presets
"""

from __future__ import annotations

import os
import time

from fmnist_core.data import load_fashion_mnist
from fmnist_core.models import PRESET_INFO, PRESETS, param_count
from fmnist_core.training import TrainConfig, train


def main() -> None:
    data = load_fashion_mnist()
    for name in os.environ.get("BENCH_PRESETS", "cnn_fast").split(","):
        info = PRESET_INFO[name]
        cfg = TrainConfig(
            model=PRESETS[name], optimizer="adam", epochs=info["epochs"], batch_size=info["batch_size"]
        )
        t0 = time.perf_counter()
        r = train(cfg, data)
        total = time.perf_counter() - t0
        print(
            f"{name}: {param_count(cfg.model):,} params, {cfg.epochs} epochs x batch {cfg.batch_size}: "
            f"fit {r.seconds:.0f} s ({r.seconds / cfg.epochs:.1f} s/epoch), total {total:.0f} s; "
            f"val_acc {r.history['val_accuracy'][-1]:.4f}, TEST ACC {r.test_accuracy:.4f}"
        )


if __name__ == "__main__":
    main()
