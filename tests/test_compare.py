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
from fmnist_core.models import OPTIMIZERS as OPTIMIZERS_ALL
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
        # RMSprop's seed-to-seed noise runs against the others', so paired differences have a spread too
        last = centre[r.variant] + spread * (r.seed - 1) * (-1 if r.variant == "rmsprop" else 1)
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
    # ranked by the kept weights' validation accuracy (a table without early stopping: the last epoch's);
    # the variant without finished runs last, unranked
    summary = compare.summarize(table)
    assert list(summary["variant"]) == ["b", "a", "c"]
    assert list(summary["best"]) == [True, False, False]
    assert summary["rank"].iloc[0] == 1 and pd.isna(summary["rank"].iloc[2])


def test_single_run_has_no_spread():
    s = compare.summarize(runs_table([("a", 0, "finished", 0.8, 0.8, 0.8, 1, 1.0)]))
    assert s["runs"].iloc[0] == 1 and math.isnan(s["last_val_std"].iloc[0])  # ddof=1 with n=1: unknown


def _pair_table(a: dict[str, list[float]]) -> pd.DataFrame:
    """variant -> last-epoch validation accuracies by seed 0, 1, … -> a runs table."""
    return runs_table([(v, i, "finished", x, x, x, 1, 1.0) for v, xs in a.items() for i, x in enumerate(xs)])


def test_paired_statistics_match_scipy_on_hand_made_numbers():
    from scipy import stats as sps

    rms, adam = [0.872, 0.874, 0.876], [0.870, 0.873, 0.876]
    table = _pair_table({"rmsprop": rms, "adam": adam}).assign(
        label=lambda d: d["variant"].map({"rmsprop": "RMSprop", "adam": "Adam"})
    )
    summary = compare.summarize(table)
    pr = compare.paired_vs_top(summary, table)["adam"]
    ref = sps.ttest_rel(rms, adam)
    ci = ref.confidence_interval(0.95)
    # differences 0.002, 0.001, 0.000: mean 0.001, sample sd 0.001, t = sqrt(3), df 2
    assert pr.n == 3 and pr.diff == pytest.approx(0.001) and pr.sd == pytest.approx(0.001)
    assert pr.p == pytest.approx(ref.pvalue) and pr.p == pytest.approx(0.2254, abs=1e-4)
    assert pr.ci == pytest.approx((ci.low, ci.high))
    half = sps.t.ppf(0.975, 2) * 0.001 / math.sqrt(3)  # the t interval by hand
    assert pr.ci == pytest.approx((0.001 - half, 0.001 + half))
    assert pr.boot_ci is None  # fewer than 5 seeds: no bootstrap
    assert pr.decision == "not distinguishable"
    # seeds needed: the smallest n whose noncentral-t power at d = 1 reaches 80% (n = 10 for d = 1)
    assert pr.seeds_needed == 10
    sentence = compare.verdict(summary, table)
    assert sentence.startswith(
        "RMSprop is ahead of Adam by 0.1 points (95% CI −0.1 to 0.3, p = 0.23, 3 paired seeds): "
        "not distinguishable; about 10 paired seeds would separate them"
    )
    assert compare.separation(summary, table) == "within"
    # mean ± sd stays the description of the spread
    board = compare.leaderboard_table(summary, table)
    assert list(board["val acc"]) == ["0.874 ± 0.002", "0.873 ± 0.003"]
    assert "last val acc" not in board  # the same numbers as "val acc" without early stopping
    assert list(board["top ahead by (points)"]) == ["(top)", "0.1"] and board["p"].iloc[1] == "0.23"


