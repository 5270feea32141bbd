"""Time to accuracy of the presets, per Keras backend, on this machine (all 48,000 training images,
each preset's own recipe: epochs, batch, optimizer, rate schedule, augmentation; test accuracy at the end).

    python -m bench presets                               # every preset x tensorflow, jax
    BENCH_PRESETS=cnn_best BENCH_BACKENDS=tensorflow python -m bench presets
    BENCH_MAX_EPOCHS=2 python -m bench presets            # s/epoch only (accuracy after 2 epochs)

Keras fixes its backend per process, so each (preset, backend) trains in a fresh child process
(`python -m bench.bench_presets --one PRESET BACKEND`), as the app's workers do; the table goes to stdout
as Markdown for the README. Seconds are `model.fit`'s wall clock (training + per-epoch validation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(preset: str, backend: str, max_epochs: int | None) -> dict:
    """Train `preset` on `backend` in this process (KERAS_BACKEND already set); returns its numbers."""
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.models import PRESETS, param_count, preset_recipe
    from fmnist_core.training import TrainConfig, train

    data = load_fashion_mnist()
    cfg = TrainConfig(model=PRESETS[preset], backend=backend, **preset_recipe(preset))
    if max_epochs and max_epochs < cfg.epochs:
        cfg = cfg.with_(epochs=max_epochs)  # note: a schedule then spans the shorter run
    t0 = time.perf_counter()
    r = train(cfg, data)
    return {
        "preset": preset,
        "backend": backend,
        "params": param_count(cfg.model),
        "epochs": cfg.epochs,
        "batch": cfg.batch_size,
        "fit_seconds": r.seconds,
        "s_per_epoch": r.seconds / cfg.epochs,
        "total_seconds": time.perf_counter() - t0,
        "val_accuracy": r.history["val_accuracy"][-1],
        "test_accuracy": r.test_accuracy,
    }


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from fmnist_core.models import PRESETS

    presets = os.environ.get("BENCH_PRESETS", ",".join(PRESETS)).split(",")
    backends = os.environ.get("BENCH_BACKENDS", "tensorflow,jax").split(",")
    max_epochs = os.environ.get("BENCH_MAX_EPOCHS")
    rows = []
    for preset in presets:
        for backend in backends:
            env = {
                **os.environ,
                "KERAS_BACKEND": backend,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONPATH": str(ROOT),
            }
            cmd = [sys.executable, "-m", "bench.bench_presets", "--one", preset, backend, max_epochs or "0"]
            cpu0 = _children_cpu()
            out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
            cpu = (
                _children_cpu() - cpu0
            )  # the child's CPU seconds: a load-independent check on a busy machine
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{preset} on {backend} failed:\n{out.stderr[-2000:]}", flush=True)
                continue
            row = json.loads(line[7:])
            row["cpu_seconds"] = cpu
            rows.append(row)
            print(
                f"{preset:18s} {backend:10s} {row['epochs']:>3} epochs x {row['batch']:<4} "
                f"fit {row['fit_seconds']:6.0f} s ({row['s_per_epoch']:5.1f} s/epoch)  "
                f"val {row['val_accuracy']:.4f}  TEST {row['test_accuracy']:.4f}  (process CPU {cpu:.0f} s)",
                flush=True,
            )
    print("\n| preset | backend | epochs x batch | test accuracy | seconds (fit) | s/epoch | process CPU s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r['preset']}` | {r['backend']} | {r['epochs']} x {r['batch']} | {r['test_accuracy']:.4f} | "
            f"{r['fit_seconds']:.0f} | {r['s_per_epoch']:.1f} | {r['cpu_seconds']:.0f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        _, _, preset, backend, max_epochs = sys.argv
        print("RESULT " + json.dumps(one(preset, backend, int(max_epochs) or None)), flush=True)
    else:
        main()
