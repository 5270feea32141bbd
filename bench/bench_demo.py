"""The first seconds of a live demo, in Chromium against a real `streamlit run` with an idle worker:
from the click on Start to the first, second and tenth point on the live chart (median of 5 clicks),
and how long a first visit to each page takes to render.

    python -m bench demo
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from fmnist_core.store import RunStore

# Every 20 ms after the click: how many points the loss chart holds (x values of every trace).
WATCH = """() => { window.__seen = []; const t0 = Date.now(); const id = setInterval(() => {
  const gd = document.querySelector('.js-plotly-plot'); let n = 0;
  if (gd && gd._fullData) for (const t of gd._fullData) for (const v of (t.x || [])) if (v != null) n++;
  window.__seen.push([(Date.now() - t0) / 1000, n]); if (window.__seen.length > 3000) clearInterval(id); }, 20); }"""


def first_points(page, url: str, store: RunStore, seed: int) -> tuple[float, float, float]:
    page.goto(f"{url}/train?seed={seed}&subset=20000")
    page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state') === 'notRunning'"
    )
    before = {r.id for r in store.runs()}
    page.evaluate(WATCH)
    clicked = time.time()
    page.get_by_role("button", name="Start training").click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen = page.evaluate("() => window.__seen")
        if seen and seen[-1][1] >= 10:
            break
        time.sleep(0.1)
    seen = page.evaluate("() => window.__seen")
    new = [r for r in store.runs() if r.id not in before]
    for r in new:  # leave the worker idle for the next click
        store.request_stop(r.id)
        pts = store.points(r.id)
        run = store.get_run(r.id)
        if len(pts) and run.started:
            print(
                f"  run {r.id}: click->queued {run.created - clicked:.2f} s, queued->claimed "
                f"{run.started - run.created:.2f} s, claimed->first point {pts['time'].iloc[0] - run.started:.2f} s"
            )

    def first(n: int) -> float:
        return next((t for t, k in seen if k >= n), float("nan"))

    # A chart point is one x value; the first stored point draws as one, the tenth as ten.
    return first(1), first(2), first(10)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer

    with tempfile.TemporaryDirectory() as home, sync_playwright() as p:
        server = StreamlitServer(home=Path(home), env={"FMNIST_AUTO_SKETCH_MODEL": "0"}).start()
        store = RunStore(home)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 720})
            page = ctx.new_page()
            renders = {}
            for route in ("", "train", "compare", "sketch"):
                t0 = time.perf_counter()
                page.goto(f"{server.url}/{route}")
                page.locator("h1").first.wait_for(timeout=120_000)
                renders[route or "explore"] = time.perf_counter() - t0
            time.sleep(15)  # the eager worker imports TensorFlow and warms up: measure an idle worker
            results = []
            for i in range(5):
                results.append(first_points(page, server.url, store, seed=1000 + i + int(time.time()) % 1000))
                _wait_idle(store)
            print("first visit render (s): " + ", ".join(f"{k} {v:.2f}" for k, v in renders.items()))
            for n, label in enumerate(("first", "second", "tenth")):
                vals = [r[n] for r in results]
                print(
                    f"click to {label} point on the chart: median {statistics.median(vals):.2f} s  "
                    f"(all: {', '.join(f'{v:.2f}' for v in vals)})"
                )
        finally:
            browser.close()
            server.stop()


def _wait_idle(store: RunStore, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and store.runs(status=("queued", "running")):
        time.sleep(0.2)


if __name__ == "__main__":
    main()
