"""Training-time augmentation that turns dataset images into what a canvas produces, on the fly.

`training_dataset(x, y, augment=..., ...)` feeds `model.fit` from a seeded `tf.data` pipeline: it
shuffles indices, gathers each batch from the prepared arrays (no second copy of the dataset in memory)
and transforms the batch in TensorFlow. Kinds (`TrainConfig.augment`):

* "flip"   – horizontal flips only (a garment is still that garment mirrored; shoes then face both ways);
* "sketch" – flips, and per image one of: the plain image (65%), a binarised silhouette at a random
  fill level (optionally with a bright rim 1-5 px wide, as `fill_outlines` leaves a filled outline; a
  quarter of them hatched inside the rim, as a brush fill; half with the item's strong inner lines), or
  an outline only, at the stroke widths of the Sketch page's brushes once scaled to 28 px (0.5-5 px: a
  thick brush on a small drawing frames wide), some with inner lines too. Most shapes are the whole item
  (pixels above a small fraction of its mean level, enclosed holes filled), as a person draws a garment
  whatever its colours; the rest are cut at a threshold of the peak. Half the shapes are rounded off
  (small steps and notches dropped) and 70% grown by 1-2 px all round and re-framed (a thick brush
  fattens thin parts), as hands draw. The silhouettes and outlines also get small affine jitter
  (rotation, scale, aspect, shift), half of them a smooth random bend too (freehand proportions).
  Before any of that, `with_drawings` adds procedural garment drawings (`fmnist_core.sketch.drawings`,
  12.5% of the training images' count, the same for every run): what people draw to tell a coat from a
  shirt or a pullover, which the photos do not show.

Same seed, same batches (stateless random ops seeded per batch from `tf.data.Dataset.random`, which
draws new numbers every epoch). Importing this module does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

# What each kind draws, by version: bumped whenever a kind draws other images. It is part of a run's key
# (TrainConfig.to_dict), so a stored model trained with an older version of "sketch" is not reused as the
# current one. "sketch" 2 (2026-11-26): whole-item shapes, hatched fills, inner lines, strokes to 5 px,
# 60% photos. "sketch" 3 (2026-11-26, fourth session): shapes rounded off, grown and bent, 65% photos.
# "sketch" 4 (fifth session): 12.5% of procedural garment drawings added (`with_drawings`).
# Kinds not listed are at their first version (their runs' keys are unchanged).
AUGMENT_VERSIONS: dict[str, int] = {"sketch": 4}

AUGMENTS: dict[str, str] = {
    "flip": "horizontal flips",
    "flip_shift": "horizontal flips and shifts of up to 1 pixel (a CNN recipe, cnn_best)",
    "sketch": "sketch-like: silhouettes, outlines, flips, small rotations/shifts and garment drawings",
}
SIDE = 28


def augment_problems(augment: Any) -> list[str]:
    """Plain-language reasons `augment` is not a known kind (empty when fine; None means no augmentation)."""
    if augment is None or (isinstance(augment, str) and augment in AUGMENTS):
        return []
    *rest, last = (repr(k) for k in AUGMENTS)
    return [f"augmentation must be none, {', '.join(rest)} or {last} (got {augment!r})"]


@dataclass(frozen=True)
class SketchParams:
    """How "sketch" augmentation draws its random choices. Out-of-range values raise ValueError."""

    flip: float = 0.5  # probability of a horizontal flip
    # Fraction of images left as photos (the rest: silhouettes and outlines). 65%: with the rounded, grown
    # and bent shapes below, 65% drew better than 60% on all three sketch sets and kept test accuracy within
    # 0.6-1.7 points of no augmentation (seeds 42, 1, 2; 60% cost 0.4-2.0). Version 2's 60% (vs 50%) had
    # drawn as well and kept more test accuracy.
    plain: float = 0.65
    outline: float = 0.14  # fraction turned into outlines (silhouettes get 1 - plain - outline)
    threshold: tuple[float, float] = (0.05, 0.45)  # binarisation threshold, of the image's peak
    fill_level: tuple[float, float] = (0.55, 1.0)  # silhouette interior level (the canvas' fill is 0.7)
    rim: float = 0.6  # probability that a silhouette keeps a bright rim (a filled outline)
    inner: float = 0.5  # probability that a silhouette shows the item's strong inner edges
    # Stroke width in 28-px pixels: a 4-48 px brush on a 336-px canvas, a drawing ~250 px across (a small
    # drawing in a thick brush frames to wider strokes: a 34 px brush on a 150-px drawing is ~6 px).
    stroke: tuple[float, float] = (0.5, 5.0)
    rim_width: tuple[int, int] = (1, 5)  # px: a silhouette's rim (a filled outline's stroke), whole pixels
    rotation: float = 8.0  # max degrees either way
    scale: tuple[float, float] = (0.85, 1.0)  # zoom (1 = the framing's full 28 px)
    aspect: float = 0.12  # max relative change of width vs height
    shift: float = 1.5  # max px either way
    # Probability that a silhouette or outline is cut from the item's whole shape (pixels above a fraction
    # of the item's mean level, the gaps it closes filled), as a person draws the garment whatever its
    # colours, rather than at a threshold of the peak (which breaks a dark garment with a bright print).
    solid: float = 0.7
    # Probability that such a whole-item shape also has the gaps it closes filled (a print's dark patch, but
    # also the gaps between a sandal's straps or inside a bag's handle).
    fill_holes: float = 1.0
    # Probability that a silhouette's interior is hatched (parallel strokes at a random angle, 2-5 px
    # apart, drawn at full ink) inside its rim, as people fill a shape with the brush.
    hatch: float = 0.25
    outline_inner: float = 0.4  # probability that an outline shows the item's strong inner edges too
    # Probability that a drawn image's shape is bent by a smooth random displacement field (freehand
    # proportions: longer sleeves, a fatter toe), and its size in px (the field's standard deviation).
    warp: float = 0.5
    warp_px: float = 0.8
    # Probability that the item's shape is rounded off (box-blurred once or twice and cut at half), as a
    # person's drawing drops a photo's small steps and notches.
    smooth: float = 0.5
    # Probability that the item's shape is grown by `dilate_px` px (1 or 2, at random) all round and the
    # image re-framed: a thick brush painting a shape up to its edge rounds it off and fattens thin parts.
    dilate: float = 0.7
    dilate_px: int = 2
    # Procedural garment drawings (`fmnist_core.sketch.drawings`) added to the training images, as a share of
    # them: what people draw to tell a coat from a shirt or a pullover, which the photos do not show. 0.125
    # (6,000 with the 48,000 images) moved all four sketch sets without costing test accuracy (README).
    drawings: float = 0.125

    def __post_init__(self) -> None:
        problems = params_problems(self)
        if problems:
            raise ValueError("; ".join(problems))


def params_problems(p: SketchParams) -> list[str]:
    out = []

    def rng(name: str, lo_hi: tuple[float, float], lo: float, hi: float) -> None:
        a, b = lo_hi
        if not (lo <= a <= b <= hi):
            out.append(f"{name} must be a range within [{lo:g}, {hi:g}] (got {a:g}-{b:g})")

    for name in (
        "flip",
        "plain",
        "outline",
        "rim",
        "inner",
        "solid",
        "fill_holes",
        "hatch",
        "outline_inner",
        "warp",
        "smooth",
        "dilate",
    ):
        v = getattr(p, name)
        if not 0.0 <= v <= 1.0:
            out.append(f"{name} must be a probability from 0 to 1 (got {v:g})")
    if p.plain + p.outline > 1.0 + 1e-9:
        out.append(f"plain + outline fractions must be at most 1 (got {p.plain + p.outline:g})")
    rng("threshold", p.threshold, 0.0, 0.95)
    rng("fill_level", p.fill_level, 0.1, 1.0)
    rng("stroke", p.stroke, 0.5, 6.0)
    rng("rim_width", p.rim_width, 1, 6)
    rng("scale", p.scale, 0.5, 1.5)
    if not 0.0 <= p.rotation <= 45.0:
        out.append(f"rotation must be from 0 to 45 degrees (got {p.rotation:g})")
    if not 0.0 <= p.aspect <= 0.5:
        out.append(f"aspect must be from 0 to 0.5 (got {p.aspect:g})")
    if not 0.0 <= p.shift <= 6.0:
        out.append(f"shift must be from 0 to 6 px (got {p.shift:g})")
    if p.dilate_px not in (1, 2, 3):
        out.append(f"dilate_px must be 1, 2 or 3 (got {p.dilate_px!r})")
    if not 0.0 <= p.drawings <= 0.5:
        out.append(f"drawings must be a share from 0 to 0.5 of the training images (got {p.drawings:g})")
    if not 0.0 <= p.warp_px <= 4.0:
        out.append(f"warp_px must be from 0 to 4 px (got {p.warp_px:g})")
    return out


# ------------------------------------------------------------------------------------ batch transforms
# All take and return (B, 28, 28, 1) float32 tensors in [0, 1]; `seed` is a stateless seed (2,) int.


def _uniform(tf, shape, seed, k: int, lo: float = 0.0, hi: float = 1.0):
    return tf.random.stateless_uniform(shape, seed=seed + tf.constant([0, k], tf.int64), minval=lo, maxval=hi)


def flip(tf, x, seed, p: float):
    """Mirror each image left-right with probability p."""
    b = tf.shape(x)[0]
    mask = _uniform(tf, [b, 1, 1, 1], seed, 1) < p
    return tf.where(mask, tf.reverse(x, axis=[2]), x)


def affine(tf, x, seed, params: SketchParams, zoom_by=None):
    """Rotation, zoom (times `zoom_by`, (B,), if given), aspect and shift about the image centre,
    bilinear, empty (0) outside."""
    b = tf.shape(x)[0]
    ang = _uniform(tf, [b], seed, 2, -params.rotation, params.rotation) * (np.pi / 180.0)
    zoom = _uniform(tf, [b], seed, 3, *params.scale)
    if zoom_by is not None:
        zoom = zoom * zoom_by
    asp = _uniform(tf, [b], seed, 4, -params.aspect, params.aspect)
    sx, sy = zoom * (1.0 + asp), zoom * (1.0 - asp)
    tx = _uniform(tf, [b], seed, 5, -params.shift, params.shift)
    ty = _uniform(tf, [b], seed, 6, -params.shift, params.shift)
    c = (SIDE - 1) / 2.0
    cos, sin = tf.cos(ang), tf.sin(ang)
    # The transform maps output pixel (x, y) to the input pixel it reads: the inverse of
    # "scale by (sx, sy), rotate, shift", about the centre.
    a0, a1 = cos / sx, sin / sx
    b0, b1 = -sin / sy, cos / sy
    a2 = c - a0 * (c + tx) - a1 * (c + ty)
    b2 = c - b0 * (c + tx) - b1 * (c + ty)
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=[SIDE, SIDE],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def warp(tf, x, seed, params: SketchParams):
    """Bend each image with probability `params.warp` by a smooth random displacement field: a 4x4 grid
    of displacements (normal, `warp_px` px), upsampled bicubic to 28x28, read bilinear, empty (0) outside."""
    b = tf.shape(x)[0]
    grid = (
        tf.random.stateless_normal([b, 4, 4, 2], seed=seed + tf.constant([0, 30], tf.int64)) * params.warp_px
    )
    on = tf.cast(_uniform(tf, [b, 1, 1, 1], seed, 31) < params.warp, tf.float32)
    flow = tf.image.resize(grid, [SIDE, SIDE], method="bicubic") * on  # (B, 28, 28, 2)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    sx, sy = tf.constant(xx)[None] + flow[..., 0], tf.constant(yy)[None] + flow[..., 1]
    x0, y0 = tf.floor(sx), tf.floor(sy)
    fx, fy = sx - x0, sy - y0
    flat = tf.reshape(tf.pad(x[..., 0], [[0, 0], [1, 1], [1, 1]]), [b, (SIDE + 2) ** 2])

    def at(yi, xi):  # padded read: anything outside the frame is the zero border
        yi = tf.cast(tf.clip_by_value(yi, -1.0, float(SIDE)), tf.int32) + 1
        xi = tf.cast(tf.clip_by_value(xi, -1.0, float(SIDE)), tf.int32) + 1
        return tf.reshape(
            tf.gather(flat, tf.reshape(yi * (SIDE + 2) + xi, [b, -1]), batch_dims=1), [b, SIDE, SIDE]
        )

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return (top * (1 - fy) + bottom * fy)[..., None]


def smooth_mask(tf, mask, seed, params: SketchParams):
    """Round off each (B, 28, 28, 1) 0/1 mask with probability `params.smooth`: one or two 3x3 box blurs,
    cut at half."""
    b = tf.shape(mask)[0]
    once = tf.nn.avg_pool2d(mask, ksize=3, strides=1, padding="SAME")
    twice = tf.nn.avg_pool2d(once, ksize=3, strides=1, padding="SAME")
    blurred = tf.where(_uniform(tf, [b, 1, 1, 1], seed, 32) < 0.5, once, twice)
    rounded = tf.cast(blurred > 0.5, tf.float32)
    return tf.where(_uniform(tf, [b, 1, 1, 1], seed, 33) < params.smooth, rounded, mask)


SHIFT_PX = 1  # "flip_shift": whole-pixel shifts from -SHIFT_PX to SHIFT_PX, each axis, empty (0) edges


def shift(tf, x, seed, max_px: int = SHIFT_PX):
    """Move each image by whole pixels (up to max_px each way, each axis); what leaves the frame is lost."""
    b = tf.shape(x)[0]
    tx = tf.floor(_uniform(tf, [b], seed, 16, -max_px, max_px + 1))
    ty = tf.floor(_uniform(tf, [b], seed, 17, -max_px, max_px + 1))
    ones, zeros = tf.ones_like(tx), tf.zeros_like(tx)
    transforms = tf.stack([ones, zeros, -tx, zeros, ones, -ty, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=[SIDE, SIDE],
        fill_value=0.0,
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )


def _peak_normalise(tf, x):
    peak = tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
    return tf.math.divide_no_nan(x, peak)


def fill_holes(tf, mask):
    """(B, 28, 28, 1) 0/1 masks -> the same with the gaps they close filled: a pixel with ink on all four
    sides (left, right, above and below, in its row and column). That is every enclosed hole, and a few
    pockets a flood fill would leave open (one open only diagonally), at the cost of four cumulative
    sums instead of an iterated flood."""

    def seen(axis, reverse):
        return tf.math.cumsum(mask, axis=axis, reverse=reverse) > 0

    closed = seen(1, False) & seen(1, True) & seen(2, False) & seen(2, True)
    return tf.maximum(mask, tf.cast(closed, mask.dtype))


def _depth(tf, m, n: int):
    """How many 3x3 erosions (up to n) each pixel of (1, H, W, B) 0/1 masks survives: the pixels of the
    ring of width k inside the edge are those with depth < k."""
    depth, eroded = tf.zeros_like(m), m
    for _ in range(n):
        eroded = -tf.nn.max_pool2d(-eroded, ksize=3, strides=1, padding="SAME")
        depth += eroded
    return depth


def item_mask(tf, x, seed, params: SketchParams, k: int):
    """(B, 28, 28, 1) 0/1: the item's shape. With probability `params.solid`, the whole item (pixels
    above 2-25% of the item's mean level, gaps it closes filled: `fill_holes`); otherwise above a random fraction of the peak
    (`params.threshold`). `x` is peak-normalised; `k` keeps the random streams of callers apart."""
    b = tf.shape(x)[0]
    thr = _uniform(tf, [b, 1, 1, 1], seed, k, *params.threshold)
    by_peak = tf.cast(x > thr, tf.float32)
    if params.solid == 0.0:  # (parameters are fixed per pipeline: skip work whose result is never used)
        return by_peak
    lit = tf.cast(x > 0.02, tf.float32)
    mean = tf.math.divide_no_nan(
        tf.reduce_sum(x * lit, axis=[1, 2, 3], keepdims=True),
        tf.reduce_sum(lit, axis=[1, 2, 3], keepdims=True),
    )
    frac = _uniform(tf, [b, 1, 1, 1], seed, k + 100, 0.02, 0.25)
    whole = tf.cast(x > tf.maximum(frac * mean, 0.01), tf.float32)
    if params.fill_holes > 0.0:
        filled = _uniform(tf, [b, 1, 1, 1], seed, k + 300) < params.fill_holes
        whole = tf.where(filled, fill_holes(tf, whole), whole)
    use_whole = _uniform(tf, [b, 1, 1, 1], seed, k + 200) < params.solid
    return tf.where(use_whole, whole, by_peak)


def hatching(tf, b, seed):
    """(B, 28, 28, 1) 0/1 stripes: a random angle, period 2-5 px, about half of each period inked."""
    ang = _uniform(tf, [b, 1, 1, 1], seed, 20, 0.0, np.pi)
    period = _uniform(tf, [b, 1, 1, 1], seed, 21, 2.0, 5.0)
    phase = _uniform(tf, [b, 1, 1, 1], seed, 22)
    duty = _uniform(tf, [b, 1, 1, 1], seed, 23, 0.35, 0.65)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    t = (
        tf.constant(xx)[None, :, :, None] * tf.cos(ang) + tf.constant(yy)[None, :, :, None] * tf.sin(ang)
    ) / period
    return tf.cast(tf.math.floormod(t + phase, 1.0) < duty, tf.float32)


def silhouette(tf, x, seed, params: SketchParams, mask=None):
    """The item's shape (`mask`, or `item_mask`'s) filled at a random level, sometimes with a bright rim
    (`rim_width` px) or hatched inside it: what a filled drawing (or a filled outline: brush-wide stroke,
    interior at 0.7) looks like after framing."""
    b = tf.shape(x)[0]
    x = _peak_normalise(tf, x)
    mask = item_mask(tf, x, seed, params, 7) if mask is None else mask
    level = _uniform(tf, [b, 1, 1, 1], seed, 8, *params.fill_level)
    m = tf.transpose(mask, [3, 1, 2, 0])  # (1, 28, 28, B): pooling is vectorised over channels
    lo, hi = (int(v) for v in params.rim_width)
    width = tf.floor(_uniform(tf, [b], seed, 13, float(lo), hi + 1.0))  # whole px, lo..hi
    rim = tf.transpose(m * tf.cast(_depth(tf, m, hi) < width, tf.float32), [3, 1, 2, 0])
    with_rim = tf.cast(_uniform(tf, [b, 1, 1, 1], seed, 9) < params.rim, tf.float32)
    out = mask * level + with_rim * rim * (1.0 - level)
    # Sometimes a hatched interior instead of an even fill: full-ink strokes inside a full-ink rim.
    if params.hatch > 0.0:
        hatched = tf.maximum(rim, (mask - rim) * hatching(tf, b, seed))
        out = tf.where(_uniform(tf, [b, 1, 1, 1], seed, 24) < params.hatch, hatched, out)
    # Sometimes the item's inner lines too (a coat's opening, a collar, a sole), drawn at full
    # strength as people draw them: strong edges of the photo inside the silhouette.
    grad = tf.norm(tf.image.sobel_edges(x), axis=-1)  # (B, 28, 28, 1)
    edge_thr = _uniform(tf, [b, 1, 1, 1], seed, 14, 0.8, 1.6)
    inner = tf.cast(grad > edge_thr, tf.float32) * (mask - rim)
    with_inner = tf.cast(_uniform(tf, [b, 1, 1, 1], seed, 15) < params.inner, tf.float32)
    return tf.maximum(out, with_inner * inner)


def outline(tf, x, seed, params: SketchParams, mask=None):
    """The outline of the item's shape (`mask`, or `item_mask`'s) only (no interior), drawn at 2x
    resolution with a random stroke width and area-averaged back to 28 px, as the canvas framing does;
    peak scaled to 1; sometimes with the item's inner lines."""
    b = tf.shape(x)[0]
    x = _peak_normalise(tf, x)
    # The item's shape (item_mask) at 2x: upsampled bilinear and cut at half, so its edge is smooth.
    mask28 = item_mask(tf, x, seed, params, 10) if mask is None else mask
    mask = tf.cast(tf.image.resize(mask28, [2 * SIDE, 2 * SIDE], method="bilinear") > 0.5, tf.float32)
    # Stroke width w (28-px units) = w * 2 px at 2x: erosions by 1..2*max px, one chosen per image. A 3x3
    # erosion applied k times is the radius-k square erosion. The batch goes in the channel axis:
    # CPU pooling is vectorised over channels (one channel of 128 images is ~6x slower).
    widths = int(np.ceil(2 * params.stroke[1]))
    m = tf.transpose(mask, [3, 1, 2, 0])  # (1, 56, 56, B)
    w = tf.clip_by_value(tf.round(_uniform(tf, [b], seed, 11, *params.stroke) * 2.0), 1.0, widths)
    ring = tf.transpose(m * tf.cast(_depth(tf, m, widths) < w, tf.float32), [3, 1, 2, 0])  # (B, 56, 56, 1)
    small = _peak_normalise(tf, tf.nn.avg_pool2d(ring, ksize=2, strides=2, padding="VALID"))
    if params.outline_inner == 0.0:
        return small
    # Sometimes the inner lines too (a coat's opening, a collar, laces), as wide as a thin stroke.
    grad = tf.norm(tf.image.sobel_edges(x), axis=-1)
    edge_thr = _uniform(tf, [b, 1, 1, 1], seed, 25, 0.8, 1.6)
    inside = -tf.nn.max_pool2d(-mask28, ksize=3, strides=1, padding="SAME")
    inner = tf.cast(grad > edge_thr, tf.float32) * inside
    with_inner = tf.cast(_uniform(tf, [b, 1, 1, 1], seed, 26) < params.outline_inner, tf.float32)
    return tf.maximum(small, with_inner * inner)


