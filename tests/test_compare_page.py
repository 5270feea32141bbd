"""AppTest of the compare page through app.py's navigation: the form and its refusals, an idempotent
start, stop, and a finished study's leaderboard, verdict, chart and CSV (from a store filled by hand)."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core import compare
from fmnist_core.jobs import JobRunner
from fmnist_core.store import RunStore
from tests.test_compare import fake_finished_study


@pytest.fixture
def app_home(fmnist_home, monkeypatch):
    """A private store; the page's cached job runner is rebuilt for it and never starts workers here."""
    import streamlit as st

    monkeypatch.setattr(JobRunner, "ensure_workers", lambda self: 0)  # runs stay queued: no training in tests
    st.cache_resource.clear()  # get_runner() is cached process-wide: point it at this home
    yield fmnist_home
    st.cache_resource.clear()


def open_compare(**query) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_new_study_form_defaults_to_the_labs_setup(app_home):
    at = open_compare()
    assert at.title[0].value == "Compare optimizers"
    assert at.selectbox(key="compare_study").value == "new"
    assert at.multiselect(key="compare_optimizers").value == ["sgd", "momentum", "adagrad", "adam", "rmsprop"]
    assert at.selectbox(key="compare_preset").value == "lab_mlp"
    assert at.number_input(key="compare_epochs").value == 10
    assert at.selectbox(key="compare_batch_size").value == 64
    assert at.number_input(key="compare_seeds").value == 3
    assert at.radio(key="compare_lr_policy").value == "default"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs"] == "15" and metrics["To train"] == "15" and metrics["Reused"] == "0"
    assert metrics["Estimated time"].endswith(("min", "s", "h"))
    assert any("Keras defaults" in c.value for c in at.caption)
    assert not at.button(key="compare_start").disabled
    assert not at.error


def test_bad_combinations_are_refused_with_a_message(app_home):
    at = open_compare()
    at.multiselect(key="compare_optimizers").set_value(["adam"]).run()
    assert any("at least two variants" in w.value for w in at.warning)
    assert at.button(key="compare_start").disabled
    at.multiselect(key="compare_optimizers").set_value(["adam", "sgd"])
    at.toggle(key="compare_quick").set_value(True).run()
    at.number_input(key="compare_train_subset").set_value(100)
    at.selectbox(key="compare_batch_size").set_value(512).run()
    assert any("larger than the training subset" in w.value for w in at.warning)
    assert at.button(key="compare_start").disabled
    assert not at.exception and not at.error


def test_regularization_form(app_home):
    at = open_compare()
    at.radio(key="compare_kind").set_value("regularization").run()
    assert at.multiselect(key="compare_regularizers").value == list(compare.DEFAULT_REGULARIZERS)
    options = set(at.multiselect(key="compare_regularizers").options)
    assert {"L2 1e-05, no dropout", "L2 0.001, no dropout", "Flip augmentation, no dropout"} <= options
    assert at.selectbox(key="compare_optimizer").value == "adam"
    assert {m.label: m.value for m in at.metric}["Runs"] == "15"


def test_start_is_idempotent_then_stop_cancels(app_home):
    at = open_compare()
    at.multiselect(key="compare_optimizers").set_value(["adam", "rmsprop"])
    at.number_input(key="compare_seeds").set_value(2)
    at.number_input(key="compare_epochs").set_value(1)
    at.text_input(key="compare_name").set_value("two optimizers").run()
    start_id = at.session_state["compare_start_id"]
    at.button(key="compare_start").click().run()
    assert not at.exception, at.exception
    store = RunStore(app_home)
    studies = store.studies()
    assert [s["id"] for s in studies] == [start_id] and studies[0]["name"] == "two optimizers"
    assert len(store.runs()) == 4
    assert at.selectbox(key="compare_study").value == start_id  # now showing the study
    assert any("4 runs queued" in s.value for s in at.success)
    assert "0 / 4 runs done" in at.get("progress")[0].proto.text
    # A replayed start with the same id (websocket reconnect, double click) makes no second study.
    compare.schedule_study(JobRunner(app_home), compare.get_spec(store, start_id), study_id=start_id)
    assert len(store.studies()) == 1 and len(store.runs()) == 4

    at.button(key="compare_stop").click().run()
    assert not at.exception
    assert any("Cancelled 4 queued" in i.value for i in at.info)
    assert {r.status for r in store.runs()} == {"stopped"}
    at.run()
    assert not [b for b in at.button if b.key == "compare_stop"]  # nothing left to stop


