"""scripts/serve.py: `make run`'s server warms up (imports, dataset, worker) before the first visitor."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import StreamlitServer

pytestmark = [pytest.mark.realdata]


def _worker_pids(server: StreamlitServer) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.proc.pid), "-f", "fmnist_core.jobs"], capture_output=True)
    return [int(p) for p in out.stdout.split()]


def _loaded(server: StreamlitServer, name: str) -> bool:
    return f"/{name}/" in Path(f"/proc/{server.proc.pid}/maps").read_text()


@pytest.mark.parametrize("warm", ["1", "0"])
def test_warm_start_readies_the_server_before_any_visit(tmp_path: Path, warm: str):
    server = StreamlitServer(
        home=tmp_path,
        env={"FMNIST_WARM_START": warm, "FMNIST_AUTO_SKETCH_MODEL": "0", "FMNIST_SEED_RECORDING": "0"},
    ).start()
    try:
        deadline = time.monotonic() + 90
        while (
            warm == "1"
            and time.monotonic() < deadline
            and not (_worker_pids(server) and _loaded(server, "pandas"))
        ):
            time.sleep(0.5)
        if warm == "0":
            time.sleep(5)  # what a warm start would have done by now, it must not do
        assert bool(_worker_pids(server)) == (warm == "1")
        assert _loaded(server, "pandas") == (warm == "1")
        log = server.read_log()
        assert "ScriptRunContext" not in log and "Traceback" not in log, log
    finally:
        server.stop()
