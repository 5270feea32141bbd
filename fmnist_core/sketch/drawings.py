"""Procedural garment drawings: what people draw for each class, as the canvas would deliver it.

Fashion-MNIST's photos do not show what tells a drawn coat from a drawn shirt or pullover: drawn, the three
share one silhouette, and the photos separate them by fabric, collar and hood (README, "Sketch accuracy").
People draw the features they use to tell them apart: a coat is long, with an opening, lapels, pockets or a
hood; a shirt has a pointed collar and buttons; a pullover a round neck and ribbed bands. `drawing_bank`
draws such garments, every class in random proportions and details, in the canvas' styles (outline, polygon
fill, scribble fill, painted solid; thin to thick brushes; shaky or ruled; small and off-centre; mirrored),
and frames each through the Sketch page's own preprocessing, so the model learns exactly what it is shown.

Sketch augmentation (`fmnist_core.augment`) adds a share of these to the training images; they then pass the
same flips, outlines and jitter as the photos. Shapes are in a unit box, y down, the shoulders (or a shoe's
top) at 0; shoes have the toe on the left, as in the data. numpy and PIL only (no TensorFlow).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from fmnist_core.sketch.preprocess import preprocess_canvas

CANVAS_SIDE = 140  # px: half the page's canvas (brushes halved), 4x less work to frame
GREY = 150  # a polygon's fill, as the canvas' fill grey reads on the dark canvas
BANK_SEED = 0  # every run gets the same drawings, like a dataset
# width / height of the unit box for items other than tops (a top takes its own shape's proportions)
ASPECT = {1: (0.45, 0.65), 3: (0.6, 0.85), 5: (1.4, 2.2), 7: (1.7, 2.5), 8: (0.9, 1.3), 9: (0.95, 1.25)}
STYLES = ("outline", "polygon", "scribble", "solid")
STYLE_P = (0.45, 0.2, 0.2, 0.15)

Points = list[tuple[float, float]]


def _u(rng: np.random.Generator, a: float, b: float) -> float:
    return float(rng.uniform(a, b))


def _chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _top_right_half(
    rng, *, bw: float, nw: float, sleeve: str, cuff_y: float, hem: float, flare: float
) -> Points:
    """A top's outline from the right end of the neck to the middle of the hem (the left half mirrors it).
    `sleeve`: "long" (ending at cuff_y, hanging 6-24 degrees out), "short" or "none"."""
    ss = _u(rng, 0.02, 0.07)  # shoulder drop
    shoulder = (0.5 + bw + _u(rng, 0.0, 0.04), ss)
    pts = [(0.5 + nw, 0.0), shoulder]
    if sleeve == "none":
        pts.append((0.5 + bw * _u(rng, 0.8, 0.95), _u(rng, 0.18, 0.3)))
    else:
        sw = _u(rng, 0.1, 0.17)  # the sleeve's width
        ang = np.radians(_u(rng, 6, 24) if sleeve == "long" else _u(rng, 35, 65))
        length = (cuff_y - ss) / np.cos(ang) if sleeve == "long" else _u(rng, 0.18, 0.32)
        ox, oy = shoulder[0] + length * np.sin(ang), shoulder[1] + length * np.cos(ang)
        ix, iy = ox - sw * np.cos(ang), oy + sw * np.sin(ang)
        armpit = ss + sw / max(np.sin(ang), 0.35) * _u(rng, 0.9, 1.2)
        if sleeve == "long":
            armpit = min(armpit, iy - 0.02)
        pts += [(ox, oy), (ix, iy), (0.5 + bw, max(armpit, ss + 0.08))]
    return [*pts, (0.5 + bw * (1.0 + flare) + _u(rng, -0.02, 0.02), hem), (0.5, hem)]


def _neck(nw: float, nd: float, *, v: bool) -> Points:
    """From the neck's left end through its lowest point to its right end: a V or a round neck."""
    if v:
        return [(0.5 - nw, 0.0), (0.5, nd), (0.5 + nw, 0.0)]
    return [(0.5 + nw * np.cos(a), nd * np.sin(a)) for a in np.linspace(np.pi, 0, 5)]


def _top_outline(right: Points, neck: Points) -> Points:
    left = [(1.0 - x, y) for x, y in right]
    return [*right, *left[::-1][1:], *neck[1:-1]]