def test_finished_study_reopens_from_the_url_with_leaderboard_and_csv(app_home):
    sid = fake_finished_study(app_home)
    at = open_compare(study=sid)
    assert at.selectbox(key="compare_study").value == sid
    assert any(h.value == "Leaderboard" for h in at.subheader)
    sentence = [s.value for s in at.info]
    assert any(
        s.startswith("RMSprop is ahead of Adam by 0.1 points (95% CI ")
        and "3 paired seeds): not distinguishable" in s
        for s in sentence
    ), sentence
    table = at.dataframe[0].value
    assert list(table["variant"]) == ["RMSprop", "Adam", "SGD"] and table["rank"].iloc[0] == 1
    assert list(table["val acc"])[:2] == ["0.874 ± 0.002", "0.873 ± 0.002"]  # mean ± sd stays
    assert table["top ahead by (points)"].iloc[0] == "(top)" and table["p"].iloc[1] != ""
    assert any("Paired by seed" in c.value and "initial weights" in c.value for c in at.caption)
    assert "9 / 9 runs done" in at.get("progress")[0].proto.text
    assert len(at.get("plotly_chart")) == 3  # accuracy, loss, leaderboard bars
    download = at.get("download_button")
    assert download and "CSV" in download[0].proto.label
    assert not at.exception and not at.error


def test_a_clear_winner_is_reported_as_such(app_home):
    sid = fake_finished_study(app_home, centre={"sgd": 0.80, "adam": 0.86, "rmsprop": 0.874})
    at = open_compare(study=sid)
    assert any(
        s.value.startswith("RMSprop is ahead of Adam by 1.4 points (95% CI ")
        and s.value.endswith("distinguishable.")
        for s in at.success
    ), [s.value for s in at.success]


def test_reopening_a_past_study_from_the_selector(app_home):
    sid = fake_finished_study(app_home, seeds=(0,))
    at = open_compare()
    at.selectbox(key="compare_study").set_value(sid).run()
    assert not at.exception
    assert any("no verdict" in s.value and "spread is unknown" in s.value for s in at.info)


def test_regularization_study_shows_the_overfitting_chart(app_home):
    from tests.test_compare import QueueOnlyRunner, finish_fake

    runner = QueueOnlyRunner(app_home)
    spec = compare.StudySpec(
        base=compare.TrainConfig(epochs=2), variants=("none", "dropout"), seeds=(0, 1), kind="regularization"
    )
    sid, _ = compare.schedule_study(runner, spec)
    for r in compare.study_runs(runner.store, sid).itertuples():
        finish_fake(runner.store, r.run_id, [0.84, 0.86 + 0.001 * r.seed], test=0.85)
    at = open_compare(study=sid)
    assert not at.exception
    assert len(at.get("plotly_chart")) == 4  # accuracy, loss, train-validation gap, bars
    assert any("Dropout 0.5 (lab)" in str(t) for t in at.dataframe[0].value["variant"])


def test_an_early_stopping_study_is_ranked_by_the_weights_kept_and_says_so(app_home):
    from tests.test_compare_honest import early_stop_study

    sid = early_stop_study(app_home)
    at = open_compare(study=sid)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert (
        table["variant"].iloc[0].startswith("Early stopping") and table["val acc"].iloc[0] == "0.881 ± 0.001"
    )
    assert "last val acc" in table  # shown beside it: early stopping kept another epoch's weights
    captions = " ".join(c.value for c in at.caption)
    assert "validation accuracy of the weights kept" in captions and "the best epoch's" in captions


