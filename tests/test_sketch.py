"""fmnist_core.sketch: canvas/upload -> 28x28 framing, uploads' safety, model adapters, explanations."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fmnist_core import sketch
from fmnist_core.sketch import (
    BadImageError,
    EmptyCanvasError,
    UnsupportedModelError,
    classify_canvas,
    load_upload,
    preprocess_canvas,
    preprocess_image,
)

CANVAS = 280


# ---------------------------------------------------------------------------------------------
# Helpers: canvases as streamlit-drawable-canvas delivers them


def blank(background: str = "transparent", side: int = CANVAS) -> np.ndarray:
    """(side, side, 4) uint8: 'transparent' (0,0,0,0), 'black' or 'white' (opaque)."""
    rgba = np.zeros((side, side, 4), np.uint8)
    if background == "black":
        rgba[..., 3] = 255
    elif background == "white":
        rgba[...] = 255
    return rgba


def paint(rgba: np.ndarray, rows: slice, cols: slice, background: str = "transparent", level: int = 255):
    """Ink a region: light ink (level) on transparent/black, dark ink on white."""
    if background == "white":
        rgba[rows, cols, :3] = 255 - level
    else:
        rgba[rows, cols, :3] = level
    rgba[rows, cols, 3] = 255
    return rgba


def from_intensity(inten: np.ndarray, background: str = "transparent") -> np.ndarray:
    """Canvas showing an (H, W) uint8 intensity: white ink with alpha = intensity, or grey on black."""
    rgba = np.zeros((*inten.shape, 4), np.uint8)
    if background == "transparent":
        rgba[..., :3] = 255
        rgba[..., 3] = inten
    else:
        rgba[..., :3] = inten[..., None]
        rgba[..., 3] = 255
    return rgba


def expected(rows: slice, cols: slice) -> np.ndarray:
    out = np.zeros((28, 28), np.float32)
    out[rows, cols] = 1.0
    return out


def png_bytes(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height 1-bit pixels (a decompression-bomb header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------------------------
# Framing against hand-built expected outputs


def test_centred_square_fills_the_frame():
    rgba = paint(blank(), slice(70, 210), slice(70, 210))
    out = preprocess_canvas(rgba)
    assert out.shape == (28, 28) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.ones((28, 28)), atol=1e-6)


def test_off_centre_rectangle_comes_out_centred():
    # 100 wide x 50 tall -> 28 x 14, rows ceil((28 - 14) / 2) = 7 .. 20
    off = preprocess_canvas(paint(blank(), slice(10, 60), slice(20, 120)))
    centred = preprocess_canvas(paint(blank(), slice(115, 165), slice(90, 190)))
    np.testing.assert_allclose(off, expected(slice(7, 21), slice(0, 28)), atol=1e-6)
    np.testing.assert_allclose(off, centred, atol=1e-6)


def test_wide_shape_width_28_height_scaled_by_same_factor_and_centred():
    # 200 x 60: factor 28/200 -> height 8.4 -> 8 rows, starting at ceil(20 / 2) = 10
    out = preprocess_canvas(paint(blank(), slice(30, 90), slice(40, 240)))
    np.testing.assert_allclose(out, expected(slice(10, 18), slice(0, 28)), atol=1e-6)


def test_tall_shape_height_28_width_scaled_and_centred():
    # 50 x 250: factor 28/250 -> width 5.6 -> 6 columns, odd pad 22 -> starting at 11
    out = preprocess_canvas(paint(blank(), slice(15, 265), slice(200, 250)))
    np.testing.assert_allclose(out, expected(slice(0, 28), slice(11, 17)), atol=1e-6)


def test_odd_short_side_gets_the_extra_pad_pixel_first_like_the_dataset():
    # 5 px wide x 28 px tall after scaling (50 x 280 on a 280 canvas): pad 23 -> 12 before, 11 after
    out = preprocess_canvas(paint(blank(), slice(0, 280), slice(100, 150)))
    np.testing.assert_allclose(out, expected(slice(0, 28), slice(12, 17)), atol=1e-6)


def test_textured_shape_is_area_averaged_exactly():
    rng = np.random.default_rng(0)
    pattern = rng.integers(40, 256, size=(14, 28)).astype(np.uint8)  # 28 wide x 14 tall
    pattern[:, 0] = pattern[:, -1] = 255  # bbox edges are ink on every row
    inten = np.zeros((CANVAS, CANVAS), np.uint8)
    inten[100:170, 60:200] = np.kron(pattern, np.ones((5, 5), np.uint8))  # x5: integer factor
    want = np.zeros((28, 28), np.float32)
    want[7:21] = pattern / 255.0
    for background in ("transparent", "black"):
        out = preprocess_canvas(from_intensity(inten, background))
        np.testing.assert_allclose(out, want / want.max(), atol=1e-5)


def test_backgrounds_transparent_black_and_white_give_the_same_result():
    outs = []
    for background in ("transparent", "black", "white"):
        rgba = paint(blank(background), slice(40, 240), slice(90, 180), background)
        rgba = paint(rgba, slice(40, 80), slice(60, 220), background)  # a T-shirt-ish T
        outs.append(preprocess_canvas(rgba, background="auto"))
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-6)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-6)
    assert outs[0].max() == pytest.approx(1.0)


def test_dark_ink_on_transparent_background_is_seen():
    rgba = blank()
    rgba[50:230, 50:230, 3] = 255  # black ink (RGB 0), opaque, on transparent
    np.testing.assert_allclose(preprocess_canvas(rgba, background="auto"), np.ones((28, 28)), atol=1e-6)


def test_rgb_and_canvas_sizes_other_than_280():
    rgb = np.zeros((400, 600, 3), np.uint8)
    rgb[100:300, 100:500] = 255  # 400 x 200 -> 28 x 14
    np.testing.assert_allclose(preprocess_canvas(rgb), expected(slice(7, 21), slice(0, 28)), atol=1e-6)


@pytest.mark.parametrize("background", ["transparent", "black", "white"])
def test_empty_canvas_raises_in_preprocess_and_classify(background, mlp_flat):
    rgba = blank(background)
    with pytest.raises(EmptyCanvasError, match="empty"):
        preprocess_canvas(rgba, background="auto")
    with pytest.raises(EmptyCanvasError):
        classify_canvas(mlp_flat, rgba)  # the page's black canvas: white all over is painted over
    if background != "white":
        with pytest.raises(EmptyCanvasError, match="empty"):
            preprocess_canvas(rgba)


def test_faint_specks_count_as_empty():
    rgba = blank()
    rgba[100:200, 100:200, :3] = 255
    rgba[100:200, 100:200, 3] = 10  # alpha 4%: anti-aliasing residue, not a drawing
    with pytest.raises(EmptyCanvasError):
        preprocess_canvas(rgba)


@pytest.mark.parametrize("size", [1, 3, 15])
def test_single_dot_raises_too_small(size, mlp_flat):
    rgba = paint(blank(), slice(130, 130 + size), slice(60, 60 + size))
    with pytest.raises(EmptyCanvasError, match="too small"):
        preprocess_canvas(rgba)
    with pytest.raises(EmptyCanvasError):
        classify_canvas(mlp_flat, rgba)
    assert issubclass(EmptyCanvasError, ValueError)


def test_bad_canvas_array_is_a_value_error():
    with pytest.raises(ValueError):
        preprocess_canvas(np.zeros((280, 280, 5), np.uint8))


def outline(background: str = "transparent", *, closed: bool = True) -> np.ndarray:
    rgba = blank(background)
    t = 8
    for rows, cols in (
        (slice(40, 40 + t), slice(70, 210)),  # top
        (slice(240 - t, 240), slice(70, 210)),  # bottom
        (slice(40, 240), slice(70, 70 + t)),  # left
        (slice(40, 240), slice(210 - t, 210)),  # right
    ):
        paint(rgba, rows, cols, background)
    if not closed:
        rgba[40 : 40 + t, 100:180] = blank(background)[40 : 40 + t, 100:180]  # an 80 px gap on top
    return rgba


def test_fill_turns_a_closed_outline_into_a_silhouette():
    plain = preprocess_canvas(outline(), fill=False)
    filled = preprocess_canvas(outline(), fill=True)
    # 140 x 200 -> 20 x 28 at columns 4..23; interior (rows ~2..25, cols ~6..21)
    interior = (slice(3, 25), slice(6, 22))
    assert plain[interior].max() < 0.05
    np.testing.assert_allclose(filled[interior], sketch.FILL_LEVEL, atol=1e-5)
    np.testing.assert_allclose(filled[:, 4], 1.0, atol=1e-5)  # the outline itself is unchanged
    assert filled[:, :4].max() == 0 and filled[:, 24:].max() == 0  # outside stays background


def test_fill_closes_a_small_gap_but_not_an_open_shape():
    rgba = outline()
    rgba[120:124, 70:78] = 0  # a 4 px break in the left side, as a quick hand would leave
    assert preprocess_canvas(rgba, fill=True)[12, 12] == pytest.approx(sketch.FILL_LEVEL, abs=1e-5)
    open_shape = preprocess_canvas(outline(closed=False), fill=True)
    assert open_shape[12, 12] < 0.05  # a U is not a silhouette: nothing to fill


# ---------------------------------------------------------------------------------------------
# Models: adapters, probabilities, validation


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.fixture(scope="module")
def mlp_flat(keras):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def cnn(keras):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def logits_2d(keras):
    """(None, 28, 28) input and no softmax: outputs are logits."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])


