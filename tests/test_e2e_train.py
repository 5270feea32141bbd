"""Real browser: start a short run, watch points stream in, leave and come back, see results."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import assert_no_errors, wait_for_app

pytestmark = pytest.mark.e2e

CHART_HAS_POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .some(gd => (gd.data || []).some(t => t.x && t.x.length > 0))"""


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Enter")
    wait_for_app(page)


def test_short_run_streams_survives_page_switch_and_finishes(streamlit_server, page, browser):
    page.goto(f"{streamlit_server.url}/train")
    wait_for_app(page)
    set_number(page, "Training images (subset)", 2000)
    set_number(page, "Epochs", 2)
    page.get_by_role("button", name="Start training").click()
    heading = page.get_by_text(re.compile(r"Run #\d+"))
    expect(heading.first).to_be_visible(timeout=30_000)
    run_title = heading.first.inner_text().split()[1]  # "#N"
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
    assert page.evaluate(CHART_HAS_POINTS)
    assert_no_errors(page)

    # Reloading keeps showing the same run (it is in the URL and the store).
    page.reload()
    wait_for_app(page)
    expect(page.get_by_text(f"Run {run_title}").first).to_be_visible(timeout=30_000)
