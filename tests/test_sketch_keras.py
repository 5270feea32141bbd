"""What Streamlit does after each script run stays cheap on the Sketch page's server: its Keras reset
(keras.backend.clear_session, replaced by pages/_sketch_keras) still resets Keras' state but keeps
TensorFlow's compiled kernels, so the model stays warm between strokes; and no full garbage collection."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture
def keras(monkeypatch):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    # The patch is process-wide: start from Keras' own function (an AppTest of the page may have patched it
    # already) and give back whatever was there after the test.
    monkeypatch.setattr(keras.backend, "clear_session", keras.utils.clear_session)
    return keras


@pytest.fixture
def kernel_cache_clears(monkeypatch):
    """How many times TensorFlow's eager kernel cache was cleared."""
    from tensorflow.python.eager import context

    calls = []
    real = context.Context.clear_kernel_cache

    def spy(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(context.Context, "clear_kernel_cache", spy)
    return calls


def test_streamlit_reset_keeps_kernels_but_resets_keras_state(keras, kernel_cache_clears):
    from pages._sketch_keras import keep_keras_warm

    keras.backend.clear_session()  # Keras' own: the spy sees the kernel cache cleared
    assert len(kernel_cache_clears) == 1
    keep_keras_warm()
    wrapped = keras.backend.clear_session
    keep_keras_warm()  # idempotent: wraps once
    assert keras.backend.clear_session is wrapped
    keras.layers.Dense(2)
    assert keras.layers.Dense(2).name != "dense"
    keras.backend.clear_session()  # what Streamlit calls after each run
    assert len(kernel_cache_clears) == 1  # kernels kept
    assert keras.layers.Dense(2).name == "dense"  # Keras' global state (name counters) reset
    assert keras.utils.clear_session is not keras.backend.clear_session  # workers' reset left alone


def test_predictions_unchanged_across_the_reset(keras):
    from fmnist_core.sketch import predict_probs
    from pages._sketch_keras import keep_keras_warm

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten(),
         keras.layers.Dense(10, activation="softmax")]
    )  # fmt: skip
    x = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    before = predict_probs(model, x)
    keep_keras_warm()
    for _ in range(3):
        keras.backend.clear_session()
        np.testing.assert_array_equal(predict_probs(model, x), before)


def test_streamlit_does_not_collect_the_whole_heap_after_each_run():
    """runner.postScriptGC (Streamlit's default) runs gc.collect(2) after every script run; with TensorFlow
    loaded that cost ~230 ms of CPU per stroke here. The app's config turns it off."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