@pytest.mark.parametrize("name", ["mlp_flat", "cnn", "logits_2d"])
def test_classify_canvas_any_input_shape_gives_probabilities(name, request):
    model = request.getfixturevalue(name)
    sketch.validate_classifier(model)
    p = classify_canvas(model, outline(), fill=True)
    assert p.shape == (10,) and p.dtype == np.float32
    assert p.sum() == pytest.approx(1.0, abs=1e-5) and p.min() >= 0


def test_predict_probs_matches_model_and_applies_softmax_to_logits(mlp_flat, logits_2d):
    x = np.random.default_rng(1).random((3, 28, 28), dtype=np.float32)
    p = sketch.predict_probs(mlp_flat, x)
    np.testing.assert_allclose(p, np.asarray(mlp_flat(x.reshape(3, 784))), atol=1e-6)
    z = np.asarray(logits_2d(x))
    assert not np.allclose(z.sum(axis=1), 1.0)  # really logits
    q = sketch.predict_probs(logits_2d, x)
    np.testing.assert_allclose(q, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), atol=1e-5)
    assert sketch.predict_probs(mlp_flat, x[0]).shape == (1, 10)  # a single (28, 28) image


def test_predict_probs_does_not_use_model_predict(mlp_flat, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("model.predict costs ~50 ms per call; call the model directly")

    monkeypatch.setattr(mlp_flat, "predict", boom)
    assert classify_canvas(mlp_flat, outline()).shape == (10,)


def test_predict_probs_chunks_large_batches(cnn, monkeypatch):
    monkeypatch.setattr(sketch, "PREDICT_CHUNK", 4)
    x = np.random.default_rng(2).random((10, 28, 28), dtype=np.float32)
    p = sketch.predict_probs(cnn, x)
    assert p.shape == (10, 10)
    np.testing.assert_allclose(p, np.asarray(cnn(x[..., None])), atol=1e-6)


def test_validate_classifier_refuses_wrong_outputs_and_inputs(keras):
    five = keras.Sequential([keras.Input((784,)), keras.layers.Dense(5, activation="softmax")])
    big = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    rgb = keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(UnsupportedModelError, match="10 classes"):
        sketch.validate_classifier(five)
    for model in (big, rgb):
        with pytest.raises(UnsupportedModelError, match="28x28"):
            sketch.validate_classifier(model)
    with pytest.raises(UnsupportedModelError):
        classify_canvas(big, outline())
    assert issubclass(UnsupportedModelError, ValueError)


def test_validate_classifier_accepts_a_model_built_by_calling_it(keras):
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model(np.zeros((1, 28, 28), np.float32))  # built with a fixed batch of 1: still fine
    sketch.validate_classifier(model)
    assert classify_canvas(model, outline()).shape == (10,)


# ---------------------------------------------------------------------------------------------
# Nearest images, saliency, Grad-CAM


def test_similar_images_finds_the_image_itself_first():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(50, 28, 28)).astype(np.uint8)
    bank = sketch.make_bank(images)
    assert bank.shape == (50, 784) and bank.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1.0, atol=1e-5)
    idx = sketch.similar_images(images[17] / 255.0, bank, k=5)
    assert idx.shape == (5,) and idx[0] == 17 and len(set(idx.tolist())) == 5
    np.testing.assert_array_equal(idx, sketch.similar_images(images[17] / 255.0, images, k=5))
    assert len(sketch.similar_images(images[0] / 255.0, bank, k=500)) == 50


