"""The Ray executor (FMNIST_EXECUTOR=ray) on a local Ray head on loopback, started once for the module.

Runs train in Ray worker processes; every point, heartbeat, result and file comes back to the store
through the hub and is written by the dispatcher thread in this process, as it would be in the app.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from fmnist_core.data import load_fashion_mnist
from fmnist_core.jobs import JobRunner, execute_run, resume_run
from fmnist_core.store import RunStore
from fmnist_core.studies.schedule import schedule_study
from fmnist_core.studies.spec import StudySpec
from fmnist_core.training import TrainConfig
from tests.conftest import ROOT, make_tiny_dataset

BASE = TrainConfig(epochs=1, batch_size=32)  # on the 600-image tiny set: 480 train, 120 validation images


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("ray_tiny"), n_train=600, n_test=100)


@pytest.fixture(scope="module")
def ray_head():
    """One local Ray for every test here (Ray takes seconds to start): 2 CPUs, loopback only."""
    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        namespace="fmnist-studio-tests",
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}},
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()


@pytest.fixture
def ray_runner(ray_head, tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tiny_dir))
    monkeypatch.setenv("FMNIST_EXECUTOR", "ray")
    monkeypatch.setenv("FMNIST_RAY_CPUS_PER_RUN", "1")  # two runs side by side on the 2-CPU head
    runner = JobRunner(tmp_path / "ray_home", workers=1)
    assert runner.executor == "ray"
    yield runner
    runner.shutdown()


def wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        time.sleep(0.05)  # polling the store the dispatcher thread writes; nothing to block on
    raise AssertionError(f"timed out waiting for {what}")


def positions(store: RunStore, run_id: int) -> list[tuple[int, int, str]]:
    pts = store.points(run_id)
    return list(zip(pts["epoch"].astype(int), pts["step"].astype(int), pts["kind"], strict=True))


# A method of each Ray gRPC service (GCS, raylet, object manager, core worker): a port refuses a caller
# without the cluster's token with UNAUTHENTICATED on its own service, and UNIMPLEMENTED on the others.
RAY_METHODS = (
    "/ray.rpc.NodeInfoGcsService/GetAllNodeInfo",
    "/ray.rpc.NodeManagerService/GetNodeStats",
    "/ray.rpc.ObjectManagerService/Pull",
    "/ray.rpc.CoreWorkerService/GetCoreWorkerStats",
)


def test_ray_ports_beyond_loopback_refuse_callers_without_the_token(ray_head):
    """Ray's gRPC servers listen on every interface (Ray has no option to keep them on loopback, and it
    turns _node_ip_address=127.0.0.1 into the machine's address), so what keeps the head private is
    Ray's token authentication: every port its processes open beyond loopback refuses a caller without
    the token, and neither the dashboard nor the Ray Client server runs."""
    import grpc

    ports = _listening_ports(_descendants(os.getpid()))
    assert ports, "the Ray head should listen somewhere"
    exposed = [port for addr, port in ports if addr not in LOOPBACK]
    assert exposed
    for port in exposed:
        codes = set()
        for method in RAY_METHODS:
            with grpc.insecure_channel(f"{_host_ip()}:{port}") as ch:
                call = ch.unary_unary(method, request_serializer=bytes, response_deserializer=bytes)
                try:
                    call(b"", timeout=5)
                    codes.add("OK")
                except grpc.RpcError as exc:
                    codes.add(exc.code().name)
        if codes & {"UNAVAILABLE", "INTERNAL"}:  # not gRPC: the runtime-env agent's HTTP port
            import urllib.error
            import urllib.request

            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"http://{_host_ip()}:{port}/", timeout=5)
            assert refused.value.code == 401, port
        else:
            assert "OK" not in codes and "UNAUTHENTICATED" in codes, (port, codes)
    assert not {8265, 10001} & {port for _, port in ports}


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}


def _host_ip() -> str:
    import ray

    return ray.util.get_node_ip_address()


def _listening_ports(pids: set[int]) -> list[tuple[str, int]]:
    """(hex address as /proc/net/tcp* writes it, port) of the TCP sockets these processes listen on."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A: LISTEN
                addr, port = parts[1].split(":")
                out.append((addr, int(port, 16)))
    return out


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        todo += children.get(p, [])
    return out


