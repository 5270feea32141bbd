"""What a trained classifier says about 28x28 inputs: model-shape adapters, fast probabilities, and
`classify_canvas`, the one call that does what the Sketch page does by default.

Keras is never imported here: the functions use the model object they are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fmnist_core.sketch.preprocess import SIDE, preprocess_canvas

NUM_CLASSES = 10
PREDICT_CHUNK = 512  # images per model call in predict_probs: bounds conv activations' memory


class UnsupportedModelError(ValueError):
    """A model does not take 28x28 images or does not output 10 classes."""


def _feature_shape(model: Any) -> tuple[int | None, ...]:
    """The model's input shape without the batch axis, e.g. (784,), (28, 28) or (28, 28, 1)."""
    try:
        inputs = model.inputs
    except Exception:  # an unbuilt subclassed model
        inputs = None
    if inputs:
        if len(inputs) != 1:
            raise UnsupportedModelError(f"The model takes {len(inputs)} inputs; it must take one image.")
        shape = tuple(inputs[0].shape)
    else:
        try:
            shape = tuple(model.input_shape)
        except Exception as exc:
            raise UnsupportedModelError("The model's input shape is unknown (it was never built).") from exc
    return tuple(None if d is None else int(d) for d in shape[1:])


def _output_shape(model: Any) -> tuple[int | None, ...]:
    try:
        outputs = model.outputs
    except Exception:
        outputs = None
    if outputs:
        if len(outputs) != 1:
            raise UnsupportedModelError(f"The model has {len(outputs)} outputs; it must have one.")
        shape = tuple(outputs[0].shape)
    else:
        try:
            shape = tuple(model.output_shape)
        except Exception as exc:
            raise UnsupportedModelError("The model's output shape is unknown (it was never built).") from exc
    return tuple(None if d is None else int(d) for d in shape[1:])


_ACCEPTED_INPUTS = ((SIDE * SIDE,), (SIDE, SIDE), (SIDE, SIDE, 1))


def validate_classifier(model: Any) -> None:
    """Raise UnsupportedModelError unless the model takes one 28x28 image (flat 784, (28, 28) or
    (28, 28, 1)) and outputs 10 class scores."""
    feat = _feature_shape(model)
    if feat not in _ACCEPTED_INPUTS:
        raise UnsupportedModelError(
            f"The model takes inputs of shape {feat}; a Fashion-MNIST classifier takes 28x28 images "
            "(784 flat, (28, 28) or (28, 28, 1))."
        )
    out = _output_shape(model)
    if out != (NUM_CLASSES,):
        raise UnsupportedModelError(
            f"The model outputs shape {out}; a Fashion-MNIST classifier outputs {NUM_CLASSES} classes."
        )


def to_model_input(model: Any, x28: np.ndarray) -> np.ndarray:
    """(n, 28, 28) or (28, 28) images in [0, 1] -> float32 batch in the model's own input shape."""
    x = np.asarray(x28, dtype=np.float32)
    if x.shape == (SIDE, SIDE):
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"expected (n, 28, 28) images, got shape {x.shape}")
    feat = _feature_shape(model)
    if feat not in _ACCEPTED_INPUTS:
        raise UnsupportedModelError(f"The model takes inputs of shape {feat}, not 28x28 images.")
    return x.reshape((len(x), *feat))


def _to_probs(out: np.ndarray) -> np.ndarray:
    """Rows that already are probabilities pass through; logits (or anything else) get a softmax."""
    out = np.asarray(out, dtype=np.float64)
    if out.min() >= -1e-6 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        return out.astype(np.float32)
    z = out - out.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _forward(model: Any, x: np.ndarray) -> np.ndarray:
    """One inference pass, (n, ...) -> (n, classes) numpy. `predict_on_batch` runs the model's cached
    compiled predict function (~0.5 ms for one image here, vs ~3 ms for an eager `model(x)` and ~50 ms
    for `model.predict`, which sets up a data pipeline per call). Anything without it (a plain
    callable) is called directly."""
    if hasattr(model, "predict_on_batch"):
        return np.asarray(model.predict_on_batch(x))
    return np.asarray(model(x, training=False))


def predict_probs(model: Any, x28: np.ndarray) -> np.ndarray:
    """(n, 28, 28) float images in [0, 1] -> (n, 10) float32 class probabilities.

    Never uses `model.predict` (slow per call); works in chunks so large batches of conv
    activations fit in memory. Logit outputs get a softmax.
    """
    x = to_model_input(model, x28)
    outs = [_forward(model, x[i : i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)]
    out = np.concatenate(outs, axis=0) if outs else np.zeros((0, NUM_CLASSES), np.float32)
    if out.ndim != 2 or out.shape[1] != NUM_CLASSES:
        raise UnsupportedModelError(f"The model returned shape {out.shape}, not (n, {NUM_CLASSES}).")
    return _to_probs(out) if len(out) else out.astype(np.float32)


def classify_canvas(
    model: Any, rgba: np.ndarray, *, fill: bool | str = "auto", background: str = "dark"
) -> np.ndarray:
    """The 10 class probabilities ((10,) float32) for a canvas drawing, with the Sketch page's defaults
    (a closed outline is filled automatically, light ink on a black canvas; see `preprocess_canvas`).

    Raises EmptyCanvasError (a ValueError with a message for the user) for an empty canvas or a dot,
    FullCanvasError (one of those) for a canvas painted over.
    """
    return predict_probs(model, preprocess_canvas(rgba, fill=fill, background=background)[None])[0]