def test_bootstrap_interval_from_five_seeds_and_a_clear_winner():
    from scipy import stats as sps

    adam = [0.872, 0.874, 0.876, 0.871, 0.875, 0.873]
    sgd = [0.830, 0.840, 0.850, 0.836, 0.845, 0.842]
    table = _pair_table({"adam": adam, "sgd": sgd})
    summary = compare.summarize(table)
    pr = compare.paired_vs_top(summary, table)["sgd"]
    d = np.array(adam) - np.array(sgd)
    assert pr.p == pytest.approx(sps.ttest_rel(adam, sgd).pvalue) and pr.p < 0.001
    ref = sps.bootstrap((d,), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(0))
    assert pr.boot_ci == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert pr.boot_ci[0] <= d.mean() <= pr.boot_ci[1]
    assert pr.decision == "distinguishable"
    sentence = compare.verdict(summary, table)
    assert (
        sentence.startswith("adam is ahead of sgd by 3.3 points (95% CI ")
        and "6 paired seeds; bootstrap" in sentence
    )
    assert sentence.endswith(": distinguishable.") and "p < 0.001" in sentence
    assert compare.separation(summary, table) == "separated"


def test_one_seed_gives_no_verdict_and_says_why():
    table = _pair_table({"adam": [0.87], "sgd": [0.85]})
    summary = compare.summarize(table)
    pr = compare.paired_vs_top(summary, table)["sgd"]
    assert pr.n == 1 and pr.p is None and pr.ci is None and pr.decision == "no verdict"
    sentence = compare.verdict(summary, table)
    assert "no verdict" in sentence and "one paired seed" in sentence and "spread is unknown" in sentence
    assert compare.separation(summary, table) == "unknown"
    board = compare.leaderboard_table(summary, table)
    assert board["p"].iloc[1] == "1 seed: none"
    none = runs_table([("adam", 0, "queued", *[math.nan] * 5)])
    assert "nothing to compare" in compare.verdict(compare.summarize(none), none)


def test_identical_runs_are_identical_not_a_test():
    table = _pair_table({"adam": [0.87, 0.86, 0.88], "nadam": [0.87, 0.86, 0.88]})
    summary = compare.summarize(table)
    pr = compare.paired_vs_top(summary, table)["nadam"]
    assert pr.diff == 0 and pr.sd == 0 and pr.decision == "identical" and pr.seeds_needed is None
    assert "identical results on all 3 paired seeds" in compare.verdict(summary, table)
    # the same non-zero difference on every seed: no spread at all, a clear (exact) winner
    table = _pair_table({"adam": [0.88, 0.87, 0.89], "sgd": [0.86, 0.85, 0.87]})
    pr = compare.paired_vs_top(compare.summarize(table), table)["sgd"]
    assert pr.decision == "distinguishable" and pr.ci == pytest.approx((0.02, 0.02))


def test_seeds_needed_grows_as_the_difference_shrinks():
    assert compare.seeds_needed(0.01, 0.01) == 10
    assert (
        compare.seeds_needed(0.005, 0.01)
        > compare.seeds_needed(0.01, 0.01)
        > compare.seeds_needed(0.03, 0.01)
    )
    assert compare.seeds_needed(0.0, 0.01) is None
    assert compare.seeds_needed(1e-6, 0.01) == compare.MAX_SEEDS_NEEDED + 1
    assert "more than 1000 seeds" in compare.seeds_sentence(compare.MAX_SEEDS_NEEDED + 1)


def test_pairing_uses_only_seeds_both_finished():
    table = _pair_table({"adam": [0.87, 0.86, 0.88], "sgd": [0.85, 0.84]})  # sgd seed 2 missing
    pr = compare.paired_vs_top(compare.summarize(table), table)["sgd"]
    assert pr.n == 2 and pr.diff == pytest.approx(0.02)


