"""Write bench/sketch_set/third.json: a third, untouched set of 80 drawings (8 per class), deterministic.

    .venv/bin/python -m bench.sketch_set.generate_third

Made before any recipe was judged with it, and never looked at drawing by drawing while choosing one: it
is the check that a recipe chosen on the first two sets generalises. Other garments again (a boxy tee and
a polo, cargo trousers and joggers, a raglan turtleneck and a striped sweater, a skater and a sheath
dress, a double-breasted overcoat and a hooded parka, a flip-flop and a gladiator sandal, a flannel and a
camp-collar shirt, a canvas low-top and a chunky trainer, a tote and a shoulder bag, a combat and a
western boot), each with its details (collars, zips, buttons as dots, laces, pockets, seams), in other
hands than the first two sets:

* smooth rounded outlines in one stroke (corners cut by Chaikin's algorithm);
* thin pen outlines drawn in 3-5 pieces, the pen lifted between them (small gaps and overlaps);
* shapes painted with a fat brush in vertical strokes, no outline;
* small drawings pushed into a corner;
* a continuous vertical zig-zag fill inside a shaky outline;
* heavy 30-px outlines, rotated up to 9 degrees;
* polygon-tool silhouettes (grey fill) with white details drawn over them;
* sketchy outlines drawn twice with different tremor.

Half of each class is mirrored (shoes then face right).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from bench.sketch_set import CANVAS, THIRD
from bench.sketch_set.generate import record, write_set
from bench.sketch_set.generate_heldout import place, stroke

P = list[tuple[float, float]]


def dots(*xy: tuple[float, float]) -> list[P]:
    """Buttons: one-point strokes (a click of the brush)."""
    return [[p] for p in xy]


def x_laces(x0: float, x1: float, y0: float, y1: float, n: int) -> list[P]:
    """Crossed laces along a line from (x0, y0) to (x1, y1): n small X's."""
    out = []
    for t in np.linspace(0.1, 0.9, n):
        cx, cy = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        d = 0.035
        out += [[(cx - d, cy - d), (cx + d, cy + d)], [(cx - d, cy + d), (cx + d, cy - d)]]
    return out