def test_a_study_on_ray_matches_the_local_executor(ray_runner, tiny_dir, tmp_path):
    store = ray_runner.store
    spec = StudySpec(base=BASE, variants=("sgd", "adam"), seeds=(0, 1))
    study_id, counts = schedule_study(ray_runner, spec, name="ray study")
    assert counts["queued"] == 4
    runs = wait_for(
        lambda: (rs := store.runs(study_id=study_id)) and all(r.status == "finished" for r in rs) and rs,
        timeout=150,
        what="the 4 runs to finish on Ray",
    )
    assert len(runs) == 4
    assert ray_runner.ray.slots == 2  # the head's 2 CPUs, one per run: what the study's ETA divides by
    from fmnist_core.executors import parallel_runs

    assert parallel_runs() == 2

    # The local executor's code path (execute_run, in this process) on the same configs and seeds.
    local = RunStore(tmp_path / "local_home")
    data = load_fashion_mnist(tiny_dir)
    for r in runs:
        config = TrainConfig.from_dict(r.config)
        local_id = local.create_run(config, status="running")
        assert execute_run(local, local_id, config, data) == "finished"
        mine = local.get_run(local_id)
        # every point arrives once, in order, and as many as the local worker sends
        got = positions(store, r.id)
        assert len(set(got)) == len(got) and set(got) == set(positions(local, local_id))
        assert abs(r.last_val_accuracy - mine.last_val_accuracy) <= 0.002, (r.id, r.config)
        assert abs(r.test_accuracy - mine.test_accuracy) <= 0.002
        assert r.epochs_done == 1 and r.env_key == mine.env_key  # reusable across executors
        # the model and test probabilities came back as files in the app's store
        assert Path(r.model_path).is_file() and Path(r.model_path).parent == store.run_dir(r.id)
        assert store.load_test_probs(r.id).shape == (100, 10)
        assert r.worker_pid == os.getpid()  # recorded in the writer's pid: reconcile sees it alive


def test_a_stop_request_lands_on_a_ray_worker(ray_runner):
    store = ray_runner.store
    run_id = ray_runner.submit(BASE.with_(epochs=200, batch_size=4), label="to stop")
    wait_for(lambda: len(store.points(run_id)) >= 5, timeout=90, what="points from the Ray worker")
    t0 = time.monotonic()
    ray_runner.stop(run_id)
    wait_for(lambda: store.get_run(run_id).status == "stopped", timeout=10, what="the stop")
    took = time.monotonic() - t0
    assert took < 2.0, f"the stop took {took:.2f} s"
    # its model and test evaluation still arrive after the stop
    run = wait_for(lambda: (r := store.get_run(run_id)).finalizing == 0 and r.model_path and r, 60, "results")
    assert run.epochs_done < 200 and Path(run.model_path).is_file()


def test_killing_the_ray_worker_leaves_the_run_interrupted_and_resumable(ray_runner):
    store = ray_runner.store
    config = BASE.with_(epochs=8, batch_size=8)
    run_id = ray_runner.submit(config, label="to kill")
    wait_for(lambda: (store.get_run(run_id).checkpoint_epoch or 0) >= 2, timeout=90, what="two epochs")
    worker = ray_runner.ray.worker_of(run_id)
    assert worker is not None and worker["pid"] != os.getpid()
    os.kill(worker["pid"], signal.SIGKILL)
    run = wait_for(
        lambda: (r := store.get_run(run_id)).status == "interrupted" and r, timeout=30, what="interrupted"
    )
    assert "Ray worker" in run.error
    kept = positions(store, run_id)
    assert kept and run.checkpoint_epoch >= 2
    # Ray did not retry it behind our back: the run stays interrupted until someone resumes it.
    time.sleep(1.0)
    assert store.get_run(run_id).status == "interrupted" and positions(store, run_id) == kept

    ok, message = resume_run(run_id, store=store)
    assert ok, message
    run = wait_for(
        lambda: (r := store.get_run(run_id)).status == "finished" and r, timeout=120, what="the resumed run"
    )
    got = positions(store, run_id)
    assert len(set(got)) == len(got)  # the points continue with no duplicates
    # Every point seen before the kill is still there (the partial epoch's are retrained under the same
    # positions; at an epoch's last step its epoch point sorts before the batch point, hence sets, not order).
    assert set(kept) <= set(got) and run.epochs_done == 8 and run.resumes == 1
    assert [p[0] for p in got if p[2] == "epoch"] == list(range(1, 9))