def test_same_seed_variants_share_initial_weights_and_other_seeds_do_not():
    """The pairing claim the verdict rests on: for one seed, every optimizer (and every regularizer that
    keeps the layers) starts from identical weights; `set_random_seed` also fixes the batch order."""
    from fmnist_core.training import seeded_compiled_model

    spec = StudySpec(base=TrainConfig(epochs=1), variants=("sgd", "adam", "rmsprop"), seeds=(3,))
    weights = {
        v: seeded_compiled_model(compare.variant_config(spec, v, 3)).get_weights() for v in spec.variants
    }
    for v in ("adam", "rmsprop"):
        assert all(np.array_equal(a, b) for a, b in zip(weights["sgd"], weights[v], strict=True))
    other = seeded_compiled_model(compare.variant_config(spec, "sgd", 4)).get_weights()
    assert not np.array_equal(other[0], weights["sgd"][0])
    reg = StudySpec(
        base=TrainConfig(epochs=1), variants=("none", "l2", "flip"), seeds=(3,), kind="regularization"
    )
    kernels = {
        v: [w for w in seeded_compiled_model(compare.variant_config(reg, v, 3)).get_weights() if w.ndim == 2]
        for v in reg.variants
    }
    for v in ("l2", "flip"):
        assert all(np.array_equal(a, b) for a, b in zip(kernels["none"], kernels[v], strict=True))


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
    # L2 as a sweep of strengths, and flip augmentation on the plain network
    for name, strength in compare.L2_SWEEP.items():
        _, _, l2 = layers_of(name)
        assert all(float(r.l2) == pytest.approx(strength) for r in l2)
    spec = StudySpec(base=TrainConfig(), variants=("none", "flip"), seeds=(0,), kind="regularization")
    flip, none = (compare.variant_config(spec, v, 0) for v in ("flip", "none"))
    assert flip.augment == "flip" and none.augment is None and flip.model == none.model


# ------------------------------------------------------------------------------------ the learning-rate sweep


