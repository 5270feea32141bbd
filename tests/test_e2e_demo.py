"""Real browser, the live demo: a fresh server's recorded run replays in presenter mode, and a shared
set-up link fills the form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fmnist_core.store import RunStore
from tests.conftest import StreamlitServer, assert_no_errors, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    server = StreamlitServer(
        home=tmp_path_factory.mktemp("demo_home"),
        env={"FMNIST_SEED_RECORDING": "1", "FMNIST_EAGER_WORKER": "0"},
    ).start()
    yield server
    server.stop()


def test_recorded_run_replays_at_16x_in_presenter_mode(fresh_server, page):
    # The recording is added when the server's runner first starts: the first page visit does that.
    page.goto(f"{fresh_server.url}/train")
    wait_for_app(page)
    expect(page.get_by_text("recorded lab run").first).to_be_visible(timeout=30_000)  # a fresh install has it
    store = RunStore(fresh_server.home)
    runs = store.runs()
    assert len(runs) == 1 and runs[0].status == "finished"
    rid = runs[0].id
    page.goto(f"{fresh_server.url}/train?run={rid}&replay=16&present=1")
    wait_for_app(page)
    # Presenter mode: the set-up is folded away and the big numbers are there.
    expect(page.get_by_role("button", name="Start training")).to_be_hidden()
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="Validation acc.")).to_be_visible()
    expect(page.get_by_text("Replay 16×").first).to_be_visible()
    # 16x: the ~20 s run replays in ~1.3 s; it ends on the stored run's final numbers.
    expect(page.get_by_text("· done ·").first).to_be_visible(timeout=30_000)
    pts = store.points(rid)
    last_val = pts["val_accuracy"].dropna().iloc[-1]
    value = page.get_by_test_id("stMetric").filter(has_text="Validation acc.").get_by_test_id("stMetricValue")
    expect(value).to_have_text(f"{last_val:.1%}")
    epochs = runs[0].config["epochs"]
    expect(
        page.get_by_test_id("stMetric").filter(has_text="Epoch").get_by_test_id("stMetricValue")
    ).to_have_text(f"{epochs}/{epochs}")
    assert_no_errors(page)


def test_a_shared_set_up_link_fills_the_form_on_a_fresh_server(fresh_server, page):
    page.goto(f"{fresh_server.url}/train?model=cnn_fast&optimizer=rmsprop&epochs=3&seed=9&subset=5000")
    wait_for_app(page)
    # expect() waits for the form's final state (the first frames can hold a widget still being drawn)
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("3")
    expect(page.get_by_role("spinbutton", name="Seed")).to_have_value("9")
    expect(page.get_by_role("spinbutton", name="Training images")).to_have_value("5000")
    values = [b.input_value() for b in page.locator("[data-testid=stSelectbox] input").all()]
    assert any("CNN" in v for v in values) and "RMSprop" in values, values
    # The link round-trips: the URL still names the same set-up by short names.
    for part in ("model=cnn_fast", "optimizer=rmsprop", "epochs=3", "seed=9", "subset=5000"):
        assert part in page.url, page.url
    assert_no_errors(page)