@pytest.mark.parametrize("seeds", [99999, 0, -3])
def test_out_of_range_seeds_are_refused_not_replaced(app_home, seeds):
    at = open_compare()
    at.number_input(key="compare_seeds").set_value(seeds).run()
    assert not at.exception, at.exception
    assert any("Seeds: a whole number from 1 to 10" in m.value for m in at.markdown)
    assert at.button(key="compare_start").disabled
    assert "Runs" not in {m.label for m in at.metric}  # no count for a study that cannot run
    at.number_input(key="compare_seeds").set_value(2).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs"] == "10"  # 5 optimizers x 2 seeds: the count follows the field
    assert not at.button(key="compare_start").disabled


def test_out_of_range_epochs_and_subsets_are_refused(app_home):
    at = open_compare()
    at.number_input(key="compare_epochs").set_value(0).run()
    assert any("Epochs: a whole number from 1 to 100" in m.value for m in at.markdown)
    assert at.button(key="compare_start").disabled
    at.number_input(key="compare_epochs").set_value(2).run()
    at.toggle(key="compare_quick").set_value(True).run()
    at.number_input(key="compare_train_subset").set_value(10**7).run()
    assert any("Training images: a whole number from 100 to 48,000" in m.value for m in at.markdown)
    assert at.button(key="compare_start").disabled


# ------------------------------------------------------------------------------------ the learning-rate sweep


def test_sweep_form_refuses_bad_rates_and_counts_runs(app_home):
    at = open_compare()
    at.radio(key="compare_kind").set_value("sweep").run()
    assert at.multiselect(key="compare_sweep_optimizers").value == ["sgd", "adagrad", "adam", "rmsprop"]
    # 4 optimizers x 5 rates x 3 seeds, then 4 optimizers x 3 fresh seeds at their best rates
    assert {m.label: m.value for m in at.metric}["Runs"] == "72"
    assert any("Adam 0.0001, 0.0003, 0.001, 0.003, 0.01" in c.value for c in at.caption)
    at.radio(key="compare_lr_mode").set_value("list").run()
    assert at.text_input(key="compare_lrs").value == "1e-4, 3e-4, 1e-3, 3e-3, 1e-2"
    for bad, why in (
        ("1e-3, fast", "'fast' is not a number"),
        ("1e-3", "at least two"),
        ("1e-3, 50", "06 to 10"),
    ):
        at.text_input(key="compare_lrs").set_value(bad).run()
        assert not at.exception, at.exception
        assert any(why in m.value for m in at.markdown), (bad, [m.value for m in at.markdown])
        assert at.button(key="compare_start").disabled
        assert "Runs" not in {m.label for m in at.metric}
    at.text_input(key="compare_lrs").set_value("1e-3, 1e-2").run()
    at.multiselect(key="compare_sweep_optimizers").set_value(["sgd", "adam"])
    at.number_input(key="compare_seeds").set_value(2).run()
    assert {m.label: m.value for m in at.metric}["Runs"] == "12"  # 2 x 2 x 2, then 2 x 2 fresh
    assert not at.button(key="compare_start").disabled


def test_a_study_beyond_the_budget_is_refused_with_how_to_shrink_it(app_home, monkeypatch):
    monkeypatch.setenv("FMNIST_STUDY_BUDGET", "60")
    at = open_compare()
    at.radio(key="compare_kind").set_value("sweep").run()
    warning = [w.value for w in at.warning if "beyond the budget" in w.value]
    assert warning and "Shrink it" in warning[0] and "fewer learning rates" in warning[0]
    assert at.button(key="compare_start").disabled


def _sweep_numbers(r) -> tuple[float, float]:
    """(last val, test) of a fake sweep run: peaks at SGD 0.1 and Adam 0.001, Adam a little ahead."""
    peak = {"sgd": 1e-1, "adam": 1e-3}
    last = 0.86 - 0.03 * abs(np.log10(r.learning_rate / peak[r.optimizer])) + 0.002 * r.seed
    last += 0.005 if r.optimizer == "adam" else 0.0
    return last, last - 0.01 + 0.001 * (r.seed * (r.optimizer == "sgd"))