def test_sweep_plan_covers_optimizers_rates_and_seeds():
    spec = StudySpec(
        base=TrainConfig(epochs=3),
        variants=("sgd", "adam"),
        seeds=(0, 1),
        kind="sweep",
        lrs=(1e-3, 1e-2, 0.1),
    )
    members = list(compare.study_members(spec))
    assert len(members) == 2 * 3 * 2
    assert spec.n_runs == len(members) + 2 * 2  # then each optimizer at its best rate on 2 fresh seeds
    assert members[:6] == [
        (f"{o}@{lr:g}", 0) for o in ("sgd", "adam") for lr in (1e-3, 1e-2, 0.1)
    ]  # seed-major
    c = compare.variant_config(spec, "adam@0.01", 1)
    assert (c.optimizer, c.learning_rate, c.seed, c.epochs) == ("adam", 0.01, 1, 3)
    # at Keras' default rate a sweep run is the optimizer study's run (same key: reused, not retrained)
    plain = StudySpec(base=TrainConfig(epochs=3), variants=("sgd", "adam"), seeds=(1,))
    assert (
        compare.variant_config(spec, "adam@0.001", 1).key() == compare.variant_config(plain, "adam", 1).key()
    )
    assert compare.variant_label("sweep", "adam@0.01") == "Adam @ 0.01"
    # default grid: 5 rates around each optimizer's Keras default
    default = StudySpec(base=TrainConfig(), variants=("sgd", "adam"), seeds=(0,), kind="sweep")
    assert default.rates_for("adam") == (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    assert default.rates_for("sgd") == (1e-3, 3e-3, 1e-2, 3e-2, 0.1)
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert compare.parse_rates("1e-4, 3e-4,0.001") == ((1e-4, 3e-4, 1e-3), None)
    assert "not a number" in compare.parse_rates("1e-3, fast")[1]
    assert "at least two" in compare.parse_rates("1e-3")[1]
    assert "1e-06 to 10" in compare.parse_rates("1e-3, 50")[1]
    with pytest.raises(ValueError, match="too many"):
        StudySpec(variants=tuple(OPTIMIZERS_ALL), seeds=tuple(range(5)), kind="sweep")


def _sweep_runs(values: dict[tuple[str, float], list[tuple[float, float]]]) -> pd.DataFrame:
    """(optimizer, lr) -> [(last val, test) per seed] -> a sweep's runs table."""
    rows = []
    for (opt, lr), per_seed in values.items():
        for seed, (val, test) in enumerate(per_seed):
            rows.append(
                {
                    "variant": f"{opt}@{lr:g}",
                    "label": f"{opt} @ {lr:g}",
                    "seed": seed,
                    "status": "finished",
                    "optimizer": opt,
                    "learning_rate": lr,
                    "last_val_accuracy": val,
                    "best_val_accuracy": val,
                    "test_accuracy": test,
                    "epochs_to_target": math.nan,
                    "seconds_per_epoch": 1.0,
                }
            )
    return pd.DataFrame(rows)


def test_best_rate_is_chosen_on_validation_and_reported_on_test():
    runs = _sweep_runs(
        {
            ("sgd", 0.01): [(0.80, 0.99), (0.81, 0.99)],  # best on test, not on validation: must not win
            ("sgd", 0.1): [(0.85, 0.84), (0.86, 0.85)],
            ("adam", 0.001): [(0.87, 0.86), (0.88, 0.87)],
            ("adam", 0.01): [(0.87, 0.80), (0.88, 0.81)],  # tie on validation: the lower rate wins
            ("adagrad", 0.1): [(0.95, 0.90)],  # one lucky seed while another rate has two
            ("adagrad", 0.01): [(0.84, 0.83), (0.85, 0.84)],
        }
    )
    best = compare.best_rates(runs)
    assert best == {"sgd": 0.1, "adam": 0.001, "adagrad": 0.01}
    table = compare.sweep_table(runs)
    assert list(table["optimizer"].unique()) == ["sgd", "adam", "adagrad"]
    row = table[(table["optimizer"] == "sgd") & (table["learning_rate"] == 0.1)].iloc[0]
    assert row["val_mean"] == pytest.approx(0.855) and row["n"] == 2
    comp = compare.comparison_runs(runs, best)
    assert sorted(comp["variant"].unique()) == ["adagrad", "adam", "sgd"] and len(comp) == 6
    assert set(comp["label"]) == {"SGD (lr 0.1)", "Adam (lr 0.001)", "Adagrad (lr 0.01)"}
    summary = compare.summarize(comp, rank_by=compare.REPORT_BY)
    assert summary["label"].iloc[0] == "Adam (lr 0.001)"  # ranked on test
    assert compare.verdict(summary, comp).startswith("Adam (lr 0.001) is ahead of SGD (lr 0.1) by 2.0 points")


def test_budget_refusal_says_how_to_shrink(monkeypatch):
    spec = StudySpec(base=TrainConfig(epochs=10), variants=("sgd", "adam"), seeds=(0, 1), kind="sweep")
    monkeypatch.setenv("FMNIST_STUDY_BUDGET", "60")
    problem = compare.budget_problem(spec, seconds=3600.0)
    assert "about 1 h 00 min, beyond the budget of 1 min 00 s" in problem
    assert (
        "FMNIST_STUDY_BUDGET" in problem
        and "fewer learning rates" in problem
        and "--train-subset 5000" in problem
    )
    assert compare.budget_problem(spec, seconds=59.0) is None
    monkeypatch.setenv("FMNIST_STUDY_BUDGET", "0")  # no limit
    assert compare.budget_problem(spec, seconds=1e9) is None


# ------------------------------------------------------------------------------------ reproducing the lab


def test_lab_report_puts_each_claim_next_to_the_seeds(tmp_path):
    store = RunStore(tmp_path)
    specs = compare.lab_specs(3, epochs=2, train_subset=500)
    assert [s.kind for s in specs.values()] == ["optimizer", "regularization"]
    assert specs["optimizers"].variants == ("sgd", "adagrad", "adam", "rmsprop")
    # the base MLP is both the Adam run and the lab's dropout variant: one config, trained once
    assert (
        compare.variant_config(specs["optimizers"], "adam", 0).key()
        == compare.variant_config(specs["regularization"], "dropout", 0).key()
    )
    centre = {"sgd": 0.82, "adagrad": 0.78, "adam": 0.873, "rmsprop": 0.874, "dropout_all": 0.86}
    runner = QueueOnlyRunner(tmp_path)
    for spec in specs.values():
        sid, _ = compare.schedule_study(runner, spec)
        for r in compare.study_runs(store, sid).itertuples():
            if r.status == "queued":
                last = centre.get(r.variant, centre["adam"]) + 0.002 * (r.seed - 1)
                last += 0.003 if (r.variant, r.seed) == ("rmsprop", 0) else 0.0  # seed noise
                finish_fake(store, r.run_id, [last - 0.01, last], test=last)
    runs = compare.lab_runs(store, specs)
    assert (runs["status"] == "finished").all() and len(runs) == 3 * 6
    report = compare.lab_report(runs)
    assert list(report.columns) == ["claim", "lab (one run)", "seeds show", "verdict"] and len(report) == 5
    by = report.set_index("claim")
    base = by.loc["The base MLP (Adam, dropout 0.5 after the first layer) reaches 0.8735"]
    assert base["verdict"].startswith("reproduced") and "0.873 ± 0.002" in base["seeds show"]
    best = by.loc["RMSprop is the best of the four optimizers (0.8752)"]["verdict"]
    assert (
        best.startswith("best by the mean: RMSprop. RMSprop is ahead of Adam by 0.2 points")
        and "not distinguishable" in best
    )
    assert by.loc["Adagrad is the worst optimizer"]["verdict"].startswith(
        "worst by the mean: Adagrad. SGD is ahead of Adagrad"
    )
    md = compare.report_markdown(report, seeds=3, epochs=2, train_subset=500)
    assert md.startswith("# The lab's claims") and md.count("\n| ") >= 6
    assert compare.report_csv(report).decode().startswith("claim,lab (one run),seeds show,verdict")


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
    past = runner.store.create_run(TrainConfig(epochs=2, seed=99, train_subset=30000))
    runner.store.finish_run(past, status="finished", seconds=10.0, epochs_done=2)  # 5 s per 30,000 images
    assert compare.estimate_seconds(spec, runner.store) == pytest.approx(
        4 * (10 * 8.0 + compare.RUN_OVERHEAD_S)
    )
    # a tiny run's epoch is mostly fixed costs: it does not scale up to the full split
    tiny = runner.store.create_run(TrainConfig(epochs=2, seed=98, train_subset=300))
    runner.store.finish_run(tiny, status="finished", seconds=4.0, epochs_done=2)
    assert compare.estimate_seconds(spec, runner.store) == pytest.approx(
        4 * (10 * 8.0 + compare.RUN_OVERHEAD_S)
    )


def test_study_points_carry_variant_and_seed(tmp_path):
    sid = fake_finished_study(tmp_path)
    store = RunStore(tmp_path)
    runs = compare.study_runs(store, sid)
    points = compare.study_points(store, runs)
    assert {"run_id", "variant", "seed", "epoch", "progress", "kind", "val_accuracy"} <= set(points.columns)
    assert set(points["variant"]) == {"SGD", "Adam", "RMSprop"} and set(points["seed"]) == {0, 1, 2}
    assert "not distinguishable" in compare.verdict(compare.summarize(runs), runs)
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
        assert compare.verdict(summary, runs).startswith(("Adam", "SGD"))
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
    assert "2 paired seeds" in out
    store = RunStore(tiny_env)
    n_runs = len(store.runs())
    assert n_runs == 4

    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "4 reused" in second.stdout and "0 to train" in second.stdout and "[1/" not in second.stdout
    assert "Leaderboard" in second.stdout and "2 paired seeds" in second.stdout
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


@pytest.mark.slow
def test_cli_sweep_then_reproduce_lab_on_a_tiny_subset(tiny_env, tmp_path):
    env = {**os.environ, "FMNIST_HOME": str(tiny_env), "FMNIST_DATA_DIR": os.environ["FMNIST_DATA_DIR"]}
    tiny = ["--epochs", "1", "--train-subset", "200"]

    def cli(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "fmnist_core", *args],
            cwd=ROOT,
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=300,
        )

    sweep = ["sweep", "--optimizers", "sgd,adam", "--lrs", "1e-3,1e-2", "--seeds", "1", *tiny]
    refused = cli(*sweep, FMNIST_STUDY_BUDGET="1")  # beyond the budget: refused before anything trains
    assert refused.returncode == 2 and "beyond the budget" in refused.stderr and "Shrink it" in refused.stderr
    assert len(RunStore(tiny_env).runs()) == 0

    first = cli(*sweep)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "4 to train (about " in out and "[4/4]" in out
    assert "sgd lr 0.001" in out and "adam lr 0.01" in out and "Best rate on validation: sgd " in out
    assert "Leaderboard (test accuracy" in out and "(lr " in out and "1 paired seeds" not in out
    assert "no verdict" in out and "one paired seed" in out  # one seed: it says why there is no verdict

    # the lab: SGD at 0.01 and Adam at 0.001 are the sweep's runs (Keras' defaults): reused
    lab = cli("reproduce-lab", "--seeds", "1", *tiny, "--out", str(tmp_path / "report"))
    assert lab.returncode == 0, lab.stderr
    # optimizers: SGD and Adam reused, Adagrad and RMSprop trained; regularization: the base MLP is Adam's run
    assert "2 reused" in lab.stdout and "[2/2]" in lab.stdout and "1 reused" in lab.stdout
    assert "[1/1] Dropout 0.5 on every layer" in lab.stdout
    md = (tmp_path / "report" / "lab-report.md").read_text()
    assert "RMSprop is the best of the four optimizers (0.8752)" in md and "no verdict" in md
    csv = (tmp_path / "report" / "lab-report.csv").read_text()
    assert csv.startswith("claim,lab (one run),seeds show,verdict") and len(csv.strip().splitlines()) == 6