def _top(label: int, rng) -> tuple[list[Points], list[Points]]:
    """T-shirt/top (0), pullover (2), coat (4), shirt (6)."""
    closed: list[Points] = []
    lines: list[Points] = []
    long_ = label in (2, 4) or (label == 6 and _chance(rng, 0.75))
    sleeve = "long" if long_ else ("none" if label == 0 and _chance(rng, 0.15) else "short")
    bw, nw, hem, cuff = _u(rng, 0.2, 0.3), _u(rng, 0.07, 0.13), 1.0, 0.0
    if label == 4:  # long: the sleeves end well above the hem
        hem = _u(rng, 1.05, 1.4)
        cuff = _u(rng, 0.55, 0.78) * hem
        nd, v = _u(rng, 0.12, 0.3), _chance(rng, 0.75)
    elif label == 6:
        cuff, nd, v = _u(rng, 0.82, 1.0), _u(rng, 0.08, 0.18), True
    elif label == 2:
        cuff, nd, v = _u(rng, 0.82, 1.02), _u(rng, 0.03, 0.09), _chance(rng, 0.2)
    else:
        nd, v = _u(rng, 0.04, 0.12), _chance(rng, 0.3)
    flare = _u(rng, 0.0, 0.12) if label == 4 else _u(rng, -0.04, 0.05)
    right = _top_right_half(rng, bw=bw, nw=nw, sleeve=sleeve, cuff_y=cuff, hem=hem, flare=flare)
    hood = label == 4 and _chance(rng, 0.22)
    neck = _neck(nw, nd, v=v)
    if hood:
        hh = _u(rng, 0.14, 0.22)
        neck = [
            (0.5 - nw - 0.02, 0.0),
            (0.5 - nw, -0.8 * hh),
            (0.5, -hh),
            (0.5 + nw, -0.8 * hh),
            (0.5 + nw + 0.02, 0.0),
        ]
    closed.append(_top_outline(right, neck))
    if label == 4:
        if _chance(rng, 0.85):  # the opening
            lines.append([(0.5, 0.0 if hood else nd), (0.5, hem)])
        if not hood and _chance(rng, 0.65):  # lapels
            lw = _u(rng, 0.06, 0.12)
            lines.append([(0.5 - nw, 0.0), (0.5 - nw - lw, 0.55 * nd), (0.5, nd)])
            lines.append([(0.5 + nw, 0.0), (0.5 + nw + lw, 0.55 * nd), (0.5, nd)])
        if _chance(rng, 0.55):  # pockets
            py = hem * _u(rng, 0.55, 0.75)
            for s in (-1, 1):
                x0 = 0.5 + s * _u(rng, 0.06, 0.1)
                lines.append([(x0, py), (x0 + s * _u(rng, 0.08, 0.13), py + _u(rng, -0.02, 0.02))])
        if _chance(rng, 0.4):  # buttons
            bx = 0.5 + _u(rng, 0.03, 0.06) * (1 if _chance(rng, 0.5) else -1)
            lines += [
                [(bx, y), (bx + 0.005, y)] for y in np.linspace(nd + 0.08, 0.7 * hem, int(rng.integers(3, 6)))
            ]
        if _chance(rng, 0.2):  # a belt
            by = hem * _u(rng, 0.4, 0.5)
            lines.append([(0.5 - bw, by), (0.5 + bw, by)])
    elif label == 6:
        cl = _u(rng, 0.08, 0.14)  # the collar's points
        lines.append([(0.5 - nw, 0.0), (0.5 - nw + 0.02, cl), (0.49, nd)])
        lines.append([(0.5 + nw, 0.0), (0.5 + nw - 0.02, cl), (0.51, nd)])
        if _chance(rng, 0.7):  # the placket
            lines.append([(0.5, nd), (0.5, hem)])
        if _chance(rng, 0.7):  # buttons
            lines += [
                [(0.525, y), (0.53, y)] for y in np.linspace(nd + 0.08, hem - 0.08, int(rng.integers(3, 7)))
            ]
        if _chance(rng, 0.3):  # a chest pocket
            px, py = 0.5 - 0.75 * bw, 0.22
            lines.append([(px, py), (px + 0.12, py), (px + 0.12, py + 0.12), (px, py + 0.12), (px, py)])
    elif label == 2:
        if _chance(rng, 0.5):  # a ribbed hem band
            by = hem - _u(rng, 0.06, 0.1)
            lines.append([(0.5 - bw, by), (0.5 + bw, by)])
        if _chance(rng, 0.2):  # a turtleneck
            th = _u(rng, 0.06, 0.12)
            closed.append([(0.5 - nw, 0.02), (0.5 - nw, -th), (0.5 + nw, -th), (0.5 + nw, 0.02)])
        if _chance(rng, 0.15):  # a knit zig-zag across the chest
            y = _u(rng, 0.3, 0.5)
            xs = np.linspace(0.5 - 0.8 * bw, 0.5 + 0.8 * bw, 7)
            lines.append([(x, y + (0.03 if i % 2 else -0.03)) for i, x in enumerate(xs)])
    elif _chance(rng, 0.2):  # a T-shirt's print
        r = _u(rng, 0.06, 0.1)
        lines.append([(0.5 + r * np.cos(a), 0.42 + r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 9)])
    return closed, lines


