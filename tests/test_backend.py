"""Backends (a worker per Keras backend), learning-rate schedules and the presets' recipes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fmnist_core.augment import augment_problems
from fmnist_core.models import PRESET_INFO, PRESETS, preset_recipe
from fmnist_core.store import RunStore
from fmnist_core.training import LR_SCHEDULES, ONECYCLE_WARMUP, TrainConfig, learning_rate_for
from tests.conftest import ROOT, make_tiny_dataset


def test_run_key_differs_by_backend_and_default_keys_stay():
    tf_cfg, jax_cfg = TrainConfig(), TrainConfig(backend="jax")
    assert tf_cfg.key() != jax_cfg.key()
    # Existing runs keep their keys: the default backend and no schedule are not in the JSON at all.
    assert "backend" not in tf_cfg.to_dict() and "lr_schedule" not in tf_cfg.to_dict()
    assert tf_cfg.key() == "1ef15135aa5e92c8"  # the lab config's key before these fields existed
    assert json.loads(jax_cfg.to_json())["backend"] == "jax"
    assert TrainConfig.from_dict(jax_cfg.to_dict()) == jax_cfg
    assert TrainConfig(lr_schedule="cosine").key() != tf_cfg.key()


@pytest.mark.parametrize(
    "field, bad",
    [
        ("backend", "torch"),
        ("backend", ""),
        ("lr_schedule", "linear"),
        ("lr_schedule", "none"),
        ("augment", "shift"),
    ],
)
def test_backend_schedule_and_augmentation_refuse_unknown_values(field, bad):
    with pytest.raises(
        ValueError, match=field.replace("lr_schedule", "schedule").replace("augment", "augmentation")
    ):
        TrainConfig(**{field: bad})


def test_known_options_validate():
    for s in LR_SCHEDULES:
        assert TrainConfig(lr_schedule=s).lr_schedule == s
    assert augment_problems("flip_shift") == []
    assert TrainConfig(augment="flip_shift", backend="jax").backend == "jax"


def test_schedules_span_the_run():
    cfg = TrainConfig(epochs=4, learning_rate=0.01, lr_schedule="onecycle")
    sched = learning_rate_for(cfg, steps_per_epoch=100)
    total, warm = 400, int(400 * ONECYCLE_WARMUP)
    assert float(sched(0)) == pytest.approx(0.01 / 25)
    assert float(sched(warm)) == pytest.approx(0.01, rel=1e-4)  # the peak is the configured rate
    assert float(sched(warm // 2)) < 0.01 and float(sched(total - 1)) < 1e-4  # down to ~0 at the end
    cos = learning_rate_for(cfg.with_(lr_schedule="cosine"), steps_per_epoch=100)
    assert float(cos(0)) == pytest.approx(0.01) and float(cos(total)) == pytest.approx(0.0, abs=1e-9)
    assert learning_rate_for(cfg.with_(lr_schedule=None), steps_per_epoch=100) == 0.01


def test_preset_recipes_make_valid_configs():
    for name in PRESETS:
        cfg = TrainConfig(model=PRESETS[name], **preset_recipe(name))
        assert cfg.epochs == PRESET_INFO[name]["epochs"] and cfg.batch_size == PRESET_INFO[name]["batch_size"]
    best = preset_recipe("cnn_best")
    assert best["lr_schedule"] in LR_SCHEDULES and best["augment"] == "flip_shift"
    for info in PRESET_INFO.values():  # measured numbers shown on the Train page
        if "test_accuracy" in info:
            assert 0.8 < info["test_accuracy"] < 1 and info["seconds"] > 0 and info["measured"]


def test_claim_next_takes_only_its_backends_runs(tmp_path):
    s = RunStore(tmp_path / "home")
    jax_run = s.create_run(TrainConfig(backend="jax", seed=1))
    tf_run = s.create_run(TrainConfig(seed=2))
    assert s.queued_backends() == {"jax", "tensorflow"}
    assert s.claim_next(10, backend="tensorflow").id == tf_run  # the older jax run is not its own
    assert s.claim_next(10, backend="tensorflow") is None
    assert s.queued_backends() == {"jax"}
    assert s.claim_next(11, backend="jax").id == jax_run


@pytest.mark.slow
def test_a_run_on_each_backend_through_its_worker_and_the_app_loads_both(tmp_path, monkeypatch):
    """A tiny run per backend goes to that backend's worker; each saved model loads in a TensorFlow
    process (the app's) and predicts the classes its own worker recorded."""
    from fmnist_core.jobs import JobRunner
    from tests.test_jobs import wait_until

    data = make_tiny_dataset(tmp_path / "data", n_train=300, n_test=40)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(data))
    home = tmp_path / "home"
    runner = JobRunner(home, workers=1)
    try:
        tiny = TrainConfig(epochs=1, batch_size=32, seed=5)
        jax_id = runner.submit(tiny.with_(backend="jax"))
        tf_id = runner.submit(tiny)
        s = runner.store
        done = {
            rid: wait_until(
                lambda rid=rid: (r := s.get_run(rid)).status in ("finished", "failed") and r,
                timeout=180,
                what=f"run {rid}",
            )
            for rid in (jax_id, tf_id)
        }
        assert {r.status for r in done.values()} == {"finished"}, [r.error for r in done.values()]
        jax_pids, tf_pids = runner.worker_pids("jax"), runner.worker_pids("tensorflow")
        assert len(jax_pids) == 1 and len(tf_pids) == 1
        assert done[jax_id].worker_pid in jax_pids and done[tf_id].worker_pid in tf_pids
        probs = {rid: s.load_test_probs(rid) for rid in done}
    finally:
        runner.shutdown()
    # The app's process: Keras on TensorFlow, loading through the app's own loader.
    script = textwrap.dedent(
        f"""
        import json, os, sys
        import numpy as np
        import keras
        from fmnist_core.data import load_fashion_mnist
        from fmnist_core.models_io import load_stored_model
        from fmnist_core.store import RunStore
        assert keras.backend.backend() == "tensorflow", keras.backend.backend()
        x = load_fashion_mnist().x_test.astype(np.float32).reshape(-1, 784) / 255.0
        store = RunStore({str(home)!r})
        out = {{}}
        for rid in ({jax_id}, {tf_id}):
            m = load_stored_model(store, rid)
            out[rid] = np.asarray(m.predict(x, verbose=0)).argmax(1).tolist()
        print("CLASSES" + json.dumps(out))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    classes = json.loads(proc.stdout.split("CLASSES", 1)[1])
    for rid in (jax_id, tf_id):
        assert probs[rid] is not None and len(probs[rid]) == 40
        recorded = np.asarray(probs[rid]).argmax(1).tolist()
        assert classes[str(rid)] == recorded, rid
    assert not math.isnan(done[jax_id].test_accuracy)


def test_backend_speeds_cover_every_backend():
    from fmnist_core.models import BACKEND_LABELS, BACKEND_SECONDS_PER_EPOCH
    from fmnist_core.training import BACKENDS

    assert set(BACKEND_LABELS) == set(BACKENDS)
    for family in ("mlp", "cnn"):
        assert set(BACKEND_SECONDS_PER_EPOCH[family]) == set(BACKENDS)


def test_flip_shift_moves_whole_pixels_within_its_range():
    import tensorflow as tf

    from fmnist_core.augment import SHIFT_PX, augment_batch

    x = np.zeros((64, 28, 28, 1), np.float32)
    x[:, 10:18, 10:18] = 1.0  # a square centred on the mirror axis: only shifts move it
    y = augment_batch(tf.constant(x), tf.constant([3, 4], tf.int64), kind="flip_shift").numpy()
    moves = set()
    for im in y[..., 0]:
        rows, cols = np.nonzero(im)
        assert im.sum() == 64 and set(np.unique(im)) <= {0.0, 1.0}  # whole pixels, nothing lost
        moves.add((rows.min() - 10, cols.min() - 10))
    assert all(abs(dr) <= SHIFT_PX and abs(dc) <= SHIFT_PX for dr, dc in moves)
    assert len(moves) > 4  # shifts vary per image, both axes