def test_estimates_divide_by_the_runs_the_cluster_trains_at_once(monkeypatch):
    """No Ray needed: the Compare page's estimate and ETA use `parallel_runs()`, which a connected Ray
    executor sets from the cluster's CPUs; the local executor keeps one run at a time."""
    import pandas as pd

    from fmnist_core import executors
    from fmnist_core.studies.estimate import estimate_seconds, study_progress

    spec = StudySpec(
        base=BASE.with_(epochs=2), variants=("sgd", "adam", "rmsprop"), seeds=(0, 1, 2)
    )  # 9 runs
    one = estimate_seconds(spec, parallel=1)
    assert estimate_seconds(spec, parallel=4) == pytest.approx(one * 3 / 9)  # ceil(9 / 4) = 3 waves
    runs = pd.DataFrame(
        {"status": ["queued"] * 4, "epochs": [2] * 4, "epochs_done": [0] * 4, "seconds_per_epoch": [None] * 4}
    )
    eta_one = study_progress(runs, sec_per_epoch=1.0, parallel=1).eta_seconds
    assert study_progress(runs, sec_per_epoch=1.0, parallel=8).eta_seconds == pytest.approx(eta_one / 4)

    monkeypatch.setattr(executors, "_cluster_slots", 8)
    monkeypatch.setenv("FMNIST_EXECUTOR", "local")
    assert executors.parallel_runs() == 1 and estimate_seconds(spec) == pytest.approx(one)
    monkeypatch.setenv("FMNIST_EXECUTOR", "ray")
    assert executors.parallel_runs() == 8 and estimate_seconds(spec) == pytest.approx(one * 2 / 9)


CONNECT_AND_TRAIN = """
import sys, time
from fmnist_core.jobs import JobRunner
from fmnist_core.training import TrainConfig

runner = JobRunner(sys.argv[1], executor="ray")
run_id = runner.submit(TrainConfig(epochs=1, batch_size=32), label="by address")
deadline = time.monotonic() + 150
while runner.store.get_run(run_id).active and time.monotonic() < deadline:
    time.sleep(0.1)
run = runner.store.get_run(run_id)
print("RESULT", run.status, run.test_accuracy is not None, len(runner.store.points(run_id)), runner.ray.slots)
runner.shutdown()
"""


def test_an_app_connects_to_a_running_cluster_by_its_address(ray_head, tiny_dir, tmp_path):
    """FMNIST_RAY_ADDRESS names a cluster the app did not start (here the module's head): the app's
    process connects as a new driver, trains a run there, and leaves the cluster running."""
    import subprocess
    import sys

    env = {
        **os.environ,
        "FMNIST_RAY_ADDRESS": ray_head.get_runtime_context().gcs_address,
        "FMNIST_DATA_DIR": str(tiny_dir),
        "FMNIST_RAY_CPUS_PER_RUN": "1",
        "PYTHONPATH": str(ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-c", CONNECT_AND_TRAIN, str(tmp_path / "home")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    assert result, out.stderr[-3000:]
    _, status, tested, n_points, slots = result[0].split()
    assert (status, tested, slots) == ("finished", "True", "2") and int(n_points) > 2
    assert ray_head.is_initialized() and ray_head.cluster_resources().get("CPU") == 2  # still up


def test_without_ray_installed_the_pages_get_a_sentence_not_silence(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as without the package
    runner = JobRunner(tmp_path, start=False, executor="ray")
    assert runner.problem() is None  # nothing known before the executor starts
    runner.ensure_workers()
    deadline = time.monotonic() + 10
    while runner.problem() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the dispatcher thread tries the import
    problem = runner.problem()
    assert problem and "Ray is not installed" in problem and "requirements-ray.txt" in problem
    assert "ImportError" not in problem and "import of ray" not in problem.lower()  # no exception text
    runner.shutdown()
    assert JobRunner(tmp_path, start=False, executor="local").problem() is None