def garment(label: int, rng: np.random.Generator) -> tuple[list[Points], list[Points]]:
    """(closed outlines, open strokes) of one random item of class `label`, in the unit box."""
    if label in (0, 2, 4, 6):
        return _top(label, rng)
    closed: list[Points] = []
    lines: list[Points] = []
    if label == 1:  # trousers: a waist, two legs
        ww, cy, gap = _u(rng, 0.34, 0.46), _u(rng, 0.2, 0.34), _u(rng, 0.0, 0.06)
        hemw, out = _u(rng, 0.14, 0.24), ww + _u(rng, -0.05, 0.08)
        closed.append(
            [(0.5 - ww, 0), (0.5 + ww, 0), (0.5 + out, 1), (0.5 + out - hemw, 1), (0.5 + gap, cy), (0.5 - gap, cy),
             (0.5 - out + hemw, 1), (0.5 - out, 1)]
        )  # fmt: skip
        if _chance(rng, 0.6):  # the waistband
            lines.append([(0.5 - ww, 0.07), (0.5 + ww, 0.07)])
        if _chance(rng, 0.4):  # the fly
            lines.append([(0.5, 0.07), (0.5, 0.8 * cy)])
    elif label == 3:  # a dress: a fitted top, a waist, a flared skirt
        bw, wy, hw = _u(rng, 0.1, 0.16), _u(rng, 0.25, 0.4), _u(rng, 0.3, 0.5)
        top = [
            (0.5 - 0.8 * bw, 0),
            (0.5 - 0.5 * bw, 0),
            (0.5, _u(rng, 0.04, 0.1)),
            (0.5 + 0.5 * bw, 0),
            (0.5 + 0.8 * bw, 0),
        ]
        right = [(0.5 + bw + 0.02, 0.06)]
        if _chance(rng, 0.4):  # short sleeves
            right += [(0.5 + bw + _u(rng, 0.1, 0.16), 0.16), (0.5 + bw + 0.05, 0.22)]
        right += [(0.5 + 0.85 * bw, wy), (0.5 + hw, 1.0)]
        left = [(1 - x, y) for x, y in right][::-1]
        closed.append([*top, *right, (0.5, 1.0 + _u(rng, -0.02, 0.02)), *left])
        if _chance(rng, 0.5):  # a waist seam
            lines.append([(0.5 - 0.85 * bw, wy), (0.5 + 0.85 * bw, wy)])
    elif label == 5:  # a sandal: a thin sole, maybe a heel, arched straps, maybe an ankle strap
        h = _u(rng, 0.08, 0.14)
        heel = _u(rng, 0.2, 0.5) if _chance(rng, 0.45) else _u(rng, 0.0, 0.06)

        def sole_top(x: float) -> float:  # the sole rises towards the heel
            return 1 - h - heel * max(0.0, (x - 0.35) / 0.6)

        sole = [(0.02, 1 - h), *[(x, sole_top(x)) for x in (0.35, 0.65, 0.98)], (0.98, sole_top(0.98) + h)]
        underside = [(0.4, 1 - h + h)] if heel < 0.1 else [(0.6, 1 - heel * 0.5 + h * 0.5), (0.4, 1.0)]
        closed.append([*sole, *underside, (0.04, 1.0)])
        if heel >= 0.1:  # the heel block
            closed.append([(0.84, sole_top(0.84)), (0.94, sole_top(0.94)), (0.93, 1.0), (0.86, 1.0)])
        n = int(rng.integers(1, 4))
        for i in range(n):
            x0 = 0.06 + i * 0.55 / n + _u(rng, -0.03, 0.03)
            x1 = x0 + _u(rng, 0.15, 0.3)
            rise = _u(rng, 0.35, 0.7)
            xs = [x0 + (x1 - x0) * (1 - np.cos(a)) / 2 for a in np.linspace(0, np.pi, 7)]  # an arch
            lines.append(
                [
                    (x, sole_top(x) - rise * np.sin(a))
                    for x, a in zip(xs, np.linspace(0, np.pi, 7), strict=True)
                ]
            )
        if _chance(rng, 0.6):  # an ankle strap: a loop above the heel
            top = max(0.0, sole_top(0.9) - _u(rng, 0.5, 0.8))
            lines.append([(0.7, sole_top(0.7)), (0.74, top), (0.96, top), (0.97, sole_top(0.97))])
    elif label == 7:  # a sneaker: low, a rounded toe, the collar at the back
        hh = _u(rng, 0.0, 0.15)
        closed.append(
            [(0.02, 0.85), (0.04, 0.62), (0.15, 0.5 + _u(rng, -0.08, 0.05)), (0.35, 0.4), (0.55, 0.2 + hh),
             (0.68, 0.08 + hh), (0.8, 0.14 + hh), (0.95, 0.02 + hh), (0.99, 0.1 + hh), (0.99, 1), (0.05, 1)]
        )  # fmt: skip
        if _chance(rng, 0.8):  # the sole's top
            sy = _u(rng, 0.78, 0.88)
            lines.append([(0.04, sy), (0.99, sy)])
        if _chance(rng, 0.7):  # laces
            lines += [
                [(0.3 + 0.07 * i, 0.5 - 0.05 * i), (0.36 + 0.07 * i, 0.44 - 0.05 * i)]
                for i in range(int(rng.integers(3, 6)))
            ]
        if _chance(rng, 0.4):  # a side stripe
            lines.append([(0.35, 0.72), (0.6, 0.55), (0.85, 0.7)])
    elif label == 8:  # a bag: a body, a handle or a strap
        tw, by = _u(rng, 0.0, 0.12), _u(rng, 0.3, 0.45)
        closed.append([(0.02 + tw, by), (0.98 - tw, by), (0.98, 1), (0.02, 1)])
        if _chance(rng, 0.8):
            hw, hy = _u(rng, 0.18, 0.32), _u(rng, 0.0, by - 0.12)
            lines.append([(0.5 - hw, by), (0.5 - 0.8 * hw, hy), (0.5 + 0.8 * hw, hy), (0.5 + hw, by)])
        else:
            lines.append([(0.06 + tw, by), (0.5, 0.0), (0.94 - tw, by)])
        if _chance(rng, 0.4):  # a flap
            lines.append([(0.02 + tw, by), (0.5, by + _u(rng, 0.15, 0.3)), (0.98 - tw, by)])
    else:  # an ankle boot: the shaft at the back, the toe left
        sw, ank = _u(rng, 0.38, 0.5), _u(rng, 0.45, 0.62)
        closed.append(
            [
                (1 - sw, 0.0),
                (0.98, 0.0),
                (0.99, 1.0),
                (0.02, 1.0),
                (0.03, 0.8),
                (0.15, ank + 0.1),
                (1 - sw - 0.04, ank),
            ]
        )
        if _chance(rng, 0.6):  # the sole's top
            lines.append([(0.02, 0.9), (0.99, 0.9)])
        if _chance(rng, 0.4):  # laces
            lines += [[(0.98 - sw, 0.15 + 0.13 * i), (1.12 - sw, 0.2 + 0.13 * i)] for i in range(3)]
    return closed, lines