def test_similar_images_ranks_by_cosine():
    images = np.zeros((3, 28, 28), np.uint8)
    images[0, :, :14] = 255  # left half
    images[1, :, :20] = 255  # most of the left
    images[2, :, 14:] = 255  # right half
    q = np.zeros((28, 28), np.float32)
    q[:, :13] = 0.5
    np.testing.assert_array_equal(sketch.similar_images(q, sketch.make_bank(images), k=3), [0, 1, 2])


def test_saliency_map_shape_and_range(mlp_flat, cnn):
    x = preprocess_canvas(outline(), fill=True)
    for model in (mlp_flat, cnn):
        s = sketch.saliency_map(model, x)
        assert s.shape == (28, 28) and s.dtype == np.float32
        assert s.min() >= 0 and s.max() == pytest.approx(1.0)


def test_grad_cam_on_a_cnn_and_fallback_without_conv(mlp_flat, cnn):
    x = preprocess_canvas(outline(), fill=True)
    assert sketch.last_conv_layer(cnn) is not None and sketch.last_conv_layer(mlp_flat) is None
    cam = sketch.grad_cam(cnn, x)
    assert cam.shape == (28, 28) and cam.min() >= 0 and cam.max() <= 1.0
    np.testing.assert_allclose(sketch.grad_cam(mlp_flat, x), sketch.saliency_map(mlp_flat, x))


