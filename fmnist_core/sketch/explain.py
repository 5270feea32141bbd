"""Why a model gave its answer: saliency maps and Grad-CAM on 28x28 inputs.

TensorFlow / Keras are imported inside the functions (importing them costs seconds).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from fmnist_core.sketch.infer import to_model_input
from fmnist_core.sketch.preprocess import SIDE


def _class_score(tf: Any, out: Any) -> tuple[Any, int]:
    """The predicted class and a non-saturating score for it: the logit if the model outputs logits,
    else log p_c - mean_j log p_j (= z_c - mean_j z_j for a softmax), whose gradient does not vanish
    when the model is confident."""
    probs = np.asarray(out)[0]
    c = int(np.argmax(probs))
    if probs.min() >= -1e-6 and abs(float(probs.sum()) - 1.0) < 1e-3:
        logp = tf.math.log(out[0] + 1e-30)
        return logp[c] - tf.reduce_mean(logp), c
    return out[0, c], c


def _unit(m: np.ndarray) -> np.ndarray:
    m = np.nan_to_num(np.asarray(m, dtype=np.float32))
    peak = float(m.max()) if m.size else 0.0
    return (m / peak if peak > 0 else np.zeros_like(m)).astype(np.float32)


def saliency_map(model: Any, x28: np.ndarray) -> np.ndarray:
    """(28, 28) float32 in [0, 1]: |d score(predicted class) / d pixel|, scaled so the maximum is 1."""
    import tensorflow as tf  # only here: importing it costs seconds

    x = tf.convert_to_tensor(to_model_input(model, x28))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = model(x, training=False)
        score, _ = _class_score(tf, out)
    grad = tape.gradient(score, x)
    if grad is None:
        return np.zeros((SIDE, SIDE), np.float32)
    return _unit(np.abs(np.asarray(grad)).reshape(SIDE, SIDE))


def last_conv_layer(model: Any) -> Any | None:
    """The model's last top-level Conv2D layer, or None."""
    import keras

    convs = [layer for layer in getattr(model, "layers", []) if isinstance(layer, keras.layers.Conv2D)]
    return convs[-1] if convs else None


def grad_cam(model: Any, x28: np.ndarray) -> np.ndarray:
    """(28, 28) float32 in [0, 1]: Grad-CAM of the predicted class at the last Conv2D layer, upsampled
    to 28x28. Models without a Conv2D layer (or whose graph cannot be split there) get
    `saliency_map` instead."""
    import keras
    import tensorflow as tf

    conv = last_conv_layer(model)
    if conv is None:
        return saliency_map(model, x28)
    try:
        sub = keras.Model(model.inputs, [conv.output, model.outputs[0]])
        x = tf.convert_to_tensor(to_model_input(model, x28))
        with tf.GradientTape() as tape:
            fmap, out = sub(x, training=False)
            score, _ = _class_score(tf, out)
        grads = tape.gradient(score, fmap)
        if grads is None:
            return saliency_map(model, x28)
        fmap, grads = np.asarray(fmap)[0], np.asarray(grads)[0]  # (h, w, channels)
    except Exception:  # a subclassed or nested model whose graph cannot be split at the conv layer
        return saliency_map(model, x28)
    weights = grads.mean(axis=(0, 1))  # (channels,)
    cam = np.maximum((fmap * weights).sum(axis=-1), 0.0).astype(np.float32)
    cam = np.asarray(Image.fromarray(cam, "F").resize((SIDE, SIDE), Image.Resampling.BILINEAR))
    return _unit(cam)
