"""fmnist_core.explore on tiny synthetic arrays with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core import explore
from fmnist_core.data import FashionMNIST


def _images(values: list[int], size: int = 2) -> np.ndarray:
    """One constant size x size image per value."""
    return np.stack([np.full((size, size), v, dtype=np.uint8) for v in values])


@pytest.fixture
def tiny() -> FashionMNIST:
    x_train = _images([0, 10, 20, 255])
    y_train = np.array([0, 0, 1, 2], dtype=np.uint8)
    x_test = _images([4, 6])
    y_test = np.array([3, 3], dtype=np.uint8)
    return FashionMNIST(x_train, y_train, x_test, y_test, source="synthetic")


def test_caption_is_id_and_name():
    assert explore.caption(7) == "7 · Sneaker"
    assert explore.caption(np.uint8(0)) == "0 · T-shirt/top"


def test_split_arrays(tiny):
    assert explore.split_arrays(tiny, "test")[0] is tiny.x_test
    with pytest.raises(ValueError, match="split"):
        explore.split_arrays(tiny, "validation")


def test_value_counts_in_chunks_matches_bincount():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(37, 5, 5), dtype=np.uint8)
    counts = explore.value_counts(x, chunk=4)  # several chunks, last one partial
    np.testing.assert_array_equal(counts, np.bincount(x.ravel(), minlength=256))
    assert counts.sum() == x.size


def test_dataset_summary_hand_computed(tiny):
    s = explore.dataset_summary(tiny).set_index("split")
    train = s.loc["train"]
    assert train["images"] == 4
    assert train["image shape"] == "2×2"
    assert train["dtype"] == "uint8"
    assert (train["min"], train["max"]) == (0, 255)
    assert train["mean"] == pytest.approx((0 + 10 + 20 + 255) / 4)
    assert train["std"] == pytest.approx(np.std([0, 10, 20, 255]))
    assert train["zero share"] == pytest.approx(0.25)
    assert train["classes"] == 3
    test = s.loc["test"]
    assert (test["min"], test["max"], test["mean"], test["std"]) == (4, 6, 5.0, 1.0)
    assert test["classes"] == 1
    shown = explore.summary_display(explore.dataset_summary(tiny))
    assert list(shown.columns) == ["train", "test"]
    assert shown.loc["value range", "test"] == "4–6"
    assert shown.loc["pixels = 0", "train"] == "25.0%"


def test_class_table_counts(tiny):
    t = explore.class_table(tiny)
    assert len(t) == 10
    assert t["train"].tolist() == [2, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert t["test"].tolist() == [0, 0, 0, 2, 0, 0, 0, 0, 0, 0]
    assert t.loc[9, "class"] == "Ankle boot"


def test_class_mean_std_hand_computed():
    x = np.zeros((3, 2, 2), dtype=np.uint8)
    x[0] = [[0, 10], [20, 30]]
    x[1] = [[10, 10], [40, 30]]
    x[2] = [[200, 0], [0, 0]]
    y = np.array([0, 0, 5])
    means, stds = explore.class_mean_std(x, y)
    assert means.shape == stds.shape == (10, 2, 2)
    np.testing.assert_allclose(means[0], [[5, 10], [30, 30]])
    np.testing.assert_allclose(stds[0], [[5, 0], [10, 0]])  # population std of two values: |a-b|/2
    np.testing.assert_allclose(means[5], x[2])
    np.testing.assert_allclose(stds[5], 0)
    assert np.isnan(means[1]).all() and np.isnan(stds[1]).all()  # a class with no images


def test_pixel_histograms_counts_and_background():
    x = np.array([[[0, 0], [7, 8]], [[255, 128], [0, 64]]], dtype=np.uint8)
    y = np.array([2, 4])
    edges, counts = explore.pixel_histograms(x, y, bins=4)
    np.testing.assert_array_equal(edges, [0, 64, 128, 192, 256])
    assert counts.shape == (10, 4)
    assert counts[2].tolist() == [4, 0, 0, 0]  # 0, 0, 7, 8 all in [0, 64)
    assert counts[4].tolist() == [1, 1, 1, 1]  # 0 | 64 | 128 | 255
    assert counts.sum() == x.size
    _, no_bg = explore.pixel_histograms(x, y, bins=4, exclude_zero=True)
    assert no_bg[2].tolist() == [2, 0, 0, 0]
    assert no_bg[4].tolist() == [0, 1, 1, 1]
    _, full = explore.pixel_histograms(x, y, bins=256)
    assert full[2, 7] == 1 and full[2, 0] == 2
    with pytest.raises(ValueError, match="divide 256"):
        explore.pixel_histograms(x, y, bins=3)


def test_sample_indices_seeded_distinct_sorted():
    a = explore.sample_indices(100, 10, seed=1)
    assert len(set(a.tolist())) == 10 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, explore.sample_indices(100, 10, seed=1))
    assert not np.array_equal(a, explore.sample_indices(100, 10, seed=2))
    np.testing.assert_array_equal(explore.sample_indices(5, 10), np.arange(5))


def test_pca_2d_known_axes():
    # Two pixels vary, uncorrelated by construction: pixel (0, 0) a lot, pixel (1, 1) less.
    n = 40
    x = np.zeros((n, 2, 2), dtype=np.uint8)
    x[:, 0, 0] = np.tile([255, 0], n // 2)
    x[:, 1, 1] = np.tile([102, 102, 0, 0], n // 4)
    y = np.arange(n) % 10
    p = explore.pca_2d(x, y, n=n)
    a = np.tile([0.5, -0.5], n // 2)  # pixel (0, 0) scaled to 0-1 and centred
    b = np.tile([0.2, 0.2, -0.2, -0.2], n // 4)
    np.testing.assert_allclose(p.coords[:, 0], a, atol=1e-9)  # sign fixed: largest loading positive
    np.testing.assert_allclose(p.coords[:, 1], b, atol=1e-9)
    np.testing.assert_allclose(p.explained_variance_ratio, [0.25 / 0.29, 0.04 / 0.29])


def test_pca_2d_sample_shape_and_determinism():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 3, 3), dtype=np.uint8)
    y = np.arange(60) % 10
    p = explore.pca_2d(x, y, n=40, seed=3)
    assert p.coords.shape == (40, 2) and p.indices.shape == (40,) and p.labels.shape == (40,)
    np.testing.assert_array_equal(p.labels, y[p.indices])
    q = explore.pca_2d(x, y, n=40, seed=3)
    np.testing.assert_array_equal(p.coords, q.coords)  # same seed, same picture (signs included)
    other = explore.pca_2d(x, y, n=40, seed=4)
    assert not np.array_equal(p.indices, other.indices)
    assert 0 < p.explained_variance_ratio.sum() < 1


def test_pca_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(80, 6, 6), dtype=np.uint8)
    p = explore.pca_2d(x, np.zeros(80, dtype=int), n=80)
    flat = x.reshape(80, -1) / 255.0
    ref = PCA(n_components=2, svd_solver="full").fit(flat)
    np.testing.assert_allclose(np.abs(p.coords), np.abs(ref.transform(flat)), atol=1e-9)
    np.testing.assert_allclose(p.explained_variance_ratio, ref.explained_variance_ratio_)


def test_select_grid_pages_filter_and_clamp():
    labels = np.array([0, 1, 2, 1, 1, 0, 1, 2, 1])
    g = explore.select_grid(labels, per_page=4)
    assert g.indices.tolist() == [0, 1, 2, 3] and g.n_pages == 3 and g.n_matching == 9
    assert explore.select_grid(labels, per_page=4, page=3).indices.tolist() == [8]
    ones = explore.select_grid(labels, classes=[1], per_page=2, page=2)
    assert ones.indices.tolist() == [4, 6]  # class 1 sits at 1, 3, 4, 6, 8
    assert (ones.n_matching, ones.n_pages) == (5, 3)
    both = explore.select_grid(labels, classes=[2, 0], per_page=10)
    assert both.indices.tolist() == [0, 2, 5, 7]
    clamped = explore.select_grid(labels, classes=[2], per_page=4, page=99)
    assert (clamped.page, clamped.indices.tolist()) == (1, [2, 7])
    none = explore.select_grid(labels, classes=[9])
    assert (none.n_matching, none.n_pages, none.indices.tolist()) == (0, 1, [])
    assert explore.select_grid(labels, classes=[]).n_matching == 9  # empty filter = all


def test_select_grid_shuffle_is_a_seeded_permutation_of_the_filter():
    labels = np.arange(50) % 5
    pages = [
        explore.select_grid(labels, classes=[3], per_page=4, page=k, shuffle=True, seed=7) for k in (1, 2, 3)
    ]
    seen = np.concatenate([g.indices for g in pages])
    assert sorted(seen.tolist()) == list(range(3, 50, 5))  # every class-3 image once, no other
    assert seen.tolist() != sorted(seen.tolist())  # actually shuffled
    again = explore.select_grid(labels, classes=[3], per_page=4, page=1, shuffle=True, seed=7)
    assert again.indices.tolist() == pages[0].indices.tolist()
    other = explore.select_grid(labels, classes=[3], per_page=4, page=1, shuffle=True, seed=8)
    assert other.indices.tolist() != pages[0].indices.tolist()


def test_upscale_nearest_neighbour():
    img = np.array([[[1, 2], [3, 4]]], dtype=np.uint8)
    big = explore.upscale(img, 2)
    assert big.shape == (1, 4, 4) and big.dtype == np.uint8
    np.testing.assert_array_equal(big[0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def test_image_stats():
    facts = explore.image_stats(np.array([[0, 0], [100, 200]], dtype=np.uint8))
    assert facts == {"min": 0, "max": 200, "mean": 75.0, "lit": 0.5}


def test_selected_indices_from_plotly_points():
    points = [
        {"customdata": [5], "x": 1.0},
        {"customdata": 7},
        {"customdata": [5]},  # duplicate
        {"customdata": [999]},  # not in this projection (stale selection)
        {"x": 2.0},  # no customdata
    ]
    assert explore.selected_indices(points, valid=np.array([5, 7, 9])) == [5, 7]
    assert explore.selected_indices([], valid=np.array([1])) == []
