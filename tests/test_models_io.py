"""fmnist_core.models_io: only our own stored models load, by run id, and only classifiers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import models_io, sketch
from fmnist_core.models_io import ModelLoadError
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def tiny_model(keras, *, outputs: int = 10, flat: bool = True):
    keras.utils.set_random_seed(0)
    shape = (784,) if flat else (28, 28, 1)
    layers = [keras.Input(shape)]
    if not flat:
        layers += [keras.layers.Conv2D(2, 3, activation="relu"), keras.layers.Flatten()]
    layers += [keras.layers.Dense(outputs, activation="softmax")]
    return keras.Sequential(layers)


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    s = RunStore(tmp_path / "home")
    yield s
    s.close()


def stored_run(store: RunStore, model, *, acc: float | None = 0.5, status: str = "finished") -> int:
    run_id = store.create_run(TrainConfig(epochs=1), label="tiny", status="running")
    path = store.save_model(run_id, model)
    store.finish_run(run_id, status=status, test_accuracy=acc, model_path=str(path))
    return run_id


def test_saved_model_loads_back_by_run_id_and_predicts_the_same(store, keras):
    model = tiny_model(keras)
    run_id = stored_run(store, model)
    loaded = models_io.load_stored_model(store, run_id)
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(
        sketch.predict_probs(loaded, x), sketch.predict_probs(model, x), rtol=1e-5, atol=1e-6
    )
    assert models_io.model_file(store, run_id) == store.model_path(run_id).resolve()


def test_cnn_loads_too(store, keras):
    run_id = stored_run(store, tiny_model(keras, flat=False))
    assert sketch.last_conv_layer(models_io.load_stored_model(store, run_id)) is not None


def test_wrong_output_size_is_refused_with_a_message(store, keras):
    run_id = stored_run(store, tiny_model(keras, outputs=3))
    with pytest.raises(ModelLoadError, match="not a Fashion-MNIST classifier.*10 classes"):
        models_io.load_stored_model(store, run_id)


def test_path_outside_runs_dir_is_refused_without_loading(store, keras, tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere" / "model.keras"
    outside.parent.mkdir()
    tiny_model(keras).save(outside)
    run_id = store.create_run(TrainConfig(epochs=1), status="running")
    store.finish_run(run_id, status="finished", model_path=str(outside))

    def no_loading(*args, **kwargs):
        raise AssertionError("load_model must not be reached")

    monkeypatch.setattr(keras.saving, "load_model", no_loading)
    with pytest.raises(ModelLoadError, match="outside the studio's runs folder"):
        models_io.load_stored_model(store, run_id)
    # A path that climbs out with '..' or a symlink that points out is refused the same way.
    for sneaky in (store.runs_dir / ".." / "elsewhere.keras", store.run_dir(run_id) / "link.keras"):
        if sneaky.name == "link.keras":
            sneaky.symlink_to(outside)
        store.set_fields(run_id, model_path=str(sneaky))
        with pytest.raises(ModelLoadError, match="outside"):
            models_io.load_stored_model(store, run_id)
    assert models_io.stored_models(store) == []


def test_non_keras_suffix_inside_runs_dir_is_refused(store, keras):
    run_id = stored_run(store, tiny_model(keras))
    h5 = store.run_dir(run_id) / "model.h5"
    h5.write_bytes(b"not really")
    store.set_fields(run_id, model_path=str(h5))
    with pytest.raises(ModelLoadError, match="outside the studio's runs folder"):
        models_io.load_stored_model(store, run_id)


def test_missing_file_missing_run_and_no_model_have_clear_messages(store, keras):
    run_id = stored_run(store, tiny_model(keras))
    store.model_path(run_id).unlink()
    with pytest.raises(ModelLoadError, match="model file is missing"):
        models_io.load_stored_model(store, run_id)
    with pytest.raises(ModelLoadError, match="does not exist"):
        models_io.load_stored_model(store, 999)
    failed = store.create_run(TrainConfig(epochs=1), status="failed")
    with pytest.raises(ModelLoadError, match="has no saved model"):
        models_io.load_stored_model(store, failed)


def test_corrupt_model_file_is_a_load_error(store, keras):
    run_id = stored_run(store, tiny_model(keras))
    store.model_path(run_id).write_bytes(b"PK\x03\x04 definitely not a keras zip")
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        models_io.load_stored_model(store, run_id)


def test_stored_models_best_first_and_only_usable_ones(store, keras):
    model = tiny_model(keras)
    low = stored_run(store, model, acc=0.70)
    high = stored_run(store, model, acc=0.90)
    stopped = stored_run(store, model, acc=0.80, status="stopped")
    no_acc = stored_run(store, model, acc=None)
    gone = stored_run(store, model, acc=0.99)
    store.model_path(gone).unlink()
    store.create_run(TrainConfig(epochs=1))  # queued: no model
    assert [r.id for r in models_io.stored_models(store)] == [high, stopped, low, no_acc]
