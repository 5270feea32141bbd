"""Streamlit helpers shared by the pages: cached data access and the sidebar status."""

from __future__ import annotations

import logging
import os
import uuid

import streamlit as st

from fmnist_core.data import DatasetError, FashionMNIST, load_fashion_mnist
from fmnist_core.jobs import JobRunner
from fmnist_core.settings import studio_home
from fmnist_core.store import RunStore


@st.cache_resource(show_spinner="Loading Fashion-MNIST (70,000 images)…")
def get_dataset() -> FashionMNIST:
    # cache_resource, not cache_data: the arrays are read-only and 55 MB; cache_data would
    # unpickle a copy on every rerun.
    return load_fashion_mnist()


ROUTED_KEY = "_routed_by_app"  # set by app.py before it runs a page
log = logging.getLogger("fmnist_studio")


def show_error(sentence: str, exc: BaseException) -> str:
    """Log an exception on the server under a short id; the page shows the sentence and the id only
    (exception text can hold paths and user input, and never reaches the browser). Returns the id."""
    error_id = uuid.uuid4().hex[:8]
    log.error("error %s: %s", error_id, sentence, exc_info=exc)
    st.error(f"{sentence} (error id `{error_id}`: the details are in the server log)")
    return error_id


def ensure_app_navigation() -> None:
    """Run through app.py's st.navigation even when a page URL is the first request a server sees.

    Streamlit 1.67 runs a fresh server in its old "pages/ directory" mode until some session has run
    app.py: a first visit to /train would run pages/train.py alone (file names in the sidebar, no page
    config). Switching the flag off and rerunning sends that session through app.py. This touches
    `PagesManager.uses_pages_directory`, which `st.navigation` itself resets the same way.
    """
    from streamlit.runtime.pages_manager import PagesManager

    # AppTest re-derives the flag on every run; a session app.py has routed before needs no rescue.
    if PagesManager.uses_pages_directory and not st.session_state.get(ROUTED_KEY):
        PagesManager.uses_pages_directory = False
        st.rerun()


def dataset_or_stop(*, sidebar_status: bool = False) -> FashionMNIST:
    """The dataset, or a clear message with the fix (and st.stop) when it cannot be loaded."""
    ensure_app_navigation()
    try:
        data = get_dataset()
    except DatasetError as exc:
        st.error("**The Fashion-MNIST dataset could not be loaded.**")
        st.code(str(exc), language=None)
        st.info("Fix it, then reload this page.")
        st.stop()
    if sidebar_status:
        st.sidebar.caption(
            f"Data: `{data.source}`  \n{len(data.x_train):,} train · {len(data.x_test):,} test images"
        )
    return data


@st.cache_resource(show_spinner=False)
def _runner_for(home: str) -> JobRunner:
    # Start the worker now so TensorFlow is imported before the first click ($FMNIST_EAGER_WORKER=0: on demand).
    runner = JobRunner(home, start=os.environ.get("FMNIST_EAGER_WORKER", "1") != "0")
    # A fresh server with no sketch-robust model queues the Sketch page's default model by itself
    # ($FMNIST_AUTO_SKETCH_MODEL=0: only on request). Once per server and home (this is cached).
    if os.environ.get("FMNIST_AUTO_SKETCH_MODEL", "1") != "0":
        from fmnist_core.sketch.default import ensure_default_sketch_model

        ensure_default_sketch_model(runner.store)  # the eager worker (or the Sketch page) picks it up
    # A fresh install gets the recorded lab run, so a replay shows live curves before anything has trained
    # ($FMNIST_SEED_RECORDING=0: not). Once per home: a marker file remembers it was added.
    if os.environ.get("FMNIST_SEED_RECORDING", "1") != "0":
        from fmnist_core.replay import ensure_recorded_run

        try:
            ensure_recorded_run(runner.store)
        except (OSError, ValueError) as exc:  # a read-only home, say: the app works without it
            log.warning("could not add the recorded lab run: %s", exc)
    return runner


def get_runner() -> JobRunner:
    """The job runner of this server for the current $FMNIST_HOME (its workers outlive reruns and pages)."""
    ensure_app_navigation()  # every page calls this or dataset_or_stop() first
    return _runner_for(str(studio_home()))


def get_store() -> RunStore:
    """The run store, through a connection owned by the current thread."""
    return get_runner().store
