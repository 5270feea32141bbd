"""Real browser: every page loads in Chromium against `streamlit run app.py` with no error."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import assert_no_errors, wait_for_app

pytestmark = pytest.mark.e2e

# st.navigation serves the default page at "/", the others at their url_path.
ROUTES = {"": "Dataset explorer", "train": "Train", "compare": "Compare", "sketch": "Sketch"}


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_page_loads(streamlit_server, page, route):
    page.goto(f"{streamlit_server.url}/{route}")
    wait_for_app(page)
    expect(page.locator("h1").first).to_be_visible()
    assert_no_errors(page)


def test_sidebar_navigation_reaches_every_page(streamlit_server, page):
    page.goto(streamlit_server.url)
    wait_for_app(page)
    for label in ("Train", "Compare optimizers", "Sketch & classify", "Dataset explorer"):
        page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
        wait_for_app(page)
        assert_no_errors(page)


@pytest.mark.parametrize(("route", "heading"), [("train", "Train a network"), ("compare", "Compare")])
def test_first_visit_to_a_subpage_goes_through_app_navigation(tmp_path, page, route, heading):
    """A fresh server whose first request is /train must still use app.py's st.navigation
    (Streamlit would otherwise run pages/train.py alone, with file names in the sidebar)."""
    from tests.conftest import StreamlitServer

    server = StreamlitServer(home=tmp_path / "fresh").start()
    try:
        page.goto(f"{server.url}/{route}")
        wait_for_app(page)
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_text("Dataset explorer", exact=True)).to_be_visible(timeout=30_000)
        expect(nav.get_by_text("shared", exact=True)).to_have_count(0)
        expect(page.get_by_role("heading", name=re.compile(heading)).first).to_be_visible()
        assert_no_errors(page)
    finally:
        server.stop()
