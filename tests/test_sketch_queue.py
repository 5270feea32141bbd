"""The default sketch model is a background run: users' runs are claimed first, and a running background run
goes back to the queue when a user's run waits, then resumes from its checkpoint with no duplicate points."""

from __future__ import annotations

import os

import pytest

from fmnist_core import jobs
from fmnist_core.data import load_fashion_mnist
from fmnist_core.sketch.default import DEFAULT_LABEL, ensure_default_sketch_model, queue_default_sketch_model
from fmnist_core.store import BACKGROUND_PRIORITY, USER_PRIORITY, RunStore
from fmnist_core.training import TrainConfig
from tests.conftest import make_tiny_dataset


def test_users_runs_are_claimed_before_the_background_sketch_model(tmp_path):
    s = RunStore(tmp_path)
    sketch_run = ensure_default_sketch_model(s)  # a fresh server queues it first ...
    assert (
        s.get_run(sketch_run).priority == BACKGROUND_PRIORITY and s.get_run(sketch_run).label == DEFAULT_LABEL
    )
    user = s.create_run(TrainConfig(seed=1))  # ... then a teacher clicks Start
    other, created = s.create_run_once(TrainConfig(seed=2))
    assert created and s.get_run(user).priority == s.get_run(other).priority == USER_PRIORITY
    assert [s.queue_position(r) for r in (user, other, sketch_run)] == [1, 2, 3]
    assert queue_default_sketch_model(s) == sketch_run  # queued once, whoever asks again
    assert s.claim_next(worker_pid=10).id == user
    assert s.claim_next(worker_pid=10).id == other
    assert s.queue_position(sketch_run) == 1
    assert s.claim_next(worker_pid=10).id == sketch_run
    assert s.claim_next(worker_pid=10) is None


def test_an_interrupted_default_model_resumes_instead_of_starting_again(tmp_path):
    """The app stopped while the default sketch model trained (its worker marked it interrupted, with a
    checkpoint): the next server start puts that run back in the queue under its id, once."""
    s = RunStore(tmp_path)
    first = ensure_default_sketch_model(s)
    assert s.claim_next(worker_pid=10).id == first
    assert s.finish_run(first, status="interrupted", worker_pid=10, error="the app stopped")
    assert ensure_default_sketch_model(s) == first
    assert s.get_run(first).status == "queued" and s.get_run(first).priority == BACKGROUND_PRIORITY
    assert ensure_default_sketch_model(s) == first  # asked again (another session): the same run
    assert len(s.runs()) == 1
    s.request_stop(first)  # a user cancelled it: that is not an interruption, so a new one is queued
    assert ensure_default_sketch_model(s) not in (None, first)


def test_outranked_counts_only_users_runs_that_waited_for_the_same_backend(tmp_path):
    s = RunStore(tmp_path)
    bg, _ = s.create_run_once(TrainConfig(seed=1), priority=BACKGROUND_PRIORITY)
    assert s.claim_next(worker_pid=10).id == bg
    assert not s.outranked(bg)  # nothing waits
    s.create_run(TrainConfig(seed=2, backend="jax"))
    assert not s.outranked(bg, backend="tensorflow")  # another backend's worker takes that one
    s.create_run(TrainConfig(seed=3))
    assert not s.outranked(bg, waited=60.0)  # just queued: an idle worker may still claim it
    assert s.outranked(bg, waited=0.0)
    user = s.claim_next(worker_pid=11, backend="tensorflow")  # a second worker took it
    assert user.priority == USER_PRIORITY and not s.outranked(bg)


