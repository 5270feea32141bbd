"""Real browser: draw on the canvas with the mouse and get a prediction from a model trained on the real
data; a corrupt upload gets a clear error. Saves docs/sketch.png."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, assert_no_errors, wait_for_app

pytestmark = pytest.mark.e2e

CANVAS = "[data-testid=stBidiComponentIsolated] canvas.upper-canvas"
SCREENSHOT = ROOT / "docs" / "sketch.png"
ANSWER = re.compile(r"^(.+ · \d+%|Not a garment I know)$")
# The z data of the "What the model sees" chart, as a string (Plotly keeps it on the graph div).
INPUT_CHART_Z = """() => { const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => (g.querySelector('.gtitle')?.textContent || '').startsWith('What the model sees'));
    const z = gd && gd.data[0].z;  // Plotly 6 JSON: {dtype, bdata, shape}
    return z ? JSON.stringify(z.bdata ?? z) : null; }"""


@pytest.fixture(scope="module")
def trained_model(streamlit_server) -> int:
    """A lab MLP trained here on 20,000 real training images (a few seconds), recorded in the server's
    store as a finished run, exactly as the worker records one."""
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.jobs import execute_run
    from fmnist_core.store import RunStore
    from fmnist_core.training import TrainConfig

    config = TrainConfig(epochs=3, batch_size=128, train_subset=20_000, seed=7)
    store = RunStore(streamlit_server.home)
    run_id = store.create_run(config, label="e2e · lab_mlp on 20k images", status="running")
    assert execute_run(store, run_id, config, load_fashion_mnist()) == "finished"
    run = store.get_run(run_id)
    store.close()
    assert run.test_accuracy > 0.8
    return run_id


def stroke(page, box: dict, points: list[tuple[float, float]], steps: int = 6) -> None:
    """One mouse stroke through `points` given as fractions of the canvas' width and height."""
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()


# Two thick legs and a waistband (filled-looking: lines closer than the 22 px brush) in ONE stroke, so one
# mouse-up sends the whole drawing: separate strokes raced the reruns of a loaded server, and the answer could
# be to a drawing the canvas never finished.
TROUSERS = [
    (0.33, 0.9), (0.33, 0.12), (0.67, 0.12), (0.67, 0.9), (0.62, 0.9), (0.62, 0.19), (0.57, 0.19),
    (0.57, 0.9), (0.57, 0.19), (0.43, 0.19), (0.43, 0.9), (0.38, 0.9), (0.38, 0.19),
]  # fmt: skip


def canvas_box(page) -> dict:
    """The canvas' place once the page has settled and the layout no longer moves (strokes land on it)."""
    canvas = page.locator(CANVAS)
    expect(canvas).to_be_visible(timeout=30_000)
    wait_for_app(page)
    page.wait_for_function(
        """() => { const c = [...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')]
            .map(e => e.shadowRoot && e.shadowRoot.querySelector('canvas.upper-canvas')).find(Boolean);
          if (!c) return false;
          const r = c.getBoundingClientRect(), key = [r.x, r.y, r.width, r.height].join();
          const same = window.__sketchBox === key; window.__sketchBox = key; return same; }""",
        polling=250,
        timeout=30_000,
    )
    return canvas.bounding_box()


def answer(page):
    return page.locator("h2").filter(has_text=ANSWER)


