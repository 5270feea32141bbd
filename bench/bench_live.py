"""What a user feels while a run trains, measured in Chromium against a real `streamlit run`:

1. how far the live chart trails the store: for every point the worker writes, the time from its
   store timestamp to the first moment the open Train page's chart reaches it (same clock);
2. how quickly a second browser renders the Train page (and its Stop button) while the strongest CNN
   trains, against the same page with the worker idle, in the same run;
3. how long the strongest CNN takes to end after Stop is requested.

    python -m bench live            # BENCH_LIVE_EPOCHS=2 (lab MLP, all 48,000 images)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from fmnist_core.models import PRESETS
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig

# Every 50 ms: the largest x (epochs done) drawn in the loss chart, with the browser's wall clock.
RECORD = """() => { window.__samples = []; setInterval(() => {
  const gd = document.querySelector('.js-plotly-plot'); let m = -1;
  if (gd && gd._fullData) for (const t of gd._fullData) for (const v of (t.x || [])) if (v != null && v > m) m = v;
  window.__samples.push([Date.now() / 1000, m]); }, 50); }"""
READY = """() => { const a = document.querySelector('[data-testid="stApp"]');
  return a && a.getAttribute('data-test-script-state') === 'notRunning'
      && a.getAttribute('data-test-connection-state') === 'CONNECTED'; }"""


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def chart_lag(store: RunStore, browser, url: str, epochs: int) -> list[float]:
    rid = store.create_run(TrainConfig(epochs=epochs, seed=int(time.time()) % 10**6))
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/train?run={rid}")
    page.wait_for_function(READY, timeout=120_000)
    page.evaluate(RECORD)
    _wait(lambda: store.get_run(rid).status not in ("queued", "running"), 600, "run end")
    time.sleep(2)  # let the page draw the last points
    samples = page.evaluate("() => window.__samples")
    page.close()
    points = store.points(rid)
    lags = []
    for t_point, progress in zip(points["time"], points["progress"], strict=True):
        shown = next((t for t, m in samples if m >= progress - 1e-9 and t >= t_point - 0.05), None)
        if shown is not None:
            lags.append(max(0.0, shown - t_point))
    return lags


def render_time(browser, url: str) -> tuple[float, float]:
    """Seconds to a rendered Train page and to a visible Stop button (nan when no run is active)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(f"{url}/train")
    page.get_by_text("Run history").wait_for(timeout=120_000)  # the page's last section is drawn
    rendered = time.perf_counter() - t0
    stop = float("nan")
    try:
        page.get_by_role("button", name="Stop", exact=True).wait_for(timeout=30_000)
        stop = time.perf_counter() - t0
    except Exception:  # noqa: BLE001 (no active run: there is no Stop button to wait for)
        pass
    ctx.close()
    return rendered, stop


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer

    epochs = int(os.environ.get("BENCH_LIVE_EPOCHS", "2"))
    with tempfile.TemporaryDirectory() as home, sync_playwright() as p:
        server = StreamlitServer(home=Path(home)).start()
        store = RunStore(home)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            render_time(browser, server.url)  # first visit: imports, caches
            idle = [render_time(browser, server.url)[0] for _ in range(3)]
            lags = chart_lag(store, browser, server.url, epochs)
            q = statistics.quantiles(lags, n=20) if len(lags) >= 2 else [float("nan")] * 19
            print(
                f"live chart lag behind the store, lab MLP ({len(lags)} points): median "
                f"{statistics.median(lags):.2f} s, p95 {q[18]:.2f} s, max {max(lags):.2f} s"
            )

            cnn = TrainConfig(
                model=PRESETS["cnn_best"], epochs=2, batch_size=128, seed=int(time.time()) % 10**6
            )
            rid = store.create_run(cnn)
            _wait(lambda: len(store.points(rid)) >= 3, 300, "CNN points")
            busy = [render_time(browser, server.url) for _ in range(3)]
            print(f"Train page render, worker idle: median {statistics.median(idle):.2f} s")
            print(
                f"Train page render while cnn_best trains: median {statistics.median(b[0] for b in busy):.2f} s,"
                f" Stop button visible after median {statistics.median(b[1] for b in busy):.2f} s"
            )
            asked = time.time()
            store.request_stop(rid)
            _wait(lambda: store.get_run(rid).status not in ("queued", "running"), 60, "CNN stop")
            run = store.get_run(rid)
            print(f"cnn_best: {run.status} {run.finished - asked:.2f} s after the stop request")
        finally:
            browser.close()
            server.stop()


if __name__ == "__main__":
    main()
