"""fmnist_core.sketch.drawings: procedural garment drawings, as the canvas delivers them, for sketch training."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core.sketch import drawings
from fmnist_core.sketch.preprocess import preprocess_canvas


def test_the_bank_is_deterministic_balanced_and_framed_like_the_page():
    x, y = drawings.drawing_bank(60)
    again, labels = drawings.drawing_bank(60, seed=drawings.BANK_SEED)
    np.testing.assert_array_equal(x, again)
    assert y.tolist() == labels.tolist() == [i % 10 for i in range(60)]  # the classes in turn
    assert x.shape == (60, 28, 28) and x.dtype == np.float32
    assert np.all(
        x.max(axis=(1, 2)) == pytest.approx(1.0, abs=1e-6)
    )  # peak-normalised, like the page's input
    rows, cols = (x > 0.02).any(axis=2), (x > 0.02).any(axis=1)
    assert np.all(np.maximum(rows.sum(1), cols.sum(1)) >= 27)  # framed: the longest side spans the frame
    other, _ = drawings.drawing_bank(60, seed=1)
    assert not np.allclose(x, other)
    with pytest.raises(ValueError, match="at least 0"):
        drawings.drawing_bank(-1)


def test_each_class_has_its_shape():
    x, y = drawings.drawing_bank(400)
    ink = x > 0.1
    rows, cols = ink.any(axis=2).sum(1), ink.any(axis=1).sum(1)
    aspect = cols / rows  # width / height of what the model sees
    tops = np.isin(y, (0, 2, 4, 6))
    shoes = np.isin(y, (5, 7))
    assert np.median(aspect[y == 1]) < 0.7 and np.median(aspect[y == 3]) < 0.9  # trousers and dresses: tall
    assert np.median(aspect[shoes]) > 1.3  # sandals and sneakers: long and low
    assert np.median(aspect[tops]) < 1.2
    # a coat is drawn long (its sleeves end well above the hem): narrower for its height than a shirt
    assert np.median(aspect[y == 4]) < np.median(aspect[y == 6]) - 0.05


def test_a_drawing_is_a_canvas_image_the_page_reads():
    rng = np.random.default_rng(3)
    for label in range(10):
        rgba = drawings.draw(label, rng)
        assert rgba.shape == (drawings.CANVAS_SIDE, drawings.CANVAS_SIDE, 4) and rgba.dtype == np.uint8
        assert np.all(rgba[..., 3] == 255) and rgba[..., 0].max() == 255
        x28 = preprocess_canvas(rgba)
        assert x28.shape == (28, 28) and 0.0 <= x28.min() and x28.max() <= 1.0


def test_shoes_face_either_way_and_garments_vary():
    rng = np.random.default_rng(0)
    boots = [drawings.draw(9, rng)[..., 0] > 0 for _ in range(40)]
    # The shaft is at the back: more ink in the right half when the toe points left, and the other way round.
    right_heavy = [b[:, b.shape[1] // 2 :].sum() > b[:, : b.shape[1] // 2].sum() for b in boots]
    assert 5 <= sum(right_heavy) <= 35
    x, y = drawings.drawing_bank(200)
    coats = x[y == 4].reshape(20, -1)
    assert len({c.tobytes() for c in coats}) == 20  # no two alike
