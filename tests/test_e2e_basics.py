"""Real browser, issue "trust the basics": links, Stop, deleting, and nothing clipped at 1280x720."""

from __future__ import annotations

import time

import numpy as np
import pytest
from playwright.sync_api import expect

from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig
from tests.conftest import assert_no_errors, wait_for_app
from tests.test_e2e_train import CHART_HAS_POINTS, set_number, wait_for

pytestmark = pytest.mark.e2e

# Text that the page cuts off: an element that hides its overflow (or ends in an ellipsis) and whose
# content is wider than its box. Streamlit's invisible "skip to content" link is meant to be hidden.
CLIPPED_TEXT = """() => {
  const out = [];
  for (const el of document.querySelectorAll('[data-testid=stMain] *, [data-testid=stSidebar] *')) {
    if (el.tagName === 'INPUT') {  // a selectbox or text box whose value does not fit
      if (el.value && el.clientWidth && el.scrollWidth > el.clientWidth + 1) out.push(el.value.slice(0, 60));
      continue;
    }
    if (!el.clientWidth || !el.textContent.trim()) continue;
    const cs = getComputedStyle(el);
    const hides = cs.overflowX === 'hidden' || cs.overflow.includes('hidden') || cs.textOverflow === 'ellipsis';
    if (hides && el.scrollWidth > el.clientWidth + 1) out.push(el.textContent.trim().slice(0, 60));
  }
  return out;
}"""

# Pairs of axis tick labels of one Plotly chart whose boxes intersect.
OVERLAPPING_TICKS = """(sel) => {
  const gd = document.querySelector(sel); if (!gd) return ['no chart'];
  const out = [];
  for (const axis of ['xtick', 'ytick']) {
    const boxes = [...gd.querySelectorAll('.' + axis + ' text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (ra.left < rb.right - 1 && rb.left < ra.right - 1 && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1)
        out.push(a + ' / ' + b);
    }
  }
  return out;
}"""


def fake_finished_run(store: RunStore, *, epochs: int = 2, label: str = "") -> int:
    """A finished run with metric points and test predictions, written straight into the store."""
    config = TrainConfig(epochs=epochs, seed=int(time.time() * 1000) % 100000, train_subset=1000)
    rid = store.create_run(config, label=label)
    rng = np.random.default_rng(rid)
    for e in range(1, epochs + 1):
        store.add_point(
            rid,
            {
                "kind": "epoch",
                "epoch": e,
                "step": 16,
                "progress": float(e),
                "loss": 1 / e,
                "accuracy": 0.7,
                "val_loss": 1 / e,
                "val_accuracy": 0.7 + e / 100,
                "time": time.time(),
            },
        )
    probs = rng.dirichlet(np.ones(10), size=10000).astype(np.float32)
    store.save_test_probs(rid, probs)
    store.finish_run(
        rid, status="finished", test_accuracy=0.1, test_loss=2.3, epochs_done=epochs, seconds=3.0
    )
    return rid


@pytest.mark.parametrize("route", ["", "train", "compare", "sketch"])
def test_nothing_is_clipped_at_1280x720(streamlit_server, small_page, route):
    store = RunStore(streamlit_server.home)
    query = f"?run={fake_finished_run(store)}" if route == "train" else ""
    small_page.goto(f"{streamlit_server.url}/{route}{query}")
    wait_for_app(small_page)
    if route == "train":  # the results, with the confusion matrix, are part of what must fit
        expect(small_page.get_by_text("on the 10,000 test images")).to_be_visible(timeout=30_000)
        cm = ".js-plotly-plot:has(.heatmaplayer)"
        # The confusion matrix itself, drawn with its ten class ticks (other charts may be drawn first).
        small_page.wait_for_function(
            f"() => {{ const gd = document.querySelector('{cm}'); "
            "return !!gd && gd.querySelectorAll('.xtick text').length >= 10; }",
            timeout=30_000,
        )
        assert small_page.evaluate(OVERLAPPING_TICKS, cm) == []
    assert small_page.evaluate(CLIPPED_TEXT) == []
    assert_no_errors(small_page)


def test_bad_run_links_show_not_found_and_the_history(streamlit_server, page):
    store = RunStore(streamlit_server.home)
    fake_finished_run(store)
    for raw in ("9" * 400, "-1", "abc"):
        page.goto(f"{streamlit_server.url}/train?run={raw}")
        wait_for_app(page)
        expect(page.get_by_text("not found").first).to_be_visible()
        expect(page.get_by_text("Run history")).to_be_visible()
        assert_no_errors(page)


def select_history_row(page, row: int) -> None:
    """Tick a row of the history table (a canvas grid: click its row-marker column)."""
    grid = page.get_by_test_id("stDataFrame").last
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    header = 35  # Streamlit's default row height, the header row included
    page.mouse.click(box["x"] + 16, box["y"] + header + header * row + header / 2)
    wait_for_app(page)


def test_delete_asks_first_and_never_removes_a_second_run(streamlit_server, page):
    store = RunStore(streamlit_server.home)
    older = fake_finished_run(store, label="older")
    newer = fake_finished_run(store, label="newer")
    page.goto(f"{streamlit_server.url}/train?run={newer}")
    wait_for_app(page)
    select_history_row(page, 0)  # newest first: the run on screen
    page.get_by_role("button", name=f"Delete run #{newer}…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Run #{newer} (newer, finished)")).to_be_visible()
    assert store.get_run(newer) is not None  # nothing deleted before the confirmation
    dialog.get_by_role("button", name=f"Delete run #{newer}").click()
    wait_for(lambda: store.get_run(newer) is None, timeout=15)
    wait_for_app(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    # The selection is cleared: no "Delete run #older" button waits under the cursor.
    expect(page.get_by_role("button", name="Delete run")).to_have_count(0)
    assert store.get_run(older) is not None
    assert f"run={newer}" not in page.url


def test_start_names_the_new_run_in_the_url_and_stop_stops(streamlit_server, page):
    page.goto(f"{streamlit_server.url}/train")
    wait_for_app(page)
    set_number(page, "Training images", 20000)
    set_number(page, "Epochs", 5)
    set_number(page, "Seed", int(time.time()) % 100000)  # a new config: really trains
    store = RunStore(streamlit_server.home)
    before = {r.id for r in store.runs()}
    page.get_by_role("button", name="Start training").click()
    new = wait_for(lambda: [r for r in store.runs() if r.id not in before], timeout=30)
    rid = new[0].id
    page.wait_for_function(f"() => location.search.includes('run={rid}')", timeout=5_000)
    page.wait_for_function(CHART_HAS_POINTS, timeout=120_000)
    wait_for(lambda: store.get_run(rid).status == "running", timeout=60)
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_text("Stopping…").first).to_be_visible(timeout=5_000)
    asked = wait_for(lambda: store.get_run(rid).stop_requested and time.time(), timeout=10)
    wait_for(lambda: store.get_run(rid).status not in ("queued", "running"), timeout=10)
    run = store.get_run(rid)
    assert run.status in ("stopped", "finished")
    assert run.finished - asked < 2.5, f"the run ended {run.finished - asked:.1f} s after the stop request"
    if run.status == "stopped":
        assert run.epochs_done < 5
    pts = store.points(rid)
    assert (pts["step"] <= 313).all()  # 20,000 images at batch 64: 313 batches an epoch
    assert pts["progress"].is_monotonic_increasing
    expect(page.get_by_text(f"Run #{rid}").first).to_be_visible()
    assert_no_errors(page)
