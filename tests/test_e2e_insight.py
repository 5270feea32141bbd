"""Real browser: clicking a confusion-matrix cell shows that cell's test images, and the link keeps it."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from fmnist_core.store import RunStore
from tests.conftest import assert_no_errors, wait_for_app
from tests.test_e2e_basics import fake_finished_run

pytestmark = pytest.mark.e2e

# The page position of the centre of a heatmap cell (row = true class, col = predicted class).
CELL_CENTRE = """([row, col]) => {
  const gd = document.querySelector('.js-plotly-plot:has(.heatmaplayer)');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(col), box.top + ya._offset + ya.l2p(row)];
}"""


def test_clicking_a_confusion_cell_shows_its_images_and_puts_it_in_the_url(streamlit_server, browser):
    rid = fake_finished_run(RunStore(streamlit_server.home))
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors  # type: ignore[attr-defined]
    try:
        page.goto(f"{streamlit_server.url}/train?run={rid}")
        wait_for_app(page)
        chart = page.locator(".js-plotly-plot:has(.heatmaplayer)").first
        chart.scroll_into_view_if_needed()
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .xtick text').length >= 10")
        x, y = page.evaluate(CELL_CENTRE, [6, 0])
        page.mouse.click(x, y)
        expect(page.get_by_text("Shirt taken for T-shirt/top")).to_be_visible(timeout=20_000)
        wait_for_app(page)
        gallery = page.locator(".st-key-train_cell_gallery")
        expect(gallery.locator("img").first).to_be_visible()
        n = gallery.locator("img").count()
        assert 1 <= n <= 16
        expect(gallery.get_by_text("test #").first).to_be_visible()
        assert "cell=6%2C0" in page.url or "cell=6,0" in page.url
        if os.environ.get("FMNIST_SCREENSHOTS"):
            gallery.scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(os.environ["FMNIST_SCREENSHOTS"], "cell_gallery.png"))
        # Another cell replaces the gallery; the link opens the same cell in a fresh browser.
        chart.scroll_into_view_if_needed()
        x, y = page.evaluate(CELL_CENTRE, [4, 4])
        page.mouse.click(x, y)
        expect(page.get_by_text("Coat, correctly recognised")).to_be_visible(timeout=20_000)
        wait_for_app(page)
        url = page.url
        assert "cell=4%2C4" in url or "cell=4,4" in url
        page.goto(url)
        wait_for_app(page)
        expect(page.get_by_text("Coat, correctly recognised")).to_be_visible(timeout=20_000)
        assert_no_errors(page)
    finally:
        context.close()
