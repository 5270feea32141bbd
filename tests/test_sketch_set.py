"""The default sketch model, trained once here through the normal run path (queued in a store, claimed,
trained, saved, loaded back as the page loads it), then: the sketch set's accuracy floor, honest answers
that do not call scribbles garments, and no second queueing once it exists.

Trains the real default config on the real data: about 1-3 minutes on 2 cores."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench.bench_sketch_set import UPPER_BODY, evaluate
from bench.sketch_set import CANVAS, FOURTH, HELDOUT, THIRD, render, scribbles
from fmnist_core import models_io, sketch
from fmnist_core.data import load_fashion_mnist
from fmnist_core.jobs import execute_run
from fmnist_core.sketch.default import (
    DEFAULT_LABEL,
    default_model_config,
    ensure_default_sketch_model,
    preferred_model,
)
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

# Floors a little below what was measured over seeds 42, 1 and 2 (bench sketch_set, README "Sketch accuracy").
OVERALL_FLOOR = 0.83  # our 70 drawings: 87.1-90.0% measured (87.1% at seed 42, the default's)
HELDOUT_FLOOR = 0.75  # the held-out set (other garments, other hands): 80.0-90.0% measured
THIRD_FLOOR = 0.70  # the third set (yet other hands, details): 75.0-77.5% measured
FOURTH_FLOOR = 0.85  # the fourth, by a hand that saw none of the rest: 91.2-92.5% measured
CLASS_FLOOR = 0.5  # every class outside the upper-body group
SCRIBBLES_CALLED_GARMENTS_MAX = 0.35
SKETCHES_ACCEPTED_MIN = 0.70


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("sketch_home"))
    run_id = ensure_default_sketch_model(store)  # queues it, as a fresh server does
    assert run_id is not None
    run = store.claim_next(os.getpid())  # what the worker does next
    assert run is not None and run.id == run_id and run.label == DEFAULT_LABEL
    config = TrainConfig.from_dict(run.config)
    assert config == default_model_config()
    status = execute_run(store, run.id, config, load_fashion_mnist(download=False))
    assert status == "finished", store.get_run(run.id).error
    model = models_io.load_stored_model(store, run.id)  # safe_mode, from the store, as the page does
    yield store, run.id, model
    store.close()


def test_the_default_model_trains_and_saves_through_the_run_path(trained):
    store, run_id, _ = trained
    run = store.get_run(run_id)
    assert run.status == "finished" and run.test_accuracy > 0.87
    assert models_io.model_file(store, run_id).is_file()
    assert preferred_model(models_io.stored_models(store)).id == run_id
    assert ensure_default_sketch_model(store) is None  # a usable sketch model exists: nothing queued
    assert [r.id for r in store.runs()] == [run_id]


def test_sketch_set_accuracy_floor(trained):
    _, _, model = trained
    result = evaluate(model, verbose=True)
    assert result["overall"] >= OVERALL_FLOOR, result
    for c, (top1, _top2) in enumerate(result["per_class"].values()):
        if c not in UPPER_BODY:
            assert top1 >= CLASS_FLOOR, result["per_class"]
    assert result["sketch_accepted"] >= SKETCHES_ACCEPTED_MIN
    assert result["scribbles_accepted"] <= SCRIBBLES_CALLED_GARMENTS_MAX
    heldout = evaluate(model, verbose=True, path=HELDOUT, honest=False)
    assert heldout["overall"] >= HELDOUT_FLOOR, heldout
    # The third set is read as a total only (no drawing-by-drawing look at it: it stays untouched).
    third = evaluate(model, verbose=False, path=THIRD, honest=False)
    assert third["overall"] >= THIRD_FLOOR, third["overall"]
    fourth = evaluate(model, verbose=True, path=FOURTH, honest=False)
    assert fourth["overall"] >= FOURTH_FLOOR, fourth


def test_a_scribble_is_not_classified_as_a_garment(trained):
    _, _, model = trained
    bank = sketch.make_bank(load_fashion_mnist(download=False).x_test)
    # A hand's zigzag scribble over most of the canvas.
    rng = np.random.default_rng(5)
    pts = np.cumsum(rng.normal(0, 40, (30, 2)), axis=0) + CANVAS / 2
    strokes = [
        {"points": np.clip(pts, 10, CANVAS - 10).tolist(), "width": 10, "fill": False, "closed": False}
    ]
    answer = sketch.judge_canvas(model, render(strokes), bank)
    assert not answer.garment and "does not look like any garment" in answer.reason
    assert answer.probs.shape == (10,)  # the top guesses are still there to show
    called = [sketch.judge_canvas(model, r, bank).garment for r in scribbles(40, seed=11)]
    assert np.mean(called) <= SCRIBBLES_CALLED_GARMENTS_MAX
