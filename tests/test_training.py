"""Core training: models, configs, the streaming callback, determinism, stop, store rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fmnist_core.data import FashionMNIST, load_from_dir
from fmnist_core.models import OPTIMIZERS, PRESETS, ModelSpec, build_model, make_optimizer
from fmnist_core.training import (
    TrainConfig,
    TrainingDiverged,
    macs_per_image,
    steps_per_execution_for,
    train,
)
from tests.conftest import make_tiny_dataset


@pytest.fixture(scope="module")
def real_data() -> FashionMNIST:
    from fmnist_core.data import load_fashion_mnist

    return load_fashion_mnist(download=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> FashionMNIST:
    d = make_tiny_dataset(tmp_path_factory.mktemp("tiny"), n_train=200, n_test=50)
    return load_from_dir(d, check_counts=False)


def test_lab_mlp_matches_the_lab():
    model = build_model(PRESETS["lab_mlp"])
    assert model.count_params() == 109_386
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Dense", "Dropout", "Dense", "Dense"]
    assert model.input_shape == (None, 784) and model.output_shape == (None, 10)


def test_dropout2_has_two_dropouts_and_cnn_takes_images():
    kinds = [type(layer).__name__ for layer in build_model(PRESETS["lab_mlp_dropout2"]).layers]
    assert kinds.count("Dropout") == 2
    cnn = build_model(PRESETS["cnn_fast"])
    assert cnn.input_shape == (None, 28, 28, 1)
    assert any(type(layer).__name__ == "Conv2D" for layer in cnn.layers)


def test_l2_and_batchnorm_are_built():
    m = build_model(ModelSpec(l2=1e-3, batch_norm=True))
    assert any(type(layer).__name__ == "BatchNormalization" for layer in m.layers)
    dense = [layer for layer in m.layers if type(layer).__name__ == "Dense"]
    assert all(layer.kernel_regularizer is not None for layer in dense)


def test_bad_specs_and_configs_are_refused_with_reasons():
    with pytest.raises(ValueError, match="dropout"):
        ModelSpec(dropout=(1.5,))
    with pytest.raises(ValueError, match="CNN"):
        ModelSpec(kind="cnn", conv_filters=(), input="image")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="learning rate"):
        TrainConfig(learning_rate=1e6)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="magic")


def test_config_json_round_trip_and_key():
    c = TrainConfig(model=PRESETS["cnn_fast"], optimizer="rmsprop", seed=3, train_subset=100)
    back = TrainConfig.from_dict(__import__("json").loads(c.to_json()))
    assert back == c and back.key() == c.key()
    assert c.with_(seed=4).key() != c.key()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_builds_with_keras_default_lr(name):
    opt = make_optimizer(name)
    assert math.isclose(float(opt.learning_rate), OPTIMIZERS[name].default_lr, rel_tol=1e-6)


def test_momentum_and_nesterov_are_what_they_say():
    assert make_optimizer("momentum").momentum == 0.9
    assert make_optimizer("nesterov").nesterov is True
    assert make_optimizer("sgd").momentum == 0.0


def test_steps_per_execution_keeps_points_flowing():
    assert steps_per_execution_for(TrainConfig(), 750) == 150  # lab: 5 points per epoch
    assert steps_per_execution_for(TrainConfig(), 3) == 1
    # a CNN: each execution stays within the stop budget (cnn_best ~5 M MACs an image: a few steps)
    best = TrainConfig(model=PRESETS["cnn_best"], batch_size=128)
    assert 1 <= steps_per_execution_for(best, 375) <= 4


def test_train_streams_points_and_history(tiny):
    points: list[dict] = []
    cfg = TrainConfig(epochs=2, batch_size=8, seed=1)
    r = train(cfg, tiny, on_metrics=points.append)
    assert set(r.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in r.history.values())
    batch = [p for p in points if p["kind"] == "batch"]
    epoch = [p for p in points if p["kind"] == "epoch"]
    assert len(epoch) == 2 and [p["epoch"] for p in epoch] == [1, 2]
    # 160 train images / 8 = 20 steps an epoch; >= 5 batch points an epoch after its steps
    assert sum(p["epoch"] == 1 and p["step"] > 0 for p in batch) >= 5
    assert sum(p["epoch"] == 2 for p in batch) >= 5
    # the first point comes before any step: the untrained model on the first batch (progress 0)
    assert points[0]["step"] == 0 and points[0]["progress"] == 0 and points[0]["kind"] == "batch"
    assert abs(points[0]["loss"] - math.log(10)) < 0.7 and 0 <= points[0]["accuracy"] <= 1
    assert all(0 < p["progress"] <= 2 for p in points[1:])
    assert epoch[-1]["val_accuracy"] == pytest.approx(r.history["val_accuracy"][-1])
    assert r.test_probs.shape == (50, 10) and np.allclose(r.test_probs.sum(1), 1, atol=1e-4)
    assert 0 <= r.test_accuracy <= 1 and not r.stopped


def test_same_seed_same_numbers_other_seed_other_numbers(tiny):
    cfg = TrainConfig(epochs=1, batch_size=16, seed=7)
    a, b = train(cfg, tiny), train(cfg, tiny)
    assert a.history == b.history
    c = train(cfg.with_(seed=8), tiny)
    assert c.history != a.history


def test_stop_leaves_fit_at_once_without_validating_the_partial_epoch(tiny):
    calls = {"n": 0}
    points: list[dict] = []

    def should_stop():
        calls["n"] += 1
        return calls["n"] >= 3  # the first check is at fit's start, then one after each chunk

    r = train(
        TrainConfig(epochs=5, batch_size=4, seed=1), tiny, on_metrics=points.append, should_stop=should_stop
    )
    # the old code ran validation and sent an "epoch 1 done" point for the partial epoch
    assert r.stopped and r.epochs_done == 0 and calls["n"] == 3
    assert [p["kind"] for p in points] == ["batch"] * 3 and points[-1]["step"] < 40  # step 0, then 2 chunks


def test_a_stop_asked_before_the_first_chunk_trains_nothing(tiny):
    """A Stop clicked while the run sets up (data, input pipeline) ends it before the first chunk."""
    points: list[dict] = []
    r = train(
        TrainConfig(epochs=3, batch_size=4, seed=1), tiny, on_metrics=points.append, should_stop=lambda: True
    )
    assert r.stopped and r.epochs_done == 0
    assert [(p["kind"], p["step"]) for p in points] == [("batch", 0)]  # only the untrained starting point
    assert int(r.model.optimizer.iterations.numpy()) == 0
    assert r.model is not None and r.history["loss"] == []


def test_stop_during_validation_ends_the_run_there(tiny):
    """A stop that lands while validation runs leaves fit too (a strong CNN validates for seconds)."""
    armed, checks = {"on": False}, {"after": 0}
    points: list[dict] = []

    def on_metrics(p):
        points.append(p)
        if p["kind"] == "batch" and p["epoch"] == 2 and p["step"] == 40:
            armed["on"] = True

    def should_stop():
        if armed["on"]:
            checks["after"] += 1
        return checks["after"] >= 2  # the check after the epoch's last batch is in validation

    r = train(
        TrainConfig(epochs=4, batch_size=4, seed=1), tiny, on_metrics=on_metrics, should_stop=should_stop
    )
    assert r.stopped and r.epochs_done == 1
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == [1]


def test_a_stop_after_the_last_epoch_is_a_finished_run(tiny):
    points: list[dict] = []
    r = train(
        TrainConfig(epochs=2, batch_size=8, seed=1),
        tiny,
        on_metrics=points.append,
        should_stop=lambda: sum(p["kind"] == "epoch" for p in points) == 2,
    )
    assert not r.stopped and r.epochs_done == 2


@pytest.mark.parametrize("batch_size", [6, 9, 13])
def test_steps_never_exceed_the_epoch_and_progress_never_goes_back(tmp_path, batch_size):
    """Keras reports the nominal end of an execution group; the epoch's last group is shorter."""
    d = load_from_dir(make_tiny_dataset(tmp_path / "d", n_train=1000, n_test=20), check_counts=False)
    cfg = TrainConfig(epochs=2, batch_size=batch_size, seed=0, val_subset=20)
    steps = math.ceil(800 / batch_size)
    spe = steps_per_execution_for(cfg, steps)
    assert steps % spe != 0  # the case that used to overshoot
    points: list[dict] = []
    train(cfg, d, on_metrics=points.append, evaluate_test=False)
    assert max(p["step"] for p in points) == steps
    assert all(b["progress"] >= a["progress"] for a, b in zip(points, points[1:], strict=False))
    assert all(p["progress"] <= p["epoch"] for p in points)


