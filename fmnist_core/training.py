"""Training: the typed run config, the streaming Keras callback, and `train()`.

`train()` is plain Keras `fit` plus a callback; it knows nothing of the store or the
job runner (those pass `on_metrics` / `should_stop`), so it runs the same in a worker,
the CLI and tests.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from fmnist_core.augment import AUGMENT_VERSIONS, augment_problems, drawings_added, with_drawings
from fmnist_core.data import FashionMNIST, train_val_split
from fmnist_core.models import OPTIMIZERS, PRESETS, ModelSpec, build_model, make_optimizer
from fmnist_core.progress import steps_per_epoch as progress_steps_per_epoch

if TYPE_CHECKING:
    pass

LAB_SPLIT_SEED = 42  # every run is compared on the same validation images
LIMITS = {
    "epochs": (1, 200),
    "batch_size": (1, 4096),
    "val_fraction": (0.05, 0.5),
    "learning_rate": (1e-6, 10.0),
    "early_stopping": (1, 50),  # patience, epochs
}
# Keras fixes its backend per process: a run names the one it trains on, and a worker per backend claims it.
BACKENDS = ("tensorflow", "jax")
# Learning-rate schedules (Keras' own, over the whole run): None keeps the rate constant;
# "cosine" decays it to 0 along a cosine; "onecycle" warms up linearly from rate/25 over the first
# ONECYCLE_WARMUP of the steps, then decays it along a cosine to 0.
LR_SCHEDULES = ("cosine", "onecycle")
ONECYCLE_WARMUP = 0.3


@dataclass(frozen=True)
class TrainConfig:
    model: ModelSpec = PRESETS["lab_mlp"]
    optimizer: str = "adam"
    learning_rate: float | None = None  # None: Keras' default for the optimizer (as the lab did)
    epochs: int = 10
    batch_size: int = 64
    val_fraction: float = 0.2  # of the 60,000 training images, split with the lab's seed 42
    seed: int = 42  # weights, dropout and shuffling
    train_subset: int | None = None  # use only the first N images of the training split
    val_subset: int | None = None  # evaluate on only the first N validation images (quick demos)
    # None, "flip" or "sketch": seeded on-the-fly augmentation of the training batches (fmnist_core.augment)
    augment: str | None = None
    backend: str = "tensorflow"  # or "jax": the Keras backend (see BACKENDS); same code, other speed
    lr_schedule: str | None = None  # None (constant), "cosine" or "onecycle" (see LR_SCHEDULES)
    # None, or patience in epochs: stop once validation accuracy has not improved for that many epochs,
    # and keep the weights of the best epoch (keras.callbacks.EarlyStopping, restore_best_weights)
    early_stopping: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelSpec.from_dict(self.model))
        problems = config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d.get("augment") is None:
            del d["augment"]  # runs from before the field existed keep their keys
        elif d["augment"] in AUGMENT_VERSIONS:  # what the kind draws changed: so does the key
            d["augment_version"] = AUGMENT_VERSIONS[d["augment"]]
        if d.get("backend") == "tensorflow":
            del d["backend"]  # likewise: the default backend leaves existing keys unchanged
        if d.get("lr_schedule") is None:
            del d["lr_schedule"]
        if d.get("early_stopping") is None:
            del d["early_stopping"]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = set(cls.__dataclass_fields__)
        d = {k: v for k, v in d.items() if k in known}
        d["model"] = ModelSpec.from_dict(d.get("model", {}))
        return cls(**d)

    def key(self) -> str:
        """Identity of the run's numbers: identical key, identical results (reuse instead of retraining)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    @property
    def effective_lr(self) -> float:
        return OPTIMIZERS[self.optimizer].default_lr if self.learning_rate is None else self.learning_rate