def test_sweep_chart_has_a_curve_per_optimizer_on_a_log_axis():
    from fmnist_core import charts

    runs = _sweep_runs(
        {
            ("sgd", 0.01): [(0.80, 0.79), (0.81, 0.80)],
            ("sgd", 0.1): [(0.85, 0.84), (0.86, 0.85)],
            ("adam", 0.001): [(0.87, 0.86)],
            ("adam", 0.01): [(0.86, 0.85)],
        }
    )
    fig = charts.sweep_curves(compare.sweep_table(runs), best=compare.best_rates(runs))
    lines = {t.name: list(t.x) for t in fig.data if t.mode == "lines+markers"}
    assert lines == {"sgd": [0.01, 0.1], "adam": [0.001, 0.01]}
    assert [t.name for t in fig.data if t.fill == "toself"] == ["sgd ±1 sd"]  # adam has one seed: no band
    rings = {t.name: list(t.x) for t in fig.data if t.mode == "markers"}
    assert rings == {"sgd: best rate": [0.1], "adam: best rate": [0.001]}
    assert fig.layout.xaxis.type == "log"
    assert charts.sweep_curves(compare.sweep_table(runs.iloc[0:0])).layout.annotations  # empty: a note


def test_early_stopping_is_a_regularization_variant_of_the_plain_network():
    from fmnist_core.studies import spec as study_spec

    spec = StudySpec(
        base=TrainConfig(epochs=3), variants=("none", "early_stop"), seeds=(0, 1), kind="regularization"
    )
    assert list(compare.study_members(spec)) == [
        ("none", 0),
        ("early_stop", 0),
        ("none", 1),
        ("early_stop", 1),
    ]
    early, none = (compare.variant_config(spec, v, 1) for v in ("early_stop", "none"))
    patience = study_spec.EARLY_STOP_PATIENCE
    assert early.early_stopping == patience and none.early_stopping is None
    assert early.model == none.model and early.seed == none.seed == 1 and early.key() != none.key()
    assert early.with_(early_stopping=None) == none  # nothing else differs: the comparison isolates it
    label = compare.variant_label("regularization", "early_stop")
    assert label == f"Early stopping (patience {patience}, best weights), no dropout"
    # offered on the Compare page (its list is REGULARIZATION_VARIANTS), not run by default
    assert (
        "early_stop" in compare.REGULARIZATION_VARIANTS and "early_stop" not in compare.DEFAULT_REGULARIZERS
    )
