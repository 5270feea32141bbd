"""Real browser: a Compare link opens the page with its set-up in the form on a fresh server, the URL
follows the form, and presenter mode (`?present=1`) folds the controls away. Nothing trains."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fmnist_core.store import RunStore
from tests.conftest import StreamlitServer, assert_no_errors, wait_for_app
from tests.test_e2e_compare import set_number

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    server = StreamlitServer(
        home=tmp_path_factory.mktemp("compare_link_home"), env={"FMNIST_EAGER_WORKER": "0"}
    )
    server.start()
    yield server
    server.stop()


def test_a_compare_link_fills_the_form_and_the_url_follows_it(fresh_server, small_page):
    page = small_page
    page.goto(f"{fresh_server.url}/compare?optimizers=adam,rmsprop&seeds=2&epochs=4&batch=abc")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Compare optimizers")).to_be_visible()
    chips = page.get_by_test_id("stMultiSelect").first
    expect(chips.get_by_text("Adam", exact=True)).to_be_visible()
    expect(chips.get_by_text("RMSprop", exact=True)).to_be_visible()
    expect(chips.get_by_text("SGD", exact=True)).to_have_count(0)
    expect(page.get_by_role("spinbutton", name="Seeds per variant")).to_have_value("2")
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("4")
    expect(page.get_by_test_id("stMetric").filter(has_text="Runs")).to_contain_text("4")
    # the unreadable batch is named, not echoed, and left at 64
    expect(
        page.get_by_text(re.compile(r"could not be read and were left as they were: batch\."))
    ).to_be_visible()
    assert "abc" not in page.get_by_test_id("stAlert").first.inner_text()
    # the form drives the URL: a changed field appears in it by its short name
    set_number(page, "Epochs", 3)
    page.wait_for_url(re.compile(r"epochs=3"))
    assert "optimizers=adam%2Crmsprop" in page.url or "optimizers=adam,rmsprop" in page.url, page.url
    assert "batch=" not in page.url
    page.screenshot(path=str(fresh_server.home / "compare-link.png"))
    assert_no_errors(page)
    assert not RunStore(fresh_server.home).studies()  # nothing was started


def test_presenter_mode_folds_the_set_up_away(fresh_server, small_page):
    page = small_page
    page.goto(f"{fresh_server.url}/compare?present=1&epochs=2")
    wait_for_app(page)
    expect(page.get_by_text("Open Set-up above")).to_be_visible()
    expect(page.get_by_role("heading", name="Compare optimizers")).to_have_count(0)
    expect(page.get_by_role("spinbutton", name="Epochs")).not_to_be_visible()  # folded in the expander
    page.get_by_test_id("stExpander").get_by_text("Set-up", exact=True).click()
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("2")
    assert "present=1" in page.url
    assert_no_errors(page)