def config_problems(c: TrainConfig) -> list[str]:
    """Plain-language reasons a config cannot run (empty when fine)."""
    out = []
    if c.optimizer not in OPTIMIZERS:
        out.append(f"unknown optimizer {c.optimizer!r}")
    lo, hi = LIMITS["epochs"]
    if not (isinstance(c.epochs, int) and lo <= c.epochs <= hi):
        out.append(f"epochs must be a whole number from {lo} to {hi}")
    lo, hi = LIMITS["batch_size"]
    if not (isinstance(c.batch_size, int) and lo <= c.batch_size <= hi):
        out.append(f"batch size must be from {lo} to {hi}")
    lo, hi = LIMITS["val_fraction"]
    if not lo <= c.val_fraction <= hi:
        out.append(f"validation fraction must be from {lo} to {hi}")
    if c.learning_rate is not None:
        lo, hi = LIMITS["learning_rate"]
        if not (isinstance(c.learning_rate, int | float) and lo <= c.learning_rate <= hi):
            out.append(f"learning rate must be from {lo:g} to {hi:g}")
    if c.train_subset is not None and not 10 <= c.train_subset <= 60000:
        out.append("training subset must be from 10 to 60,000 images")
    if c.val_subset is not None and not 10 <= c.val_subset <= 60000:
        out.append("validation subset must be from 10 to 60,000 images")
    if not 0 <= c.seed < 2**31:
        out.append("seed must be from 0 to 2^31-1")
    out += augment_problems(c.augment)
    if c.backend not in BACKENDS:
        out.append(f"backend must be {' or '.join(repr(b) for b in BACKENDS)} (got {c.backend!r})")
    if c.lr_schedule is not None and c.lr_schedule not in LR_SCHEDULES:
        out.append(
            f"learning-rate schedule must be none, {' or '.join(repr(k) for k in LR_SCHEDULES)} "
            f"(got {c.lr_schedule!r})"
        )
    if c.early_stopping is not None:
        lo, hi = LIMITS["early_stopping"]
        es = c.early_stopping
        if isinstance(es, bool) or not (isinstance(es, int) and lo <= es <= hi):
            out.append(
                f"early-stopping patience must be a whole number of epochs from {lo} to {hi}, or none "
                f"(got {es!r})"
            )
    return out


@dataclass
class TrainResult:
    history: dict[str, list[float]]  # per epoch: loss, accuracy, val_loss, val_accuracy
    model: Any  # keras.Model
    test_loss: float
    test_accuracy: float
    test_probs: np.ndarray | None = None  # (10000, 10) float32 softmax outputs on the test set
    stopped: bool = False  # stopped early on request (early stopping is not a stop: the run is finished)
    seconds: float = 0.0  # wall-clock time of fit()
    epochs_done: int = 0  # epochs actually trained
    # with config.early_stopping: the 1-based epoch whose weights `model` holds (the best on validation)
    best_epoch: int | None = None


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class PreparedData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    tensors: Any = field(default=None, repr=False, compare=False)  # (x_train, y_train) as tf tensors
    val_tensors: Any = field(default=None, repr=False, compare=False)  # (x_val, y_val) as tf tensors


# key -> (the dataset object, its prepared arrays); holding the dataset keeps its id() from being reused
_PREP_CACHE: dict[tuple, tuple[FashionMNIST, PreparedData]] = {}


def prepare_data(config: TrainConfig, data: FashionMNIST) -> PreparedData:
    """Scale to [0, 1] float32, split with the lab's seed, shape for the model's input; "sketch" augmentation
    adds its procedural drawings to the training images (`augment.with_drawings`). Cached per process."""
    key = (
        id(data),
        config.val_fraction,
        config.model.input,
        config.train_subset,
        config.val_subset,
        drawings_added(1000, config.augment) > 0,  # "flip" and no augmentation share their arrays
    )
    hit = _PREP_CACHE.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]
    shape = (-1, 784) if config.model.input == "flat" else (-1, 28, 28, 1)
    xt, xv, yt, yv = train_val_split(
        data.x_train, data.y_train, val_fraction=config.val_fraction, seed=LAB_SPLIT_SEED
    )
    if config.train_subset:
        xt, yt = xt[: config.train_subset], yt[: config.train_subset]
    if config.val_subset:
        xv, yv = xv[: config.val_subset], yv[: config.val_subset]

    def scale(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0).reshape(shape)

    x_train, y_train = with_drawings(scale(xt), yt.astype(np.int32), config.augment)
    prepared = PreparedData(
        x_train,
        y_train,
        scale(xv),
        yv.astype(np.int32),
        scale(data.x_test),
        data.y_test.astype(np.int32),
    )
    if len(_PREP_CACHE) > 4:  # a worker sees few distinct shapes; bound memory anyway
        _PREP_CACHE.clear()
    _PREP_CACHE[key] = (data, prepared)
    return prepared


# Seconds per multiply-accumulate per image for a training step (forward + backward) on this class of CPU,
# measured on 2 cores: cnn_fast 12.4 ms and cnn_best 214 ms per batch of 128 (1.0 M and 18 M MACs an image).
SECONDS_PER_MAC = 1.0e-10
EXECUTION_BUDGET = 0.2  # seconds one compiled call may take: a stop lands within one call (x2-3 under load)


def macs_per_image(spec: ModelSpec) -> int:
    """Multiply-accumulates of one forward pass of one image (convolutions and dense layers)."""
    macs, size, ch = 0, 28, 1
    if spec.kind == "cnn":
        for f in spec.conv_filters:
            for _ in range(2 if spec.double_conv else 1):
                macs += size * size * 9 * ch * int(f)
                ch = int(f)
            size //= 2
        n_in = size * size * ch
    else:
        n_in = 784
    for units in (*spec.hidden, 10):
        macs += n_in * int(units)
        n_in = int(units)
    return macs


