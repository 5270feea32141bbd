"""Canvas drawings and uploaded images -> 28x28 model inputs framed like Fashion-MNIST.

Framing follows the dataset paper (arXiv 1708.07747, section 2): trim the edges that match the
background colour, resize so the longest side is 28 px, pad the short side to 28 px with the bounding
box (not the centre of mass) centred, light item on a dark background. Measured on the 10,000 real test
images (pixels > 0): the longest bbox side is 28 px in 98.3% of images and 27 px in 1.6%; the bbox
centre is within 0.5 px of the image centre in every image; an odd short side gets the extra pixel of
padding before it (offset = ceil((28 - side) / 2)); interior pixels sit at ~0.70 of the image maximum.

numpy, PIL and scipy only: no TensorFlow here.
"""

from __future__ import annotations

import io
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

SIDE = 28  # model input side, px
UPLOAD_FORMATS = ["PNG", "JPEG", "WEBP", "BMP", "GIF"]

# Filled regions get this fraction of the stroke intensity: the median interior pixel of a real image
# is ~0.70 of that image's maximum.
FILL_LEVEL = 0.7
# A drawing whose bounding box is shorter than this fraction of the canvas' longest side (a dot, a
# tick) is refused rather than blown up to 28 px.
MIN_EXTENT_FRACTION = 0.08
MIN_EXTENT_PX = 3
# Difference from the background (0-1) that counts as ink when deciding whether anything was drawn.
LIT_THRESHOLD = 0.1
# Pixels fainter than this fraction of the peak are trimmed as background: near 0 for canvases (like
# the dataset's own trim, which kept faint edge pixels), higher for photos, whose backgrounds are noisy.
CANVAS_TRIM = 0.02
PHOTO_TRIM = 0.12
# Auto-fill: a drawing is a closed outline when one enclosed region covers this much of its bounding
# box; gaps a shaky hand leaves are bridged at these fractions of the canvas side, smallest first.
OUTLINE_HOLE_FRACTION = 0.12
AUTO_FILL_GAPS = (0.01, 0.025)
# Of the peak: what counts as a stroke when judging a drawing's shape (outline, fill, scribble).
INK_LEVEL = 0.3
# More than this fraction of the canvas painted light: "you painted the whole canvas", not a garment.
FULL_CANVAS_FRACTION = 0.85
# A scribble over the whole canvas: full-ink strokes within SCRIBBLE_EDGE of the side from all four edges, in
# every cell of a 4 x 4 grid (2% of a cell or more; SCRIBBLE_CELLS), crossed by SCRIBBLE_RUNS separate strokes
# or more, on average, along rows or columns. Framed, such a scribble is a grey square that the model calls a
# bag, confidently. It is answered with a note (SCRIBBLE_NOTE), not refused: a garment drawn big, up to the
# edges, looks the same to these rules (and to every other measure tried: stroke crossings either way,
# enclosed holes, how much of each edge is inked, how much of the frame the framed shape fills). Of the 210
# drawings of bench/sketch_set redrawn to span the canvas with 3-6% margins, 165 of 630 versions pass them, as
# do 23 of 40 whole-canvas zig-zags, hatchings, loops and random walks.
SCRIBBLE_EDGE = 0.05
SCRIBBLE_CELLS = 16
SCRIBBLE_RUNS = 2.5
SCRIBBLE_NOTE = (
    "Edge to edge: this drawing spreads over the whole canvas, as a scribble does. If it is a scribble, the "
    "answer means little (framed, a scribble is a filled square, which reads as a bag); if it is one big "
    "garment, the answer stands."
)
# Uploads larger than this are shrunk before processing (speed; the result is 28 px anyway).
WORK_SIDE = 1024


class EmptyCanvasError(ValueError):
    """Nothing (or only a dot) was drawn; the message can be shown to the user as is."""


class FullCanvasError(EmptyCanvasError):
    """The whole canvas is painted over, edge to edge: there is no one shape to frame."""


class CanvasInput(NamedTuple):
    """What `canvas_input` makes of a canvas drawing."""

    x28: np.ndarray  # (28, 28) float32 model input in [0, 1]
    filled: bool  # a closed outline was filled automatically
    edge_to_edge: bool  # strokes spread edge to edge, as a scribble's (`scribbled_over`): say SCRIBBLE_NOTE


class BadImageError(ValueError):
    """An upload is not a usable image; the message can be shown to the user as is."""


# ----------------------------------------------------------------------------------------------
# Intensity extraction


