"""AppTest of the Train page: controls, refusals, a real run through the worker, reopen and delete."""

from __future__ import annotations

import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core.models import PRESETS, ModelSpec
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig


def open_train(**query: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    return at


def start_button(at: AppTest):
    return next(b for b in at.button if b.key.startswith("train_start_"))


def test_page_shows_parameter_count_and_no_run(fmnist_home):
    at = open_train()
    assert any("109,386 parameters" in e.label for e in at.expander)
    assert any("No run on screen" in i.value for i in at.info)


def test_custom_architecture_is_validated(fmnist_home):
    at = open_train()
    at.selectbox(key="train_preset").set_value("custom").run()
    at.text_input(key="train_hidden").set_value("128, lots").run()
    assert any("whole numbers" in e.value for e in at.error)
    assert start_button(at).disabled  # nothing to start
    at.text_input(key="train_hidden").set_value("32").run()
    at.text_input(key="train_dropout").set_value("1.5").run()
    assert any("dropout" in e.value for e in at.error)
    at.text_input(key="train_dropout").set_value("0.2").run()
    assert not at.error
    assert any(f"{784 * 32 + 32 + 330:,} parameters" in e.label for e in at.expander)


@pytest.mark.slow
def test_start_runs_in_the_worker_and_results_show(fmnist_home):
    at = open_train()
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_subset").set_value(1000)
    start_button(at).click()
    at.run()
    store = RunStore(fmnist_home)
    runs = store.runs()
    assert len(runs) == 1 and runs[0].config["train_subset"] == 1000
    rid = runs[0].id
    # A second click on the same (now replaced) button key cannot start another run.
    assert all(b.key.startswith("train_start_") for b in at.button if "start" in b.key)
    deadline = time.monotonic() + 180
    while store.get_run(rid).status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)  # the worker process trains; we wait on the store
    assert store.get_run(rid).status == "finished"
    at.run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Test accuracy" in labels
    acc = float(next(m.value for m in at.metric if m.label == "Test accuracy"))
    assert acc > 0.5  # 1,000 real images, one epoch: far above chance (0.1)
    # Starting the identical config again reopens the finished run instead of training again.
    start_button(at).click()
    at.run()
    assert len(store.runs()) == 1
    assert any("already trained this exact set-up" in i.value for i in at.info)


def finished_run(store: RunStore, config: TrainConfig, *, label: str = "") -> int:
    """A finished run recorded straight into the store (no training), as the worker would leave it."""
    rid = store.create_run(config, label=label)
    store.finish_run(rid, status="finished", test_accuracy=0.8, test_loss=0.5, epochs_done=config.epochs)
    return rid


def test_the_page_opens_on_a_users_run_not_on_the_apps_background_run(fmnist_home):
    """A fresh server queues the Sketch page's default model in the background: the Train page must not
    open on it (nor put that CNN's set-up in the form) for a teacher who never started it."""
    from fmnist_core.sketch import default_model_config
    from fmnist_core.store.runs import BACKGROUND_PRIORITY

    store = RunStore(fmnist_home)
    bg, _ = store.create_run_once(default_model_config(), priority=BACKGROUND_PRIORITY)
    store.finish_run(bg, status="finished", test_accuracy=0.9, test_loss=0.3, epochs_done=10)
    at = open_train()
    assert any("No run on screen" in i.value for i in at.info)
    assert at.selectbox(key="train_preset").value == "lab_mlp"  # the lab's set-up, not the sketch CNN's
    mine = finished_run(store, TrainConfig(epochs=2, seed=5))
    newer_bg, _ = store.create_run_once(default_model_config().with_(seed=7), priority=BACKGROUND_PRIORITY)
    at = open_train()
    assert any(f"Run #{mine}" in m.value for m in at.markdown)
    assert not any(f"Run #{newer_bg}" in m.value for m in at.markdown)
    assert at.number_input(key="train_epochs").value == 2
    at = open_train(run=str(bg))  # a link still opens it
    assert any(f"Run #{bg}" in m.value for m in at.markdown)