def test_real_20000_images_at_batch_64_report_313_steps_at_most(real_data):
    points: list[dict] = []
    cfg = TrainConfig(epochs=1, train_subset=20000, val_subset=500)
    train(cfg, real_data, on_metrics=points.append, evaluate_test=False)
    batch = [p for p in points if p["kind"] == "batch"]
    assert len(batch) >= 5 and max(p["step"] for p in points) == 313  # the old code said 341
    assert all(b["progress"] >= a["progress"] for a, b in zip(points, points[1:], strict=False))


def test_each_execution_stays_short_for_conv_nets_and_long_for_the_mlp():
    import math as m

    for name, batch in (("cnn_fast", 128), ("cnn_best", 128), ("lab_mlp", 64)):
        cfg = TrainConfig(model=PRESETS[name], batch_size=batch)
        spe = steps_per_execution_for(cfg, m.ceil(48000 / batch))
        # estimated seconds per execution from the measured seconds per MAC
        assert spe * 1e-10 * macs_per_image(cfg.model) * batch <= 0.25, name
    assert steps_per_execution_for(TrainConfig(), 750) == 150


def test_diverging_loss_fails_clearly(tiny):
    with pytest.raises(TrainingDiverged, match="NaN"):
        train(
            TrainConfig(
                epochs=3,
                batch_size=4,
                optimizer="sgd",
                learning_rate=10.0,
                seed=0,
                model=ModelSpec(dropout=(), hidden=(256, 256)),
            ),
            _scaled(tiny, 1e4),
        )


