"""Comparison studies: statistics against hand-computed numbers, the verdict both ways, reuse instead of
retraining, the regularization variants' models, a tiny study through the job runner, and the CLI."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fmnist_core import compare
from fmnist_core.compare import StudySpec
from fmnist_core.models import PRESETS
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig
from tests.conftest import make_tiny_dataset

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ helpers (also used
# by the page tests): a runner that only queues, and a way to "finish" a run with chosen numbers.


class QueueOnlyRunner:
    """JobRunner's scheduling surface without worker processes: runs stay queued until a test ends them."""

    def __init__(self, home):
        self.store = RunStore(home)

    def submit(self, config, *, label="", study_id=None, variant=None) -> int:
        return self.store.create_run(config, label=label, study_id=study_id, variant=variant)


def finish_fake(store: RunStore, run_id: int, val_accs: list[float], *, test: float, seconds: float = 10.0):
    """Record epoch points with these validation accuracies (train accuracy 0.03 above) and finish the run."""
    for e, va in enumerate(val_accs, 1):
        store.add_point(
            run_id,
            {
                "kind": "epoch",
                "epoch": e,
                "step": 10,
                "progress": float(e),
                "loss": 1.0 / e,
                "accuracy": va + 0.03,
                "val_loss": 1.1 / e,
                "val_accuracy": va,
                "time": time.time(),
            },
        )
    store.finish_run(
        run_id,
        status="finished",
        test_accuracy=test,
        test_loss=0.4,
        seconds=seconds,
        epochs_done=len(val_accs),
    )


def fake_finished_study(
    home, *, spread: float = 0.002, seeds=(0, 1, 2), epochs: int = 3, centre: dict[str, float] | None = None
) -> str:
    """A finished 3-optimizer study with known numbers (no training): by default RMSprop ≈ Adam > SGD."""
    runner = QueueOnlyRunner(home)
    spec = StudySpec(
        base=TrainConfig(epochs=epochs, train_subset=1000),
        variants=("sgd", "adam", "rmsprop"),
        seeds=tuple(seeds),
        target=0.85,
    )
    sid, _ = compare.schedule_study(runner, spec, name="fake study")
    centre = centre or {"sgd": 0.80, "adam": 0.873, "rmsprop": 0.874}
    runs = compare.study_runs(runner.store, sid)
    for r in runs.itertuples():
        last = centre[r.variant] + spread * (r.seed - 1)
        curve = list(np.linspace(last - 0.06, last, epochs))
        finish_fake(runner.store, r.run_id, curve, test=last - 0.005, seconds=2.0 * epochs)
    return sid


def runs_table(rows: list[tuple]) -> pd.DataFrame:
    """(variant, seed, status, last, best, test, epochs_to_target, sec_per_epoch) -> a runs table."""
    cols = [
        "variant",
        "seed",
        "status",
        "last_val_accuracy",
        "best_val_accuracy",
        "test_accuracy",
        "epochs_to_target",
        "seconds_per_epoch",
    ]
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------------------------ summary & verdict