def test_importing_sketch_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, fmnist_core.sketch; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# Uploads: a clear error or a correct array, never anything else


def photo(size=(200, 300), *, bg=255, item=60) -> Image.Image:
    """An 'L' product photo: a dark 80 x 160 item on a light background (or the reverse)."""
    a = np.full(size[::-1], bg, np.uint8)
    a[70:230, 60:140] = item
    return Image.fromarray(a)


ITEM_EXPECTED = expected(slice(0, 28), slice(7, 21))  # 80 x 160 -> 14 x 28


def test_photo_on_white_is_inverted_and_framed():
    out = preprocess_image(load_upload(png_bytes(photo())))
    np.testing.assert_allclose(out, ITEM_EXPECTED, atol=1e-5)
    np.testing.assert_allclose(preprocess_image(photo(), invert=True), out)
    with pytest.raises(EmptyCanvasError):  # told not to invert: the dark item is background-dark
        preprocess_image(photo(), invert=False)


def test_light_item_on_dark_background_is_not_inverted():
    np.testing.assert_allclose(preprocess_image(photo(bg=0, item=200)), ITEM_EXPECTED, atol=1e-5)


def test_noisy_jpeg_photo_is_framed_on_the_item():
    rng = np.random.default_rng(4)
    a = np.asarray(photo(), dtype=np.float64) + rng.normal(0, 6, size=(300, 200))
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    out = preprocess_image(load_upload(png_bytes(img, "JPEG", quality=80)))
    cols = np.flatnonzero(out.max(axis=0) > 0.5)
    assert 6 <= cols[0] <= 8 and 20 <= cols[-1] <= 22
    assert out[:, :5].max() < 0.2 and out[:, 23:].max() < 0.2


