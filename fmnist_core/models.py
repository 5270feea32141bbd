"""Model specs (typed, JSON-able), presets and optimizers by name.

Keras is imported inside the functions that need it so that importing specs
(e.g. in a page that only shows a form) stays cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import keras

ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "swish")


@dataclass(frozen=True)
class ModelSpec:
    """What network to build. `build_model(spec)` turns it into a keras.Model."""

    kind: Literal["mlp", "cnn"] = "mlp"
    # MLP: sizes of the hidden Dense layers. CNN: sizes of the Dense layers after the conv stack.
    hidden: tuple[int, ...] = (128, 64)
    # CNN only: filters of each conv block (each block: conv [x2 if double_conv] -> pool).
    conv_filters: tuple[int, ...] = ()
    double_conv: bool = False
    activation: str = "relu"
    # Dropout rate after each hidden Dense layer (missing entries mean 0). The lab: (0.5,) = only after the first.
    dropout: tuple[float, ...] = (0.5,)
    # CNN only: dropout after each conv block.
    conv_dropout: float = 0.0
    l2: float = 0.0  # L2 weight penalty on Dense/Conv kernels
    batch_norm: bool = False  # BatchNormalization after each Dense/Conv (before the activation)
    # Input the model takes: "flat" (784,) as the lab did, or "image" (28, 28, 1).
    input: Literal["flat", "image"] = "flat"

    def __post_init__(self) -> None:
        # JSON round-trips give lists; keep the dataclass hashable and comparable.
        for name in ("hidden", "conv_filters", "dropout"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = spec_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def dropout_for(self, i: int) -> float:
        return self.dropout[i] if i < len(self.dropout) else 0.0


def spec_problems(spec: ModelSpec) -> list[str]:
    """Plain-language reasons a spec is unusable (empty when fine)."""
    out = []
    if spec.kind not in ("mlp", "cnn"):
        out.append(f"kind must be 'mlp' or 'cnn', not {spec.kind!r}")
    if spec.activation not in ACTIVATIONS:
        out.append(f"activation must be one of {', '.join(ACTIVATIONS)}")
    if any(not 1 <= int(h) <= 4096 for h in spec.hidden):
        out.append("hidden layer sizes must be between 1 and 4096")
    if len(spec.hidden) > 8:
        out.append("at most 8 hidden layers")
    if any(not 0.0 <= d < 1.0 for d in (*spec.dropout, spec.conv_dropout)):
        out.append("dropout rates must be in [0, 1)")
    if not 0.0 <= spec.l2 <= 1.0:
        out.append("L2 must be between 0 and 1")
    if spec.kind == "cnn":
        if not spec.conv_filters:
            out.append("a CNN needs at least one conv block")
        if len(spec.conv_filters) > 3:
            out.append("at most 3 conv blocks (each halves 28x28)")
        if any(not 1 <= int(f) <= 512 for f in spec.conv_filters):
            out.append("conv filters must be between 1 and 512")
        if spec.input != "image":
            out.append("a CNN takes image input")
    elif spec.conv_filters:
        out.append("an MLP has no conv blocks")
    return out


# Named presets. `lab_*` reproduce the reference lab; `cnn_*` are stronger models.
PRESETS: dict[str, ModelSpec] = {
    "lab_mlp": ModelSpec(),  # 784-128-Dropout(0.5)-64-10: 109,386 parameters
    "lab_mlp_dropout2": ModelSpec(dropout=(0.5, 0.5)),
    "lab_mlp_nodropout": ModelSpec(dropout=()),
    # Measured here (bench presets): 10 epochs x batch 128, 179 s of training on 2 CPU cores, test 0.9105.
    "cnn_fast": ModelSpec(kind="cnn", input="image", conv_filters=(16, 32), hidden=(128,), dropout=()),
    # One conv per block (a double 32-32 conv at 28x28 cost ~4x the time for the same 15 epochs); its
    # recipe (PRESET_INFO: one-cycle Adam, flips and 2-px shifts) does the rest. Numbers: PRESET_INFO.
    "cnn_best": ModelSpec(
        kind="cnn",
        input="image",
        conv_filters=(32, 64),
        hidden=(256,),
        dropout=(0.3,),
        conv_dropout=0.1,
        batch_norm=True,
    ),
}

# Measured numbers (the Train page shows them): "test_accuracy" and "seconds" (model.fit's wall clock, the
# preset's own recipe, all 48,000 training images, TensorFlow, 2 CPU cores) and "measured" (how, in words).
PRESET_INFO: dict[str, dict[str, Any]] = {
    "lab_mlp": {
        "label": "Lab MLP (784-128-64-10, dropout 0.5)",
        "epochs": 10,
        "batch_size": 64,
        "test_accuracy": 0.8690,
        "seconds": 11,
        "measured": "test 0.869 after 10 epochs in 11 s on 2 shared CPU cores (python -m bench presets)",
    },
    "lab_mlp_dropout2": {
        "label": "Lab MLP, dropout after both hidden layers",
        "epochs": 10,
        "batch_size": 64,
    },
    "lab_mlp_nodropout": {"label": "Lab MLP without dropout", "epochs": 10, "batch_size": 64},
    "cnn_fast": {
        "label": "Fast CNN (16-32 conv, 0.91 in ~3 min)",
        "epochs": 10,
        "batch_size": 128,
        "test_accuracy": 0.9105,
        "seconds": 179,
        "measured": "test 0.9105 after 10 epochs in 179 s on 2 CPU cores (python -m bench presets)",
    },
    "cnn_best": {
        "label": "Strong CNN (BN, 32-64 conv, one-cycle)",
        "epochs": 15,
        "batch_size": 128,
        "optimizer": "adam",
        "learning_rate": 0.003,
        "lr_schedule": "onecycle",
        "augment": "flip_shift",
        "test_accuracy": 0.9309,
        "seconds": 424,
        "measured": (
            "test 0.9309 after 15 epochs (python -m fmnist_core train --preset cnn_best): 424 s of training "
            "(7 min 14 s with start-up and the test pass) on 2 CPU cores, load average 1.2-2.3, 2026-11-26"
        ),
    },
}
# Seconds per epoch of each model family on each Keras backend (TrainConfig.backend), measured side by side
# with `python -m bench presets` on 2 shared CPU cores (lab_mlp for "mlp", cnn_fast for "cnn"). Read the ratio:
# TensorFlow is now the faster for both: for MLPs since it trains chunks of batches in one graph (it was
# 3.2 against JAX's 2.4 before), for CNNs by oneDNN's convolutions.
BACKEND_SECONDS_PER_EPOCH: dict[str, dict[str, float]] = {
    "mlp": {"tensorflow": 1.1, "jax": 1.5},
    "cnn": {"tensorflow": 29.0, "jax": 107.2},
}
BACKEND_LABELS = {"tensorflow": "TensorFlow (default)", "jax": "JAX"}


# What a preset's recipe sets (PRESET_INFO keys -> TrainConfig fields); missing keys keep TrainConfig's defaults.
RECIPE_KEYS = ("epochs", "batch_size", "optimizer", "learning_rate", "lr_schedule", "augment")


def preset_recipe(name: str) -> dict[str, Any]:
    """The TrainConfig fields a preset trains with (its epochs, batch, optimizer, schedule, augmentation)."""
    info = PRESET_INFO[name]
    return {k: info[k] for k in RECIPE_KEYS if k in info}


@dataclass(frozen=True)
class OptimizerInfo:
    label: str
    default_lr: float  # Keras' own default for this optimizer (the lab used defaults)
    note: str = ""


OPTIMIZERS: dict[str, OptimizerInfo] = {
    "sgd": OptimizerInfo("SGD", 0.01),
    "momentum": OptimizerInfo("SGD + momentum 0.9", 0.01),
    "nesterov": OptimizerInfo("SGD + Nesterov 0.9", 0.01),
    "adagrad": OptimizerInfo("Adagrad", 0.001, "Keras' docs suggest a higher rate (e.g. 0.01-0.1)"),
    "adadelta": OptimizerInfo("Adadelta", 0.001, "very slow at Keras' default rate; try 1.0"),
    "adam": OptimizerInfo("Adam", 0.001),
    "adamw": OptimizerInfo("AdamW", 0.001),
    "nadam": OptimizerInfo("Nadam", 0.001),
    "rmsprop": OptimizerInfo("RMSprop", 0.001),
}


def make_optimizer(name: str, learning_rate: Any = None) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer by name; learning_rate None means Keras' default for it, and a
    `keras.optimizers.schedules.LearningRateSchedule` is passed through as it is."""
    import keras

    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    if learning_rate is None:
        lr = OPTIMIZERS[name].default_lr
    elif isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        lr = learning_rate
    else:
        lr = float(learning_rate)
    o = keras.optimizers
    return {
        "sgd": lambda: o.SGD(learning_rate=lr),
        "momentum": lambda: o.SGD(learning_rate=lr, momentum=0.9),
        "nesterov": lambda: o.SGD(learning_rate=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: o.Adagrad(learning_rate=lr),
        "adadelta": lambda: o.Adadelta(learning_rate=lr),
        "adam": lambda: o.Adam(learning_rate=lr),
        "adamw": lambda: o.AdamW(learning_rate=lr),
        "nadam": lambda: o.Nadam(learning_rate=lr),
        "rmsprop": lambda: o.RMSprop(learning_rate=lr),
    }[name]()


def input_shape(spec: ModelSpec) -> tuple[int, ...]:
    return (784,) if spec.input == "flat" else (28, 28, 1)


def build_model(spec: ModelSpec, *, name: str | None = None) -> keras.Model:
    """Build (not compile) the network a spec describes. Seed first for reproducible weights."""
    import keras
    from keras import layers

    reg = keras.regularizers.L2(spec.l2) if spec.l2 > 0 else None

    def act_block(x, make):
        # With batch norm: linear -> BN -> activation (the usual order); the layer's bias is redundant.
        if spec.batch_norm:
            x = make(use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            return layers.Activation(spec.activation)(x)
        return make(activation=spec.activation)(x)

    inputs = keras.Input(shape=input_shape(spec), name="pixels")
    x = inputs
    if spec.kind == "cnn":
        for f in spec.conv_filters:
            for _ in range(2 if spec.double_conv else 1):
                x = act_block(
                    x, lambda f=f, **kw: layers.Conv2D(f, 3, padding="same", kernel_regularizer=reg, **kw)
                )
            x = layers.MaxPooling2D(2)(x)
            if spec.conv_dropout > 0:
                x = layers.Dropout(spec.conv_dropout)(x)
        x = layers.Flatten()(x)
    for i, units in enumerate(spec.hidden):
        x = act_block(x, lambda units=units, **kw: layers.Dense(units, kernel_regularizer=reg, **kw))
        if spec.dropout_for(i) > 0:
            x = layers.Dropout(spec.dropout_for(i))(x)
    outputs = layers.Dense(10, activation="softmax", kernel_regularizer=reg, name="probs")(x)
    return keras.Model(inputs, outputs, name=name or f"{spec.kind}")


def describe(spec: ModelSpec) -> list[dict[str, Any]]:
    """The layers `build_model(spec)` makes, with output shapes and parameter counts, without Keras.

    Pages use it to show the summary before training without importing TensorFlow (~5 s);
    a test checks it against Keras' own count for every preset.
    """
    rows: list[dict[str, Any]] = []

    def add(layer: str, shape: tuple[int, ...], params: int = 0) -> None:
        rows.append(
            {
                "layer": layer,
                "output shape": "(batch, " + ", ".join(map(str, shape)) + ")",
                "parameters": params,
            }
        )

    def act(shape: tuple[int, ...], n: int) -> None:
        if spec.batch_norm:
            add("BatchNormalization", shape, 4 * n)  # gamma, beta + moving mean, variance
            add(f"Activation ({spec.activation})", shape)

    if spec.kind == "cnn":
        size, ch = 28, 1
        add("Input", (28, 28, 1))
        for f in spec.conv_filters:
            for _ in range(2 if spec.double_conv else 1):
                bias = 0 if spec.batch_norm else f
                label = "Conv2D 3x3" + ("" if spec.batch_norm else f" ({spec.activation})")
                add(label, (size, size, f), 9 * ch * f + bias)
                act((size, size, f), f)
                ch = f
            size //= 2
            add("MaxPooling2D 2x2", (size, size, ch))
            if spec.conv_dropout > 0:
                add(f"Dropout {spec.conv_dropout:g}", (size, size, ch))
        n_in = size * size * ch
        add("Flatten", (n_in,))
    else:
        n_in = 784
        add("Input", (784,))
    for i, units in enumerate(spec.hidden):
        bias = 0 if spec.batch_norm else units
        add("Dense" + ("" if spec.batch_norm else f" ({spec.activation})"), (units,), n_in * units + bias)
        act((units,), units)
        if spec.dropout_for(i) > 0:
            add(f"Dropout {spec.dropout_for(i):g}", (units,))
        n_in = units
    add("Dense (softmax)", (10,), n_in * 10 + 10)
    return rows


def param_count(spec: ModelSpec) -> int:
    """Total parameters (as Keras' count_params counts them), computed without Keras."""
    return sum(r["parameters"] for r in describe(spec))