POINTS_PER_EPOCH = 5  # at least this many streamed points within each epoch (issue 10: >= 5)
MAX_STEPS_PER_EXECUTION = 150  # the lab MLP: 750 steps an epoch in 5 executions


def steps_per_execution_for(config: TrainConfig, steps_per_epoch: int) -> int:
    """How many batches to run inside one compiled call.

    Fewer Python round trips make small models faster (the lab MLP: 75 -> 150 steps a call saved
    ~15% of an epoch, bench training), but callbacks (streamed points, stop checks) only run between
    executions: keep >= POINTS_PER_EPOCH of them per epoch, and keep each execution within
    EXECUTION_BUDGET seconds (estimated from the model's MACs) so that Stop lands quickly on conv nets,
    where per-step compute dominates anyway.
    """
    step_seconds = SECONDS_PER_MAC * macs_per_image(config.model) * config.batch_size
    by_time = int(EXECUTION_BUDGET / max(step_seconds, 1e-9))
    return max(1, min(MAX_STEPS_PER_EXECUTION, by_time, steps_per_epoch // POINTS_PER_EPOCH))


def _import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


class StopTraining(Exception):
    """Raised from the streaming callback to leave `fit` at once (Keras would still validate the
    partial epoch after `stop_training`); `train()` catches it and keeps the model as it is."""


def make_streaming_callback(
    *,
    steps_per_epoch: int,
    on_metrics: Callable[[dict], None] | None,
    should_stop: Callable[[], bool] | None,
    on_epoch_done: Callable[[Any, int], None] | None = None,
    batches_per_step: int = 1,
):
    """A keras Callback that forwards points to `on_metrics`, honours `should_stop`, and calls
    `on_epoch_done(model, epochs_done)` after each complete epoch's point (checkpoints).
    `batches_per_step`: how many batches one Keras step trains (a chunk: `install_chunked_train_step`)."""
    keras = _import_keras()

    class StreamingCallback(keras.callbacks.Callback):
        """Sends a point after every execution (>= POINTS_PER_EPOCH per epoch) and at each epoch end.

        Batch points carry Keras' running means over the epoch so far, as Keras reports them.
        A stop request raises StopTraining at the next execution boundary, in training or validation.
        """

        def on_train_begin(self, logs=None):
            self.epoch = 0
            self.step = 0
            self.stopped = False
            self.diverged = False
            self.epochs_done = 0  # epochs whose end point (with validation) was sent
            self.history = {k: [] for k in HISTORY_KEYS}  # per complete epoch
            self.t_start = time.time()
            self._check_stop()  # asked while the input pipeline was built: stop before the first chunk

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.step = 0

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            # Keras reports the nominal end of an execution group (or the chunk's index, a chunk being
            # `batches_per_step` batches); the epoch's last group or chunk is shorter.
            self.step = max(self.step, min((int(batch) + 1) * batches_per_step, steps_per_epoch))
            point = {
                "kind": "batch",
                "epoch": self.epoch + 1,
                "step": self.step,
                "progress": self.epoch + self.step / steps_per_epoch,
                "loss": float(logs.get("loss", math.nan)),
                "accuracy": float(logs.get("accuracy", math.nan)),
                "time": time.time(),
            }
            if not math.isfinite(point["loss"]):
                self.diverged = True
                self.model.stop_training = True
            if on_metrics:
                on_metrics(point)
            self._check_stop()

        def on_test_batch_end(self, batch, logs=None):
            self._check_stop()  # validation of a big model takes seconds: stop there too

        def _check_stop(self):
            if should_stop and not self.diverged and should_stop():
                self.stopped = True
                self.model.stop_training = True
                raise StopTraining()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            point = {
                "kind": "epoch",
                "epoch": epoch + 1,
                "step": steps_per_epoch,
                "progress": float(epoch + 1),
                "time": time.time(),
            }
            for k in HISTORY_KEYS:
                point[k] = float(logs.get(k, math.nan))
                self.history[k].append(point[k])
            if not math.isfinite(point["loss"]):
                self.diverged = True
                self.model.stop_training = True
            if on_metrics:
                on_metrics(point)
            self.epochs_done = epoch + 1
            if on_epoch_done and not self.diverged:
                on_epoch_done(self.model, epoch + 1)
            if epoch + 1 < self.params.get("epochs", 0):
                # A stop asked during the epoch's end (validation, checkpoint) ends the run here, not
                # after the next epoch's first execution. After the last epoch there is nothing to stop.
                self._check_stop()

    return StreamingCallback()


def learning_rate_for(config: TrainConfig, steps_per_epoch: int):
    """The optimizer's learning rate: a number, or a Keras schedule over `epochs x steps_per_epoch` steps."""
    lr = config.effective_lr
    if config.lr_schedule is None:
        return lr
    keras = _import_keras()
    total = max(1, config.epochs * steps_per_epoch)
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total, alpha=0.0)
    warmup = max(1, int(total * ONECYCLE_WARMUP))
    return keras.optimizers.schedules.CosineDecay(
        lr / 25.0, decay_steps=max(1, total - warmup), alpha=0.0, warmup_target=lr, warmup_steps=warmup
    )


def seeded_compiled_model(
    config: TrainConfig, *, steps_per_execution: int = 1, steps_per_epoch: int | None = None
):
    """A fresh, compiled model for `config`, seeded first (same seed: same weights, dropout, batch order).
    `steps_per_epoch` sizes a learning-rate schedule (needed when `config.lr_schedule` is set)."""
    keras = _import_keras()
    _COMPILED.clear()  # its functions belong to the session cleared here
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config.model)
    if steps_per_epoch is None:
        steps_per_epoch = progress_steps_per_epoch(config.to_dict())
    model.compile(
        optimizer=make_optimizer(config.optimizer, learning_rate_for(config, steps_per_epoch)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


# The last compiled model of a worker, kept for the next run of the same shape (train(reuse_compiled=True)):
# tracing the training function takes a second or more, while resetting a model to the weights and
# optimizer state a fresh one would have takes milliseconds. Results are identical to a fresh model's.
_COMPILED: dict[str, Any] = {}


def _compiled_key(config: TrainConfig, steps_per_execution: int | str, steps_per_epoch: int) -> str:
    """What a traced training function depends on: architecture, optimizer and its schedule, batch shape,
    steps per execution, backend (not the seed, the data or the number of images). A chunked step
    (`install_chunked_train_step`, steps_per_execution "chunked") takes chunks of any length: one trace
    serves every subset size, so a run on a new subset starts (and stops) without tracing again."""
    schedule = (config.lr_schedule, config.epochs, steps_per_epoch) if config.lr_schedule else None
    parts = [config.model.to_dict(), config.optimizer, config.effective_lr, schedule, config.batch_size]
    return json.dumps([*parts, steps_per_execution, _import_keras().backend.backend()], sort_keys=True)


def _reset_compiled(config: TrainConfig, steps_per_execution: int | str, steps_per_epoch: int):
    """The kept model if it fits `config`, set to the weights and optimizer state that
    `seeded_compiled_model` would give; None otherwise."""
    model = _COMPILED.get("model")
    if model is None or _COMPILED.get("key") != _compiled_key(config, steps_per_execution, steps_per_epoch):
        return None
    keras = _import_keras()
    keras.utils.set_random_seed(config.seed)
    model.set_weights(build_model(config.model).get_weights())  # the fresh model's initial weights
    fresh = make_optimizer(config.optimizer, learning_rate_for(config, steps_per_epoch))
    fresh.build(model.trainable_variables)
    for kept, initial in zip(model.optimizer.variables, fresh.variables, strict=True):
        kept.assign(initial)
    return model


def _keep_compiled(
    model: Any, config: TrainConfig, steps_per_execution: int | str, steps_per_epoch: int
) -> None:
    _COMPILED.clear()
    _COMPILED.update(model=model, key=_compiled_key(config, steps_per_execution, steps_per_epoch))


# The TensorFlow path trains a *chunk* of batches per Keras step: `fit` gets chunks of up to
# `chunk x batch_size` images (`epoch_dataset(chunk=...)`), and the model's train step loops over the chunk's
# batches inside one graph (`tf.while_loop`), one gradient step per batch, exactly as `fit` would.
# Keras' own multi-step execution (`steps_per_execution`) runs the same steps, but wraps each in a
# nested function call, a `tf.cond` and an `Optional` from the iterator, which cost more than the lab
# MLP's arithmetic (bench training). Callbacks (points, stop checks) run between chunks, as they ran
# between executions. Adam, the default, updates each variable with TensorFlow's fused kernel
# (`ResourceApplyAdam`: the same formula as Keras' Adam, in 1 op instead of ~12).


def fusable_adam(optimizer: Any) -> bool:
    """True when `optimizer` is Keras' plain Adam (no AMSGrad, weight decay, clipping, EMA, loss
    scaling or gradient accumulation), whose update `ResourceApplyAdam` computes exactly."""
    keras = _import_keras()
    o = optimizer
    return (
        type(o) is keras.optimizers.Adam
        and not o.amsgrad
        and o.weight_decay is None
        and o.clipnorm is None
        and o.clipvalue is None
        and o.global_clipnorm is None
        and not o.use_ema
        and o.loss_scale_factor is None
        and o.gradient_accumulation_steps is None
    )


def install_chunked_train_step(model: Any, batch_size: int) -> None:
    """Make `model.train_step` (TensorFlow backend) train a chunk of batches: slices of `batch_size`
    from the chunk, each a full Keras step (forward, loss with regularisation, gradient, optimizer
    update, loss and metric trackers), in order. The chunk's logs are Keras' running means, as
    `fit` reports them. Set on the instance: the saved model is an ordinary functional model."""
    import tensorflow as tf

    optimizer = model.optimizer
    if not optimizer.built:  # its slots (m, v) must exist before the step is traced
        optimizer.build(model.trainable_variables)
    fused = fusable_adam(optimizer) and all(
        v.dtype == "float32" and v.constraint is None for v in model.trainable_weights
    )

    def apply_adam(grads, variables):
        # Keras' Adam.update_step, fused: alpha = lr sqrt(1 - b2^t) / (1 - b1^t), m += (g - m)(1 - b1),
        # v += (g^2 - v)(1 - b2), var -= m alpha / (sqrt(v) + eps), with t = iterations + 1.
        lr = tf.cast(optimizer.learning_rate, tf.float32)  # a schedule is evaluated at `iterations`
        t = tf.cast(optimizer.iterations + 1, tf.float32)
        b1, b2 = float(optimizer.beta_1), float(optimizer.beta_2)
        b1_power, b2_power = tf.pow(b1, t), tf.pow(b2, t)
        for var, grad in zip(variables, grads, strict=True):
            i = optimizer._get_variable_index(var)  # noqa: SLF001 (Keras' own slot lookup)
            tf.raw_ops.ResourceApplyAdam(
                var=var.value.handle,
                m=optimizer._momentums[i].value.handle,  # noqa: SLF001
                v=optimizer._velocities[i].value.handle,  # noqa: SLF001
                beta1_power=b1_power,
                beta2_power=b2_power,
                lr=lr,
                beta1=b1,
                beta2=b2,
                epsilon=float(optimizer.epsilon),
                grad=tf.cast(grad, tf.float32),
            )
        optimizer.iterations.assign_add(1)

    def train_step(data):
        x, y = data[0], data[1]
        n = tf.shape(x)[0]
        steps = (n + batch_size - 1) // batch_size
        variables = model.trainable_weights

        def one_batch(i, losses, preds):
            xb, yb = x[i * batch_size : (i + 1) * batch_size], y[i * batch_size : (i + 1) * batch_size]
            with tf.GradientTape() as tape:
                y_pred = model(xb, training=True)
                loss = model._compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=None, training=True)  # noqa: SLF001
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, variables)
            if fused:
                apply_adam(grads, variables)
            else:
                optimizer.apply_gradients(zip(grads, variables, strict=True))
            return i + 1, losses.write(i, loss), preds.write(i, y_pred)

        _, losses, preds = tf.while_loop(
            lambda i, *_: i < steps,
            one_batch,
            (
                tf.constant(0),
                tf.TensorArray(tf.float32, size=steps),
                tf.TensorArray(
                    model.outputs[0].dtype,
                    size=steps,
                    infer_shape=False,  # the last batch may be short
                    element_shape=tf.TensorShape([None, *model.outputs[0].shape[1:]]),
                ),
            ),
        )
        # The loss and metric trackers take the chunk's batches at once: the same sums as one update
        # a batch (Keras' running means: sum of loss x batch size over images), in fewer ops a step.
        sizes = tf.minimum(batch_size, n - tf.range(steps) * batch_size)
        model._loss_tracker.update_state(losses.stack(), sample_weight=sizes)  # noqa: SLF001
        if model._compile_metrics is not None:  # noqa: SLF001
            model._compile_metrics.update_state(y, preds.concat())  # noqa: SLF001
        return model.get_metrics_result()

    model.train_step = train_step
    model.steps_per_execution = 1  # a chunk is the execution
    model.train_function = None  # traced anew with this step