def test_sixteen_bit_png_is_rescaled_not_clipped():
    a = np.zeros((300, 200), np.uint16)
    a[70:230, 60:100] = 30000  # left half of the item
    a[70:230, 100:140] = 65535
    img = load_upload(png_bytes(Image.fromarray(a)))
    assert img.mode == "I;16"
    out = preprocess_image(img)
    assert out[14, 9] == pytest.approx(30000 / 65535, abs=0.01)  # convert("L") would give 1.0
    assert out[14, 18] == pytest.approx(1.0, abs=1e-5)


def test_palette_image():
    img = photo().convert("P")
    assert load_upload(png_bytes(img)).mode == "P"
    np.testing.assert_allclose(preprocess_image(load_upload(png_bytes(img))), ITEM_EXPECTED, atol=1e-5)


def test_rgba_with_transparent_background_composites_over_white():
    a = np.zeros((300, 200, 4), np.uint8)  # fully transparent (and black underneath)
    a[70:230, 60:140] = (60, 60, 60, 255)  # a dark item: over black it would vanish
    out = preprocess_image(load_upload(png_bytes(Image.fromarray(a, "RGBA"))))
    np.testing.assert_allclose(out, ITEM_EXPECTED, atol=1e-5)
    a[70:230, 60:140] = (255, 255, 255, 255)  # a white drawing exported from a canvas
    out = preprocess_image(load_upload(png_bytes(Image.fromarray(a, "RGBA"))))
    np.testing.assert_allclose(out, ITEM_EXPECTED, atol=1e-5)