@pytest.mark.parametrize("raw", ["9" * 400, "-1", "0", "999999", "abc", "1.5", " 7 "])
def test_bad_run_links_say_not_found_without_an_error(fmnist_home, raw):
    store = RunStore(fmnist_home)
    finished_run(store, TrainConfig(epochs=1))
    at = open_train(run=raw)
    assert not at.exception, at.exception
    assert any("not found" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not at.error
    assert "9" * 40 not in " ".join(w.value for w in at.warning)  # a huge id is shortened, not echoed


def test_link_to_a_deleted_run_says_not_found(fmnist_home):
    store = RunStore(fmnist_home)
    keep = finished_run(store, TrainConfig(epochs=1))
    gone = finished_run(store, TrainConfig(epochs=2))
    assert store.delete_run(gone)
    at = open_train(run=str(gone))
    assert any(f"Run #{gone} not found" in w.value for w in at.warning)
    assert keep != gone


def test_form_shows_the_set_up_of_the_linked_run(fmnist_home):
    store = RunStore(fmnist_home)
    config = TrainConfig(model=PRESETS["cnn_fast"], epochs=3, seed=9, batch_size=128, train_subset=5000)
    rid = finished_run(store, config)
    finished_run(store, TrainConfig(epochs=1))  # a newer run: the link, not "newest", decides
    at = open_train(run=str(rid))
    assert not at.exception, at.exception
    assert at.selectbox(key="train_preset").value == "cnn_fast"
    assert at.number_input(key="train_epochs").value == 3
    assert at.number_input(key="train_seed").value == 9
    assert at.selectbox(key="train_batch").value == 128
    assert at.number_input(key="train_subset").value == 5000
    assert any(f"Run #{rid}" in m.value for m in at.markdown)
    assert at.query_params["run"] == [str(rid)] or at.query_params["run"] == str(rid)


def test_custom_architecture_run_round_trips_into_the_form(fmnist_home):
    store = RunStore(fmnist_home)
    spec = ModelSpec(hidden=(32, 16), dropout=(0.2,), activation="tanh", l2=0.001)
    config = TrainConfig(model=spec, optimizer="rmsprop", learning_rate=0.002, epochs=2)
    rid = finished_run(store, config)
    at = open_train(run=str(rid))
    assert at.selectbox(key="train_preset").value == "custom"
    assert at.text_input(key="train_hidden").value == "32, 16"
    assert at.selectbox(key="train_activation").value == "tanh"
    assert at.checkbox(key="train_lr_default").value is False
    assert at.number_input(key="train_lr").value == pytest.approx(0.002)
    assert at.selectbox(key="train_optimizer").value == "rmsprop"


def test_presets_in_the_url_use_short_names(fmnist_home):
    at = open_train(train_preset="cnn_fast", train_epochs="4")
    assert at.selectbox(key="train_preset").value == "cnn_fast"
    assert at.number_input(key="train_epochs").value == 4
    at = open_train(model="no_such_model")
    assert at.selectbox(key="train_preset").value == "lab_mlp"
    assert any("could not be read" in i.value for i in at.info)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("train_epochs", 0, "Epochs: a whole number from 1 to 200"),
        ("train_epochs", 99999999, "Epochs: a whole number from 1 to 200"),
        ("train_seed", -3, "Seed: a whole number from 0"),
        ("train_subset", 5, "Training images: a whole number from 100 to 48,000"),
        ("train_subset", 10**9, "Training images: a whole number from 100 to 48,000"),
    ],
)
def test_out_of_range_numbers_disable_start_and_never_train(fmnist_home, key, value, message):
    at = open_train()
    at.number_input(key=key).set_value(value).run()
    assert not at.exception, at.exception
    assert any(message in m.value for m in at.markdown), [m.value for m in at.markdown]
    assert start_button(at).disabled
    assert RunStore(fmnist_home).runs() == []
    # Back in range: Start is enabled again and the note is gone.
    at.number_input(key=key).set_value(1000 if key == "train_subset" else 2).run()
    assert not start_button(at).disabled
    assert not any(message in m.value for m in at.markdown)


def test_a_label_with_html_is_shown_as_text(fmnist_home):
    store = RunStore(fmnist_home)
    rid = finished_run(
        store, TrainConfig(epochs=1), label='<img src=x onerror="alert(1)"> **bold** [a](http://x)'
    )
    at = open_train(run=str(rid))
    shown = " ".join(c.value for c in at.caption)
    assert "&lt;img" in shown and "\\*\\*bold" in shown and "\\[a\\]" in shown


def test_augmentation_is_a_form_field_that_trains_and_round_trips(fmnist_home):
    at = open_train(train_augment="sketch", train_epochs="1", train_subset="1000")
    assert at.selectbox(key="train_augment").value == "sketch"
    store = RunStore(fmnist_home)
    rid = finished_run(store, TrainConfig(epochs=1, augment="flip"))
    at = open_train(run=str(rid))
    assert at.selectbox(key="train_augment").value == "flip"
    assert any("augment: flip" in c.value for c in at.caption)


def test_moving_the_validation_share_keeps_all_images_valid(fmnist_home):
    at = open_train()
    at.slider(key="train_val_fraction").set_value(0.3).run()
    assert at.number_input(key="train_subset").value == 42000
    assert not start_button(at).disabled


def test_an_interrupted_run_offers_resume_and_requeues_under_its_id(fmnist_home, monkeypatch):
    from fmnist_core.jobs import JobRunner

    monkeypatch.setattr(JobRunner, "ensure_workers", lambda self: 0)  # stays queued: no training here
    store = RunStore(fmnist_home)
    rid = store.create_run(TrainConfig(epochs=3, train_subset=1000))
    store.finish_run(rid, status="interrupted", error="the app stopped")
    at = open_train(run=str(rid))
    assert any("Interrupted" in w.value for w in at.warning)
    at.button(key=f"train_resume_{rid}").click().run()
    assert not at.exception, at.exception
    assert store.get_run(rid).status == "queued"
    assert len(store.runs()) == 1  # the same run, not a new one