def augment_batch(x: tf.Tensor, seed: tf.Tensor, *, kind: str, params: SketchParams | None = None):
    """(B, 28, 28, 1) float32 in [0, 1] -> the same shape, augmented as `kind` says, deterministic in
    `seed` (a (2,) int64 stateless seed)."""
    import tensorflow as tf

    if kind not in AUGMENTS:
        raise ValueError(augment_problems(kind)[0])
    params = params or SketchParams()
    seed = tf.cast(seed, tf.int64)
    if kind == "flip":
        return flip(tf, x, seed, 0.5)
    if kind == "flip_shift":
        return shift(tf, flip(tf, x, seed, 0.5), seed)
    x = flip(tf, x, seed, params.flip)
    b = tf.shape(x)[0]
    u = _uniform(tf, [b], seed, 12)
    # Each image becomes one thing (0 photo, 1 outline, 2 silhouette): draw only what is used, a sub-batch
    # each (the drawing is most of the pipeline's work). One blank image pads each sub-batch, so that
    # none is empty (pooling over zero channels), and is dropped after.
    part = tf.cast(u >= params.plain, tf.int32) + tf.cast(u >= params.plain + params.outline, tf.int32)
    xs = tf.dynamic_partition(x, part, 3)
    where = tf.dynamic_partition(tf.range(b), part, 3)
    blank = tf.zeros([1, SIDE, SIDE, 1], x.dtype)
    # Grown shapes: radius 0 (not grown), or 1..dilate_px px, per image; re-framed by the zoom below.
    grow = tf.floor(_uniform(tf, [b], seed, 34, 1.0, params.dilate_px + 1.0))
    grow = tf.where(_uniform(tf, [b], seed, 35) < params.dilate, grow, tf.zeros_like(grow))
    grows = tf.dynamic_partition(grow, part, 3)

    def drawn(fn, xp, rp):
        xp = _peak_normalise(tf, tf.concat([xp, blank], axis=0))
        mask = item_mask(tf, xp, seed, params, 7)
        if params.smooth > 0.0:
            mask = smooth_mask(tf, mask, seed, params)
        if params.dilate > 0.0:
            rp = tf.reshape(tf.concat([rp, [0.0]], axis=0), [-1, 1, 1, 1])
            grown = mask
            for k in range(1, params.dilate_px + 1):
                grown = tf.where(rp >= k, tf.nn.max_pool2d(grown, ksize=3, strides=1, padding="SAME"), grown)
            mask = grown
        return fn(tf, xp, seed, params, mask=mask)[:-1]

    out = tf.dynamic_stitch(
        where, [xs[0], drawn(outline, xs[1], grows[1]), drawn(silhouette, xs[2], grows[2])]
    )
    out = tf.reshape(out, tf.shape(x))
    # Photos stay photos (flipped at most): the test images are photos, and jitter there costs accuracy.
    if params.warp > 0.0:
        out = warp(tf, out, seed, params)
    zoom_by = SIDE / (SIDE + 2.0 * grow) if params.dilate > 0.0 else None
    jittered = tf.clip_by_value(affine(tf, out, seed, params, zoom_by), 0.0, 1.0)
    return tf.where(tf.reshape(u, [-1, 1, 1, 1]) < params.plain, x, jittered)