def test_animated_gif_uses_frame_zero():
    first = photo()
    second = Image.fromarray(np.full((300, 200), 255, np.uint8))
    second.paste(0, (0, 0, 200, 100))  # a different, wide item
    data = png_bytes(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    img = load_upload(data)
    assert getattr(img, "n_frames", 1) == 2
    img.seek(1)  # even if someone moved on, frame 0 is what counts
    np.testing.assert_allclose(preprocess_image(img), ITEM_EXPECTED, atol=1e-5)


def test_exif_rotated_jpeg_is_turned_upright():
    upright = photo()  # 200 wide x 300 tall, item tall
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a sideways camera stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    img = load_upload(png_bytes(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert img.size == (300, 200)
    out = preprocess_image(img)
    cols = np.flatnonzero(out.max(axis=0) > 0.5)
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    assert len(rows) >= 27 and 13 <= len(cols) <= 15  # tall again, not wide


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (np.random.default_rng(5).bytes(4000), "not an image"),
        (b"Hello, this is a text file.\n" * 20, "not an image"),
        (png_bytes(photo())[:300], "corrupt or truncated"),
        (png_bytes(photo(), "TIFF"), "not an image"),  # a real image, but not an allowed format
        (png_declaring(20000, 20000), "too large"),  # beyond PIL's hard bomb limit
        (png_declaring(10000, 10000), "too large"),  # PIL's bomb *warning* range
        (png_declaring(5000, 5000), "too large"),  # under PIL's limits, over ours
    ],
    ids=["empty", "random", "text", "truncated-png", "tiff", "bomb-400M", "bomb-100M", "over-limit-25M"],
)
def test_bad_uploads_raise_bad_image_error(data, match):
    with pytest.raises(BadImageError, match=match):
        load_upload(data)


def test_real_decompression_bomb_is_refused_before_decoding():
    data = png_bytes(Image.new("1", (5000, 5000)))  # 25 Mpx of nothing: a few KB
    assert len(data) < 20_000
    with pytest.raises(BadImageError, match="too large"):
        load_upload(data)
    assert load_upload(png_bytes(Image.new("L", (100, 100))), max_pixels=10_000).size == (100, 100)
    with pytest.raises(BadImageError, match="too large"):
        load_upload(png_bytes(Image.new("L", (101, 100))), max_pixels=10_000)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I", "F", "CMYK"])
def test_every_pil_mode_gives_the_same_array(mode):
    if mode == "I;16":
        img = Image.fromarray(np.asarray(photo(), np.uint16) * 257)
    else:  # no dithering: mode "1" should hold the same two-tone picture
        img = photo().convert(mode, dither=Image.Dither.NONE)
    out = preprocess_image(img)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_allclose(out, ITEM_EXPECTED, atol=0.02)


def test_blank_upload_is_empty():
    with pytest.raises(EmptyCanvasError, match="blank"):
        preprocess_image(Image.new("RGB", (64, 64), "white"))


# ---------------------------------------------------------------------------------------------
# Page defaults: automatic fill of closed outlines, bad input


def filled_box(rgba: np.ndarray | None = None) -> np.ndarray:
    rgba = blank() if rgba is None else rgba
    return paint(rgba, slice(40, 240), slice(70, 210))


def test_auto_fill_fills_a_closed_outline_and_says_so():
    assert sketch.looks_like_outline(sketch.canvas_intensity(outline())) is not None
    x28, filled, _ = sketch.canvas_input(outline())
    assert filled and x28[14, 14] == pytest.approx(sketch.FILL_LEVEL, abs=1e-5)
    np.testing.assert_array_equal(preprocess_canvas(outline()), preprocess_canvas(outline(), fill="auto"))


def test_auto_fill_leaves_filled_drawings_and_open_strokes_alone():
    x28, filled, _ = sketch.canvas_input(filled_box())
    assert not filled and x28[14, 14] == pytest.approx(1.0)
    bag = filled_box()
    bag[60:90, 120:160] = 0  # a handle-sized hole inside a filled shape stays a hole
    x28, filled, _ = sketch.canvas_input(bag)
    assert not filled and x28[4:7, 13:16].max() < 0.05
    assert sketch.canvas_input(outline(closed=False))[1] is False  # a U is not an outline to fill


def test_auto_fill_bridges_a_shaky_hand_gap():
    rgba = outline()
    rgba[120:136, 70:78] = 0  # a 16 px gap: too wide for fill=True's 3 px closing, fine for auto
    assert preprocess_canvas(rgba, fill=True)[12, 12] < 0.05
    x28, filled, _ = sketch.canvas_input(rgba)
    assert filled and x28[12, 12] > 0.5


def test_fill_argument_is_checked():
    with pytest.raises(ValueError, match="fill must be"):
        preprocess_canvas(outline(), fill="sometimes")


@pytest.mark.parametrize("background", ["transparent", "black"])
def test_a_painted_over_canvas_is_refused_with_its_own_message(background):
    rgba = paint(blank(background), slice(0, CANVAS), slice(0, CANVAS))
    with pytest.raises(sketch.FullCanvasError, match="whole canvas is painted"):
        preprocess_canvas(rgba)
    assert isinstance(sketch.FullCanvasError("x"), sketch.EmptyCanvasError)  # pages catching that still work


def strokes(lines: list[list[tuple[float, float]]], width: int = 12, background: str = "transparent"):
    """Brush strokes through the given points (canvas px), as the canvas draws them."""
    from PIL import ImageDraw

    img = Image.fromarray(blank(background))
    draw = ImageDraw.Draw(img)
    for pts in lines:
        draw.line(pts, fill=(255, 255, 255, 255), width=width, joint="curve")
    return np.asarray(img).copy()


@pytest.mark.parametrize("background", ["transparent", "black"])
def test_a_scribble_over_the_whole_canvas_is_answered_with_a_note(background):
    """Framed, a scribble across the whole canvas is a grey square, which a model calls a bag with
    confidence: the page says so beside the answer. It is not refused: a garment drawn big, up to the
    edges, can look just the same (see the next test)."""
    zigzag = [(4 if i % 2 else 276, 4 + 27 * i) for i in range(11)]  # back and forth, top to bottom
    hatch = [p for k in range(7) for p in ((4 + 45 * k, 4), (4, 4 + 45 * k), (276 - 45 * k, 276))]
    for rgba in (strokes([zigzag], background=background), strokes([hatch], width=9, background=background)):
        given = sketch.canvas_input(rgba)
        assert given.edge_to_edge is True
        np.testing.assert_array_equal(given.x28, preprocess_canvas(rgba))  # an input all the same
        assert given.x28.max() == pytest.approx(1.0)
    assert "scribble" in sketch.SCRIBBLE_NOTE and "answer" in sketch.SCRIBBLE_NOTE


def test_garments_drawn_big_up_to_every_edge_get_answers():
    """The set's drawings redrawn to span the canvas (3% margins; about a quarter of them spread like a
    scribble) are all answered: a refusal there would lose a real drawing."""
    from bench.sketch_set import SETS, load_sketches, render

    spread = 0
    for path in SETS.values():
        for sk in load_sketches(path)[::3]:
            pts = np.concatenate([np.asarray(st["points"], float) for st in sk.strokes])
            lo, span = pts.min(axis=0), np.maximum(np.ptp(pts, axis=0), 1.0)
            big = [
                {**st, "points": ((np.asarray(st["points"], float) - lo) / span * 263.2 + 8.4).tolist()}
                for st in sk.strokes
            ]
            given = sketch.canvas_input(render(big))
            assert given.x28.shape == (28, 28) and given.x28.max() == pytest.approx(1.0)
            spread += given.edge_to_edge
    assert spread >= 5  # these drawings do look like scribbles to the rules: answered, with the note


def test_big_drawings_touching_every_edge_are_not_taken_for_scribbles():
    frame = strokes([[(6, 6), (274, 6), (274, 274), (6, 274), (6, 6)]])  # a closed outline: filled
    assert sketch.canvas_input(frame)[1] is True
    assert sketch.canvas_input(frame).edge_to_edge is False
    diamond = blank()  # a solid shape edge to edge: one run of ink per row
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS]
    diamond[np.abs(yy - 139.5) + np.abs(xx - 139.5) <= 140] = 255
    assert preprocess_canvas(diamond).max() == pytest.approx(1.0)
    few = strokes([[(4, 4), (276, 276)], [(276, 4), (4, 276)], [(140, 4), (140, 276)]])  # a few lines
    assert preprocess_canvas(few).max() == pytest.approx(1.0)  # ink in too few places: a drawing
    knit = blank("black")  # a photo's texture painted in edge to edge (a striped pullover): greys
    level = (127 + 128 * np.sin(yy / 3.0)).clip(0, 255).astype(np.uint8)
    knit[..., :3] = level[..., None]
    assert sketch.scribbled_over(sketch.canvas_intensity(knit)) is False
    knit[..., :3] = np.where(level > 127, 255, 0)[..., None].astype(np.uint8)  # the same in full-ink strokes
    assert sketch.scribbled_over(sketch.canvas_intensity(knit)) is True


