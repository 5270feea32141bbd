"""Real browser: start a tiny study through the compare page, survive a dropped websocket, see the
leaderboard appear, and reopen the study from its URL after a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fmnist_core.store import RunStore
from tests.conftest import assert_no_errors, wait_for_app

pytestmark = pytest.mark.e2e


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")  # number inputs commit on Enter
    wait_for_app(page)
    expect(box).to_have_value(str(value))


def test_tiny_study_through_the_ui(streamlit_server, page):
    page.goto(streamlit_server.url)
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Compare optimizers", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Compare optimizers")).to_be_visible()

    for name in ("SGD + momentum 0.9", "Adagrad", "RMSprop"):  # keep SGD and Adam
        page.get_by_role("button", name=f"Remove {name}", exact=True).click()
        wait_for_app(page)
    set_number(page, "Seeds per variant", 1)
    set_number(page, "Epochs", 1)
    page.get_by_text("Quick demo on a subset", exact=True).click()
    wait_for_app(page)
    set_number(page, "Training images", 1000)
    set_number(page, "Validation images", 1000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Runs")).to_contain_text("2")
    assert_no_errors(page)

    page.get_by_role("button", name=re.compile("Start study")).click()
    expect(page.get_by_text("Study started: 2 runs queued")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stProgress")).to_contain_text("runs done")
    page.wait_for_url(re.compile(r"study="))  # the URL names the study (set at the end of the run)

    # A dropped connection (and the rerun replay on reconnect) must not start a second study.
    page.evaluate("window.streamlitDebug.disconnectWebsocket()")
    wait_for_app(page)

    expect(page.get_by_role("heading", name="Leaderboard", exact=True)).to_be_visible(timeout=240_000)
    expect(page.get_by_text("spread is unknown")).to_be_visible()
    expect(page.get_by_test_id("stProgress")).to_contain_text("2 / 2 runs done")
    expect(page.get_by_role("button", name=re.compile("Download every run"))).to_be_visible()
    assert_no_errors(page)

    store = RunStore(streamlit_server.home)
    studies = [s for s in store.studies() if s["spec"].get("variants") == ["sgd", "adam"]]
    assert len(studies) == 1
    members = studies[0]["spec"]["members"]
    assert len(members) == 2
    runs = [store.get_run(m["run_id"]) for m in members]
    assert {r.status for r in runs} == {"finished"}
    assert max(r.test_accuracy for r in runs) > 0.5  # Adam after one short epoch; SGD at 0.01 is slower

    page.reload()  # the study id lives in the URL: a reload reopens it
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Leaderboard", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("spread is unknown")).to_be_visible()
    assert_no_errors(page)
