"""Shared fixtures: tiny IDX datasets, a private FMNIST_HOME, and a real Streamlit server + Chromium."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# AppTests create a job runner per FMNIST_HOME; start its worker only when a test submits a run.
os.environ.setdefault("FMNIST_EAGER_WORKER", "0")
# Servers and AppTests do not queue the Sketch page's default model by themselves (tests that want it say so).
os.environ.setdefault("FMNIST_AUTO_SKETCH_MODEL", "0")
os.environ.setdefault("FMNIST_SEED_RECORDING", "0")  # tests that want the shipped recording ask for it
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None, gz: bool = True) -> Path:
    """Write a uint8 array as an IDX file (optionally with a wrong magic number)."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def make_tiny_dataset(directory: Path, *, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """A tiny but valid Fashion-MNIST-layout folder: each class a distinct bright band."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        x = rng.integers(0, 40, size=(n, 28, 28))
        for i, label in enumerate(y):
            x[i, 2 * label : 2 * label + 6, 4:24] = 220
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", y)
    return directory


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    return make_tiny_dataset(tmp_path / "tiny")


@pytest.fixture
def fmnist_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    return home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    def __init__(self, *, home: Path, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.log_path = home / "streamlit.log"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> StreamlitServer:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "FMNIST_HOME": str(self.home), "FMNIST_EAGER_WORKER": "1", **self.extra_env}
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "scripts/serve.py",  # what `make run` starts: `streamlit run app.py` with a warm start
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        import urllib.request

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.25)  # polling a server that is starting; nothing to wait on instead
        self.stop()
        raise RuntimeError(f"streamlit did not come up within {timeout}s:\n{self.read_log()}")

    def read_log(self) -> str:
        try:
            return self.log_path.read_text()[-5000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            import signal

            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory: pytest.TempPathFactory):
    server = StreamlitServer(home=tmp_path_factory.mktemp("e2e_home")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _watched_page(browser, width: int, height: int):
    """A page in a fresh browser context that records JavaScript errors in `page_errors`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors = errors  # type: ignore[attr-defined]
    return context, pg


@pytest.fixture
def page(browser, tmp_path):
    context, pg = _watched_page(browser, 1400, 1000)
    yield pg
    context.close()


@pytest.fixture
def small_page(browser):
    """A 1280x720 page: the smallest screen the app is laid out for (a projector, a laptop)."""
    context, pg = _watched_page(browser, 1280, 720)
    yield pg
    context.close()


def wait_for_app(pg, timeout: float = 60_000) -> None:
    """Wait until Streamlit has connected and finished running the script (no sleeps)."""
    from playwright.sync_api import expect

    expect(pg.locator('[data-testid="stApp"]')).to_be_visible(timeout=timeout)
    pg.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                    return a && a.getAttribute('data-test-script-state') === 'notRunning'
                        && a.getAttribute('data-test-connection-state') === 'CONNECTED'; }""",
        timeout=timeout,
    )


def assert_no_errors(pg) -> None:
    from playwright.sync_api import expect

    expect(pg.locator('[data-testid="stException"]')).to_have_count(0)
    expect(pg.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    assert not pg.page_errors, pg.page_errors