# Randomness of a run is a pure function of (seed, epoch), so that a run resumed after epoch k trains
# epochs k+1.. exactly as an unbroken run does: the batch order and augmentations of epoch e come from
# stateless ops seeded with (seed, e), and each random layer's seed-generator state (Dropout) is set at
# the start of epoch e from (seed, layer, e). Keras would otherwise carry both from epoch to epoch
# (tf.data's reshuffle counter, SeedGenerator states), and neither is in a saved model.
STEP_STRIDE = (
    2**20
)  # seed-generator counter values per epoch: more than any epoch's steps (60,000 at batch 1)


def _train_tensors(prepared: PreparedData) -> tuple[Any, Any]:
    """The training arrays as TensorFlow tensors, made once per prepared split (a run start skips the copy)."""
    import tensorflow as tf

    if prepared.tensors is None:
        prepared.tensors = (tf.constant(prepared.x_train), tf.constant(prepared.y_train))
    return prepared.tensors


def validation_batch_size(config: TrainConfig) -> int:
    """Validation has no gradients: big batches (a flat MLP's 12,000 images in 3 of them)."""
    return max(config.batch_size, 4096 if config.model.input == "flat" else 1024)


def validation_data(config: TrainConfig, prepared: PreparedData) -> Any:
    """`fit`'s validation data. On TensorFlow, a dataset over tensors made once per prepared split
    (from arrays, Keras would copy the 12,000 images into a new dataset at every `fit`)."""
    if _import_keras().backend.backend() != "tensorflow":
        return (prepared.x_val, prepared.y_val)
    import tensorflow as tf

    if prepared.val_tensors is None:
        prepared.val_tensors = (tf.constant(prepared.x_val), tf.constant(prepared.y_val))
    ds = tf.data.Dataset.from_tensor_slices(prepared.val_tensors).batch(validation_batch_size(config))
    return ds.prefetch(1)