def fake_finished_sweep(home, *, final: bool = True, legacy: bool = False) -> str:
    """A finished sweep (2 optimizers x 3 rates x seeds 0, 1), then, with `final`, its final comparison
    at the best rates on fresh seeds 2, 3, scheduled as the page does and finished by hand. `legacy`: a
    sweep saved before fresh seeds existed (its record has no final seeds)."""
    from tests.test_compare import QueueOnlyRunner, finish_fake

    runner = QueueOnlyRunner(home)
    spec = compare.StudySpec(
        base=compare.TrainConfig(epochs=2, train_subset=1000),
        variants=("sgd", "adam"),
        seeds=(0, 1),
        kind="sweep",
        lrs=(1e-3, 1e-2, 1e-1),
    )
    sid, _ = compare.schedule_study(runner, spec, name="fake sweep")
    if legacy:
        study = runner.store.get_study(sid)
        record = {k: v for k, v in study["spec"].items() if k != "final_seeds"}
        runner.store.save_study(sid, study["name"], record)
    for r in compare.study_runs(runner.store, sid).itertuples():
        last, test = _sweep_numbers(r)
        finish_fake(runner.store, r.run_id, [last - 0.02, last], test=test)
    if final and not legacy:
        assert compare.schedule_final(runner, sid) == {"queued": 4, "reused": 0, "already_running": 0}
        for r in compare.study_runs(runner.store, sid).itertuples():
            if r.status == "queued":
                last, test = _sweep_numbers(r)
                finish_fake(runner.store, r.run_id, [last - 0.02, last], test=test)
    return sid


def test_finished_sweep_shows_accuracy_against_rate_and_the_race_on_fresh_seeds(app_home):
    sid = fake_finished_sweep(app_home)
    at = open_compare(study=sid)
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # accuracy against rate, leaderboard bars
    assert any("Validation accuracy against learning rate" in c.proto.spec for c in charts)
    said = " ".join(m.value for m in at.markdown)
    assert "SGD 0.1, Adam 0.001" in said and "seeds 0, 1" in said and "fresh seeds 2, 3" in said
    table = at.dataframe[0].value
    assert list(table["variant"]) == ["Adam (lr 0.001)", "SGD (lr 0.1)"]
    assert list(table["runs"]) == ["2/2", "2/2"]  # the final runs only, not the selection's
    assert any("Ranked by test accuracy" in c.value for c in at.caption)
    runs = compare.study_runs(RunStore(app_home), sid)
    final = runs[runs["phase"] == compare.FINAL]
    assert sorted(set(final["seed"])) == [2, 3] and len(runs) == 16
    assert not at.warning


def test_a_sweep_saved_before_fresh_seeds_says_its_comparison_is_biased(app_home):
    sid = fake_finished_sweep(app_home, legacy=True)
    at = open_compare(study=sid)
    assert not at.exception, at.exception
    assert any("selection bias" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table["variant"]) == ["Adam (lr 0.001)", "SGD (lr 0.1)"]  # its own runs at the best rates
    assert len(RunStore(app_home).runs()) == 12  # and nothing was queued


# ------------------------------------------------------------------------------------ reproducing the lab


def test_reproduce_the_lab_in_one_click_and_a_second_click_adds_nothing(app_home):
    at = open_compare()
    at.number_input(key="compare_lab_seeds").set_value(1).run()
    at.button(key="compare_lab_start").click().run()
    assert not at.exception, at.exception
    store = RunStore(app_home)
    assert len(store.runs()) == 5 and len(store.studies()) == 2  # 4 optimizers + dropout on both layers
    at.button(key="compare_lab_start").click().run()
    assert len(store.runs()) == 5  # queued identical runs are attached to, not queued again
    from tests.test_compare import finish_fake

    for r in store.runs():
        finish_fake(store, r.id, [0.85, 0.86], test=0.85)
    at.run()
    report = at.dataframe[0].value  # the only table on the new-study view
    assert len(report) == 5 and "RMSprop is the best of the four optimizers (0.8752)" in list(report["claim"])
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Report (Markdown)" in labels and "Report (CSV)" in labels