def _scaled(d: FashionMNIST, factor: float) -> FashionMNIST:
    # Not uint8-realistic, but forces SGD to blow up fast.
    return FashionMNIST(d.x_train.astype(np.float32) * factor, d.y_train, d.x_test, d.y_test, "scaled")


@pytest.mark.parametrize(
    "spec",
    [
        *PRESETS.values(),
        ModelSpec(hidden=(32,), batch_norm=True, l2=0.01),
        ModelSpec(
            kind="cnn", input="image", conv_filters=(8, 16, 8), hidden=(), double_conv=True, batch_norm=True
        ),
        ModelSpec(hidden=(300, 100, 50), dropout=(0.2, 0.2, 0.2), activation="tanh"),
    ],
)
def test_describe_counts_parameters_like_keras(spec):
    from fmnist_core.models import describe, param_count

    assert param_count(spec) == build_model(spec).count_params()
    assert describe(spec)[-1]["output shape"] == "(batch, 10)"


# ------------------------------------------------------------------------------------ early stopping


def test_early_stopping_is_validated_and_leaves_existing_keys_alone():
    for bad in (0, 51, 2.5, True, "2"):
        with pytest.raises(
            ValueError, match="early-stopping patience must be a whole number of epochs from 1 to 50"
        ):
            TrainConfig(early_stopping=bad)
    c = TrainConfig()
    assert "early_stopping" not in c.to_dict()
    # the default config's key, as it was before the field existed: existing runs keep being reused
    assert (
        c.key() == TrainConfig.from_dict({**c.to_dict(), "early_stopping": None}).key() == "1ef15135aa5e92c8"
    )
    es = c.with_(early_stopping=2)
    assert es.key() != c.key() and es.with_(early_stopping=3).key() != es.key()
    assert TrainConfig.from_dict(__import__("json").loads(es.to_json())) == es