def _as_unit_float(a: np.ndarray) -> np.ndarray:
    """uint8 (0-255), 16-bit or float (0-1 or 0-255) -> float32 in [0, 1]."""
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    a = a.astype(np.float32)
    peak = float(np.nanmax(a)) if a.size else 0.0
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(a / 255.0 if peak > 1.0 else a, 0.0, 1.0)


def _border(a: np.ndarray) -> np.ndarray:
    """The outermost 1-px ring of a (H, W, ...) array, as (n, ...)."""
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]], axis=0)


def _backdrop(rgb: np.ndarray, alpha: np.ndarray, value: np.ndarray) -> float:
    """Colour (0 black or 1 white) to composite over: white under dark ink on a transparent background,
    black otherwise. `value` (H, W) is the per-pixel lightness used to judge the ink."""
    if np.median(_border(alpha)) >= 0.5:
        return 0.0  # opaque background: its own colour shows, the backdrop barely matters
    weight = alpha.sum()
    if weight <= 0:
        return 0.0
    ink_lightness = float((value * alpha).sum() / weight)
    return 0.0 if ink_lightness >= 0.5 else 1.0


def canvas_intensity(rgba: np.ndarray, *, background: str = "auto") -> np.ndarray:
    """(H, W, 4) or (H, W, 3) canvas image -> (H, W) float32 ink intensity in [0, 1].

    background="auto": alpha is composited over a backdrop (black under light ink on a transparent
    background, white under dark ink), then the intensity is each pixel's largest per-channel distance
    from the background colour (the median of the border). So white strokes on transparent, white on
    opaque black and black on white all give bright ink on 0.
    background="dark" (the Sketch page's black canvas): the background is known to be black, so the
    intensity is the lightness composited over black, however much of the border is painted.
    """
    if background not in ("auto", "dark"):
        raise ValueError(f"background must be 'auto' or 'dark', not {background!r}")
    a = np.asarray(rgba)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or min(a.shape[:2]) < 2:
        raise ValueError(f"expected an (H, W, 4) RGBA canvas image, got shape {np.shape(rgba)}")
    a = _as_unit_float(a)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    rgb = a[..., :3]
    alpha = a[..., 3] if a.shape[2] == 4 else np.ones(a.shape[:2], np.float32)
    # Per-channel arrays and np.maximum: numpy's reduce over a length-3 last axis is ~10x slower.
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if background == "dark":
        return (np.maximum(np.maximum(r, g), b) * alpha).astype(np.float32)
    backdrop = _backdrop(rgb, alpha, np.maximum(np.maximum(r, g), b))
    under = backdrop * (1.0 - alpha)
    comp = [ch * alpha + under for ch in (r, g, b)]
    bg = [float(np.median(_border(ch))) for ch in comp]
    dist = [np.abs(ch - level) for ch, level in zip(comp, bg, strict=True)]
    return np.maximum(np.maximum(dist[0], dist[1]), dist[2]).astype(np.float32)


def _sixteen_bit_to_unit(image: Image.Image) -> np.ndarray:
    """'I;16*', 'I' or 'F' image -> (H, W) float32 in [0, 1]. convert('L') would clip at 255."""
    arr = np.asarray(image).astype(np.float64)
    arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    if image.mode.startswith("I;16"):
        scale = 65535.0
    else:  # 'I' (32-bit) or 'F': use the range actually present
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0 and hi <= 1.0 and image.mode == "F":
            scale = 1.0
        elif lo >= 0 and hi <= 255:
            scale = 255.0
        elif lo >= 0 and hi <= 65535:
            scale = 65535.0
        else:
            arr = arr - lo
            scale = max(hi - lo, 1e-12)
    return np.clip(arr / scale, 0.0, 1.0).astype(np.float32)


def _shrink(arr: np.ndarray, max_side: int) -> np.ndarray:
    """Area-average an (H, W) float array so its longest side is at most max_side."""
    h, w = arr.shape
    if max(h, w) <= max_side:
        return arr
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(arr, "F").resize(size, Image.Resampling.BOX), dtype=np.float32)