def test_summarize_matches_hand_computed_numbers():
    nan = math.nan
    table = runs_table(
        [
            ("a", 0, "finished", 0.80, 0.81, 0.79, 3, 1.0),
            ("a", 1, "finished", 0.82, 0.83, 0.80, nan, 2.0),
            ("a", 2, "finished", 0.84, 0.85, 0.81, 5, 3.0),
            ("b", 0, "finished", 0.90, 0.90, 0.88, 2, 1.5),
            ("b", 1, "finished", 0.86, 0.91, 0.86, 2, 1.5),
            ("b", 2, "failed", nan, nan, nan, nan, nan),  # not counted
            ("c", 0, "running", 0.99, 0.99, nan, 1, nan),  # not counted: not finished
        ]
    )
    s = compare.summarize(table).set_index("variant")
    # a: last 0.80, 0.82, 0.84 -> mean 0.82, sample std sqrt(((-.02)^2 + 0 + .02^2) / 2) = 0.02
    assert s.loc["a", "last_val_mean"] == pytest.approx(0.82)
    assert s.loc["a", "last_val_std"] == pytest.approx(0.02)
    assert (s.loc["a", "last_val_min"], s.loc["a", "last_val_max"]) == pytest.approx((0.80, 0.84))
    assert s.loc["a", "best_val_mean"] == pytest.approx(0.83)
    assert s.loc["a", "test_std"] == pytest.approx(0.01)
    # epochs to target over the runs that reached it: 3 and 5 -> mean 4, std sqrt(2)
    assert s.loc["a", "epochs_to_target_mean"] == pytest.approx(4.0)
    assert s.loc["a", "epochs_to_target_std"] == pytest.approx(math.sqrt(2))
    assert s.loc["a", "reached"] == 2
    assert s.loc["a", "sec_per_epoch_mean"] == pytest.approx(2.0) and s.loc["a", "sec_per_epoch_std"] == 1.0
    # b: 0.90, 0.86 -> mean 0.88, sample std |0.04| / sqrt(2)
    assert s.loc["b", "last_val_mean"] == pytest.approx(0.88)
    assert s.loc["b", "last_val_std"] == pytest.approx(0.04 / math.sqrt(2))
    assert (s.loc["b", "runs"], s.loc["b", "total"]) == (2, 3)
    assert s.loc["c", "runs"] == 0 and math.isnan(s.loc["c", "last_val_mean"])
    # ranked by last-epoch validation accuracy; the variant without finished runs last, unranked
    summary = compare.summarize(table)
    assert list(summary["variant"]) == ["b", "a", "c"]
    assert list(summary["best"]) == [True, False, False]
    assert summary["rank"].iloc[0] == 1 and pd.isna(summary["rank"].iloc[2])


def test_single_run_has_no_spread():
    s = compare.summarize(runs_table([("a", 0, "finished", 0.8, 0.8, 0.8, 1, 1.0)]))
    assert s["runs"].iloc[0] == 1 and math.isnan(s["last_val_std"].iloc[0])  # ddof=1 with n=1: unknown


def test_verdict_within_spread():
    table = runs_table(
        [("rmsprop", i, "finished", v, v, v, 1, 1.0) for i, v in enumerate((0.872, 0.874, 0.876))]
        + [("adam", i, "finished", v, v, v, 1, 1.0) for i, v in enumerate((0.870, 0.873, 0.876))]
    ).assign(label=lambda d: d["variant"].map({"rmsprop": "RMSprop", "adam": "Adam"}))
    sentence = compare.verdict(compare.summarize(table))
    assert compare.separation(compare.summarize(table)) == "within"
    assert sentence == (
        "RMSprop (0.874 ± 0.002) and Adam (0.873 ± 0.003) are within each other's spread over 3 seeds: "
        "this comparison cannot tell them apart."
    )


def test_verdict_separated():
    table = runs_table(
        [("adam", i, "finished", v, v, v, 1, 1.0) for i, v in enumerate((0.872, 0.874, 0.876))]
        + [("sgd", i, "finished", v, v, v, 1, 1.0) for i, v in enumerate((0.830, 0.840, 0.850))]
    )
    sentence = compare.verdict(compare.summarize(table))
    assert compare.separation(compare.summarize(table)) == "separated"
    assert sentence.startswith("adam (0.874 ± 0.002) is ahead of sgd (0.840 ± 0.010) by more than the spread")
    assert "over 3 seeds" in sentence and "0.034" in sentence


def test_verdict_single_seed_and_nothing_finished():
    one = runs_table(
        [("adam", 0, "finished", 0.87, 0.87, 0.86, 1, 1.0), ("sgd", 0, "finished", 0.85, 0.85, 0.84, 1, 1.0)]
    )
    assert "spread is unknown" in compare.verdict(compare.summarize(one))
    assert compare.separation(compare.summarize(one)) == "unknown"
    none = runs_table([("adam", 0, "queued", *[math.nan] * 5)])
    assert "nothing to compare" in compare.verdict(compare.summarize(none))