def _shuffled_labels(d: FashionMNIST, seed: int = 0) -> FashionMNIST:
    """Training labels with no relation to the images: validation accuracy cannot really improve."""
    y = np.random.default_rng(seed).permutation(d.y_train)
    return FashionMNIST(d.x_train, y, d.x_test, d.y_test, d.source)


def test_early_stopping_ends_finished_with_fewer_epochs_and_the_best_weights(tiny):
    from fmnist_core.training import prepare_data

    data = _shuffled_labels(tiny)
    cfg = TrainConfig(epochs=4, batch_size=8, seed=1, early_stopping=1)
    points: list[dict] = []
    weights: dict[int, list[np.ndarray]] = {}  # each epoch's weights, as that epoch ended

    def snapshot(model, epochs_done: int) -> None:
        weights[epochs_done] = model.get_weights()

    r = train(cfg, data, on_metrics=points.append, should_stop=lambda: False, on_epoch_done=snapshot)
    val = r.history["val_accuracy"]
    assert not r.stopped  # not a user stop: jobs.execute_run records the run as finished
    assert 2 <= r.epochs_done < cfg.epochs and len(val) == r.epochs_done
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == list(range(1, r.epochs_done + 1))
    # stopped one epoch after the best one (patience 1), holding the best epoch's weights
    assert r.best_epoch == int(np.argmax(val)) + 1 and r.epochs_done == r.best_epoch + 1
    prepared = prepare_data(cfg, data)
    _, acc = r.model.evaluate(prepared.x_val, prepared.y_val, batch_size=1024, verbose=0)
    assert acc == pytest.approx(max(val), abs=1e-6)
    final = r.model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(final, weights[r.best_epoch], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(final, weights[r.epochs_done], strict=True))
    # without early stopping the same run trains every epoch
    plain = train(cfg.with_(early_stopping=None), data, evaluate_test=False)
    assert plain.epochs_done == cfg.epochs and plain.best_epoch is None


def test_a_run_that_stops_early_is_recorded_finished_with_the_epochs_it_trained(tiny, tmp_path, monkeypatch):
    from fmnist_core.jobs import execute_run
    from fmnist_core.store import RunStore

    monkeypatch.setenv("FMNIST_HOME", str(tmp_path))
    store = RunStore(tmp_path)
    cfg = TrainConfig(epochs=4, batch_size=8, seed=1, early_stopping=1)
    rid = store.create_run(cfg, status="running")
    assert execute_run(store, rid, cfg, _shuffled_labels(tiny)) == "finished"
    run = store.get_run(rid)
    assert run.status == "finished" and run.error is None and 2 <= run.epochs_done < cfg.epochs
    assert run.model_path and run.test_accuracy is not None


# ------------------------------------------------------------------------------------ kept compiled model


@pytest.mark.parametrize("optimizer", ["adam", "adagrad"])  # adagrad's accumulators do not start at 0
def test_a_kept_compiled_model_trains_exactly_as_a_fresh_one(tiny, optimizer):
    """A worker keeps its last compiled model (reuse_compiled=True): the next run of the same shape
    skips tracing, and still ends with the numbers and weights of a freshly built model."""
    cfg = TrainConfig(epochs=2, batch_size=8, seed=3, optimizer=optimizer)
    fresh = train(cfg, tiny, evaluate_test=False)
    fresh_weights = fresh.model.get_weights()
    first = train(cfg.with_(seed=4), tiny, evaluate_test=False, reuse_compiled=True)
    kept = train(cfg, tiny, evaluate_test=False, reuse_compiled=True)
    assert kept.model is first.model  # the same traced model, reset
    assert kept.history == fresh.history
    assert all(np.array_equal(a, b) for a, b in zip(kept.model.get_weights(), fresh_weights, strict=True))
    other = train(cfg.with_(batch_size=16), tiny, evaluate_test=False, reuse_compiled=True)
    assert other.model is not first.model  # another shape: a model of its own