# class -> two templates: (aspect w/h, closed outline in a unit box (y down, shoes' toe LEFT),
#   parts: open strokes always drawn (straps, handles), details: inner lines drawn on outline styles)
TEMPLATES: dict[int, list[tuple[float, P, list[P], list[P]]]] = {
    0: [
        (  # boxy crew-neck tee, hem and sleeve hems
            1.1,
            [(0.34, 0.02), (0.42, 0.08), (0.58, 0.08), (0.66, 0.02), (0.9, 0.1), (1.0, 0.34), (0.82, 0.4),
             (0.8, 0.98), (0.2, 0.98), (0.18, 0.4), (0.0, 0.34), (0.1, 0.1)],
            [],
            [[(0.2, 0.9), (0.8, 0.9)], [(0.86, 0.3), (0.94, 0.27)], [(0.14, 0.3), (0.06, 0.27)]],
        ),
        (  # polo: collar points and three buttons
            1.0,
            [(0.36, 0.03), (0.5, 0.1), (0.64, 0.03), (0.92, 0.14), (1.0, 0.38), (0.8, 0.42), (0.79, 1.0),
             (0.21, 1.0), (0.2, 0.42), (0.0, 0.38), (0.08, 0.14)],
            [],
            [[(0.36, 0.03), (0.44, 0.16), (0.5, 0.1)], [(0.64, 0.03), (0.56, 0.16), (0.5, 0.1)],
             [(0.5, 0.1), (0.5, 0.3)], *dots((0.5, 0.17), (0.5, 0.24))],
        ),
    ],
    1: [
        (  # cargo trousers: straight legs, waistband, fly, side pockets
            0.5,
            [(0.08, 0.0), (0.92, 0.0), (0.97, 1.0), (0.58, 1.0), (0.5, 0.26), (0.42, 1.0), (0.03, 1.0)],
            [],
            [[(0.07, 0.07), (0.93, 0.07)], [(0.5, 0.07), (0.5, 0.24)],
             [(0.12, 0.45), (0.3, 0.45), (0.3, 0.6), (0.12, 0.6)], [(0.88, 0.45), (0.7, 0.45), (0.7, 0.6), (0.88, 0.6)]],
        ),
        (  # joggers: tapered legs, cuffs, a drawstring
            0.55,
            [(0.1, 0.0), (0.9, 0.0), (0.96, 0.4), (0.84, 0.93), (0.86, 1.0), (0.58, 1.0), (0.58, 0.93),
             (0.5, 0.3), (0.42, 0.93), (0.42, 1.0), (0.14, 1.0), (0.16, 0.93), (0.04, 0.4)],
            [],
            [[(0.09, 0.08), (0.91, 0.08)], [(0.46, 0.08), (0.42, 0.2)], [(0.54, 0.08), (0.58, 0.2)],
             [(0.17, 0.92), (0.42, 0.92)], [(0.58, 0.92), (0.84, 0.92)]],
        ),
    ],
    2: [
        (  # raglan turtleneck: a tall collar, raglan seams, ribbed cuffs and hem
            1.0,
            [(0.4, 0.0), (0.6, 0.0), (0.61, 0.09), (0.8, 0.13), (0.97, 0.85), (0.98, 0.95), (0.86, 0.97),
             (0.76, 0.45), (0.77, 0.98), (0.23, 0.98), (0.24, 0.45), (0.14, 0.97), (0.02, 0.95), (0.03, 0.85),
             (0.2, 0.13), (0.39, 0.09)],
            [],
            [[(0.39, 0.09), (0.24, 0.45)], [(0.61, 0.09), (0.76, 0.45)], [(0.23, 0.9), (0.77, 0.9)],
             [(0.4, 0.06), (0.6, 0.06)]],
        ),
        (  # crew sweater with a stripe across the chest
            1.05,
            [(0.38, 0.02), (0.5, 0.07), (0.62, 0.02), (0.8, 0.08), (0.96, 0.5), (0.99, 0.92), (0.87, 0.94),
             (0.77, 0.42), (0.78, 0.98), (0.22, 0.98), (0.23, 0.42), (0.13, 0.94), (0.01, 0.92), (0.04, 0.5),
             (0.2, 0.08)],
            [],
            [[(0.23, 0.35), (0.77, 0.35)], [(0.23, 0.45), (0.77, 0.45)], [(0.22, 0.91), (0.78, 0.91)]],
        ),
    ],
    3: [
        (  # skater dress: short sleeves, fitted bodice, bell skirt with a hem curve
            0.62,
            [(0.36, 0.0), (0.5, 0.06), (0.64, 0.0), (0.82, 0.08), (0.88, 0.2), (0.7, 0.24), (0.66, 0.4),
             (0.96, 0.95), (0.5, 1.0), (0.04, 0.95), (0.34, 0.4), (0.3, 0.24), (0.12, 0.2), (0.18, 0.08)],
            [],
            [[(0.34, 0.4), (0.66, 0.4)]],
        ),
        (  # sleeveless sheath dress with a belt
            0.42,
            [(0.28, 0.0), (0.4, 0.0), (0.5, 0.1), (0.6, 0.0), (0.72, 0.0), (0.78, 0.24), (0.7, 0.42),
             (0.8, 1.0), (0.2, 1.0), (0.3, 0.42), (0.22, 0.24)],
            [],
            [[(0.3, 0.4), (0.7, 0.4)], [(0.3, 0.45), (0.7, 0.45)]],
        ),
    ],
    4: [
        (  # double-breasted overcoat: lapels, two rows of buttons, pockets, knee length
            0.75,
            [(0.36, 0.0), (0.5, 0.1), (0.64, 0.0), (0.84, 0.06), (0.99, 0.9), (0.87, 0.93), (0.78, 0.38),
             (0.8, 1.0), (0.2, 1.0), (0.22, 0.38), (0.13, 0.93), (0.01, 0.9), (0.16, 0.06)],
            [],
            [[(0.36, 0.0), (0.42, 0.32), (0.5, 0.42)], [(0.64, 0.0), (0.58, 0.32), (0.5, 0.42)],
             [(0.5, 0.42), (0.5, 1.0)], *dots((0.42, 0.52), (0.58, 0.52), (0.42, 0.66), (0.58, 0.66)),
             [(0.26, 0.74), (0.4, 0.74)], [(0.6, 0.74), (0.74, 0.74)]],
        ),
        (  # hooded parka: a zip, pocket flaps, cuffs
            0.85,
            [(0.35, 0.08), (0.38, 0.0), (0.62, 0.0), (0.65, 0.08), (0.82, 0.1), (0.98, 0.92), (0.86, 0.95),
             (0.78, 0.42), (0.8, 1.0), (0.2, 1.0), (0.22, 0.42), (0.14, 0.95), (0.02, 0.92), (0.18, 0.1)],
            [],
            [[(0.5, 0.1), (0.5, 1.0)], [(0.26, 0.62), (0.42, 0.62)], [(0.58, 0.62), (0.74, 0.62)],
             [(0.38, 0.0), (0.4, 0.1), (0.6, 0.1), (0.62, 0.0)]],
        ),
    ],
    5: [
        (  # flip-flop: a thin sole, a thong strap, toe left
            2.6,
            [(0.0, 0.8), (0.5, 0.76), (0.97, 0.7), (1.0, 0.82), (0.96, 0.95), (0.02, 0.98)],
            [[(0.18, 0.8), (0.3, 0.3), (0.55, 0.2), (0.75, 0.74)], [(0.3, 0.3), (0.4, 0.6), (0.55, 0.2)]],
            [],
        ),
        (  # gladiator sandal: sole, crossing straps, an ankle strap
            2.0,
            [(0.0, 0.84), (0.96, 0.78), (1.0, 0.9), (0.96, 0.98), (0.03, 0.98)],
            [[(0.1, 0.84), (0.25, 0.5), (0.42, 0.82)], [(0.3, 0.82), (0.5, 0.4), (0.62, 0.8)],
             [(0.55, 0.8), (0.72, 0.2), (0.9, 0.78)], [(0.66, 0.2), (0.95, 0.05), (0.98, 0.4), (0.85, 0.55)]],
            [],
        ),
    ],
    6: [
        (  # flannel: pointed collar, placket of buttons, two chest pockets, cuffs
            0.95,
            [(0.36, 0.02), (0.42, 0.0), (0.58, 0.0), (0.64, 0.02), (0.83, 0.08), (0.98, 0.9), (0.86, 0.93),
             (0.77, 0.4), (0.77, 0.98), (0.23, 0.98), (0.23, 0.4), (0.14, 0.93), (0.02, 0.9), (0.17, 0.08)],
            [],
            [[(0.42, 0.0), (0.44, 0.14), (0.5, 0.08), (0.56, 0.14), (0.58, 0.0)], [(0.5, 0.08), (0.5, 0.98)],
             *dots((0.53, 0.25), (0.53, 0.45), (0.53, 0.65)), [(0.28, 0.25), (0.42, 0.25), (0.42, 0.38), (0.28, 0.38)],
             [(0.58, 0.25), (0.72, 0.25), (0.72, 0.38), (0.58, 0.38)], [(0.88, 0.84), (0.97, 0.82)],
             [(0.12, 0.84), (0.03, 0.82)]],
        ),
        (  # camp-collar short-sleeved shirt with buttons
            1.05,
            [(0.36, 0.03), (0.5, 0.14), (0.64, 0.03), (0.93, 0.14), (1.0, 0.4), (0.8, 0.44), (0.79, 1.0),
             (0.21, 1.0), (0.2, 0.44), (0.0, 0.4), (0.07, 0.14)],
            [],
            [[(0.36, 0.03), (0.4, 0.2), (0.5, 0.14), (0.6, 0.2), (0.64, 0.03)], [(0.5, 0.14), (0.5, 1.0)],
             *dots((0.54, 0.3), (0.54, 0.5), (0.54, 0.7))],
        ),
    ],
    7: [
        (  # canvas low-top: toe cap, laces as crosses, a sole stripe, toe left
            2.5,
            [(0.0, 0.72), (0.05, 0.5), (0.3, 0.42), (0.5, 0.2), (0.72, 0.1), (0.95, 0.14), (1.0, 0.4),
             (1.0, 0.85), (0.97, 1.0), (0.03, 1.0)],
            [],
            [[(0.01, 0.78), (0.99, 0.78)], [(0.06, 0.5), (0.18, 0.62), (0.2, 0.78)], *x_laces(0.32, 0.6, 0.4, 0.2, 3)],
        ),
        (  # chunky trainer: a thick sole, a swoosh, a heel tab
            2.3,
            [(0.0, 0.68), (0.12, 0.45), (0.42, 0.32), (0.58, 0.1), (0.82, 0.04), (0.92, 0.15), (1.0, 0.3),
             (1.0, 0.8), (0.98, 1.0), (0.02, 1.0)],
            [],
            [[(0.01, 0.72), (0.99, 0.72)], [(0.25, 0.62), (0.55, 0.58), (0.85, 0.35)], [(0.55, 0.3), (0.65, 0.42)]],
        ),
    ],
    8: [
        (  # tote: a tall body, two handle loops
            0.85,
            [(0.05, 0.35), (0.95, 0.35), (0.92, 1.0), (0.08, 1.0)],
            [[(0.25, 0.35), (0.3, 0.02), (0.45, 0.02), (0.48, 0.35)], [(0.52, 0.35), (0.55, 0.02), (0.7, 0.02), (0.75, 0.35)]],
            [[(0.1, 0.5), (0.9, 0.5)]],
        ),
        (  # shoulder bag: a flap, a buckle, a long strap
            1.2,
            [(0.05, 0.45), (0.95, 0.45), (1.0, 1.0), (0.0, 1.0)],
            [[(0.1, 0.45), (0.35, 0.0), (0.65, 0.0), (0.9, 0.45)]],
            [[(0.03, 0.6), (0.5, 0.75), (0.97, 0.6)], *dots((0.5, 0.8))],
        ),
    ],
    9: [
        (  # combat boot: laces up the shaft, a thick sole, toe left
            0.95,
            [(0.42, 0.0), (0.9, 0.0), (0.92, 0.75), (1.0, 0.8), (1.0, 1.0), (0.0, 1.0), (0.0, 0.8),
             (0.08, 0.65), (0.4, 0.52)],
            [],
            [[(0.0, 0.85), (1.0, 0.85)], *x_laces(0.47, 0.5, 0.05, 0.55, 4), [(0.42, 0.08), (0.9, 0.08)]],
        ),
        (  # western boot: a pointed toe, a heel, pull tabs
            0.9,
            [(0.5, 0.0), (0.88, 0.0), (0.92, 0.7), (0.98, 0.82), (0.98, 1.0), (0.84, 1.0), (0.8, 0.9),
             (0.0, 0.95), (0.1, 0.78), (0.45, 0.62)],
            [],
            [[(0.55, 0.0), (0.57, 0.1)], [(0.83, 0.0), (0.81, 0.1)], [(0.5, 0.3), (0.7, 0.42), (0.9, 0.3)]],
        ),
    ],
}  # fmt: skip