def test_a_drawing_touching_every_edge_and_a_one_pixel_line_get_answers(mlp_flat):
    cross = blank()
    paint(cross, slice(130, 150), slice(0, CANVAS))  # a thick plus sign touching all four edges
    paint(cross, slice(0, CANVAS), slice(130, 150))
    probs = classify_canvas(mlp_flat, cross)
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1.0, abs=1e-4)
    line = paint(blank(), slice(140, 141), slice(20, 260))
    x28 = preprocess_canvas(line)
    assert x28.max() == pytest.approx(1.0) and (x28 > 0).sum() >= 28  # a full-width line, not a dot
    assert classify_canvas(mlp_flat, line).shape == (10,)


def test_classify_canvas_defaults_are_the_pages(mlp_flat):
    rgba = outline()
    expected_probs = sketch.predict_probs(mlp_flat, sketch.canvas_input(rgba, fill="auto")[0][None])[0]
    np.testing.assert_allclose(classify_canvas(mlp_flat, rgba), expected_probs, atol=1e-6)
    assert not np.allclose(classify_canvas(mlp_flat, rgba, fill=False), expected_probs, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Honest answers


def test_judge_refuses_unsure_or_unlike_anything_and_accepts_the_rest():
    sure = np.array([0.9] + [0.1 / 9] * 9, np.float32)
    unsure = np.full(10, 0.1, np.float32)
    assert sketch.judge(sure, 0.9) == (True, "")
    ok, reason = sketch.judge(unsure, 0.9)
    assert not ok and "does not look like any garment" in reason and "10%" in reason
    ok, reason = sketch.judge(sure, sketch.MIN_SIMILARITY - 0.05)
    assert not ok and "far from every real image" in reason
    assert sketch.judge(sure, float("nan"))[0]  # no bank: confidence alone decides


@pytest.mark.parametrize("best", range(10))
def test_a_pullover_coat_or_shirt_answer_carries_the_lookalike_note(best):
    probs = np.full(10, 0.02, np.float32)
    probs[best] = 0.82
    x = np.zeros((28, 28), np.float32)
    called = sketch.Answer(x, probs, False, 0.9, np.zeros(0, np.int64), True, "")
    refused = sketch.Answer(x, probs, False, 0.5, np.zeros(0, np.int64), False, "far")
    expected = sketch.LOOKALIKE_NOTE if best in (2, 4, 6) else ""  # Pullover, Coat, Shirt
    assert sketch.lookalike_note(called) == expected
    assert sketch.lookalike_note(refused) == ""  # "not a garment I know" needs no note
    assert "coat" in sketch.LOOKALIKE_NOTE and "shirt" in sketch.LOOKALIKE_NOTE


def test_answer_for_reports_nearest_images_and_their_similarity(mlp_flat):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)
    bank = sketch.make_bank(images)
    x = images[7].astype(np.float32) / 255.0
    ans = sketch.answer_for(mlp_flat, x, bank, k=3)
    assert ans.nearest[0] == 7 and ans.similarity == pytest.approx(1.0, abs=1e-5)
    idx, sims = sketch.nearest(x, bank, k=3)
    assert list(idx) == list(ans.nearest) and sims[0] >= sims[1] >= sims[2]
    assert ans.probs.shape == (10,) and ans.best == int(np.argmax(ans.probs))


def test_package_layout_models_io_depends_on_infer_not_the_other_way():
    import ast
    from pathlib import Path

    root = Path(sketch.__file__).parent

    def imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    for part in ("preprocess", "infer", "similar", "explain"):
        assert "fmnist_core.models_io" not in imports(root / f"{part}.py")
    assert "fmnist_core.sketch.infer" in imports(root.parent / "models_io.py")


def test_auto_fill_does_not_close_the_gap_between_trouser_legs():
    """Two thick legs 25 px apart under a waistband: the gap is part of the garment, not a hole to
    bridge (bridging it turned trousers into a skirt for the lab MLP in Chromium)."""
    rgba = blank(side=336)
    for cols in (slice(110, 160), slice(185, 235)):
        paint(rgba, slice(30, 310), cols)
    paint(rgba, slice(30, 80), slice(110, 235))
    x28, filled, _ = sketch.canvas_input(rgba)
    assert not filled
    assert x28[24, 14] < 0.05  # between the legs, near the hem: still background
