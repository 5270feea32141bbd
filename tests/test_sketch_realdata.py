"""Real Fashion-MNIST through the canvas path: a model keeps its accuracy on images that went out to
a 280x280 canvas and back through preprocess_canvas, and the framing matches the dataset's own."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fmnist_core import sketch
from fmnist_core.data import load_fashion_mnist

pytestmark = pytest.mark.realdata

N_TEST = 1000
CANVAS = 280


@pytest.fixture(scope="module")
def data():
    # `make test` installs the real data; without it this must fail (with the loader's how-to message).
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="module")
def model(data):
    import keras

    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    m.compile("adam", "sparse_categorical_crossentropy")
    x = data.x_train[:20000].reshape(-1, 784).astype(np.float32) / 255.0
    m.fit(x, data.y_train[:20000], epochs=3, batch_size=128, verbose=0)  # ~2-3 s on 2 cores
    return m


def as_canvas(img28: np.ndarray, method: Image.Resampling, background: str) -> np.ndarray:
    """What the canvas would deliver had someone painted this image: (280, 280, 4) uint8, white ink
    with alpha = intensity on transparent, or grey ink on opaque black."""
    big = np.asarray(Image.fromarray(img28).resize((CANVAS, CANVAS), method))
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    if background == "transparent":
        rgba[..., :3] = 255
        rgba[..., 3] = big
    else:
        rgba[..., :3] = big[..., None]
        rgba[..., 3] = 255
    return rgba


def accuracy(model, x28: np.ndarray, y: np.ndarray) -> float:
    return float((sketch.predict_probs(model, x28).argmax(axis=1) == y).mean())


def bbox_stats(x28: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longest bbox side (n,) and bbox-centre offset from the image centre (n, 2) of pixels > 0."""
    longest, offset = [], []
    for img in x28 > 0:
        rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
        longest.append(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
        offset.append(((rows[0] + rows[-1]) / 2 - 13.5, (cols[0] + cols[-1]) / 2 - 13.5))
    return np.array(longest), np.array(offset)


@pytest.mark.parametrize(
    ("method", "background"),
    [
        (Image.Resampling.NEAREST, "transparent"),
        (Image.Resampling.NEAREST, "black"),
        (Image.Resampling.BILINEAR, "transparent"),
    ],
    ids=["nearest-transparent", "nearest-black", "bilinear-transparent"],
)
def test_round_trip_through_the_canvas_keeps_accuracy_and_framing(data, model, method, background):
    x, y = data.x_test[:N_TEST], data.y_test[:N_TEST]
    base = accuracy(model, x.astype(np.float32) / 255.0, y)
    assert base > 0.75  # the model really learnt something, or the comparison means nothing

    out = np.stack([sketch.preprocess_canvas(as_canvas(img, method, background)) for img in x])
    assert out.shape == (N_TEST, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert abs(accuracy(model, out, y) - base) <= 0.02

    # Framing: as in the real images, the longest side is 27-28 px and the bbox is centred.
    longest, offset = bbox_stats(out)
    assert np.isin(longest, (27, 28)).all(), np.unique(longest, return_counts=True)
    assert np.abs(offset).max() <= 1.0
    real_longest, real_offset = bbox_stats(x)
    assert np.mean(real_longest == 28) > 0.95 and np.abs(real_offset).max() <= 1.0  # the facts we copy
    assert np.mean(longest == 28) >= np.mean(real_longest == 28) - 0.01


def test_round_trip_as_product_photos_on_white(data, model):
    """The upload path: the same images as dark items on a white background, 196 px, saved as PNG."""
    import io

    x, y = data.x_test[:N_TEST], data.y_test[:N_TEST]
    base = accuracy(model, x.astype(np.float32) / 255.0, y)
    out = []
    for img in x:
        big = Image.fromarray(img).resize((196, 196), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        Image.fromarray(255 - np.asarray(big)).save(buf, "PNG")
        out.append(sketch.preprocess_image(sketch.load_upload(buf.getvalue())))
    assert abs(accuracy(model, np.stack(out), y) - base) <= 0.02


def test_similar_images_of_a_test_image_share_its_class_mostly(data):
    bank = sketch.make_bank(data.x_train[:10000])
    labels = data.y_train[:10000]
    hits = [
        np.mean(labels[sketch.similar_images(img / 255.0, bank, k=5)] == label)
        for img, label in zip(data.x_test[:200], data.y_test[:200], strict=True)
    ]
    assert np.mean(hits) > 0.7  # cosine kNN on pixels is ~80% accurate on Fashion-MNIST
