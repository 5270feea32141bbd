"""fmnist_core.augment: sketch-like augmentation on tiny arrays, the seeded pipeline, and the config field."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from fmnist_core import augment
from fmnist_core.training import TrainConfig


def square_batch(n: int = 8) -> np.ndarray:
    """(n, 28, 28, 1): a filled, off-centre bright rectangle (not symmetric left-right)."""
    x = np.zeros((n, 28, 28, 1), np.float32)
    x[:, 6:22, 3:17] = 0.8
    return x


def run(kind: str, x: np.ndarray, seed=(1, 2), **params) -> np.ndarray:
    p = augment.SketchParams(**params) if params else None
    return augment.augment_batch(tf.constant(x), tf.constant(seed, tf.int64), kind=kind, params=p).numpy()


def test_flip_is_a_flip_or_the_image_itself():
    x = square_batch(32)
    out = run("flip", x)
    flipped = np.array([np.allclose(o, i[:, ::-1]) for o, i in zip(out, x, strict=True)])
    same = np.array([np.allclose(o, i) for o, i in zip(out, x, strict=True)])
    assert np.all(flipped | same)
    assert 4 <= flipped.sum() <= 28  # p = 0.5 over 32 images


def test_outline_has_no_interior_and_keeps_the_edges():
    x = square_batch(16)
    params = augment.SketchParams(stroke=(0.5, 2.0))  # strokes up to 2 px: the middle stays clear
    out = augment.outline(tf, tf.constant(x), tf.constant([3, 4], tf.int64), params).numpy()
    assert out.shape == x.shape
    interior = out[:, 11:17, 7:13, 0]  # well inside the rectangle (rows 6-21, cols 3-16)
    assert interior.max() == 0.0
    left_edge = out[:, 8:20, 3, 0]
    assert left_edge.min() > 0.2  # the outline is there
    assert np.allclose(out.max(axis=(1, 2, 3)), 1.0)  # peak scaled to 1, like the framing


def test_wide_strokes_reach_further_in():
    x = tf.constant(square_batch(8))
    seed = tf.constant([3, 4], tf.int64)
    thin = augment.outline(tf, x, seed, augment.SketchParams(stroke=(1.0, 1.0), outline_inner=0.0)).numpy()
    wide = augment.outline(tf, x, seed, augment.SketchParams(stroke=(4.5, 4.5), outline_inner=0.0)).numpy()
    # 3 px in from the left edge (column 3): ink only for the wide stroke (a thick brush, a small drawing)
    assert thin[:, 10:18, 6, 0].max() == 0.0
    assert wide[:, 10:18, 6, 0].min() > 0.3
    assert wide[:, 13, 9:11, 0].max() == 0.0  # and still hollow in the middle


def test_silhouette_is_binary_levels():
    x = square_batch(8)
    x[:, 10:12, 6:8] = 0.3  # a darker patch: binarised away or kept at the fill level
    out = augment.silhouette(
        tf, tf.constant(x), tf.constant([5, 6], tf.int64), augment.SketchParams()
    ).numpy()
    for img in out:
        levels = np.unique(np.round(img, 5))
        assert len(levels) <= 3  # background, fill level, rim


def test_fill_holes_fills_what_is_enclosed_and_nothing_open():
    ring = np.zeros((2, 28, 28, 1), np.float32)
    ring[0, 5:20, 5:20] = 1.0
    ring[0, 7:18, 7:18] = 0.0  # a closed square ring
    ring[1] = ring[0]
    ring[1, 17:20, 10:14] = 0.0  # the same ring with its bottom side cut open
    out = augment.fill_holes(tf, tf.constant(ring)).numpy()
    assert out[0, 7:18, 7:18].min() == 1.0  # the enclosed square is filled
    assert out[1, 10:15, 10:14].max() == 0.0  # an open U stays hollow
    assert out[:, :5].max() == 0.0 and out[:, 21:].max() == 0.0  # nothing outside grows


def dark_garment(n: int = 8) -> np.ndarray:
    """(n, 28, 28, 1): a dark body (0.12) with a bright print (1.0) in its middle."""
    x = np.zeros((n, 28, 28, 1), np.float32)
    x[:, 3:25, 6:22] = 0.12
    x[:, 10:14, 11:17] = 1.0
    return x


def test_solid_silhouettes_keep_a_dark_garment_whole():
    x, seed = tf.constant(dark_garment()), tf.constant([5, 6], tf.int64)
    whole = augment.silhouette(
        tf, x, seed, augment.SketchParams(solid=1.0, rim=0.0, inner=0.0, hatch=0.0)
    ).numpy()
    by_peak = augment.silhouette(
        tf, x, seed, augment.SketchParams(solid=0.0, rim=0.0, inner=0.0, hatch=0.0, threshold=(0.3, 0.45))
    ).numpy()
    assert (whole[:, 3:25, 6:22] > 0).all()  # the whole body, print and all
    assert (whole[:, :3] == 0).all() and (whole[:, :, :6] == 0).all()
    assert (by_peak[:, 3:25, 6:22] > 0).mean() < 0.1  # a threshold of the peak keeps only the print


def test_whole_shapes_keep_real_gaps_open_unless_asked_to_fill_holes():
    x = np.zeros((8, 28, 28, 1), np.float32)
    x[:, 6:22, 4:24] = 0.8
    x[:, 10:18, 10:18] = 0.0  # a real gap (a bag's handle, between a sandal's straps), enclosed
    x, seed = tf.constant(x), tf.constant([5, 6], tf.int64)
    kept = augment.item_mask(tf, x, seed, augment.SketchParams(solid=1.0, fill_holes=0.0), 7).numpy()
    filled = augment.item_mask(tf, x, seed, augment.SketchParams(solid=1.0, fill_holes=1.0), 7).numpy()
    assert kept[:, 11:17, 11:17].max() == 0.0 and kept[:, 7:21, 5].min() == 1.0
    assert filled[:, 6:22, 4:24].min() == 1.0


def test_hatched_silhouettes_have_strokes_inside_a_rim():
    x = square_batch(8)
    out = augment.silhouette(
        tf, tf.constant(x), tf.constant([7, 8], tf.int64), augment.SketchParams(hatch=1.0, inner=0.0)
    ).numpy()
    inside = out[:, 10:18, 7:13, 0]
    for img in inside:
        assert (img == 0).mean() > 0.15 and (img == 1).mean() > 0.15  # strokes and gaps
    assert out[:, 6:22, 3, 0].min() == 1.0  # the rim (the left edge) is inked


def test_outlines_can_show_inner_lines():
    x = square_batch(8)
    x[:, 9:19, 9:11] = 0.05  # a dark slot in the middle (a coat's opening), inside the shape
    seed = tf.constant([3, 4], tf.int64)
    bare = augment.outline(
        tf, tf.constant(x), seed, augment.SketchParams(solid=1.0, outline_inner=0.0, stroke=(0.5, 2.0))
    ).numpy()
    lined = augment.outline(
        tf, tf.constant(x), seed, augment.SketchParams(solid=1.0, outline_inner=1.0, stroke=(0.5, 2.0))
    ).numpy()
    assert bare[:, 10:18, 7:13].max() == 0.0  # a bare outline: no interior
    assert (lined[:, 10:18, 7:13, 0].max(axis=(1, 2)) == 1.0).all()  # the opening is drawn


STILL = {"rotation": 0.0, "shift": 0.0, "aspect": 0.0, "scale": (1.0, 1.0), "flip": 0.0}


def test_warp_bends_shapes_smoothly_and_only_when_asked():
    x = tf.constant(square_batch(16))
    seed = tf.constant([5, 6], tf.int64)
    same = augment.warp(tf, x, seed, augment.SketchParams(warp=0.0)).numpy()
    np.testing.assert_allclose(same, x.numpy(), atol=1e-6)  # a zero field reads every pixel in place
    bent = augment.warp(tf, x, seed, augment.SketchParams(warp=1.0, warp_px=1.0)).numpy()
    assert bent.shape == x.shape and bent.min() >= 0.0 and bent.max() <= 0.8 + 1e-6
    changed = np.abs(bent - x.numpy()).max(axis=(1, 2, 3)) > 0.05
    assert changed.all()  # every image is bent...
    area = (bent > 0.4).sum(axis=(1, 2, 3)) / (x.numpy() > 0.4).sum(axis=(1, 2, 3))
    assert np.all((area > 0.75) & (area < 1.3))  # ...but stays the same shape, more or less
    assert np.all(bent[:, 11:17, 7:13] > 0.7)  # the middle of the rectangle is still filled
    again = augment.warp(tf, x, seed, augment.SketchParams(warp=1.0, warp_px=1.0)).numpy()
    np.testing.assert_array_equal(bent, again)


def test_smoothing_rounds_off_notches_and_spikes_but_keeps_the_shape():
    m = np.zeros((8, 28, 28, 1), np.float32)
    m[:, 6:22, 6:20] = 1.0
    m[:, 13, 20:25] = 1.0  # a one-pixel spike out of the right side
    m[:, 6:10, 12] = 0.0  # a one-pixel notch into the top
    out = augment.smooth_mask(
        tf, tf.constant(m), tf.constant([1, 1], tf.int64), augment.SketchParams(smooth=1.0)
    )
    out = out.numpy()
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert out[:, 13, 22:25].max() == 0.0  # the spike is gone
    assert out[:, 7:10, 12].min() == 1.0  # the notch is closed (below the top edge row)
    assert np.all(out[:, 9:19, 9:17] == 1.0)  # the body is kept
    area = out.sum(axis=(1, 2, 3)) / m.sum(axis=(1, 2, 3))
    assert np.all((area > 0.85) & (area < 1.1))
    kept = augment.smooth_mask(
        tf, tf.constant(m), tf.constant([1, 1], tf.int64), augment.SketchParams(smooth=0.0)
    ).numpy()
    np.testing.assert_array_equal(kept, m)  # smooth = 0: unchanged


def test_grown_shapes_fatten_thin_parts_and_stay_in_the_frame():
    x = np.zeros((32, 28, 28, 1), np.float32)
    x[:, 2:26, 13] = 1.0  # a one-pixel strap, top to bottom
    x[:, 2:6, 8:20] = 1.0  # with a bar across its top
    common = {**STILL, "plain": 0.0, "outline": 0.0, "rim": 0.0, "hatch": 0.0, "inner": 0.0, "solid": 0.0}
    common.update(warp=0.0, smooth=0.0)  # (a smoothed one-pixel strap is gone: see the smoothing test)
    thin = run("sketch", x, **common, dilate=0.0)
    fat = run("sketch", x, **common, dilate=1.0, dilate_px=2)
    strap = lambda out: (out[:, 16, :, 0] > 0.3).sum(axis=1)  # noqa: E731 - ink across the strap, row 16
    assert strap(thin).max() <= 2
    assert strap(fat).min() >= 3  # grown by 1 or 2 px each side, then re-framed (x 28/30 or 28/32)
    assert fat[:, 0, :, 0].max() == 0.0 and fat[:, -1, :, 0].max() == 0.0  # re-framed: nothing cut off


@pytest.mark.parametrize("kind", ["flip", "sketch"])
def test_values_stay_in_unit_range_and_shape_is_kept(kind):
    rng = np.random.default_rng(0)
    x = rng.random((16, 28, 28, 1)).astype(np.float32)
    out = run(kind, x)
    assert out.shape == x.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.isfinite(out).all()


def test_sketch_mixes_plain_silhouettes_and_outlines():
    x = square_batch(64)
    out = run("sketch", x, rotation=0.0, shift=0.0, aspect=0.0, scale=(1.0, 1.0))
    mirrored = out[:, 13, 24, 0] > 0  # the rectangle spans columns 3-16, mirrored 11-24
    interior = np.where(
        mirrored, out[:, 11:17, 15:20, 0].max(axis=(1, 2)), out[:, 11:17, 8:13, 0].max(axis=(1, 2))
    )
    hollow = interior == 0
    assert hollow.sum() >= 5  # outlines
    assert (~hollow).sum() >= 5  # filled: plain or silhouettes
    assert 5 <= mirrored.sum() <= 59


def test_same_seed_same_batches_new_epoch_new_batches():
    rng = np.random.default_rng(1)
    x = rng.random((100, 784)).astype(np.float32)
    y = (np.arange(100) % 10).astype(np.int32)

    def epochs(ds, n=2):
        return [[(xb.numpy(), yb.numpy()) for xb, yb in ds] for _ in range(n)]

    a = epochs(augment.training_dataset(x, y, augment="sketch", batch_size=32, seed=7))
    b = epochs(augment.training_dataset(x, y, augment="sketch", batch_size=32, seed=7))
    c = epochs(augment.training_dataset(x, y, augment="sketch", batch_size=32, seed=8), 1)
    assert len(a[0]) == 4 and a[0][0][0].shape == (32, 784)
    for ea, eb in zip(a, b, strict=True):
        for (xa, ya), (xb, yb) in zip(ea, eb, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][0][0], a[1][0][0])  # the second epoch reshuffles and re-augments
    assert not np.array_equal(a[0][0][0], c[0][0][0])
    # Every label is seen once per epoch.
    assert sorted(np.concatenate([yb for _, yb in a[0]]).tolist()) == sorted(y.tolist())


def test_image_shaped_inputs_keep_their_shape():
    x = np.zeros((10, 28, 28, 1), np.float32)
    ds = augment.training_dataset(x, np.zeros(10, np.int32), augment="flip", batch_size=4, seed=0)
    shapes = [xb.shape for xb, _ in ds]
    assert shapes == [(4, 28, 28, 1), (4, 28, 28, 1), (2, 28, 28, 1)]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"flip": 1.5}, "flip must be a probability"),
        ({"stroke": (0.1, 9.0)}, "stroke must be a range"),
        ({"plain": 0.8, "outline": 0.5}, "at most 1"),
        ({"rotation": 90.0}, "rotation must be from 0 to 45"),
        ({"scale": (1.2, 0.9)}, "scale must be a range"),
        ({"solid": 1.5}, "solid must be a probability"),
        ({"hatch": -0.1}, "hatch must be a probability"),
        ({"fill_holes": 1.2}, "fill_holes must be a probability"),
        ({"rim_width": (0, 3)}, "rim_width must be a range"),
        ({"stroke": (0.5, 7.0)}, "stroke must be a range"),
        ({"outline_inner": 2.0}, "outline_inner must be a probability"),
        ({"warp": 1.5}, "warp must be a probability"),
        ({"warp_px": 5.0}, "warp_px must be from 0 to 4"),
        ({"smooth": -0.2}, "smooth must be a probability"),
        ({"dilate": 2.0}, "dilate must be a probability"),
        ({"dilate_px": 4}, "dilate_px must be 1, 2 or 3"),
        ({"drawings": 0.8}, "drawings must be a share from 0 to 0.5"),
    ],
)
def test_out_of_range_parameters_are_refused_with_a_message(params, message):
    with pytest.raises(ValueError, match=message):
        augment.SketchParams(**params)


def test_config_field_validated_and_part_of_the_key_only_when_set():
    plain = TrainConfig()
    assert "augment" not in json.loads(plain.to_json())  # keys of earlier runs are unchanged
    sketchy = TrainConfig(augment="sketch")
    assert json.loads(sketchy.to_json())["augment"] == "sketch"
    assert len({plain.key(), sketchy.key(), TrainConfig(augment="flip").key()}) == 3
    assert TrainConfig.from_dict(json.loads(sketchy.to_json())) == sketchy
    assert TrainConfig.from_dict(json.loads(plain.to_json())).augment is None
    with pytest.raises(ValueError, match="augmentation must be none, 'flip', 'flip_shift' or 'sketch'"):
        TrainConfig(augment="mixup")


def test_train_with_augmentation_runs_and_is_reproducible(tiny_data_dir):
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.models import PRESETS
    from fmnist_core.training import train

    data = load_fashion_mnist(tiny_data_dir)
    config = TrainConfig(
        model=PRESETS["cnn_fast"], epochs=1, batch_size=16, augment="sketch", val_fraction=0.2, seed=3
    )
    points: list[dict] = []
    a = train(config, data, on_metrics=points.append)
    b = train(config, data)
    plain = train(config.with_(augment=None), data, evaluate_test=False)
    assert plain.history["loss"] != a.history["loss"]  # the augmented pipeline really fed fit
    assert a.epochs_done == 1 and np.isfinite(a.history["loss"][0])
    assert a.history["loss"] == b.history["loss"]  # same seed, same augmented batches
    assert any(p["kind"] == "epoch" for p in points)


def test_cli_accepts_augment(monkeypatch):
    from fmnist_core import __main__ as cli

    seen = {}
    monkeypatch.setattr(cli, "cmd_train", lambda args: seen.setdefault("augment", args.augment) and 0)
    cli.main(["train", "--augment", "sketch", "--epochs", "1"])
    assert seen["augment"] == "sketch"
    with pytest.raises(SystemExit):
        cli.main(["train", "--augment", "mixup"])


def test_sketch_training_images_are_followed_by_procedural_drawings_of_every_class():
    x = np.random.default_rng(0).random((400, 784), np.float32)
    y = np.arange(400, dtype=np.int32) % 10
    xs, ys = augment.with_drawings(x, y, "sketch")
    assert len(xs) == len(ys) == 450 == 400 + augment.drawings_added(400, "sketch")  # 12.5%
    assert xs.shape[1:] == (784,) and xs.dtype == np.float32 and ys.dtype == np.int32
    np.testing.assert_array_equal(xs[:400], x)  # the images come first, untouched
    assert np.bincount(ys[400:], minlength=10).tolist() == [5] * 10
    assert 0.0 <= xs[400:].min() and xs[400:].max() <= 1.0 and np.all(xs[400:].max(axis=1) > 0.5)
    for kind in (None, "flip", "flip_shift"):  # other kinds add nothing
        assert augment.with_drawings(x, y, kind)[0] is x and augment.drawings_added(400, kind) == 0
    none = augment.SketchParams(drawings=0.0)
    assert augment.with_drawings(x, y, "sketch", none)[0] is x


def test_a_sketch_run_trains_on_its_drawings_and_its_progress_counts_them(tiny_data_dir):
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.progress import n_train_images, steps_per_epoch
    from fmnist_core.training import prepare_data

    data = load_fashion_mnist(tiny_data_dir)
    config = TrainConfig(batch_size=16, val_fraction=0.2, augment="sketch")
    plain = prepare_data(config.with_(augment=None), data)
    sketchy = prepare_data(config, data)
    n = len(plain.x_train)
    assert len(sketchy.x_train) == n + round(0.125 * n) and len(sketchy.y_val) == len(plain.y_val)
    n_total = len(data.x_train)
    assert n_train_images(config.to_dict(), n_total=n_total) == len(sketchy.x_train)
    assert steps_per_epoch(config.to_dict(), n_total=n_total) == -(-len(sketchy.x_train) // 16)