def epoch_dataset(
    prepared: PreparedData,
    *,
    batch_size: int,
    seed: int,
    first_epoch: int = 0,
    augment: str | None = None,
    chunk: int = 1,
):
    """Batches for `model.fit` from `first_epoch` on: one pass per epoch, the order (and augmentation)
    of epoch e a function of (seed, e) only. Batches are gathered in TensorFlow from the training arrays
    (no second copy per epoch); the index permutation is `tf.random.experimental.index_shuffle`.
    `chunk` > 1: elements of `chunk` consecutive batches, flat (`chunk x batch_size` images, the last
    element shorter), for a model that trains chunks (`install_chunked_train_step`); the same images
    in the same order, and without augmentation gathered a chunk at a time (a third of the CPU).

    Keras makes one iterator per epoch over a dataset of known length; the pipeline counts its own
    passes (a counter read once when a pass starts), so pass i is epoch first_epoch + i whatever the
    moment TensorFlow starts prefetching it."""
    import tensorflow as tf

    x, y = _train_tensors(prepared)
    n = int(x.shape[0])
    steps = math.ceil(n / batch_size)
    feat = tuple(int(d) for d in x.shape[1:])
    seed_t = tf.constant(seed, tf.int64)
    passes = tf.Variable(first_epoch - 1, dtype=tf.int64, trainable=False)
    gather_size = batch_size * chunk if augment is None else batch_size

    def one_epoch(_):
        e = passes.assign_add(1)
        order = tf.random.experimental.index_shuffle(
            tf.range(n, dtype=tf.int64), tf.stack([seed_t, e]), n - 1
        )
        # each batch carries a stateless seed of its own for augmentation: (epoch, batch) and the run's seed
        return (
            tf.data.Dataset.from_tensor_slices(order)
            .batch(gather_size)
            .enumerate()
            .map(lambda b, idx: (idx, tf.stack([e * STEP_STRIDE + b, seed_t])))
        )

    from fmnist_core.augment import SIDE, augment_batch  # (outside the traced function: autograph)

    @tf.autograph.experimental.do_not_convert
    def load(idx, batch_seed):
        xb, yb = tf.gather(x, idx), tf.gather(y, idx)
        if augment is not None:
            xb = augment_batch(tf.reshape(xb, [-1, SIDE, SIDE, 1]), batch_seed, kind=augment)
            xb = tf.reshape(xb, [-1, *feat])
        return xb, yb

    ds = tf.data.Dataset.range(1).flat_map(one_epoch)
    ds = ds.map(load, num_parallel_calls=2, deterministic=True)
    if gather_size < batch_size * chunk:  # augmented a batch at a time (its own seed), then chunked
        ds = ds.rebatch(batch_size * chunk)
    ds = ds.prefetch(4 if chunk == 1 else 1)
    return ds.apply(tf.data.experimental.assert_cardinality(math.ceil(steps / chunk)))