def test_a_background_run_yields_to_a_users_run_then_resumes_without_duplicates(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "YIELD_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(jobs, "YIELD_AFTER_SECONDS", 0.0)
    data = load_fashion_mnist(make_tiny_dataset(tmp_path / "data", n_train=400, n_test=50))
    s = RunStore(tmp_path / "home")
    config = TrainConfig(epochs=3, batch_size=8, seed=1)
    bg, _ = s.create_run_once(config, label="background", priority=BACKGROUND_PRIORITY)
    assert s.claim_next(os.getpid()).id == bg
    user_config = TrainConfig(epochs=1, batch_size=8, seed=2)
    queued = []

    def on_point(point: dict) -> None:  # a user clicks Start during the background run's second epoch
        if point["epoch"] == 2 and not queued:
            queued.append(s.create_run(user_config, label="user"))

    assert jobs.execute_run(s, bg, config, data, on_point=on_point) == "queued"
    paused = s.get_run(bg)
    assert paused.status == "queued" and paused.started is not None and paused.error is None
    assert s.recorded_checkpoint(bg)[0] == 1  # epoch 1 is kept; epoch 2 is retrained
    assert s.points(bg)["epoch"].max() == 2 and paused.epochs_done < 3

    (user,) = queued
    assert s.claim_next(os.getpid()).id == user  # the user's run goes first
    assert jobs.execute_run(s, user, user_config, data) == "finished"
    assert s.claim_next(os.getpid()).id == bg  # then the background run resumes
    assert jobs.execute_run(s, bg, config, data) == "finished"
    done, points = s.get_run(bg), s.points(bg)
    assert done.status == "finished" and done.epochs_done == 3 and done.model_path
    assert not points.duplicated(["kind", "epoch", "step"]).any()
    assert sorted(points.loc[points["kind"] == "epoch", "epoch"]) == [1, 2, 3]


@pytest.mark.parametrize("priority", [USER_PRIORITY, BACKGROUND_PRIORITY])
def test_a_run_never_yields_to_runs_of_its_own_priority(tmp_path, monkeypatch, priority):
    monkeypatch.setattr(jobs, "YIELD_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(jobs, "YIELD_AFTER_SECONDS", 0.0)
    data = load_fashion_mnist(make_tiny_dataset(tmp_path / "data", n_train=200, n_test=20))
    s = RunStore(tmp_path / "home")
    config = TrainConfig(epochs=2, batch_size=8, seed=1)
    run, _ = s.create_run_once(config, priority=priority)
    assert s.claim_next(os.getpid()).id == run
    s.create_run_once(TrainConfig(epochs=1, seed=5), priority=priority)  # waits, same rank
    assert jobs.execute_run(s, run, config, data) == "finished"


def test_a_sketch_model_from_an_older_augmentation_is_not_taken_for_the_current_default(
    tmp_path, monkeypatch
):
    """ "sketch" augmentation changed what it draws (augment.AUGMENT_VERSIONS): the run key says which
    version trained a model, and a store holding only older sketch models gets the current default queued."""
    from types import SimpleNamespace

    from fmnist_core import models_io
    from fmnist_core.augment import AUGMENT_VERSIONS
    from fmnist_core.sketch.default import default_model_config, is_current_sketch_model, preferred_model

    current = default_model_config()
    assert current.to_dict()["augment_version"] == AUGMENT_VERSIONS["sketch"]
    old_dict = {k: v for k, v in current.to_dict().items() if k != "augment_version"}  # as stored before
    assert TrainConfig.from_dict(old_dict).key() == current.key()  # read back, it is the current config ...
    assert "augment_version" not in TrainConfig(augment="flip").to_dict()  # (other kinds keep their keys)
    old = SimpleNamespace(id=1, config=old_dict, config_key="old-key", test_accuracy=0.9)
    assert not is_current_sketch_model(old)
    s = RunStore(tmp_path)
    monkeypatch.setattr(models_io, "stored_models", lambda store: [old])
    queued = ensure_default_sketch_model(s)  # ... but the stored model was trained the old way
    assert queued is not None and s.get_run(queued).config_key == current.key()
    assert preferred_model([old]) is old  # until the new one is done, the old one is still offered
    new = SimpleNamespace(id=2, config=current.to_dict(), config_key=current.key(), test_accuracy=0.89)
    monkeypatch.setattr(models_io, "stored_models", lambda store: [old, new])
    assert is_current_sketch_model(new) and preferred_model([old, new]) is new
    assert ensure_default_sketch_model(s) is None
