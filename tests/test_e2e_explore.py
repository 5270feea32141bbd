"""Real browser: the dataset explorer in Chromium against `streamlit run app.py`.

Shows images and Plotly charts, reacts to its widgets (class filter, paging, tabs, a click on the
PCA scatter, histogram options) and ends with no error. Screenshots of each tab land in docs/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ROOT, assert_no_errors, wait_for_app

pytestmark = [
    pytest.mark.e2e,
]

DOCS = ROOT / "docs"
TIMEOUT = 60_000


def _drawn(chart):
    """A Plotly chart that has finished drawing (its main SVG exists)."""
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=TIMEOUT)


def _panel(page: Page):
    """The tab panel on show."""
    return page.locator('[role="tabpanel"]:not([hidden])')


def _screenshot(page: Page, name: str) -> None:
    """Whole page: Streamlit scrolls inside its main container, so grow the viewport to fit it
    (same width: Plotly charts need no relayout), shoot, and restore."""
    DOCS.mkdir(exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, int(height))})
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(DOCS / name), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_explorer_in_the_browser(streamlit_server, page):
    page.goto(streamlit_server.url)
    wait_for_app(page)
    expect(page.locator("h1").first).to_have_text("Dataset explorer")

    # Summary, grid and charts are on screen.
    expect(page.get_by_test_id("stMetric")).to_have_count(7)
    thumbs = page.locator('[data-testid="stImageContainer"] img')
    expect(thumbs).to_have_count(32, timeout=TIMEOUT)
    expect(thumbs.first).to_be_visible()
    assert thumbs.first.evaluate("img => img.naturalWidth") == 84  # 28 px upscaled 3x, not blurred by CSS
    captions = page.get_by_test_id("stImageCaption")
    expect(captions.first).to_have_text("9 · Ankle boot")
    charts = page.locator('[data-testid="stPlotlyChart"]')
    # Distribution and inspector; the other tabs are lazy (built when opened).
    expect(charts.nth(1)).to_be_attached(timeout=TIMEOUT)
    for chart in charts.filter(visible=True).all():
        _drawn(chart)
    assert charts.filter(visible=True).count() >= 2
    # The inspector is a heatmap of the first image, with a colorbar.
    inspector = page.locator(".st-key-explore_inspect_chart")
    expect(inspector.locator(".hm").first).to_be_attached()
    expect(inspector.locator(".colorbar")).to_have_count(1)
    assert_no_errors(page)
    _screenshot(page, "explore.png")

    # Filter to one class: every caption follows.
    status = page.get_by_text(re.compile(r"images match · page"))
    page.locator(".st-key-explore_classes input").fill("Sneaker")
    page.get_by_role("option", name="7 · Sneaker").click()
    page.keyboard.press("Escape")  # close the dropdown (it hides the rest of the page from role queries)
    expect(status).to_contain_text("6,000 train images match · page 1 of 188", timeout=TIMEOUT)
    wait_for_app(page)
    expect(captions).to_have_count(32)
    assert set(captions.all_inner_texts()) == {"7 · Sneaker"}

    # Next page.
    first_src = thumbs.first.get_attribute("src")
    page.locator(".st-key-explore_page").get_by_role("button", name="Next page").click()
    expect(status).to_contain_text("page 2 of 188", timeout=TIMEOUT)
    wait_for_app(page)
    expect(thumbs.first).not_to_have_attribute("src", first_src)

    # Class means tab.
    page.get_by_role("tab", name="Class mean & std").click()
    means = _panel(page).locator(".st-key-explore_meanstd_chart")
    _drawn(means)
    expect(means.locator(".colorbar")).to_have_count(2)  # mean (gray) and std (viridis)
    _screenshot(page, "explore_means.png")

    # PCA tab: click a point, its image appears beside the scatter.
    page.get_by_role("tab", name="PCA projection").click()
    scatter = _panel(page).locator(".st-key-explore_pca_chart")
    _drawn(scatter)
    expect(_panel(page).get_by_text("Click a point in the projection")).to_be_visible()
    point = scatter.locator(".scatterlayer .trace .points path").nth(40)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    assert box, "scatter points are drawn"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)  # Plotly selects the hovered point on click: wait for its hover label
    expect(scatter.locator(".hoverlayer .hovertext")).to_be_visible()
    page.mouse.click(x, y)
    expect(_panel(page).get_by_text("Click a point in the projection")).to_have_count(0, timeout=TIMEOUT)
    wait_for_app(page)
    picked = _panel(page).locator(".st-key-explore_pca_image")
    _drawn(picked)
    expect(picked.locator(".gtitle")).to_have_text(re.compile(r"^train #\d+ — \d · "))
    assert_no_errors(page)
    _screenshot(page, "explore_pca.png")

    # Histograms tab: one class, log scale.
    page.get_by_role("tab", name="Pixel intensities").click()
    hist = _panel(page).locator(".st-key-explore_hist_chart")
    _drawn(hist)
    expect(hist.locator(".legend .traces")).to_have_count(10)
    page.locator(".st-key-explore_hist_classes input").fill("Trouser")
    page.get_by_role("option", name="1 · Trouser").click()
    page.keyboard.press("Escape")
    expect(hist.locator(".legend .traces")).to_have_count(1, timeout=TIMEOUT)
    page.locator(".st-key-explore_hist_log").get_by_text("Log scale").click()
    wait_for_app(page)
    expect(hist.locator(".ytick").first).to_be_visible()
    _screenshot(page, "explore_hist.png")

    assert_no_errors(page)