def _seed_generators(model) -> list:
    """Every SeedGenerator of the model's layers (Dropout's), in layer order."""
    out = []
    for layer in model._flatten_layers(include_self=True):  # noqa: SLF001 (Keras keeps no public list)
        out.extend(getattr(layer, "_seed_generators", []))
    return out


def seed_layers_for_epoch(model, seed: int, epoch: int) -> None:
    """Set each random layer's seed-generator state to the one epoch `epoch` (from 0) starts from."""
    for i, gen in enumerate(_seed_generators(model)):
        base = (seed * 1_000_003 + 7919 * (i + 1)) % (2**31 - 1)
        gen.state.assign(np.array([base, epoch * STEP_STRIDE], dtype=gen.state.dtype))


def make_epoch_seed_callback(seed: int):
    """A Keras callback that seeds the model's random layers at each epoch's start (seed_layers_for_epoch)."""
    keras = _import_keras()

    class EpochSeeds(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seed_layers_for_epoch(self.model, seed, epoch)
            # Keras' array batches (the JAX path) draw the epoch's permutation from NumPy's global
            # generator when the epoch's first batch is taken, after this
            np.random.seed([seed, epoch])

    return EpochSeeds()


def _fit_inputs(
    config: TrainConfig, prepared: PreparedData, *, initial_epoch: int = 0, chunk: int = 1
) -> dict[str, Any]:
    """`model.fit`'s training inputs: the epoch-seeded pipeline (`epoch_dataset`), augmenting on the fly
    when `config.augment` is set, in chunks of `chunk` batches when the model trains chunks
    (`install_chunked_train_step`); on JAX without augmentation, the arrays (shuffled by Keras from
    NumPy's generator, which the epoch callback seeds from (seed, epoch))."""
    if config.augment is None and _import_keras().backend.backend() != "tensorflow":
        # tf.data feeding JAX measured 3.64 s/epoch against 1.69 for Keras' own array batches (bench training)
        return {
            "x": prepared.x_train,
            "y": prepared.y_train,
            "batch_size": config.batch_size,
            "shuffle": True,
        }
    ds = epoch_dataset(
        prepared,
        batch_size=config.batch_size,
        seed=config.seed,
        first_epoch=initial_epoch,
        augment=config.augment,
        chunk=chunk,
    )
    return {"x": ds, "shuffle": False}  # the pipeline shuffles, seeded per epoch


def first_point(model: Any, prepared: PreparedData, config: TrainConfig) -> dict:
    """The untrained model's loss and accuracy on the run's first batch, before any step (progress 0).

    Streamed before `fit`, it puts a point on the live chart within a fraction of a second of the
    start, while TensorFlow still traces the training function (a second or more: issue 11).
    Inference mode (no dropout), so it is the loss of the initial weights, about ln(10) = 2.3."""
    n = len(prepared.x_train)
    k = min(config.batch_size, n)
    if config.augment is None and _import_keras().backend.backend() != "tensorflow":
        idx = np.random.RandomState([config.seed, 0]).permutation(n)[:k]  # as Keras' arrays draw it (JAX)
    else:
        import tensorflow as tf

        order = tf.random.experimental.index_shuffle(
            tf.range(k, dtype=tf.int64), tf.constant([config.seed, 0], tf.int64), n - 1
        )  # epoch 0's first batch, as epoch_dataset draws it
        idx = np.asarray(order)
    probs = np.asarray(model(prepared.x_train[idx], training=False), dtype=np.float64)
    y = prepared.y_train[idx]
    p_true = np.clip(probs[np.arange(len(idx)), y], 1e-7, 1.0)
    return {
        "kind": "batch",
        "epoch": 1,
        "step": 0,
        "progress": 0.0,
        "loss": float(-np.mean(np.log(p_true))),
        "accuracy": float(np.mean(probs.argmax(1) == y)),
        "time": time.time(),
    }


def train(
    config: TrainConfig,
    data: FashionMNIST,
    *,
    on_metrics: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    evaluate_test: bool = True,
    on_epoch_done: Callable[[Any, int], None] | None = None,
    resume_from: str | os.PathLike | None = None,
    initial_epoch: int = 0,
    reuse_compiled: bool = False,
) -> TrainResult:
    """Train a model as `config` says on the lab's split of `data`, streaming points as it goes.

    A stop request (`should_stop()` true) leaves `fit` at the next execution boundary, even inside
    validation; the result is then `stopped` unless every epoch had already ended. With
    `evaluate_test=False` the caller evaluates later (`evaluate_on_test`), e.g. after recording the stop.
    `on_epoch_done(model, epochs_done)` runs after each complete epoch (checkpoints);
    `resume_from` is a checkpoint written there, and `initial_epoch` the epochs it holds.
    `reuse_compiled=True` (a worker that saves each result before its next run) trains the model kept
    from the previous run of the same shape, reset to fresh weights, skipping the tracing; the returned
    model is then reused by the next such call.
    Raises TrainingDiverged if the loss becomes NaN/inf (after streaming what came before).
    """
    prepared = prepare_data(config, data)
    n_train = len(prepared.x_train)
    steps_per_epoch = math.ceil(n_train / config.batch_size)

    spe = steps_per_execution_for(config, steps_per_epoch)
    # TensorFlow trains chunks of `spe` batches per Keras step (install_chunked_train_step); JAX runs
    # Keras' own multi-step executions of `spe` steps (it traces the whole loop into one XLA program).
    chunk = spe if _import_keras().backend.backend() == "tensorflow" else 1
    if resume_from is not None:  # our own checkpoint, by path we built: weights, optimizer state
        keras = _import_keras()
        _COMPILED.clear()
        keras.utils.clear_session(free_memory=False)
        keras.utils.set_random_seed(config.seed)  # the randomness of each epoch comes from (seed, epoch)
        model = keras.saving.load_model(resume_from, safe_mode=True)
        model.steps_per_execution = spe
        if chunk > 1:
            install_chunked_train_step(model, config.batch_size)
    else:
        execution = "chunked" if chunk > 1 else spe
        model = _reset_compiled(config, execution, steps_per_epoch) if reuse_compiled else None
        if model is None:
            model = seeded_compiled_model(config, steps_per_execution=spe, steps_per_epoch=steps_per_epoch)
            if chunk > 1:
                install_chunked_train_step(model, config.batch_size)
            if reuse_compiled:
                _keep_compiled(model, config, execution, steps_per_epoch)
    cb = make_streaming_callback(
        steps_per_epoch=steps_per_epoch,
        on_metrics=on_metrics,
        should_stop=should_stop,
        on_epoch_done=on_epoch_done,
        batches_per_step=chunk,
    )
    callbacks = [make_epoch_seed_callback(config.seed), cb]
    early = _early_stopping_callback(config)
    if early is not None:
        # After the streaming callback, so the epoch's point and checkpoint come first. It only sets
        # `stop_training` (never cb.stopped): a run that stops early this way is finished, not stopped.
        callbacks.append(early)
    if on_metrics is not None and initial_epoch == 0:
        on_metrics(first_point(model, prepared, config))
    fit_inputs = _fit_inputs(config, prepared, initial_epoch=initial_epoch, chunk=chunk)
    t0 = time.perf_counter()
    try:
        model.fit(
            **fit_inputs,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            validation_data=validation_data(config, prepared),
            validation_batch_size=validation_batch_size(config),  # used for arrays (JAX)
            callbacks=callbacks,
            verbose=0,
        )
    except StopTraining:
        early = None  # the model keeps the weights of the last finished execution (no restore on a stop)
    seconds = time.perf_counter() - t0
    history = cb.history
    if cb.diverged:
        raise TrainingDiverged("loss became NaN (training diverged: try a lower learning rate)")
    epochs_done = max(initial_epoch, cb.epochs_done)  # Keras numbers epochs from 0, not from initial_epoch
    # a stop that lands after the last epoch's end point changes nothing: the run is complete
    stopped = cb.stopped and epochs_done < config.epochs
    # EarlyStopping restored these weights in on_train_end (its epochs are Keras', numbered from 0)
    best_epoch = early.best_epoch + 1 if early is not None and early.best_weights is not None else None
    test_loss = test_acc = math.nan
    probs = None
    if evaluate_test:
        test_loss, test_acc, probs = evaluate_on_test(model, config, data)
    return TrainResult(
        history=history,
        model=model,
        test_loss=test_loss,
        test_accuracy=test_acc,
        test_probs=probs,
        stopped=stopped,
        seconds=seconds,
        epochs_done=epochs_done,
        best_epoch=best_epoch,
    )


def _early_stopping_callback(config: TrainConfig):
    """Keras' EarlyStopping on validation accuracy, restoring the best epoch's weights at the end of fit
    (even when no early stop happened), or None when `config.early_stopping` is not set. A resumed run
    starts a fresh patience count and best epoch from its checkpoint (the callback's state is not saved)."""
    if config.early_stopping is None:
        return None
    keras = _import_keras()
    return keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=config.early_stopping, mode="max", restore_best_weights=True
    )


