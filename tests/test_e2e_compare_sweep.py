"""Real browser: a tiny learning-rate sweep set up through the compare page trains, shows accuracy against
learning rate (one curve per optimizer), and races the optimizers at their best rates on fresh seeds."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import assert_no_errors, wait_for_app
from tests.test_e2e_compare import set_number

pytestmark = pytest.mark.e2e


def test_a_sweep_study_shows_accuracy_against_rate(streamlit_server, page):
    page.goto(f"{streamlit_server.url}/compare")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Compare optimizers")).to_be_visible()
    page.get_by_text("Learning-rate sweep", exact=True).click()
    wait_for_app(page)
    for name in ("Adagrad", "RMSprop"):  # keep SGD and Adam
        page.get_by_role("button", name=f"Remove {name}", exact=True).click()
        wait_for_app(page)
    page.get_by_text("These rates for all", exact=True).click()
    wait_for_app(page)
    rates = page.get_by_label("Rates (comma-separated)", exact=True)
    rates.fill("1e-3, fast")
    rates.press("Enter")
    wait_for_app(page)
    expect(page.get_by_text("'fast' is not a number")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Start study"))).to_be_disabled()
    rates.fill("0.001, 0.01")
    rates.press("Enter")
    wait_for_app(page)
    set_number(page, "Seeds per variant", 1)
    set_number(page, "Epochs", 1)
    page.get_by_text("Quick demo on a subset", exact=True).click()
    wait_for_app(page)
    set_number(page, "Training images", 300)
    set_number(page, "Validation images", 300)
    # 2 optimizers x 2 rates x seed 0, then each at its best rate on fresh seed 1
    expect(page.get_by_test_id("stMetric").filter(has_text="Runs")).to_contain_text("6")
    expect(page.get_by_test_id("stMetric").filter(has_text="Estimated time")).to_be_visible()
    assert_no_errors(page)

    page.get_by_role("button", name=re.compile("Start study")).click()
    expect(page.get_by_text("Study started: 4 runs queued")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Leaderboard", exact=True)).to_be_visible(timeout=240_000)
    # .first: while the study ends, the page can briefly hold the chart twice (live panel, then results)
    expect(page.get_by_text("Validation accuracy against learning rate").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"At each optimizer's best rate")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"comparison runs on fresh seeds 1 ")).first).to_be_visible()
    expect(page.get_by_test_id("stProgress").first).to_contain_text("6 / 6 runs done")
    # one line per optimizer, a point per rate (Plotly 6 sends arrays base64-encoded: count via _fullData)
    lines = page.evaluate(
        """() => {
            const plot = [...document.querySelectorAll('.js-plotly-plot')]
                .find(p => (p.layout.title && p.layout.title.text || '').includes('against learning rate'));
            return plot._fullData.filter(t => t.mode === 'lines+markers').map(t => [t.name, t._length]);
        }"""
    )
    assert sorted(lines) == [["Adam", 2], ["SGD", 2]], lines
    expect(page.get_by_text("no verdict")).to_be_visible()  # one seed: the verdict says why it has none
    assert_no_errors(page)
