"""Real browser: start a short run, watch points stream in, leave and come back, see results."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from fmnist_core.store import RunStore
from tests.conftest import assert_no_errors, wait_for_app

pytestmark = pytest.mark.e2e

CHART_HAS_POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .some(gd => (gd.data || []).some(t => t.x && t.x.length > 0))"""


def wait_for(pred, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        time.sleep(0.2)  # polling the store that the server writes; there is no browser event to wait on
    raise AssertionError("timed out")


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Enter")
    wait_for_app(page)


def test_short_run_streams_survives_page_switch_and_finishes(streamlit_server, page, browser):
    page.goto(f"{streamlit_server.url}/train")
    wait_for_app(page)
    set_number(page, "Training images", 2000)
    set_number(page, "Epochs", 2)
    store = RunStore(streamlit_server.home)  # other e2e tests share this server's store
    before = {r.id for r in store.runs()}
    page.get_by_role("button", name="Start training").click()
    new = wait_for(lambda: [r for r in store.runs() if r.id not in before], timeout=30)
    assert len(new) == 1 and new[0].config["train_subset"] == 2000 and new[0].config["epochs"] == 2
    run_title = f"#{new[0].id}"
    expect(page.get_by_text(f"Run {run_title}").first).to_be_visible(timeout=30_000)
    # Points stream into the live chart (the worker may still be importing TensorFlow first).
    page.wait_for_function(CHART_HAS_POINTS, timeout=120_000)
    assert_no_errors(page)

    # A second browser sees the same run.
    other = browser.new_context().new_page()
    other.goto(f"{streamlit_server.url}/train")
    wait_for_app(other)
    expect(other.get_by_text(f"Run {run_title}").first).to_be_visible(timeout=30_000)
    other.context.close()

    # Leave for another page and come back: the run went on and its results are there.
    page.get_by_test_id("stSidebarNav").get_by_text("Dataset explorer", exact=True).click()
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Train", exact=True).click()
    expect(page.get_by_text("Test accuracy").first).to_be_visible(timeout=180_000)
    expect(page.get_by_text(f"Run {run_title}").first).to_be_visible()
    expect(page.get_by_text("Most confident mistakes")).to_be_visible(timeout=30_000)
    page.wait_for_function(CHART_HAS_POINTS, timeout=30_000)
    assert_no_errors(page)

    # Reloading keeps showing the same run (it is in the URL and the store).
    page.reload()
    wait_for_app(page)
    expect(page.get_by_text(f"Run {run_title}").first).to_be_visible(timeout=30_000)
