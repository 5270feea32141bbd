"""AppTest of the compare page's other views: chosen runs (local and imported, from their metrics alone),
set-ups as links (the form filled from the URL, the URL following the form, bad values named), and
presenter mode. No run is queued here."""

from __future__ import annotations

import pytest

from fmnist_core.store import RunStore
from tests.test_compare import fake_finished_study
from tests.test_compare_chosen import local_and_imported
from tests.test_compare_page import app_home, open_compare  # noqa: F401  (app_home: the fixture below)

pytestmark = pytest.mark.usefixtures("app_home")  # a private store and a runner that never starts workers


@pytest.fixture
def no_model_loading(monkeypatch):
    """Any attempt to load a Keras model fails the test: compared runs are read from their metrics."""
    import keras

    def refuse(*args, **kwargs):
        raise AssertionError("the Compare page must not load a model")

    monkeypatch.setattr(keras.saving, "load_model", refuse)
    monkeypatch.setattr(keras.models, "load_model", refuse)


# ------------------------------------------------------------------------------------ chosen runs


def test_chosen_runs_overlay_local_and_imported_runs_without_a_model(fmnist_home, tmp_path, no_model_loading):
    store, local, imported = local_and_imported(fmnist_home, tmp_path)
    at = open_compare(mode="runs", runs=f"{local},{imported}")
    assert not at.exception, at.exception
    assert at.radio(key="compare_mode").value == "runs"
    assert at.multiselect(key="compare_runs").value == [local, imported]
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and "Validation accuracy" in charts[0].proto.spec
    table = at.dataframe[0].value
    assert list(table["source"]) == ["local", "imported"]
    assert list(table["val acc (kept)"]) == pytest.approx([0.86, 0.87])  # the import kept its best epoch
    assert table["run"].iloc[1].endswith("(imported)")
    captions = " ".join(c.value for c in at.caption)
    assert "differ in: optimizer, early stopping" in captions and "no model here" in captions
    assert at.query_params["runs"] == f"{local},{imported}" and at.query_params["mode"] == "runs"
    # choosing another set updates the link
    at.multiselect(key="compare_runs").set_value([imported]).run()
    assert at.query_params["runs"] == str(imported)
    assert len(RunStore(fmnist_home).runs()) == 2  # nothing queued


def test_a_link_naming_missing_or_bad_runs_says_so_without_echoing(fmnist_home, tmp_path):
    store, local, _ = local_and_imported(fmnist_home, tmp_path)
    at = open_compare(mode="runs", runs=f"{local},999,<b>x</b>")
    assert not at.exception, at.exception
    assert at.multiselect(key="compare_runs").value == [local]
    said = " ".join(w.value for w in [*at.warning, *at.info])
    assert "1 run(s) in this link are not here" in said and "could not be read" in said and "runs" in said
    assert "<b>" not in said and "999" not in said


def test_with_no_ended_runs_the_view_says_where_runs_come_from(fmnist_home):
    at = open_compare(mode="runs")
    assert not at.exception
    assert any("import a run bundle" in i.value for i in at.info)


# ------------------------------------------------------------------------------------ set-ups as links


def test_a_link_fills_the_form_and_the_form_updates_the_link(fmnist_home):
    at = open_compare(optimizers="adam,rmsprop", seeds="3", epochs="10")
    assert not at.exception, at.exception
    assert at.selectbox(key="compare_study").value == "new"
    assert at.multiselect(key="compare_optimizers").value == ["adam", "rmsprop"]
    assert (
        at.number_input(key="compare_seeds").value == 3 and at.number_input(key="compare_epochs").value == 10
    )
    assert {m.label: m.value for m in at.metric}["Runs"] == "6"
    assert at.query_params["optimizers"] == "adam,rmsprop"
    assert "epochs" not in at.query_params and "seeds" not in at.query_params  # the defaults stay implicit
    assert any(c.value.endswith("?optimizers=adam,rmsprop") for c in at.code)  # "Copy link to this set-up"
    at.number_input(key="compare_epochs").set_value(4).run()
    assert at.query_params["epochs"] == "4"
    at.toggle(key="compare_quick").set_value(True).run()
    assert at.query_params["subset"] == "5000" and at.query_params["val_subset"] == "2000"
    at.radio(key="compare_kind").set_value("sweep").run()
    assert at.query_params["kind"] == "sweep" and "optimizers" not in at.query_params  # the sweep's default
    assert not at.exception
    assert len(RunStore(fmnist_home).runs()) == 0


def test_a_sweep_link_with_its_own_rates(fmnist_home):
    at = open_compare(kind="sweep", optimizers="sgd,adam", lrs="0.001,0.01", seeds="2")
    assert not at.exception, at.exception
    assert at.radio(key="compare_kind").value == "sweep"
    assert at.multiselect(key="compare_sweep_optimizers").value == ["sgd", "adam"]
    assert (
        at.radio(key="compare_lr_mode").value == "list"
        and at.text_input(key="compare_lrs").value == "0.001, 0.01"
    )
    assert {m.label: m.value for m in at.metric}["Runs"] == "12"  # 2 x 2 x 2, then 2 x 2 fresh seeds


def test_bad_link_values_are_named_never_echoed_and_out_of_range_ones_refused(fmnist_home):
    at = open_compare(optimizers="adam,<script>x</script>", batch="abc", seeds="1e99", epochs="-1")
    assert not at.exception, at.exception
    notes = " ".join(i.value for i in at.info)
    assert "could not be read" in notes and "optimizers, batch, seeds" in notes
    assert "script" not in notes and "1e99" not in notes
    assert at.multiselect(key="compare_optimizers").value == ["adam"]
    assert at.selectbox(key="compare_batch_size").value == 64  # left as it was
    assert at.number_input(key="compare_epochs").value == -1  # kept, and refused with its range
    assert any("Epochs: a whole number from 1 to 100" in m.value for m in at.markdown)
    assert at.button(key="compare_start").disabled


def test_a_study_link_still_opens_the_study(fmnist_home):
    sid = fake_finished_study(fmnist_home)
    at = open_compare(study=sid, epochs="3")
    assert at.selectbox(key="compare_study").value == sid
    assert any(h.value == "Leaderboard" for h in at.subheader)
    assert at.query_params["study"] == sid and "epochs" not in at.query_params  # the study, not a form


# ------------------------------------------------------------------------------------ presenter mode


def test_presenter_mode_folds_the_controls_and_shows_big_numbers_first(fmnist_home):
    sid = fake_finished_study(fmnist_home)
    at = open_compare(study=sid, present="1")
    assert not at.exception, at.exception
    assert at.toggle(key="compare_present").value is True
    assert not at.title  # the page's title and blurb give the screen to the charts
    assert at.expander[0].label == "Set-up" and not at.expander[0].proto.expanded
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs done"] == "9/9" and metrics["Leader: RMSprop"] == "87.4%"
    assert metrics["Ahead of the next by"] == "0.1 pts"  # RMSprop over Adam, paired
    assert any("PRESENTER" in h.proto.body or "font-size: 3.4rem" in h.proto.body for h in at.get("html"))
    assert at.query_params["present"] == "1"
    assert not at.get("download_button")  # the run table and downloads are not for the projector
    at.toggle(key="compare_present").set_value(False).run()
    assert at.title[0].value == "Compare optimizers" and "present" not in at.query_params


def test_presenter_mode_on_a_new_study_points_to_the_folded_form(fmnist_home):
    at = open_compare(present="1")
    assert not at.exception, at.exception
    assert any("Open **Set-up**" in i.value for i in at.info)