def test_a_stopped_run_being_saved_says_so(fmnist_home):
    store = RunStore(fmnist_home)
    rid = store.create_run(TrainConfig(epochs=3, train_subset=1000))
    store.finish_run(rid, status="stopped", epochs_done=1)
    # as a live worker leaves it while it saves and tests (this process stands in for the worker)
    store.set_fields(rid, finalizing=1, worker_pid=os.getpid())
    at = open_train(run=str(rid))
    assert any("Saving the model and evaluating" in c.value for c in at.caption), [
        c.value for c in at.caption
    ]


def test_a_set_up_link_opens_the_identical_finished_run(fmnist_home):
    store = RunStore(fmnist_home)
    rid = finished_run(store, TrainConfig(optimizer="rmsprop", seed=3))
    finished_run(store, TrainConfig(epochs=1))  # newer, but not what the link describes
    at = open_train(model="lab_mlp", optimizer="rmsprop", lr="0.001", seed="3")
    # lr 0.001 given explicitly is a different config from "Keras' default" (None): no match, form filled
    assert at.selectbox(key="train_optimizer").value == "rmsprop"
    at = open_train(optimizer="rmsprop", seed="3")
    assert any(f"Run #{rid}" in m.value for m in at.markdown)
    assert any("already trained this set-up" in i.value for i in at.info)


def recorded_run(fmnist_home) -> int:
    from fmnist_core.replay import ensure_recorded_run

    return ensure_recorded_run(RunStore(fmnist_home))


def test_presenter_link_folds_the_set_up_and_shows_big_numbers(fmnist_home):
    rid = recorded_run(fmnist_home)
    at = open_train(run=str(rid), present="1")
    assert not at.exception, at.exception
    assert at.toggle(key="train_present").value is True
    assert any(e.label == "Set-up" for e in at.expander)  # the form is folded away
    assert not any(s.value == "Run history" for s in at.subheader)
    at.toggle(key="train_present").set_value(False).run()
    assert any(s.value == "Run history" for s in at.subheader)


def test_replay_link_replays_and_ends_with_the_stored_numbers(fmnist_home):
    rid = recorded_run(fmnist_home)
    at = open_train(run=str(rid), replay="16", present="1")
    assert not at.exception, at.exception
    bars = [p for p in at.get("progress") if "Replay 16×" in str(p.proto.text)]
    assert bars, "a replay progress bar"
    assert at.session_state["train_replay"]["speed"] == 16
    at.session_state["train_replay"]["t0"] -= 3600  # the clock moves on: the replay is over
    at.run()
    text = " ".join(str(p.proto.text) for p in at.get("progress"))
    assert "done" in text and "epoch 10/10" in text
    values = {m.label: m.value for m in at.metric}
    store = RunStore(fmnist_home)
    last_val = store.points(rid)["val_accuracy"].dropna().iloc[-1]
    assert values["Validation acc."] == f"{last_val:.1%}"
    at.button(key="train_replay_end").click().run()
    assert "train_replay" not in at.session_state


def test_chart_options_come_from_the_link(fmnist_home):
    rid = recorded_run(fmnist_home)
    at = open_train(run=str(rid), smooth="0.6", log="1", x="images")
    assert at.slider(key="train_smooth").value == pytest.approx(0.6)
    assert at.toggle(key="train_log").value is True
    assert at.radio(key="train_x").value == "images"
    at = open_train(run=str(rid), smooth="lots", x="sideways")
    assert at.slider(key="train_smooth").value == 0.0 and at.radio(key="train_x").value == "epochs"


def test_choosing_a_preset_applies_its_recipe(fmnist_home):
    from fmnist_core import forms
    from fmnist_core.models import preset_recipe

    at = open_train()
    at.selectbox(key="train_preset").set_value("cnn_best").run()
    recipe = TrainConfig(model=PRESETS["cnn_best"], **preset_recipe("cnn_best"))
    state = {k: w.value for k in forms.URL_KEYS + ("train_lr_default",) if (w := _widget(at, k)) is not None}
    assert forms.config_from_state({**forms.default_state(), **state}) == recipe
    assert at.selectbox(key="train_schedule").value == recipe.lr_schedule


def _widget(at, key):
    for kind in ("selectbox", "number_input", "checkbox", "slider"):
        try:
            return getattr(at, kind)(key=key)
        except KeyError:
            continue
    return None


def test_a_link_naming_a_preset_brings_its_recipe(fmnist_home):
    from fmnist_core.models import preset_recipe

    at = open_train(model="cnn_best", seed="5")
    recipe = preset_recipe("cnn_best")
    assert at.number_input(key="train_epochs").value == recipe["epochs"]
    assert at.selectbox(key="train_batch").value == recipe["batch_size"]
    assert at.selectbox(key="train_schedule").value == recipe["lr_schedule"]
    assert at.number_input(key="train_seed").value == 5  # the link's own field wins