def _shaky(pts: np.ndarray, rng, amp: float) -> np.ndarray:
    """Resample a polyline every ~2.5 px and add smooth hand tremor of about `amp` px."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    t = np.concatenate([[0.0], np.cumsum(seg)])
    if t[-1] <= 0:
        return pts
    n = max(6, int(t[-1] / 2.5))
    s = np.linspace(0, t[-1], n)
    out = np.stack([np.interp(s, t, pts[:, 0]), np.interp(s, t, pts[:, 1])], axis=1)
    kernel = np.hanning(11)
    kernel /= np.sqrt((kernel**2).sum())
    noise = rng.normal(0, 1, (n + 12, 2))
    smooth = np.stack([np.convolve(noise[:, i], kernel, "same") for i in range(2)], axis=1)[6 : 6 + n]
    return out + amp * smooth


def draw(label: int, rng: np.random.Generator) -> np.ndarray:
    """One random drawing of class `label` as the canvas delivers it: (CANVAS_SIDE, CANVAS_SIDE, 4) uint8,
    light ink on black."""
    closed, lines = garment(label, rng)
    if label in ASPECT:
        k = _u(rng, *ASPECT[label])
        closed = [[(x * k, y) for x, y in s] for s in closed]
        lines = [[(x * k, y) for x, y in s] for s in lines]
    allp = np.array([p for s in closed + lines for p in s], np.float64)
    lo, hi = allp.min(0), allp.max(0)
    scale = _u(rng, 0.45, 0.92) * CANVAS_SIDE / float((hi - lo).max())
    ext = (hi - lo) * scale
    offset = np.array([_u(rng, 4, CANVAS_SIDE - 4 - ext[0]), _u(rng, 4, CANVAS_SIDE - 4 - ext[1])])
    mirror = _chance(rng, 0.5)

    def place(s: Points) -> np.ndarray:
        p = (np.asarray(s, np.float64) - lo) * scale + offset
        if mirror:
            p[:, 0] = CANVAS_SIDE - p[:, 0]
        return p

    style = STYLES[int(rng.choice(len(STYLES), p=STYLE_P))]
    width = max(1, round(_u(rng, 1.5, 13.0 if style == "outline" else 18.0)))
    amp = _u(rng, 0.0, 1.8) if _chance(rng, 0.6) else 0.0
    img = Image.new("L", (CANVAS_SIDE, CANVAS_SIDE), 0)
    pen = ImageDraw.Draw(img)

    def stroke(pen: ImageDraw.ImageDraw, p: np.ndarray, w: int, *, closed_: bool = False) -> None:
        if closed_:
            p = np.vstack([p, p[:1]])
        if amp:
            p = _shaky(p, rng, amp)
        pts = [tuple(q) for q in p]
        pen.line(pts, fill=255, width=w, joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps
            pen.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)

    for s in closed:
        p = place(s)
        poly = [tuple(q) for q in p]
        if style in ("polygon", "solid"):
            pen.polygon(poly, fill=GREY if style == "polygon" else 255)
        elif style == "scribble":  # back-and-forth strokes across the shape
            mask = Image.new("L", (CANVAS_SIDE, CANVAS_SIDE), 0)
            ImageDraw.Draw(mask).polygon(poly, fill=255)
            inside = np.asarray(mask) > 0
            rows = np.flatnonzero(inside.any(axis=1))
            for y in (
                np.arange(rows[0] + width / 3, rows[-1], max(2.0, width * _u(rng, 0.6, 1.0)))
                if len(rows)
                else ()
            ):
                cols = np.flatnonzero(inside[int(y)])
                if len(cols):
                    pen.line(
                        [(cols[0], y + rng.normal(0, 0.7)), (cols[-1], y + rng.normal(0, 0.7))],
                        fill=255,
                        width=width,
                    )
        stroke(pen, p, width, closed_=True)
    # Details in the outline's brush or a finer one; a shoe's straps and a bag's handle keep the brush.
    thinner = label not in (5, 7, 8, 9) and _chance(rng, 0.5)
    detail = max(1, int(width * _u(rng, 0.4, 0.8))) if thinner else width
    if style != "solid":
        for s in lines:
            stroke(pen, place(s), detail)
        a = np.asarray(img)
    else:  # on a painted shape details are drawn dark, beside it (a handle, a strap) light
        layer = Image.new("L", (CANVAS_SIDE, CANVAS_SIDE), 0)
        for s in lines:
            stroke(ImageDraw.Draw(layer), place(s), max(1, detail // 2))
        a, drawn = np.asarray(img), np.asarray(layer) > 0
        a = np.where(drawn & (a > 0), 0, np.where(drawn, 255, a)).astype(np.uint8)
    return np.dstack([a, a, a, np.full_like(a, 255)])


@lru_cache(maxsize=2)
def _bank(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xs = np.zeros((n, 28, 28), np.float32)
    ys = np.arange(n, dtype=np.int32) % 10
    for i, label in enumerate(ys):
        while True:  # a drawing the page would refuse (too small, say) is drawn again
            try:
                xs[i] = preprocess_canvas(draw(int(label), rng))
                break
            except ValueError:
                continue
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys


def drawing_bank(n: int, seed: int = BANK_SEED) -> tuple[np.ndarray, np.ndarray]:
    """`n` drawings, the classes in turn (any first 10k hold k of each), as the page's model input:
    ((n, 28, 28) float32 in [0, 1], (n,) int32 labels). Deterministic in `seed`; read-only and cached.
    About 4 ms a drawing."""
    if n < 0:
        raise ValueError(f"n must be at least 0 (got {n})")
    return _bank(int(n), int(seed))