def test_epochs_to_target_and_progress():
    points = pd.DataFrame(
        {
            "run_id": [1, 1, 1, 2, 2, 1],
            "kind": ["epoch"] * 5 + ["batch"],
            "epoch": [1, 2, 3, 1, 2, 1],
            "val_accuracy": [0.80, 0.86, 0.90, 0.70, 0.75, 0.99],
        }
    )
    reached = compare.epochs_to_target(points, 0.85)
    assert reached.to_dict() == {1: 2.0}  # batch rows never count; run 2 never reached it
    runs = pd.DataFrame(
        {
            "status": ["finished", "running", "queued", "failed"],
            "epochs": [10] * 4,
            "epochs_done": [10, 4, 0, 2],
            "seconds_per_epoch": [2.0, np.nan, np.nan, np.nan],
        }
    )
    p = compare.study_progress(runs)
    assert (p.done, p.total, p.running, p.queued, p.failed) == (2, 4, 1, 1, 1)
    assert p.eta_seconds == pytest.approx((6 + 10) * 2.0 + 2 * compare.RUN_OVERHEAD_S)


# ------------------------------------------------------------------------------------ specs and variants


def test_variant_config_optimizer_and_lr_policy():
    spec = StudySpec(base=TrainConfig(epochs=3), variants=("sgd", "adam"), seeds=(0, 1))
    c = compare.variant_config(spec, "sgd", 1)
    assert (c.optimizer, c.learning_rate, c.seed, c.epochs) == ("sgd", None, 1, 3)
    assert c.effective_lr == 0.01  # Keras' default for SGD
    assert compare.variant_config(spec, "sgd", 1).key() == c.key()  # same seed and config: same identity
    assert compare.variant_config(spec, "sgd", 0).key() != c.key()
    shared = StudySpec(base=TrainConfig(), variants=("sgd", "adam"), lr_policy="shared", shared_lr=0.003)
    assert {compare.variant_config(shared, v, 0).effective_lr for v in shared.variants} == {0.003}


def test_spec_round_trip_and_refusals():
    spec = StudySpec(base=TrainConfig(epochs=2), variants=("none", "l2"), kind="regularization", seeds=(3,))
    assert StudySpec.from_dict(spec.to_dict()) == spec
    for bad, words in [
        (dict(variants=("adam",)), "at least two"),
        (dict(variants=("adam", "lbfgs")), "unknown"),
        (dict(variants=("adam", "adam")), "only once"),
        (dict(seeds=()), "at least one seed"),
        (dict(lr_policy="shared"), "needs a value"),
        (dict(target=1.5), "between 0 and 1"),
        (dict(seeds=tuple(range(50))), "too many"),
        (dict(base=TrainConfig(train_subset=32, batch_size=64)), "larger than the training subset"),
    ]:
        with pytest.raises(ValueError, match=words):
            StudySpec(**bad)


def test_regularization_variants_build_the_models_they_claim():
    import keras

    from fmnist_core.models import build_model

    base = PRESETS["lab_mlp"]

    def layers_of(variant: str):
        model = build_model(compare.REGULARIZATION_VARIANTS[variant](base))
        kinds = [type(layer).__name__ for layer in model.layers]
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        l2 = [layer.kernel_regularizer for layer in dense]
        return kinds, rates, l2

    kinds, rates, l2 = layers_of("none")
    assert rates == [] and "BatchNormalization" not in kinds and all(r is None for r in l2)
    _, rates, _ = layers_of("dropout")
    assert rates == [0.5]  # the lab's model
    assert compare.REGULARIZATION_VARIANTS["dropout"](base) == base
    _, rates, _ = layers_of("dropout_all")
    assert rates == [0.5, 0.5]
    kinds, rates, l2 = layers_of("l2")
    assert rates == [] and len(l2) == 3 and all(float(r.l2) == pytest.approx(compare.L2_STRENGTH) for r in l2)
    kinds, rates, _ = layers_of("batch_norm")
    assert kinds.count("BatchNormalization") == 2 and rates == []


