"""Real browser: the app with FMNIST_EXECUTOR=ray (its own local Ray on loopback) streams a run."""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import expect

from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig, steps_per_execution_for
from tests.conftest import StreamlitServer, assert_no_errors, wait_for_app
from tests.test_e2e_train import CHART_HAS_POINTS, set_number, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory: pytest.TempPathFactory):
    env = {"FMNIST_EXECUTOR": "ray", "FMNIST_RAY_ADDRESS": "", "FMNIST_RAY_LOCAL_CPUS": "2"}
    server = StreamlitServer(home=tmp_path_factory.mktemp("e2e_ray_home"), env=env).start()
    yield server
    server.stop()


def test_train_page_streams_a_run_trained_on_ray(ray_server, page):
    page.goto(f"{ray_server.url}/train")
    wait_for_app(page)
    set_number(page, "Training images", 2000)
    set_number(page, "Epochs", 1)
    store = RunStore(ray_server.home)
    page.get_by_role("button", name="Start training").click()
    run = wait_for(lambda: (rs := store.runs()) and rs[0], timeout=30)
    expect(page.get_by_text(f"Run #{run.id}").first).to_be_visible(timeout=30_000)
    # Ray starts, the task imports TensorFlow, and its points reach the chart through the app's store.
    page.wait_for_function(CHART_HAS_POINTS, timeout=120_000)
    expect(page.get_by_text("Test accuracy").first).to_be_visible(timeout=120_000)
    assert_no_errors(page)
    run = store.get_run(run.id)
    assert run.status == "finished" and run.test_accuracy > 0.5  # real data, 2,000 images, one epoch
    kinds = store.points(run.id)["kind"].value_counts()
    steps = math.ceil(2000 / run.config["batch_size"])
    spe = steps_per_execution_for(TrainConfig.from_dict(run.config), steps)
    # a batch point after every compiled call and the epoch's end, streamed through the app's store
    assert kinds["epoch"] == 1 and kinds["batch"] >= math.ceil(steps / spe)
    # written by the app's Ray dispatcher (a local worker would record its own pid)
    assert run.worker_pid == ray_server.proc.pid