def test_draw_and_classify_then_a_corrupt_upload(streamlit_server, page, trained_model):
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.goto(f"{streamlit_server.url}/sketch")
    wait_for_app(page)
    # The first visit loads the model (TensorFlow import included): allow for it.
    expect(page.get_by_text("Draw a garment on the black canvas")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(
        re.compile(rf"^Run #{trained_model} · e2e")
    )
    assert_no_errors(page)

    box = canvas_box(page)
    stroke(page, box, TROUSERS, steps=4)
    t0 = time.perf_counter()
    expect(answer(page)).to_have_text(re.compile(r"^Trouser · \d+%$"), timeout=30_000)
    wait_for_app(page)
    print(f"\nlast stroke -> answer settled: {time.perf_counter() - t0:.2f} s")
    expect(page.get_by_text("Most similar real images")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Trouser · #\d+$")).first).to_be_visible()
    assert_no_errors(page)

    # More strokes, more script runs (Streamlit clears the Keras session after each): each still answers.
    # Latency: mouse-up to the browser holding the new 28x28 input in its chart.
    for y in (0.3, 0.45):
        # The chart may still be drawing after the script run ended: wait for it, don't assume it.
        page.wait_for_function(f"() => ({INPUT_CHART_Z})() !== null", timeout=30_000)
        before = page.evaluate(INPUT_CHART_Z)
        stroke(page, box, [(0.5, 0.13), (0.5, y)])
        t0 = time.perf_counter()
        page.wait_for_function(f"() => ({INPUT_CHART_Z})() !== {json.dumps(before)}", timeout=30_000)
        print(f"stroke released -> new input chart: {time.perf_counter() - t0:.2f} s")
        wait_for_app(page)
        expect(answer(page)).to_be_visible()
    assert_no_errors(page)

    # The screenshot for the docs, once every chart has drawn.
    expect(page.locator("[data-testid=stSkeleton]")).to_have_count(0, timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].every(gd => gd.querySelector('.main-svg'))"
    )
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert Path(SCREENSHOT).stat().st_size > 20_000

    # A scribble over the whole canvas, edge to edge (one stroke, from the bottom right): the answer comes
    # with a note that a scribble reads as a filled square (a garment drawn that big looks the same).
    stroke(page, box, [((0.045 if i % 2 else 0.955), 0.955 - 0.091 * i) for i in range(11)], steps=10)
    expect(page.get_by_text("Edge to edge: this drawing spreads over the whole canvas")).to_be_visible(
        timeout=30_000
    )
    wait_for_app(page)
    expect(answer(page)).to_have_count(1)
    assert_no_errors(page)

    # Upload instead: a corrupt PNG is refused with a clear message, not a traceback.
    page.get_by_role("radio", name="Upload").click()
    wait_for_app(page)
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(
        files=[{"name": "shirt.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64}]
    )
    wait_for_app(page)
    expect(page.get_by_text(re.compile("corrupt or truncated|not an image"))).to_be_visible(timeout=30_000)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert not page.page_errors, page.page_errors


# A right-facing ankle boot as one closed outline (auto-filled by the page), in fractions of the canvas:
# shaft on the left, toe pointing right (the data's shoes face left).
BOOT_RIGHT = [
    (0.22, 0.1), (0.5, 0.1), (0.52, 0.48), (0.72, 0.56), (0.88, 0.62), (0.92, 0.72),
    (0.92, 0.88), (0.2, 0.88), (0.21, 0.5), (0.22, 0.1),
]  # fmt: skip


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A server on an empty store that queues the default sketch model by itself, as `make run` does."""
    from tests.conftest import StreamlitServer

    server = StreamlitServer(
        home=tmp_path_factory.mktemp("fresh_home"), env={"FMNIST_AUTO_SKETCH_MODEL": "1"}
    ).start()
    yield server
    server.stop()


def test_a_right_facing_boot_is_an_ankle_boot_from_the_automatic_default_model(fresh_server, page):
    from fmnist_core.sketch.default import DEFAULT_LABEL

    page.set_viewport_size({"width": 1280, "height": 720})
    t0 = time.perf_counter()
    page.goto(f"{fresh_server.url}/sketch")
    wait_for_app(page)
    # No click anywhere: the server queued the default model, the page shows it training ...
    expect(page.get_by_text(re.compile(r"Training the sketch model \(run #\d+\)"))).to_be_visible(
        timeout=60_000
    )
    assert not page.get_by_role("button", name="Train the sketch model").count()
    # ... and switches to it when it is done (2-3 minutes on 2 idle cores; a busy machine takes longer).
    expect(page.get_by_role("combobox", name="Model")).to_have_value(
        re.compile(rf"^Run #\d+ · {re.escape(DEFAULT_LABEL)}"), timeout=600_000
    )
    print(f"\nfresh server -> default model ready: {time.perf_counter() - t0:.0f} s")
    wait_for_app(page)
    assert_no_errors(page)

    stroke(page, canvas_box(page), BOOT_RIGHT, steps=8)
    expect(answer(page)).to_have_text(re.compile(r"^Ankle boot · \d+%$"), timeout=30_000)
    expect(page.get_by_text("Your closed outline was filled")).to_be_visible()
    assert_no_errors(page)