def image_intensity(image: Image.Image, *, invert: bool | None = None) -> np.ndarray:
    """A PIL image (photo or drawing) -> (H', W') float32 in [0, 1], bright item on a 0 background.

    Frame 0 of animations, EXIF rotation applied, alpha composited over a detected backdrop (white for
    photos with transparency, black under light ink), luminance grayscale, light backgrounds inverted
    (decided from the border unless `invert` says), background level subtracted, shrunk to at most
    WORK_SIDE px.
    """
    if getattr(image, "is_animated", False):
        image.seek(0)
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        gray = _shrink(_sixteen_bit_to_unit(image), WORK_SIDE)
    else:
        rgba = image.convert("RGBA")  # P with transparency, LA, 1, CMYK ...: all end up here
        if max(rgba.size) > WORK_SIDE:
            rgba.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)  # premultiplies alpha
        a = np.asarray(rgba, dtype=np.float32) / 255.0
        rgb, alpha = a[..., :3], a[..., 3]
        lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as PIL's "L"
        backdrop = _backdrop(rgb, alpha, lum)
        gray = lum * alpha + backdrop * (1.0 - alpha)
    if min(gray.shape) < 2:
        raise BadImageError("The image is too small: it needs to be at least 2x2 pixels.")
    bg = float(np.median(_border(gray)))
    if invert is None:
        invert = bg > 0.5
    if invert:
        gray, bg = 1.0 - gray, 1.0 - bg
    # Whatever the background's level, it becomes 0 (a grey backdrop would otherwise frame as ink).
    return np.clip(gray - bg, 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Framing


def _enclosed(ink: np.ndarray, radius: int) -> np.ndarray:
    """Background pixels (H, W) bool that ink, closed by `radius` px, separates from the outside."""
    # Separable max/min filters (a square structuring element) are much faster than iterated
    # binary_closing; padding keeps ink that touches the edge from eroding.
    r = max(1, int(radius))
    padded = np.pad(ink, r + 1).view(np.uint8)
    closed = ndimage.minimum_filter(ndimage.maximum_filter(padded, size=2 * r + 1), size=2 * r + 1)
    closed = closed[r + 1 : -r - 1, r + 1 : -r - 1].astype(bool)
    # Holes = background not connected to the outside; one labelling pass instead of
    # binary_fill_holes' propagate-until-stable loop.
    labels, _ = ndimage.label(~np.pad(closed, 1))
    return (labels[1:-1, 1:-1] != labels[0, 0]) & ~ink


def _largest_region(mask: np.ndarray) -> int:
    labels, n = ndimage.label(mask)
    return int(np.bincount(labels.ravel())[1:].max()) if n else 0


def _ink(intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(intensity as float32, its strokes: pixels above INK_LEVEL x the peak), the mask None when blank."""
    inten = np.asarray(intensity, dtype=np.float32)
    peak = float(inten.max()) if inten.size else 0.0
    return inten, (inten > INK_LEVEL * peak if peak > 0 else None)


def fill_outlines(
    intensity: np.ndarray, *, level: float = FILL_LEVEL, gap: float = 0.01, radius: int | None = None
) -> np.ndarray:
    """Fill closed (or nearly closed) outlines: pixels enclosed by ink get `level` x the ink's median
    intensity. Gaps up to about 2 x `gap` x the image's longest side (or 2 x `radius` px) are bridged.
    (H, W) float -> (H, W) float32; ink itself is unchanged."""
    inten, ink = _ink(intensity)
    if ink is None:
        return inten.copy()
    holes = _enclosed(ink, radius if radius is not None else round(gap * max(inten.shape)))
    out = inten.copy()
    out[holes] = np.maximum(out[holes], level * float(np.median(inten[ink])))
    return out


def looks_like_outline(intensity: np.ndarray) -> int | None:
    """The closing radius (px) at which `intensity` reads as a closed outline (some enclosed region
    covers at least OUTLINE_HOLE_FRACTION of the drawing's bounding box), or None for a filled or
    open drawing.

    A filled drawing's holes are slivers between strokes or a bag's handle; an outline encloses most
    of its box. Gaps a shaky hand leaves are bridged up to ~8% of the canvas, tried smallest first."""
    _, ink = _ink(intensity)
    if ink is None:
        return None
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        return None
    box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
    # Work at <= 140 px: the decision does not need full resolution and the filters cost ~4x less.
    step = max(1, max(ink.shape) // 140)
    small = ink[::step, ::step]
    for gap in AUTO_FILL_GAPS:
        r = max(1, round(gap * max(ink.shape) / step))
        if _largest_region(_enclosed(small, r)) * step * step >= OUTLINE_HOLE_FRACTION * box:
            return r * step
    return None


def fill_if_outline(intensity: np.ndarray) -> tuple[np.ndarray, bool]:
    """(filled intensity, True) when the drawing is a closed outline, else (intensity, False)."""
    radius = looks_like_outline(intensity)
    if radius is None:
        return np.asarray(intensity, dtype=np.float32), False
    return fill_outlines(intensity, radius=radius), True


def painted_fraction(rgba: np.ndarray) -> float:
    """Fraction of a canvas image that is light opaque paint, before any background detection (the
    page's canvas is black or transparent under white ink)."""
    a = np.asarray(rgba)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        return 0.0
    a = _as_unit_float(a[::4, ::4])  # every 4th pixel: plenty for a fraction
    alpha = a[..., 3] if a.shape[2] == 4 else 1.0
    light = np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2]) * alpha
    return float((light > 0.5).mean())


def scribbled_over(intensity: np.ndarray) -> bool:
    """True for brush strokes spread edge to edge over the whole canvas, many of them across it (a
    scribble), rather than one item drawn inside it; see SCRIBBLE_EDGE. A closed outline touching every
    edge (its middle is empty), a solid shape (one stroke across each row) and a photo's texture
    (grey levels, not full-ink strokes) are not."""
    inten, ink = _ink(intensity)
    if ink is None:
        return False
    if (inten >= 0.9 * inten.max()).sum() < 0.5 * ink.sum():
        return False  # mostly greys: an image painted in (a photo's texture), not brush strokes
    h, w = ink.shape
    m = max(1, round(SCRIBBLE_EDGE * max(h, w)))
    if not (ink[:m].any() and ink[-m:].any() and ink[:, :m].any() and ink[:, -m:].any()):
        return False
    cells = sum(
        ink[i * h // 4 : (i + 1) * h // 4, j * w // 4 : (j + 1) * w // 4].mean() > 0.02
        for i in range(4)
        for j in range(4)
    )
    if cells < SCRIBBLE_CELLS:
        return False

    def runs(a: np.ndarray) -> float:  # separate ink runs per line, over the lines with ink
        starts = (np.diff(a.astype(np.int8), axis=1, prepend=0) == 1).sum(axis=1)
        return float(starts[starts > 0].mean())

    return max(runs(ink), runs(ink.T)) >= SCRIBBLE_RUNS


def _check_not_empty(inten: np.ndarray, *, what: str) -> None:
    lit = inten > LIT_THRESHOLD
    if not lit.any():
        raise EmptyCanvasError(
            "The canvas is empty: draw a garment first."
            if what == "canvas"
            else "No item found in the image: it looks blank."
        )
    rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
    extent = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    if extent < max(MIN_EXTENT_PX, MIN_EXTENT_FRACTION * max(inten.shape)):
        raise EmptyCanvasError(
            "The drawing is too small to classify (a dot?): draw the item large, filling most of the canvas."
            if what == "canvas"
            else "The item in the image is too small to classify: crop the image closer around it."
        )


def frame_like_fashion_mnist(intensity: np.ndarray, *, trim: float = CANVAS_TRIM) -> np.ndarray:
    """(H, W) float ink intensity (0 = background) -> (28, 28) float32 in [0, 1], framed like
    Fashion-MNIST: bbox of pixels above `trim` x peak, longest side resized to 28 px, short side
    padded to 28 with the bbox centred (extra pixel of an odd pad before), peak scaled to 1.

    Assumes something is there (callers check with EmptyCanvasError first)."""
    inten = np.asarray(intensity, dtype=np.float32)
    peak = float(inten.max())
    if peak <= 0:
        raise EmptyCanvasError("Nothing to frame: the image is blank.")
    keep = inten > trim * peak
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    crop = inten[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = SIDE / max(h, w)
    nh, nw = min(SIDE, max(1, round(h * scale))), min(SIDE, max(1, round(w * scale)))
    # BOX (area average) when shrinking, like a camera sensor; LANCZOS when enlarging a small upload.
    method = Image.Resampling.BOX if max(h, w) >= SIDE else Image.Resampling.LANCZOS
    small = np.asarray(Image.fromarray(crop, "F").resize((nw, nh), method), dtype=np.float32)
    out = np.zeros((SIDE, SIDE), np.float32)
    top, left = (SIDE - nh + 1) // 2, (SIDE - nw + 1) // 2
    out[top : top + nh, left : left + nw] = np.clip(small, 0.0, None)
    return np.clip(out / max(float(out.max()), 1e-12), 0.0, 1.0)


def preprocess_canvas(rgba: np.ndarray, *, fill: bool | str = "auto", background: str = "dark") -> np.ndarray:
    """The drawable canvas' `image_data` ((H, W, 4) uint8; light ink on a dark or transparent
    background, or dark ink on light) -> (28, 28) float32 model input in [0, 1].

    `fill`: "auto" (the page's default) fills a drawing that is a closed outline (garments in the data
    are filled silhouettes) and leaves filled or open drawings alone; True always fills whatever the
    strokes enclose; False never fills.
    `background`: "dark" (the page's black canvas, light ink) or "auto" (detected from the border, so
    dark ink on a light canvas works too; a fully light canvas is then simply empty).
    Raises FullCanvasError if a dark canvas is painted over, EmptyCanvasError (a ValueError) if
    nothing, or only a dot, was drawn; ValueError if `rgba` is not an image array.
    """
    return canvas_input(rgba, fill=fill, background=background).x28


def canvas_input(rgba: np.ndarray, *, fill: bool | str = "auto", background: str = "dark") -> CanvasInput:
    """`preprocess_canvas`, also saying whether the drawing was filled and whether it spreads edge to
    edge like a scribble (answered all the same: a big garment can look just like one; see SCRIBBLE_NOTE)."""
    if fill not in (True, False, "auto"):
        raise ValueError(f"fill must be True, False or 'auto', not {fill!r}")
    inten = canvas_intensity(rgba, background=background)
    if background == "dark" and painted_fraction(rgba) > FULL_CANVAS_FRACTION:
        raise FullCanvasError(
            "The whole canvas is painted over: there is no shape to recognise. Clear it (the bin icon) "
            "and draw one garment in white on the black."
        )
    _check_not_empty(inten, what="canvas")
    edge_to_edge = scribbled_over(inten)
    filled = False
    if fill == "auto":
        inten, filled = fill_if_outline(inten)
    elif fill:
        inten, filled = fill_outlines(inten), True
    return CanvasInput(frame_like_fashion_mnist(inten, trim=CANVAS_TRIM), filled, edge_to_edge)


def preprocess_image(
    image: Image.Image, *, invert: bool | None = None, fill: bool | str = False
) -> np.ndarray:
    """An uploaded photo or drawing (from `load_upload`) -> (28, 28) float32 model input in [0, 1].

    `invert=None` inverts when the border is light (a product photo on white); True/False overrides.
    `fill`: False, True, or "auto" (only a drawing that is a closed outline is filled).
    Raises EmptyCanvasError if no item stands out from the background.
    """
    inten = image_intensity(image, invert=invert)
    _check_not_empty(inten, what="image")
    if fill == "auto":
        inten, _ = fill_if_outline(inten)
    elif fill:
        inten = fill_outlines(inten)
    return frame_like_fashion_mnist(inten, trim=PHOTO_TRIM)


# ----------------------------------------------------------------------------------------------
# Uploads


def load_upload(data: bytes, *, max_pixels: int = 20_000_000) -> Image.Image:
    """Open uploaded bytes as a PNG, JPEG, WebP, BMP or GIF image, fully decoded.

    Raises BadImageError (a ValueError, message fit for users) for anything else: not an image, an
    unsupported format, a corrupt or truncated file, or more than `max_pixels` pixels (decompression
    bombs included). The bytes are never written to disk and no file name is used.
    """
    if not data:
        raise BadImageError("The file is empty.")
    # No warnings filter (catch_warnings swaps process-wide state, unsafe with sessions on threads):
    # PIL warns of a bomb above Image.MAX_IMAGE_PIXELS and raises above twice that; our own limit is
    # kept at or below PIL's, so every image PIL would only warn about is refused here anyway.
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        image = Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)
        w, h = image.size
        if w * h > limit:
            raise BadImageError(f"The image is too large ({w}x{h} pixels; the limit is {limit:,} pixels).")
        if w < 1 or h < 1:
            raise BadImageError("The image has no pixels.")
        image.load()
    except BadImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImageError(f"The image is too large to open safely ({exc}).") from exc
    except UnidentifiedImageError as exc:
        raise BadImageError(
            "This file is not an image in a supported format (PNG, JPEG, WebP, BMP or GIF)."
        ) from exc
    except Exception as exc:  # truncated / corrupt data surfaces as OSError, SyntaxError, struct.error...
        raise BadImageError(f"The image file is corrupt or truncated and cannot be read ({exc}).") from exc
    return image