# (name, template, style, brush px, size (fraction of the canvas), centre offset, rotation degrees, mirrored)
VARIANTS = [
    ("smooth_outline_details", 0, "smooth", 20, 0.82, (0.0, 0.0), 2.0, False),
    ("painted_fat_brush_mirrored", 1, "painted", 30, 0.8, (0.03, 0.02), -2.0, True),
    ("pen_lifts_thin_mirrored", 0, "pieces", 5, 0.9, (-0.02, 0.02), 0.0, True),
    ("small_in_a_corner", 1, "smooth", 16, 0.42, (0.22, -0.2), 4.0, False),
    ("zigzag_fill_mirrored", 0, "zigzag", 12, 0.78, (-0.05, 0.04), -4.0, True),
    ("heavy_outline_rotated", 1, "heavy", 30, 0.8, (0.02, -0.03), 9.0, False),
    ("polygon_with_details", 1, "polygon", 10, 0.85, (0.0, 0.0), 0.0, False),
    ("sketchy_twice_mirrored", 0, "twice", 8, 0.86, (0.04, 0.0), -6.0, True),
]


def chaikin(pts: np.ndarray, *, closed: bool, rounds: int = 3) -> np.ndarray:
    """Corner cutting: each round replaces every corner by two points at 1/4 and 3/4 of its sides."""
    for _ in range(rounds):
        a = pts
        b = np.roll(pts, -1, axis=0) if closed else pts[1:]
        a = a if closed else pts[:-1]
        q, r = 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b
        mid = np.stack([q, r], axis=1).reshape(-1, 2)
        pts = mid if closed else np.vstack([pts[:1], mid, pts[-1:]])
    return pts


