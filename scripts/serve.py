"""Start the app's Streamlit server with a warm start: `python scripts/serve.py [streamlit run options]`.

A plain `streamlit run app.py` imports nothing of the app until the first visitor arrives, so that visitor
waits for numpy, pandas, the app's modules and the dataset to load, while the training worker starts and
imports TensorFlow on the same two cores. Here a background thread does that work as soon as the server
process starts: it imports the page modules' dependencies, loads the dataset into the pages' cache and
starts the job runner (whose worker then imports TensorFlow and loads the data before anyone clicks).

Nothing here changes what the pages do; a failure in the warm-up is logged and the pages do the same work on
the first visit, as with `streamlit run`. `FMNIST_WARM_START=0` turns the warm-up off.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_THREAD = "fmnist-warm-start"
log = logging.getLogger("fmnist_studio.serve")
WARM_MODULES = (
    "fmnist_core.charts",
    "fmnist_core.explore",
    "fmnist_core.compare",  # scipy.stats: ~0.6 s of Compare's first visit
    "fmnist_core.studies.chosen",
    "fmnist_core.studies.link",
    "fmnist_core.forms",
    "fmnist_core.history",
    "fmnist_core.insight",
    "fmnist_core.bundle",
    "fmnist_core.replay",
    "fmnist_core.training",
)


class _QuietWarmUp(logging.Filter):
    """Streamlit warns "missing ScriptRunContext" when its caches are used outside a page run, which is
    what the warm-up does on purpose: drop those records from the warm-up thread only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName == WARM_THREAD and "ScriptRunContext" in record.getMessage())


def _warm_up() -> None:
    try:
        import importlib

        import pandas  # noqa: F401  (the first page run's largest import)

        for name in WARM_MODULES:  # the pages' imports (none of them imports TensorFlow)
            importlib.import_module(name)
        from fmnist_core.settings import studio_home
        from pages import _shared  # helpers only: importing a page script would run it

        _shared.get_dataset()  # fills the cache_resource the pages read
        _shared._runner_for(str(studio_home()))  # starts the worker: TensorFlow is imported before a click
        log.info("warm start done")
    except Exception:  # the pages will do it on the first visit, with their own messages
        log.warning("warm start failed; the first visit will load everything", exc_info=True)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from streamlit.web import cli

    if os.environ.get("FMNIST_WARM_START", "1") != "0":
        for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
            logging.getLogger(name).addFilter(_QuietWarmUp())
        threading.Thread(target=_warm_up, name=WARM_THREAD, daemon=True).start()
    return cli.main(["run", str(ROOT / "app.py"), *sys.argv[1:]], prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())
