"""Sketch & classify, one job per module:

* `preprocess` – canvas drawings and uploads -> 28x28 inputs framed like Fashion-MNIST (numpy/PIL/scipy)
* `infer`      – model-shape adapters, fast probabilities, `classify_canvas`
* `similar`    – the most similar real images (cosine similarity of pixels)
* `explain`    – saliency maps and Grad-CAM
* `answer`     – honest answers: a garment only when confident and close to real images
* `default`    – the default sketch model's config, queued by itself when none is stored
* `drawings`   – procedural garment drawings, framed like the canvas, that sketch training adds

`from fmnist_core.sketch import ...` keeps working for every public name. Importing the package is
cheap: TensorFlow / Keras are imported only inside the functions that need them.
"""

from __future__ import annotations

from fmnist_core.sketch.answer import (
    LOOKALIKE_NOTE,
    MIN_CONFIDENCE,
    MIN_SIMILARITY,
    Answer,
    answer_for,
    judge,
    judge_canvas,
    lookalike_note,
)
from fmnist_core.sketch.default import default_model_config, ensure_default_sketch_model, preferred_model
from fmnist_core.sketch.explain import grad_cam, last_conv_layer, saliency_map
from fmnist_core.sketch.infer import (
    NUM_CLASSES,
    PREDICT_CHUNK,
    UnsupportedModelError,
    classify_canvas,
    predict_probs,
    to_model_input,
    validate_classifier,
)
from fmnist_core.sketch.preprocess import (
    CANVAS_TRIM,
    FILL_LEVEL,
    LIT_THRESHOLD,
    MIN_EXTENT_FRACTION,
    MIN_EXTENT_PX,
    PHOTO_TRIM,
    SCRIBBLE_NOTE,
    SIDE,
    UPLOAD_FORMATS,
    WORK_SIDE,
    BadImageError,
    CanvasInput,
    EmptyCanvasError,
    FullCanvasError,
    canvas_input,
    canvas_intensity,
    fill_if_outline,
    fill_outlines,
    frame_like_fashion_mnist,
    image_intensity,
    load_upload,
    looks_like_outline,
    painted_fraction,
    preprocess_canvas,
    preprocess_image,
    scribbled_over,
)
from fmnist_core.sketch.similar import make_bank, nearest, similar_images

__all__ = [
    "Answer",
    "LOOKALIKE_NOTE",
    "lookalike_note",
    "MIN_CONFIDENCE",
    "MIN_SIMILARITY",
    "answer_for",
    "default_model_config",
    "ensure_default_sketch_model",
    "judge",
    "judge_canvas",
    "nearest",
    "preferred_model",
    "BadImageError",
    "CANVAS_TRIM",
    "CanvasInput",
    "EmptyCanvasError",
    "FullCanvasError",
    "FILL_LEVEL",
    "LIT_THRESHOLD",
    "MIN_EXTENT_FRACTION",
    "MIN_EXTENT_PX",
    "NUM_CLASSES",
    "PHOTO_TRIM",
    "PREDICT_CHUNK",
    "SCRIBBLE_NOTE",
    "SIDE",
    "UPLOAD_FORMATS",
    "UnsupportedModelError",
    "WORK_SIDE",
    "canvas_input",
    "canvas_intensity",
    "classify_canvas",
    "fill_if_outline",
    "fill_outlines",
    "frame_like_fashion_mnist",
    "grad_cam",
    "image_intensity",
    "last_conv_layer",
    "load_upload",
    "looks_like_outline",
    "painted_fraction",
    "scribbled_over",
    "make_bank",
    "predict_probs",
    "preprocess_canvas",
    "preprocess_image",
    "saliency_map",
    "similar_images",
    "to_model_input",
    "validate_classifier",
]