# ------------------------------------------------------------------------------------ scheduling and reuse


def test_schedule_twice_reuses_everything_and_creates_no_runs(tmp_path):
    runner = QueueOnlyRunner(tmp_path)
    spec = StudySpec(base=TrainConfig(epochs=1, train_subset=100), variants=("sgd", "adam"), seeds=(0, 1))
    sid, counts = compare.schedule_study(runner, spec, name="first")
    assert counts == {"queued": 4, "reused": 0, "already_running": 0}
    runs = compare.study_runs(runner.store, sid)
    assert list(runs["seed"]) == [0, 1, 0, 1] and set(runs["status"]) == {"queued"}
    # queued in seed-major order: the first runs cover every variant
    queued = sorted(runner.store.runs(study_id=sid), key=lambda r: r.id)
    assert [(r.variant, r.config["seed"]) for r in queued] == [
        ("sgd", 0),
        ("adam", 0),
        ("sgd", 1),
        ("adam", 1),
    ]

    _, again = compare.schedule_study(runner, spec)  # still queued: attach, don't double-queue
    assert again == {"queued": 0, "reused": 0, "already_running": 4}
    for r in runs.itertuples():
        finish_fake(runner.store, r.run_id, [0.8], test=0.8)
    n_before = len(runner.store.runs())
    sid2, reused = compare.schedule_study(runner, spec)
    assert reused == {"queued": 0, "reused": 4, "already_running": 0}
    assert len(runner.store.runs()) == n_before  # no new run rows
    assert sid2 != sid
    assert sorted(compare.study_runs(runner.store, sid2)["run_id"]) == sorted(runs["run_id"])
    assert compare.estimate_seconds(spec, runner.store) == 0.0  # nothing left to train


def test_schedule_is_idempotent_per_study_id(tmp_path):
    runner = QueueOnlyRunner(tmp_path)
    spec = StudySpec(base=TrainConfig(epochs=1), variants=("sgd", "adam"), seeds=(0,))
    sid, counts = compare.schedule_study(runner, spec, study_id="click-1")
    assert sid == "click-1" and counts["queued"] == 2
    sid_again, counts_again = compare.schedule_study(runner, spec, study_id="click-1")  # a replayed click
    assert (sid_again, counts_again) == (sid, counts)
    assert len(runner.store.runs()) == 2 and len(runner.store.studies()) == 1


def test_stop_study_cancels_only_its_own_runs(tmp_path):
    runner = QueueOnlyRunner(tmp_path)
    spec = StudySpec(base=TrainConfig(epochs=1), variants=("sgd", "adam"), seeds=(0,))
    first, _ = compare.schedule_study(runner, spec)
    wider = StudySpec(base=TrainConfig(epochs=1), variants=("sgd", "adam", "rmsprop"), seeds=(0,))
    second, counts = compare.schedule_study(runner, wider)
    assert counts == {"queued": 1, "reused": 0, "already_running": 2}
    out = compare.stop_study(runner.store, second)
    assert out == {"cancelled": 1, "stopping": 0, "elsewhere": 2}
    assert set(compare.study_runs(runner.store, first)["status"]) == {"queued"}  # the other study untouched


def test_estimate_uses_past_runs_else_a_prior(tmp_path):
    runner = QueueOnlyRunner(tmp_path)
    spec = StudySpec(base=TrainConfig(epochs=10), variants=("sgd", "adam"), seeds=(0, 1))
    prior = compare.estimate_seconds(spec, runner.store)
    assert 4 * 10 * 0.5 < prior < 4 * 10 * 5 + 20  # lab MLP on 48,000 images: ~1-2 s per epoch here
    past = runner.store.create_run(TrainConfig(epochs=2, seed=99, train_subset=4800))
    runner.store.finish_run(past, status="finished", seconds=2.0, epochs_done=2)  # 1 s per 4,800 images
    assert compare.estimate_seconds(spec, runner.store) == pytest.approx(
        4 * (10 * 10.0 + compare.RUN_OVERHEAD_S)
    )