def test_a_kept_chunked_model_trains_another_subset_without_tracing_again(tiny):
    """A chunk is the chunked step's input, of any length: the model kept from a run serves a run on
    another subset (other steps an epoch, other chunk length) with the same traced function, so a
    user's first run on a new subset starts (and can be stopped) at once."""
    cfg = TrainConfig(epochs=2, batch_size=8, seed=3)
    first = train(cfg, tiny, evaluate_test=False, reuse_compiled=True)
    fn = first.model.train_function
    traced = []  # the step's Python runs only while TensorFlow traces it
    compute_loss = first.model._compute_loss  # noqa: SLF001
    first.model._compute_loss = lambda *a, **k: traced.append(1) or compute_loss(*a, **k)  # noqa: SLF001
    small = cfg.with_(train_subset=80, seed=5)  # 10 steps an epoch, chunks of 2 (20 and 4 before)
    kept = train(small, tiny, evaluate_test=False, reuse_compiled=True)
    assert kept.model is first.model and kept.model.train_function is fn
    assert traced == []
    fresh = train(small, tiny, evaluate_test=False)
    assert kept.history == fresh.history


@pytest.mark.parametrize(
    ("optimizer", "spec", "schedule", "augment"),
    [
        ("adam", PRESETS["lab_mlp"], None, None),  # fused Adam, dropout, chunks gathered at once
        ("adam", ModelSpec(l2=1e-3, batch_norm=True, dropout=(0.2,)), "onecycle", "flip"),  # batch by batch
        ("momentum", PRESETS["lab_mlp"], None, None),  # Keras' own update inside the chunk
    ],
)
def test_a_chunked_train_step_trains_as_keras_fit_does_batch_by_batch(
    tiny, optimizer, spec, schedule, augment
):
    """The TensorFlow path trains chunks of batches in one graph (install_chunked_train_step): the
    same batches, dropout draws and updates as Keras' own step-by-step `fit`, and its logs."""
    from fmnist_core.training import (
        epoch_dataset,
        fusable_adam,
        install_chunked_train_step,
        prepare_data,
        seeded_compiled_model,
    )

    cfg = TrainConfig(model=spec, optimizer=optimizer, epochs=2, batch_size=16, seed=3, lr_schedule=schedule)
    prepared = prepare_data(cfg, tiny)
    steps = math.ceil(len(prepared.x_train) / cfg.batch_size)  # 160 images: 10 batches
    results = []
    for chunk in (1, 4):  # 4 does not divide 10: the epoch's last chunk is short
        model = seeded_compiled_model(cfg, steps_per_epoch=steps)
        ds = epoch_dataset(prepared, batch_size=cfg.batch_size, seed=cfg.seed, chunk=chunk, augment=augment)
        if chunk > 1:
            install_chunked_train_step(model, cfg.batch_size)
        hist = model.fit(ds, epochs=1, verbose=0, shuffle=False)
        fused = fusable_adam(model.optimizer)
        results.append((model.get_weights(), hist.history, int(model.optimizer.iterations.numpy())))
    (w1, h1, it1), (w4, h4, it4) = results
    assert it1 == it4 == steps  # one optimizer step per batch
    assert fused == (optimizer == "adam")
    for a, b in zip(w1, w4, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    assert h1["loss"] == pytest.approx(h4["loss"], rel=1e-4)
    assert h1["accuracy"] == pytest.approx(h4["accuracy"], abs=1e-6)


def test_fused_adam_is_only_used_for_plain_adam():
    import keras

    from fmnist_core.training import fusable_adam

    assert fusable_adam(keras.optimizers.Adam(1e-3))
    assert not fusable_adam(keras.optimizers.Adam(amsgrad=True))
    assert not fusable_adam(keras.optimizers.Adam(clipnorm=1.0))
    assert not fusable_adam(keras.optimizers.AdamW())
    assert not fusable_adam(keras.optimizers.RMSprop())
