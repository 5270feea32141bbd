"""Honest comparisons, second round: runs are ranked by the weights they kept (early stopping's best epoch),
a sweep's final comparison runs on fresh seeds (never the seeds that chose the rates), and the leaderboard's
labels stay clear of the whiskers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from fmnist_core import charts, compare
from fmnist_core.compare import StudySpec
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig
from tests.test_compare import QueueOnlyRunner, finish_fake

# ------------------------------------------------------------------------------------ the weights kept


def _epochs(vals: list[float]) -> pd.DataFrame:
    rows = [{"kind": "epoch", "epoch": e, "val_accuracy": v} for e, v in enumerate(vals, 1)]
    rows.append({"kind": "batch", "epoch": 2, "val_accuracy": math.nan})  # batch rows never count
    return pd.DataFrame(rows)


def test_kept_validation_is_the_last_epoch_or_early_stoppings_best():
    pts = _epochs([0.80, 0.86, 0.84, 0.86, 0.83])
    assert compare.kept_validation(pts, early_stopping=False) == (0.83, 5.0)
    # Keras counts strict improvements only: the first epoch to reach the maximum is the one restored
    assert compare.kept_validation(pts, early_stopping=True) == (0.86, 2.0)
    assert all(math.isnan(v) for v in compare.kept_validation(pts.iloc[0:0], early_stopping=True))


def early_stop_study(home) -> str:
    """none vs early_stop over 2 seeds: early stopping's last epoch is worse than none's, its best epoch
    (the weights Keras restored) better."""
    runner = QueueOnlyRunner(home)
    spec = StudySpec(
        base=TrainConfig(epochs=4, train_subset=1000),
        variants=("none", "early_stop"),
        seeds=(0, 1),
        kind="regularization",
    )
    sid, _ = compare.schedule_study(runner, spec, name="early stopping")
    for r in compare.study_runs(runner.store, sid).itertuples():
        d = 0.001 * r.seed
        if r.variant == "none":
            curve = [0.80 + d, 0.84 + d, 0.85 + d, 0.86 + d]
        else:  # peaks at epoch 2, then worse: stopped after 2 epochs of patience
            curve = [0.82 + d, 0.88 + d, 0.85 + d, 0.84 + d]
        finish_fake(runner.store, r.run_id, curve, test=0.85 + d)
    return sid


def test_early_stopping_runs_are_ranked_by_the_weights_they_kept(tmp_path):
    sid = early_stop_study(tmp_path)
    runs = compare.study_runs(RunStore(tmp_path), sid)
    es = runs[runs["variant"] == "early_stop"]
    assert list(es["kept_val_accuracy"]) == pytest.approx([0.88, 0.881])
    assert list(es["kept_epoch"]) == [2.0, 2.0] and list(es["last_val_accuracy"]) == pytest.approx(
        [0.84, 0.841]
    )
    none = runs[runs["variant"] == "none"]
    assert list(none["kept_val_accuracy"]) == list(none["last_val_accuracy"])  # kept its last weights
    summary = compare.summarize(runs)
    assert summary.attrs["rank_by"] == "val" and summary["variant"].iloc[0] == "early_stop"
    # ranked by the last epoch (what a model nobody kept scored), early stopping would have come last
    assert compare.summarize(runs, rank_by="last_val")["variant"].iloc[0] == "none"
    board = compare.leaderboard_table(summary, runs)
    assert list(board.columns[:5]) == ["rank", "variant", "runs", "val acc", "min–max"]
    assert board["val acc"].iloc[0] == "0.881 ± 0.001" and board["min–max"].iloc[0] == "0.880–0.881"
    assert "last val acc" in board and board["last val acc"].iloc[0] == "0.841 ± 0.001"  # they differ: shown


def test_lab_report_still_judges_the_last_epoch():
    assert compare.COLUMN == "last_val_accuracy"


# ------------------------------------------------------------------------------------ fresh seeds for the race


def test_a_sweep_compares_on_fresh_seeds_disjoint_from_the_selection():
    spec = StudySpec(base=TrainConfig(epochs=2), variants=("sgd", "adam"), seeds=(0, 1, 2), kind="sweep")
    assert spec.final_seeds == (3, 4, 5) and not set(spec.final_seeds) & set(spec.seeds)
    assert spec.n_runs == 2 * 5 * 3 + 2 * 3 and spec.n_final_runs == 6
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert StudySpec(variants=("sgd", "adam"), seeds=(0, 1)).final_seeds == ()  # not a sweep: none
    with pytest.raises(ValueError, match="must differ from the seeds that chose"):
        StudySpec(variants=("adam",), seeds=(0, 1), kind="sweep", final_seeds=(1, 2))
    # a record saved before fresh seeds: no final seeds (its page says the comparison is biased)
    legacy = {k: v for k, v in spec.to_dict().items() if k != "final_seeds"}
    assert StudySpec.from_dict(legacy).final_seeds == ()
    # the final comparison's members: every optimizer at its best rate, on every fresh seed, seed-major
    assert compare.final_members(spec, {"sgd": 0.1, "adam": 0.003}) == [
        ("sgd@0.1", 3),
        ("adam@0.003", 3),
        ("sgd@0.1", 4),
        ("adam@0.003", 4),
        ("sgd@0.1", 5),
        ("adam@0.003", 5),
    ]
    assert compare.estimate_seconds(spec) > compare.estimate_seconds(StudySpec.from_dict(legacy))


def test_best_rates_ignore_the_final_runs_and_the_comparison_uses_only_them():
    rows = []
    for phase, seed, lr, val, test in (
        ("select", 0, 0.001, 0.87, 0.86),
        ("select", 1, 0.001, 0.88, 0.87),
        ("select", 0, 0.01, 0.85, 0.84),
        ("select", 1, 0.01, 0.86, 0.85),
        ("final", 2, 0.001, 0.84, 0.83),  # worse on the fresh seeds: the race reports that, not 0.87
        ("final", 3, 0.001, 0.85, 0.84),
        ("final", 2, 0.01, 0.99, 0.99),  # a final run at another rate must not change the choice
    ):
        rows.append(
            {
                "variant": f"adam@{lr:g}",
                "label": f"Adam @ {lr:g}",
                "seed": seed,
                "status": "finished",
                "optimizer": "adam",
                "learning_rate": lr,
                "kept_val_accuracy": val,
                "last_val_accuracy": val,
                "best_val_accuracy": val,
                "test_accuracy": test,
                "epochs_to_target": math.nan,
                "seconds_per_epoch": 1.0,
                "phase": phase,
            }
        )
    runs = pd.DataFrame(rows)
    assert compare.best_rates(runs) == {"adam": 0.001}
    assert list(compare.sweep_table(runs)["n"]) == [2, 2]
    final = compare.comparison_runs(runs, {"adam": 0.001})
    assert list(final["seed"]) == [2, 3] and list(final["label"]) == ["Adam (lr 0.001)"] * 2
    reused = compare.comparison_runs(runs, {"adam": 0.001}, reuse_selection=True)
    assert list(reused["seed"]) == [0, 1]


def test_schedule_final_waits_for_the_selection_then_queues_once(tmp_path):
    runner = QueueOnlyRunner(tmp_path)
    store = runner.store
    spec = StudySpec(
        base=TrainConfig(epochs=1, train_subset=1000),
        variants=("sgd", "adam"),
        seeds=(0, 1),
        kind="sweep",
        lrs=(1e-3, 1e-2),
    )
    sid, counts = compare.schedule_study(runner, spec)
    assert counts["queued"] == 8
    assert compare.schedule_final(runner, sid) is None  # selection runs still queued: nothing yet
    runs = compare.study_runs(store, sid)
    assert compare.final_state(spec, runs, scheduled=False) == "waiting"
    stopped = int(runs["run_id"].iloc[-1])
    for r in runs.itertuples():
        if r.run_id == stopped:
            store.finish_run(r.run_id, status="stopped")
            continue
        good = {"sgd": 1e-2, "adam": 1e-3}[r.optimizer] == r.learning_rate
        finish_fake(store, r.run_id, [0.80, 0.85 if good else 0.82], test=0.84)
    # one selection run stopped: the choice would rest on fewer seeds, so only on request
    assert compare.final_state(spec, compare.study_runs(store, sid), scheduled=False) == "blocked"
    assert compare.schedule_final(runner, sid) is None and len(store.runs()) == 8
    assert store.transition(stopped, expect=("stopped",), to="finished")  # as if trained after all
    assert compare.final_state(spec, compare.study_runs(store, sid), scheduled=False) == "ready"

    first = compare.schedule_final(runner, sid)
    assert first == {"queued": 4, "reused": 0, "already_running": 0}
    assert compare.schedule_final(runner, sid) == first  # idempotent: a second viewer queues nothing
    assert len(store.runs()) == 12
    record = compare.final_scheduled(store, sid)
    assert record["best"] == {"sgd": 0.01, "adam": 0.001}
    runs = compare.study_runs(store, sid)
    final = runs[runs["phase"] == compare.FINAL]
    assert sorted(set(final["seed"])) == [2, 3] and set(final["status"]) == {"queued"}
    assert set(zip(final["optimizer"], final["learning_rate"], strict=True)) == {
        ("sgd", 0.01),
        ("adam", 0.001),
    }
    assert compare.final_state(spec, runs, scheduled=True) == "scheduled"


# ------------------------------------------------------------------------------------ the leaderboard's labels


def test_leaderboard_labels_stand_right_of_the_plot_never_on_a_whisker():
    summary = pd.DataFrame(
        {"variant": ["sgd", "adam", "rmsprop"], "mean": [0.84, 0.89, 0.87], "std": [0.01, 0.002, 0.0]}
    )
    fig = charts.leaderboard_bars(summary)
    (bar,) = fig.data
    assert bar.textposition == "none"  # nothing drawn on the bar, where the whisker runs
    notes = fig.layout.annotations
    assert [a.y for a in notes] == ["adam", "rmsprop", "sgd"]
    assert notes[0].text == "★ 89.00% ± 0.20%" and notes[2].text == "84.00% ± 1.00%"
    # at the paper's right edge (x = 1, anchored left): beyond the x axis, so beyond every whisker end
    assert all(a.xref == "paper" and a.x == 1.0 and a.xanchor == "left" for a in notes)
    top = max(m + s for m, s in zip(summary["mean"], summary["std"], strict=True))
    assert fig.layout.xaxis.range[1] > top  # whiskers end inside the plot
    assert fig.layout.margin.r >= 7 * len(notes[0].text)  # and the column has room


def test_the_cli_leaderboard_ranks_by_the_weights_kept_too(tmp_path, capsys):
    from fmnist_core.__main__ import _print_leaderboard

    sid = early_stop_study(tmp_path)
    _print_leaderboard(compare.study_runs(RunStore(tmp_path), sid), target=0.85)
    out = capsys.readouterr().out
    assert "Leaderboard (validation accuracy of the weights kept" in out
    board = [line.strip() for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert (
        board[0].startswith("1 Early stopping") and board[1].startswith("2") and "No dropout" in board[1]
    ), out