def test_study_points_carry_variant_and_seed(tmp_path):
    sid = fake_finished_study(tmp_path)
    store = RunStore(tmp_path)
    runs = compare.study_runs(store, sid)
    points = compare.study_points(store, runs)
    assert {"run_id", "variant", "seed", "epoch", "progress", "kind", "val_accuracy"} <= set(points.columns)
    assert set(points["variant"]) == {"SGD", "Adam", "RMSprop"} and set(points["seed"]) == {0, 1, 2}
    assert "cannot tell them apart" in compare.verdict(compare.summarize(runs))
    csv = compare.runs_csv(runs).decode()
    assert csv.splitlines()[0].startswith("run_id,variant,label,seed,status") and len(csv.splitlines()) == 10


# ------------------------------------------------------------------------------------ through the job runner


def _wait(pred, timeout=180.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)  # another process's progress is visible only through the store
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def tiny_env(tmp_path, monkeypatch):
    data = make_tiny_dataset(tmp_path / "data", n_train=400, n_test=50)
    home = tmp_path / "home"
    monkeypatch.setenv("FMNIST_DATA_DIR", str(data))
    monkeypatch.setenv("FMNIST_HOME", str(home))
    return home


@pytest.mark.slow
def test_tiny_study_end_to_end_through_the_job_runner(tiny_env):
    from fmnist_core.jobs import JobRunner

    runner = JobRunner(tiny_env, workers=1)
    try:
        spec = StudySpec(base=TrainConfig(epochs=1, batch_size=32), variants=("sgd", "adam"), seeds=(0, 1))
        sid, counts = compare.schedule_study(runner, spec)
        assert counts["queued"] == 4
        store = runner.store
        _wait(lambda: not compare.is_active(compare.study_runs(store, sid)), what="the study to finish")
        runs = compare.study_runs(store, sid)
        assert list(runs["status"]) == ["finished"] * 4, runs[["status", "error"]]
        assert runs["test_accuracy"].notna().all() and (runs["epochs_done"] == 1).all()
        assert runs["seconds_per_epoch"].gt(0).all()
        assert {r.worker_pid for r in store.runs(study_id=sid)} == {store.runs(study_id=sid)[0].worker_pid}
        summary = compare.summarize(runs)
        assert list(summary["runs"]) == [2, 2] and summary["last_val_std"].notna().all()
        assert compare.verdict(summary).startswith(("Adam", "SGD"))
        n_runs = len(store.runs())
        _, again = compare.schedule_study(runner, spec)  # repeated: trains nothing
        assert again == {"queued": 0, "reused": 4, "already_running": 0}
        assert len(store.runs()) == n_runs
    finally:
        runner.shutdown()


@pytest.mark.slow
def test_cli_prints_leaderboard_and_reuses_runs(tiny_env):
    env = {**os.environ, "FMNIST_HOME": str(tiny_env), "FMNIST_DATA_DIR": os.environ["FMNIST_DATA_DIR"]}
    cmd = [
        sys.executable,
        "-m",
        "fmnist_core",
        "compare",
        "--optimizers",
        "sgd,adam",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--train-subset",
        "200",
    ]
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "4 to train" in out and "[4/4]" in out
    assert "Leaderboard" in out and "SGD" in out and "Adam" in out and "± " in out
    assert "over 2 seeds" in out
    store = RunStore(tiny_env)
    n_runs = len(store.runs())
    assert n_runs == 4

    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "4 reused" in second.stdout and "0 to train" in second.stdout and "[1/" not in second.stdout
    assert "Leaderboard" in second.stdout and "over 2 seeds" in second.stdout
    assert len(store.runs()) == n_runs  # trained nothing
    assert len(store.studies()) == 2


def test_cli_refuses_bad_settings_with_a_message(tiny_env):
    env = {**os.environ, "FMNIST_HOME": str(tiny_env)}
    bad = subprocess.run(
        [sys.executable, "-m", "fmnist_core", "compare", "--optimizers", "adam"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "at least two variants" in bad.stderr and "Traceback" not in bad.stderr