def evaluate_on_test(model: Any, config: TrainConfig, data: FashionMNIST) -> tuple[float, float, np.ndarray]:
    """(test loss, test accuracy, (n, 10) float32 softmax outputs) of `model` on the test images."""
    prepared = prepare_data(config, data)
    probs = np.asarray(model.predict(prepared.x_test, batch_size=1024, verbose=0), dtype=np.float32)
    test_acc = float(np.mean(probs.argmax(1) == prepared.y_test))
    p_true = np.clip(probs[np.arange(len(probs)), prepared.y_test], 1e-7, 1.0)
    return float(-np.mean(np.log(p_true))), test_acc, probs


def lab_fit_baseline(config: TrainConfig, data: FashionMNIST) -> tuple[float, dict[str, list[float]]]:
    """The lab's plain `model.fit(x, y, batch_size, validation_data=...)` on the same config and seed.

    Returns (seconds, history). Used by the benchmark to compare against `train()`.
    """
    prepared = prepare_data(config, data)
    model = seeded_compiled_model(config)  # Keras' defaults: one step per call, as the lab ran it
    t0 = time.perf_counter()
    hist = model.fit(
        prepared.x_train,
        prepared.y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(prepared.x_val, prepared.y_val),
        verbose=0,
    )
    return time.perf_counter() - t0, {k: [float(v) for v in vs] for k, vs in hist.history.items()}
