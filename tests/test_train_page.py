"""AppTest of the Train page: controls, refusals, a real run through the worker, reopen and delete."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core.store import RunStore


def open_train() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    return at


def start_button(at: AppTest):
    return next(b for b in at.button if b.key.startswith("train_start_"))


def test_page_shows_parameter_count_and_no_run(fmnist_home):
    at = open_train()
    assert any("109,386 parameters" in e.label for e in at.expander)
    assert any("No run yet" in i.value for i in at.info)


def test_custom_architecture_is_validated(fmnist_home):
    at = open_train()
    at.selectbox(key="train_preset").set_value("custom").run()
    at.text_input(key="train_hidden").set_value("128, lots").run()
    assert any("whole numbers" in e.value for e in at.error)
    assert not [b for b in at.button if b.key.startswith("train_start_")]  # nothing to start
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
    assert any("already trained this exact configuration" in i.value for i in at.info)