def drawings_added(n_images: int, augment: str | None, params: SketchParams | None = None) -> int:
    """How many procedural drawings `with_drawings` adds to `n_images` training images."""
    return round((params or SketchParams()).drawings * n_images) if augment == "sketch" else 0


def with_drawings(
    x: np.ndarray, y: np.ndarray, augment: str | None, params: SketchParams | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Training images `x` ((n, 784) or (n, 28, 28, 1) float32 in [0, 1]) and labels `y`, followed, for "sketch"
    augmentation, by `params.drawings` x n procedural garment drawings (the classes in turn; the same ones for
    every run). Other kinds return `x` and `y` unchanged."""
    n = drawings_added(len(x), augment, params)
    if n == 0:
        return x, y
    from fmnist_core.sketch.drawings import drawing_bank

    bx, by = drawing_bank(n)
    return (
        np.concatenate([x, bx.reshape(-1, *x.shape[1:]).astype(x.dtype)]),
        np.concatenate([y, by.astype(y.dtype)]),
    )


def training_dataset(
    x: np.ndarray,
    y: np.ndarray,
    *,
    augment: str,
    batch_size: int,
    seed: int,
    params: SketchParams | None = None,
) -> tf.data.Dataset:
    """A seeded, shuffled, augmented `tf.data.Dataset` of (x, y) batches over `x` (n, 784) or
    (n, 28, 28, 1) float32 in [0, 1] and `y` (n,) int.

    Batches are gathered from `x` by index inside the pipeline, so the arrays are neither copied nor
    embedded in the graph. Each pass (epoch) reshuffles and draws new augmentations; building it again
    with the same seed gives the same sequence of batches.
    """
    import tensorflow as tf

    problems = augment_problems(augment)
    if problems or augment is None:
        raise ValueError(problems[0] if problems else "no augmentation kind given")
    params = params or SketchParams()
    n, feat = len(x), tuple(x.shape[1:])

    def gather(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.sort(idx)  # contiguous reads; the order inside a batch does not matter
        return x[idx].reshape(-1, SIDE, SIDE, 1).astype(np.float32, copy=False), y[idx].astype(np.int32)

    def load(idx, rnd):
        xb, yb = tf.numpy_function(gather, [idx], (tf.float32, tf.int32), stateful=False)
        xb = tf.ensure_shape(xb, [None, SIDE, SIDE, 1])
        yb = tf.ensure_shape(yb, [None])
        xb = augment_batch(xb, tf.stack([rnd, tf.constant(seed, tf.int64)]), kind=augment, params=params)
        return tf.reshape(xb, [-1, *feat]), yb

    indices = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((indices, randoms)).map(load, num_parallel_calls=2, deterministic=True)
    return ds.prefetch(2)
