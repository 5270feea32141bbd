"""The command line, and training on the real Fashion-MNIST (a subset, one epoch)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fmnist_core.data import load_fashion_mnist
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig, train
from tests.conftest import ROOT, make_tiny_dataset


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmnist_core", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_train_records_the_run(tmp_path):
    env = {
        "FMNIST_HOME": str(tmp_path / "home"),
        "FMNIST_DATA_DIR": str(make_tiny_dataset(tmp_path / "d", n_train=300, n_test=40)),
    }
    out = run_cli(
        "train",
        "--preset",
        "lab_mlp",
        "--optimizer",
        "rmsprop",
        "--epochs",
        "2",
        "--seed",
        "3",
        "--batch-size",
        "32",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "epoch   1/2" in out.stdout and "epoch   2/2" in out.stdout
    assert "finished: test accuracy" in out.stdout
    runs = RunStore(tmp_path / "home").runs()
    assert len(runs) == 1 and runs[0].status == "finished" and runs[0].config["optimizer"] == "rmsprop"
    assert runs[0].config["seed"] == 3 and os.path.exists(runs[0].model_path)


def test_cli_refuses_absurd_settings_with_a_message(tmp_path):
    out = run_cli("train", "--epochs", "100000", env={"FMNIST_HOME": str(tmp_path)})
    assert out.returncode == 2 and "epochs must be" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("train", "--optimizer", "magic", env={"FMNIST_HOME": str(tmp_path)})
    assert out.returncode == 2 and "invalid choice" in out.stderr


@pytest.mark.realdata
def test_lab_mlp_on_real_subset_is_far_above_chance():
    data = load_fashion_mnist(download=False)
    r = train(TrainConfig(epochs=1, train_subset=6000), data)
    assert r.test_accuracy > 0.70  # chance is 0.10
    assert r.history["val_accuracy"][0] > 0.70