def resample(pts: np.ndarray, step: float, *, closed: bool) -> np.ndarray:
    if closed:
        pts = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    s = np.linspace(0, t[-1], max(2, int(t[-1] / step) + 1))
    return np.stack([np.interp(s, t, pts[:, 0]), np.interp(s, t, pts[:, 1])], axis=1)


def tremor(pts: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
    """Slow wobble (a random walk low-passed over ~20 samples), ~amp px."""
    n = len(pts)
    noise = np.cumsum(rng.normal(0, 1, (n + 40, 2)), axis=0)
    kernel = np.ones(21) / 21
    smooth = np.stack([np.convolve(noise[:, i], kernel, "same") for i in range(2)], axis=1)[20 : 20 + n]
    smooth -= smooth.mean(axis=0)
    scale = max(float(np.abs(smooth).max()), 1e-9)
    return pts + amp * smooth / scale


def pieces(pts: np.ndarray, rng: np.random.Generator, *, closed: bool, k: int) -> list[np.ndarray]:
    """A line drawn in k pieces, the pen lifted in between: each piece starts a little before or after
    where the last one ended (overlaps and small gaps)."""
    dense = resample(pts, 3.0, closed=closed)
    n = len(dense)
    cuts = np.sort(rng.choice(np.arange(5, n - 5), size=max(0, k - 1), replace=False)) if n > 12 else []
    bounds = [0, *cuts, n - 1]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        a2 = int(np.clip(a + rng.integers(-3, 4), 0, n - 2))
        b2 = int(np.clip(b + rng.integers(-2, 3), a2 + 1, n - 1))
        out.append(tremor(dense[a2 : b2 + 1], rng, 1.5))
    return out


def _mask(pts: np.ndarray) -> np.ndarray:
    m = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(m).polygon([tuple(p) for p in pts], fill=255)
    return np.asarray(m) > 0


def painted(pts: np.ndarray, width: float, rng: np.random.Generator) -> list[dict]:
    """Vertical strokes of a fat brush, ~0.6 brush widths apart, each from the top to the bottom of the
    shape in that column (wobbling a little, ending a few px short or long)."""
    mask = _mask(pts)
    cols = np.flatnonzero(mask.any(axis=0))
    out = []
    for x in np.arange(cols[0] + width * 0.35, cols[-1] - width * 0.3 + 1, width * 0.6):
        col = np.flatnonzero(mask[:, int(x)])
        runs = np.split(col, np.flatnonzero(np.diff(col) > 1) + 1) if len(col) else []
        for run in runs:
            if len(run) < 2:
                continue
            y0 = run[0] + width * 0.4 + rng.normal(0, 2)
            y1 = run[-1] - width * 0.4 + rng.normal(0, 2)
            if y1 <= y0:
                y0 = y1 = (run[0] + run[-1]) / 2
            ys = np.linspace(y0, y1, 6)
            xs = x + rng.normal(0, 1.5, 6)
            out.append(stroke(np.stack([xs, ys], axis=1), width))
    return out


def zigzag(pts: np.ndarray, width: float, rng: np.random.Generator) -> list[dict]:
    """One continuous up-and-down stroke across the shape (split where it would leave it), ~1.1 brush
    widths between passes."""
    mask = _mask(pts)
    cols = np.flatnonzero(mask.any(axis=0))
    path = []
    for k, x in enumerate(np.arange(cols[0] + width / 2, cols[-1], width * 1.1)):
        col = np.flatnonzero(mask[:, int(x)])
        if len(col) == 0:
            continue
        ys = np.arange(col[0], col[-1] + 1, 3.0)
        if k % 2:
            ys = ys[::-1]
        path += [(x + rng.normal(0, 0.8) + (i / max(len(ys), 1)) * width * 1.1, y) for i, y in enumerate(ys)]
    path = np.array(path)
    ij = np.clip(np.round(path).astype(int), 0, CANVAS - 1)
    inside = mask[ij[:, 1], ij[:, 0]]
    out, cur = [], []
    for p, ok in zip(path, inside, strict=True):
        if ok:
            cur.append(p)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return [stroke(np.array(run)[::2], width) for run in out if len(run) >= 2]


def drawing(label: int, variant: tuple, rng: np.random.Generator) -> dict:
    name, which, style, width, size, offset, rot, mirror = variant
    aspect, main, parts, details = TEMPLATES[label][which]
    pts = place(main, aspect, size, offset, rot, mirror)
    part_lines = [place(p, aspect, size, offset, rot, mirror) for p in parts]
    detail_lines = [place(d, aspect, size, offset, rot, mirror) for d in details]
    strokes: list[dict] = []

    def lines(ls, w, how):
        for line in ls:
            if len(line) == 1:  # a button: a click
                strokes.append(stroke(line, w))
            elif how == "smooth":
                strokes.append(stroke(chaikin(line, closed=False, rounds=2), w))
            elif how == "pieces":
                strokes.extend(stroke(p, w) for p in pieces(line, rng, closed=False, k=2))
            elif how == "twice":
                dense = resample(line, 3.0, closed=False)
                strokes.extend(stroke(tremor(dense, rng, 2.5), w) for _ in range(2))
            else:
                strokes.append(stroke(tremor(resample(line, 3.0, closed=False), rng, 1.0), w))

    if style in ("smooth", "heavy"):
        strokes.append(stroke(chaikin(pts, closed=True), width, closed=True))
        lines(part_lines + detail_lines, width, "smooth")
    elif style == "pieces":
        strokes += [stroke(p, width) for p in pieces(pts, rng, closed=True, k=int(rng.integers(3, 6)))]
        lines(part_lines + detail_lines, width, "pieces")
    elif style == "painted":
        strokes += painted(pts, width, rng)
        lines(part_lines, min(width, 22), "plain")
    elif style == "zigzag":
        strokes += zigzag(pts, width, rng)
        strokes.append(stroke(tremor(resample(pts, 3.0, closed=True), rng, 2.0), width))
        lines(part_lines, width, "plain")
    elif style == "polygon":
        strokes.append(stroke(pts, width, fill=True, closed=True))
        lines(part_lines + detail_lines, width, "plain")
    else:  # "twice": the outline drawn twice, each with its own tremor
        dense = resample(pts, 3.0, closed=True)
        strokes += [stroke(tremor(dense, rng, 3.0), width) for _ in range(2)]
        lines(part_lines + detail_lines, width, "twice")
    return record(label, name, [style, f"brush{width}", f"template{which}"], mirror, strokes)


def main() -> None:
    write_set(THIRD, drawing, VARIANTS, 31337)


if __name__ == "__main__":
    main()
